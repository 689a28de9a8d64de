/*
 * tui_pane: the findings pane's text. Everything comes from the diagnosis' struct (kind,
 * severity, hops, region, AS, the evidence numbers), not from the report's paragraphs,
 * so the pane says in one line what diagnose_print says in several. Names that came
 * from outside (AS names) are escaped as the table's names are.
 */
#include "client/tui_pane.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "client/report.h"
#include "common/addr.h"

/* Hops listed in a finding's line; more end in "...". */
#define PANE_HOPS_SHOWN 6
#define PANE_LIST_MAX	64
#define PANE_NAME_MAX	(DIAGNOSE_AS_NAME_MAX * 4 + 1) /* escaped: \xNN per byte */
#define PANE_PCT	100.0
/* An AS name is cut to this on a pane line (the report has it whole). */
#define PANE_AS_NAME_SHOWN 40

__attribute__((format(printf, 5, 6))) static void put(struct tui_pane_line *out, size_t *n,
						      size_t width, enum tui_pane_style style,
						      const char *fmt, ...)
{
	struct tui_pane_line *l = &out[(*n)++];
	va_list ap;

	l->style = style;
	va_start(ap, fmt);
	vsnprintf(l->text, width + 1, fmt, ap);
	va_end(ap);
}

int tui_pane_rounds_needed(const struct stats_table *t)
{
	int n, ttl, need = 0, any = 0;

	if (!t)
		return DIAGNOSE_MIN_PROBES;
	/* The hops diagnose_run() reads: the shown ones, hop 1 when nothing answered. */
	n = stats_last_hop(t);
	if (!n && t->max_ttl_seen)
		n = 1;
	for (ttl = 1; ttl <= n; ttl++) {
		const struct stats_hop *h = stats_table_hop(t, ttl);
		uint32_t done;

		if (!h || !h->acc.sent)
			continue; /* below the first TTL: never probed, never judged */
		any = 1;
		done = h->acc.sent - h->acc.inflight;
		if (done < DIAGNOSE_MIN_PROBES && DIAGNOSE_MIN_PROBES - (int)done > need)
			need = DIAGNOSE_MIN_PROBES - (int)done;
	}
	return any ? need : DIAGNOSE_MIN_PROBES;
}

static const struct diagnose_hop *hop_of(const struct diagnose_finding *f, int ttl)
{
	size_t i;

	for (i = 0; i < f->nhops; i++)
		if (f->hops[i].ttl == ttl)
			return &f->hops[i];
	return NULL;
}

/* "hop 3", "hops 3,4,5", "whole path". */
static void hops_text(const struct diagnose_finding *f, char *buf, size_t len)
{
	size_t i, used;

	if (!f->hop) {
		snprintf(buf, len, "whole path");
		return;
	}
	if (f->nhops <= 1) {
		snprintf(buf, len, "hop %d", f->hop);
		return;
	}
	used = (size_t)snprintf(buf, len, "hops ");
	for (i = 0; i < f->nhops && i < PANE_HOPS_SHOWN && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%d", i ? "," : "",
					 f->hops[i].ttl);
	if ((f->nhops > PANE_HOPS_SHOWN || f->truncated) && used < len)
		snprintf(buf + used, len - used, ",...");
}

/* "2,3" of the later clean hops (rate limiting's proof). */
static const char *clean_text(const struct diagnose_finding *f, char *buf, size_t len)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < f->nclean && i < PANE_HOPS_SHOWN && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%d", i ? "," : "", f->clean[i]);
	if (f->nclean > PANE_HOPS_SHOWN && used < len)
		snprintf(buf + used, len - used, ",...");
	return f->nclean ? buf : "none judged";
}

/* " 198.51.100.3 AS64500 NAME" of hop N, or "". */
static void where_text(const struct diagnose_finding *f, char *buf, size_t len)
{
	const struct diagnose_hop *h = hop_of(f, f->hop);
	char addr[ADDR_STR_MAX], name[PANE_NAME_MAX];
	size_t used = 0;

	buf[0] = '\0';
	if (h && h->addr.family)
		used = (size_t)snprintf(buf, len, " %s", addr_str(&h->addr, addr, sizeof(addr)));
	if (f->as.asn && used < len) {
		report_escape(f->as.name, name, sizeof(name));
		snprintf(buf + used, len - used, " AS%u%s%.*s", f->as.asn, name[0] ? " " : "",
			 PANE_AS_NAME_SHOWN, name);
	}
}

static void finding_title(const struct diagnose_finding *f, size_t width, struct tui_pane_line *out,
			  size_t *n)
{
	char hops[PANE_LIST_MAX], where[TUI_PANE_COLS_MAX], region[PANE_LIST_MAX] = "";
	char sure[PANE_LIST_MAX] = "";

	hops_text(f, hops, sizeof(hops));
	where_text(f, where, sizeof(where));
	if (f->region != DIAGNOSE_REGION_NONE)
		snprintf(region, sizeof(region), "  region %s", diagnose_region_id(f->region));
	if (f->confidence > 0)
		snprintf(sure, sizeof(sure), "  %.0f%% sure", f->confidence * PANE_PCT);
	put(out, n, width, f->severity == DIAGNOSE_PROBLEM ? TUI_PANE_STRONG : TUI_PANE_PLAIN,
	    "[%s] %s  %s%s%s%s%s", diagnose_severity_id(f->severity), diagnose_kind_title(f->kind),
	    hops, where, region, sure, f->confirmed ? "  confirmed" : "");
}

/* The finding in one short line, from its evidence. */
static void finding_why(const struct diagnose_finding *f, size_t width, struct tui_pane_line *out,
			size_t *n)
{
	const struct diagnose_hop *h = hop_of(f, f->hop);
	char clean[PANE_LIST_MAX];
	double loss = h ? h->loss_pct : 0;

	switch (f->kind) {
	case DIAGNOSE_CLEAN:
		put(out, n, width, TUI_PANE_PLAIN, "    no loss, no latency rise, spike or spread");
		break;
	case DIAGNOSE_INSUFFICIENT:
		put(out, n, width, TUI_PANE_PLAIN, "    fewer than %d probes finished per hop",
		    DIAGNOSE_MIN_PROBES);
		break;
	case DIAGNOSE_RATE_LIMIT:
		put(out, n, width, TUI_PANE_PLAIN,
		    "    %.1f%% lost here but later hops (%s) clean: ICMP throttling, no action",
		    loss, clean_text(f, clean, sizeof(clean)));
		break;
	case DIAGNOSE_REAL_LOSS:
		put(out, n, width, TUI_PANE_PLAIN,
		    "    loss starts at hop %d and every later hop carries it: %.1f%% at the end",
		    f->hop, f->ref_loss_pct);
		break;
	case DIAGNOSE_MIXED_LOSS:
		put(out, n, width, TUI_PANE_PLAIN,
		    "    real loss from hop %d (%.1f%% at the end), throttling on top at some hops",
		    f->hop, f->ref_loss_pct);
		break;
	case DIAGNOSE_HIGH_STDEV:
		put(out, n, width, TUI_PANE_PLAIN,
		    "    StDev %.1f ms at Avg %.1f ms: Best %.1f and Wrst %.1f give the range",
		    h ? h->stdev : 0, h ? h->avg : 0, h ? h->best : 0, h ? h->worst : 0);
		break;
	case DIAGNOSE_LATENCY_STEP:
		put(out, n, width, TUI_PANE_PLAIN,
		    "    latency %.1f ms -> %.1f ms (median) at hop %d and stays up after it",
		    f->baseline_ms, f->level_ms, f->hop);
		break;
	case DIAGNOSE_HOP_SPIKE:
		put(out, n, width, TUI_PANE_PLAIN,
		    "    %.1f ms -> %.1f ms at hop %d only, later hops normal: slow answers, no "
		    "action",
		    f->baseline_ms, f->level_ms, f->hop);
		break;
	case DIAGNOSE_BRIEF_SPIKE:
		put(out, n, width, TUI_PANE_PLAIN,
		    "    Wrst %.1f ms from a few probes, median %.1f ms: a brief fluctuation",
		    h ? h->worst : 0, h ? h->p50 : 0);
		break;
	case DIAGNOSE_DEST_DROPS_ICMP:
		put(out, n, width, TUI_PANE_PLAIN,
		    "    the final hop never answers ICMP: its firewall drops it (try -T or -u)");
		break;
	case DIAGNOSE_DEST_LOSS:
		put(out, n, width, TUI_PANE_PLAIN,
		    "    %.1f%% loss at the last hops only: the destination limits ICMP answers",
		    f->ref_loss_pct);
		break;
	case DIAGNOSE_ROUTING_LOOP:
		put(out, n, width, TUI_PANE_PLAIN,
		    "    the same responders repeat every %d hops from hop %d: a routing loop",
		    f->period, f->hop);
		break;
	case DIAGNOSE_PATH_INTERRUPTION:
		if (!f->hop)
			put(out, n, width, TUI_PANE_PLAIN,
			    "    no hop answers at all: check the local network first");
		else
			put(out, n, width, TUI_PANE_PLAIN, "    nothing answers past hop %d%s",
			    f->hop, f->no_route ? ", which reports no route" : "");
		break;
	case DIAGNOSE_KIND__COUNT:
		put(out, n, width, TUI_PANE_PLAIN, "    ");
		break;
	}
}

static const char *contact_short(const struct diagnose_finding *f, char *buf, size_t len)
{
	char name[PANE_NAME_MAX];

	switch (f->contact) {
	case DIAGNOSE_CONTACT_LOCAL_ADMIN:
		return "your network admin or local carrier";
	case DIAGNOSE_CONTACT_CARRIER:
		if (!f->as.asn)
			return "the carrier operating that hop";
		report_escape(f->as.name, name, sizeof(name));
		snprintf(buf, len, "the carrier AS%u%s%.*s", f->as.asn, name[0] ? " " : "",
			 PANE_AS_NAME_SHOWN, name);
		return buf;
	case DIAGNOSE_CONTACT_DEST:
		return "the destination's provider";
	case DIAGNOSE_CONTACT_NONE:
		break;
	}
	return "nobody";
}

static void conclusion(const struct diagnose_result *r, size_t width, struct tui_pane_line *out,
		       size_t *n)
{
	const struct diagnose_finding *p = NULL;
	char where[TUI_PANE_COLS_MAX], who[TUI_PANE_COLS_MAX];
	size_t i;

	switch (r->conclusion) {
	case DIAGNOSE_CONCLUDE_CLEAN:
		put(out, n, width, TUI_PANE_PLAIN,
		    "Conclusion: no problem found on this path (Avg %.1f to %.1f ms)", r->avg_min,
		    r->avg_max);
		return;
	case DIAGNOSE_CONCLUDE_NO_EXCEPTION:
		put(out, n, width, TUI_PANE_PLAIN,
		    "Conclusion: no real network exception (ICMP throttling or single-hop "
		    "effects)");
		return;
	case DIAGNOSE_CONCLUDE_CHECK:
		put(out, n, width, TUI_PANE_PLAIN,
		    "Conclusion: warnings only: confirm them (reverse path) before contacting "
		    "anyone");
		return;
	case DIAGNOSE_CONCLUDE_INSUFFICIENT:
		put(out, n, width, TUI_PANE_PLAIN, "Conclusion: not enough probes for a diagnosis");
		return;
	case DIAGNOSE_CONCLUDE_DEST_DROPS_ICMP:
		put(out, n, width, TUI_PANE_PLAIN,
		    "Conclusion: the destination drops ICMP; another protocol reached it: the path "
		    "works");
		return;
	case DIAGNOSE_CONCLUDE_PROBLEM:
		break;
	}
	for (i = 0; i < r->nfindings && !p; i++)
		if (r->findings[i].severity == DIAGNOSE_PROBLEM)
			p = &r->findings[i];
	if (!p) {
		put(out, n, width, TUI_PANE_STRONG, "Conclusion: a real network exception");
		return;
	}
	where_text(p, where, sizeof(where));
	put(out, n, width, TUI_PANE_STRONG,
	    "Conclusion: a real network exception: %s at hop %d%s; contact %s%s",
	    diagnose_kind_title(p->kind), p->hop, where, contact_short(p, who, sizeof(who)),
	    p->reverse_path ? " after a reverse-path test" : "");
}

/* Which findings get a line when only k fit: the most severe, ties by hop. */
static void pick(const struct diagnose_result *r, size_t k, int *shown)
{
	static const enum diagnose_severity order[] = {DIAGNOSE_PROBLEM, DIAGNOSE_WARNING,
						       DIAGNOSE_INFO};
	size_t i, s, taken = 0;

	for (i = 0; i < r->nfindings; i++)
		shown[i] = 0;
	for (s = 0; s < sizeof(order) / sizeof(order[0]); s++)
		for (i = 0; i < r->nfindings && taken < k; i++)
			if (!shown[i] && r->findings[i].severity == order[s]) {
				shown[i] = 1;
				taken++;
			}
}

size_t tui_pane_lines(const struct tui_pane_input *in, size_t rows, size_t width,
		      struct tui_pane_line *out)
{
	const struct diagnose_result *r = in ? in->diag : NULL;
	int shown[DIAGNOSE_MAX_FINDINGS];
	size_t n = 0, i, avail, nf, k, hidden;
	int two;

	if (!in || !rows || !width)
		return 0;
	if (rows > TUI_PANE_ROWS_MAX)
		rows = TUI_PANE_ROWS_MAX;
	if (width > TUI_PANE_COLS_MAX)
		width = TUI_PANE_COLS_MAX;
	if (in->need > 0) {
		put(out, &n, width, TUI_PANE_HEADER,
		    "Findings (a hides): too few probes yet, %d more round%s needed (%d per hop)",
		    in->need, in->need == 1 ? "" : "s", DIAGNOSE_MIN_PROBES);
		return n;
	}
	if (!r) {
		put(out, &n, width, TUI_PANE_HEADER, "Findings (a hides): no diagnosis: %s",
		    strerror(in->err < 0 ? -in->err : in->err));
		return n;
	}
	nf = r->nfindings;
	put(out, &n, width, TUI_PANE_HEADER,
	    "Findings (a hides): %zu after %d round%s, conclusion %s", nf + r->dropped, in->rounds,
	    in->rounds == 1 ? "" : "s", diagnose_conclusion_id(r->conclusion));
	if (rows == 1)
		return n;
	/* Between the header and the conclusion: two lines a finding, else one, else fewer. */
	avail = rows - 2;
	two = avail >= 2 * nf + (r->dropped ? 1 : 0);
	k = avail >= nf + (r->dropped ? 1 : 0) ? nf : avail ? avail - 1 : 0;
	pick(r, k, shown);
	for (i = 0; i < nf; i++) {
		if (!shown[i])
			continue;
		finding_title(&r->findings[i], width, out, &n);
		if (two)
			finding_why(&r->findings[i], width, out, &n);
	}
	hidden = nf - k + r->dropped;
	if (hidden && n < rows - 1)
		put(out, &n, width, TUI_PANE_PLAIN,
		    "(+%zu more finding%s: a taller terminal shows %s)", hidden,
		    hidden == 1 ? "" : "s", hidden == 1 ? "it" : "them");
	conclusion(r, width, out, &n);
	return n;
}
