"""test_protocol: conformance of hopwatchd's line protocol, one unittest case per rule.

Run through run_in_lab.sh with 3 routers (src - r1 - r2 - r3 - dst). Every case starts
its own engine in the lab's source namespace and asserts exact reply lines: token,
reply word and argument names in order; round-trip times only as numbers in a sane
range. Lab changes (nftables rules, routes) are undone when a case ends.
"""

import subprocess
import sys
import time
import unittest

from enginetest import PROBE_S, QUICK_S, Engine, Lab, Reply

LAB = Lab()
HOPS = len(LAB.routers)
# Sane bounds of a round-trip time through a few veth hops, microseconds.
RTT_MIN_US = 1
RTT_MAX_US = 1000000
# The one engine-wide limit of probes in flight (daemon/probe_table.h PROBE_TABLE_SLOTS).
PROBE_SLOTS = 65536
# Linux sends its own packets with TTL / hop limit 64 (net.ipv4.ip_default_ttl).
LINUX_TTL = 64
EXTENSIONS = ("icmp-type", "reply-ttl", "quoted-ttl", "flow-id", "unreachable-detail")
PROTOCOLS = ("icmp", "udp", "tcp")
FAMILIES = (4, 6)
# The source's own addresses on link 0 (lab.sh: left side of link 0 is ".1" / "::1").
SRC4 = "198.51.100.1"
SRC6 = "2001:db8::1"
# Unreachable from the source once the local-route cases add their routes: TEST-NET-1
# and a 2001:db8: prefix the lab never uses.
LOCAL_UNREACH4 = "192.0.2.1"
LOCAL_UNREACH6 = "2001:db8:77::1"
# A token for a check-support line that marks "everything before me has been answered".
SENTINEL = 999999


def dst(fam):
    return LAB.dst4 if fam == 4 else LAB.dst6


def hop(fam, k):
    """Address router k (1-based) answers from: its side of the link toward src."""
    return (LAB.hop4 if fam == 4 else LAB.hop6)[k - 1]


def nft_match(fam):
    return "ip daddr %s" % LAB.dst4 if fam == 4 else "ip6 daddr %s" % LAB.dst6


def probe(token, fam, *args):
    return " ".join(["%d send-probe ip-%d %s" % (token, fam, dst(fam))] + list(args))


class EngineCase(unittest.TestCase):
    """Fresh engine per case, so extensions and probes never leak between cases."""

    def setUp(self):
        self.eng = Engine(LAB)

    def tearDown(self):
        self.eng.stop()

    def ask(self, line, timeout=QUICK_S):
        """Send one line whose token is its first word and return that token's reply."""
        token = int(line.split(" ", 1)[0])
        self.eng.send(line)
        r = self.eng.expect(token, timeout)
        self.assertIsNotNone(r, "no reply to %r within %.0f s" % (line, timeout))
        return r

    def assertLine(self, line, expected, timeout=QUICK_S):
        r = self.ask(line, timeout)
        self.assertEqual(r.line, expected, "reply to %r" % line)

    def before_sentinel(self, data):
        """Write raw bytes, then a check-support line; return every line that came first.
        The engine answers lines that need no probe in order, so those are the replies to
        data, and the sentinel's own reply proves the engine still reads after it."""
        self.eng.write(data)
        self.eng.send("%d check-support feature send-probe" % SENTINEL)
        out = []
        while True:
            ln = self.eng.line(QUICK_S)
            self.assertIsNotNone(ln, "no sentinel reply; got %r so far" % out)
            if ln.startswith("%d " % SENTINEL):
                self.assertEqual(ln, "%d feature-support support ok" % SENTINEL)
                return out
            out.append(ln)

    def assertResult(self, r, word, fam, addr, names=None):
        """A probe result line: word, ip-N addr, a sane round-trip-time, and exactly the
        argument names given (default: ip-N round-trip-time, what mtr expects)."""
        if names is None:
            names = ["ip-%d" % fam, "round-trip-time"]
        self.assertEqual(r.word, word, r.line)
        self.assertEqual(r.names, names, r.line)
        self.assertEqual(r.args["ip-%d" % fam], addr, r.line)
        rtt = r.int("round-trip-time")
        self.assertTrue(RTT_MIN_US <= rtt <= RTT_MAX_US, "round-trip-time %d: %s" % (rtt, r.line))

    def enable(self, *exts):
        for i, x in enumerate(exts):
            self.assertLine("%d enable-extension feature %s" % (800 + i, x),
                            "%d extension-enabled feature %s" % (800 + i, x))


# ---- check-support ----------------------------------------------------------------


class CheckSupport(EngineCase):
    def test_supported_features(self):
        for i, f in enumerate(("send-probe", "ip-4", "ip-6", "icmp", "udp", "tcp", "mark",
                               "local-device")):
            self.assertLine("%d check-support feature %s" % (i + 1, f),
                            "%d feature-support support ok" % (i + 1))

    def test_sctp_not_supported(self):
        self.assertLine("1 check-support feature sctp", "1 feature-support support no")

    def test_version(self):
        out = subprocess.run([LAB.engine, "--version"], capture_output=True, text=True,
                             check=True).stdout.split()
        self.assertEqual(out[0], "hopwatchd")
        self.assertLine("1 check-support feature version",
                        "1 feature-support support %s" % out[1])

    def test_unknown_feature(self):
        self.assertLine("1 check-support feature frobnicate", "1 feature-support support no")

    def test_extension_names(self):
        for i, x in enumerate(EXTENSIONS):
            self.assertLine("%d check-support feature %s" % (i + 1, x),
                            "%d feature-support support ok" % (i + 1))

    def test_missing_feature(self):
        self.assertLine("1 check-support", "1 invalid-argument reason missing-feature")

    def test_unknown_argument(self):
        self.assertLine("1 check-support feature ip-4 ttl 1",
                        "1 invalid-argument reason unknown-argument")


# ---- send-probe results -------------------------------------------------------------


class SendProbe(EngineCase):
    def path(self, proto, fam):
        """TTL 1..HOPS expire at each router in turn; TTL HOPS+1 reaches dst. All sent at
        once: results are matched by token, in whatever order they come."""
        lines = [probe(100 + t, fam, "protocol", proto, "ttl", str(t), "timeout", "3")
                 for t in range(1, HOPS + 2)]
        self.eng.send(*lines)
        got = self.eng.collect([100 + t for t in range(1, HOPS + 2)], PROBE_S)
        for t in range(1, HOPS + 1):
            self.assertIn(100 + t, got, "no result for ttl %d" % t)
            self.assertResult(got[100 + t], "ttl-expired", fam, hop(fam, t))
        self.assertIn(100 + HOPS + 1, got, "no result for ttl %d" % (HOPS + 1))
        self.assertResult(got[100 + HOPS + 1], "reply", fam, dst(fam))

    def test_default_arguments(self):
        for fam in FAMILIES:
            self.assertResult(self.ask(probe(fam, fam), PROBE_S), "reply", fam, dst(fam))


def _add_path_cases():
    for proto in PROTOCOLS:
        for fam in FAMILIES:
            def reply_case(self, proto=proto, fam=fam):
                r = self.ask(probe(7, fam, "protocol", proto), PROBE_S)
                self.assertResult(r, "reply", fam, dst(fam))

            def path_case(self, proto=proto, fam=fam):
                self.path(proto, fam)

            setattr(SendProbe, "test_reply_%s_ip%d" % (proto, fam), reply_case)
            setattr(SendProbe, "test_ttl_expired_%s_ip%d" % (proto, fam), path_case)


_add_path_cases()


# ---- no-reply, no-route and its details ---------------------------------------------

# nft reject types per family: (nft type, reply with unreachable-detail)
REJECTS = {
    4: (("net-unreachable", "no-route-network"), ("host-unreachable", "no-route-host"),
        ("admin-prohibited", "prohibited")),
    6: (("no-route", "no-route-network"), ("addr-unreachable", "no-route-host"),
        ("admin-prohibited", "prohibited")),
}
# Router that drops or rejects in these cases: the middle one.
BLOCK_AT = 2
# An IPv4 router answers from an unreachable/prohibit route through ip_error(), whose
# per-source token bucket (net.ipv4.route.error_cost, one second, a host-wide sysctl we
# must not touch) is the one the ICMP rate limiter drains to zero on every error it sends
# with icmp_ratelimit 0. After the earlier cases' ICMP errors it needs this long to refill.
ROUTE_ERROR_COST_S = 1.2


class Unreachable(EngineCase):
    def no_reply(self, fam):
        with LAB.nft_rules(LAB.router(BLOCK_AT), "forward", ["%s drop" % nft_match(fam)]):
            t0 = time.monotonic()
            r = self.ask(probe(5, fam, "timeout", "1"), 4)
            took = time.monotonic() - t0
        self.assertEqual(r.line, "5 no-reply")
        self.assertTrue(0.9 <= took <= 2.0, "no-reply after %.2f s, timeout 1" % took)

    def test_no_reply_ip4(self):
        self.no_reply(4)

    def test_no_reply_ip6(self):
        self.no_reply(6)

    def rejected(self, fam, nft_type, word, detail):
        if detail:
            self.enable("unreachable-detail")
        icmp = "icmp" if fam == 4 else "icmpv6"
        rule = "%s reject with %s type %s" % (nft_match(fam), icmp, nft_type)
        with LAB.nft_rules(LAB.router(BLOCK_AT), "forward", [rule]):
            for i, proto in enumerate(PROTOCOLS):
                r = self.ask(probe(10 + i, fam, "protocol", proto, "timeout", "2"), PROBE_S)
                self.assertResult(r, word, fam, hop(fam, BLOCK_AT))

    def routed(self, fam, kind, word, detail):
        if detail:
            self.enable("unreachable-detail")
        plen = 32 if fam == 4 else 128
        with LAB.ip_route(LAB.router(BLOCK_AT), kind, "%s/%d" % (dst(fam), plen)):
            if fam == 4:
                time.sleep(ROUTE_ERROR_COST_S)
            r = self.ask(probe(9, fam, "timeout", "2"), PROBE_S)
        self.assertResult(r, word, fam, hop(fam, BLOCK_AT))

    def test_reject_icmp_type(self):
        self.enable("icmp-type")
        names = ["ip-4", "round-trip-time", "icmp-type", "icmp-code"]
        rule = "%s reject with icmp type admin-prohibited" % nft_match(4)
        with LAB.nft_rules(LAB.router(BLOCK_AT), "forward", [rule]):
            r = self.ask(probe(11, 4, "timeout", "2"), PROBE_S)
        self.assertResult(r, "no-route", 4, hop(4, BLOCK_AT), names)
        self.assertEqual((r.int("icmp-type"), r.int("icmp-code")), (3, 13), r.line)

    def test_route_unreachable_ip4(self):
        self.routed(4, "unreachable", "no-route", False)

    def test_route_unreachable_ip6(self):
        self.routed(6, "unreachable", "no-route", False)

    def test_route_unreachable_detail_ip4(self):
        self.routed(4, "unreachable", "no-route-host", True)

    def test_route_unreachable_detail_ip6(self):
        self.routed(6, "unreachable", "no-route-network", True)

    def test_route_prohibit_detail_ip4(self):
        self.routed(4, "prohibit", "prohibited", True)

    def test_route_prohibit_detail_ip6(self):
        self.routed(6, "prohibit", "prohibited", True)


def _add_reject_cases():
    for fam in FAMILIES:
        for nft_type, word in REJECTS[fam]:
            def base(self, fam=fam, nft_type=nft_type):
                self.rejected(fam, nft_type, "no-route", False)

            def detail(self, fam=fam, nft_type=nft_type, word=word):
                self.rejected(fam, nft_type, word, True)

            name = nft_type.replace("-", "_")
            setattr(Unreachable, "test_reject_%s_ip%d" % (name, fam), base)
            setattr(Unreachable, "test_reject_%s_detail_ip%d" % (name, fam), detail)


_add_reject_cases()


# ---- errors of the local stack ------------------------------------------------------


class LocalErrors(EngineCase):
    def permission_denied(self, fam):
        # A drop in the source's own output hook makes sendmsg() fail with EPERM.
        with LAB.nft_rules(LAB.src, "output", ["%s drop" % nft_match(fam)]):
            for i, proto in enumerate(PROTOCOLS):
                self.assertLine(probe(20 + i, fam, "protocol", proto),
                                "%d permission-denied" % (20 + i))

    def test_permission_denied_ip4(self):
        self.permission_denied(4)

    def test_permission_denied_ip6(self):
        self.permission_denied(6)

    def local_route(self, fam, kind, word, detail):
        """A route in the source namespace itself: the send fails with an errno, which
        becomes a result line without addresses (as mtr-packet's)."""
        if detail:
            self.enable("unreachable-detail")
        target = LOCAL_UNREACH4 if fam == 4 else LOCAL_UNREACH6
        with LAB.ip_route(LAB.src, kind, "%s/%d" % (target, 32 if fam == 4 else 128)):
            for i, proto in enumerate(PROTOCOLS):
                self.assertLine("%d send-probe ip-%d %s protocol %s" % (40 + i, fam, target, proto),
                                "%d %s" % (40 + i, word))

    def test_local_unreachable_route_ip4(self):
        self.local_route(4, "unreachable", "no-route", False)

    def test_local_unreachable_route_ip6(self):
        self.local_route(6, "unreachable", "no-route", False)

    def test_local_unreachable_route_detail_ip4(self):
        self.local_route(4, "unreachable", "no-route-host", True)

    def test_local_unreachable_route_detail_ip6(self):
        self.local_route(6, "unreachable", "no-route-host", True)

    def test_local_prohibit_route_ip4(self):
        self.local_route(4, "prohibit", "permission-denied", False)

    def test_local_prohibit_route_ip6(self):
        self.local_route(6, "prohibit", "permission-denied", False)

    def test_address_not_available_ip4(self):
        self.assertLine(probe(1, 4, "local-ip-4", "198.51.100.200"),
                        "1 address-not-available")

    def test_address_not_available_ip6(self):
        self.assertLine(probe(1, 6, "local-ip-6", "2001:db8:ffff::99"),
                        "1 address-not-available")

    def address_in_use(self, fam, proto):
        port = 5123
        kind = "SOCK_DGRAM" if proto == "udp" else "SOCK_STREAM"
        af = "AF_INET" if fam == 4 else "AF_INET6"
        holder = subprocess.Popen(
            ["ip", "netns", "exec", LAB.src, "python3", "-c",
             "import socket,sys\n"
             "s=socket.socket(socket.%s,socket.%s)\n"
             "s.bind(('', %d))\n"
             "print('bound',flush=True)\n"
             "sys.stdin.read()\n" % (af, kind, port)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            self.assertEqual(holder.stdout.readline().strip(), "bound")
            self.assertLine(probe(3, fam, "protocol", proto, "local-port", str(port)),
                            "3 address-in-use")
        finally:
            holder.stdin.close()
            holder.wait(timeout=5)
            holder.stdout.close()

    def test_address_in_use_udp_ip4(self):
        self.address_in_use(4, "udp")

    def test_address_in_use_udp_ip6(self):
        self.address_in_use(6, "udp")

    def test_address_in_use_tcp_ip4(self):
        self.address_in_use(4, "tcp")

    def test_local_port_privileged(self):
        self.assertLine(probe(4, 4, "protocol", "udp", "local-port", "1023"),
                        "4 invalid-argument reason out-of-range")

    def test_local_port_works(self):
        for i, (fam, proto) in enumerate(((4, "udp"), (6, "udp"), (4, "tcp"), (6, "tcp"))):
            r = self.ask(probe(30 + i, fam, "protocol", proto, "local-port", "5000"), PROBE_S)
            self.assertResult(r, "reply", fam, dst(fam))


class Exhaustion(EngineCase):
    # Short enough to keep the case quick, long enough that no probe times out while the
    # 65,537 lines are still being written (that takes well under a second).
    TIMEOUT_S = 4

    def test_probes_exhausted(self):
        with LAB.nft_rules(LAB.router(1), "forward", ["%s drop" % nft_match(4)]):
            lines = [probe(t, 4, "timeout", str(self.TIMEOUT_S))
                     for t in range(1, PROBE_SLOTS + 1)]
            t0 = time.monotonic()
            self.eng.send(*lines)
            self.eng.send(probe(PROBE_SLOTS + 1, 4))
            r = self.eng.expect(PROBE_SLOTS + 1, self.TIMEOUT_S - 1)
            took = time.monotonic() - t0
            self.assertIsNotNone(r, "no answer to probe %d" % (PROBE_SLOTS + 1))
            self.assertLess(took, self.TIMEOUT_S - 1, "sending took too long to be a test")
            self.assertEqual(r.line, "%d probes-exhausted" % (PROBE_SLOTS + 1))
            early = list(self.eng.pending)
            self.assertEqual(early, [], "answers before any probe timed out")
            self.eng.close()
            rest = self.eng.read_all(self.TIMEOUT_S + 10)
            code = self.eng.wait()
        seen = set()
        for ln in rest:
            r = Reply(ln)
            self.assertEqual(r.line, "%d no-reply" % r.token)
            self.assertNotIn(r.token, seen, "token %d answered twice" % r.token)
            seen.add(r.token)
        self.assertEqual(len(seen), PROBE_SLOTS)
        self.assertEqual(seen, set(range(1, PROBE_SLOTS + 1)))
        self.assertEqual(code, 0)


class EndOfInput(EngineCase):
    def test_last_line_without_newline(self):
        self.eng.write(b"1 check-support feature ip-4")
        self.eng.close()
        self.assertEqual(self.eng.read_all(), ["1 feature-support support ok"])
        self.assertEqual(self.eng.wait(), 0)

    def test_probes_finish_after_eof(self):
        # EOF ends the input, not the session: probes in flight are still answered.
        with LAB.nft_rules(LAB.router(1), "forward", ["%s drop" % nft_match(6)]):
            self.eng.send(probe(1, 4, "ttl", "2"), probe(2, 6, "timeout", "1"), probe(3, 4))
            self.eng.close()
            lines = self.eng.read_all()
        got = {r.token: r for r in map(Reply, lines)}
        self.assertEqual(sorted(got), [1, 2, 3], lines)
        self.assertResult(got[1], "ttl-expired", 4, hop(4, 2))
        self.assertEqual(got[2].line, "2 no-reply")
        self.assertResult(got[3], "reply", 4, LAB.dst4)
        self.assertEqual(self.eng.wait(), 0)

    def test_every_argument(self):
        # All send-probe arguments in one line, mark and local-device through the broker.
        for fam, local in ((4, "local-ip-4 " + SRC4), (6, "local-ip-6 " + SRC6)):
            r = self.ask(probe(fam, fam, "protocol udp port 33500", local,
                               "local-port 5001 ttl 2 size 100 bit-pattern 255 tos 16",
                               "timeout 3 mark 7 local-device right"), PROBE_S)
            self.assertResult(r, "ttl-expired", fam, hop(fam, 2))


# ---- parse errors -------------------------------------------------------------------

# Line length the engine reads, newline excluded: mtr-packet's 4096-byte buffer holds a
# line, its newline and a NUL, so 4094 bytes is the longest line it answers.
LINE_OK = 4094


class ParseErrors(EngineCase):
    def parse_error(self, data):
        self.assertEqual(self.before_sentinel(data), ["0 command-parse-error"])

    def test_empty_line(self):
        self.parse_error(b"\n")

    def test_blank_line(self):
        self.parse_error(b"   \n")

    def test_token_not_a_number(self):
        self.parse_error(b"abc send-probe ip-4 203.0.113.1\n")

    def test_token_alone(self):
        self.parse_error(b"1\n")

    def test_missing_value(self):
        self.parse_error(b"1 send-probe ip-4\n")

    def test_missing_value_later(self):
        self.parse_error(b"1 send-probe ip-4 203.0.113.1 ttl\n")

    def test_token_out_of_range(self):
        self.parse_error(b"2147483648 check-support feature ip-4\n")

    def test_token_negative(self):
        self.parse_error(b"-1 check-support feature ip-4\n")

    def test_control_byte(self):
        self.parse_error(b"1 check-support feature \x01ip-4\n")

    def test_nul_byte(self):
        self.parse_error(b"1 check-support\x00 feature ip-4\n")

    def test_non_ascii_byte(self):
        self.parse_error(b"1 check-support feature ip-\xc3\xa4\n")

    def test_overlong_line(self):
        out = self.before_sentinel(b"1 check-support feature " + b"x" * 5000 + b"\n")
        self.assertEqual(out, ["0 command-buffer-overflow"])

    def test_overlong_line_in_pieces(self):
        # One report per line, however many reads it takes to arrive.
        self.eng.write(b"1 check-support feature ")
        for _ in range(5):
            time.sleep(0.05)
            self.eng.write(b"y" * 3000)
        out = self.before_sentinel(b"\n2 check-support feature ip-4\n")
        self.assertEqual(out, ["0 command-buffer-overflow", "2 feature-support support ok"])

    def test_line_length_limit(self):
        head = b"1 check-support feature ip-4"
        ok = head + b" " * (LINE_OK - len(head))
        self.assertEqual(self.before_sentinel(ok + b"\n"), ["1 feature-support support ok"])
        self.assertEqual(self.before_sentinel(ok + b" \n"), ["0 command-buffer-overflow"])

    def test_too_many_arguments(self):
        # More pairs than the parser holds (PROTO_ARGS_MAX 32) is a parse error, not a
        # silently truncated command.
        self.parse_error(b"1 check-support" + b" feature ip-4" * 33 + b"\n")

    def test_spaces_and_crlf_tolerated(self):
        out = self.before_sentinel(b"1  check-support   feature  ip-4 \n"
                                   b"2 check-support feature ip-6\r\n")
        self.assertEqual(out, ["1 feature-support support ok", "2 feature-support support ok"])

    def test_unknown_command(self):
        self.assertLine("5 frobnicate", "5 unknown-command")
        self.assertLine("6 SEND-PROBE ip-4 203.0.113.1", "6 unknown-command")


INVALID = {
    "unknown_argument": ("colour red", "unknown-argument"),
    "repeated_argument": ("ttl 1 ttl 2", "repeated-argument"),
    "bad_number": ("ttl abc", "bad-number"),
    "bad_number_suffix": ("ttl 5x", "bad-number"),
    "ttl_zero": ("ttl 0", "out-of-range"),
    "ttl_256": ("ttl 256", "out-of-range"),
    "size_70000": ("size 70000", "out-of-range"),
    "tos_256": ("tos 256", "out-of-range"),
    "timeout_huge": ("timeout 3601", "out-of-range"),
    "port_65536": ("port 65536", "out-of-range"),
    "protocol_sctp": ("protocol sctp", "protocol-not-supported"),
    # proto.h: a protocol that names no row of the table is a bad value.
    "protocol_unknown": ("protocol quic", "bad-value"),
    "local_ip_6_with_ip_4": ("local-ip-6 2001:db8::1", "address-family-mismatch"),
    "flow_id_not_enabled": ("flow-id 7", "extension-not-enabled"),
}


class InvalidArgument(EngineCase):
    def test_repeated_feature(self):
        self.assertLine("1 check-support feature ip-4 feature ip-6",
                        "1 invalid-argument reason repeated-argument")


    def test_bad_address(self):
        self.assertLine("1 send-probe ip-4 300.1.1.1", "1 invalid-argument reason bad-value")
        self.assertLine("2 send-probe ip-6 2001:db8::zz", "2 invalid-argument reason bad-value")

    def test_both_addresses(self):
        self.assertLine("1 send-probe ip-4 %s ip-6 %s" % (LAB.dst4, LAB.dst6),
                        "1 invalid-argument reason ip-4-and-ip-6")

    def test_no_address(self):
        self.assertLine("1 send-probe ttl 3", "1 invalid-argument reason missing-address")
        self.assertLine("2 send-probe", "2 invalid-argument reason missing-address")

    def test_local_ip_4_with_ip_6(self):
        self.assertLine(probe(1, 6, "local-ip-4", "198.51.100.1"),
                        "1 invalid-argument reason address-family-mismatch")


def _add_invalid_cases():
    for name, (args, reason) in INVALID.items():
        def case(self, args=args, reason=reason):
            self.assertLine(probe(3, 4, args), "3 invalid-argument reason %s" % reason)

        setattr(InvalidArgument, "test_" + name, case)


_add_invalid_cases()


# ---- extensions ---------------------------------------------------------------------


class Extensions(EngineCase):
    def test_enable_each(self):
        for i, x in enumerate(EXTENSIONS):
            self.assertLine("%d enable-extension feature %s" % (i + 1, x),
                            "%d extension-enabled feature %s" % (i + 1, x))

    def test_enable_unknown(self):
        self.assertLine("1 enable-extension feature frobnicate",
                        "1 invalid-argument reason unknown-extension")

    def test_enable_missing_feature(self):
        self.assertLine("1 enable-extension", "1 invalid-argument reason missing-feature")

    def path_lines(self, fam, proto="icmp"):
        toks = [200 + t for t in range(1, HOPS + 2)]
        self.eng.send(*[probe(200 + t, fam, "protocol", proto, "ttl", str(t), "timeout", "3")
                        for t in range(1, HOPS + 2)])
        got = self.eng.collect(toks, PROBE_S)
        self.assertEqual(sorted(got), toks)
        return [got[t] for t in toks]

    def icmp_type(self, fam):
        self.enable("icmp-type")
        names = ["ip-%d" % fam, "round-trip-time", "icmp-type", "icmp-code"]
        exceeded, echo_reply, port_unreach = ((11, 0), (0, 0), (3, 3)) if fam == 4 else \
            ((3, 0), (129, 0), (1, 4))
        rs = self.path_lines(fam)
        for k, r in enumerate(rs[:-1], 1):
            self.assertResult(r, "ttl-expired", fam, hop(fam, k), names)
            self.assertEqual((r.int("icmp-type"), r.int("icmp-code")), exceeded, r.line)
        self.assertResult(rs[-1], "reply", fam, dst(fam), names)
        self.assertEqual((rs[-1].int("icmp-type"), rs[-1].int("icmp-code")), echo_reply)
        for proto in ("udp", "tcp"):
            for k, r in enumerate(self.path_lines(fam, proto)[:-1], 1):
                self.assertResult(r, "ttl-expired", fam, hop(fam, k), names)
                self.assertEqual((r.int("icmp-type"), r.int("icmp-code")), exceeded, r.line)
        r = self.ask(probe(300, fam, "protocol", "udp"), PROBE_S)
        self.assertResult(r, "reply", fam, dst(fam), names)
        self.assertEqual((r.int("icmp-type"), r.int("icmp-code")), port_unreach, r.line)
        # A TCP answer is no ICMP message: nothing to report.
        r = self.ask(probe(301, fam, "protocol", "tcp"), PROBE_S)
        self.assertResult(r, "reply", fam, dst(fam))

    def test_icmp_type_ip4(self):
        self.icmp_type(4)

    def test_icmp_type_ip6(self):
        self.icmp_type(6)

    def reply_ttl(self, fam):
        self.enable("reply-ttl")
        names = ["ip-%d" % fam, "round-trip-time", "reply-ttl"]
        for proto in PROTOCOLS:
            rs = self.path_lines(fam, proto)
            # Every responder sends with TTL 64; each router on the way back takes one.
            for k, r in enumerate(rs, 1):
                self.assertResult(r, "reply" if k == HOPS + 1 else "ttl-expired", fam,
                                  dst(fam) if k == HOPS + 1 else hop(fam, k), names)
                self.assertEqual(r.int("reply-ttl"), LINUX_TTL - (k - 1), r.line)

    def test_reply_ttl_ip4(self):
        self.reply_ttl(4)

    def test_reply_ttl_ip6(self):
        self.reply_ttl(6)

    def quoted_ttl(self, fam):
        self.enable("quoted-ttl")
        names = ["ip-%d" % fam, "round-trip-time", "quoted-ttl"]
        for proto in PROTOCOLS:
            rs = self.path_lines(fam, proto)
            # Linux quotes the packet as it arrived, before the decrement that hit zero.
            for k, r in enumerate(rs[:-1], 1):
                self.assertResult(r, "ttl-expired", fam, hop(fam, k), names)
                self.assertEqual(r.int("quoted-ttl"), 1, r.line)

    def test_quoted_ttl_ip4(self):
        self.quoted_ttl(4)

    def test_quoted_ttl_ip6(self):
        self.quoted_ttl(6)

    def test_flow_id(self):
        self.assertLine(probe(1, 4, "flow-id", "7"),
                        "1 invalid-argument reason extension-not-enabled")
        self.enable("flow-id")
        for i, (fam, proto) in enumerate((f, p) for f in FAMILIES for p in PROTOCOLS):
            r = self.ask(probe(10 + i, fam, "protocol", proto, "flow-id", str(i + 1)), PROBE_S)
            self.assertResult(r, "reply", fam, dst(fam))
        self.assertLine(probe(20, 4, "flow-id", "65536"),
                        "20 invalid-argument reason out-of-range")

    def test_nothing_new_without_enabling(self):
        # What mtr sees: ip-N and round-trip-time only, on every kind of result.
        for fam in FAMILIES:
            for proto in PROTOCOLS:
                for r in self.path_lines(fam, proto):
                    self.assertEqual(r.names, ["ip-%d" % fam, "round-trip-time"], r.line)


# ---- tokens -------------------------------------------------------------------------


class Tokens(EngineCase):
    def test_largest_token(self):
        big = 2147483647
        self.assertLine("%d check-support feature ip-4" % big,
                        "%d feature-support support ok" % big)
        self.assertResult(self.ask(probe(big, 4), PROBE_S), "reply", 4, LAB.dst4)
        self.assertLine("%d frobnicate" % big, "%d unknown-command" % big)
        self.assertLine(probe(big, 4, "ttl", "0"), "%d invalid-argument reason out-of-range"
                        % big)

    def test_same_token_twice(self):
        # Tokens are the client's business: a repeated one is answered twice, not refused.
        self.eng.send(probe(8, 4, "ttl", "1"), probe(8, 4, "ttl", "1"))
        for _ in range(2):
            self.assertResult(self.eng.expect(8, PROBE_S), "ttl-expired", 4, hop(4, 1))

    def test_token_zero(self):
        self.assertLine("0 check-support feature ip-4", "0 feature-support support ok")

    def test_any_order(self):
        # Results arrive in network order, not command order: far probes sent first, a
        # dropped probe mixed in, and lines that need no probe answered at once.
        with LAB.nft_rules(LAB.router(HOPS), "forward", ["%s drop" % nft_match(6)]):
            toks = {}
            lines = []
            for t in range(HOPS + 1, 0, -1):
                tok = 1000 * t + 17
                toks[tok] = ("reply", LAB.dst4) if t == HOPS + 1 else ("ttl-expired", hop(4, t))
                lines.append(probe(tok, 4, "ttl", str(t), "timeout", "3"))
            lines.insert(1, probe(55, 6, "timeout", "1"))
            lines.insert(2, "66 check-support feature udp")
            self.eng.send(*lines)
            got = self.eng.collect(list(toks) + [55, 66], PROBE_S)
        self.assertEqual(got[66].line, "66 feature-support support ok")
        self.assertEqual(got[55].line, "55 no-reply")
        for tok, (word, addr) in toks.items():
            self.assertIn(tok, got)
            self.assertResult(got[tok], word, 4, addr)


if __name__ == "__main__":
    prog = unittest.main(verbosity=2, exit=False)
    sys.exit(0 if prog.result.wasSuccessful() else 1)
