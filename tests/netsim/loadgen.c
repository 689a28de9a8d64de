/*
 * netsim_loadgen: measures how many probes per second netsim answers. Sends raw ICMP
 * echo requests (IPv4, TTL cycling 1..ttl-max, destinations cycling through a /24) into
 * the TUN route from inside the netsim namespace, keeps a fixed window in flight, and
 * counts every ICMP answer (echo reply or time exceeded) that comes back.
 * Usage: netsim_loadgen [--probes N] [--window W] [--ttl-max T] [--prefix A.B.C]
 * Prints one line: probes=N answered=N seconds=S probes_per_s=R. Needs CAP_NET_RAW.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"

#define BATCH	       64
#define PKT_LEN	       64 /* IPv4 20 + ICMP 8 + payload */
#define IP_HDR_LEN     20
#define ICMP_ECHO_TYPE 8
#define RCV_BUF	       (8 << 20)
#define RECV_LEN       256
#define IDLE_LIMIT_S   3.0 /* give up when nothing came back for this long */
#define DEF_PROBES     1000000
#define DEF_WINDOW     2000
#define DEF_TTL_MAX    4
#define HOSTS	       254

static double now_s(void)
{
	return (double)clock_now_us() / CLOCK_US_PER_S;
}

static uint16_t csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)(p[n - 1] << 8);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void build(uint8_t *pkt, struct in_addr dst, uint8_t ttl, uint16_t seq)
{
	uint16_t c;

	memset(pkt, 0, PKT_LEN);
	pkt[0] = 0x45;
	pkt[2] = PKT_LEN >> 8;
	pkt[3] = PKT_LEN & 0xff;
	pkt[8] = ttl;
	pkt[9] = IPPROTO_ICMP;
	memcpy(pkt + 16, &dst, 4); /* source and checksums: left to the kernel (HDRINCL) */
	pkt[IP_HDR_LEN] = ICMP_ECHO_TYPE;
	pkt[IP_HDR_LEN + 4] = 0x4e;
	pkt[IP_HDR_LEN + 5] = 0x53;
	pkt[IP_HDR_LEN + 6] = (uint8_t)(seq >> 8);
	pkt[IP_HDR_LEN + 7] = (uint8_t)seq;
	c = csum(pkt + IP_HDR_LEN, PKT_LEN - IP_HDR_LEN);
	pkt[IP_HDR_LEN + 2] = (uint8_t)(c >> 8);
	pkt[IP_HDR_LEN + 3] = (uint8_t)c;
}

int main(int argc, char **argv)
{
	static uint8_t out[BATCH][PKT_LEN], in[BATCH][RECV_LEN];
	struct mmsghdr smsg[BATCH], rmsg[BATCH];
	struct iovec siov[BATCH], riov[BATCH];
	struct sockaddr_in dsts[BATCH];
	long probes = DEF_PROBES, window = DEF_WINDOW, ttl_max = DEF_TTL_MAX;
	const char *prefix = "203.0.113";
	long sent = 0, answered = 0, i;
	int fd, one = 1, rcv = RCV_BUF;
	double t0, last;
	char addr[32];

	for (i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--probes"))
			probes = strtol(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--window"))
			window = strtol(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--ttl-max"))
			ttl_max = strtol(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--prefix"))
			prefix = argv[i + 1];
		else
			break;
	}
	if (i != argc || probes < 1 || window < 1 || ttl_max < 1 || ttl_max > 255) {
		fprintf(stderr, "usage: netsim_loadgen [--probes N] [--window W] [--ttl-max T] "
				"[--prefix A.B.C]\n");
		return 2;
	}
	fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_ICMP);
	if (fd < 0 || setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv))) {
		perror("netsim_loadgen: raw socket");
		return 1;
	}
	memset(smsg, 0, sizeof(smsg));
	memset(rmsg, 0, sizeof(rmsg));
	for (i = 0; i < BATCH; i++) {
		siov[i].iov_base = out[i];
		siov[i].iov_len = PKT_LEN;
		smsg[i].msg_hdr.msg_iov = &siov[i];
		smsg[i].msg_hdr.msg_iovlen = 1;
		smsg[i].msg_hdr.msg_name = &dsts[i];
		smsg[i].msg_hdr.msg_namelen = sizeof(dsts[i]);
		riov[i].iov_base = in[i];
		riov[i].iov_len = RECV_LEN;
		rmsg[i].msg_hdr.msg_iov = &riov[i];
		rmsg[i].msg_hdr.msg_iovlen = 1;
	}
	t0 = last = now_s();
	while (answered < probes) {
		long room = window - (sent - answered), n = 0;
		int got;

		while (n < BATCH && n < room && sent + n < probes) {
			long k = sent + n;

			snprintf(addr, sizeof(addr), "%s.%ld", prefix, 1 + k % HOSTS);
			memset(&dsts[n], 0, sizeof(dsts[n]));
			dsts[n].sin_family = AF_INET;
			if (inet_pton(AF_INET, addr, &dsts[n].sin_addr) != 1) {
				fprintf(stderr, "netsim_loadgen: bad prefix %s\n", prefix);
				return 2;
			}
			build(out[n], dsts[n].sin_addr, (uint8_t)(1 + k % ttl_max), (uint16_t)k);
			n++;
		}
		if (n) {
			int s = sendmmsg(fd, smsg, (unsigned int)n, 0);

			if (s > 0)
				sent += s;
		}
		got = recvmmsg(fd, rmsg, BATCH, 0, NULL);
		if (got > 0) {
			/* Our own echo requests are looped back too: count only answers. */
			for (i = 0; i < got; i++)
				if (rmsg[i].msg_len > IP_HDR_LEN &&
				    in[i][IP_HDR_LEN] != ICMP_ECHO_TYPE)
					answered++;
			last = now_s();
		} else if (now_s() - last > IDLE_LIMIT_S) {
			break;
		}
	}
	last = now_s() - t0;
	printf("probes=%ld answered=%ld seconds=%.3f probes_per_s=%.0f\n", sent, answered, last,
	       answered / last);
	close(fd);
	return answered == probes ? 0 : 1;
}
