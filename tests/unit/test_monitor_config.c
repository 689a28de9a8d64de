/*
 * test_monitor_config: every directive and key of hopwatch-monitor's configuration, the
 * defaults, each error with its exact "file:line:" message, the bounds, labels,
 * duplicates, command-line hosts, equality, a large file's speed and the example file.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "monitor/config.h"

#define ERR_LEN	    512
#define BIG_TARGETS MONITOR_CONFIG_TARGETS_MAX
/*
 * Parse time of BIG_TARGETS over a tenth of them: linear is 10, quadratic 100. Measured
 * 26-28 (a tenth's tables stay in cache, the whole's do not), so the bound is 50.
 */
#define BIG_SCALE_MAX	  50.0
#define BIG_SCALE_SLACK_S 0.05
/* Room for the KEY VALUE part of one test line. */
#define CASE_LEN 512

static int parse(struct monitor_config *c, const char *text, char *err)
{
	monitor_config_init(c);
	err[0] = '\0';
	return monitor_config_parse_buffer(c, text, strlen(text), "monitor.conf", err, ERR_LEN);
}

/* text must fail with exactly msg, and leave no target behind. */
static void expect_error(const char *text, const char *msg)
{
	struct monitor_config c;
	char err[ERR_LEN];

	assert_int_equal(parse(&c, text, err), -EINVAL);
	assert_string_equal(err, msg);
	assert_int_equal(c.ntargets, 0);
	monitor_config_deinit(&c);
}

static void expect_ok(const char *text)
{
	struct monitor_config c;
	char err[ERR_LEN];

	if (parse(&c, text, err))
		fail_msg("%s: %s", text, err);
	monitor_config_deinit(&c);
}

/* A running monitor keeps the settings and lets the targets go. */
static void test_drop_targets(void **state)
{
	struct monitor_config c;
	char err[ERR_LEN];

	(void)state;
	assert_int_equal(
		parse(&c, "budget 50\ntarget a host 192.0.2.1\ntarget b host 192.0.2.2\n", err), 0);
	assert_int_equal(c.ntargets, 2);
	monitor_config_drop_targets(&c);
	assert_int_equal(c.ntargets, 0);
	assert_null(c.targets);
	assert_null(c.index);
	assert_null(monitor_config_find(&c, "a"));
	assert_true(c.budget_pps == 50.0);
	/* Targets can come again after the drop, and a second drop is harmless. */
	assert_int_equal(monitor_config_add_host(&c, "192.0.2.3", err, ERR_LEN), 0);
	assert_int_equal(c.ntargets, 1);
	monitor_config_drop_targets(&c);
	monitor_config_drop_targets(&c);
	monitor_config_drop_targets(NULL);
	monitor_config_deinit(&c);
}

static void test_empty(void **state)
{
	struct monitor_config c;
	char err[ERR_LEN];

	(void)state;
	assert_int_equal(parse(&c, "", err), 0);
	assert_int_equal(c.ntargets, 0);
	assert_true(c.budget_pps == MONITOR_CONFIG_BUDGET_DEFAULT);
	assert_int_equal(c.resolve_every_us, MONITOR_CONFIG_RESOLVE_DEFAULT_S * 1000000LL);
	assert_string_equal(c.engine, "");
	assert_null(monitor_config_find(&c, "x"));
	monitor_config_deinit(&c);
	assert_int_equal(parse(&c, "# only a comment\n\n   \t\n# another\r\n", err), 0);
	assert_int_equal(c.ntargets, 0);
	monitor_config_deinit(&c);
	monitor_config_deinit(NULL);
}

static void test_globals(void **state)
{
	struct monitor_config c;
	char err[ERR_LEN];

	(void)state;
	assert_int_equal(parse(&c,
			       "budget 2000   # all targets\n"
			       "resolve-every 600\n"
			       "engine unix:/run/hopwatch/engine.sock\n",
			       err),
			 0);
	assert_true(c.budget_pps == 2000);
	assert_int_equal(c.resolve_every_us, 600 * 1000000LL);
	assert_string_equal(c.engine, "unix:/run/hopwatch/engine.sock");
	monitor_config_deinit(&c);
	assert_int_equal(parse(&c, "budget 2.5\n", err), 0);
	assert_true(c.budget_pps == 2.5);
	monitor_config_deinit(&c);
}

static void test_target_defaults(void **state)
{
	const struct monitor_target_config *t;
	struct monitor_config c;
	char err[ERR_LEN];

	(void)state;
	assert_int_equal(parse(&c, "target a host 192.0.2.1\n", err), 0);
	assert_int_equal(c.ntargets, 1);
	t = &c.targets[0];
	assert_string_equal(t->name, "a");
	assert_string_equal(t->host, "192.0.2.1");
	assert_int_equal(t->protocol, PROTO_PROTOCOL_ICMP);
	assert_int_equal(t->port, 0);
	assert_int_equal(t->interval_us, MONITOR_CONFIG_INTERVAL_DEFAULT_US);
	assert_int_equal(t->first_ttl, MONITOR_CONFIG_FIRST_TTL_DEFAULT);
	assert_int_equal(t->max_ttl, MONITOR_CONFIG_MAX_TTL_DEFAULT);
	assert_int_equal(t->window_us, MONITOR_CONFIG_WINDOW_DEFAULT_US);
	assert_int_equal(t->family, 0);
	assert_int_equal(t->flow_id, 1);
	assert_int_equal(t->timeout_s, MONITOR_CONFIG_TIMEOUT_DEFAULT_S);
	assert_int_equal(t->nlabels, 0);
	assert_int_equal(t->line, 1);
	assert_ptr_equal(monitor_config_find(&c, "a"), t);
	monitor_config_deinit(&c);
}

static void test_every_key(void **state)
{
	const struct monitor_target_config *t;
	struct monitor_config c;
	char err[ERR_LEN];

	(void)state;
	assert_int_equal(parse(&c,
			       "\n"
			       "target web.example.net:443 host www.example.net protocol tcp "
			       "port 443 interval 0.25 max-ttl 40 first-ttl 3 window 30.5 family 6 "
			       "flow-id off timeout 5 label site=ams label tier=gold\n"
			       "target u\thost 2001:db8::1 protocol udp family 4\n",
			       err),
			 0);
	assert_int_equal(c.ntargets, 2);
	t = &c.targets[0];
	assert_string_equal(t->name, "web.example.net:443");
	assert_string_equal(t->host, "www.example.net");
	assert_int_equal(t->protocol, PROTO_PROTOCOL_TCP);
	assert_int_equal(t->port, 443);
	assert_int_equal(t->interval_us, 250000);
	assert_int_equal(t->max_ttl, 40);
	assert_int_equal(t->first_ttl, 3);
	assert_int_equal(t->window_us, 30500000);
	assert_int_equal(t->family, 6);
	assert_int_equal(t->flow_id, 0);
	assert_int_equal(t->timeout_s, 5);
	assert_int_equal(t->nlabels, 2);
	assert_string_equal(t->labels[0].key, "site");
	assert_string_equal(t->labels[0].value, "ams");
	assert_string_equal(t->labels[1].key, "tier");
	assert_string_equal(t->labels[1].value, "gold");
	assert_int_equal(t->line, 2);
	t = &c.targets[1];
	assert_string_equal(t->host, "2001:db8::1");
	assert_int_equal(t->protocol, PROTO_PROTOCOL_UDP);
	assert_int_equal(t->family, 4);
	assert_int_equal(t->line, 3);
	monitor_config_deinit(&c);
}

static void test_defaults_below_only(void **state)
{
	struct monitor_config c;
	char err[ERR_LEN];

	(void)state;
	assert_int_equal(parse(&c,
			       "target a host 192.0.2.1\n"
			       "defaults protocol udp interval 2 max-ttl 20 window 120 label dc=x\n"
			       "target b host 192.0.2.2\n"
			       "defaults port 53 family 6 flow-id off label dc=y label env=prod\n"
			       "target c host 192.0.2.3 protocol icmp label dc=z\n"
			       "defaults family any\n"
			       "target d host 192.0.2.4\n",
			       err),
			 0);
	assert_int_equal(c.ntargets, 4);
	/* a: built-in defaults. */
	assert_int_equal(c.targets[0].protocol, PROTO_PROTOCOL_ICMP);
	assert_int_equal(c.targets[0].interval_us, 1000000);
	assert_int_equal(c.targets[0].nlabels, 0);
	/* b: the first defaults line. */
	assert_int_equal(c.targets[1].protocol, PROTO_PROTOCOL_UDP);
	assert_int_equal(c.targets[1].interval_us, 2000000);
	assert_int_equal(c.targets[1].max_ttl, 20);
	assert_int_equal(c.targets[1].window_us, 120000000);
	assert_int_equal(c.targets[1].port, 0);
	assert_int_equal(c.targets[1].nlabels, 1);
	assert_string_equal(c.targets[1].labels[0].value, "x");
	/* c: both defaults lines accumulate; its own protocol and label win. */
	assert_int_equal(c.targets[2].protocol, PROTO_PROTOCOL_ICMP);
	assert_int_equal(c.targets[2].interval_us, 2000000);
	assert_int_equal(c.targets[2].port, 53);
	assert_int_equal(c.targets[2].family, 6);
	assert_int_equal(c.targets[2].flow_id, 0);
	assert_int_equal(c.targets[2].nlabels, 2);
	assert_string_equal(c.targets[2].labels[0].key, "dc");
	assert_string_equal(c.targets[2].labels[0].value, "z");
	assert_string_equal(c.targets[2].labels[1].key, "env");
	/* d: family back to either. */
	assert_int_equal(c.targets[3].family, 0);
	assert_string_equal(c.targets[3].labels[0].value, "y");
	/* The file's last defaults are c's, for command-line hosts. */
	assert_int_equal(c.defaults.protocol, PROTO_PROTOCOL_UDP);
	assert_int_equal(c.defaults.port, 53);
	monitor_config_deinit(&c);
}

/* ecmp paris|classic is flow-id on|off in the CLI's words; paris by default. */
static void test_ecmp(void **state)
{
	struct monitor_config c;
	char err[ERR_LEN];

	(void)state;
	assert_int_equal(parse(&c,
			       "target a host 192.0.2.1\n"
			       "target b host 192.0.2.2 ecmp classic\n"
			       "defaults ecmp classic\n"
			       "target c host 192.0.2.3\n"
			       "target d host 192.0.2.4 ecmp paris\n",
			       err),
			 0);
	assert_int_equal(c.ntargets, 4);
	assert_int_equal(c.targets[0].flow_id, 1);
	assert_int_equal(c.targets[1].flow_id, 0);
	assert_int_equal(c.targets[2].flow_id, 0);
	assert_int_equal(c.targets[3].flow_id, 1);
	monitor_config_deinit(&c);
	expect_error("target a host 192.0.2.1 ecmp on\n",
		     "monitor.conf:1: bad value 'on' for 'ecmp' (paris or classic)");
	/* One setting under two names: a line gives it once. */
	expect_error("target a host 192.0.2.1 ecmp paris flow-id off\n",
		     "monitor.conf:1: 'flow-id' given twice");
	expect_error("target a host 192.0.2.1 flow-id on ecmp classic\n",
		     "monitor.conf:1: 'ecmp' given twice");
}

static void test_errors_lines(void **state)
{
	(void)state;
	expect_error("target a host 192.0.2.1\n\n# c\ntarget b host 192.0.2.2 intervall 2\n",
		     "monitor.conf:4: unknown key 'intervall'");
	expect_error("bogus 1\n", "monitor.conf:1: unknown directive 'bogus'");
	expect_error("target a host 192.0.2.1\n\ntarget a host 192.0.2.2\n",
		     "monitor.conf:3: target 'a' is defined twice (first on line 1)");
	expect_error("budget\n", "monitor.conf:1: 'budget' needs a value");
	expect_error("budget 1 2\n", "monitor.conf:1: unexpected '2' after the value of 'budget'");
	expect_error("budget 10\nbudget 20\n",
		     "monitor.conf:2: 'budget' given twice (first on line 1)");
	expect_error("resolve-every 60\nresolve-every 60\n",
		     "monitor.conf:2: 'resolve-every' given twice (first on line 1)");
	expect_error("engine a\nengine b\n",
		     "monitor.conf:2: 'engine' given twice (first on line 1)");
	expect_error("engine\n", "monitor.conf:1: 'engine' needs a value");
	expect_error("target\n", "monitor.conf:1: 'target' needs a name");
	expect_error("target a\n", "monitor.conf:1: target 'a' has no 'host'");
	expect_error("target a host\n", "monitor.conf:1: 'host' needs a value");
	expect_error("target a host 192.0.2.1 port\n", "monitor.conf:1: 'port' needs a value");
	expect_error("target a host 192.0.2.1 port 1 port 2\n",
		     "monitor.conf:1: 'port' given twice");
	expect_error("target a host 192.0.2.1 host 192.0.2.2\n",
		     "monitor.conf:1: 'host' given twice");
	expect_error("defaults host 192.0.2.1\n",
		     "monitor.conf:1: 'host' is only allowed on target lines");
	expect_error("target a host 192.0.2.1 protocol sctp\n",
		     "monitor.conf:1: bad value 'sctp' for 'protocol' (icmp, udp or tcp)");
	expect_error("target a host 192.0.2.1 family 5\n",
		     "monitor.conf:1: bad value '5' for 'family' (4, 6 or any)");
	expect_error("target a host 192.0.2.1 flow-id yes\n",
		     "monitor.conf:1: bad value 'yes' for 'flow-id' (on or off)");
	expect_error("target a host 192.0.2.1 port 8x\n",
		     "monitor.conf:1: bad number '8x' for 'port' (0..65535)");
	expect_error("target a host 192.0.2.1 port -1\n",
		     "monitor.conf:1: bad number '-1' for 'port' (0..65535)");
	expect_error("target a host 192.0.2.1 port +1\n",
		     "monitor.conf:1: bad number '+1' for 'port' (0..65535)");
	expect_error("target a host 192.0.2.1 interval 1.\n",
		     "monitor.conf:1: bad number '1.' for 'interval' (0.1..3600 seconds)");
	expect_error("target a host 192.0.2.1 interval .5\n",
		     "monitor.conf:1: bad number '.5' for 'interval' (0.1..3600 seconds)");
	expect_error("target a host 192.0.2.1 interval 0.0000001\n",
		     "monitor.conf:1: bad number '0.0000001' for 'interval' (0.1..3600 seconds)");
	expect_error("target a host 192.0.2.1 first-ttl 10 max-ttl 5\n",
		     "monitor.conf:1: target 'a': first-ttl 10 is above max-ttl 5");
	expect_error("defaults interval 2.5\ntarget a host 192.0.2.1 window 2\n",
		     "monitor.conf:2: target 'a': window 2 s is shorter than interval 2.5 s");
	expect_error("target a host 192.0.2.1 \x01\n",
		     "monitor.conf:1: invalid byte 0x01 (only printable ASCII and tabs)");
	expect_error("target a host 192.0.2.\xc3\xa9\n",
		     "monitor.conf:1: invalid byte 0xc3 (only printable ASCII and tabs)");
	expect_error("target a host 192.0.2.1 window 0\n",
		     "monitor.conf:1: window 0 is out of range (1..86400 seconds)");
}

static void test_bad_bytes(void **state)
{
	static const char nul[] = "target a host 192.0.2.1 # x\0y\n";
	struct monitor_config c;
	char err[ERR_LEN];

	(void)state;
	/* Anything but NUL goes in a comment; a CR before the newline is dropped. */
	expect_ok("target a host 192.0.2.1 # caf\xc3\xa9 \x01\r\n");
	monitor_config_init(&c);
	assert_int_equal(
		monitor_config_parse_buffer(&c, nul, sizeof(nul) - 1, "monitor.conf", err, ERR_LEN),
		-EINVAL);
	assert_string_equal(err,
			    "monitor.conf:1: invalid byte 0x00 (only printable ASCII and tabs)");
	monitor_config_deinit(&c);
	/* A '#' anywhere starts the comment, inside a word too. */
	assert_int_equal(parse(&c, "target a host h#ost\n", err), 0);
	assert_string_equal(c.targets[0].host, "h");
	monitor_config_deinit(&c);
}

static void test_echo_bounded(void **state)
{
	char text[256], msg[ERR_LEN];

	(void)state;
	snprintf(text, sizeof(text), "target a host 192.0.2.1 port %s\n",
		 "123456789012345678901234567890123456789012345678901234567890");
	snprintf(msg, sizeof(msg), "monitor.conf:1: port %s... is out of range (0..65535)",
		 "1234567890123456789012345678901234567890");
	expect_error(text, msg);
}

/* "target a host 192.0.2.1 KEY VALUE" accepted or refused with msg (NULL = accepted). */
static void key_case(const char *kv, const char *msg)
{
	char text[CASE_LEN + 64], full[ERR_LEN];

	snprintf(text, sizeof(text), "target a host 192.0.2.1 %s\n", kv);
	if (!msg) {
		expect_ok(text);
		return;
	}
	snprintf(full, sizeof(full), "monitor.conf:1: %s", msg);
	expect_error(text, full);
}

static void test_bounds(void **state)
{
	(void)state;
	key_case("port 0", NULL);
	key_case("port 65535", NULL);
	key_case("port 65536", "port 65536 is out of range (0..65535)");
	key_case("interval 0.1", NULL);
	key_case("interval 0.099999", "interval 0.099999 is out of range (0.1..3600 seconds)");
	key_case("interval 3600 window 3600", NULL);
	key_case("interval 3600.000001 window 86400",
		 "interval 3600.000001 is out of range (0.1..3600 seconds)");
	key_case("interval 99999999999999999999",
		 "interval 99999999999999999999 is out of range (0.1..3600 seconds)");
	key_case("max-ttl 1", NULL);
	key_case("max-ttl 255", NULL);
	key_case("max-ttl 0", "max-ttl 0 is out of range (1..255)");
	key_case("max-ttl 256", "max-ttl 256 is out of range (1..255)");
	key_case("first-ttl 30", NULL);
	key_case("first-ttl 31", "target 'a': first-ttl 31 is above max-ttl 30");
	key_case("first-ttl 0", "first-ttl 0 is out of range (1..255)");
	key_case("window 1", NULL);
	key_case("window 86400", NULL);
	key_case("window 86400.5", "window 86400.5 is out of range (1..86400 seconds)");
	key_case("window 0.9", "window 0.9 is out of range (1..86400 seconds)");
	key_case("interval 1.5 window 1.5", NULL);
	key_case("interval 1.5 window 1.499999",
		 "target 'a': window 1.499999 s is shorter than interval 1.5 s");
	key_case("timeout 1", NULL);
	key_case("timeout 60", NULL);
	key_case("timeout 0", "timeout 0 is out of range (1..60 seconds)");
	key_case("timeout 61", "timeout 61 is out of range (1..60 seconds)");
	key_case("timeout 1.5", "bad number '1.5' for 'timeout' (1..60 seconds)");
}

static void global_case(const char *line, const char *msg)
{
	char full[ERR_LEN];

	if (!msg) {
		expect_ok(line);
		return;
	}
	snprintf(full, sizeof(full), "monitor.conf:1: %s", msg);
	expect_error(line, full);
}

static void test_global_bounds(void **state)
{
	char text[MONITOR_CONFIG_ENGINE_MAX + 64];

	(void)state;
	global_case("budget 1", NULL);
	global_case("budget 1000000", NULL);
	global_case("budget 0.999999",
		    "budget 0.999999 is out of range (1..1000000 probes per second)");
	global_case("budget 1000001",
		    "budget 1000001 is out of range (1..1000000 probes per second)");
	global_case("budget x", "bad number 'x' for 'budget' (1..1000000 probes per second)");
	global_case("resolve-every 10", NULL);
	global_case("resolve-every 86400", NULL);
	global_case("resolve-every 9", "resolve-every 9 is out of range (10..86400 seconds)");
	global_case("resolve-every 86401",
		    "resolve-every 86401 is out of range (10..86400 seconds)");
	global_case("resolve-every -10",
		    "bad number '-10' for 'resolve-every' (10..86400 seconds)");
	memset(text, 'e', sizeof(text));
	memcpy(text, "engine ", 7);
	text[7 + MONITOR_CONFIG_ENGINE_MAX] = '\0';
	global_case(text, NULL);
	text[7 + MONITOR_CONFIG_ENGINE_MAX] = 'e';
	text[8 + MONITOR_CONFIG_ENGINE_MAX] = '\0';
	global_case(text, "engine 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee...' is longer than "
			  "1023 bytes");
}

static void test_names_hosts(void **state)
{
	char text[512], name[MONITOR_CONFIG_NAME_MAX + 2], host[MONITOR_CONFIG_HOST_MAX + 2];

	(void)state;
	expect_ok("target A-z_0.9:x host h\n");
	memset(name, 'n', sizeof(name));
	name[MONITOR_CONFIG_NAME_MAX] = '\0';
	snprintf(text, sizeof(text), "target %s host h\n", name);
	expect_ok(text);
	name[MONITOR_CONFIG_NAME_MAX] = 'n';
	name[MONITOR_CONFIG_NAME_MAX + 1] = '\0';
	snprintf(text, sizeof(text), "target %s host h\n", name);
	expect_error(text, "monitor.conf:1: bad target name "
			   "'nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn...' (1..64 characters of "
			   "A-Z a-z 0-9 _ . : -)");
	expect_error("target a/b host h\n", "monitor.conf:1: bad target name 'a/b' (1..64 "
					    "characters of A-Z a-z 0-9 _ . : -)");
	memset(host, 'h', sizeof(host));
	host[MONITOR_CONFIG_HOST_MAX] = '\0';
	snprintf(text, sizeof(text), "target a host %s\n", host);
	expect_ok(text);
	host[MONITOR_CONFIG_HOST_MAX] = 'h';
	host[MONITOR_CONFIG_HOST_MAX + 1] = '\0';
	snprintf(text, sizeof(text), "target a host %s\n", host);
	expect_error(text, "monitor.conf:1: bad host 'hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh...' "
			   "(1..253 printable characters, no spaces)");
}

static void test_labels(void **state)
{
	char text[CASE_LEN], key[MONITOR_CONFIG_LABEL_KEY_MAX + 2];
	char value[MONITOR_CONFIG_LABEL_VALUE_MAX + 2];

	(void)state;
	key_case("label _a=1 label Z9_=x=y label k=!\"$%&'()*+,-./:;<>?@[\\]^_`{|}~", NULL);
	key_case("label novalue", "bad label 'novalue' (KEY=VALUE)");
	key_case("label =v", "bad label key '' (a letter or '_', then letters, digits or '_'; "
			     "at most 32)");
	key_case("label 9a=v", "bad label key '9a' (a letter or '_', then letters, digits or "
			       "'_'; at most 32)");
	key_case("label a-b=v", "bad label key 'a-b' (a letter or '_', then letters, digits or "
				"'_'; at most 32)");
	key_case("label k=", "label 'k' needs a value of 1..128 printable characters, no spaces");
	key_case("label target=x", "label key 'target' is reserved");
	key_case("label hop=x", "label key 'hop' is reserved");
	key_case("label le=x", "label key 'le' is reserved");
	key_case("label quantile=x", "label key 'quantile' is reserved");
	key_case("label __name__=x", "label key '__name__' is reserved");
	key_case("label _x=1", NULL);
	key_case("label a=1 label a=2", "label 'a' given twice");
	key_case("label a=1 label b=1 label c=1 label d=1 label e=1 label f=1 label g=1 label h=1",
		 NULL);
	key_case("label a=1 label b=1 label c=1 label d=1 label e=1 label f=1 label g=1 label h=1 "
		 "label i=1",
		 "more than 8 labels (at 'i')");
	memset(key, 'k', sizeof(key));
	key[MONITOR_CONFIG_LABEL_KEY_MAX] = '\0';
	memset(value, 'v', sizeof(value));
	value[MONITOR_CONFIG_LABEL_VALUE_MAX] = '\0';
	snprintf(text, sizeof(text), "label %s=%s", key, value);
	key_case(text, NULL);
	key[MONITOR_CONFIG_LABEL_KEY_MAX] = 'k';
	key[MONITOR_CONFIG_LABEL_KEY_MAX + 1] = '\0';
	snprintf(text, sizeof(text), "label %s=v", key);
	key_case(text, "bad label key 'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk' (a letter or '_', then "
		       "letters, digits or '_'; at most 32)");
	value[MONITOR_CONFIG_LABEL_VALUE_MAX] = 'v';
	value[MONITOR_CONFIG_LABEL_VALUE_MAX + 1] = '\0';
	snprintf(text, sizeof(text), "label k=%s", value);
	key_case(text, "label 'k' needs a value of 1..128 printable characters, no spaces");
	/* Defaults count toward the 8; overriding one of them does not. */
	expect_ok("defaults label a=1 label b=1 label c=1 label d=1 label e=1 label f=1 label g=1 "
		  "label h=1\ntarget t host h label a=2 label h=3\n");
	expect_error("defaults label a=1 label b=1 label c=1 label d=1 label e=1 label f=1 label "
		     "g=1 label h=1\ntarget t host h label z=1\n",
		     "monitor.conf:2: more than 8 labels (at 'z')");
	expect_error("defaults label a=1 label a=2\n", "monitor.conf:1: label 'a' given twice");
}

static void test_line_limits(void **state)
{
	size_t n = MONITOR_CONFIG_LINE_MAX + 2;
	struct monitor_config c;
	char err[ERR_LEN];
	char *text = malloc(n + 1);

	(void)state;
	assert_non_null(text);
	/* Exactly the longest line (a long comment), then one byte more. */
	memset(text, ' ', n);
	memcpy(text, "target a host h #", 17);
	text[MONITOR_CONFIG_LINE_MAX] = '\n';
	text[MONITOR_CONFIG_LINE_MAX + 1] = '\0';
	assert_int_equal(parse(&c, text, err), 0);
	assert_int_equal(c.ntargets, 1);
	monitor_config_deinit(&c);
	text[MONITOR_CONFIG_LINE_MAX] = ' ';
	text[MONITOR_CONFIG_LINE_MAX + 1] = '\n';
	text[MONITOR_CONFIG_LINE_MAX + 2] = '\0';
	expect_error(text, "monitor.conf:1: line longer than 4096 bytes");
	free(text);
	/* The last line needs no newline. */
	assert_int_equal(parse(&c, "budget 5\ntarget a host h", err), 0);
	assert_int_equal(c.ntargets, 1);
	monitor_config_deinit(&c);
}

static void test_failure_keeps_config(void **state)
{
	static const char second[] = "budget 9\nengine e2\ntarget b host h\ntarget c host h\n"
				     "target x\n";
	struct monitor_config c;
	char err[ERR_LEN];

	(void)state;
	assert_int_equal(parse(&c, "budget 7\nengine e1\ntarget a host h\n", err), 0);
	assert_int_equal(monitor_config_parse_buffer(&c, second, strlen(second), "second.conf", err,
						     ERR_LEN),
			 -EINVAL);
	assert_string_equal(err, "second.conf:5: target 'x' has no 'host'");
	assert_true(c.budget_pps == 7);
	assert_string_equal(c.engine, "e1");
	assert_int_equal(c.ntargets, 1);
	assert_null(monitor_config_find(&c, "b"));
	assert_non_null(monitor_config_find(&c, "a"));
	/* A second buffer sees the names of the first. */
	assert_int_equal(monitor_config_parse_buffer(&c, "\ntarget a host h\n", 16, "second.conf",
						     err, ERR_LEN),
			 -EINVAL);
	assert_string_equal(err, "second.conf:2: target 'a' is defined twice (first on line 3)");
	monitor_config_deinit(&c);
}

static void test_add_host(void **state)
{
	struct monitor_config c;
	char err[ERR_LEN], host[MONITOR_CONFIG_HOST_MAX + 2];

	(void)state;
	assert_int_equal(parse(&c, "defaults protocol tcp port 443\ntarget a host h\n", err), 0);
	assert_int_equal(monitor_config_add_host(&c, "www.example.net", err, ERR_LEN), 0);
	assert_int_equal(monitor_config_add_host(&c, "2001:db8::1", err, ERR_LEN), 0);
	assert_int_equal(monitor_config_add_host(&c, "a", err, ERR_LEN), -EINVAL);
	assert_string_equal(err, "command line: target 'a' is defined twice (first on line 2)");
	assert_int_equal(monitor_config_add_host(&c, "www.example.net", err, ERR_LEN), -EINVAL);
	assert_string_equal(err, "command line: target 'www.example.net' is defined twice (first "
				 "on the command line)");
	assert_int_equal(monitor_config_add_host(&c, "h/x~y", err, ERR_LEN), 0);
	assert_int_equal(c.ntargets, 4);
	assert_string_equal(c.targets[1].name, "www.example.net");
	assert_string_equal(c.targets[1].host, "www.example.net");
	assert_int_equal(c.targets[1].protocol, PROTO_PROTOCOL_TCP);
	assert_int_equal(c.targets[1].port, 443);
	assert_int_equal(c.targets[1].line, 0);
	assert_string_equal(c.targets[2].name, "2001:db8::1");
	assert_string_equal(c.targets[3].name, "h_x_y");
	assert_string_equal(c.targets[3].host, "h/x~y");
	assert_int_equal(monitor_config_add_host(&c, "", err, ERR_LEN), -EINVAL);
	assert_string_equal(err, "command line: bad host '' (1..253 printable characters, no "
				 "spaces)");
	assert_int_equal(monitor_config_add_host(&c, "a b", err, ERR_LEN), -EINVAL);
	assert_string_equal(err, "command line: bad host 'a b' (1..253 printable characters, no "
				 "spaces)");
	assert_int_equal(monitor_config_add_host(&c, "a\x1b", err, ERR_LEN), -EINVAL);
	assert_string_equal(err, "command line: bad host 'a?' (1..253 printable characters, no "
				 "spaces)");
	/* A long host makes a name cut to the longest. */
	memset(host, 'x', sizeof(host));
	host[MONITOR_CONFIG_HOST_MAX] = '\0';
	assert_int_equal(monitor_config_add_host(&c, host, err, ERR_LEN), 0);
	assert_int_equal(strlen(c.targets[4].name), MONITOR_CONFIG_NAME_MAX);
	host[MONITOR_CONFIG_HOST_MAX] = 'x';
	host[MONITOR_CONFIG_HOST_MAX + 1] = '\0';
	assert_int_equal(monitor_config_add_host(&c, host, err, ERR_LEN), -EINVAL);
	monitor_config_deinit(&c);
	/* Without a file: the built-in defaults. */
	monitor_config_init(&c);
	assert_int_equal(monitor_config_add_host(&c, "192.0.2.7", err, ERR_LEN), 0);
	assert_int_equal(c.targets[0].protocol, PROTO_PROTOCOL_ICMP);
	assert_ptr_equal(monitor_config_find(&c, "192.0.2.7"), &c.targets[0]);
	monitor_config_deinit(&c);
	/* Defaults no target could have. */
	assert_int_equal(parse(&c, "defaults interval 100\n", err), 0);
	assert_int_equal(monitor_config_add_host(&c, "h", err, ERR_LEN), -EINVAL);
	assert_string_equal(err,
			    "command line: target 'h': window 60 s is shorter than interval 100 s");
	monitor_config_deinit(&c);
}

static void test_equal(void **state)
{
	struct monitor_config a, b;
	char err[ERR_LEN];
	size_t i;

	(void)state;
	assert_int_equal(parse(&a,
			       "target x host h label a=1 label b=2\n"
			       "target y host h interval 2\n"
			       "target z host h port 1\n",
			       err),
			 0);
	/* Same settings written another way, other lines, other label order. */
	assert_int_equal(parse(&b,
			       "\ndefaults interval 2.000000\n"
			       "target y host h\n"
			       "defaults interval 1\n"
			       "target x host h label b=2 label a=1\n"
			       "target z host h port 2\n",
			       err),
			 0);
	assert_true(monitor_target_config_equal(&a.targets[0], monitor_config_find(&b, "x")));
	assert_true(monitor_target_config_equal(&a.targets[1], monitor_config_find(&b, "y")));
	assert_false(monitor_target_config_equal(&a.targets[2], monitor_config_find(&b, "z")));
	assert_false(monitor_target_config_equal(&a.targets[0], &a.targets[1]));
	/* Every setting counts. */
	for (i = 0; i < 13; i++) {
		struct monitor_target_config t = a.targets[0];

		switch (i) {
		case 0:
			t.host[0] = 'g';
			break;
		case 1:
			t.protocol = PROTO_PROTOCOL_UDP;
			break;
		case 2:
			t.port = 9;
			break;
		case 3:
			t.interval_us++;
			break;
		case 4:
			t.first_ttl++;
			break;
		case 5:
			t.max_ttl++;
			break;
		case 6:
			t.window_us++;
			break;
		case 7:
			t.family = 4;
			break;
		case 8:
			t.flow_id = 0;
			break;
		case 9:
			t.timeout_s++;
			break;
		case 10:
			t.nlabels--;
			break;
		case 11:
			t.labels[1].value[0] = '3';
			break;
		default:
			t.name[0] = 'w';
			break;
		}
		assert_false(monitor_target_config_equal(&a.targets[0], &t));
	}
	a.targets[0].line = 99;
	assert_true(monitor_target_config_equal(&a.targets[0], monitor_config_find(&b, "x")));
	monitor_config_deinit(&a);
	monitor_config_deinit(&b);
}

/* CPU time: other processes on a shared machine do not stretch it, as they do wall time. */
static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* n targets, each with a few keys and a label; returns the buffer and its length. */
static char *big_text(size_t n, size_t *len)
{
	size_t cap = n * 96 + 64, o = 0, i;
	char *buf = malloc(cap);

	assert_non_null(buf);
	o += (size_t)snprintf(buf, cap, "budget 100000\ndefaults interval 10 window 60\n");
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(buf + o, cap - o,
				      "target t%zu host 10.%zu.%zu.%zu protocol udp label n=%zu\n",
				      i, i >> 16, (i >> 8) & 255, i & 255, i);
	*len = o;
	return buf;
}

static void test_many_targets(void **state)
{
	struct monitor_config c;
	char err[ERR_LEN];
	size_t len;
	char *text = big_text(BIG_TARGETS, &len), *small;
	size_t small_len;
	double t0, dt = 1e9, dt_small = 1e9;

	(void)state;
	/*
	 * Linear, not a time limit (the machine is shared): ten times the targets may take at
	 * most BIG_SCALE_MAX times as long; a quadratic duplicate check takes 100. Best of
	 * three each, in CPU time, so that neither a preemption nor a cold cache decides.
	 */
	small = big_text(BIG_TARGETS / 10, &small_len);
	for (int run = 0; run < 6; run++) {
		int big = run % 2;
		double t;

		monitor_config_init(&c);
		t0 = now_s();
		assert_int_equal(monitor_config_parse_buffer(&c, big ? text : small,
							     big ? len : small_len, "scale.conf",
							     err, ERR_LEN),
				 0);
		t = now_s() - t0;
		if (big && t < dt)
			dt = t;
		else if (!big && t < dt_small)
			dt_small = t;
		/* The last run is a whole one: the checks below read its result. */
		if (run < 5)
			monitor_config_deinit(&c);
	}
	free(small);
	print_message("%d targets parsed in %.3f s, a tenth in %.3f s\n", BIG_TARGETS, dt,
		      dt_small);
	/* Under valgrind (tests/valgrind/run.sh) only the work is checked, not its speed. */
	if (!getenv("HOPWATCH_VALGRIND"))
		assert_true(dt < BIG_SCALE_MAX * dt_small + BIG_SCALE_SLACK_S);
	assert_int_equal(c.ntargets, BIG_TARGETS);
	assert_string_equal(monitor_config_find(&c, "t99999")->host, "10.1.134.159");
	/* One more, from the command line or the file, is too many. */
	assert_int_equal(monitor_config_add_host(&c, "h", err, ERR_LEN), -EINVAL);
	assert_string_equal(err, "command line: more than 100000 targets");
	assert_int_equal(monitor_config_parse_buffer(&c, "\n\ntarget x host h\n", 17, "big.conf",
						     err, ERR_LEN),
			 -EINVAL);
	assert_string_equal(err, "big.conf:3: more than 100000 targets");
	/* A duplicate at the very end is found; the whole file is taken back. */
	monitor_config_deinit(&c);
	free(text);
	text = big_text(BIG_TARGETS - 1, &len);
	memcpy(text + len, "target t5 host h\n", 18);
	monitor_config_init(&c);
	assert_int_equal(monitor_config_parse_buffer(&c, text, len + 17, "big.conf", err, ERR_LEN),
			 -EINVAL);
	assert_string_equal(err, "big.conf:100002: target 't5' is defined twice (first on line 8)");
	assert_int_equal(c.ntargets, 0);
	monitor_config_deinit(&c);
	free(text);
}

static void test_file(void **state)
{
	char path[] = "/tmp/test_monitor_config.XXXXXX";
	static const char text[] = "budget 50\ntarget a host 198.51.100.1\ntarget b\n";
	struct monitor_config c;
	char err[ERR_LEN], msg[ERR_LEN + 64];
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, 36), 36);
	monitor_config_init(&c);
	assert_int_equal(monitor_config_load(&c, path, err, ERR_LEN), 0);
	assert_true(c.budget_pps == 50);
	assert_int_equal(c.ntargets, 1);
	monitor_config_deinit(&c);
	assert_int_equal(write(fd, text + 36, sizeof(text) - 1 - 36), sizeof(text) - 1 - 36);
	close(fd);
	assert_int_equal(monitor_config_load(&c, path, err, ERR_LEN), -EINVAL);
	snprintf(msg, sizeof(msg), "%s:3: target 'b' has no 'host'", path);
	assert_string_equal(err, msg);
	monitor_config_deinit(&c);
	unlink(path);
	assert_int_equal(monitor_config_load(&c, path, err, ERR_LEN), -ENOENT);
	snprintf(msg, sizeof(msg), "%s: %s", path, strerror(ENOENT));
	assert_string_equal(err, msg);
	monitor_config_deinit(&c);
}

static void test_file_too_big(void **state)
{
	char path[] = "/tmp/test_monitor_config.XXXXXX";
	struct monitor_config c;
	char err[ERR_LEN], msg[ERR_LEN + 64];
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	/* Exactly the largest: blank lines. Then one byte more. */
	assert_int_equal(ftruncate(fd, MONITOR_CONFIG_FILE_MAX), 0);
	close(fd);
	monitor_config_init(&c);
	assert_int_equal(monitor_config_load(&c, path, err, ERR_LEN), -EINVAL);
	snprintf(msg, sizeof(msg), "%s:1: line longer than 4096 bytes", path);
	assert_string_equal(err, msg);
	assert_int_equal(truncate(path, MONITOR_CONFIG_FILE_MAX + 1), 0);
	assert_int_equal(monitor_config_load(&c, path, err, ERR_LEN), -EFBIG);
	snprintf(msg, sizeof(msg), "%s: larger than 16 MiB", path);
	assert_string_equal(err, msg);
	monitor_config_deinit(&c);
	unlink(path);
}

static void test_example_file(void **state)
{
	struct monitor_config c;
	char err[ERR_LEN];

	(void)state;
	monitor_config_init(&c);
	if (monitor_config_load(&c, UNIT_SOURCE_DIR "/../../monitor/hopwatch-monitor.conf.example",
				err, ERR_LEN))
		fail_msg("%s", err);
	assert_true(c.ntargets >= 4);
	assert_true(c.budget_pps > 0);
	monitor_config_deinit(&c);
}

static void test_pure_parser(void **state)
{
	struct monitor_config_parser p;
	struct monitor_config_item it;
	char msg[ERR_LEN];

	(void)state;
	monitor_config_parser_init(&p);
	assert_int_equal(monitor_config_parse_line(&p, "", 0, &it), 0);
	assert_int_equal(it.kind, MONITOR_CONFIG_ITEM_NONE);
	assert_int_equal(monitor_config_parse_line(&p, "defaults max-ttl 9 port 7", 25, &it), 0);
	assert_int_equal(it.kind, MONITOR_CONFIG_ITEM_DEFAULTS);
	assert_int_equal(p.defaults.max_ttl, 9);
	/* A refused defaults line changes nothing. */
	assert_int_equal(monitor_config_parse_line(&p, "defaults max-ttl 12 port x", 26, &it),
			 MONITOR_CONFIG_E_BAD_NUMBER);
	assert_int_equal(p.defaults.max_ttl, 9);
	assert_int_equal(p.line, 3);
	monitor_config_format_error(msg, sizeof(msg), "f", &p, MONITOR_CONFIG_E_BAD_NUMBER);
	assert_string_equal(msg, "f:3: bad number 'x' for 'port' (0..65535)");
	/* len bounds the line, not a NUL. */
	assert_int_equal(monitor_config_parse_line(&p, "target a host hX", 15, &it), 0);
	assert_int_equal(it.kind, MONITOR_CONFIG_ITEM_TARGET);
	assert_string_equal(it.target.host, "h");
	assert_int_equal(it.target.port, 7);
	assert_int_equal(it.target.line, 4);
	assert_int_equal(monitor_config_parse_line(&p, "engine x", 8, &it), 0);
	assert_int_equal(it.kind, MONITOR_CONFIG_ITEM_ENGINE);
	assert_int_equal(monitor_config_parse_line(&p, "resolve-every 10", 16, &it), 0);
	assert_int_equal(it.kind, MONITOR_CONFIG_ITEM_RESOLVE_EVERY);
	assert_int_equal(monitor_config_parse_line(&p, "budget 3", 8, &it), 0);
	assert_int_equal(it.kind, MONITOR_CONFIG_ITEM_BUDGET);
	/* Truncation is bounded and terminated; the full length comes back. */
	assert_int_equal(monitor_config_format_error(msg, 4, "f", &p, MONITOR_CONFIG_E_BAD_BYTE),
			 strlen("f:7: invalid byte 0x00 (only printable ASCII and tabs)"));
	assert_string_equal(msg, "f:7");
	for (int e = 0; e <= MONITOR_CONFIG_E__COUNT; e++)
		assert_non_null(monitor_config_strerror(e));
	assert_string_equal(monitor_config_strerror(-1), "unknown error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),	     cmocka_unit_test(test_drop_targets),
		cmocka_unit_test(test_globals),	     cmocka_unit_test(test_target_defaults),
		cmocka_unit_test(test_every_key),    cmocka_unit_test(test_defaults_below_only),
		cmocka_unit_test(test_ecmp),	     cmocka_unit_test(test_errors_lines),
		cmocka_unit_test(test_bad_bytes),    cmocka_unit_test(test_echo_bounded),
		cmocka_unit_test(test_bounds),	     cmocka_unit_test(test_global_bounds),
		cmocka_unit_test(test_names_hosts),  cmocka_unit_test(test_labels),
		cmocka_unit_test(test_line_limits),  cmocka_unit_test(test_failure_keeps_config),
		cmocka_unit_test(test_add_host),     cmocka_unit_test(test_equal),
		cmocka_unit_test(test_many_targets), cmocka_unit_test(test_file),
		cmocka_unit_test(test_file_too_big), cmocka_unit_test(test_example_file),
		cmocka_unit_test(test_pure_parser),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
