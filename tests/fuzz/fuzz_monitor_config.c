/*
 * fuzz_monitor_config: libFuzzer target for hopwatch-monitor's configuration, a file an
 * operator writes but one that may come from anywhere (a template, a generator). Runs the
 * pure line parser over every line of the input, checks what it accepted against the
 * documented bounds and every message for termination, then loads the same bytes as one
 * buffer and checks the two agree; any broken invariant aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/config.h"

#define ERR_LEN 512

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

static void check_printable(const char *s, size_t max, int allow_empty)
{
	size_t n = strnlen(s, max + 1);

	CHECK(n <= max);
	CHECK(allow_empty || n > 0);
	for (size_t i = 0; i < n; i++)
		CHECK(s[i] > ' ' && s[i] < 0x7f);
}

static void check_target(const struct monitor_target_config *t, int is_target)
{
	check_printable(t->name, MONITOR_CONFIG_NAME_MAX, !is_target);
	check_printable(t->host, MONITOR_CONFIG_HOST_MAX, !is_target);
	CHECK(t->protocol == PROTO_PROTOCOL_ICMP || t->protocol == PROTO_PROTOCOL_UDP ||
	      t->protocol == PROTO_PROTOCOL_TCP);
	CHECK(t->port >= 0 && t->port <= MONITOR_CONFIG_PORT_MAX);
	CHECK(t->interval_us >= MONITOR_CONFIG_INTERVAL_MIN_US &&
	      t->interval_us <= MONITOR_CONFIG_INTERVAL_MAX_US);
	CHECK(t->window_us >= MONITOR_CONFIG_WINDOW_MIN_US &&
	      t->window_us <= MONITOR_CONFIG_WINDOW_MAX_US);
	CHECK(t->max_ttl >= MONITOR_CONFIG_TTL_MIN && t->max_ttl <= MONITOR_CONFIG_TTL_MAX);
	CHECK(t->first_ttl >= MONITOR_CONFIG_TTL_MIN && t->first_ttl <= MONITOR_CONFIG_TTL_MAX);
	if (is_target) {
		CHECK(t->first_ttl <= t->max_ttl);
		CHECK(t->window_us >= t->interval_us);
	}
	CHECK(t->family == 0 || t->family == 4 || t->family == 6);
	CHECK(t->flow_id == 0 || t->flow_id == 1);
	CHECK(t->timeout_s >= MONITOR_CONFIG_TIMEOUT_MIN_S &&
	      t->timeout_s <= MONITOR_CONFIG_TIMEOUT_MAX_S);
	CHECK(t->nlabels <= MONITOR_CONFIG_LABELS_MAX);
	for (size_t i = 0; i < t->nlabels; i++) {
		check_printable(t->labels[i].key, MONITOR_CONFIG_LABEL_KEY_MAX, 0);
		check_printable(t->labels[i].value, MONITOR_CONFIG_LABEL_VALUE_MAX, 0);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(t->labels[i].key, t->labels[j].key) != 0);
	}
	CHECK(monitor_target_config_equal(t, t));
}

static void check_error(const struct monitor_config_parser *p, int err)
{
	char msg[ERR_LEN];
	size_t n;

	CHECK(err > 0 && err < MONITOR_CONFIG_E__COUNT);
	CHECK(monitor_config_strerror(err) != NULL);
	n = monitor_config_format_error(msg, sizeof(msg), "f", p, err);
	CHECK(n > 0 && strlen(msg) == (n < sizeof(msg) ? n : sizeof(msg) - 1));
	for (size_t i = 0; msg[i]; i++)
		CHECK(msg[i] >= ' ' && msg[i] < 0x7f);
}

/* Every line through the pure parser; returns the targets accepted, -1 at an error. */
static long parse_lines(const char *text, size_t size)
{
	static struct monitor_config_parser p;
	static struct monitor_config_item it;
	const char *pos = text, *end = text + size;
	long targets = 0;

	monitor_config_parser_init(&p);
	while (pos < end) {
		const char *nl = memchr(pos, '\n', (size_t)(end - pos));
		size_t n = nl ? (size_t)(nl - pos) : (size_t)(end - pos);
		int rc = monitor_config_parse_line(&p, pos, n, &it);

		if (rc) {
			check_error(&p, rc);
			return -1;
		}
		if (it.kind == MONITOR_CONFIG_ITEM_TARGET)
			targets++;
		if (it.kind == MONITOR_CONFIG_ITEM_TARGET ||
		    it.kind == MONITOR_CONFIG_ITEM_DEFAULTS)
			check_target(&it.target, it.kind == MONITOR_CONFIG_ITEM_TARGET);
		if (it.kind == MONITOR_CONFIG_ITEM_BUDGET)
			CHECK(it.budget_pps >= MONITOR_CONFIG_BUDGET_MIN &&
			      it.budget_pps <= MONITOR_CONFIG_BUDGET_MAX);
		pos += n + (nl != NULL);
	}
	check_target(&p.defaults, 0);
	return targets;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct monitor_config c;
	const char *text = (const char *)data;
	char err[ERR_LEN], host[MONITOR_CONFIG_HOST_MAX + 2];
	long targets = parse_lines(text, size);
	int rc;

	monitor_config_init(&c);
	err[0] = '\0';
	rc = monitor_config_parse_buffer(&c, text, size, "f", err, sizeof(err));
	CHECK(rc == 0 || rc == -EINVAL);
	if (rc == 0) {
		CHECK(targets >= 0 && (size_t)targets == c.ntargets);
		for (size_t i = 0; i < c.ntargets; i++) {
			check_target(&c.targets[i], 1);
			CHECK(monitor_config_find(&c, c.targets[i].name) == &c.targets[i]);
		}
	} else {
		CHECK(c.ntargets == 0 && err[0]);
	}
	/* The input's start as a command-line host, against what the file defined. */
	memcpy(host, text, size < sizeof(host) - 1 ? size : sizeof(host) - 1);
	host[size < sizeof(host) - 1 ? size : sizeof(host) - 1] = '\0';
	rc = monitor_config_add_host(&c, host, err, sizeof(err));
	CHECK(rc == 0 || rc == -EINVAL);
	if (rc == 0)
		check_target(monitor_config_find(&c, c.targets[c.ntargets - 1].name), 1);
	monitor_config_deinit(&c);
	return 0;
}
