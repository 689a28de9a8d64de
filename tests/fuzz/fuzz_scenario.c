/*
 * fuzz_scenario: libFuzzer target for the netsim scenario parser. Parses the input; when
 * it is accepted, checks the invariants every consumer relies on (counts within their
 * limits, loop inside the path, weights and buckets non-zero) and walks a few probes
 * through the path model, which must never index outside the scenario.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "path.h"
#include "scenario.h"

#define FUZZ_TTLS 40 /* enough to go round any loop of a small scenario */

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

static struct scenario scn;
static struct path path;

static void check_hop(const struct scenario_hop *h)
{
	size_t i;

	CHECK(h->nresp <= SCENARIO_RESPONDERS_MAX);
	CHECK(h->nmpls <= SCENARIO_MPLS_MAX);
	CHECK(h->reply_prob >= 0 && h->reply_prob <= 1);
	CHECK(h->loss >= 0 && h->loss <= 1);
	CHECK(!h->rate || h->burst);
	CHECK(h->delay.base_us <= SCENARIO_DELAY_MAX_US);
	for (i = 0; i < h->nresp; i++) {
		CHECK(h->resp[i].weight >= 1 && h->resp[i].weight <= SCENARIO_WEIGHT_MAX);
		CHECK(h->resp[i].has_v4 || h->resp[i].has_v6);
	}
	for (i = 0; i < h->nmpls; i++)
		CHECK(h->mpls[i].label <= SCENARIO_MPLS_LABEL_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scenario_error err;
	struct path_result r;
	struct path_probe p;
	struct in_addr dst;
	size_t i;
	int rc;

	rc = scenario_parse((const char *)data, size, &scn, &err);
	if (rc) {
		CHECK(rc == -EINVAL || rc == -E2BIG);
		CHECK(err.reason != NULL);
		return 0;
	}
	CHECK(scn.nhops <= SCENARIO_HOPS_MAX);
	CHECK(scn.nprefixes <= SCENARIO_PREFIXES_MAX);
	CHECK(scn.loop_from <= scn.nhops);
	CHECK(scn.has_dest || scn.loop_from);
	for (i = 0; i < scn.nhops; i++)
		check_hop(&scn.hops[i]);
	if (scn.has_dest)
		check_hop(&scn.dest);
	path_init(&path, &scn);
	if (scn.dest.nresp && scn.dest.resp[0].has_v4)
		dst = scn.dest.resp[0].v4;
	else
		inet_pton(AF_INET, "203.0.113.1", &dst);
	memset(&p, 0, sizeof(p));
	p.family = AF_INET;
	p.dst = &dst;
	for (i = 1; i <= FUZZ_TTLS; i++) {
		p.ttl = (uint8_t)i;
		p.proto = (enum path_proto)(i % 3);
		p.flow = i;
		path_decide(&path, &p, i * 1000, &r);
		if (r.fate != PATH_FATE_NOROUTE) {
			CHECK(r.hop != NULL);
			CHECK(r.pos >= 1 && r.pos <= i);
			CHECK(r.node <= scn.nhops);
			CHECK(!r.hop->nresp || r.resp < r.hop->nresp);
		}
	}
	return 0;
}
