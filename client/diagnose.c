/*
 * diagnose: the seed document's way of reading an mtr table, as code. Loss is judged by
 * what the later hops show (throttling when they are clean, real loss when it carries on
 * to the end), latency by each hop's own median and spread, and every hop gets a region
 * (A local, B carrier, C destination) that says whom to contact.
 */
#include "client/diagnose.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <string.h>
#include <sys/socket.h>

#define DIAG_US_PER_MS 1000.0
/*
 * Loss below this is not a finding: one probe in fifty. Over long runs a router drops
 * the odd probe for reasons nobody can act on.
 */
#define DIAG_LOSS_MIN_PCT 2.0
/*
 * Mixed loss: a hop inside a lossy run shows extra loss over the reference (the last
 * hop's rate) only when the difference is both large (at least this many points) and
 * unlikely from binomial noise between two hops with the same real rate
 * (DIAG_LOSS_Z standard errors, one-sided: about 1 in 160).
 */
#define DIAG_LOSS_EXCESS_MIN_PCT 10.0
#define DIAG_LOSS_Z		 2.5
/* Answers needed before a hop's median and spread mean anything. */
#define DIAG_MIN_ANSWERS 5
/*
 * High StDev is relative to the hop's own latency (the seed: 25 ms is high on a 30 ms
 * Avg, 0.83, and low on 325 ms, 0.08): StDev of at least 0.3 x Avg means many probes are
 * off the Avg by a third of it, so the Avg misleads and Best/Wrst must be read. Below
 * DIAG_STDEV_MIN_MS the spread is what the probing host's own scheduling and a busy
 * router's control plane add (1.0-1.5 ms StDev measured on 1 ms hops of a quiet simulated
 * path, tests/netsim): it says nothing about the path and changes nothing for traffic.
 */
#define DIAG_STDEV_REL	  0.3
#define DIAG_STDEV_MIN_MS 3.0
/*
 * A brief spike: a few answers (at most DIAG_BRIEF_MAX_PCT of them) far above the hop's
 * median (by DIAG_SPIKE_MIN_MS and by DIAG_SPIKE_REL x the median), the rest normal:
 * a high Wrst from one or two rounds with a normal Avg.
 */
#define DIAG_BRIEF_MAX_PCT 20.0
#define DIAG_SPIKE_MIN_MS  10.0
#define DIAG_SPIKE_REL	   1.0
/*
 * A latency rise at a hop matters when it is sharp: at least DIAG_STEP_MIN_MS and at
 * least DIAG_STEP_REL x the latency before it. Smaller rises are what one more link of a
 * regional path adds: the seed's sample path grows from 1.8 to 17.6 ms and is healthy.
 * The rise "stays" while later hops keep at least DIAG_STEP_KEEP of it.
 */
#define DIAG_STEP_MIN_MS 10.0
#define DIAG_STEP_REL	 0.5
#define DIAG_STEP_KEEP	 0.5
/*
 * A rise that falls back at the next hop needs less to stand out: nothing on the path
 * explains it but the hop's own slow answers (the seed's hop 9: a few ms over its
 * neighbours on a 10-20 ms path), so half the step threshold is enough.
 */
#define DIAG_HOP_SPIKE_MIN_MS 5.0
/*
 * Region C by address: hops sharing the destination's /24 (IPv4) or /48 (IPv6), the
 * smallest blocks commonly routed on the Internet, so a shared one is the destination's
 * own network. Without any, the destination and the hop before it (its provider's edge).
 */
#define DIAG_PREFIX_V4	    24
#define DIAG_PREFIX_V6	    48
#define DIAG_DEST_EDGE_HOPS 1
/* A routing loop: a cycle of at most this many hops, seen at least twice in full. */
#define DIAG_LOOP_MAX_PERIOD 16
/* A cycle of one hop (a router answering for many TTLs) must repeat this often. */
#define DIAG_LOOP_MIN_SINGLE 3
/* Text: longest hop list "2, 3, 4" and address text. */
#define DIAG_LIST_MAX 160
#define DIAG_ADDR_MAX 64
#define DIAG_NUM_MAX  32

struct hv {
	struct diagnose_hop d;
	const struct stats_hop *h;
	int judged; /* enough probes finished */
	int lossy;
	int timed; /* enough answers for latency */
	int private_addr;
	int brief, high_stdev; /* latency marks */
};

struct view {
	const struct stats_table *t;
	const struct addr *target;
	int n; /* hops 1..n */
	int dest_reached;
	int end; /* last hop analysed for loss and latency */
	struct hv hop[STATS_MAX_HOPS + 1];
};

static const char *const kind_ids[DIAGNOSE_KIND__COUNT] = {
	[DIAGNOSE_CLEAN] = "clean",
	[DIAGNOSE_INSUFFICIENT] = "insufficient_data",
	[DIAGNOSE_RATE_LIMIT] = "icmp_rate_limit",
	[DIAGNOSE_REAL_LOSS] = "real_loss",
	[DIAGNOSE_MIXED_LOSS] = "mixed_loss",
	[DIAGNOSE_HIGH_STDEV] = "high_stdev",
	[DIAGNOSE_LATENCY_STEP] = "latency_step",
	[DIAGNOSE_HOP_SPIKE] = "hop_spike",
	[DIAGNOSE_BRIEF_SPIKE] = "brief_spike",
	[DIAGNOSE_DEST_DROPS_ICMP] = "dest_drops_icmp",
	[DIAGNOSE_DEST_LOSS] = "dest_loss",
	[DIAGNOSE_ROUTING_LOOP] = "routing_loop",
	[DIAGNOSE_PATH_INTERRUPTION] = "path_interruption",
};

static const char *const kind_titles[DIAGNOSE_KIND__COUNT] = {
	[DIAGNOSE_CLEAN] = "No problem found",
	[DIAGNOSE_INSUFFICIENT] = "Too few probes to judge",
	[DIAGNOSE_RATE_LIMIT] = "ICMP rate limiting",
	[DIAGNOSE_REAL_LOSS] = "Real packet loss",
	[DIAGNOSE_MIXED_LOSS] = "Real packet loss plus ICMP rate limiting",
	[DIAGNOSE_HIGH_STDEV] = "High StDev for the hop's own latency",
	[DIAGNOSE_LATENCY_STEP] = "Latency steps up and stays",
	[DIAGNOSE_HOP_SPIKE] = "Latency spike confined to the hop",
	[DIAGNOSE_BRIEF_SPIKE] = "Brief latency spike",
	[DIAGNOSE_DEST_DROPS_ICMP] = "Destination drops ICMP",
	[DIAGNOSE_DEST_LOSS] = "Loss only at the last hops",
	[DIAGNOSE_ROUTING_LOOP] = "Routing loop",
	[DIAGNOSE_PATH_INTERRUPTION] = "Path interruption",
};

/* ---- helpers over the table ---- */

static double ms(int64_t us)
{
	return (double)us / DIAG_US_PER_MS;
}

/* Private, shared, loopback and link-local space: what lies before the first public hop. */
static int addr_private(const struct addr *a)
{
	if (a->family == AF_INET) {
		const uint8_t *b = (const uint8_t *)&a->u.v4.s_addr;

		return b[0] == 10 || b[0] == 127 || (b[0] == 172 && (b[1] & 0xf0) == 16) ||
		       (b[0] == 192 && b[1] == 168) || (b[0] == 169 && b[1] == 254) ||
		       (b[0] == 100 && (b[1] & 0xc0) == 64);
	}
	if (a->family == AF_INET6) {
		const uint8_t *b = a->u.v6.s6_addr;
		static const uint8_t loop6[16] = {[15] = 1};

		return (b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) ||
		       !memcmp(b, loop6, sizeof(loop6));
	}
	return 0;
}

static int same_prefix(const struct addr *a, const struct addr *b)
{
	const uint8_t *pa, *pb;
	int bits, i;

	if (!a->family || a->family != b->family)
		return 0;
	if (a->family == AF_INET) {
		pa = (const uint8_t *)&a->u.v4.s_addr;
		pb = (const uint8_t *)&b->u.v4.s_addr;
		bits = DIAG_PREFIX_V4;
	} else {
		pa = a->u.v6.s6_addr;
		pb = b->u.v6.s6_addr;
		bits = DIAG_PREFIX_V6;
	}
	for (i = 0; i < bits / 8; i++)
		if (pa[i] != pb[i])
			return 0;
	return 1;
}

/* Two hops "are the same" in a loop when any responder answered at both. */
static int hops_meet(const struct stats_hop *a, const struct stats_hop *b)
{
	size_t i, j;

	if (!a->acc.received || !b->acc.received)
		return 0;
	if (addr_equal(&a->last_addr, &b->last_addr))
		return 1;
	for (i = 0; i < a->nresponders; i++)
		for (j = 0; j < b->nresponders; j++)
			if (addr_equal(&a->responders[i].addr, &b->responders[j].addr))
				return 1;
	return 0;
}

/*
 * Answers far above the hop's median, among its latest ones (the stats ring); *n gets
 * how many answers were looked at.
 */
static uint32_t outliers(const struct stats_hop *h, double p50_ms, uint32_t *n)
{
	double thr = p50_ms + fmax(DIAG_SPIKE_MIN_MS, DIAG_SPIKE_REL * p50_ms);
	int64_t rtts[STATS_WINDOW_MAX];
	uint32_t i, count = 0;

	*n = (uint32_t)stats_hop_rtts(h, rtts, STATS_WINDOW_MAX);
	for (i = 0; i < *n; i++)
		if (ms(rtts[i]) > thr)
			count++;
	return count;
}

static enum diagnose_contact contact_of(enum diagnose_region r)
{
	switch (r) {
	case DIAGNOSE_REGION_A:
		return DIAGNOSE_CONTACT_LOCAL_ADMIN;
	case DIAGNOSE_REGION_B:
		return DIAGNOSE_CONTACT_CARRIER;
	case DIAGNOSE_REGION_C:
		return DIAGNOSE_CONTACT_DEST;
	case DIAGNOSE_REGION_NONE:
		break;
	}
	return DIAGNOSE_CONTACT_NONE;
}

static void build_view(struct view *v)
{
	int i, first_pub = 0, share = 0;

	for (i = 1; i <= v->n; i++) {
		struct hv *x = &v->hop[i];
		struct stats_summary s;

		x->h = stats_table_hop(v->t, i);
		stats_hop_summarize(x->h, &s);
		x->d.ttl = i;
		if (x->h->acc.received)
			x->d.addr = x->h->last_addr;
		x->d.done = x->h->acc.sent - x->h->acc.inflight;
		x->d.received = s.received;
		x->d.loss_pct = s.loss_pct;
		x->d.avg = s.avg;
		x->d.best = s.best;
		x->d.worst = s.worst;
		x->d.stdev = s.stdev;
		x->d.p50 = s.p50;
		x->judged = x->d.done >= DIAGNOSE_MIN_PROBES;
		x->lossy = x->judged && x->d.loss_pct >= DIAG_LOSS_MIN_PCT;
		x->timed = x->judged && x->d.received >= DIAG_MIN_ANSWERS;
		x->private_addr = addr_private(&x->d.addr);
		if (!first_pub && x->d.addr.family && !x->private_addr)
			first_pub = i;
		/* The destination itself shares its prefix by definition: not evidence. */
		if (v->target && same_prefix(&x->d.addr, v->target) &&
		    !addr_equal(&x->d.addr, v->target))
			share = 1;
	}
	for (i = 1; i <= v->n; i++) {
		struct hv *x = &v->hop[i];
		int is_a, is_c;

		/* A: before the first public hop; a public first hop is the local carrier. */
		is_a = first_pub ? (i < first_pub || i == 1)
				 : (x->private_addr || !x->d.addr.family);
		is_c = (v->dest_reached && i == v->n) ||
		       (v->target && same_prefix(&x->d.addr, v->target));
		if (!is_c && !share && !is_a && v->dest_reached && i >= v->n - DIAG_DEST_EDGE_HOPS)
			is_c = 1;
		x->d.region = is_c   ? DIAGNOSE_REGION_C
			      : is_a ? DIAGNOSE_REGION_A
				     : DIAGNOSE_REGION_B;
	}
}

/* ---- findings ---- */

static struct diagnose_finding *add(struct diagnose_result *r, const struct view *v,
				    enum diagnose_kind kind, enum diagnose_severity sev, int hop)
{
	struct diagnose_finding *f;

	if (r->nfindings >= DIAGNOSE_MAX_FINDINGS) {
		r->dropped++;
		return NULL;
	}
	f = &r->findings[r->nfindings++];
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->severity = sev;
	f->hop = hop;
	if (hop >= 1 && hop <= v->n)
		f->region = v->hop[hop].d.region;
	f->contact = sev == DIAGNOSE_INFO ? DIAGNOSE_CONTACT_NONE : contact_of(f->region);
	return f;
}

static void add_hop(struct diagnose_finding *f, const struct view *v, int ttl)
{
	if (!f || ttl < 1 || ttl > v->n)
		return;
	if (f->nhops >= DIAGNOSE_MAX_HOPS) {
		f->truncated = 1;
		return;
	}
	f->hops[f->nhops++] = v->hop[ttl].d;
}

static void add_clean(struct diagnose_finding *f, int ttl)
{
	if (f && f->nclean < DIAGNOSE_MAX_HOPS)
		f->clean[f->nclean++] = ttl;
}

/*
 * Extra loss at a hop over the reference, beyond binomial noise: two-proportion z with
 * the pooled rate.
 */
static int excess_loss(const struct hv *x, const struct hv *ref)
{
	double pi = x->d.loss_pct / 100.0, pr = ref->d.loss_pct / 100.0;
	double ni = x->d.done, nr = ref->d.done, p, se;

	if (x->d.loss_pct - ref->d.loss_pct < DIAG_LOSS_EXCESS_MIN_PCT)
		return 0;
	p = (pi * ni + pr * nr) / (ni + nr);
	se = sqrt(p * (1 - p) * (1 / ni + 1 / nr));
	return se <= 0 || (pi - pr) / se >= DIAG_LOSS_Z;
}

/*
 * The same responders repeating: the smallest start N and period p whose hops N..N+p-1
 * answer again at N+p..N+2p-1. Returns N (0 = none) and the period.
 */
static int find_loop(const struct view *v, int *period)
{
	int start, p, k;

	for (start = 1; start <= v->n; start++) {
		for (p = 1; p <= DIAG_LOOP_MAX_PERIOD; p++) {
			int reps = p == 1 ? DIAG_LOOP_MIN_SINGLE : 2;

			if (start + reps * p - 1 > v->n)
				break;
			for (k = 0; k < (reps - 1) * p; k++)
				if (!hops_meet(v->hop[start + k].h, v->hop[start + k + p].h))
					break;
			if (k == (reps - 1) * p) {
				*period = p;
				return start;
			}
		}
	}
	return 0;
}

/* Loss: throttling where later hops are clean, real loss where it carries on. */
static void judge_loss(struct diagnose_result *r, struct view *v)
{
	int end = v->end, start = 0, limit = end, i, j;
	struct diagnose_finding *f;

	if (end < 1)
		return;
	if (v->hop[end].lossy) {
		/* The run that reaches the end: hops not judged do not break it. */
		start = end;
		while (start > 1 && (v->hop[start - 1].lossy || !v->hop[start - 1].judged))
			start--;
		while (!v->hop[start].lossy)
			start++;
		limit = start - 1;
		if (v->dest_reached && v->hop[start].d.region == DIAGNOSE_REGION_C) {
			f = add(r, v, DIAGNOSE_DEST_LOSS, DIAGNOSE_WARNING, start);
			if (f) {
				f->reverse_path = 1;
				f->ref_loss_pct = v->hop[end].d.loss_pct;
			}
		} else {
			int mixed = 0;

			for (i = start; i < end; i++)
				if (v->hop[i].judged && excess_loss(&v->hop[i], &v->hop[end]))
					mixed = 1;
			f = add(r, v, mixed ? DIAGNOSE_MIXED_LOSS : DIAGNOSE_REAL_LOSS,
				DIAGNOSE_PROBLEM, start);
			if (f) {
				f->reverse_path = 1;
				f->ref_loss_pct = v->hop[end].d.loss_pct;
			}
		}
		for (i = start; i <= end; i++)
			add_hop(f, v, i);
	}
	/* Before that run (or everywhere): lossy runs followed by a clean hop. */
	for (i = 1; i <= limit; i++) {
		if (!v->hop[i].lossy)
			continue;
		f = add(r, v, DIAGNOSE_RATE_LIMIT, DIAGNOSE_INFO, i);
		for (j = i; j <= limit && v->hop[j].lossy; j++)
			add_hop(f, v, j);
		i = j;
		for (; j <= end; j++)
			if (v->hop[j].judged && !v->hop[j].lossy)
				add_clean(f, j);
	}
}

/* Spread: brief spikes (few outliers) first, then high StDev on what is left. */
static void mark_spread(struct view *v)
{
	int i;

	for (i = 1; i <= v->end; i++) {
		struct hv *x = &v->hop[i];
		uint32_t n, out;

		if (!x->timed)
			continue;
		out = outliers(x->h, x->d.p50, &n);
		if (out && 100.0 * out <= DIAG_BRIEF_MAX_PCT * n) {
			x->brief = 1;
			continue;
		}
		x->high_stdev =
			x->d.stdev >= DIAG_STDEV_MIN_MS && x->d.stdev >= DIAG_STDEV_REL * x->d.avg;
	}
}

static void judge_spread(struct diagnose_result *r, struct view *v)
{
	struct diagnose_finding *f;
	int i, j;

	mark_spread(v);
	for (i = 1; i <= v->end; i++) {
		if (v->hop[i].brief) {
			f = add(r, v, DIAGNOSE_BRIEF_SPIKE, DIAGNOSE_INFO, i);
			for (j = i; j <= v->end && v->hop[j].brief; j++)
				add_hop(f, v, j);
			i = j - 1;
		} else if (v->hop[i].high_stdev) {
			for (j = i; j <= v->end && v->hop[j].high_stdev; j++)
				;
			/* Spread that reaches the destination is what traffic sees. */
			f = add(r, v, DIAGNOSE_HIGH_STDEV,
				j > v->end && v->dest_reached ? DIAGNOSE_WARNING : DIAGNOSE_INFO,
				i);
			for (j = i; j <= v->end && v->hop[j].high_stdev; j++)
				add_hop(f, v, j);
			i = j - 1;
		}
	}
}

static void set_levels(struct diagnose_finding *f, double base_ms, double level_ms)
{
	if (!f)
		return;
	f->baseline_ms = base_ms;
	f->level_ms = level_ms;
}

/* Latency by median: a sharp rise that stays is a step, one that falls back a spike. */
static void judge_steps(struct diagnose_result *r, struct view *v)
{
	struct diagnose_finding *f;
	int base = 0, i, j, k;

	for (i = 1; i <= v->end; i++) {
		double base_ms, rise, keep;

		if (!v->hop[i].timed)
			continue;
		/* A hop with a high StDev has no reliable level: never a baseline. */
		if (!base) {
			if (!v->hop[i].high_stdev)
				base = i;
			continue;
		}
		base_ms = v->hop[base].d.p50;
		rise = v->hop[i].d.p50 - base_ms;
		if (rise < DIAG_HOP_SPIKE_MIN_MS || rise < DIAG_STEP_REL * base_ms) {
			if (!v->hop[i].high_stdev)
				base = i;
			continue;
		}
		keep = base_ms + DIAG_STEP_KEEP * rise;
		for (k = i + 1; k <= v->end; k++)
			if (v->hop[k].timed && v->hop[k].d.p50 < keep)
				break;
		/* A smaller rise that stays is one more link of a longer path, not a finding. */
		if (k > v->end && rise < DIAG_STEP_MIN_MS) {
			if (!v->hop[i].high_stdev)
				base = i;
			continue;
		}
		if (k <= v->end) {
			f = add(r, v, DIAGNOSE_HOP_SPIKE, DIAGNOSE_INFO, i);
			set_levels(f, base_ms, v->hop[i].d.p50);
			for (j = i; j < k; j++)
				if (v->hop[j].timed)
					add_hop(f, v, j);
			add_clean(f, k);
			i = k - 1; /* hop k is judged next, against the same base */
		} else {
			f = add(r, v, DIAGNOSE_LATENCY_STEP, DIAGNOSE_WARNING, i);
			set_levels(f, base_ms, v->hop[i].d.p50);
			if (f)
				f->reverse_path = 1;
			for (j = i; j <= v->end; j++)
				if (v->hop[j].timed)
					add_hop(f, v, j);
			base = i; /* a later step is measured from this level */
		}
	}
}

/* Where the path ends without the destination: a loop, a dead node, or a silent host. */
static void judge_end(struct diagnose_result *r, struct view *v)
{
	struct diagnose_finding *f;
	int start, period = 0, last = 0, i;

	start = find_loop(v, &period);
	if (start) {
		f = add(r, v, DIAGNOSE_ROUTING_LOOP, DIAGNOSE_PROBLEM, start);
		if (f)
			f->period = period;
		for (i = start; i < start + 2 * period && i <= v->n; i++)
			add_hop(f, v, i);
		v->end = start - 1;
		return;
	}
	for (i = 1; i <= v->n; i++)
		if (v->hop[i].d.received)
			last = i;
	v->end = last;
	if (last == v->n && !(last && v->hop[last].h->unreachable))
		return; /* everything shown answered: the path is just longer than -m */
	if (last < v->n && !v->hop[last + 1].judged)
		return; /* too few probes past the last answer to say anything */
	if (last && v->target && same_prefix(&v->hop[last].d.addr, v->target)) {
		f = add(r, v, DIAGNOSE_DEST_DROPS_ICMP, DIAGNOSE_WARNING, last + 1);
		if (f) {
			add_hop(f, v, last + 1);
			f->region = f->hops[0].region = DIAGNOSE_REGION_C;
			f->contact = DIAGNOSE_CONTACT_DEST;
		}
		return;
	}
	f = add(r, v, DIAGNOSE_PATH_INTERRUPTION, DIAGNOSE_PROBLEM, last);
	if (!f)
		return;
	f->reverse_path = 1;
	if (!last) {
		f->region = DIAGNOSE_REGION_A;
		f->contact = DIAGNOSE_CONTACT_LOCAL_ADMIN;
	}
	f->no_route = last && v->hop[last].h->unreachable;
	add_hop(f, v, last);
	if (last < v->n)
		add_hop(f, v, last + 1);
}

static void sort_findings(struct diagnose_result *r)
{
	size_t i, j;

	/* Insertion sort, stable: by hop, then in the order they were found. */
	for (i = 1; i < r->nfindings; i++) {
		struct diagnose_finding tmp = r->findings[i];

		for (j = i; j > 0 && r->findings[j - 1].hop > tmp.hop; j--)
			r->findings[j] = r->findings[j - 1];
		r->findings[j] = tmp;
	}
}

static enum diagnose_conclusion conclude(const struct diagnose_result *r)
{
	enum diagnose_conclusion c = DIAGNOSE_CONCLUDE_CLEAN;
	size_t i;

	for (i = 0; i < r->nfindings; i++) {
		const struct diagnose_finding *f = &r->findings[i];

		if (f->severity == DIAGNOSE_PROBLEM)
			return DIAGNOSE_CONCLUDE_PROBLEM;
		if (f->severity == DIAGNOSE_WARNING)
			c = DIAGNOSE_CONCLUDE_CHECK;
		else if (c == DIAGNOSE_CONCLUDE_CLEAN && f->kind == DIAGNOSE_INSUFFICIENT)
			c = DIAGNOSE_CONCLUDE_INSUFFICIENT;
		else if (c == DIAGNOSE_CONCLUDE_CLEAN && f->kind != DIAGNOSE_CLEAN)
			c = DIAGNOSE_CONCLUDE_NO_EXCEPTION;
	}
	return c;
}

int diagnose_run(const struct diagnose_input *in, struct diagnose_result *out)
{
	static const struct view zero;
	struct view v = zero;
	const struct stats_table *t;
	const struct addr *target;
	int i, any = 0, dest_reached;

	if (!in || !in->t || !out)
		return -EINVAL;
	t = in->t;
	target = in->target;
	dest_reached = in->dest_reached;
	memset(out, 0, sizeof(*out));
	if (in->confirm && in->confirm->ran)
		out->confirm = *in->confirm;
	if (in->local)
		out->local = *in->local;
	if (in->target_name)
		snprintf(out->target_name, sizeof(out->target_name), "%s", in->target_name);
	out->protocol = in->protocol;
	v.t = t;
	v.target = target && target->family ? target : NULL;
	v.dest_reached = dest_reached && t->dest_ttl > 0;
	v.n = stats_last_hop(t);
	if (!v.n && t->max_ttl_seen)
		v.n = 1; /* nothing answered: hop 1 is where it stops */
	if (v.n >= STATS_MAX_HOPS)
		v.n = STATS_MAX_HOPS - 1;
	if (v.n > t->nhops)
		v.n = t->nhops;
	build_view(&v);
	out->final_hop = v.n;
	out->dest_reached = v.dest_reached;
	for (i = 1; i <= v.n; i++) {
		const struct diagnose_hop *d = &v.hop[i].d;

		any |= v.hop[i].judged;
		if (!d->received)
			continue;
		if (!out->answering++ || d->avg < out->avg_min)
			out->avg_min = d->avg;
		if (d->avg > out->avg_max)
			out->avg_max = d->avg;
	}
	if (!any) {
		add(out, &v, DIAGNOSE_INSUFFICIENT, DIAGNOSE_INFO, 0);
		out->conclusion = DIAGNOSE_CONCLUDE_INSUFFICIENT;
		return 0;
	}
	v.end = v.n;
	if (!v.dest_reached)
		judge_end(out, &v);
	judge_loss(out, &v);
	judge_spread(out, &v);
	judge_steps(out, &v);
	if (!out->nfindings)
		add(out, &v, DIAGNOSE_CLEAN, DIAGNOSE_INFO, 0);
	sort_findings(out);
	out->conclusion = conclude(out);
	return 0;
}

/* ---- names ---- */

const char *diagnose_kind_id(enum diagnose_kind k)
{
	return (unsigned int)k < DIAGNOSE_KIND__COUNT ? kind_ids[k] : "unknown";
}

const char *diagnose_severity_id(enum diagnose_severity s)
{
	switch (s) {
	case DIAGNOSE_INFO:
		return "info";
	case DIAGNOSE_WARNING:
		return "warning";
	case DIAGNOSE_PROBLEM:
		return "problem";
	}
	return "unknown";
}

const char *diagnose_region_id(enum diagnose_region r)
{
	switch (r) {
	case DIAGNOSE_REGION_A:
		return "A";
	case DIAGNOSE_REGION_B:
		return "B";
	case DIAGNOSE_REGION_C:
		return "C";
	case DIAGNOSE_REGION_NONE:
		break;
	}
	return "none";
}

const char *diagnose_contact_id(enum diagnose_contact c)
{
	switch (c) {
	case DIAGNOSE_CONTACT_LOCAL_ADMIN:
		return "local_admin";
	case DIAGNOSE_CONTACT_CARRIER:
		return "carrier";
	case DIAGNOSE_CONTACT_DEST:
		return "destination_provider";
	case DIAGNOSE_CONTACT_NONE:
		break;
	}
	return "none";
}

const char *diagnose_conclusion_id(enum diagnose_conclusion c)
{
	switch (c) {
	case DIAGNOSE_CONCLUDE_CLEAN:
		return "clean";
	case DIAGNOSE_CONCLUDE_NO_EXCEPTION:
		return "no_exception";
	case DIAGNOSE_CONCLUDE_CHECK:
		return "check";
	case DIAGNOSE_CONCLUDE_PROBLEM:
		return "problem";
	case DIAGNOSE_CONCLUDE_DEST_DROPS_ICMP:
		return "dest_drops_icmp";
	case DIAGNOSE_CONCLUDE_INSUFFICIENT:
		return "insufficient_data";
	}
	return "unknown";
}

const char *diagnose_kind_title(enum diagnose_kind k)
{
	return (unsigned int)k < DIAGNOSE_KIND__COUNT ? kind_titles[k] : "Unknown finding";
}

/* ---- text ---- */

static const char *region_text(enum diagnose_region r)
{
	switch (r) {
	case DIAGNOSE_REGION_A:
		return "A, local network";
	case DIAGNOSE_REGION_B:
		return "B, carrier backbone";
	case DIAGNOSE_REGION_C:
		return "C, destination network";
	case DIAGNOSE_REGION_NONE:
		break;
	}
	return "whole path";
}

static const char *contact_text(enum diagnose_contact c)
{
	switch (c) {
	case DIAGNOSE_CONTACT_LOCAL_ADMIN:
		return "your network administrator (LAN) or your local carrier";
	case DIAGNOSE_CONTACT_CARRIER:
		return "the carrier that operates this hop (look up who owns its address)";
	case DIAGNOSE_CONTACT_DEST:
		return "the destination's administrator or hosting provider";
	case DIAGNOSE_CONTACT_NONE:
		break;
	}
	return "nobody: no action needed";
}

static const char *hop_addr(const struct diagnose_hop *h, char *buf, size_t len)
{
	if (!h->addr.family) {
		snprintf(buf, len, "(no answer)");
		return buf;
	}
	return addr_str(&h->addr, buf, len);
}

/* "2, 3, 4" */
static const char *list(const int *ttls, size_t n, int truncated, char *buf, size_t len)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < n && used < len; i++) {
		int w = snprintf(buf + used, len - used, "%s%d", i ? ", " : "", ttls[i]);

		if (w < 0)
			break;
		used += (size_t)w;
	}
	if (truncated && used < len)
		snprintf(buf + used, len - used, ", ...");
	return buf;
}

static const char *hops_list(const struct diagnose_finding *f, char *buf, size_t len)
{
	int ttls[DIAGNOSE_MAX_HOPS];
	size_t i;

	for (i = 0; i < f->nhops; i++)
		ttls[i] = f->hops[i].ttl;
	return list(ttls, f->nhops, f->truncated, buf, len);
}

static void print_explanation(const struct diagnose_finding *f, FILE *out)
{
	char a[DIAG_LIST_MAX];

	switch (f->kind) {
	case DIAGNOSE_CLEAN:
		fprintf(out, "    No loss at any hop and no latency rise, spike or spread worth "
			     "a note.\n");
		break;
	case DIAGNOSE_INSUFFICIENT:
		fprintf(out,
			"    Fewer than %d probes finished per hop: one lost probe or one slow "
			"answer would decide. Run again with -c %d or more.\n",
			DIAGNOSE_MIN_PROBES, DIAGNOSE_MIN_PROBES);
		break;
	case DIAGNOSE_RATE_LIMIT:
		fprintf(out,
			"    Later hops %s show no loss, so the loss is not carried forward: these "
			"routers answer probes at a limited rate (ICMP throttling) while "
			"forwarding traffic normally. No action needed.\n",
			f->nclean ? list(f->clean, f->nclean, 0, a, sizeof(a)) : "(none judged)");
		break;
	case DIAGNOSE_REAL_LOSS:
		fprintf(out,
			"    Loss starts at hop %d and every later hop (%s) shows it at similar "
			"rates: packets are really dropped there. Reference loss rate (last "
			"hop): %.1f%%.\n",
			f->hop, hops_list(f, a, sizeof(a)), f->ref_loss_pct);
		break;
	case DIAGNOSE_MIXED_LOSS:
		fprintf(out,
			"    Loss from hop %d to the end (hops %s), at varying rates: real loss "
			"plus ICMP throttling on top at some hops. Use the last affected hop's "
			"rate as the reference: %.1f%%.\n",
			f->hop, hops_list(f, a, sizeof(a)), f->ref_loss_pct);
		break;
	case DIAGNOSE_HIGH_STDEV:
		fprintf(out,
			"    StDev is at least %.0f%% of the hop's own Avg: the Avg alone "
			"misleads; Best and Wrst give the real range.%s\n",
			100 * DIAG_STDEV_REL,
			f->severity == DIAGNOSE_WARNING
				? " The spread reaches the destination, so traffic sees it."
				: " Later hops are steadier: likely the router's slow answer "
				  "path.");
		break;
	case DIAGNOSE_LATENCY_STEP:
		fprintf(out,
			"    Latency rises from %.1f ms to %.1f ms (median) at hop %d and stays up "
			"on every later hop: a network exception likely occurred there (or the "
			"path crosses a long link). Latency alone does not prove loss.\n",
			f->baseline_ms, f->level_ms, f->hop);
		break;
	case DIAGNOSE_HOP_SPIKE:
		fprintf(out,
			"    Latency rises from %.1f ms to %.1f ms (median) at hop %d but hop %s "
			"is "
			"back to normal: the router is slow to answer probes itself (ICMP "
			"throttling), not slow to forward. No action needed.\n",
			f->baseline_ms, f->level_ms, f->hop,
			f->nclean ? list(f->clean, f->nclean, 0, a, sizeof(a)) : "?");
		break;
	case DIAGNOSE_BRIEF_SPIKE:
		fprintf(out,
			"    A few answers (at most %.0f%%) were far above the hop's median: a "
			"high "
			"Wrst with a normal Avg, a brief fluctuation during one or two rounds, "
			"not a sustained issue.\n",
			DIAG_BRIEF_MAX_PCT);
		break;
	case DIAGNOSE_DEST_DROPS_ICMP:
		fprintf(out, "    Every probe is lost at the final hop, after a hop in the "
			     "destination's "
			     "own network answered: the destination's security policy (firewall, "
			     "iptables) blocks ICMP. Check it, or trace with -T or -u.\n");
		break;
	case DIAGNOSE_DEST_LOSS:
		fprintf(out,
			"    Loss only at the last hops (%s, %.1f%% at the end): the destination's "
			"firewall or a throttling policy limits ICMP answers. Check the "
			"destination's security policies.\n",
			hops_list(f, a, sizeof(a)), f->ref_loss_pct);
		break;
	case DIAGNOSE_ROUTING_LOOP:
		fprintf(out,
			"    The same responders (hops %s, a cycle of %d) repeat from hop %d and "
			"the destination is never reached: a misconfigured route on a carrier "
			"node.\n",
			hops_list(f, a, sizeof(a)), f->period, f->hop);
		break;
	case DIAGNOSE_PATH_INTERRUPTION:
		if (!f->hop)
			fprintf(out,
				"    No hop answered at all: check the local network first.\n");
		else
			fprintf(out,
				"    Nothing answers past hop %d%s: the next node is likely down "
				"(or, if hop %d is the destination's own gateway, the destination "
				"may drop ICMP: try -T or -u).\n",
				f->hop, f->no_route ? ", which reported no route" : "", f->hop);
		break;
	case DIAGNOSE_KIND__COUNT:
		break;
	}
}

static void print_finding(const struct diagnose_finding *f, FILE *out)
{
	char addr[DIAG_ADDR_MAX], hops[DIAG_LIST_MAX];
	size_t i;

	if (f->hop)
		fprintf(out, "  [%s] %s at hop%s %s (region %s)\n",
			diagnose_severity_id(f->severity), kind_titles[f->kind],
			f->nhops > 1 ? "s" : "", f->nhops ? hops_list(f, hops, sizeof(hops)) : "?",
			region_text(f->region));
	else
		fprintf(out, "  [%s] %s\n", diagnose_severity_id(f->severity),
			kind_titles[f->kind]);
	for (i = 0; i < f->nhops; i++) {
		const struct diagnose_hop *h = &f->hops[i];

		fprintf(out, "    hop %2d  %-22s %s  Loss %5.1f%% (%u/%u)", h->ttl,
			hop_addr(h, addr, sizeof(addr)), diagnose_region_id(h->region), h->loss_pct,
			h->done - h->received, h->done);
		if (h->received)
			fprintf(out, "  Avg %.1f  Best %.1f  Wrst %.1f  StDev %.1f  Median %.1f",
				h->avg, h->best, h->worst, h->stdev, h->p50);
		fputc('\n', out);
	}
	print_explanation(f, out);
	if (f->severity != DIAGNOSE_INFO)
		fprintf(out, "    Contact: %s.\n", contact_text(f->contact));
	if (f->reverse_path)
		fprintf(out, "    Reverse-path test advised: trace from the other end back to "
			     "this host (paths are asymmetric).\n");
}

static void print_conclusion(const struct diagnose_result *r, FILE *out)
{
	const struct diagnose_finding *p = NULL;
	char addr[DIAG_ADDR_MAX];
	size_t i;

	switch (r->conclusion) {
	case DIAGNOSE_CONCLUDE_CLEAN:
		fprintf(out, "Conclusion: No problem found on this path (Avg %.1f to %.1f ms).\n",
			r->avg_min, r->avg_max);
		return;
	case DIAGNOSE_CONCLUDE_NO_EXCEPTION:
		fprintf(out,
			"Conclusion: No real network exceptions on this path (Avg %.1f to %.1f "
			"ms). "
			"The observed loss and latency spikes are consistent with ICMP throttling "
			"at intermediate carrier nodes.\n",
			r->avg_min, r->avg_max);
		return;
	case DIAGNOSE_CONCLUDE_CHECK:
		fprintf(out,
			"Conclusion: No confirmed fault, but the warnings above may affect "
			"traffic: confirm them (reverse-path test) before contacting anyone.\n");
		return;
	case DIAGNOSE_CONCLUDE_INSUFFICIENT:
		fprintf(out, "Conclusion: Not enough probes for a diagnosis.\n");
		return;
	case DIAGNOSE_CONCLUDE_DEST_DROPS_ICMP:
		fprintf(out,
			"Conclusion: The destination drops ICMP; another protocol reached it, so "
			"the path works.\n");
		return;
	case DIAGNOSE_CONCLUDE_PROBLEM:
		break;
	}
	for (i = 0; i < r->nfindings && !p; i++)
		if (r->findings[i].severity == DIAGNOSE_PROBLEM)
			p = &r->findings[i];
	if (!p)
		return;
	fprintf(out, "Conclusion: A real network exception: %s at hop %d", kind_titles[p->kind],
		p->hop);
	if (p->hop && p->nhops && p->hops[0].addr.family)
		fprintf(out, " (%s)", hop_addr(&p->hops[0], addr, sizeof(addr)));
	fprintf(out, ". Contact %s%s.\n", contact_text(p->contact),
		p->reverse_path ? ", after a reverse-path test" : "");
}

int diagnose_print(const struct diagnose_result *r, FILE *out)
{
	size_t i;

	if (!r || !out)
		return -EINVAL;
	fprintf(out, "Diagnosis:\n");
	for (i = 0; i < r->nfindings; i++) {
		print_finding(&r->findings[i], out);
		fputc('\n', out);
	}
	if (r->dropped)
		fprintf(out, "  (%zu more findings not shown)\n\n", r->dropped);
	print_conclusion(r, out);
	return ferror(out) ? -EIO : 0;
}

/* ---- JSON ---- */

static struct json_object *num(double v)
{
	char s[DIAG_NUM_MAX];

	snprintf(s, sizeof(s), "%.1f", v);
	return json_object_new_double_s(v, s);
}

static struct json_object *hop_json(const struct diagnose_hop *h)
{
	struct json_object *o = json_object_new_object();
	char addr[DIAG_ADDR_MAX];

	json_object_object_add(o, "hop", json_object_new_int(h->ttl));
	json_object_object_add(
		o, "host",
		h->addr.family ? json_object_new_string(addr_str(&h->addr, addr, sizeof(addr)))
			       : NULL);
	json_object_object_add(o, "region", json_object_new_string(diagnose_region_id(h->region)));
	json_object_object_add(o, "Loss%", num(h->loss_pct));
	json_object_object_add(o, "Snt", json_object_new_int64(h->done));
	json_object_object_add(o, "Rcv", json_object_new_int64(h->received));
	json_object_object_add(o, "Avg", num(h->avg));
	json_object_object_add(o, "Best", num(h->best));
	json_object_object_add(o, "Wrst", num(h->worst));
	json_object_object_add(o, "StDev", num(h->stdev));
	json_object_object_add(o, "p50", num(h->p50));
	return o;
}

struct json_object *diagnose_json(const struct diagnose_result *r)
{
	struct json_object *arr = json_object_new_array();
	size_t i, k;

	if (!arr || !r)
		return arr;
	for (i = 0; i < r->nfindings; i++) {
		const struct diagnose_finding *f = &r->findings[i];
		struct json_object *o = json_object_new_object(), *hops = json_object_new_array();
		struct json_object *clean = json_object_new_array(), *ev = json_object_new_object();

		json_object_object_add(o, "kind",
				       json_object_new_string(diagnose_kind_id(f->kind)));
		json_object_object_add(o, "severity",
				       json_object_new_string(diagnose_severity_id(f->severity)));
		json_object_object_add(o, "hop", json_object_new_int(f->hop));
		json_object_object_add(o, "region",
				       json_object_new_string(diagnose_region_id(f->region)));
		json_object_object_add(o, "contact",
				       json_object_new_string(diagnose_contact_id(f->contact)));
		json_object_object_add(o, "reverse_path", json_object_new_boolean(f->reverse_path));
		for (k = 0; k < f->nhops; k++)
			json_object_array_add(hops, hop_json(&f->hops[k]));
		json_object_object_add(o, "hops", hops);
		json_object_object_add(o, "truncated", json_object_new_boolean(f->truncated));
		for (k = 0; k < f->nclean; k++)
			json_object_array_add(clean, json_object_new_int(f->clean[k]));
		json_object_object_add(ev, "clean_hops", clean);
		switch (f->kind) {
		case DIAGNOSE_REAL_LOSS:
		case DIAGNOSE_MIXED_LOSS:
		case DIAGNOSE_DEST_LOSS:
			json_object_object_add(ev, "reference_loss", num(f->ref_loss_pct));
			break;
		case DIAGNOSE_LATENCY_STEP:
		case DIAGNOSE_HOP_SPIKE:
			json_object_object_add(ev, "baseline_ms", num(f->baseline_ms));
			json_object_object_add(ev, "level_ms", num(f->level_ms));
			break;
		case DIAGNOSE_ROUTING_LOOP:
			json_object_object_add(ev, "period", json_object_new_int(f->period));
			break;
		case DIAGNOSE_PATH_INTERRUPTION:
			json_object_object_add(ev, "no_route",
					       json_object_new_boolean(f->no_route));
			break;
		case DIAGNOSE_CLEAN:
		case DIAGNOSE_INSUFFICIENT:
		case DIAGNOSE_RATE_LIMIT:
		case DIAGNOSE_HIGH_STDEV:
		case DIAGNOSE_BRIEF_SPIKE:
		case DIAGNOSE_DEST_DROPS_ICMP:
		case DIAGNOSE_KIND__COUNT:
			break;
		}
		json_object_object_add(o, "evidence", ev);
		json_object_array_add(arr, o);
	}
	return arr;
}

struct json_object *diagnose_json_conclusion(const struct diagnose_result *r)
{
	struct json_object *o = json_object_new_object();

	if (!o || !r)
		return o;
	json_object_object_add(o, "id",
			       json_object_new_string(diagnose_conclusion_id(r->conclusion)));
	json_object_object_add(o, "dest_reached", json_object_new_boolean(r->dest_reached));
	json_object_object_add(o, "avg_min", num(r->avg_min));
	json_object_object_add(o, "avg_max", num(r->avg_max));
	return o;
}
