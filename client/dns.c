/*
 * dns: reverse lookups of hop addresses through evdns, answered from a bounded cache.
 * The cache and the escaper are pure functions so that tests can drive them without a
 * network; the rest ties them to evdns queries on the caller's event base.
 */
#include "client/dns.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "common/clock.h"
#include "common/log.h"

/* One query out in evdns; freed by its callback, or by dns_free when it never came. */
struct dns_query {
	struct dns *dns;
	struct addr addr;
	struct dns_query *prev, *next;
};

/* A report waiting for its names: done once, when all are in or the time is up. */
struct dns_waiter {
	struct dns *dns;
	struct dns_waiter *prev, *next;
	struct event *timer;
	dns_wait_fn done;
	void *ctx;
	size_t n;
	struct addr addrs[]; /* n */
};

/* A forward lookup: evdns' request, then the answer handed over from the loop. */
struct dns_resolve {
	struct dns *dns;  /* NULL once cancelled */
	struct dns *home; /* kept: evdns's last call is counted there */
	struct dns_resolve *prev, *next;
	struct evdns_getaddrinfo_request *req;
	struct event *deliver; /* the answer goes to done from here */
	dns_resolve_fn done;
	void *ctx;
	int rc;
	int cancelled; /* evdns was told; its last call is still to come */
	int orphan;    /* freed by its owner: that call frees it */
	struct addr addr;
};

struct dns {
	struct event_base *base;
	struct evdns_base *evdns;
	struct dns_query *queries; /* outstanding, for dns_free */
	struct dns_waiter *waiters;
	struct dns_resolve *resolves; /* outstanding forward lookups */
	struct dns_cache cache;
	unsigned owed; /* evdns_getaddrinfo calls still to come, cancelled ones too */
	int dying;     /* freed by its owner: the last of those calls finishes it */
};

static size_t count_pending(struct dns *d, const struct addr *addrs, size_t n);
static void check_waiters(struct dns *d);
static void resolve_detach(struct dns_resolve *r);
static void waiter_unlink(struct dns_waiter *w);
static void owed_paid(struct dns *d);

static int addr_ok(const struct addr *a)
{
	return a && (a->family == AF_INET || a->family == AF_INET6);
}

void dns_cache_init(struct dns_cache *c)
{
	c->n = 0;
	c->tick = 0;
}

/* Linear: DNS_CACHE_MAX is small and a lookup is dwarfed by formatting the row. */
static struct dns_entry *cache_slot(struct dns_cache *c, const struct addr *addr)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (addr_equal(&c->entries[i].addr, addr))
			return &c->entries[i];
	return NULL;
}

struct dns_entry *dns_cache_find(struct dns_cache *c, const struct addr *addr)
{
	struct dns_entry *e = cache_slot(c, addr);

	if (e)
		e->used = ++c->tick;
	return e;
}

struct dns_entry *dns_cache_add(struct dns_cache *c, const struct addr *addr)
{
	struct dns_entry *e = NULL;
	size_t i;

	if (c->n < DNS_CACHE_MAX) {
		e = &c->entries[c->n++];
	} else {
		/* A pending entry stays: its query's answer has to find it. */
		for (i = 0; i < c->n; i++) {
			struct dns_entry *x = &c->entries[i];

			if (x->state != DNS_STATE_PENDING && (!e || x->used < e->used))
				e = x;
		}
		if (!e)
			return NULL;
	}
	memset(e, 0, sizeof(*e));
	e->addr.family = addr->family;
	if (addr->family == AF_INET)
		e->addr.u.v4 = addr->u.v4;
	else
		e->addr.u.v6 = addr->u.v6;
	e->state = DNS_STATE_PENDING;
	e->used = ++c->tick;
	return e;
}

void dns_cache_answer(struct dns_entry *e, const char *name, int64_t now_s)
{
	e->stamp_s = now_s;
	e->name[0] = '\0';
	/*
	 * Stored as received, only bounded: every renderer escapes untrusted names itself
	 * (report_escape), and escaping here too would print "\\x1b" for ESC.
	 */
	if (name && *name) {
		size_t n = strnlen(name, DNS_NAME_MAX);

		if (n >= sizeof(e->name))
			n = sizeof(e->name) - 1;
		memcpy(e->name, name, n);
		e->name[n] = '\0';
		e->state = DNS_STATE_FOUND;
		return;
	}
	e->state = DNS_STATE_MISSING;
}

int dns_cache_stale(const struct dns_entry *e, int64_t now_s)
{
	return e->state == DNS_STATE_EMPTY ||
	       (e->state == DNS_STATE_MISSING && now_s - e->stamp_s >= DNS_NEGATIVE_TTL_S);
}

static void query_unlink(struct dns_query *q)
{
	struct dns *d = q->dns;

	if (q->prev)
		q->prev->next = q->next;
	else
		d->queries = q->next;
	if (q->next)
		q->next->prev = q->prev;
}

static void on_answer(int result, char type, int count, int ttl, void *addresses, void *arg)
{
	struct dns_query *q = arg;
	struct dns *d = q->dns;
	struct dns_entry *e;
	const char *name = NULL;

	(void)ttl;
	if (result == DNS_ERR_NONE && type == DNS_PTR && count > 0 && addresses)
		name = *(const char *const *)addresses;
	else
		log_debug("reverse lookup failed: %s", evdns_err_to_string(result));
	e = cache_slot(&d->cache, &q->addr);
	if (!e)
		e = dns_cache_add(&d->cache, &q->addr);
	if (e)
		dns_cache_answer(e, name, clock_now_us() / CLOCK_US_PER_S);
	query_unlink(q);
	free(q);
	check_waiters(d);
}

static void start_query(struct dns *d, const struct addr *addr, struct dns_entry *e)
{
	struct evdns_request *req;
	struct dns_query *q;

	if (!e)
		e = dns_cache_add(&d->cache, addr);
	if (!e)
		return; /* every slot waits for an answer: try again on a later redraw */
	q = calloc(1, sizeof(*q));
	if (!q) {
		dns_cache_answer(e, NULL, clock_now_us() / CLOCK_US_PER_S);
		return;
	}
	e->state = DNS_STATE_PENDING;
	q->dns = d;
	q->addr = e->addr;
	q->next = d->queries;
	if (q->next)
		q->next->prev = q;
	d->queries = q;
	if (addr->family == AF_INET)
		req = evdns_base_resolve_reverse(d->evdns, &q->addr.u.v4, DNS_QUERY_NO_SEARCH,
						 on_answer, q);
	else
		req = evdns_base_resolve_reverse_ipv6(d->evdns, &q->addr.u.v6, DNS_QUERY_NO_SEARCH,
						      on_answer, q);
	if (!req) {
		query_unlink(q);
		free(q);
		dns_cache_answer(e, NULL, clock_now_us() / CLOCK_US_PER_S);
	}
}

/*
 * evdns reports a silent nameserver on stderr by default: in the live view that text
 * lands in the middle of the screen, and in a report it is noise. It goes to debug.
 */
static void dns_log(int is_warn, const char *msg)
{
	(void)is_warn;
	log_debug("resolver: %s", msg);
}

int dns_new(struct dns **out, struct event_base *base, const char *resolv_conf)
{
	struct dns *d;
	int rc;

	*out = NULL;
	if (resolv_conf && !*resolv_conf)
		resolv_conf = NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->base = base;
	dns_cache_init(&d->cache);
	evdns_set_log_fn(dns_log);
	d->evdns = evdns_base_new(base, resolv_conf ? 0 : EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (!d->evdns) {
		free(d);
		return -ENOMEM;
	}
	if (resolv_conf) {
		/* Nameservers and options only: search domains do not apply to PTR queries. */
		rc = evdns_base_resolv_conf_parse(
			d->evdns, DNS_OPTION_NAMESERVERS | DNS_OPTION_MISC, resolv_conf);
		if (rc) {
			log_debug("cannot use resolv.conf %s (evdns error %d)", resolv_conf, rc);
			evdns_base_free(d->evdns, 0);
			free(d);
			return -EINVAL;
		}
	}
	*out = d;
	return 0;
}

static void destroy(struct dns *d)
{
	struct dns_query *q, *next;

	/* 0: no callbacks for the queries still out; they are freed here instead. */
	evdns_base_free(d->evdns, 0);
	for (q = d->queries; q; q = next) {
		next = q->next;
		free(q);
	}
	free(d);
}

static void destroy_later(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	destroy(arg);
}

/*
 * Each evdns_getaddrinfo request, cancelled or not, still calls back once from the loop,
 * and that call reads memory evdns_base_free would already have freed: so a resolver whose
 * owner is gone waits for the last of those calls, then goes from the loop (not from
 * inside evdns's own callback, which still uses its request after we return).
 */
static void owed_paid(struct dns *d)
{
	struct timeval now = {0, 0};

	if (--d->owed || !d->dying)
		return;
	if (event_base_once(d->base, -1, EV_TIMEOUT, destroy_later, d, &now) != 0)
		log_debug("cannot schedule the resolver's end; it stays until exit");
}

struct dns *dns_free(struct dns *d)
{
	if (!d)
		return NULL;
	/* Waiters and lookups outlive the resolver as empty shells their owners free. */
	while (d->waiters)
		waiter_unlink(d->waiters);
	while (d->resolves)
		resolve_detach(d->resolves);
	if (d->owed)
		d->dying = 1;
	else
		destroy(d);
	return NULL;
}

const char *dns_lookup(struct dns *d, const struct addr *addr)
{
	struct dns_entry *e;

	if (!d || !addr_ok(addr))
		return NULL;
	e = dns_cache_find(&d->cache, addr);
	if (e && e->state == DNS_STATE_FOUND)
		return e->name;
	if (e && e->state == DNS_STATE_PENDING)
		return NULL;
	if (!e || dns_cache_stale(e, clock_now_us() / CLOCK_US_PER_S))
		start_query(d, addr, e);
	return NULL;
}

static size_t count_pending(struct dns *d, const struct addr *addrs, size_t n)
{
	size_t i, pending = 0;

	for (i = 0; i < n; i++) {
		const struct dns_entry *e;

		if (!addr_ok(&addrs[i]))
			continue;
		e = cache_slot(&d->cache, &addrs[i]);
		pending += e && e->state == DNS_STATE_PENDING;
	}
	return pending;
}

static void waiter_unlink(struct dns_waiter *w)
{
	if (!w->dns)
		return;
	if (w->prev)
		w->prev->next = w->next;
	else
		w->dns->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->dns = NULL;
	w->prev = w->next = NULL;
}

static void waiter_fire(struct dns_waiter *w, size_t pending)
{
	waiter_unlink(w);
	evtimer_del(w->timer);
	w->done(w->ctx, pending);
}

/* After each answer: a callback may free any waiter, so start over after each one fires. */
static void check_waiters(struct dns *d)
{
	struct dns_waiter *w;
	int again = 1;

	while (again) {
		again = 0;
		for (w = d->waiters; w; w = w->next) {
			if (!count_pending(d, w->addrs, w->n)) {
				waiter_fire(w, 0);
				again = 1;
				break;
			}
		}
	}
}

static void on_wait_timer(evutil_socket_t fd, short what, void *arg)
{
	struct dns_waiter *w = arg;
	size_t pending;

	(void)fd;
	(void)what;
	if (!w->dns)
		return;
	pending = count_pending(w->dns, w->addrs, w->n);
	waiter_fire(w, pending);
}

int dns_wait(struct dns *d, const struct addr *addrs, size_t n, int64_t timeout_us,
	     dns_wait_fn done, void *ctx, struct dns_waiter **out)
{
	struct dns_waiter *w;
	struct timeval tv = {0, 0};
	size_t i;

	*out = NULL;
	if (!done || n > DNS_WAIT_MAX)
		return -EINVAL;
	if (!d)
		return DNS_WAIT_NONE;
	for (i = 0; i < n; i++)
		dns_lookup(d, &addrs[i]);
	if (!count_pending(d, addrs, n))
		return DNS_WAIT_NONE;
	w = calloc(1, sizeof(*w) + n * sizeof(w->addrs[0]));
	if (!w)
		return -ENOMEM;
	w->timer = evtimer_new(d->base, on_wait_timer, w);
	if (!w->timer) {
		free(w);
		return -ENOMEM;
	}
	memcpy(w->addrs, addrs, n * sizeof(*addrs));
	w->n = n;
	w->done = done;
	w->ctx = ctx;
	w->dns = d;
	w->next = d->waiters;
	if (w->next)
		w->next->prev = w;
	d->waiters = w;
	tv = clock_tv_of_us(timeout_us);
	evtimer_add(w->timer, &tv);
	*out = w;
	return 0;
}

struct dns_waiter *dns_waiter_free(struct dns_waiter *w)
{
	if (!w)
		return NULL;
	waiter_unlink(w);
	event_free(w->timer);
	free(w);
	return NULL;
}

static void resolve_unlink(struct dns_resolve *r)
{
	if (!r->dns)
		return;
	if (r->prev)
		r->prev->next = r->next;
	else
		r->dns->resolves = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->dns = NULL;
	r->prev = r->next = NULL;
}

/* evdns calls back, synchronously, with EVUTIL_EAI_CANCEL: nothing more is delivered. */
/*
 * Cancelled, evdns still calls back once, later, from the loop (with EVUTIL_EAI_CANCEL):
 * until then the request keeps r->req, and a freed r waits for that call (orphan).
 */
static void resolve_detach(struct dns_resolve *r)
{
	resolve_unlink(r);
	if (r->req && !r->cancelled) {
		r->cancelled = 1;
		evdns_getaddrinfo_cancel(r->req);
	}
	evtimer_del(r->deliver);
}

static void resolve_destroy(struct dns_resolve *r)
{
	event_free(r->deliver);
	free(r);
}

static void resolve_deliver(evutil_socket_t fd, short what, void *arg)
{
	struct dns_resolve *r = arg;

	(void)fd;
	(void)what;
	resolve_unlink(r);
	r->done(r->ctx, r->rc, r->rc ? NULL : &r->addr);
}

static void resolve_answer(int result, struct evutil_addrinfo *res, void *arg)
{
	struct dns_resolve *r = arg;
	struct evutil_addrinfo *ai;
	struct timeval now = {0, 0};

	r->req = NULL;
	owed_paid(r->home);
	if (r->orphan) {
		if (res)
			evutil_freeaddrinfo(res);
		resolve_destroy(r);
		return;
	}
	if (result == EVUTIL_EAI_CANCEL || r->cancelled) {
		if (res)
			evutil_freeaddrinfo(res);
		return;
	}
	r->rc = -ENOENT;
	for (ai = result ? NULL : res; ai; ai = ai->ai_next) {
		memset(&r->addr, 0, sizeof(r->addr));
		if (ai->ai_family == AF_INET) {
			r->addr.family = AF_INET;
			r->addr.u.v4 = ((struct sockaddr_in *)ai->ai_addr)->sin_addr;
		} else if (ai->ai_family == AF_INET6) {
			r->addr.family = AF_INET6;
			r->addr.u.v6 = ((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
		} else {
			continue;
		}
		r->rc = 0;
		break;
	}
	if (res)
		evutil_freeaddrinfo(res);
	if (r->rc)
		log_debug("forward lookup failed: %s", evutil_gai_strerror(result));
	/* evdns may answer inside evdns_getaddrinfo(): the owner hears of it from the loop. */
	evtimer_add(r->deliver, &now);
}

int dns_resolve(struct dns *d, const char *host, int family, dns_resolve_fn done, void *ctx,
		struct dns_resolve **out)
{
	struct evutil_addrinfo hints;
	struct dns_resolve *r;
	struct timeval now = {0, 0};

	*out = NULL;
	if (!d || !host || !*host || !done || strlen(host) > DNS_NAME_MAX ||
	    (family != 0 && family != 4 && family != 6))
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->deliver = evtimer_new(d->base, resolve_deliver, r);
	if (!r->deliver) {
		free(r);
		return -ENOMEM;
	}
	r->done = done;
	r->ctx = ctx;
	r->dns = d;
	r->home = d;
	r->next = d->resolves;
	if (r->next)
		r->next->prev = r;
	d->resolves = r;
	*out = r;
	/* A numeric address needs no query, but still answers from the loop. */
	if (addr_parse(host, &r->addr) == 0 &&
	    (family == 0 || (family == 4) == (r->addr.family == AF_INET))) {
		r->rc = 0;
		evtimer_add(r->deliver, &now);
		return 0;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family == 4 ? AF_INET : family == 6 ? AF_INET6 : AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	/* Counted first: evdns may call back before it returns, and always calls once. */
	d->owed++;
	r->req = evdns_getaddrinfo(d->evdns, host, NULL, &hints, resolve_answer, r);
	return 0;
}

struct dns_resolve *dns_resolve_free(struct dns_resolve *r)
{
	if (!r)
		return NULL;
	resolve_detach(r);
	if (r->req)
		r->orphan = 1; /* evdns's call, still to come, frees it */
	else
		resolve_destroy(r);
	return NULL;
}
