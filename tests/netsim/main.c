/*
 * netsim: answers probes routed into a TUN device as the scenario's path would.
 * Usage: netsim --tun NAME --scenario FILE --log FILE [--ready FILE] [--busy-poll]
 * The TUN device must exist (the harness creates and routes it: tests/netsim/
 * netsim_lab.sh). Each probe read from it gets a fate from path.c; answers are built at
 * once and held in a deadline heap until their RTT has passed, behind one precise
 * libevent timer. Every probe gets one log line (README.md) once its fate is final.
 */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

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

struct pending {
	uint64_t deadline_us;
	uint64_t arrival_us;
	uint32_t delay_us;
	uint16_t len;
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
	uint8_t rbuf[READ_BUF_LEN];
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * US_PER_S + (uint64_t)ts.tv_nsec / NS_PER_US;
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

static void send_slot(struct sim *s, struct pending *pd, uint64_t now)
{
	ssize_t n = write(s->tun, pd->buf, pd->len);

	if (n != (ssize_t)pd->len)
		s->n_write_err++;
	s->n_answered++;
	fprintf(s->log,
		"t_us=%" PRIu64 " %s rtt_us=%" PRIu32 " late_us=%" PRId64 " applied_us=%" PRIu64
		"%s\n",
		pd->arrival_us - s->start_us, pd->key, pd->delay_us,
		(int64_t)(now - pd->deadline_us), now - pd->arrival_us,
		n == (ssize_t)pd->len ? "" : " write=failed");
}

static void arm_timer(struct sim *s, uint64_t now)
{
	struct timeval tv = {0, 0};
	uint64_t d;

	if (!s->nheap) {
		evtimer_del(s->timer_ev);
		return;
	}
	d = s->slots[s->heap[0]].deadline_us;
	d = d > TIMER_EARLY_US ? d - TIMER_EARLY_US : 0;
	if (d > now) {
		tv.tv_sec = (time_t)((d - now) / US_PER_S);
		tv.tv_usec = (suseconds_t)((d - now) % US_PER_S);
	}
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
		send_slot(s, &s->slots[slot], now);
		s->free_list[s->nfree++] = slot;
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
	uint32_t slot;
	int n;

	if (wire_parse(pkt, len, &p)) {
		s->n_ignored++;
		return;
	}
	s->n_probes++;
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
	pd->delay_us = r.delay_us;
	pd->deadline_us = now + r.delay_us;
	snprintf(pd->key, sizeof(pd->key), "%s fate=answer %s from=%s kind=%s", key, node, from,
		 path_kind_name(r.kind));
	if (!r.delay_us) {
		send_slot(s, pd, now);
		s->free_list[s->nfree++] = slot;
		return;
	}
	heap_push(s, slot);
}

static void on_tun(evutil_socket_t fd, short what, void *arg)
{
	struct sim *s = arg;
	size_t i;

	for (i = 0; i < READ_BATCH_MAX; i++) {
		ssize_t n = read(fd, s->rbuf, sizeof(s->rbuf));

		if (n <= 0)
			break;
		handle_probe(s, s->rbuf, (size_t)n, now_us());
	}
	run_due(s, 0);
	arm_timer(s, now_us());
	fflush(s->log);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct sim *s = arg;

	run_due(s, 1);
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

		for (i = 0; i < READ_BATCH_MAX; i++) {
			ssize_t n = read(s->tun, s->rbuf, sizeof(s->rbuf));

			if (n <= 0)
				break;
			handle_probe(s, s->rbuf, (size_t)n, now_us());
		}
		run_due(s, 0);
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
			"              [--busy-poll]\n"
			"       netsim --check FILE   (parse a scenario and exit)\n");
	exit(2);
}

static int setup(struct sim *s, const char *tun, const char *log_file)
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
	event_add(s->tun_ev, NULL);
	event_add(s->sig_term, NULL);
	event_add(s->sig_int, NULL);
	event_add(s->sig_usr1, NULL);
	return 0;
}

static void teardown(struct sim *s)
{
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
	free(s->heap);
	free(s->free_list);
	free(s->slots);
}

int main(int argc, char **argv)
{
	const char *tun = NULL, *scn_file = NULL, *log_file = NULL, *ready = NULL, *check = NULL;
	struct sim *s;
	int i, rc, busy = 0;

	for (i = 1; i < argc; i += 2) {
		if (!strcmp(argv[i], "--busy-poll")) {
			busy = 1;
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
	rc = setup(s, tun, log_file);
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
