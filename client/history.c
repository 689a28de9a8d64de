/*
 * history: the bounded most-recently-used host list and its file. The file is plain text,
 * one host a line, most recent first, so that the bash completion can read it directly.
 */
#include "client/history.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Directory mode for the state directories we create: the history is the user's own. */
#define HISTORY_DIR_MODE 0700
/* Appended to the file's path for mkstemp(). */
#define HISTORY_TMP_SUFFIX ".XXXXXX"

int history_path(char *buf, size_t len, const char *xdg_state_home, const char *home)
{
	int n;

	if (xdg_state_home && xdg_state_home[0] == '/')
		n = snprintf(buf, len, "%s/hopwatch/history", xdg_state_home);
	else if (home && home[0] == '/')
		n = snprintf(buf, len, "%s/.local/state/hopwatch/history", home);
	else
		return -ENOENT;
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

int history_init(struct history *h, size_t max)
{
	memset(h, 0, sizeof(*h));
	h->max = max > HISTORY_LIMIT ? HISTORY_LIMIT : max;
	if (!h->max)
		return 0;
	h->hosts = calloc(h->max, sizeof(*h->hosts));
	if (!h->hosts) {
		h->max = 0;
		return -ENOMEM;
	}
	return 0;
}

void history_deinit(struct history *h)
{
	size_t i;

	for (i = 0; i < h->n; i++)
		free(h->hosts[i]);
	free(h->hosts);
	memset(h, 0, sizeof(*h));
}

int history_valid_host(const char *host)
{
	size_t i;

	if (!host || !host[0])
		return 0;
	for (i = 0; host[i]; i++) {
		unsigned char c = (unsigned char)host[i];

		if (i >= HISTORY_HOST_MAX)
			return 0;
		if (!isascii(c) || !(isalnum(c) || strchr(".-_:%", c)))
			return 0;
	}
	/* A leading '-' would read as an option when completed onto a command line. */
	return host[0] != '-';
}

int history_add(struct history *h, const char *host)
{
	char *copy;
	size_t i;

	if (!history_valid_host(host))
		return -EINVAL;
	if (!h->max)
		return 0;
	for (i = 0; i < h->n; i++)
		if (!strcasecmp(h->hosts[i], host))
			break;
	copy = strdup(host);
	if (!copy)
		return -ENOMEM;
	if (i < h->n) {
		free(h->hosts[i]); /* the newest spelling wins */
	} else if (h->n == h->max) {
		i = h->n - 1;
		free(h->hosts[i]);
	} else {
		i = h->n++;
	}
	memmove(&h->hosts[1], &h->hosts[0], i * sizeof(*h->hosts));
	h->hosts[0] = copy;
	return 0;
}

/* Append host at the end (loading keeps file order); repeats and junk are skipped. */
static int append(struct history *h, const char *host)
{
	size_t i;

	if (!history_valid_host(host) || h->n >= h->max)
		return 0;
	for (i = 0; i < h->n; i++)
		if (!strcasecmp(h->hosts[i], host))
			return 0;
	h->hosts[h->n] = strdup(host);
	if (!h->hosts[h->n])
		return -ENOMEM;
	h->n++;
	return 0;
}

int history_load(struct history *h, const char *path)
{
	char line[HISTORY_HOST_MAX + 2];
	FILE *f;
	int rc = 0;

	f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (!rc && h->n < h->max && fgets(line, sizeof(line), f)) {
		size_t len = strlen(line);

		if (len && line[len - 1] == '\n') {
			line[--len] = '\0';
		} else if (!feof(f)) {
			int c;

			/* Longer than any host: skip the rest of the line. */
			while ((c = getc(f)) != EOF && c != '\n')
				;
			continue;
		}
		rc = append(h, line);
	}
	if (!rc && ferror(f))
		rc = -EIO;
	fclose(f);
	return rc;
}

/* mkdir -p of path's directory. */
static int make_parents(const char *path)
{
	char dir[HISTORY_PATH_MAX];
	char *p;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	p = strrchr(dir, '/');
	if (!p || p == dir)
		return 0;
	*p = '\0';
	for (p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, HISTORY_DIR_MODE) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, HISTORY_DIR_MODE) && errno != EEXIST)
		return -errno;
	return 0;
}

int history_save(const struct history *h, const char *path)
{
	char tmp[HISTORY_PATH_MAX];
	FILE *f;
	size_t i;
	int fd, rc;

	rc = make_parents(path);
	if (rc)
		return rc;
	if (snprintf(tmp, sizeof(tmp), "%s%s", path, HISTORY_TMP_SUFFIX) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		rc = -errno;
		close(fd);
		unlink(tmp);
		return rc;
	}
	for (i = 0; i < h->n; i++)
		fprintf(f, "%s\n", h->hosts[i]);
	/* The data must be on disk before the rename makes it the history. */
	errno = 0;
	if (fflush(f) || ferror(f) || fsync(fileno(f)))
		rc = errno ? -errno : -EIO;
	if (fclose(f) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}
