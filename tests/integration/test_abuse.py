#!/usr/bin/env python3
"""test_abuse: hopwatchd in socket mode under hostile local users, in a namespace lab.

Run by test_abuse.sh through run_in_lab.sh. About 200 connections of several uids (each
uid a forked child that drops to it before it connects, so SO_PEERCRED sees it) for
ABUSE_S seconds: garbage and bare newlines never read, 1 MB lines, connect/close loops,
probe floods from four uids that hold their slots (their probes are dropped at the lab's
destination), and idle connections. Meanwhile a well-behaved uid runs the hopwatch CLI
against the same daemon. Checked: the daemon stays up with bounded memory (VmHWM) and
descriptors, no uid holds more than its share of connections or probe slots, idle
connections are closed after --idle-timeout, the refusal line reaches the CLI as one clear
message, and the good trace is complete in about the time it takes on an idle daemon.
Every probe goes to the lab's own addresses, from the daemon inside LAB_SRC.
"""

import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from enginetest import Lab, SocketDaemon

# Seconds the abuse lasts, and the idle timeout the daemon gets for it.
ABUSE_S = 20
IDLE_S = 3
# Connections per uid (ENGINE_MAX_CLIENTS_PER_USER) and the probe table (65,536 slots,
# 1/8 kept back) with the default per-uid quota.
PER_UID = 64
SLOTS = 65536
RESERVE = SLOTS // 8
QUOTA = 16384
# Abusers: (uid, behaviour, connections). 60 + 60 + 20 + 30 + 4 * 6 + 80 = 274 tried at
# once, of which the idle uid's 80 meet its limit of 64.
GARBAGE_UIDS = (62001, 62002)
GARBAGE_CONNS = 60
LONG_UID, LONG_CONNS = 62003, 20
CHURN_UID, CHURN_CONNS = 62004, 30
FLOOD_UIDS = (62011, 62012, 62013, 62014)
FLOOD_CONNS = 6
IDLE_UID, IDLE_CONNS = 62020, 80
GOOD_UID = 62030
# Size of the flood's probes: the destination drops exactly these (nft "ip length").
FLOOD_SIZE = 1000
FLOOD_TIMEOUT_S = 60
# One 1 MB line.
LONG_LINE = 1 << 20
# Bounds: the daemon's peak resident memory (755 MB was seen with 510 newline senders;
# before the per-line bound this test's 120 took 157 MB, since then about 67 MB) and
# descriptors; the good trace's time under abuse over its time on an idle daemon. Under
# AddressSanitizer (its quarantine keeps freed memory) the memory figure is only printed.
MEM_MAX_MB = 110
FDS_MAX = 600
RATIO_MAX = 2.5
# The good trace: cycles, and the CLI's limit on the whole run.
GOOD_CYCLES = 4
CLI_TIMEOUT_S = 60
REFUSE_UID = b"0 unexpected-error reason too-many-connections-for-uid\n"
IDLE_LINE = b"0 unexpected-error reason idle-timeout\n"

LAB = None


def setUpModule():
    global LAB
    LAB = Lab()


def under_asan(pid):
    with open("/proc/%d/maps" % pid) as f:
        return "libasan" in f.read()


def proc_status(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith(field + ":"):
                return int(ln.split()[1])
    return 0


def as_uid(uid, fn, *args):
    """Run fn(*args) in a child as uid; returns (pid, fd) for collect()."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(r)
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            out = fn(*args)
            os.write(w, json.dumps(out).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    return pid, r


def collect(child):
    pid, fd = child
    data = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        data += chunk
    os.close(fd)
    os.waitpid(pid, 0)
    return json.loads(data) if data else None


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.setblocking(False)
    return s


def pump(socks, secs, on_write=None, on_read=None):
    """Serve socks until secs pass: on_write(s) gives bytes to send (or None), on_read(s,
    data) sees what came (b"" at EOF, after which s is dropped)."""
    sel = selectors.DefaultSelector()
    out = {}
    for s in socks:
        ev = (selectors.EVENT_READ if on_read else 0) | (selectors.EVENT_WRITE if on_write
                                                          else 0)
        sel.register(s, ev)
        out[s] = b""
    end = time.monotonic() + secs
    while time.monotonic() < end and sel.get_map():
        for key, ev in sel.select(timeout=0.2):
            s = key.fileobj
            if ev & selectors.EVENT_READ:
                try:
                    data = s.recv(1 << 16)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                on_read(s, data)
                if not data:
                    sel.unregister(s)
                    continue
            if ev & selectors.EVENT_WRITE:
                if not out[s]:
                    out[s] = on_write(s) or b""
                try:
                    n = s.send(out[s])
                    out[s] = out[s][n:]
                except BlockingIOError:
                    pass
                except OSError:
                    sel.unregister(s)
    for s in socks:
        s.close()


def garbage(path, n, secs):
    """Bare newlines and junk, never a read: the slow readers."""
    socks = [connect(path) for _ in range(n)]
    junk = (b"\n" * 4000) + b"xx yy\n" * 500 + bytes(range(1, 10)) + b"\n"
    sent = [0]

    def w(s):
        sent[0] += len(junk)
        return junk
    pump(socks, secs, on_write=w)
    return {"sent": sent[0]}


def long_lines(path, n, secs):
    socks = [connect(path) for _ in range(n)]
    line = b"9" * LONG_LINE + b"\n"
    got = {"overflow": 0}

    def r(s, data):
        got["overflow"] += data.count(b"command-buffer-overflow")
    pump(socks, secs, on_write=lambda s: line, on_read=r)
    return got


def churn(path, n, secs):
    """Connect, ask, close, again; refused ones count too."""
    end = time.monotonic() + secs
    cycles = refused = 0
    while time.monotonic() < end:
        socks = []
        for _ in range(n):
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(2)
                s.connect(path)
                s.sendall(b"1 check-support feature send-probe\n")
                socks.append(s)
            except OSError:
                refused += 1
        for s in socks:
            try:
                if s.recv(256).startswith(b"0 unexpected-error"):
                    refused += 1
                cycles += 1
            except OSError:
                refused += 1
            s.close()
    return {"cycles": cycles, "refused": refused}


def flood(path, n, secs, dst):
    """Probes that the destination drops (they hold their slots) as fast as allowed."""
    socks = [connect(path) for _ in range(n)]
    st = {"sent": 0, "answered": 0, "exhausted": 0, "max_held": 0}
    tok = {s: 0 for s in socks}
    tail = {s: b"" for s in socks}

    def w(s):
        lines = []
        for _ in range(256):
            tok[s] += 1
            lines.append(b"%d send-probe ip-4 %s size %d timeout %d\n" %
                         (tok[s], dst.encode(), FLOOD_SIZE, FLOOD_TIMEOUT_S))
        st["sent"] += len(lines)
        return b"".join(lines)

    def r(s, data):
        buf = tail[s] + data
        *lines, tail[s] = buf.split(b"\n")
        for ln in lines:
            st["answered"] += 1
            if b"probes-exhausted" in ln:
                st["exhausted"] += 1
        # Sent by this uid but not answered: the slots it holds, less up to four batches
        # per connection that may still sit unread in the socket buffers (an estimate
        # from the client's side; the daemon does not publish its count).
        st["max_held"] = max(st["max_held"], st["sent"] - st["answered"] - 256 * n * 4)
    pump(socks, secs, on_write=w, on_read=r)
    return st


def idle(path, n, secs):
    """Connections that say nothing; a closed one is replaced."""
    st = {"refused": 0, "idle_closed": 0, "lifetimes": [], "max_open": 0}
    sel = selectors.DefaultSelector()
    opened = {}
    end = time.monotonic() + secs

    def open_one():
        try:
            s = connect(path)
        except OSError:
            st["refused"] += 1
            return
        opened[s] = time.monotonic()
        sel.register(s, selectors.EVENT_READ)

    for _ in range(n):
        open_one()
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            try:
                data = s.recv(256)
            except OSError:
                data = b""
            life = time.monotonic() - opened.pop(s)
            sel.unregister(s)
            s.close()
            if data.startswith(REFUSE_UID):
                st["refused"] += 1
            elif data.startswith(IDLE_LINE):
                st["idle_closed"] += 1
                st["lifetimes"].append(round(life, 2))
            open_one()
        # Refusals come at once: what lived past a second was accepted.
        now = time.monotonic()
        st["max_open"] = max(st["max_open"], sum(1 for t in opened.values() if now - t > 1))
    return st


class AbuseCase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="hwabuse.")
        os.chmod(self.dir, 0o755)
        self.path = os.path.join(self.dir, "run", "engine.sock")
        self.cli = os.path.join(self.dir, "hopwatch")
        build = os.environ.get("HOPWATCH_BUILD",
                               os.path.join(os.path.dirname(LAB.engine), ".."))
        shutil.copy(os.path.join(build, "client", "hopwatch"), self.cli)
        os.chmod(self.cli, 0o755)
        self.daemon = SocketDaemon(LAB, self.path, "--idle-timeout", str(IDLE_S))
        self.assertTrue(self.daemon.wait_ready(), "daemon not serving: " +
                        self.daemon.stderr())
        self.children = []

    def tearDown(self):
        for pid, fd in self.children:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                os.close(fd)
            except OSError:
                pass
        self.daemon.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def spawn(self, uid, fn, *args):
        c = as_uid(uid, fn, self.path, *args)
        self.children.append(c)
        return c

    def gather(self, c):
        self.children.remove(c)
        return collect(c)

    def hopwatch(self, uid, cycles=GOOD_CYCLES):
        """The CLI as uid: (seconds, CompletedProcess)."""
        env = dict(os.environ, HOPWATCH_NO_HISTORY="1", HOME=self.dir)
        env.pop("HOPWATCH_ENGINE", None)
        t0 = time.monotonic()
        out = subprocess.run(["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid,
                              "--clear-groups", self.cli, "-r", "-n", "-c", str(cycles),
                              "--engine", "unix:" + self.path, LAB.dst4],
                             capture_output=True, text=True, timeout=CLI_TIMEOUT_S, env=env)
        return time.monotonic() - t0, out

    def assert_complete(self, out):
        self.assertEqual(out.returncode, 0, out.stderr)
        rows = [ln.split() for ln in out.stdout.splitlines() if ".|--" in ln]
        self.assertEqual([r[1] for r in rows], LAB.hop4 + [LAB.dst4], out.stdout)
        self.assertEqual(rows[-1][2], "0.0%", out.stdout)


class TestAbuse(AbuseCase):
    def test_connection_limit_message(self):
        # One uid holding its 64 connections: its 65th is refused with a reason the CLI
        # shows; another uid is served. (Before: 512 idle connections of one uid locked
        # out everyone, and the CLI said "lost the connection to the engine".)
        time.sleep(0.5)  # wait_ready's connection is gone
        held = [connect(self.path) for _ in range(PER_UID)]
        time.sleep(0.5)
        try:
            dt, out = self.hopwatch(0)
            self.assertNotEqual(out.returncode, 0)
            self.assertIn("the engine refused the connection: too many connections for uid 0",
                          out.stderr)
            self.assertEqual(len(out.stderr.strip().splitlines()), 1, out.stderr)
            print("\nrefused CLI said: %s" % out.stderr.strip())
            dt, out = self.hopwatch(GOOD_UID, 1)
            self.assert_complete(out)
        finally:
            for s in held:
                s.close()

    def test_mixed_abuse(self):
        base_s, out = self.hopwatch(GOOD_UID)
        self.assert_complete(out)
        kids = []
        with LAB.nft_rules(LAB.dst, "input", ["ip length %d drop" % FLOOD_SIZE]):
            for uid in GARBAGE_UIDS:
                kids.append(("garbage", uid, self.spawn(uid, garbage, GARBAGE_CONNS, ABUSE_S)))
            kids.append(("long", LONG_UID, self.spawn(LONG_UID, long_lines, LONG_CONNS,
                                                     ABUSE_S)))
            kids.append(("churn", CHURN_UID, self.spawn(CHURN_UID, churn, CHURN_CONNS,
                                                       ABUSE_S)))
            for uid in FLOOD_UIDS:
                kids.append(("flood", uid, self.spawn(uid, flood, FLOOD_CONNS, ABUSE_S,
                                                      LAB.dst4)))
            kids.append(("idle", IDLE_UID, self.spawn(IDLE_UID, idle, IDLE_CONNS, ABUSE_S)))
            t_end = time.monotonic() + ABUSE_S
            time.sleep(3)
            runs = []
            peak_fds = 0
            while time.monotonic() < t_end - 2:
                dt, out = self.hopwatch(GOOD_UID)
                peak_fds = max(peak_fds, self.daemon.fds())
                self.assertIsNone(self.daemon.proc.poll(), "daemon died")
                runs.append((dt, out))
            stats = [(kind, uid, self.gather(c)) for kind, uid, c in kids]
        alive = self.daemon.proc.poll() is None
        hwm_mb = proc_status(self.daemon.pid, "VmHWM") / 1024 if alive else -1
        asan = alive and under_asan(self.daemon.pid)
        ratio = max(dt for dt, _ in runs) / base_s
        print("\nidle daemon: good trace %.2f s; under abuse: %s s (worst ratio %.2f)" %
              (base_s, ", ".join("%.2f" % dt for dt, _ in runs), ratio))
        print("daemon peak RSS (VmHWM) %.1f MB%s, peak descriptors %d" %
              (hwm_mb, " (ASan: not checked)" if asan else "", peak_fds))
        for kind, uid, st in stats:
            shown = dict(st or {})
            if shown.get("lifetimes"):
                life = shown.pop("lifetimes")
                shown["idle_lifetime_s"] = "%.2f..%.2f" % (min(life), max(life))
            print("uid %d %s: %s" % (uid, kind, shown))
        self.assertTrue(alive, "daemon died: " + self.daemon.stderr()[-2000:])
        for dt, out in runs:
            self.assert_complete(out)
        self.assertGreaterEqual(len(runs), 2)
        # Under memcheck the engine is 10-50 times slower and its heap is valgrind's:
        # neither figure measures the engine, everything else still holds.
        under_valgrind = bool(os.environ.get("HOPWATCH_VALGRIND"))
        if under_valgrind:
            print("under valgrind: the good client's ratio and peak RSS are not checked")
        else:
            self.assertLess(ratio, RATIO_MAX)
        if not asan and not under_valgrind:
            self.assertLess(hwm_mb, MEM_MAX_MB)
        self.assertLess(peak_fds, FDS_MAX)
        by = {}
        for kind, uid, st in stats:
            self.assertIsNotNone(st, "%s child of uid %d failed" % (kind, uid))
            by.setdefault(kind, []).append(st)
        # Connections: the idle uid never had more than its share open, was refused the
        # rest, and what it held was closed after the idle timeout (not before).
        st = by["idle"][0]
        # Under memcheck the engine takes connections off its backlog so slowly that the
        # client counts as open ones the engine refuses moments later: checked natively.
        if not under_valgrind:
            self.assertLessEqual(st["max_open"], PER_UID)
        self.assertGreaterEqual(st["refused"], IDLE_CONNS - PER_UID)
        self.assertGreater(st["idle_closed"], PER_UID)
        for life in st["lifetimes"]:
            self.assertGreaterEqual(life, IDLE_S - 0.5)
            self.assertLess(life, IDLE_S + 3)
        # Probe slots: each flood uid within its quota, all four leaving the reserve.
        held = [st["max_held"] for st in by["flood"]]
        for h in held:
            self.assertLessEqual(h, QUOTA)
        self.assertLessEqual(sum(held), SLOTS - RESERVE)
        self.assertTrue(all(st["exhausted"] > 0 for st in by["flood"]), by["flood"])
        self.assertTrue(all(st["overflow"] > 0 for st in by["long"]), by["long"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
