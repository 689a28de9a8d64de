/*
 * unit_sandbox: runs a program under the system call filter a systemd unit would give it,
 * for a test without systemd as PID 1. Installs, with libseccomp, what SystemCallFilter=
 * (the allowed names, one per line in a file), SystemCallErrorNumber=EPERM,
 * SystemCallArchitectures=native, RestrictAddressFamilies= and MemoryDenyWriteExecute=yes
 * amount to, then execs the program, which inherits the filter.
 *
 *   unit_sandbox SYSCALLS-FILE FAMILY[,FAMILY...] PROGRAM ARGS...
 *
 * FAMILY is a number (AF_UNIX is 1). Needs no_new_privs or CAP_SYS_ADMIN, as the kernel
 * does for any filter; libseccomp sets no_new_privs itself.
 */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define UNIT_NAME_MAX	  128
#define UNIT_FAMILIES_MAX 16

/* Handled by a rule of their own below, never allowed outright. */
static const char *const special[] = {"socket", "mmap", "mprotect", "pkey_mprotect", NULL};

static int is_special(const char *name)
{
	size_t i;

	for (i = 0; special[i]; i++)
		if (!strcmp(name, special[i]))
			return 1;
	return 0;
}

static int allow_names(scmp_filter_ctx ctx, const char *path, int *n)
{
	char line[UNIT_NAME_MAX];
	FILE *f = fopen(path, "r");
	int rc = 0;

	if (!f)
		return -errno;
	while (!rc && fgets(line, sizeof(line), f)) {
		int nr;

		line[strcspn(line, " \t\r\n")] = '\0';
		if (!line[0] || is_special(line))
			continue;
		/* A name this architecture does not have (systemd skips those too). */
		nr = seccomp_syscall_resolve_name(line);
		if (nr == __NR_SCMP_ERROR)
			continue;
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		(*n)++;
	}
	fclose(f);
	return rc;
}

/* socket() for the listed families only: RestrictAddressFamilies=. */
static int allow_families(scmp_filter_ctx ctx, char *list)
{
	char *save = NULL, *tok;
	int n = 0, rc = 0;

	for (tok = strtok_r(list, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
		char *end;
		long fam = strtol(tok, &end, 10);

		if (*end || fam <= 0 || ++n > UNIT_FAMILIES_MAX)
			return -EINVAL;
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				      SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)fam));
	}
	return rc;
}

/* MemoryDenyWriteExecute=yes: no mapping both writable and executable, no mprotect to X. */
static int deny_wx(scmp_filter_ctx ctx)
{
	int rc;

	rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
			      SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
				      SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_WRITE, 0));
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
				      SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(pkey_mprotect), 1,
				      SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	return rc;
}

int main(int argc, char **argv)
{
	scmp_filter_ctx ctx;
	int rc, n = 0;

	if (argc < 4) {
		fprintf(stderr,
			"usage: unit_sandbox SYSCALLS-FILE FAMILY[,FAMILY...] PROGRAM ARGS...\n");
		return 2;
	}
	ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	if (!ctx) {
		fprintf(stderr, "unit_sandbox: seccomp_init failed\n");
		return 1;
	}
	rc = allow_names(ctx, argv[1], &n);
	if (!rc)
		rc = allow_families(ctx, argv[2]);
	if (!rc)
		rc = deny_wx(ctx);
	if (!rc && n == 0)
		rc = -ENOENT; /* an empty list would be a test of nothing */
	if (!rc)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc) {
		fprintf(stderr, "unit_sandbox: cannot install the filter: %s\n", strerror(-rc));
		return 1;
	}
	execv(argv[3], argv + 3);
	fprintf(stderr, "unit_sandbox: cannot run %s: %s\n", argv[3], strerror(errno));
	return 127;
}
