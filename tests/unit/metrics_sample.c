/*
 * metrics_sample: write a representative exposition (every family with series, escaped
 * labels, NaN windows left out, a capped hop_info) to stdout, for promtool to check.
 */
#include <math.h>
#include <stdio.h>
#include <sys/socket.h>

#include <event2/buffer.h>

#include "monitor/metrics.h"

#define SAMPLE_HOPS 4

int main(void)
{
	struct metrics_label labels[] = {{"site", "ams \"1\""}, {"tier", "edge\\core"}};
	struct metrics_hop hops[SAMPLE_HOPS] = {0};
	struct metrics_finding findings[] = {{2, "loss-at-hop", "warning"},
					     {0, "unreachable", "critical"}};
	struct metrics_target t[2] = {0};
	struct metrics_health h = {100, 90, 1, 2, 3, 1, 0.0125, 50, 4, 1700000000.5};
	struct evbuffer *out = evbuffer_new();

	for (int i = 0; i < SAMPLE_HOPS; i++) {
		hops[i].ttl = i + 1;
		hops[i].sent = 10;
		hops[i].received = 9 - (uint64_t)i;
		hops[i].bucket[i] = 5;
		hops[i].bucket[METRICS_BUCKETS] = 4 - (uint64_t)i;
		hops[i].rtt_sum_s = 0.0123 * (i + 1);
		hops[i].window_loss_ratio = i == 3 ? NAN : 0.1 * i;
		hops[i].window_rtt_avg_s = i == 3 ? NAN : 0.001 * (i + 1);
		if (i != 2) {
			hops[i].addr.family = i ? AF_INET : AF_INET6;
			addr_parse(i ? "192.0.2.1" : "2001:db8::1", &hops[i].addr);
		}
	}
	t[0] = (struct metrics_target){
		"example.net\n", labels, 2, hops, SAMPLE_HOPS, 12345, 2, 1, 7, findings, 2};
	t[1] = (struct metrics_target){"192.0.2.9", NULL, 0, hops, 2, 99, 0, 0, 1, NULL, 0};
	if (!out || metrics_render(out, t, 2, &h, 3) < 0)
		return 1;
	if (evbuffer_write(out, 1) < 0)
		return 1;
	while (evbuffer_get_length(out))
		if (evbuffer_write(out, 1) < 0)
			return 1;
	evbuffer_free(out);
	return 0;
}
