/*
 * netsim: answers probes routed into a TUN device as the scenario's path would.
 * Usage: netsim --tun NAME --scenario FILE --log FILE [--ready FILE] [--busy-poll]
 *        [--kernel-ts]
 * The TUN device must exist (the harness creates and routes it: tests/netsim/
 * netsim_lab.sh). Each probe read from it gets a fate from path.c; answers are built at
 * once and held in a deadline heap until their RTT has passed, behind one precise
 * libevent timer. Every probe gets one log line (README.md) once its fate is final.
 * Kernel timestamps (--kernel-ts): a TPACKET_V2 ring on the TUN sees each
 * probe when the kernel queues it to the TUN and each answer when netsim's write enters
 * the stack; their difference is the logged truth (kernel_us), and a probe's deadline
 * counts from its kernel arrival, so a late read by netsim neither adds delay nor hides.
 * Off by default: the ring costs about a quarter of the loadgen throughput, and the
 * benchmarks need the headroom more than the truth.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "path.h"
#include "scenario.h"
#include "wire.h"

#define PENDING_MAX    65536 /* answers waiting for their deadline */
#define READ_BATCH_MAX 1024  /* TUN reads per wake-up before timers get a turn */
#define READ_BUF_LEN   65536 /* one datagram; bigger than the MTU so nothing truncates */
#define LOG_BUF_LEN    (1 << 20)
#define NS_PER_US      1000
#define US_PER_S       1000000
#define TIMER_SLACK_NS 1 /* no timer coalescing: lateness is measurement error */
/*
 * Wake-ups come tens of microseconds late on a busy VM, which would show up as RTT the
 * scenario never asked for: the timer fires this much early and the rest is spun.
 */
#define TIMER_EARLY_US 300
#define KEY_LEN	       160
#define NODE_LEN       40
#define LINE_KEY_LEN   (KEY_LEN + NODE_LEN + INET6_ADDRSTRLEN + 64)
#define ADDR_LEN       INET6_ADDRSTRLEN
#define NS_PER_S       1000000000ULL
/*
 * The kernel-timestamp ring: 512-byte frames hold ~430 bytes of each datagram, enough
 * for every probe header netsim parses and for a whole ICMP error it builds; small
 * frames keep the ring (4 MiB) cache friendly. 8192 frames absorb ~15 ms of loadgen
 * traffic between drains. A probe too long for a frame just has no kernel stamp.
 */
#define KRING_FRAME_LEN 512
#define KRING_BLOCK_LEN (1 << 16)
#define KRING_BLOCKS	64
#define KRING_FRAMES	(KRING_BLOCK_LEN / KRING_FRAME_LEN * KRING_BLOCKS)
#define DIGEST_LEN_MAX	256  /* answer bytes hashed to recognise its frame */
#define ARRIVALS_MAX	8192 /* kernel probe stamps not yet matched to a read probe */
#define MATCH_WINDOW	64   /* entries searched for a match; earlier misses are drops */
/* An answer whose kernel stamp has not shown up after this is logged without one. */
#define STAMP_WAIT_MAX_US 100000
#define FNV_OFFSET	  14695981039346656037ULL
#define FNV_PRIME	  1099511628211ULL

/* A probe as the kernel tap and the TUN read both see it (zero-filled: compared whole). */
struct probe_key {
	union addr_ip src, dst;
	uint32_t tcp_seq;
	uint16_t a, b; /* ICMP id/seq or UDP/TCP ports */
	uint8_t family, proto, ttl, pad;
};

struct arrival {
	struct probe_key key;
	uint64_t real_ns; /* CLOCK_REALTIME, when the kernel queued the probe to the TUN */
};

struct pending {
	uint64_t deadline_us;
	uint64_t arrival_us; /* monotonic: kernel arrival when stamped, else the read */
	uint64_t read_us;
	uint64_t write_us;
	uint64_t in_ns, out_ns; /* kernel stamps (CLOCK_REALTIME), 0 when unknown */
	uint64_t digest;	/* FNV-1a of the answer, to find its kernel stamp */
	uint32_t delay_us;
	uint16_t len;
	uint8_t done; /* out_ns found (or given up): may leave the await queue */
	uint8_t write_ok;
	char key[LINE_KEY_LEN]; /* the log line's probe part, written at arrival */
	uint8_t buf[WIRE_MTU + 64];
};

struct sim {
	struct event_base *base;
	struct event *tun_ev, *timer_ev, *sig_term, *sig_int, *sig_usr1;
	int tun;
	FILE *log;
	struct scenario scn;
	struct path path;
	struct pending *slots;
	uint32_t *free_list;
	size_t nfree;
	uint32_t *heap; /* slot indices, min-heap on deadline */
	size_t nheap;
	uint64_t start_us;
	int stop;
	uint64_t n_probes, n_answered, n_ignored, n_overflow, n_write_err;
	/* kernel timestamps */
	int kfd;
	struct event *kring_ev;
	uint8_t *kring;
	size_t kring_next;
	int64_t real_minus_mono_ns;
	struct arrival *arrivals; /* FIFO */
	size_t arr_head, arr_len;
	uint32_t *await; /* FIFO of slots written, waiting for their answer's stamp */
	size_t aw_head, aw_len;
	size_t aw_cursor; /* entries from aw_head already matched or given up */
	uint64_t n_in_miss, n_out_miss, n_kring_drops;
	uint8_t rbuf[READ_BUF_LEN];
};

/* netsim's clock: the tree's monotonic one, unsigned for deadline arithmetic. */
static uint64_t now_us(void)
{
	return (uint64_t)clock_now_us();
}

static int heap_less(const struct sim *s, size_t a, size_t b)
{
	return s->slots[s->heap[a]].deadline_us < s->slots[s->heap[b]].deadline_us;
}

static void heap_swap(struct sim *s, size_t a, size_t b)
{
	uint32_t t = s->heap[a];

	s->heap[a] = s->heap[b];
	s->heap[b] = t;
}

static void heap_push(struct sim *s, uint32_t slot)
{
	size_t i = s->nheap++;

	s->heap[i] = slot;
	while (i && heap_less(s, i, (i - 1) / 2)) {
		heap_swap(s, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static uint32_t heap_pop(struct sim *s)
{
	uint32_t top = s->heap[0];
	size_t i = 0, c;

	s->heap[0] = s->heap[--s->nheap];
	for (;;) {
		c = 2 * i + 1;
		if (c >= s->nheap)
			break;
		if (c + 1 < s->nheap && heap_less(s, c + 1, c))
			c++;
		if (!heap_less(s, c, i))
			break;
		heap_swap(s, i, c);
		i = c;
	}
	return top;
}

static void format_key(const struct wire_probe *p, char *out, size_t cap)
{
	static const char *const proto[] = {"icmp", "udp", "tcp"};
	char src[ADDR_LEN], dst[ADDR_LEN];

	inet_ntop(p->family, &p->src, src, sizeof(src));
	inet_ntop(p->family, &p->dst, dst, sizeof(dst));
	if (p->proto == PATH_PROTO_ICMP)
		snprintf(out, cap, "proto=%s%s src=%s dst=%s id=%u seq=%u ttl=%u", proto[p->proto],
			 p->family == AF_INET ? "" : "6", src, dst, p->icmp_id, p->icmp_seq,
			 p->ttl);
	else
		snprintf(out, cap, "proto=%s%s src=%s dst=%s sport=%u dport=%u ttl=%u",
			 proto[p->proto], p->family == AF_INET ? "" : "6", src, dst, p->sport,
			 p->dport, p->ttl);
}

static void format_node(const struct path_result *r, char *out, size_t cap)
{
	if (r->node)
		snprintf(out, cap, "pos=%zu node=%zu", r->pos, r->node);
	else
		snprintf(out, cap, "pos=%zu node=dest", r->pos);
}

static void free_slot(struct sim *s, uint32_t slot)
{
	s->free_list[s->nfree++] = slot;
}

static void log_answer(struct sim *s, const struct pending *pd)
{
	fprintf(s->log,
		"t_us=%" PRIu64 " %s rtt_us=%" PRIu32 " late_us=%" PRId64 " applied_us=%" PRIu64,
		pd->arrival_us - s->start_us, pd->key, pd->delay_us,
		(int64_t)(pd->write_us - pd->deadline_us), pd->write_us - pd->read_us);
	if (pd->in_ns && pd->out_ns > pd->in_ns)
		fprintf(s->log, " kernel_us=%" PRIu64 " wait_us=%" PRIu64,
			(pd->out_ns - pd->in_ns + NS_PER_US / 2) / NS_PER_US,
			pd->read_us - pd->arrival_us);
	fputs(pd->write_ok ? "\n" : " write=failed\n", s->log);
}

static uint64_t digest(const uint8_t *p, size_t n)
{
	uint64_t h = FNV_OFFSET;
	size_t i, m = n < DIGEST_LEN_MAX ? n : DIGEST_LEN_MAX;

	for (i = 0; i < m; i++)
		h = (h ^ p[i]) * FNV_PRIME;
	return h ^ n;
}

/*
 * Write the answer. Without kernel stamps it is logged and freed at once; with them it
 * waits in the await queue until the ring shows when the kernel took it (drain_kring).
 */
static void send_slot(struct sim *s, uint32_t slot, uint64_t now)
{
	struct pending *pd = &s->slots[slot];
	ssize_t n = write(s->tun, pd->buf, pd->len);

	pd->write_ok = n == (ssize_t)pd->len;
	if (!pd->write_ok)
		s->n_write_err++;
	s->n_answered++;
	pd->write_us = now;
	if (s->kfd < 0) {
		log_answer(s, pd);
		free_slot(s, slot);
		return;
	}
	pd->out_ns = 0;
	pd->done = !pd->write_ok; /* nothing entered the stack: no stamp will come */
	pd->digest = digest(pd->buf, pd->len);
	s->await[(s->aw_head + s->aw_len++) % PENDING_MAX] = slot;
}

static void arm_timer(struct sim *s, uint64_t now)
{
	struct timeval tv;
	uint64_t d;

	if (!s->nheap) {
		evtimer_del(s->timer_ev);
		return;
	}
	d = s->slots[s->heap[0]].deadline_us;
	d = d > TIMER_EARLY_US ? d - TIMER_EARLY_US : 0;
	tv = clock_tv_of_us(d > now ? (int64_t)(d - now) : 0);
	evtimer_add(s->timer_ev, &tv);
}

static void run_due(struct sim *s, int spin)
{
	uint64_t now = now_us();

	while (s->nheap) {
		uint64_t d = s->slots[s->heap[0]].deadline_us;
		uint32_t slot;

		if (d > now && spin && d - now <= TIMER_EARLY_US) {
			while ((now = now_us()) < d)
				;
		}
		if (d > now)
			break;
		slot = heap_pop(s);
		send_slot(s, slot, now);
	}
}

static void key_of(const struct wire_probe *p, struct probe_key *k)
{
	memset(k, 0, sizeof(*k));
	k->src = p->src; /* wire_parse zero-fills, so the unused part of v4 is 0 too */
	k->dst = p->dst;
	k->family = (uint8_t)p->family;
	k->proto = (uint8_t)p->proto;
	k->ttl = p->ttl;
	if (p->proto == PATH_PROTO_ICMP) {
		k->a = p->icmp_id;
		k->b = p->icmp_seq;
	} else {
		k->a = p->sport;
		k->b = p->dport;
		k->tcp_seq = p->tcp_seq;
	}
}

/* CLOCK_REALTIME (the kernel's packet stamps) minus CLOCK_MONOTONIC (netsim's clock). */
static void clock_sync(struct sim *s)
{
	struct timespec r;
	int64_t m;

	clock_gettime(CLOCK_REALTIME, &r);
	m = clock_now_ns();
	s->real_minus_mono_ns = (int64_t)r.tv_sec * (int64_t)NS_PER_S + (int64_t)r.tv_nsec - m;
}

static void note_arrival(struct sim *s, const uint8_t *pkt, size_t len, uint64_t real_ns)
{
	struct wire_probe p;
	struct arrival *a;

	if (wire_parse(pkt, len, &p))
		return;
	if (s->arr_len == ARRIVALS_MAX) { /* netsim is far behind: forget the oldest */
		s->arr_head = (s->arr_head + 1) % ARRIVALS_MAX;
		s->arr_len--;
	}
	a = &s->arrivals[(s->arr_head + s->arr_len++) % ARRIVALS_MAX];
	key_of(&p, &a->key);
	a->real_ns = real_ns;
}

/*
 * The tap sees probes in the order the TUN queues them, so the read probe is at or near
 * the head: entries before it were dropped by the full TUN queue and are forgotten.
 */
static uint64_t take_arrival(struct sim *s, const struct wire_probe *p)
{
	struct probe_key k;
	size_t i;

	key_of(p, &k);
	for (i = 0; i < s->arr_len && i < MATCH_WINDOW; i++) {
		const struct arrival *a = &s->arrivals[(s->arr_head + i) % ARRIVALS_MAX];

		if (!memcmp(&a->key, &k, sizeof(k))) {
			s->arr_head = (s->arr_head + i + 1) % ARRIVALS_MAX;
			s->arr_len -= i + 1;
			return a->real_ns;
		}
	}
	s->n_in_miss++;
	return 0;
}

/*
 * Answers enter the stack in the order netsim writes them; a match further down the
 * queue means the ones before it lost their frame (ring full), so they give up.
 */
static void note_departure(struct sim *s, const uint8_t *pkt, size_t snap, size_t len,
			   uint64_t real_ns)
{
	uint64_t d;
	size_t i, j;

	if (snap < len && snap < DIGEST_LEN_MAX)
		return;
	d = digest(pkt, len);
	for (i = s->aw_cursor; i < s->aw_len && i < s->aw_cursor + MATCH_WINDOW; i++) {
		struct pending *pd = &s->slots[s->await[(s->aw_head + i) % PENDING_MAX]];

		if (pd->done || pd->digest != d || pd->len != len)
			continue;
		pd->out_ns = real_ns;
		pd->done = 1;
		for (j = s->aw_cursor; j < i; j++)
			s->slots[s->await[(s->aw_head + j) % PENDING_MAX]].done = 1;
		s->aw_cursor = i + 1;
		return;
	}
}

static void drain_kring(struct sim *s)
{
	if (s->kfd < 0)
		return;
	for (;;) {
		struct tpacket2_hdr *h = (void *)(s->kring + s->kring_next * KRING_FRAME_LEN);
		const struct sockaddr_ll *ll;
		const uint8_t *pkt;
		uint64_t ts;

		if (!(__atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER))
			break;
		ll = (const void *)((uint8_t *)h + TPACKET_ALIGN(sizeof(*h)));
		pkt = (const uint8_t *)h + h->tp_net;
		ts = (uint64_t)h->tp_sec * NS_PER_S + h->tp_nsec;
		if (ll->sll_pkttype == PACKET_OUTGOING)
			note_arrival(s, pkt, h->tp_snaplen, ts);
		else
			note_departure(s, pkt, h->tp_snaplen, h->tp_len, ts);
		__atomic_store_n(&h->tp_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
		s->kring_next = (s->kring_next + 1) % KRING_FRAMES;
	}
}

/* Log and free answers at the head of the await queue that have their stamp (or waited
 * too long: all = 1 at exit). */
static void flush_await(struct sim *s, uint64_t now, int all)
{
	while (s->aw_len) {
		uint32_t slot = s->await[s->aw_head];
		struct pending *pd = &s->slots[slot];

		if (!pd->done && !all && now - pd->write_us < STAMP_WAIT_MAX_US)
			break;
		if (!pd->out_ns)
			s->n_out_miss++;
		log_answer(s, pd);
		free_slot(s, slot);
		s->aw_head = (s->aw_head + 1) % PENDING_MAX;
		s->aw_len--;
		if (s->aw_cursor)
			s->aw_cursor--;
	}
}

static const void *answer_addr(const struct wire_probe *p, const struct path_result *r)
{
	const struct scenario_responder *resp;

	if (r->kind != PATH_KIND_TTL_EXCEEDED)
		return p->family == AF_INET ? (const void *)&p->dst.v4 : (const void *)&p->dst.v6;
	resp = &r->hop->resp[r->resp];
	return p->family == AF_INET ? (const void *)&resp->v4 : (const void *)&resp->v6;
}

static void handle_probe(struct sim *s, const uint8_t *pkt, size_t len, uint64_t now)
{
	struct wire_probe p;
	struct path_probe pp;
	struct path_result r;
	struct pending *pd;
	char key[KEY_LEN], node[NODE_LEN], from[ADDR_LEN];
	uint64_t read_us = now, in_ns = 0;
	uint32_t slot;
	int n;

	if (wire_parse(pkt, len, &p)) {
		s->n_ignored++;
		return;
	}
	s->n_probes++;
	if (s->kfd >= 0)
		in_ns = take_arrival(s, &p);
	if (in_ns) {
		/* The path's clock starts when the kernel queued the probe, not at the read. */
		int64_t in_us = ((int64_t)in_ns - s->real_minus_mono_ns) / NS_PER_US;

		if (in_us > 0 && (uint64_t)in_us < now)
			now = (uint64_t)in_us;
	}
	pp.family = p.family;
	pp.proto = p.proto;
	pp.dst = &p.dst;
	pp.ttl = p.ttl;
	pp.flow = p.flow;
	path_decide(&s->path, &pp, now, &r);
	format_key(&p, key, sizeof(key));
	format_node(&r, node, sizeof(node));
	if (r.fate != PATH_FATE_ANSWER) {
		fprintf(s->log, "t_us=%" PRIu64 " %s fate=%s %s\n", now - s->start_us, key,
			path_fate_name(r.fate), r.fate == PATH_FATE_NOROUTE ? "pos=0" : node);
		return;
	}
	if (!s->nfree) {
		s->n_overflow++;
		fprintf(s->log, "t_us=%" PRIu64 " %s fate=overflow %s\n", now - s->start_us, key,
			node);
		return;
	}
	slot = s->free_list[--s->nfree];
	pd = &s->slots[slot];
	n = wire_build(&p, r.kind, answer_addr(&p, &r), r.pos - 1, r.hop->mpls, r.hop->nmpls,
		       pd->buf, sizeof(pd->buf));
	if (n < 0) {
		s->free_list[s->nfree++] = slot;
		fprintf(s->log, "t_us=%" PRIu64 " %s fate=unbuildable %s\n", now - s->start_us, key,
			node);
		return;
	}
	inet_ntop(p.family, answer_addr(&p, &r), from, sizeof(from));
	pd->len = (uint16_t)n;
	pd->arrival_us = now;
	pd->read_us = read_us;
	pd->in_ns = in_ns;
	pd->delay_us = r.delay_us;
	pd->deadline_us = now + r.delay_us;
	snprintf(pd->key, sizeof(pd->key), "%s fate=answer %s from=%s kind=%s", key, node, from,
		 path_kind_name(r.kind));
	if (pd->deadline_us <= read_us) {
		send_slot(s, slot, read_us);
		return;
	}
	heap_push(s, slot);
}

static void on_tun(evutil_socket_t fd, short what, void *arg)
{
	struct sim *s = arg;
	size_t i;

	clock_sync(s);
	for (i = 0; i < READ_BATCH_MAX; i++) {
		ssize_t n = read(fd, s->rbuf, sizeof(s->rbuf));

		if (n <= 0)
			break;
		drain_kring(s); /* the tap ran before the TUN queued it: its stamp is there */
		handle_probe(s, s->rbuf, (size_t)n, now_us());
	}
	run_due(s, 0);
	drain_kring(s);
	flush_await(s, now_us(), 0);
	arm_timer(s, now_us());
	fflush(s->log);
}

static void on_kring(evutil_socket_t fd, short what, void *arg)
{
	struct sim *s = arg;

	drain_kring(s);
	flush_await(s, now_us(), 0);
	fflush(s->log);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct sim *s = arg;

	run_due(s, 1);
	drain_kring(s);
	flush_await(s, now_us(), 0);
	arm_timer(s, now_us());
	fflush(s->log);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct sim *s = arg;

	fflush(s->log);
	if (sig != SIGUSR1) {
		s->stop = 1;
		event_base_loopbreak(s->base);
	}
}

/*
 * --busy-poll: never sleep. A probe's clock starts when netsim reads it, so the time the
 * kernel takes to wake a sleeping reader (a few hundred microseconds on an idle VM) would
 * be RTT nobody applied; the accuracy test spins one CPU instead.
 */
static void busy_loop(struct sim *s)
{
	while (!s->stop) {
		size_t i;

		clock_sync(s);
		for (i = 0; i < READ_BATCH_MAX; i++) {
			ssize_t n = read(s->tun, s->rbuf, sizeof(s->rbuf));

			if (n <= 0)
				break;
			drain_kring(s);
			handle_probe(s, s->rbuf, (size_t)n, now_us());
		}
		run_due(s, 0);
		drain_kring(s);
		flush_await(s, now_us(), 0);
		if (i)
			fflush(s->log);
		event_base_loop(s->base, EVLOOP_NONBLOCK);
		/* Idle: let the prober run on this CPU now rather than at the next tick. */
		if (!i)
			sched_yield();
	}
}

static int tun_attach(const char *name)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	if (strlen(name) >= sizeof(ifr.ifr_name)) {
		close(fd);
		return -ENAMETOOLONG;
	}
	strcpy(ifr.ifr_name, name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/*
 * A TPACKET_V2 ring on the TUN: PACKET_OUTGOING frames are probes the kernel queued to
 * it, the others are answers netsim wrote. Stamps come with each frame, without a
 * syscall. Bound only once the ring exists, so it never sees another interface.
 */
static int kring_open(struct sim *s, const char *ifname)
{
	struct tpacket_req req = {
		.tp_block_size = KRING_BLOCK_LEN,
		.tp_block_nr = KRING_BLOCKS,
		.tp_frame_size = KRING_FRAME_LEN,
		.tp_frame_nr = KRING_FRAMES,
	};
	struct sockaddr_ll sll;
	int v = TPACKET_V2, on = 1, e;
	unsigned int idx = if_nametoindex(ifname);
	void *map;

	if (!idx)
		return -errno;
	s->kfd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->kfd < 0)
		return -errno;
	/* SO_TIMESTAMPNS turns on the kernel's receive stamps (netstamp_needed). */
	if (setsockopt(s->kfd, SOL_PACKET, PACKET_VERSION, &v, sizeof(v)) ||
	    setsockopt(s->kfd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) ||
	    setsockopt(s->kfd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)))
		goto fail;
	map = mmap(NULL, (size_t)KRING_BLOCK_LEN * KRING_BLOCKS, PROT_READ | PROT_WRITE, MAP_SHARED,
		   s->kfd, 0);
	if (map == MAP_FAILED)
		goto fail;
	s->kring = map;
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = (int)idx;
	if (bind(s->kfd, (struct sockaddr *)&sll, sizeof(sll)))
		goto fail;
	s->arrivals = calloc(ARRIVALS_MAX, sizeof(*s->arrivals));
	s->await = calloc(PENDING_MAX, sizeof(*s->await));
	if (!s->arrivals || !s->await) {
		errno = ENOMEM;
		goto fail;
	}
	return 0;
fail:
	e = errno;
	if (s->kring)
		munmap(s->kring, (size_t)KRING_BLOCK_LEN * KRING_BLOCKS);
	s->kring = NULL;
	close(s->kfd);
	s->kfd = -1;
	return -e;
}

static int load_scenario(const char *file, struct scenario *scn)
{
	static char text[SCENARIO_TEXT_MAX + 1];
	struct scenario_error err;
	FILE *f = fopen(file, "r");
	size_t n;
	int rc;

	if (!f) {
		fprintf(stderr, "netsim: %s: %s\n", file, strerror(errno));
		return -1;
	}
	n = fread(text, 1, sizeof(text), f);
	fclose(f);
	rc = scenario_parse(text, n, scn, &err);
	if (rc) {
		fprintf(stderr, "netsim: %s:%zu: %s\n", file, err.line, err.reason);
		return -1;
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: netsim --tun NAME --scenario FILE --log FILE [--ready FILE]\n"
			"              [--busy-poll] [--kernel-ts]\n"
			"       netsim --check FILE   (parse a scenario and exit)\n");
	exit(2);
}

static int setup(struct sim *s, const char *tun, const char *log_file, int kts)
{
	struct event_config *cfg;
	size_t i;

	s->slots = calloc(PENDING_MAX, sizeof(*s->slots));
	s->free_list = calloc(PENDING_MAX, sizeof(*s->free_list));
	s->heap = calloc(PENDING_MAX, sizeof(*s->heap));
	if (!s->slots || !s->free_list || !s->heap)
		return -ENOMEM;
	for (i = 0; i < PENDING_MAX; i++)
		s->free_list[i] = (uint32_t)(PENDING_MAX - 1 - i);
	s->nfree = PENDING_MAX;
	s->tun = tun_attach(tun);
	if (s->tun < 0) {
		fprintf(stderr, "netsim: tun %s: %s\n", tun, strerror(-s->tun));
		return s->tun;
	}
	s->log = fopen(log_file, "w");
	if (!s->log) {
		fprintf(stderr, "netsim: %s: %s\n", log_file, strerror(errno));
		return -errno;
	}
	setvbuf(s->log, NULL, _IOFBF, LOG_BUF_LEN);
	if (kts) {
		int rc = kring_open(s, tun);

		if (rc) {
			fprintf(stderr, "netsim: kernel timestamps on %s: %s\n", tun,
				strerror(-rc));
			return rc;
		}
	}
	/* Timers are the simulated delays: no coalescing, and timerfd-backed precision. */
	prctl(PR_SET_TIMERSLACK, TIMER_SLACK_NS, 0, 0, 0);
	cfg = event_config_new();
	if (!cfg)
		return -ENOMEM;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	s->base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (!s->base)
		return -ENOMEM;
	s->tun_ev = event_new(s->base, s->tun, EV_READ | EV_PERSIST, on_tun, s);
	s->timer_ev = evtimer_new(s->base, on_timer, s);
	s->sig_term = evsignal_new(s->base, SIGTERM, on_signal, s);
	s->sig_int = evsignal_new(s->base, SIGINT, on_signal, s);
	s->sig_usr1 = evsignal_new(s->base, SIGUSR1, on_signal, s);
	if (!s->tun_ev || !s->timer_ev || !s->sig_term || !s->sig_int || !s->sig_usr1)
		return -ENOMEM;
	if (s->kfd >= 0) {
		s->kring_ev = event_new(s->base, s->kfd, EV_READ | EV_PERSIST, on_kring, s);
		if (!s->kring_ev)
			return -ENOMEM;
		event_add(s->kring_ev, NULL);
	}
	event_add(s->tun_ev, NULL);
	event_add(s->sig_term, NULL);
	event_add(s->sig_int, NULL);
	event_add(s->sig_usr1, NULL);
	return 0;
}

static void teardown(struct sim *s)
{
	struct tpacket_stats st = {0, 0};
	socklen_t sl = sizeof(st);

	if (s->kfd >= 0) {
		drain_kring(s);
		flush_await(s, now_us(), 1);
		if (!getsockopt(s->kfd, SOL_PACKET, PACKET_STATISTICS, &st, &sl))
			s->n_kring_drops = st.tp_drops;
	}
	while (s->nheap) {
		struct pending *pd = &s->slots[heap_pop(s)];

		fprintf(s->log, "t_us=%" PRIu64 " %s rtt_us=%" PRIu32 " unsent=1\n",
			pd->arrival_us - s->start_us, pd->key, pd->delay_us);
	}
	if (s->log)
		fclose(s->log);
	fprintf(stderr,
		"netsim: %" PRIu64 " probes, %" PRIu64 " answered, %" PRIu64
		" ignored packets, %" PRIu64 " overflow, %" PRIu64 " write errors\n",
		s->n_probes, s->n_answered, s->n_ignored, s->n_overflow, s->n_write_err);
	if (s->kfd >= 0)
		fprintf(stderr,
			"netsim: kernel stamps missing for %" PRIu64 " probes, %" PRIu64
			" answers; ring drops %" PRIu64 "\n",
			s->n_in_miss, s->n_out_miss, s->n_kring_drops);
	if (s->kring_ev)
		event_free(s->kring_ev);
	if (s->sig_usr1)
		event_free(s->sig_usr1);
	if (s->sig_int)
		event_free(s->sig_int);
	if (s->sig_term)
		event_free(s->sig_term);
	if (s->timer_ev)
		event_free(s->timer_ev);
	if (s->tun_ev)
		event_free(s->tun_ev);
	if (s->base)
		event_base_free(s->base);
	if (s->tun >= 0)
		close(s->tun);
	if (s->kring)
		munmap(s->kring, (size_t)KRING_BLOCK_LEN * KRING_BLOCKS);
	if (s->kfd >= 0)
		close(s->kfd);
	free(s->await);
	free(s->arrivals);
	free(s->heap);
	free(s->free_list);
	free(s->slots);
}

int main(int argc, char **argv)
{
	const char *tun = NULL, *scn_file = NULL, *log_file = NULL, *ready = NULL, *check = NULL;
	struct sim *s;
	int i, rc, busy = 0, kts = 0;

	for (i = 1; i < argc; i += 2) {
		if (!strcmp(argv[i], "--busy-poll")) {
			busy = 1;
			i--;
		} else if (!strcmp(argv[i], "--kernel-ts")) {
			kts = 1;
			i--;
		} else if (i + 1 == argc) {
			usage();
		} else if (!strcmp(argv[i], "--tun"))
			tun = argv[i + 1];
		else if (!strcmp(argv[i], "--scenario"))
			scn_file = argv[i + 1];
		else if (!strcmp(argv[i], "--log"))
			log_file = argv[i + 1];
		else if (!strcmp(argv[i], "--ready"))
			ready = argv[i + 1];
		else if (!strcmp(argv[i], "--check"))
			check = argv[i + 1];
		else
			usage();
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return 1;
	s->tun = -1;
	s->kfd = -1;
	if (check) {
		rc = load_scenario(check, &s->scn);
		free(s);
		return rc ? 1 : 0;
	}
	if (!tun || !scn_file || !log_file)
		usage();
	if (load_scenario(scn_file, &s->scn)) {
		free(s);
		return 1;
	}
	path_init(&s->path, &s->scn);
	rc = setup(s, tun, log_file, kts);
	if (!rc) {
		s->start_us = now_us();
		if (ready) {
			FILE *f = fopen(ready, "w");

			if (f) {
				fprintf(f, "%ld\n", (long)getpid());
				fclose(f);
			}
		}
		if (busy)
			busy_loop(s);
		else
			event_base_dispatch(s->base);
	}
	teardown(s);
	free(s);
	return rc ? 1 : 0;
}
