/*
 * diagnose: how a network engineer reads an mtr table, as code. Loss is judged by where
 * it starts and whether every later hop carries it, each rate read with its binomial
 * interval (Wilson score, from the hop's finished probes): throttling when later hops
 * are clean, real loss when it carries on to the end, the destination's own policy when
 * it starts inside the destination's network. Latency is judged by each hop's own median
 * and spread, and every hop gets a region (A local, B carrier, C destination, by AS when
 * known, else by prefix) that says whom to contact. A confirmation with other protocols,
 * when one ran, settles what an ICMP trace cannot: a silent destination versus a cut
 * path, ICMP policy versus lost traffic.
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
 * Two loss rates differ when their intervals (DIAGNOSE_LOSS_Z) do not overlap and, as a
 * floor for long runs whose narrow intervals part over a few points, by at least this
 * many points: a later hop that loses less than that below a hop still carries its loss,
 * and a hop that loses more than that above the reference has throttling on top.
 */
#define DIAG_LOSS_EXCESS_MIN_PCT 10.0
/*
 * A finding's confidence is the level of the widest intervals under which what it says
 * still holds, looked for by bisection up to DIAG_Z_MAX (99.9999%) in DIAG_Z_STEPS steps.
 */
#define DIAG_Z_MAX   5.0
#define DIAG_Z_STEPS 40
/* The reverse-path command: as many probes as a careful report uses. */
#define DIAG_REVERSE_CYCLES 100
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
 * Region C by evidence: hops with the destination's origin AS when the AS lookup knows
 * both; else hops sharing the destination's /24 (IPv4) or /48 (IPv6), the smallest
 * blocks commonly routed on the Internet, so a shared one is the destination's own
 * network; and the destination itself. Nearness to the end alone is no evidence: the
 * last carrier hop before the destination is still a carrier's.
 */
#define DIAG_PREFIX_V4 24
#define DIAG_PREFIX_V6 48
/* A routing loop: a cycle of at most this many hops, seen at least twice in full. */
#define DIAG_LOOP_MAX_PERIOD 16
/* A cycle of one hop (a router answering for many TTLs) must repeat this often. */
#define DIAG_LOOP_MIN_SINGLE 3
/* Text: longest hop list "2, 3, 4" and address text. */
#define DIAG_LIST_MAX	 160
#define DIAG_ADDR_MAX	 64
#define DIAG_NUM_MAX	 32
#define DIAG_CONTACT_MAX 256
#define DIAG_CMD_MAX	 192
#define DIAG_PCT	 100.0
/* The floor written as a count: DIAG_LOSS_MIN_PCT of this many. */
#define DIAG_FLOOR_SCALE 10000

/* A loss count: k of n finished probes lost. */
struct rate {
	uint32_t k, n;
};

struct hv {
	struct diagnose_hop d;
	const struct stats_hop *h;
	struct rate loss;
	uint32_t asn; /* origin AS of the hop's address, 0 = not known */
	int judged;   /* enough probes finished */
	int lossy;
	int timed; /* enough answers for latency */
	int private_addr;
	int brief, high_stdev; /* latency marks */
};

struct view {
	const struct stats_table *t;
	const struct addr *target;
	diagnose_as_fn as_of;
	void *as_ctx;
	uint32_t target_asn;
	int n; /* hops 1..n */
	int dest_reached;
	int end; /* last hop analysed for loss and latency */
	/* Findings the confirmation may settle: index + 1 into the result, 0 = none. */
	size_t silence; /* the trace ended in silence after hop silent_after */
	int silent_after;
	size_t end_loss; /* the loss that reaches the destination */
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

/* ---- loss intervals ---- */

/* Wilson score interval of k lost in n at z standard errors, as fractions. */
static void wilson(struct rate r, double z, double *lo, double *hi)
{
	double p, z2, den, c, h, n = r.n;

	if (!r.n) {
		*lo = 0;
		*hi = 1;
		return;
	}
	p = r.k / n;
	z2 = z * z;
	den = 1 + z2 / n;
	c = (p + z2 / (2 * n)) / den;
	h = z / den * sqrt(p * (1 - p) / n + z2 / (4 * n * n));
	*lo = fmax(0, c - h);
	*hi = fmin(1, c + h);
}

static double frac(struct rate r)
{
	return r.n ? (double)r.k / r.n : 0;
}

/* Two-sided level of an interval z standard errors wide. */
static double level(double z)
{
	return erf(z / sqrt(2.0));
}

/* a's interval lies wholly above b's at z. */
static int above_at(struct rate a, struct rate b, double z)
{
	double alo, ahi, blo, bhi;

	wilson(a, z, &alo, &ahi);
	wilson(b, z, &blo, &bhi);
	return alo > bhi;
}

static int above(struct rate a, struct rate b)
{
	return a.n && b.n && above_at(a, b, DIAGNOSE_LOSS_Z);
}

/*
 * The widest z (at most DIAG_Z_MAX) at which holds(z) is still true, for a claim that
 * holds at z 0 and, once false, stays false for wider intervals (Wilson intervals grow
 * with z, nested). 0 when it does not hold even for the bare rates.
 */
static double widest(int (*holds)(struct rate, struct rate, double), struct rate a, struct rate b)
{
	double zl = 0, zh = DIAG_Z_MAX;
	int i;

	if (!holds(a, b, 0))
		return 0;
	if (holds(a, b, zh))
		return zh;
	for (i = 0; i < DIAG_Z_STEPS; i++) {
		double m = (zl + zh) / 2;

		if (holds(a, b, m))
			zl = m;
		else
			zh = m;
	}
	return zl;
}

/* DIAG_LOSS_MIN_PCT as a rate, for above_floor_at. */
static const struct rate loss_floor = {(uint32_t)(DIAG_LOSS_MIN_PCT * DIAG_FLOOR_SCALE / DIAG_PCT),
				       DIAG_FLOOR_SCALE};

/* a's interval lies at or above the bare rate b (a floor written as a rate). */
static int above_floor_at(struct rate a, struct rate b, double z)
{
	double lo, hi;

	wilson(a, z, &lo, &hi);
	return lo >= frac(b);
}

/* How sure a is higher than b: the level at which their intervals part. */
static double apart_level(struct rate a, struct rate b)
{
	if (!a.n || !b.n)
		return 0;
	return level(widest(above_at, a, b));
}

/* How sure the loss a is above the floor (DIAG_LOSS_MIN_PCT). */
static double floor_level(struct rate a)
{
	if (!a.n)
		return 0;
	return level(widest(above_floor_at, a, loss_floor));
}

/*
 * A later judged hop carries hop i's loss when it loses too (at least the floor) at a
 * rate that agrees with i's: their intervals overlap, it loses more, or it loses less by
 * under DIAG_LOSS_EXCESS_MIN_PCT points.
 */
static int carries(const struct hv *later, const struct hv *i)
{
	if (!later->lossy)
		return 0;
	return !above(i->loss, later->loss) ||
	       i->d.loss_pct - later->d.loss_pct < DIAG_LOSS_EXCESS_MIN_PCT;
}

/* ---- regions ---- */

static const struct diagnose_as *as_lookup(const struct view *v, const struct addr *a)
{
	const struct diagnose_as *as;

	if (!v->as_of || !a || !a->family)
		return NULL;
	as = v->as_of(v->as_ctx, a);
	return as && (as->asn || as->name[0] || as->prefix[0]) ? as : NULL;
}

/* In the destination's network by evidence: its origin AS, else its prefix. */
static int in_dest_net(const struct view *v, const struct hv *x)
{
	if (!v->target || !x->d.addr.family)
		return 0;
	if (addr_equal(&x->d.addr, v->target))
		return 1;
	if (v->target_asn && x->asn)
		return x->asn == v->target_asn;
	return same_prefix(&x->d.addr, v->target);
}

static void build_view(struct view *v)
{
	const struct diagnose_as *tas = v->target ? as_lookup(v, v->target) : NULL;
	double lo, hi;
	int i, first_pub = 0;

	v->target_asn = tas ? tas->asn : 0;
	for (i = 1; i <= v->n; i++) {
		struct hv *x = &v->hop[i];
		const struct diagnose_as *as;
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
		x->loss.n = x->d.done;
		x->loss.k = x->d.done > x->d.received ? x->d.done - x->d.received : 0;
		if (x->loss.n) {
			wilson(x->loss, DIAGNOSE_LOSS_Z, &lo, &hi);
			x->d.loss_lo = DIAG_PCT * lo;
			x->d.loss_hi = DIAG_PCT * hi;
		}
		x->judged = x->d.done >= DIAGNOSE_MIN_PROBES;
		x->lossy = x->judged && x->d.loss_pct >= DIAG_LOSS_MIN_PCT;
		x->timed = x->judged && x->d.received >= DIAG_MIN_ANSWERS;
		x->private_addr = addr_private(&x->d.addr);
		as = as_lookup(v, &x->d.addr);
		x->asn = as ? as->asn : 0;
		if (!first_pub && x->d.addr.family && !x->private_addr)
			first_pub = i;
	}
	for (i = 1; i <= v->n; i++) {
		struct hv *x = &v->hop[i];
		int is_a, is_c;

		/* A: before the first public hop; a public first hop is the local carrier. */
		is_a = first_pub ? (i < first_pub || i == 1)
				 : (x->private_addr || !x->d.addr.family);
		is_c = (v->dest_reached && i == v->n) || in_dest_net(v, x);
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
	f->confidence = -1;
	if (hop >= 1 && hop <= v->n) {
		const struct diagnose_as *as = as_lookup(v, &v->hop[hop].d.addr);

		f->region = v->hop[hop].d.region;
		if (as)
			f->as = *as;
	}
	f->contact = sev == DIAGNOSE_INFO ? DIAGNOSE_CONTACT_NONE : contact_of(f->region);
	return f;
}

static size_t index_of(const struct diagnose_result *r, const struct diagnose_finding *f)
{
	return f ? (size_t)(f - r->findings) + 1 : 0;
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

/*
 * The loss that reaches the end, from hop start (whose loss every later judged hop
 * carries): the destination's own policy when it starts in the destination's network
 * (or at the destination), else real loss, mixed when a hop has throttling on top.
 */
static void loss_run(struct diagnose_result *r, struct view *v, int start)
{
	const struct hv *ref = &v->hop[v->end], *first = &v->hop[start];
	struct diagnose_finding *f;
	double agree = 1;
	int i, mixed = 0;

	for (i = start + 1; i <= v->end; i++) {
		const struct hv *x = &v->hop[i];

		if (!x->judged)
			continue;
		/* A later hop losing less is the near miss: how far from parting they are. */
		agree = fmin(agree, 1 - apart_level(first->loss, x->loss));
		if (i < v->end && x->d.loss_pct - ref->d.loss_pct >= DIAG_LOSS_EXCESS_MIN_PCT &&
		    above(x->loss, ref->loss))
			mixed = 1;
	}
	if (v->dest_reached && first->d.region == DIAGNOSE_REGION_C) {
		f = add(r, v, DIAGNOSE_DEST_LOSS, DIAGNOSE_WARNING, start);
	} else {
		/* A loss the sample cannot tell from the floor is a warning, not a fault. */
		int sure = above_floor_at(ref->loss, loss_floor, DIAGNOSE_LOSS_Z);

		f = add(r, v, mixed ? DIAGNOSE_MIXED_LOSS : DIAGNOSE_REAL_LOSS,
			sure ? DIAGNOSE_PROBLEM : DIAGNOSE_WARNING, start);
	}
	if (!f)
		return;
	v->end_loss = index_of(r, f);
	f->reverse_path = 1;
	f->ref_loss_pct = ref->d.loss_pct;
	f->ref_lo = ref->d.loss_lo;
	f->ref_hi = ref->d.loss_hi;
	f->confidence = floor_level(ref->loss) * agree;
	for (i = start; i <= v->end; i++)
		add_hop(f, v, i);
}

/* Rate limiting at hops i..j-1: the later judged hops that carry none of it prove it. */
static void rate_limit(struct diagnose_result *r, struct view *v, int i, int j)
{
	struct diagnose_finding *f = add(r, v, DIAGNOSE_RATE_LIMIT, DIAGNOSE_INFO, i);
	struct rate run = {0, 0}, clean = {0, 0};
	double lo, hi;
	int k, m;

	if (!f)
		return;
	for (k = i; k < j; k++) {
		add_hop(f, v, k);
		run.k += v->hop[k].loss.k;
		run.n += v->hop[k].loss.n;
	}
	for (k = j; k <= v->end; k++) {
		if (!v->hop[k].judged)
			continue;
		for (m = i; m < j; m++)
			if (v->hop[m].judged && !carries(&v->hop[k], &v->hop[m]))
				break;
		if (m == j)
			continue;
		add_clean(f, k);
		clean.k += v->hop[k].loss.k;
		clean.n += v->hop[k].loss.n;
	}
	if (!clean.n) {
		f->confidence = 0; /* no later hop judged: a guess */
		return;
	}
	wilson(clean, DIAGNOSE_LOSS_Z, &lo, &hi);
	f->clean_pct = DIAG_PCT * frac(clean);
	f->clean_lo = DIAG_PCT * lo;
	f->clean_hi = DIAG_PCT * hi;
	f->confidence = apart_level(run, clean);
}

/*
 * Loss: where it starts and whether every later hop carries it. The run of lossy hops
 * that reaches the end starts real loss at its first hop whose loss every later judged
 * hop carries; lossy hops before it, and any not followed by loss to the end, are
 * throttling.
 */
static void judge_loss(struct diagnose_result *r, struct view *v)
{
	int end = v->end, start, limit = end, i, j;

	if (end < 1)
		return;
	if (v->hop[end].lossy) {
		/* The run that reaches the end: hops not judged do not break it. */
		start = end;
		while (start > 1 && (v->hop[start - 1].lossy || !v->hop[start - 1].judged))
			start--;
		for (; start < end; start++) {
			if (!v->hop[start].lossy)
				continue;
			for (j = start + 1; j <= end; j++)
				if (v->hop[j].judged && !carries(&v->hop[j], &v->hop[start]))
					break;
			if (j > end)
				break;
		}
		limit = start - 1;
		loss_run(r, v, start);
	}
	/* Before that run (or everywhere): lossy hops whose loss is not carried. */
	for (i = 1; i <= limit; i++) {
		if (!v->hop[i].lossy)
			continue;
		for (j = i; j <= limit && v->hop[j].lossy; j++)
			;
		rate_limit(r, v, i, j);
		i = j;
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
	v->silent_after = last;
	if (last && in_dest_net(v, &v->hop[last])) {
		f = add(r, v, DIAGNOSE_DEST_DROPS_ICMP, DIAGNOSE_WARNING, last + 1);
		if (f) {
			const struct diagnose_as *as = as_lookup(v, v->target);

			add_hop(f, v, last + 1);
			f->region = f->hops[0].region = DIAGNOSE_REGION_C;
			f->contact = DIAGNOSE_CONTACT_DEST;
			if (as)
				f->as = *as;
		}
		v->silence = index_of(r, f);
		return;
	}
	f = add(r, v, DIAGNOSE_PATH_INTERRUPTION, DIAGNOSE_PROBLEM, last);
	v->silence = index_of(r, f);
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

/* ---- the confirmation ---- */

/* Did any of the hop's responders send this address? */
static int hop_has(const struct stats_hop *h, const struct addr *a)
{
	size_t i;

	if (h->acc.received && addr_equal(&h->last_addr, a))
		return 1;
	for (i = 0; i < h->nresponders; i++)
		if (addr_equal(&h->responders[i].addr, a))
			return 1;
	return 0;
}

/* Something past hop n answered this entry: the destination, or a router beyond n. */
static int answered_beyond(const struct view *v, const struct diagnose_confirm_probe *p, int n)
{
	int i;

	if (!p->answered)
		return 0;
	if (p->from_dest)
		return 1;
	if (p->ttl != DIAGNOSE_CONFIRM_TTL_DEST && p->ttl <= n)
		return 0;
	if (!p->from.family)
		return 1; /* an answer from someone unnamed: not proof of silence */
	for (i = 1; i <= n && i <= v->n; i++)
		if (hop_has(v->hop[i].h, &p->from))
			return 0;
	return 1;
}

/*
 * The trace went silent after hop n: the destination answering another protocol means
 * it drops the trace's probes (the path works); nothing past n answering any protocol
 * confirms the interruption.
 */
static void confirm_silence(struct view *v, struct diagnose_finding *f,
			    const struct diagnose_confirm *c)
{
	const struct diagnose_as *as;
	int n = v->silent_after, dest = 0, beyond = 0, sent = 0;
	size_t i;

	for (i = 0; i < c->n && i < DIAGNOSE_CONFIRM_MAX; i++) {
		dest |= c->p[i].from_dest > 0;
		beyond |= answered_beyond(v, &c->p[i], n);
		sent |= c->p[i].sent > 0;
	}
	if (dest) {
		f->kind = DIAGNOSE_DEST_DROPS_ICMP;
		f->severity = DIAGNOSE_INFO;
		f->contact = DIAGNOSE_CONTACT_NONE;
		f->region = DIAGNOSE_REGION_C;
		f->reverse_path = 0;
		f->no_route = 0;
		f->hop = n + 1;
		f->nhops = 0;
		f->truncated = 0;
		add_hop(f, v, n + 1);
		if (f->nhops)
			f->hops[0].region = DIAGNOSE_REGION_C;
		memset(&f->as, 0, sizeof(f->as));
		as = as_lookup(v, v->target);
		if (as)
			f->as = *as;
		f->confirmed = 1;
	} else if (sent && !beyond) {
		f->kind = DIAGNOSE_PATH_INTERRUPTION;
		f->severity = DIAGNOSE_PROBLEM;
		f->hop = n;
		f->region = n >= 1 && n <= v->n ? v->hop[n].d.region : DIAGNOSE_REGION_A;
		f->contact = contact_of(f->region);
		f->reverse_path = 1;
		f->no_route = n >= 1 && n <= v->n && v->hop[n].h->unreachable;
		f->nhops = 0;
		f->truncated = 0;
		add_hop(f, v, n);
		add_hop(f, v, n + 1);
		memset(&f->as, 0, sizeof(f->as));
		as = n >= 1 && n <= v->n ? as_lookup(v, &v->hop[n].d.addr) : NULL;
		if (as)
			f->as = *as;
		f->confirmed = 1;
	}
}

/*
 * Loss that reaches the destination, against other protocols' probes to it (the entries
 * it answered at all: a port it filters says nothing of loss): losing at an agreeing
 * rate confirms real loss; every answer where the ICMP interval lies wholly above that
 * makes it the ICMP policy of the hops from N and the destination.
 */
static void confirm_loss(struct view *v, struct diagnose_finding *f,
			 const struct diagnose_confirm *c)
{
	const struct hv *ref = &v->hop[v->end];
	struct rate other = {0, 0};
	size_t i;

	for (i = 0; i < c->n && i < DIAGNOSE_CONFIRM_MAX; i++) {
		const struct diagnose_confirm_probe *p = &c->p[i];

		if (p->ttl != DIAGNOSE_CONFIRM_TTL_DEST || !p->from_dest || !p->sent)
			continue;
		other.n += p->sent;
		other.k += p->sent > p->from_dest ? p->sent - p->from_dest : 0;
	}
	if (!other.n)
		return;
	f->confirm_sent = other.n;
	f->confirm_answered = other.n - other.k;
	if (other.k && !above(ref->loss, other) && !above(other, ref->loss)) {
		if (f->kind == DIAGNOSE_DEST_LOSS)
			f->kind = DIAGNOSE_REAL_LOSS;
		f->severity = DIAGNOSE_PROBLEM;
		f->contact = contact_of(f->region);
		f->reverse_path = 1;
		f->confirmed = 1;
	} else if (!other.k && above(ref->loss, other)) {
		f->kind = DIAGNOSE_DEST_LOSS;
		f->severity = DIAGNOSE_INFO;
		f->contact = DIAGNOSE_CONTACT_NONE;
		f->reverse_path = 0;
		f->confirmed = 1;
		f->confidence = apart_level(ref->loss, other);
	}
}

static void judge_confirm(struct diagnose_result *r, struct view *v,
			  const struct diagnose_confirm *c)
{
	if (!c || !c->ran)
		return;
	if (v->silence)
		confirm_silence(v, &r->findings[v->silence - 1], c);
	else if (v->end_loss && v->dest_reached)
		confirm_loss(v, &r->findings[v->end_loss - 1], c);
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

	int drops = 0;

	for (i = 0; i < r->nfindings; i++) {
		const struct diagnose_finding *f = &r->findings[i];

		if (f->severity == DIAGNOSE_PROBLEM)
			return DIAGNOSE_CONCLUDE_PROBLEM;
		drops |= f->kind == DIAGNOSE_DEST_DROPS_ICMP && f->confirmed;
		if (f->severity == DIAGNOSE_WARNING)
			c = DIAGNOSE_CONCLUDE_CHECK;
		else if (c == DIAGNOSE_CONCLUDE_CLEAN && f->kind == DIAGNOSE_INSUFFICIENT)
			c = DIAGNOSE_CONCLUDE_INSUFFICIENT;
		else if (c == DIAGNOSE_CONCLUDE_CLEAN && f->kind != DIAGNOSE_CLEAN)
			c = DIAGNOSE_CONCLUDE_NO_EXCEPTION;
	}
	/* Another protocol reached the destination: that is the verdict, warnings aside. */
	return drops ? DIAGNOSE_CONCLUDE_DEST_DROPS_ICMP : c;
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
	if (target)
		out->target = *target;
	out->protocol = in->protocol;
	out->port = in->port;
	v.t = t;
	v.target = target && target->family ? target : NULL;
	v.as_of = in->as_of;
	v.as_ctx = in->as_ctx;
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
	judge_confirm(out, &v, in->confirm);
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
		return "the carrier that operates this hop";
	case DIAGNOSE_CONTACT_DEST:
		return "the destination's administrator or hosting provider";
	case DIAGNOSE_CONTACT_NONE:
		break;
	}
	return "nobody: no action needed";
}

/* Whom to contact, named by the AS of the hop when it is known. */
static const char *contact_line(const struct diagnose_finding *f, char *buf, size_t len)
{
	const struct diagnose_as *as = &f->as;
	int w;

	if (f->contact == DIAGNOSE_CONTACT_NONE || (!as->asn && !as->name[0])) {
		snprintf(buf, len, "%s%s", contact_text(f->contact),
			 f->contact == DIAGNOSE_CONTACT_CARRIER ? " (look up who owns its address)"
								: "");
		return buf;
	}
	w = snprintf(buf, len, "%s: ", contact_text(f->contact));
	if (w < 0 || (size_t)w >= len)
		return buf;
	if (as->asn)
		w += snprintf(buf + w, len - (size_t)w, "AS%u%s", as->asn, as->name[0] ? " " : "");
	if ((size_t)w < len && as->name[0])
		w += snprintf(buf + w, len - (size_t)w, "%s", as->name);
	if ((size_t)w < len && as->prefix[0])
		snprintf(buf + w, len - (size_t)w, " (%s)", as->prefix);
	return buf;
}

static const char *proto_text(enum proto_protocol p)
{
	switch (p) {
	case PROTO_PROTOCOL_ICMP:
		return "ICMP";
	case PROTO_PROTOCOL_UDP:
		return "UDP";
	case PROTO_PROTOCOL_TCP:
		return "TCP";
	case PROTO_PROTOCOL_SCTP:
		return "SCTP";
	case PROTO_PROTOCOL__COUNT:
		break;
	}
	return "?";
}

/* "TCP 443" / "ICMP" / "UDP 33434 TTL 5" */
static const char *probe_name(const struct diagnose_confirm_probe *p, char *buf, size_t len)
{
	int w = snprintf(buf, len, "%s", proto_text(p->protocol));

	if (w >= 0 && (size_t)w < len && p->port)
		w += snprintf(buf + w, len - (size_t)w, " %d", p->port);
	if (w >= 0 && (size_t)w < len && p->ttl != DIAGNOSE_CONFIRM_TTL_DEST)
		snprintf(buf + w, len - (size_t)w, " TTL %d", p->ttl);
	return buf;
}

/* The entries that reached the destination, "TCP 443, TCP 80" ("" = none). */
static const char *reached_list(const struct diagnose_confirm *c, int want_dest, char *buf,
				size_t len)
{
	char one[DIAG_NUM_MAX];
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < c->n && i < DIAGNOSE_CONFIRM_MAX && used < len; i++) {
		int w;

		if (!c->p[i].sent || (want_dest && !c->p[i].from_dest))
			continue;
		w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
			     probe_name(&c->p[i], one, sizeof(one)));
		if (w < 0)
			break;
		used += (size_t)w;
	}
	return buf;
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

static void print_explanation(const struct diagnose_result *r, const struct diagnose_finding *f,
			      FILE *out)
{
	char a[DIAG_LIST_MAX], b[DIAG_LIST_MAX];

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
			"    Later hops %s show no loss or clearly less, so the loss is not "
			"carried "
			"forward: these routers answer probes at a limited rate (ICMP throttling) "
			"while forwarding traffic normally. No action needed.\n",
			f->nclean ? list(f->clean, f->nclean, 0, a, sizeof(a)) : "(none judged)");
		if (f->nclean)
			fprintf(out,
				"    Those hops together: %.1f%% loss (%d%% interval %.1f-%.1f%%), "
				"below this loss's interval.\n",
				f->clean_pct, DIAGNOSE_LOSS_LEVEL, f->clean_lo, f->clean_hi);
		break;
	case DIAGNOSE_REAL_LOSS:
		fprintf(out,
			"    Loss starts at hop %d and every later hop (%s) shows it at rates that "
			"agree within their %d%% intervals: packets are really dropped there. "
			"Reference loss rate (last hop): %.1f%% (%.1f-%.1f%%).\n",
			f->hop, hops_list(f, a, sizeof(a)), DIAGNOSE_LOSS_LEVEL, f->ref_loss_pct,
			f->ref_lo, f->ref_hi);
		if (f->confirmed)
			fprintf(out,
				"    Confirmed: other protocols to the destination lost %u of %u "
				"probes too.\n",
				f->confirm_sent - f->confirm_answered, f->confirm_sent);
		else if (f->severity != DIAGNOSE_PROBLEM)
			fprintf(out, "    The sample is too small to tell this loss from the odd "
				     "dropped probe: run again with more probes (-c).\n");
		break;
	case DIAGNOSE_MIXED_LOSS:
		fprintf(out,
			"    Loss from hop %d to the end (hops %s), at varying rates: real loss "
			"plus ICMP throttling on top at some hops. Use the last affected hop's "
			"rate as the reference: %.1f%% (%.1f-%.1f%%).\n",
			f->hop, hops_list(f, a, sizeof(a)), f->ref_loss_pct, f->ref_lo, f->ref_hi);
		if (f->confirmed)
			fprintf(out,
				"    Confirmed: other protocols to the destination lost %u of %u "
				"probes too.\n",
				f->confirm_sent - f->confirm_answered, f->confirm_sent);
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
		if (f->confirmed)
			fprintf(out,
				"    The destination does not answer the trace's %s probes, but %s "
				"reached it: the destination drops %s (its firewall policy) and "
				"the "
				"path works. No carrier is at fault.\n",
				proto_text(r->protocol), reached_list(&r->confirm, 1, a, sizeof(a)),
				r->protocol == PROTO_PROTOCOL_ICMP ? "ICMP echo" : "these probes");
		else
			fprintf(out,
				"    Every probe is lost at the final hop, after a hop in the "
				"destination's own network answered: the destination's security "
				"policy (firewall, iptables) blocks ICMP. Check it, or trace with "
				"-T or -u.\n");
		break;
	case DIAGNOSE_DEST_LOSS:
		if (f->confirmed)
			fprintf(out,
				"    ICMP loss from hop %d (%.1f%% at the end, %.1f-%.1f%%), but "
				"other protocols to the destination got every answer (%u/%u): the "
				"loss is the ICMP policy (throttling) of these hops and the "
				"destination, not lost traffic. No action needed.\n",
				f->hop, f->ref_loss_pct, f->ref_lo, f->ref_hi, f->confirm_answered,
				f->confirm_sent);
		else
			fprintf(out,
				"    Loss only at the last hops (%s, %.1f%% at the end), starting "
				"inside the destination's network: the destination's firewall or a "
				"throttling policy limits ICMP answers. Check the destination's "
				"security policies.\n",
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
		if (f->confirmed)
			fprintf(out,
				"    Nothing answers past hop %d by any protocol: the trace (%s) "
				"and "
				"the confirmation (%s) all stop there%s.\n",
				f->hop, proto_text(r->protocol),
				reached_list(&r->confirm, 0, b, sizeof(b)),
				f->hop ? ": the next node is down or drops what it forwards"
				       : ": check the local network first");
		else if (!f->hop)
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

/* Public for the reverse-path test: what the other end can trace to. */
static int addr_public(const struct addr *a)
{
	static const uint8_t any6[16];

	if (!a->family || addr_private(a))
		return 0;
	if (a->family == AF_INET) {
		const uint8_t *b = (const uint8_t *)&a->u.v4.s_addr;

		return b[0] != 0 && b[0] < 224; /* not "this network", multicast, reserved */
	}
	return memcmp(a->u.v6.s6_addr, any6, sizeof(any6)) && a->u.v6.s6_addr[0] != 0xff;
}

int diagnose_reverse_command(const struct diagnose_result *r, char *buf, size_t len)
{
	char local[DIAG_ADDR_MAX], opt[DIAG_NUM_MAX] = "";
	int w;

	if (!r || !buf || !len)
		return -EINVAL;
	buf[0] = '\0';
	if (!addr_public(&r->local))
		return 0;
	if (r->protocol == PROTO_PROTOCOL_TCP)
		snprintf(opt, sizeof(opt), r->port ? "-T -P %d " : "-T ", r->port);
	else if (r->protocol == PROTO_PROTOCOL_UDP)
		snprintf(opt, sizeof(opt), "-u ");
	w = snprintf(buf, len, "mtr -r -c %d %s%s", DIAG_REVERSE_CYCLES, opt,
		     addr_str(&r->local, local, sizeof(local)));
	if (w < 0 || (size_t)w >= len) {
		buf[0] = '\0';
		return -ENOSPC;
	}
	return 1;
}

static void print_reverse(const struct diagnose_result *r, FILE *out)
{
	char cmd[DIAG_CMD_MAX], dst[DIAG_ADDR_MAX];

	fprintf(out, "    Reverse-path test advised: paths are asymmetric, so trace from the "
		     "other end back to this host.\n");
	if (diagnose_reverse_command(r, cmd, sizeof(cmd)) == 1) {
		fprintf(out, "    From %s, run: %s\n",
			r->target_name[0]  ? r->target_name
			: r->target.family ? addr_str(&r->target, dst, sizeof(dst))
					   : "the destination",
			cmd);
		return;
	}
	fprintf(out,
		"    This host's address is %s, so the other end cannot trace back to "
		"it: trace from a third host with a public address toward both ends, or "
		"ask the other end to trace toward your public address (what an "
		"address-echo service such as ifconfig.me reports).\n",
		r->local.family ? "private (behind NAT)" : "not known");
}

static void print_finding(const struct diagnose_result *r, const struct diagnose_finding *f,
			  FILE *out)
{
	char addr[DIAG_ADDR_MAX], hops[DIAG_LIST_MAX], who[DIAG_CONTACT_MAX];
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

		fprintf(out, "    hop %2d  %-22s %s  Loss %5.1f%% (%u/%u", h->ttl,
			hop_addr(h, addr, sizeof(addr)), diagnose_region_id(h->region), h->loss_pct,
			h->done - h->received, h->done);
		if (h->done)
			fprintf(out, ", %.1f-%.1f%%", h->loss_lo, h->loss_hi);
		fputc(')', out);
		if (h->received)
			fprintf(out, "  Avg %.1f  Best %.1f  Wrst %.1f  StDev %.1f  Median %.1f",
				h->avg, h->best, h->worst, h->stdev, h->p50);
		fputc('\n', out);
	}
	print_explanation(r, f, out);
	if (f->confirm_sent && !f->confirmed)
		fprintf(out,
			"    Other protocols to the destination: %u of %u answered, which settles "
			"neither reading (lost traffic or ICMP policy).\n",
			f->confirm_answered, f->confirm_sent);
	if (f->confidence >= 0)
		fprintf(out, "    Confidence %.2f (from the loss counts' %d%% intervals).\n",
			f->confidence, DIAGNOSE_LOSS_LEVEL);
	if (f->severity != DIAGNOSE_INFO)
		fprintf(out, "    Contact: %s.\n", contact_line(f, who, sizeof(who)));
	if (f->reverse_path)
		print_reverse(r, out);
}

/* "Confirmation: 12 probes sent (TCP 443: 3/3 from the destination, UDP 33434: 0/3)" */
static void print_confirmation(const struct diagnose_confirm *c, FILE *out)
{
	char name[DIAG_NUM_MAX], from[DIAG_ADDR_MAX];
	size_t i;

	fprintf(out, "Confirmation: %u probes sent", c->probes_sent);
	for (i = 0; i < c->n && i < DIAGNOSE_CONFIRM_MAX; i++) {
		const struct diagnose_confirm_probe *p = &c->p[i];

		fprintf(out, "%s%s: %u/%u", i ? ", " : " (", probe_name(p, name, sizeof(name)),
			p->answered, p->sent);
		if (p->from_dest)
			fprintf(out,
				p->from_dest == p->answered ? " from the destination"
							    : " (%u from the destination)",
				p->from_dest);
		else if (p->answered && p->from.family)
			fprintf(out, " from %s", addr_str(&p->from, from, sizeof(from)));
	}
	fprintf(out, "%s\n", c->n ? ")" : "");
}

static void print_conclusion(const struct diagnose_result *r, FILE *out)
{
	const struct diagnose_finding *p = NULL;
	char addr[DIAG_ADDR_MAX], who[DIAG_CONTACT_MAX];
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
			"the path works.%s\n",
			r->nfindings > 1 ? " See the other findings above." : "");
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
	fprintf(out, ". Contact %s%s.\n", contact_line(p, who, sizeof(who)),
		p->reverse_path ? ", after a reverse-path test" : "");
}

int diagnose_print(const struct diagnose_result *r, FILE *out)
{
	size_t i;

	if (!r || !out)
		return -EINVAL;
	fprintf(out, "Diagnosis:\n");
	for (i = 0; i < r->nfindings; i++) {
		print_finding(r, &r->findings[i], out);
		fputc('\n', out);
	}
	if (r->dropped)
		fprintf(out, "  (%zu more findings not shown)\n\n", r->dropped);
	if (r->confirm.ran)
		print_confirmation(&r->confirm, out);
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

/* A 0..1 figure, three decimals. */
static struct json_object *num3(double v)
{
	char s[DIAG_NUM_MAX];

	snprintf(s, sizeof(s), "%.3f", v);
	return json_object_new_double_s(v, s);
}

/* [lo, hi] in percent. */
static struct json_object *interval(double lo, double hi)
{
	struct json_object *a = json_object_new_array();

	json_object_array_add(a, num(lo));
	json_object_array_add(a, num(hi));
	return a;
}

static struct json_object *as_json(const struct diagnose_as *as)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "asn", json_object_new_int64(as->asn));
	json_object_object_add(o, "name", json_object_new_string(as->name));
	json_object_object_add(o, "prefix", json_object_new_string(as->prefix));
	return o;
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
	json_object_object_add(o, "loss_interval",
			       h->done ? interval(h->loss_lo, h->loss_hi) : NULL);
	json_object_object_add(o, "Avg", num(h->avg));
	json_object_object_add(o, "Best", num(h->best));
	json_object_object_add(o, "Wrst", num(h->worst));
	json_object_object_add(o, "StDev", num(h->stdev));
	json_object_object_add(o, "p50", num(h->p50));
	return o;
}

static struct json_object *probe_json(const struct diagnose_confirm_probe *p)
{
	const struct proto_reply_info *ri = proto_reply_info(p->last_reply);
	const char *pn = proto_protocol_name(p->protocol);
	struct json_object *o = json_object_new_object();
	char addr[DIAG_ADDR_MAX];

	json_object_object_add(o, "protocol", pn ? json_object_new_string(pn) : NULL);
	json_object_object_add(o, "port", json_object_new_int(p->port));
	json_object_object_add(o, "ttl", json_object_new_int(p->ttl));
	json_object_object_add(o, "sent", json_object_new_int64(p->sent));
	json_object_object_add(o, "answered", json_object_new_int64(p->answered));
	json_object_object_add(o, "from_dest", json_object_new_int64(p->from_dest));
	json_object_object_add(o, "reply",
			       p->answered && ri ? json_object_new_string(ri->name) : NULL);
	json_object_object_add(
		o, "from",
		p->from.family ? json_object_new_string(addr_str(&p->from, addr, sizeof(addr)))
			       : NULL);
	return o;
}

/* The entries the destination answered (its evidence of a working path). */
static struct json_object *reached_json(const struct diagnose_confirm *c)
{
	struct json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < c->n && i < DIAGNOSE_CONFIRM_MAX; i++)
		if (c->p[i].from_dest)
			json_object_array_add(a, probe_json(&c->p[i]));
	return a;
}

/* Every entry sent (none answered past the interruption). */
static struct json_object *confirmed_json(const struct diagnose_confirm *c)
{
	struct json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < c->n && i < DIAGNOSE_CONFIRM_MAX; i++)
		if (c->p[i].sent)
			json_object_array_add(a, probe_json(&c->p[i]));
	return a;
}

struct json_object *diagnose_json(const struct diagnose_result *r)
{
	struct json_object *arr = json_object_new_array();
	char cmd[DIAG_CMD_MAX];
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
		json_object_object_add(
			o, "reverse_path_command",
			f->reverse_path && diagnose_reverse_command(r, cmd, sizeof(cmd)) == 1
				? json_object_new_string(cmd)
				: NULL);
		json_object_object_add(o, "confirmed", json_object_new_boolean(f->confirmed));
		json_object_object_add(o, "confidence",
				       f->confidence >= 0 ? num3(f->confidence) : NULL);
		if (f->as.asn || f->as.name[0] || f->as.prefix[0])
			json_object_object_add(o, "as", as_json(&f->as));
		for (k = 0; k < f->nhops; k++)
			json_object_array_add(hops, hop_json(&f->hops[k]));
		json_object_object_add(o, "hops", hops);
		json_object_object_add(o, "truncated", json_object_new_boolean(f->truncated));
		for (k = 0; k < f->nclean; k++)
			json_object_array_add(clean, json_object_new_int(f->clean[k]));
		json_object_object_add(ev, "clean_hops", clean);
		if (f->nhops && f->hops[0].done && f->confidence >= 0) {
			json_object_object_add(ev, "loss_interval",
					       interval(f->hops[0].loss_lo, f->hops[0].loss_hi));
			json_object_object_add(ev, "interval_level",
					       json_object_new_int(DIAGNOSE_LOSS_LEVEL));
		}
		switch (f->kind) {
		case DIAGNOSE_REAL_LOSS:
		case DIAGNOSE_MIXED_LOSS:
		case DIAGNOSE_DEST_LOSS:
			json_object_object_add(ev, "reference_loss", num(f->ref_loss_pct));
			json_object_object_add(ev, "reference_interval",
					       interval(f->ref_lo, f->ref_hi));
			if (f->confirm_sent) {
				struct json_object *c = json_object_new_object();

				json_object_object_add(c, "sent",
						       json_object_new_int64(f->confirm_sent));
				json_object_object_add(c, "from_dest",
						       json_object_new_int64(f->confirm_answered));
				json_object_object_add(ev, "confirmation", c);
			}
			break;
		case DIAGNOSE_RATE_LIMIT:
			if (f->nclean) {
				json_object_object_add(ev, "clean_loss", num(f->clean_pct));
				json_object_object_add(ev, "clean_interval",
						       interval(f->clean_lo, f->clean_hi));
			}
			break;
		case DIAGNOSE_DEST_DROPS_ICMP:
			if (f->confirmed)
				json_object_object_add(ev, "reached_by", reached_json(&r->confirm));
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
			if (f->confirmed)
				json_object_object_add(ev, "confirmed_by",
						       confirmed_json(&r->confirm));
			break;
		case DIAGNOSE_CLEAN:
		case DIAGNOSE_INSUFFICIENT:
		case DIAGNOSE_HIGH_STDEV:
		case DIAGNOSE_BRIEF_SPIKE:
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

struct json_object *diagnose_json_confirmation(const struct diagnose_result *r)
{
	struct json_object *o = json_object_new_object(), *arr;
	size_t i;

	if (!o || !r)
		return o;
	json_object_object_add(o, "ran", json_object_new_boolean(r->confirm.ran));
	json_object_object_add(o, "probes_sent", json_object_new_int64(r->confirm.probes_sent));
	arr = json_object_new_array();
	for (i = 0; i < r->confirm.n && i < DIAGNOSE_CONFIRM_MAX; i++)
		json_object_array_add(arr, probe_json(&r->confirm.p[i]));
	json_object_object_add(o, "probes", arr);
	return o;
}
