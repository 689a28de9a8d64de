#!/usr/bin/env python3
"""test_engine: behaviour of hopwatchd as a process, in a namespace lab.

Run by test_engine.sh through run_in_lab.sh (which builds the lab and sets LAB_* and
HOPWATCH_ENGINE). Each case starts its own engines in the lab's source namespace and checks
what a client and an administrator can observe: the privilege drop in /proc, mark and
local-device through the socket broker against policy routing, two engines side by side,
back-pressure on both pipes, the end of input, kernel receive timestamps, and the start-up
message without CAP_NET_RAW. Every namespace change a case makes is undone when it ends,
so the cases share one lab.
"""

import collections
import contextlib
import copy
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import unittest

from enginetest import Engine, Lab, Reply

# Probes per engine and protocol in the two-engines case.
TWIN_PROBES = 2000
WARM_TOKEN = 100000  # above the twin tokens: the probes that warm the path first
# Probes written while the reader stalls, how long it stalls, and the ceiling on the
# engine's CPU time (seconds) over the stalled part of that window.
STALL_PROBES = 60000
STALL_S = 5.0
STALL_CPU_S = 0.5
# Probes written as fast as possible against a reader that takes its time.
FLOOD_PROBES = 100000
# The slow reader: one read of at most SLOW_READ_BYTES every SLOW_READ_PAUSE_S.
SLOW_READ_BYTES = 16384
SLOW_READ_PAUSE_S = 0.005
# End of input: probes to each destination, their timeout, and the exit deadline.
EOF_PROBES = 500
EOF_TIMEOUT_S = 2
EOF_EXIT_S = 3.5
# An engine with nothing in flight must leave at once on EOF (under memcheck, "at once"
# includes its leak check at exit).
UNDER_VALGRIND = bool(os.environ.get("HOPWATCH_VALGRIND"))
IDLE_EXIT_S = 10.0 if UNDER_VALGRIND else 1.0
# RTT medians (microseconds) that only kernel receive timestamps meet on this machine.
LIGHT_PROBES = 100
LIGHT_P50_US = 200
BURST_PROBES = 1000
BURST_P50_US = 500
# Seconds to wait for all answers of a big batch.
BATCH_S = 30.0
# Seconds to listen for a duplicate answer after every token was answered.
DUP_WAIT_S = 0.5
# Policy-routing marks and tables used by the mark cases.
MARK_UNREACH = 42
MARK_ROUTE = 7
# The unprivileged account of the no-CAP_NET_RAW case (nobody/nogroup).
NOBODY = 65534
# Capability bits: CAP_NET_ADMIN (12) and CAP_NET_RAW (13).
BROKER_CAPS = (1 << 12) | (1 << 13)
ENODEV = 19

LAB = None


def setUpModule():
    global LAB
    LAB = Lab()


def status(pid):
    """/proc/PID/status as a dict of field -> value string."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            k, _, v = ln.partition(":")
            out[k] = v.strip()
    return out


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def probe_lines(tokens, dst, *extra):
    fam = "ip-6" if ":" in dst else "ip-4"
    tail = (" " + " ".join(extra)) if extra else ""
    return ["%d send-probe %s %s%s" % (t, fam, dst, tail) for t in tokens]


@contextlib.contextmanager
def ip_rule(ns, family, *rule):
    """'ip rule add RULE' in namespace ns for a with block."""
    LAB.ns(ns, "ip", family, "rule", "add", *rule)
    try:
        yield
    finally:
        LAB.ns(ns, "ip", family, "rule", "del", *rule, check=False)


class RawEngine:
    """hopwatchd in the source namespace with nobody reading its stdout until the test
    does: enginetest.Engine always drains stdout, which would hide back-pressure."""

    def __init__(self):
        self.proc = subprocess.Popen(["ip", "netns", "exec", LAB.src, LAB.engine],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        self.buf = b""
        self.writer = None
        self.write_error = None

    def write_in_background(self, data):
        def run():
            try:
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
            except OSError as e:
                self.write_error = e
        self.writer = threading.Thread(target=run, daemon=True)
        self.writer.start()

    def read_counts(self, want, deadline, chunk=65536, pause=0.0):
        """Read until `want` lines have come or the deadline passes; returns a Counter of
        token -> answers and a Counter of reply word -> lines."""
        per_token = collections.Counter()
        words = collections.Counter()
        lines = 0
        fd = self.proc.stdout.fileno()
        os.set_blocking(fd, False)
        while lines < want and time.monotonic() < deadline:
            try:
                data = os.read(fd, chunk)
            except BlockingIOError:
                time.sleep(0.001)
                continue
            if not data:
                break
            *done, self.buf = (self.buf + data).split(b"\n")
            for ln in done:
                r = Reply(ln.decode())
                per_token[r.token] += 1
                words[r.word] += 1
                lines += 1
            if pause:
                time.sleep(pause)
        return per_token, words

    def stop(self):
        with contextlib.suppress(OSError):
            self.proc.stdin.close()
        try:
            rc = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            rc = None
        self.proc.stdout.close()
        return rc


class EngineCase(unittest.TestCase):
    def setUp(self):
        self.engines = []

    def tearDown(self):
        for e in self.engines:
            e.stop()

    def engine(self, *args):
        e = Engine(LAB, args)
        self.engines.append(e)
        return e

    def ask(self, e, line, timeout=5.0):
        """Send one command and return its reply (asserting one came)."""
        token = int(line.split()[0])
        e.send(line)
        r = e.expect(token, timeout=timeout)
        self.assertIsNotNone(r, "no answer to %r" % line)
        return r

    def assert_reply_from(self, r, word, addr):
        self.assertEqual(r.word, word, r.line)
        self.assertEqual(r.args.get("ip-6" if ":" in addr else "ip-4"), addr, r.line)

    def answer_batch(self, e, tokens, timeout=BATCH_S):
        """Every token's single answer; fails on a missing or a duplicate answer."""
        got = e.collect(tokens, timeout=timeout)
        missing = sorted(set(tokens) - set(got))
        self.assertEqual(missing[:10], [], "%d tokens unanswered" % len(missing))
        extra = e.drain(DUP_WAIT_S)
        self.assertEqual(extra[:10], [], "%d lines after every token was answered" % len(extra))
        return got


class TestPrivilegeDrop(EngineCase):
    def test_engine_and_broker_after_drop(self):
        e = self.engine()
        r = self.ask(e, "1 check-support feature send-probe")
        self.assertEqual(r.line, "1 feature-support support ok")

        pid = e.proc.pid  # ip netns exec execs the engine in place
        st = status(pid)
        self.assertEqual(st["Name"], "hopwatchd")
        for field in ("Uid", "Gid"):
            ids = [int(x) for x in st[field].split()]
            self.assertEqual(len(ids), 4, st[field])
            self.assertNotIn(0, ids, "%s still has a root id: %s" % (field, st[field]))
        self.assertEqual(st["Groups"], "", "supplementary groups kept")
        for field in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            self.assertEqual(int(st[field], 16), 0, "%s = %s" % (field, st[field]))
        self.assertEqual(st["NoNewPrivs"], "1")

        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            children = [int(x) for x in f.read().split()]
        self.assertEqual(len(children), 1, "expected exactly one broker, got %r" % children)
        bst = status(children[0])
        self.assertEqual(int(bst["CapEff"], 16), BROKER_CAPS, "broker CapEff " + bst["CapEff"])
        self.assertEqual(bst["NoNewPrivs"], "1")
        self.assertNotIn(0, [int(x) for x in bst["Uid"].split()], "broker Uid " + bst["Uid"])

        # Without any privilege it still probes with the sockets it opened before.
        r = self.ask(e, "2 send-probe ip-4 %s timeout 2" % LAB.dst4)
        self.assert_reply_from(r, "reply", LAB.dst4)
        r = self.ask(e, "3 send-probe ip-6 %s timeout 2" % LAB.dst6)
        self.assert_reply_from(r, "reply", LAB.dst6)
        r = self.ask(e, "4 send-probe ip-4 %s ttl 1 timeout 2" % LAB.dst4)
        self.assert_reply_from(r, "ttl-expired", LAB.hop4[0])


class TestMarkAndDevice(EngineCase):
    PROTOCOLS = ("icmp", "udp", "tcp")

    def test_mark_selects_unreachable_table(self):
        """fwmark 42 -> a table where the destination is unreachable: only marked probes
        fail, with the send error of that route; unmarked ones still get through."""
        e = self.engine()
        t = 0
        with contextlib.ExitStack() as stack:
            for fam, dst in (("-4", LAB.dst4), ("-6", LAB.dst6)):
                stack.enter_context(ip_rule(LAB.src, fam, "fwmark", str(MARK_UNREACH),
                                            "table", str(MARK_UNREACH)))
                stack.enter_context(LAB.ip_route(LAB.src, "unreachable", dst,
                                                 "table", str(MARK_UNREACH)))
            for dst in (LAB.dst4, LAB.dst6):
                for proto in self.PROTOCOLS:
                    t += 1
                    (line,) = probe_lines([t], dst, "protocol", proto, "mark",
                                          str(MARK_UNREACH), "timeout 2")
                    r = self.ask(e, line)
                    self.assertEqual(r.line, "%d no-route" % t)
                    t += 1
                    (line,) = probe_lines([t], dst, "protocol", proto, "timeout 2")
                    self.assert_reply_from(self.ask(e, line), "reply", dst)
                    # A mark no rule knows takes the main table like no mark at all.
                    t += 1
                    (line,) = probe_lines([t], dst, "protocol", proto, "mark",
                                          str(MARK_UNREACH + 1), "timeout 2")
                    self.assert_reply_from(self.ask(e, line), "reply", dst)

    def test_mark_selects_routing_table(self):
        """The reverse: main prohibits the destination, table 7 routes it; only the marked
        probes arrive."""
        e = self.engine()
        t = 100
        with contextlib.ExitStack() as stack:
            for fam, dst, gw in (("-4", LAB.dst4, LAB.hop4[0]), ("-6", LAB.dst6, LAB.hop6[0])):
                stack.enter_context(ip_rule(LAB.src, fam, "fwmark", str(MARK_ROUTE),
                                            "table", str(MARK_ROUTE)))
                stack.enter_context(LAB.ip_route(LAB.src, dst, "via", gw, "dev", "right",
                                                 "onlink", "table", str(MARK_ROUTE)))
                stack.enter_context(LAB.ip_route(LAB.src, "prohibit", dst))
            for dst in (LAB.dst4, LAB.dst6):
                for proto in self.PROTOCOLS:
                    t += 1
                    (line,) = probe_lines([t], dst, "protocol", proto, "mark",
                                          str(MARK_ROUTE), "timeout 2")
                    self.assert_reply_from(self.ask(e, line), "reply", dst)
                    t += 1
                    (line,) = probe_lines([t], dst, "protocol", proto, "timeout 2")
                    self.assertEqual(self.ask(e, line).line, "%d permission-denied" % t)

    def test_local_device(self):
        e = self.engine()
        # The source namespace's only link toward the routers is called "right".
        for t, dst in ((1, LAB.dst4), (2, LAB.dst6)):
            (line,) = probe_lines([t], dst, "local-device right timeout 2")
            self.assert_reply_from(self.ask(e, line), "reply", dst)
        # Bound to lo, IPv4 leaves through loopback, where nothing answers for the
        # destination; IPv6 finds no route on lo at all.
        (line,) = probe_lines([3], LAB.dst4, "local-device lo timeout 1")
        self.assertEqual(self.ask(e, line, timeout=4).line, "3 no-reply")
        (line,) = probe_lines([4], LAB.dst6, "local-device lo timeout 1")
        self.assertEqual(self.ask(e, line, timeout=4).line, "4 no-route")
        # A device that does not exist: SO_BINDTODEVICE's ENODEV, reported the way
        # mtr-packet reports a socket error it has no word for.
        for t, dst in ((5, LAB.dst4), (6, LAB.dst6)):
            (line,) = probe_lines([t], dst, "local-device nosuchdev0 timeout 1")
            r = self.ask(e, line)
            self.assertEqual(r.word, "unexpected-error", r.line)
            self.assertEqual(r.int("errno"), ENODEV, r.line)
        # None of that broke the engine.
        (line,) = probe_lines([7], LAB.dst4, "timeout 2")
        self.assert_reply_from(self.ask(e, line), "reply", LAB.dst4)


class TestTwoEngines(EngineCase):
    def test_same_tokens_no_crosstalk(self):
        """Two engines in one namespace, same tokens at the same time, TTLs 1..N+1:
        each gets exactly its own answers, from the right hop."""
        hops = len(LAB.routers)
        tokens = list(range(1, TWIN_PROBES + 1))

        def ttl_of(t):
            return t % (hops + 1) + 1

        for dst, hop_addrs in ((LAB.dst4, LAB.hop4), (LAB.dst6, LAB.hop6)):
            for proto in ("icmp", "udp", "tcp"):
                with self.subTest(dst=dst, protocol=proto):
                    pair = [Engine(LAB), Engine(LAB)]
                    self.engines.extend(pair)
                    # One probe per TTL first, answered: every neighbour entry on the path
                    # is then resolved. A burst that meets an unresolved one overflows the
                    # kernel's queue for it, which drops the oldest packet (the first probe).
                    for e in pair:
                        for ttl in range(1, hops + 2):
                            self.ask(e, "%d send-probe %s %s protocol %s ttl %d timeout 3" % (
                                WARM_TOKEN + ttl, "ip-6" if ":" in dst else "ip-4", dst,
                                proto, ttl))
                    lines = ["%s ttl %d" % (ln, ttl_of(t)) for t, ln in
                             zip(tokens, probe_lines(tokens, dst, "protocol", proto,
                                                     "timeout 3"))]
                    data = "".join(ln + "\n" for ln in lines)
                    writers = [threading.Thread(target=e.write, args=(data,)) for e in pair]
                    for w in writers:
                        w.start()
                    for w in writers:
                        w.join()
                    for which, e in enumerate(pair):
                        got = self.answer_batch(e, tokens)
                        wrong = []
                        for t in tokens:
                            ttl = ttl_of(t)
                            want = ("reply", dst) if ttl > hops else \
                                ("ttl-expired", hop_addrs[ttl - 1])
                            r = got[t]
                            have = (r.word, r.args.get("ip-6" if ":" in dst else "ip-4"))
                            if have != want:
                                wrong.append((t, ttl, r.line))
                        self.assertEqual(wrong[:5], [], "engine %d: %d wrong answers"
                                         % (which, len(wrong)))
                    for e in pair:
                        e.stop()


class TestBackPressure(unittest.TestCase):
    def setUp(self):
        self.eng = RawEngine()

    def tearDown(self):
        self.eng.stop()

    def assert_each_once(self, per_token, n):
        self.assertEqual(len(per_token), n, "%d of %d tokens answered" % (len(per_token), n))
        self.assertEqual(set(per_token), set(range(n)))
        dups = [t for t, c in per_token.items() if c != 1]
        self.assertEqual(dups[:10], [], "%d tokens answered more than once" % len(dups))

    def test_stalled_reader(self):
        """The reader stops reading for STALL_S while STALL_PROBES probes are written: the
        pipes fill, the engine waits without spinning, and loses nothing."""
        e = self.eng
        data = "".join(ln + "\n" for ln in
                       probe_lines(range(STALL_PROBES), LAB.dst4, "timeout 3")).encode()
        e.write_in_background(data)
        time.sleep(1.0)
        cpu0 = cpu_seconds(e.proc.pid)
        time.sleep(STALL_S - 1.0)
        cpu = cpu_seconds(e.proc.pid) - cpu0
        # Proof that the stall was real: the writer is stuck on a full stdin pipe.
        self.assertTrue(e.writer.is_alive(), "all input was taken in while stdout was full")
        self.assertIsNone(e.proc.poll(), "engine died while its reader stalled")
        self.assertLess(cpu, STALL_CPU_S, "engine spun while blocked on its output")
        per_token, words = e.read_counts(STALL_PROBES, time.monotonic() + BATCH_S)
        e.writer.join(timeout=5)
        self.assertIsNone(e.write_error)
        self.assert_each_once(per_token, STALL_PROBES)
        self.assertEqual(dict(words), {"reply": STALL_PROBES})
        self.assertEqual(e.stop(), 0)

    def test_fast_writer_slow_reader(self):
        e = self.eng
        data = "".join(ln + "\n" for ln in
                       probe_lines(range(FLOOD_PROBES), LAB.dst4, "timeout 3")).encode()
        e.write_in_background(data)
        per_token, words = e.read_counts(FLOOD_PROBES, time.monotonic() + BATCH_S * 2,
                                         chunk=SLOW_READ_BYTES, pause=SLOW_READ_PAUSE_S)
        e.writer.join(timeout=5)
        self.assertIsNone(e.write_error)
        self.assert_each_once(per_token, FLOOD_PROBES)
        self.assertEqual(dict(words), {"reply": FLOOD_PROBES})
        self.assertEqual(e.stop(), 0)


class TestEndOfInput(EngineCase):
    # Inside 203.0.113.0/24 but not the lab destination: router 1 drops it.
    BLACKHOLE4 = "203.0.113.2"

    def test_eof_waits_for_probes_in_flight(self):
        e = self.engine()
        dead = list(range(1, EOF_PROBES + 1))
        live = list(range(EOF_PROBES + 1, 2 * EOF_PROBES + 1))
        opt = "timeout %d" % EOF_TIMEOUT_S
        with LAB.nft_rules(LAB.router(1), "forward", ["ip daddr %s drop" % self.BLACKHOLE4]):
            e.send(*(probe_lines(dead, self.BLACKHOLE4, opt) + probe_lines(live, LAB.dst4, opt)))
            e.close()
            t0 = time.monotonic()
            lines = e.read_all(timeout=EOF_EXIT_S + 5)
            rc = e.wait(timeout=EOF_EXIT_S + 5)
            took = time.monotonic() - t0
        self.assertEqual(rc, 0)
        self.assertLess(took, EOF_EXIT_S, "engine took %.2f s to exit after EOF" % took)
        # It cannot have answered the dropped probes before their timeout.
        self.assertGreater(took, EOF_TIMEOUT_S - 0.5)
        replies = [Reply(ln) for ln in lines]
        per_token = collections.Counter(r.token for r in replies)
        self.assertEqual(len(replies), 2 * EOF_PROBES)
        self.assertEqual(set(per_token), set(dead + live))
        self.assertEqual(max(per_token.values()), 1)
        words = {r.token: r.word for r in replies}
        self.assertEqual(collections.Counter(words[t] for t in dead), {"no-reply": EOF_PROBES})
        self.assertEqual(collections.Counter(words[t] for t in live), {"reply": EOF_PROBES})

    def test_eof_with_nothing_in_flight(self):
        e = self.engine()
        t0 = time.monotonic()
        e.close()
        self.assertEqual(e.wait(timeout=IDLE_EXIT_S), 0)
        self.assertLess(time.monotonic() - t0, IDLE_EXIT_S)
        self.assertEqual(e.read_all(timeout=1), [])

    def test_eof_after_answered_command(self):
        e = self.engine()
        e.send("9 check-support feature version")
        e.close()
        t0 = time.monotonic()
        self.assertEqual(e.wait(timeout=IDLE_EXIT_S), 0)
        self.assertLess(time.monotonic() - t0, IDLE_EXIT_S)
        lines = e.read_all(timeout=1)
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(lines[0].startswith("9 feature-support support "), lines)


class TestTimestamps(EngineCase):
    def rtts(self, replies, dst):
        out = []
        for r in replies:
            self.assert_reply_from(r, "reply", dst)
            out.append(r.int("round-trip-time"))
        return out

    def test_rtt_light_and_loaded(self):
        e = self.engine()
        for dst in (LAB.dst4, LAB.dst6):
            with self.subTest(dst=dst):
                light = [self.ask(e, ln) for ln in
                         probe_lines(range(1, LIGHT_PROBES + 1), dst, "timeout 2")]
                p50 = statistics.median(self.rtts(light, dst))
                self.assertLess(p50, LIGHT_P50_US, "light-load RTT median %d us" % p50)

                tokens = range(10000, 10000 + BURST_PROBES)
                e.send(*probe_lines(tokens, dst, "timeout 5"))
                got = self.answer_batch(e, tokens)
                p50 = statistics.median(self.rtts(got.values(), dst))
                self.assertLess(p50, BURST_P50_US,
                                "RTT median %d us with %d in flight" % (p50, BURST_PROBES))


class TestWithoutNetRaw(EngineCase):
    SETPRIV = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
               "--inh-caps=-all"]

    def private_copy(self):
        """A copy of the engine that the unprivileged user can surely reach, whatever the
        build dir's modes, and that may carry file capabilities of its own."""
        tmp = tempfile.mkdtemp(prefix="hw-engine-")
        self.addCleanup(shutil.rmtree, tmp)
        os.chmod(tmp, 0o755)
        engine = os.path.join(tmp, "hopwatchd")
        shutil.copy(LAB.engine, engine)
        os.chmod(engine, 0o755)
        return engine

    @contextlib.contextmanager
    def ping_group_range(self, value):
        """net.ipv4.ping_group_range of the source namespace for a with block."""
        key = "net.ipv4.ping_group_range"
        old = LAB.ns(LAB.src, "sysctl", "-n", key).stdout.split()
        LAB.ns(LAB.src, "sysctl", "-qw", "%s=%s" % (key, value))
        try:
            yield
        finally:
            LAB.ns(LAB.src, "sysctl", "-qw", "%s=%s" % (key, " ".join(old)), check=False)

    def run_unprivileged(self, engine, commands):
        """Run the engine as nobody with no capability at all (not even in the bounding
        set), feed it commands and end its input; returns the CompletedProcess."""
        return subprocess.run(["ip", "netns", "exec", LAB.src] + self.SETPRIV +
                              ["--bounding-set=-all", engine],
                              input="".join(c + "\n" for c in commands),
                              capture_output=True, text=True, timeout=20)

    def test_unprivileged_start_fails_with_advice(self):
        engine = self.private_copy()
        # Ping sockets closed to every group (the kernel default): nothing to fall back to.
        with self.ping_group_range("1 0"):
            p = self.run_unprivileged(engine, [])
        self.assertNotEqual(p.returncode, 0, "started without CAP_NET_RAW")
        self.assertEqual(p.stdout, "")
        err = p.stderr.splitlines()
        self.assertEqual(len(err), 1, "stderr: %r" % p.stderr)
        self.assertIn("CAP_NET_RAW", err[0])
        self.assertIn("setcap", err[0])

    def test_icmp_datagram_fallback(self):
        """No CAP_NET_RAW but ping sockets allowed for nobody's group: the engine says so
        in one line, traces with ICMP (hops and destination, both families) and refuses
        UDP and TCP plainly."""
        engine = self.private_copy()
        hops = len(LAB.routers)
        commands = ["1 check-support feature icmp", "2 check-support feature udp",
                    "3 check-support feature tcp",
                    "4 send-probe ip-4 %s protocol udp timeout 1" % LAB.dst4,
                    "5 send-probe ip-6 %s protocol tcp timeout 1" % LAB.dst6]
        want = {1: "1 feature-support support ok", 2: "2 feature-support support no",
                3: "3 feature-support support no",
                4: "4 invalid-argument reason protocol-not-supported",
                5: "5 invalid-argument reason protocol-not-supported"}
        expect = {}
        for base, dst, hop_addrs in ((10, LAB.dst4, LAB.hop4), (20, LAB.dst6, LAB.hop6)):
            for ttl in range(1, hops + 2):
                t = base + ttl
                (line,) = probe_lines([t], dst, "ttl %d timeout 2" % ttl)
                commands.append(line)
                expect[t] = ("reply", dst) if ttl > hops else ("ttl-expired",
                                                               hop_addrs[ttl - 1])
        with self.ping_group_range("0 %d" % NOBODY):
            p = self.run_unprivileged(engine, commands)
        self.assertEqual(p.returncode, 0, p.stderr)
        err = p.stderr.splitlines()
        self.assertEqual(len(err), 1, "stderr: %r" % p.stderr)
        self.assertIn("datagram", err[0])
        self.assertIn("setcap", err[0])
        replies = [Reply(ln) for ln in p.stdout.splitlines()]
        self.assertEqual(len(replies), len(commands), p.stdout)
        got = {r.token: r for r in replies}
        self.assertEqual(len(got), len(commands), "a token answered twice: " + p.stdout)
        for t, line in want.items():
            self.assertEqual(got[t].line, line)
        for t, (word, addr) in expect.items():
            self.assert_reply_from(got[t], word, addr)

    def test_setcap_advice_works(self):
        """Following that advice (file capabilities instead of root): the engine runs as
        the user who started it and keeps no capability itself; its broker keeps only
        NET_RAW and NET_ADMIN and still serves mark and local-device."""
        if UNDER_VALGRIND:
            self.skipTest("under valgrind: file capabilities of the engine's copy would "
                          "not reach valgrind, which runs it")
        engine = self.private_copy()
        p = subprocess.run(["setcap", "cap_net_raw,cap_net_admin+ep", engine],
                           capture_output=True, text=True)
        if p.returncode != 0:
            self.skipTest("cannot set file capabilities here: " + p.stderr.strip())
        # Engine runs "ip netns exec NS <lab.engine> ARGS": make that setpriv, which
        # execs the copy in place, so the pid is still the engine's.
        lab = copy.copy(LAB)
        lab.engine = shutil.which("setpriv")
        e = Engine(lab, self.SETPRIV[1:] + [engine])
        self.engines.append(e)
        r = self.ask(e, "1 check-support feature send-probe")
        self.assertEqual(r.line, "1 feature-support support ok")
        pid = e.proc.pid
        st = status(pid)
        self.assertEqual(st["Name"], "hopwatchd")
        self.assertEqual(st["Uid"].split(), [str(NOBODY)] * 4)
        for field in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
            self.assertEqual(int(st[field], 16), 0, "%s = %s" % (field, st[field]))
        self.assertEqual(st["NoNewPrivs"], "1")
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            children = [int(x) for x in f.read().split()]
        self.assertEqual(len(children), 1, "expected exactly one broker, got %r" % children)
        bst = status(children[0])
        self.assertEqual(int(bst["CapEff"], 16), BROKER_CAPS, "broker CapEff " + bst["CapEff"])
        self.assertEqual(int(bst["CapPrm"], 16), BROKER_CAPS, "broker CapPrm " + bst["CapPrm"])
        self.assertEqual(bst["NoNewPrivs"], "1")
        for t, dst, opt in ((2, LAB.dst4, ""), (3, LAB.dst6, "protocol tcp"),
                            (4, LAB.dst4, "mark %d" % MARK_ROUTE),
                            (5, LAB.dst6, "local-device right")):
            (line,) = probe_lines([t], dst, opt, "timeout 2")
            self.assert_reply_from(self.ask(e, line), "reply", dst)


if __name__ == "__main__":
    unittest.main(verbosity=2)
