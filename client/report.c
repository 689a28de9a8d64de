/*
 * report: the finished-table formats. Layouts follow mtr 0.95 byte for byte where mtr has
 * them (checked against real mtr output: tests/unit/golden/), and WinMTR's export for
 * --text/--html. Every name from the network goes through one escaper before any format.
 */
#include "client/report.h"

#include "client/asn.h"
#include "client/diagnose.h"
#include "client/flows.h"
#include "client/split.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "common/text.h"

/* The mtr release whose formats these are; also the CSV Mtr_Version column. */
#define REPORT_MTR_VERSION    "0.95"
#define REPORT_DEFAULT_FIELDS "LS NABWV"
/* mtr's report host column (len_hosts) and its name buffer (MAX_FORMAT_STR - 1). */
#define REPORT_HOST_WIDTH 33
#define REPORT_NAME_MAX	  80
/* An escaped name can grow 4x (\xNN per byte); the address is appended for -b. */
#define REPORT_ESC_MAX	  (4 * REPORT_NAME_MAX + 64)
#define REPORT_ADDR_MAX	  64
#define REPORT_LINE_MAX	  1024
#define REPORT_FIELDS_MAX 32
/* mtr's MINPACKET (ui/mtr.h): the smallest random size, printed in "rand(28-N)". */
#define REPORT_MINPACKET 28
/* mtr's strftime for the Start line (iso_time). */
#define REPORT_TIME_FMT		  "%Y-%m-%dT%H:%M:%S%z"
#define REPORT_TIME_MAX		  64
#define REPORT_JSON_INDENT	  4
#define REPORT_WINMTR_NO_RESPONSE "No response from host"
#define REPORT_WINMTR_SIGNATURE	  "hopwatch (WinMTR-compatible export)"

enum field_val {
	FV_DROP,
	FV_LOSS,
	FV_RCV,
	FV_SNT,
	FV_LAST,
	FV_BEST,
	FV_AVG,
	FV_WRST,
	FV_STDEV,
	FV_GMEAN,
	FV_JTTR,
	FV_JAVG,
	FV_JMAX,
	FV_JINT,
	FV_P50,
	FV_P90,
	FV_P99,
};

struct field {
	char key;
	const char *title;
	const char *format; /* mtr's printf format; 'f' in it = a float field */
	int width;
	enum field_val val;
};

/*
 * mtr's data_fields (ui/mtr.c), then hopwatch's own: P, Q, Y are letters mtr does not use
 * (P50, P90, P99: nearest-rank percentiles over the hop's latest outcomes, milliseconds).
 */
static const struct field fields[] = {
	{' ', " ", " ", 1, FV_DROP},	       {'L', "Loss%", " %4.1f%%", 6, FV_LOSS},
	{'D', "Drop", " %4d", 5, FV_DROP},     {'R', "Rcv", " %5d", 6, FV_RCV},
	{'S', "Snt", " %5d", 6, FV_SNT},       {'N', "Last", " %5.1f", 6, FV_LAST},
	{'B', "Best", " %5.1f", 6, FV_BEST},   {'A', "Avg", " %5.1f", 6, FV_AVG},
	{'W', "Wrst", " %5.1f", 6, FV_WRST},   {'V', "StDev", " %5.1f", 6, FV_STDEV},
	{'G', "Gmean", " %5.1f", 6, FV_GMEAN}, {'J', "Jttr", " %4.1f", 5, FV_JTTR},
	{'M', "Javg", " %4.1f", 5, FV_JAVG},   {'X', "Jmax", " %4.1f", 5, FV_JMAX},
	{'I', "Jint", " %4.1f", 5, FV_JINT},   {'P', "P50", " %5.1f", 6, FV_P50},
	{'Q', "P90", " %5.1f", 6, FV_P90},     {'Y', "P99", " %5.1f", 6, FV_P99},
};

#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

struct ctx {
	const struct stats_table *t;
	const struct report_meta *m;
	FILE *out;
	const struct field *f[REPORT_FIELDS_MAX];
	size_t nf;
	int last_hop;
};

static const struct field *field_of(char key)
{
	size_t i;

	for (i = 0; i < NFIELDS; i++)
		if (fields[i].key == key)
			return &fields[i];
	return NULL;
}

static int is_float(const struct field *f)
{
	return strchr(f->format, 'f') != NULL;
}

static double fvalue(const struct field *f, const struct stats_summary *s)
{
	switch (f->val) {
	case FV_DROP:
		return s->dropped;
	case FV_LOSS:
		return s->loss_pct;
	case FV_RCV:
		return s->received;
	case FV_SNT:
		return s->sent;
	case FV_LAST:
		return s->last;
	case FV_BEST:
		return s->best;
	case FV_AVG:
		return s->avg;
	case FV_WRST:
		return s->worst;
	case FV_STDEV:
		return s->stdev;
	case FV_GMEAN:
		return s->gmean;
	case FV_JTTR:
		return s->jitter;
	case FV_JAVG:
		return s->javg;
	case FV_JMAX:
		return s->jmax;
	case FV_JINT:
		return s->jinta;
	case FV_P50:
		return s->p50;
	case FV_P90:
		return s->p90;
	case FV_P99:
		return s->p99;
	}
	return 0;
}

void report_escape(const char *in, char *out, size_t len)
{
	text_escape(out, len, in);
}

/* mtr's snprint_addr: name, "name (addr)" with -b, the address, or "???". */
static void addr_name(const struct ctx *c, const struct addr *a, char *out, size_t len)
{
	char addr[REPORT_ADDR_MAX], raw[REPORT_NAME_MAX + 1], esc[REPORT_ESC_MAX];
	const char *name = NULL;

	if (!a || (a->family != AF_INET && a->family != AF_INET6)) {
		snprintf(out, len, "???");
		return;
	}
	addr_str(a, addr, sizeof(addr));
	if (!c->m->numeric && c->m->name)
		name = c->m->name(a, c->m->name_ctx);
	if (!name) {
		snprintf(out, len, "%s", addr);
		return;
	}
	snprintf(raw, sizeof(raw), "%s", name);
	text_escape(esc, sizeof(esc), raw);
	/* A name cut short is still a name: the width is mtr's, not the DNS's. */
	if (snprintf(out, len, c->m->show_ips ? "%s (%s)" : "%s", esc, addr) < 0)
		snprintf(out, len, "???");
}

static int as_shown(const struct ctx *c)
{
	return c->m->asinfo && c->m->ipinfo >= 0;
}

/* mtr's fmt_ipinfo(): the AS column of a, "AS???" (or "???") while unknown. */
static void as_column(const struct ctx *c, const struct addr *a, char *out, size_t len)
{
	char field[ASN_TXT_MAX + 1];
	const char *rec = NULL;

	if (a && (a->family == AF_INET || a->family == AF_INET6))
		rec = c->m->asinfo(a, c->m->asinfo_ctx);
	if (rec)
		asn_field(rec, c->m->ipinfo, field, sizeof(field));
	asn_format(out, len, c->m->ipinfo, rec ? field : NULL);
}

/* The AS column as JSON and CSV give it: mtr trims the padding there. */
static void as_value(const struct ctx *c, const struct addr *a, char *out, size_t len)
{
	size_t n;

	as_column(c, a, out, len);
	n = strlen(out);
	while (n && out[n - 1] == ' ')
		out[--n] = '\0';
}

static const struct addr *hop_addr(const struct stats_hop *h)
{
	return h->acc.received ? &h->last_addr : NULL;
}

static void escaped(const char *s, char *out, size_t len)
{
	text_escape(out, len, s);
}

/* Writes fmt at buf + off the way mtr does: a field that overflows is cut by the next. */
static size_t put_at(char *buf, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static size_t put_at(char *buf, size_t off, const char *fmt, ...)
{
	va_list ap;

	if (off >= REPORT_LINE_MAX)
		return off;
	va_start(ap, fmt);
	vsnprintf(buf + off, REPORT_LINE_MAX - off, fmt, ap);
	va_end(ap);
	return off;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void put_field(char *buf, size_t off, const struct field *f, const struct stats_summary *s)
{
	const char *fmt = f->format;

	/* never NULL; the check keeps GCC's format-overflow analysis quiet under sanitizers */
	if (off >= REPORT_LINE_MAX || !fmt)
		return;
	if (is_float(f))
		snprintf(buf + off, REPORT_LINE_MAX - off, fmt, fvalue(f, s));
	else
		snprintf(buf + off, REPORT_LINE_MAX - off, fmt, (int)fvalue(f, s));
}

/* mtr's field format with the title around it, for XML. */
static void xml_field(FILE *out, const struct field *f, const struct stats_summary *s)
{
	const char *title = strcmp(f->title, "Loss%") == 0 ? "Loss" : f->title;

	const char *fmt = f->format;

	if (!fmt)
		return;
	fprintf(out, "        <%s>", title);
	if (is_float(f))
		fprintf(out, fmt, fvalue(f, s));
	else
		fprintf(out, fmt, (int)fvalue(f, s));
	fprintf(out, "</%s>\n", title);
}
#pragma GCC diagnostic pop

/* ---- -r / -w ---- */

/*
 * mtr 0.95 -e: the labels of each responder listed under a hop, none for the row's own
 * (as mtr does). mtr prints S through "%cu", a raw 0/1 byte and a 'u'; here the digit.
 */
static void report_mpls(FILE *out, const struct stats_responder *rp)
{
	size_t k;

	for (k = 0; k < rp->nmpls; k++)
		fprintf(out, "       [MPLS: Lbl %u TC %u S %u TTL %u]\n", rp->mpls[k].label,
			rp->mpls[k].exp, rp->mpls[k].bos, rp->mpls[k].ttl);
}

/*
 * --flows after the table: only the hops where the flows' paths differ, one line per flow
 * there: its responder (the one with most answers; "(+N)" when N others answered that
 * flow too), then its own Loss%, Snt, Avg, Best and Wrst.
 */
static void flows_row(const struct ctx *c, int ttl, int flow, int first)
{
	const struct stats_hop *h = stats_table_hop(flows_table(c->m->flows, flow), ttl);
	const struct stats_responder *rp = flows_main_responder(c->m->flows, flow, ttl);
	char name[REPORT_ESC_MAX], label[REPORT_ESC_MAX + REPORT_ADDR_MAX];
	struct stats_summary s;

	stats_hop_summarize(h, &s);
	addr_name(c, rp ? &rp->addr : NULL, name, sizeof(name));
	if (h && h->nresponders > 1)
		snprintf(label, sizeof(label), "%s (+%u)", name, (unsigned)h->nresponders - 1);
	else
		snprintf(label, sizeof(label), "%s", name);
	if (first)
		fprintf(c->out, " %3d. %4d  ", ttl, flow);
	else
		fprintf(c->out, "      %4d  ", flow);
	fprintf(c->out, "%-*s %5.1f%% %5u %5.1f %5.1f %5.1f\n", REPORT_HOST_WIDTH, label,
		s.loss_pct, s.sent, s.avg, s.best, s.worst);
}

static void render_flows(const struct ctx *c)
{
	int n = flows_count(c->m->flows), last = flows_last_hop(c->m->flows), ttl, f, first;
	int shown = 0;

	for (ttl = 1; ttl <= last; ttl++)
		shown += flows_hop_differs(c->m->flows, ttl);
	fputc('\n', c->out);
	if (!shown) {
		fprintf(c->out, "Flows: %d, one per round: all on one path\n", n);
		return;
	}
	fprintf(c->out, "Flows: %d, one per round; the hops where their paths differ:\n", n);
	fprintf(c->out, " Hop  Flow  %-*s  Loss%%   Snt   Avg  Best  Wrst\n", REPORT_HOST_WIDTH,
		"Host");
	for (ttl = 1; ttl <= last; ttl++) {
		if (!flows_hop_differs(c->m->flows, ttl))
			continue;
		for (f = 0, first = 1; f < n; f++) {
			const struct stats_hop *h =
				stats_table_hop(flows_table(c->m->flows, f), ttl);

			/* A flow never probed here (fewer rounds than flows) has no row. */
			if (h && h->acc.sent) {
				flows_row(c, ttl, f, first);
				first = 0;
			}
		}
	}
}

static int render_report(struct ctx *c, int wide)
{
	char buf[REPORT_LINE_MAX], name[REPORT_ESC_MAX], host[REPORT_ESC_MAX];
	char when[REPORT_TIME_MAX];
	struct tm tm;
	char as[ASN_FORMAT_MAX];
	size_t len_hosts = REPORT_HOST_WIDTH, len_tmp, len, i, r;
	int ttl;

	escaped(c->m->local_host, host, sizeof(host));
	if (!localtime_r(&c->m->start, &tm) || !strftime(when, sizeof(when), REPORT_TIME_FMT, &tm))
		snprintf(when, sizeof(when), "?");
	fprintf(c->out, "Start: %s\n", when);

	if (wide) {
		len_hosts = strlen(host);
		for (ttl = 1; ttl <= c->last_hop; ttl++) {
			addr_name(c, hop_addr(stats_table_hop(c->t, ttl)), name, sizeof(name));
			if (strlen(name) > len_hosts)
				len_hosts = strlen(name);
		}
	}
	len_tmp = len_hosts;
	/* mtr 0.95: -w widens the host column by the AS column (and "AS"), -r does not. */
	if (as_shown(c) && wide) {
		len_hosts++;
		len_tmp += (size_t)asn_field_width(c->m->ipinfo) + (c->m->ipinfo ? 0 : 2);
	}
	snprintf(buf, sizeof(buf), "HOST: %-*s", (int)len_tmp, host);
	len = wide ? strlen(buf) : len_hosts;
	for (i = 0; i < c->nf; i++) {
		put_at(buf, len, "%*s", c->f[i]->width, c->f[i]->title);
		len += (size_t)c->f[i]->width;
	}
	fprintf(c->out, "%s\n", buf);

	for (ttl = 1; ttl <= c->last_hop; ttl++) {
		const struct stats_hop *h = stats_table_hop(c->t, ttl);
		struct stats_summary s;
		size_t listed = 0;

		stats_hop_summarize(h, &s);
		addr_name(c, hop_addr(h), name, sizeof(name));
		if (as_shown(c)) {
			as_column(c, hop_addr(h), as, sizeof(as));
			snprintf(buf, sizeof(buf), " %2d. %s%-*s", ttl, as, (int)len_hosts, name);
		} else {
			snprintf(buf, sizeof(buf), " %2d.|-- %-*s", ttl, (int)len_hosts, name);
		}
		len = wide ? strlen(buf) : len_hosts;
		for (i = 0; i < c->nf; i++) {
			put_field(buf, len, c->f[i], &s);
			len += (size_t)c->f[i]->width;
		}
		fprintf(c->out, "%s\n", buf);
		/* mtr 0.95 lists the hop's other responders under it, in order of first answer. */
		for (r = 0; r < h->nresponders; r++) {
			const struct stats_responder *rp = &h->responders[r];

			if (addr_equal(&rp->addr, &h->last_addr))
				continue;
			if (c->m->max_ecmp > 0 && listed >= (size_t)c->m->max_ecmp)
				break;
			listed++;
			addr_name(c, &rp->addr, name, sizeof(name));
			fprintf(c->out, "        %-*s\n", (int)len_hosts, name);
			/* mtr 0.95 names the responder again, after its AS column. */
			if (as_shown(c)) {
				as_column(c, &rp->addr, as, sizeof(as));
				fprintf(c->out, "     %s%s\n", as, name);
			}
			if (c->m->show_mpls)
				report_mpls(c->out, rp);
		}
	}
	if (c->m->flows)
		render_flows(c);
	return 0;
}

/* ---- -j ---- */

/* mtr's JSON numbers: whole microseconds in ms, shortest form, at least one decimal. */
static struct json_object *json_ms(double v)
{
	char s[REPORT_ADDR_MAX];
	size_t n;

	snprintf(s, sizeof(s), "%.3f", v);
	n = strlen(s);
	while (n > 2 && s[n - 1] == '0' && s[n - 2] != '.')
		s[--n] = '\0';
	return json_object_new_double_s(v, s);
}

static struct json_object *json_field(const struct field *f, const struct stats_summary *s)
{
	if (is_float(f))
		return json_ms(fvalue(f, s));
	return json_object_new_int64((int64_t)fvalue(f, s));
}

static void json_add_summary(struct json_object *o, const struct stats_summary *s)
{
	json_object_object_add(o, "Loss%", json_ms(s->loss_pct));
	json_object_object_add(o, "Drop", json_object_new_int64(s->dropped));
	json_object_object_add(o, "Rcv", json_object_new_int64(s->received));
	json_object_object_add(o, "Snt", json_object_new_int64(s->sent));
	json_object_object_add(o, "Last", json_ms(s->last));
	json_object_object_add(o, "Best", json_ms(s->best));
	json_object_object_add(o, "Avg", json_ms(s->avg));
	json_object_object_add(o, "Wrst", json_ms(s->worst));
	json_object_object_add(o, "StDev", json_ms(s->stdev));
	json_object_object_add(o, "Gmean", json_ms(s->gmean));
	json_object_object_add(o, "Jttr", json_ms(s->jitter));
	json_object_object_add(o, "Javg", json_ms(s->javg));
	json_object_object_add(o, "Jmax", json_ms(s->jmax));
	json_object_object_add(o, "Jint", json_ms(s->jinta));
	json_object_object_add(o, "p50", json_ms(s->p50));
	json_object_object_add(o, "p90", json_ms(s->p90));
	json_object_object_add(o, "p99", json_ms(s->p99));
}

static struct json_object *json_hop_extra(const struct ctx *c, const struct stats_hop *h)
{
	struct json_object *x = json_object_new_object(), *arr = json_object_new_array();
	struct stats_summary s;
	char name[REPORT_ESC_MAX], addr[REPORT_ADDR_MAX];
	size_t r;

	stats_hop_summarize(h, &s);
	json_object_object_add(x, "p50", json_ms(s.p50));
	json_object_object_add(x, "p90", json_ms(s.p90));
	json_object_object_add(x, "p99", json_ms(s.p99));
	json_object_object_add(x, "destination", json_object_new_boolean(h->is_destination));
	json_object_object_add(x, "unreachable", json_object_new_boolean(h->unreachable));
	for (r = 0; r < h->nresponders; r++) {
		const struct stats_responder *rp = &h->responders[r];
		struct json_object *o = json_object_new_object();
		struct stats_summary rs;

		stats_responder_summarize(h, r, &rs);
		addr_name(c, &rp->addr, name, sizeof(name));
		json_object_object_add(o, "host", json_object_new_string(name));
		json_object_object_add(
			o, "ip", json_object_new_string(addr_str(&rp->addr, addr, sizeof(addr))));
		json_add_summary(o, &rs);
		if (rp->nmpls) {
			struct json_object *ml = json_object_new_array();
			size_t k;

			for (k = 0; k < rp->nmpls; k++) {
				struct json_object *l = json_object_new_object();

				json_object_object_add(l, "label",
						       json_object_new_int64(rp->mpls[k].label));
				json_object_object_add(l, "tc",
						       json_object_new_int(rp->mpls[k].exp));
				json_object_object_add(l, "s",
						       json_object_new_int(rp->mpls[k].bos));
				json_object_object_add(l, "ttl",
						       json_object_new_int(rp->mpls[k].ttl));
				json_object_array_add(ml, l);
			}
			json_object_object_add(o, "mpls", ml);
		}
		json_object_array_add(arr, o);
	}
	json_object_object_add(x, "responders", arr);
	json_object_object_add(x, "overflow", json_object_new_int64(h->overflow));
	return x;
}

/* jansson's JSON_INDENT(4) layout, which mtr 0.95 prints; json-c only builds and escapes. */
static void json_write(FILE *out, struct json_object *o, int depth)
{
	int pad = (depth + 1) * REPORT_JSON_INDENT;
	size_t i, n;

	switch (json_object_get_type(o)) {
	case json_type_object:
		n = (size_t)json_object_object_length(o);
		if (!n) {
			fputs("{}", out);
			return;
		}
		fputs("{\n", out);
		i = 0;
		json_object_object_foreach(o, key, val)
		{
			struct json_object *k = json_object_new_string(key);

			fprintf(out, "%*s%s: ", pad, "",
				json_object_to_json_string_ext(k, JSON_C_TO_STRING_NOSLASHESCAPE));
			json_object_put(k);
			json_write(out, val, depth + 1);
			fputs(++i < n ? ",\n" : "\n", out);
		}
		fprintf(out, "%*s}", depth * REPORT_JSON_INDENT, "");
		return;
	case json_type_array:
		n = json_object_array_length(o);
		if (!n) {
			fputs("[]", out);
			return;
		}
		fputs("[\n", out);
		for (i = 0; i < n; i++) {
			fprintf(out, "%*s", pad, "");
			json_write(out, json_object_array_get_idx(o, i), depth + 1);
			fputs(i + 1 < n ? ",\n" : "\n", out);
		}
		fprintf(out, "%*s]", depth * REPORT_JSON_INDENT, "");
		return;
	case json_type_null:
	case json_type_boolean:
	case json_type_double:
	case json_type_int:
	case json_type_string:
		fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_NOSLASHESCAPE), out);
		return;
	}
}

static struct json_object *json_str_printf(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static struct json_object *json_str_printf(const char *fmt, ...)
{
	char s[REPORT_ADDR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s, sizeof(s), fmt, ap);
	va_end(ap);
	return json_object_new_string(s);
}

/* One flow's hop: who answered it, and the flow's own figures there. */
static struct json_object *json_flow_hub(const struct ctx *c, int flow, int ttl)
{
	const struct stats_hop *h = stats_table_hop(flows_table(c->m->flows, flow), ttl);
	const struct stats_responder *rp = flows_main_responder(c->m->flows, flow, ttl);
	struct json_object *hub = json_object_new_object(), *arr = json_object_new_array();
	static const char keys[] = "LSABW";
	char name[REPORT_ESC_MAX], addr[REPORT_ADDR_MAX];
	struct stats_summary s;
	size_t i;

	stats_hop_summarize(h, &s);
	json_object_object_add(hub, "count", json_object_new_int(ttl));
	addr_name(c, rp ? &rp->addr : NULL, name, sizeof(name));
	json_object_object_add(hub, "host", json_object_new_string(name));
	for (i = 0; keys[i]; i++)
		json_object_object_add(hub, field_of(keys[i])->title,
				       json_field(field_of(keys[i]), &s));
	for (i = 0; h && i < h->nresponders; i++) {
		struct json_object *r = json_object_new_object();

		addr_str(&h->responders[i].addr, addr, sizeof(addr));
		json_object_object_add(r, "ip", json_object_new_string(addr));
		json_object_object_add(r, "Rcv",
				       json_object_new_int64(h->responders[i].acc.received));
		json_object_array_add(arr, r);
	}
	json_object_object_add(hub, "responders", arr);
	return hub;
}

/* --flows: "hopwatch": {"flows": {"count", "differ": [TTL...], "paths": [...]}}. */
static struct json_object *json_flows(const struct ctx *c)
{
	const struct flows *fl = c->m->flows;
	struct json_object *o = json_object_new_object(), *differ = json_object_new_array();
	struct json_object *paths = json_object_new_array();
	int n = flows_count(fl), last = flows_last_hop(fl), ttl, f;

	for (ttl = 1; ttl <= last; ttl++)
		if (flows_hop_differs(fl, ttl))
			json_object_array_add(differ, json_object_new_int(ttl));
	for (f = 0; f < n; f++) {
		struct json_object *p = json_object_new_object(), *hubs = json_object_new_array();

		json_object_object_add(p, "flow_id", json_object_new_int(f));
		for (ttl = 1; ttl <= last; ttl++)
			json_object_array_add(hubs, json_flow_hub(c, f, ttl));
		json_object_object_add(p, "hubs", hubs);
		json_object_array_add(paths, p);
	}
	json_object_object_add(o, "count", json_object_new_int(n));
	json_object_object_add(o, "differ", differ);
	json_object_object_add(o, "paths", paths);
	return o;
}

static int render_json(struct ctx *c)
{
	struct json_object *root = json_object_new_object(), *rep = json_object_new_object();
	struct json_object *mtr = json_object_new_object(), *hubs = json_object_new_array();
	struct json_object *hw = json_object_new_object();
	char name[REPORT_ESC_MAX];
	size_t i;
	int ttl;

	escaped(c->m->local_host, name, sizeof(name));
	json_object_object_add(mtr, "src", json_object_new_string(name));
	escaped(c->m->target, name, sizeof(name));
	json_object_object_add(mtr, "dst", json_object_new_string(name));
	json_object_object_add(mtr, "tos", json_object_new_int(c->m->tos));
	json_object_object_add(mtr, "tests", json_object_new_int(c->m->count));
	if (c->m->psize >= 0)
		json_object_object_add(mtr, "psize", json_str_printf("%d", c->m->psize));
	else
		json_object_object_add(
			mtr, "psize",
			json_str_printf("rand(%d-%d)", REPORT_MINPACKET, -c->m->psize));
	if (c->m->bitpattern >= 0)
		json_object_object_add(mtr, "bitpattern",
				       json_str_printf("0x%02X", (unsigned char)c->m->bitpattern));
	else
		json_object_object_add(mtr, "bitpattern", json_str_printf("rand(0x00-FF)"));
	json_object_object_add(rep, "mtr", mtr);

	for (ttl = 1; ttl <= c->last_hop; ttl++) {
		const struct stats_hop *h = stats_table_hop(c->t, ttl);
		struct json_object *hub = json_object_new_object();
		struct stats_summary s;

		stats_hop_summarize(h, &s);
		addr_name(c, hop_addr(h), name, sizeof(name));
		json_object_object_add(hub, "count", json_object_new_int(ttl));
		json_object_object_add(hub, "host", json_object_new_string(name));
		if (as_shown(c) && c->m->ipinfo == 0) {
			char as[ASN_FORMAT_MAX];

			as_value(c, hop_addr(h), as, sizeof(as));
			json_object_object_add(hub, "ASN", json_object_new_string(as));
		}
		for (i = 0; i < c->nf; i++)
			if (c->f[i]->key != ' ')
				json_object_object_add(hub, c->f[i]->title,
						       json_field(c->f[i], &s));
		json_object_object_add(hub, "hopwatch", json_hop_extra(c, h));
		json_object_array_add(hubs, hub);
	}
	json_object_object_add(rep, "hubs", hubs);
	json_object_object_add(hw, "start", json_object_new_int64((int64_t)c->m->start));
	json_object_object_add(hw, "protocol",
			       json_object_new_string(c->m->protocol ? c->m->protocol : "icmp"));
	if (c->m->diagnosis) {
		json_object_object_add(hw, "diagnosis", diagnose_json(c->m->diagnosis));
		json_object_object_add(hw, "diagnosis_conclusion",
				       diagnose_json_conclusion(c->m->diagnosis));
		if (c->m->diagnosis->confirm.ran)
			json_object_object_add(hw, "confirmation",
					       diagnose_json_confirmation(c->m->diagnosis));
	}
	if (c->m->flows)
		json_object_object_add(hw, "flows", json_flows(c));
	json_object_object_add(rep, "hopwatch", hw);
	json_object_object_add(root, "report", rep);
	json_write(c->out, root, 0);
	fputc('\n', c->out);
	json_object_put(root);
	return 0;
}

/* ---- -C ---- */

/* RFC 4180 quoting when a field needs it; mtr never quotes, and never needs to. */
static void csv_str(FILE *out, const char *s)
{
	if (!strpbrk(s, ",\"")) {
		fputs(s, out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', out);
		fputc(*s, out);
	}
	fputc('"', out);
}

static int render_csv(struct ctx *c)
{
	char name[REPORT_ESC_MAX], target[REPORT_ESC_MAX], as[ASN_FORMAT_MAX];
	/* mtr 0.95 has the Asn column for -z (field 0) only. */
	int as_csv = as_shown(c) && c->m->ipinfo == 0;
	size_t i;
	int ttl;

	escaped(c->m->target, target, sizeof(target));
	for (ttl = 1; ttl <= c->last_hop; ttl++) {
		const struct stats_hop *h = stats_table_hop(c->t, ttl);
		struct stats_summary s;

		if (ttl == 1) {
			fputs("Mtr_Version,Start_Time,Status,Host,Hop,Ip,", c->out);
			if (as_csv)
				fputs("Asn,", c->out);
			for (i = 0; i < c->nf; i++)
				fprintf(c->out, "%s,", c->f[i]->title);
			fputc('\n', c->out);
		}
		stats_hop_summarize(h, &s);
		addr_name(c, hop_addr(h), name, sizeof(name));
		fprintf(c->out, "MTR.%s,%lld,OK,", REPORT_MTR_VERSION, (long long)c->m->start);
		csv_str(c->out, target);
		fprintf(c->out, ",%d,", ttl);
		csv_str(c->out, name);
		if (as_csv) {
			as_value(c, hop_addr(h), as, sizeof(as));
			fputc(',', c->out);
			csv_str(c->out, as);
		}
		for (i = 0; i < c->nf; i++) {
			if (is_float(c->f[i]))
				fprintf(c->out, ",%.2f", fvalue(c->f[i], &s));
			else
				fprintf(c->out, ",%d", (int)fvalue(c->f[i], &s));
		}
		fputc('\n', c->out);
	}
	return 0;
}

/* ---- -x ---- */

static void xml_str(FILE *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", out);
			break;
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		case '\'':
			fputs("&apos;", out);
			break;
		default:
			fputc(*s, out);
		}
	}
}

static int render_xml(struct ctx *c)
{
	char name[REPORT_ESC_MAX];
	size_t i;
	int ttl;

	fputs("<?xml version=\"1.0\"?>\n<MTR SRC=\"", c->out);
	escaped(c->m->local_host, name, sizeof(name));
	xml_str(c->out, name);
	fputs("\" DST=\"", c->out);
	escaped(c->m->target, name, sizeof(name));
	xml_str(c->out, name);
	fprintf(c->out, "\" TOS=\"0x%X\"", (unsigned int)c->m->tos);
	if (c->m->psize >= 0)
		fprintf(c->out, " PSIZE=\"%d\"", c->m->psize);
	else
		fprintf(c->out, " PSIZE=\"rand(%d-%d)\"", REPORT_MINPACKET, -c->m->psize);
	if (c->m->bitpattern >= 0)
		fprintf(c->out, " BITPATTERN=\"0x%02X\"", (unsigned char)c->m->bitpattern);
	else
		fputs(" BITPATTERN=\"rand(0x00-FF)\"", c->out);
	fprintf(c->out, " TESTS=\"%d\">\n", c->m->count);
	for (ttl = 1; ttl <= c->last_hop; ttl++) {
		const struct stats_hop *h = stats_table_hop(c->t, ttl);
		struct stats_summary s;

		stats_hop_summarize(h, &s);
		addr_name(c, hop_addr(h), name, sizeof(name));
		fprintf(c->out, "    <HUB COUNT=\"%d\" HOST=\"", ttl);
		xml_str(c->out, name);
		fputs("\">\n", c->out);
		for (i = 0; i < c->nf; i++)
			if (c->f[i]->key != ' ')
				xml_field(c->out, c->f[i], &s);
		fputs("    </HUB>\n", c->out);
	}
	fputs("</MTR>\n", c->out);
	return 0;
}

/* ---- -p ---- */

/* The last line -p streams for each hop, as client/split.c formats it (one format). */
static int render_split(struct ctx *c)
{
	char line[SPLIT_LINE_MAX];
	int ttl;

	for (ttl = 1; ttl <= c->last_hop; ttl++) {
		split_line(c->t, ttl, c->m, line, sizeof(line));
		fprintf(c->out, "%d %s\n", ttl, line);
	}
	return 0;
}

/* ---- --text / --html (WinMTR's export) ---- */

/*
 * WinMTR 0.92's export (WinMTRDialog::OnEXPT/OnEXPH): integer loss and milliseconds, the
 * row number implied by the order, "No response from host" for a silent hop. Unix line
 * ends instead of WinMTR's CRLF, and hopwatch's name in the signature line.
 */
static void winmtr_row(const struct ctx *c, int ttl, char *name, size_t len,
		       struct stats_summary *s)
{
	const struct stats_hop *h = stats_table_hop(c->t, ttl);

	stats_hop_summarize(h, s);
	if (hop_addr(h))
		addr_name(c, hop_addr(h), name, len);
	else
		snprintf(name, len, "%s", REPORT_WINMTR_NO_RESPONSE);
}

static int render_winmtr_text(struct ctx *c)
{
	char name[REPORT_ESC_MAX];
	int ttl;

	fputs("|-----------------------------------------------------------------------------------"
	      "-------|\n"
	      "|                                      WinMTR statistics                            "
	      "       |\n"
	      "|                       Host              -   %  | Sent | Recv | Best | Avrg | Wrst "
	      "| Last |\n"
	      "|------------------------------------------------|------|------|------|------|------"
	      "|------|\n",
	      c->out);
	for (ttl = 1; ttl <= c->last_hop; ttl++) {
		struct stats_summary s;

		winmtr_row(c, ttl, name, sizeof(name), &s);
		fprintf(c->out, "|%40s - %4d | %4u | %4u | %4d | %4d | %4d | %4d |\n", name,
			(int)s.loss_pct, s.sent, s.received, (int)s.best, (int)s.avg, (int)s.worst,
			(int)s.last);
	}
	fputs("|________________________________________________|______|______|______|______|______"
	      "|______|\n"
	      "   " REPORT_WINMTR_SIGNATURE "\n",
	      c->out);
	return 0;
}

static int render_winmtr_html(struct ctx *c)
{
	char name[REPORT_ESC_MAX];
	int ttl;

	fputs("<html><head><title>WinMTR Statistics</title></head><body bgcolor=\"white\">\n"
	      "<center><h2>WinMTR statistics</h2></center>\n"
	      "<p align=\"center\"> <table border=\"1\" align=\"center\">\n"
	      "<tr><td>Host</td> <td>%</td> <td>Sent</td> <td>Recv</td> <td>Best</td> "
	      "<td>Avrg</td> <td>Wrst</td> <td>Last</td></tr>\n",
	      c->out);
	for (ttl = 1; ttl <= c->last_hop; ttl++) {
		struct stats_summary s;

		winmtr_row(c, ttl, name, sizeof(name), &s);
		fputs("<tr><td>", c->out);
		xml_str(c->out, name);
		fprintf(c->out,
			"</td> <td>%4d</td> <td>%4u</td> <td>%4u</td> <td>%4d</td> <td>%4d</td> "
			"<td>%4d</td> <td>%4d</td></tr>\n",
			(int)s.loss_pct, s.sent, s.received, (int)s.best, (int)s.avg, (int)s.worst,
			(int)s.last);
	}
	fputs("</table></body></html>\n", c->out);
	return 0;
}

/* ---- public ---- */

int report_check_fields(const char *f)
{
	size_t n = 0;

	if (!f)
		return -EINVAL;
	for (; *f; f++, n++)
		if (!field_of(*f) || n >= REPORT_FIELDS_MAX)
			return -EINVAL;
	return 0;
}

int report_render(enum report_format fmt, const struct stats_table *t,
		  const struct report_meta *meta, FILE *out)
{
	struct ctx c = {.t = t, .m = meta, .out = out};
	const char *f;
	int rc = -EINVAL;

	if (!t || !meta || !out)
		return -EINVAL;
	f = meta->fields ? meta->fields : REPORT_DEFAULT_FIELDS;
	if (report_check_fields(f))
		return -EINVAL;
	for (; *f; f++)
		c.f[c.nf++] = field_of(*f);
	c.last_hop = stats_last_hop(t);
	/* stats_last_hop stays within the TTLs sent; the bound makes that plain here */
	if (c.last_hop > t->nhops)
		c.last_hop = t->nhops;

	switch (fmt) {
	case REPORT_FORMAT_REPORT:
		rc = render_report(&c, 0);
		break;
	case REPORT_FORMAT_WIDE:
		rc = render_report(&c, 1);
		break;
	case REPORT_FORMAT_JSON:
		rc = render_json(&c);
		break;
	case REPORT_FORMAT_CSV:
		rc = render_csv(&c);
		break;
	case REPORT_FORMAT_XML:
		rc = render_xml(&c);
		break;
	case REPORT_FORMAT_RAW:
		rc = 0; /* written live through report_raw_* */
		break;
	case REPORT_FORMAT_SPLIT:
		rc = render_split(&c);
		break;
	case REPORT_FORMAT_HTML:
		rc = render_winmtr_html(&c);
		break;
	case REPORT_FORMAT_TEXT:
		rc = render_winmtr_text(&c);
		break;
	case REPORT_FORMAT__COUNT:
		break;
	}
	if (!rc && ferror(out))
		rc = -EIO;
	return rc;
}

int report_raw_xmit(FILE *out, int ttl, unsigned int seq)
{
	return fprintf(out, "x %d %u\n", ttl - 1, seq) < 0 ? -EIO : 0;
}

int report_raw_host(FILE *out, int ttl, const struct addr *addr)
{
	char a[REPORT_ADDR_MAX];

	return fprintf(out, "h %d %s\n", ttl - 1, addr_str(addr, a, sizeof(a))) < 0 ? -EIO : 0;
}

int report_raw_ping(FILE *out, int ttl, int64_t rtt_us, unsigned int seq)
{
	return fprintf(out, "p %d %lld %u\n", ttl - 1, (long long)(rtt_us < 0 ? 0 : rtt_us), seq) <
			       0
		       ? -EIO
		       : 0;
}

int report_raw_dns(FILE *out, int ttl, const char *name)
{
	char esc[REPORT_ESC_MAX];

	escaped(name, esc, sizeof(esc));
	return fprintf(out, "d %d %s\n", ttl - 1, esc) < 0 ? -EIO : 0;
}
