#!/usr/bin/env python3
"""test_socket: hopwatchd's socket mode, in a namespace lab.

Run by test_socket.sh through run_in_lab.sh. The daemon runs inside the lab's source
namespace with --listen PATH (or a socket passed as by systemd socket activation); clients
connect to the socket file from outside (a UNIX socket is a file, not a network address),
as root and as uid 65534, and every probe leaves from the daemon in LAB_SRC. Checked: the
socket file and its directory, the privilege drop, two clients with the same tokens, a
client that leaves with probes in flight (its slots are freed at once), a half-closed
client, the connection limits (global and per uid), the per-uid in-flight and rate limits, stale and
live socket files, SIGTERM, the hopwatch CLI as an unprivileged user, socket activation.
"""

import os
import pwd
import queue
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time
import unittest

from enginetest import Lab, Reply, ReplyReader, SocketDaemon

# Seconds for a reply the daemon gives at once, and for probe results in the lab.
QUICK_S = 3.0
PROBE_S = 5.0
# Seconds the daemon gets to create its socket, and to exit after SIGTERM.
START_S = 5.0
EXIT_S = 5.0
# Longest the engine may take from making its socket to the end of its drop.
DROP_WAIT_S = 10.0
# The unprivileged client (nobody/nogroup).
NOBODY = 65534


def engine_uid():
    """The account a root engine drops to: its own, else (with a warning) nobody's."""
    for name in ("hopwatchd", "nobody"):
        try:
            return pwd.getpwnam(name).pw_uid
        except KeyError:
            pass
    return NOBODY
# Probes per client in the same-tokens case.
TWIN_PROBES = 500
# Seconds to listen for stray lines after every expected one arrived.
STRAY_S = 0.5
# In-flight limit case: the limit, and the timeout of the probes that hold it.
INFLIGHT_LIMIT = 100
HOLD_TIMEOUT_S = 2
# Rate limit case: probes per second allowed, and how many are sent in one burst.
RATE_LIMIT = 200
RATE_BURST = 600
# The slack a rate bucket refilling while a burst is read may add.
RATE_SLACK = 20
# Probes a client leaves behind when it disconnects mid-flight.
LEAVER_PROBES = 2000
# Connections the daemon serves at once (ENGINE_MAX_CLIENTS), and per uid.
MAX_CLIENTS = 512
PER_UID_CLIENTS = 64
# First of the uids that fill the connection table beside root.
CONN_UID_BASE = 61000
# Probes a client writes without reading any reply, for the back-pressure case.
STALL_PROBES = 40000
# Capability bits: CAP_NET_ADMIN (12) and CAP_NET_RAW (13).
BROKER_CAPS = (1 << 12) | (1 << 13)
# Descriptor systemd passes the first socket on.
LISTEN_FDS_START = 3

LAB = None
BUILD = None


def setUpModule():
    global LAB, BUILD
    LAB = Lab()
    BUILD = os.environ.get("HOPWATCH_BUILD",
                           os.path.join(os.path.dirname(LAB.engine), ".."))


def status(pid):
    """/proc/PID/status as a dict of field -> value string."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            k, _, v = ln.partition(":")
            out[k] = v.strip()
    return out


def probe_lines(tokens, dst, *extra):
    fam = "ip-6" if ":" in dst else "ip-4"
    tail = (" " + " ".join(extra)) if extra else ""
    return ["%d send-probe %s %s%s" % (t, fam, dst, tail) for t in tokens]


def connect_as(path, uid=None):
    """A connected socket whose peer credentials are uid's: a child process drops to
    uid, connects (SO_PEERCRED records the connecting process) and hands the descriptor
    back over a socket pair."""
    if uid is None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        return s
    parent, child = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        try:
            parent.close()
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            socket.send_fds(child, [b"x"], [s.fileno()])
            os._exit(0)
        except BaseException:
            os._exit(1)
    child.close()
    try:
        _, fds, _, _ = socket.recv_fds(parent, 16, 1)
    finally:
        parent.close()
        _, st = os.waitpid(pid, 0)
    if not fds or os.waitstatus_to_exitcode(st) != 0:
        raise RuntimeError("could not connect to %s as uid %d" % (path, uid))
    return socket.socket(fileno=fds[0])


class Client(ReplyReader):
    """One connection to the daemon with a reader thread; lines matched by token."""

    def __init__(self, path, uid=None):
        self.sock = connect_as(path, uid)
        self.pending = []
        self._q = queue.Queue()
        self._eof = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        buf = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for ln in lines:
                self._q.put(ln.decode("utf-8", "backslashreplace"))
        if buf:
            self._q.put(buf.decode("utf-8", "backslashreplace") + "<no newline>")
        self._q.put(None)

    def send(self, *lines):
        self.sock.sendall(b"".join(ln.encode() + b"\n" for ln in lines))

    def _pull(self, deadline):
        if self._eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            ln = self._q.get(timeout=left)
        except queue.Empty:
            return False
        if ln is None:
            self._eof = True
            return False
        self.pending.append(ln)
        return True

    def ask(self, line, timeout=QUICK_S):
        self.send(line)
        tok = int(line.split()[0])
        return self.collect([tok], timeout).get(tok)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self._reader.join(timeout=2)


def Daemon(path, *args, proc=None):
    return SocketDaemon(LAB, path, *args, proc=proc)


class SocketCase(unittest.TestCase):
    def setUp(self):
        # Traversable by uid 65534, like /run; the daemon creates the "run" directory.
        self.dir = tempfile.mkdtemp(prefix="hwsock.")
        os.chmod(self.dir, 0o755)
        self.path = os.path.join(self.dir, "run", "engine.sock")
        self.daemons = []
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        for d in self.daemons:
            d.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def daemon(self, *args, path=None):
        d = Daemon(path or self.path, *args)
        self.daemons.append(d)
        self.assertTrue(d.wait_ready(), "daemon not serving: " + d.stderr())
        return d

    def client(self, uid=None, path=None):
        c = Client(path or self.path, uid)
        self.clients.append(c)
        return c

    def assert_all(self, got, tokens, word, addr):
        missing = sorted(set(tokens) - set(got))
        self.assertEqual(missing[:10], [], "%d tokens unanswered" % len(missing))
        for t in tokens:
            r = got[t]
            self.assertEqual(r.word, word, r.line)
            fam = "ip-6" if ":" in addr else "ip-4"
            self.assertEqual(r.args.get(fam), addr, r.line)


class TestSocketFile(SocketCase):
    def test_mode_directory_and_drop(self):
        d = self.daemon()
        st = os.lstat(self.path)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o666)
        dst = os.stat(os.path.dirname(self.path))
        self.assertEqual(stat.S_IMODE(dst.st_mode), 0o755)
        # Created by root for the user it drops to, so it can remove the socket at exit.
        self.assertEqual(dst.st_uid, engine_uid())

        # The socket is made before the drop (its directory may need root): a slow engine
        # (under valgrind, say) may still be dropping when it appears.
        ps = status(d.pid)
        deadline = time.monotonic() + DROP_WAIT_S
        while "0" in ps["Uid"].split() + ps["Gid"].split() and time.monotonic() < deadline:
            time.sleep(0.05)
            ps = status(d.pid)
        self.assertEqual(ps["Name"], "hopwatchd")
        for field in ("Uid", "Gid"):
            self.assertNotIn(0, [int(x) for x in ps[field].split()], field + " " + ps[field])
        self.assertEqual(ps["Groups"], "")
        for field in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            self.assertEqual(int(ps[field], 16), 0, "%s = %s" % (field, ps[field]))
        self.assertEqual(ps["NoNewPrivs"], "1")
        with open("/proc/%d/task/%d/children" % (d.pid, d.pid)) as f:
            children = [int(x) for x in f.read().split()]
        self.assertEqual(len(children), 1, "expected exactly one broker, got %r" % children)
        bst = status(children[0])
        self.assertEqual(int(bst["CapEff"], 16), BROKER_CAPS, "broker CapEff " + bst["CapEff"])

        # And it serves, as root and as nobody, after the drop.
        for uid in (None, NOBODY):
            c = self.client(uid)
            r = c.ask("1 send-probe ip-4 %s ttl 1 timeout 2" % LAB.dst4, PROBE_S)
            self.assertIsNotNone(r)
            self.assertEqual((r.word, r.args.get("ip-4")), ("ttl-expired", LAB.hop4[0]))
        self.assertIn("client uid 65534", d.stderr())

    def test_sigterm_exits_0_and_removes_socket(self):
        d = self.daemon()
        c = self.client()
        c.send(*probe_lines(range(1, 11), LAB.dst4, "timeout 5"))
        self.assertEqual(len(c.collect(range(1, 11))), 10)
        # Probes in flight do not hold up the exit.
        with LAB.nft_rules(LAB.dst, "input", ["meta l4proto icmp drop"]):
            c.send(*probe_lines(range(11, 21), LAB.dst4, "timeout 10"))
            time.sleep(0.2)
            t0 = time.monotonic()
            self.assertEqual(d.terminate(), 0, d.stderr())
            self.assertLess(time.monotonic() - t0, 2.0)
        self.assertFalse(os.path.lexists(self.path), "socket file left behind")

    def test_stale_socket_replaced_live_one_kept(self):
        os.mkdir(os.path.dirname(self.path))
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(self.path)
        stale.close()  # the file stays, nobody listens
        self.assertTrue(os.path.lexists(self.path))
        d = self.daemon()
        c = self.client()
        self.assertEqual(c.ask("1 check-support feature send-probe").line,
                         "1 feature-support support ok")

        # A second daemon must neither start nor take the live socket away.
        d2 = Daemon(self.path)
        self.daemons.append(d2)
        self.assertNotEqual(d2.proc.wait(timeout=START_S), 0)
        self.assertIn("another engine", d2.stderr())
        self.assertEqual(self.client().ask("2 check-support feature send-probe").line,
                         "2 feature-support support ok")

        # Nor a file that is not a socket.
        other = os.path.join(self.dir, "plain")
        with open(other, "w") as f:
            f.write("keep me")
        d3 = Daemon(other)
        self.daemons.append(d3)
        self.assertNotEqual(d3.proc.wait(timeout=START_S), 0)
        with open(other) as f:
            self.assertEqual(f.read(), "keep me")
        self.assertEqual(d.terminate(), 0)


class TestSessions(SocketCase):
    def test_same_tokens_two_users(self):
        self.daemon()
        root = self.client()
        nobody = self.client(NOBODY)
        # Extensions are per connection: only root's replies carry icmp-type.
        self.assertEqual(root.ask("900000 enable-extension feature icmp-type").word,
                         "extension-enabled")
        toks = list(range(1, TWIN_PROBES + 1))
        a = probe_lines(toks, LAB.dst4, "ttl 1", "timeout 3")
        b = probe_lines(toks, LAB.dst4, "timeout 3")
        ta = threading.Thread(target=root.send, args=a)
        ta.start()
        nobody.send(*b)
        ta.join()
        got_a = root.collect(toks)
        got_b = nobody.collect(toks)
        self.assert_all(got_a, toks, "ttl-expired", LAB.hop4[0])
        self.assert_all(got_b, toks, "reply", LAB.dst4)
        for r in got_a.values():
            self.assertEqual(r.args.get("icmp-type"), "11", r.line)
        for r in got_b.values():
            self.assertNotIn("icmp-type", r.args, r.line)
        self.assertEqual(root.drain(STRAY_S), [])
        self.assertEqual(nobody.drain(STRAY_S), [])

    def test_leaver_does_not_disturb(self):
        d = self.daemon()
        stay = self.client(NOBODY)
        toks = list(range(1, 201))
        with LAB.nft_rules(LAB.dst, "input", ["meta l4proto icmp drop"]):
            leaver = Client(self.path)
            leaver.send(*probe_lines(range(1, LEAVER_PROBES + 1), LAB.dst4, "timeout 2"))
            stay.send(*probe_lines(toks[:100], LAB.dst4, "ttl 1", "timeout 3"))
            time.sleep(0.2)
            leaver.close()
            stay.send(*probe_lines(toks[100:], LAB.dst4, "ttl 2", "timeout 3"))
            got = stay.collect(toks)
            self.assert_all({t: got[t] for t in toks[:100] if t in got}, toks[:100],
                            "ttl-expired", LAB.hop4[0])
            self.assert_all({t: got[t] for t in toks[100:] if t in got}, toks[100:],
                            "ttl-expired", LAB.hop4[1])
            # The leaver's probes time out after it left: nothing reaches the others.
            time.sleep(2.5)
            self.assertEqual(stay.drain(STRAY_S), [])
        self.assertIsNone(d.proc.poll(), "daemon died: " + d.stderr())
        self.assertIn("dropping the answers to", d.stderr())
        r = self.client().ask("1 send-probe ip-4 %s timeout 2" % LAB.dst4, PROBE_S)
        self.assertEqual((r.word, r.args.get("ip-4")), ("reply", LAB.dst4))


    def test_stalled_reader_blocks_nobody(self):
        self.daemon()
        stalled = connect_as(self.path)
        try:
            data = "".join(ln + "\n" for ln in probe_lines(range(1, STALL_PROBES + 1),
                                                            LAB.dst4, "ttl 1", "timeout 1"))
            writer = threading.Thread(target=lambda: stalled.sendall(data.encode()),
                                      daemon=True)
            writer.start()
            time.sleep(1.0)
            other = self.client(NOBODY)
            for k in range(5):
                toks = list(range(k * 100 + 1, k * 100 + 101))
                other.send(*probe_lines(toks, LAB.dst4, "ttl 2", "timeout 2"))
                self.assert_all(other.collect(toks, QUICK_S), toks, "ttl-expired",
                                LAB.hop4[1])
            # The stalled client still gets every answer once it reads.
            stalled.settimeout(PROBE_S)
            buf = b""
            while buf.count(b"\n") < STALL_PROBES:
                chunk = stalled.recv(1 << 20)
                if not chunk:
                    break
                buf += chunk
            writer.join(timeout=PROBE_S)
            lines = buf.decode().splitlines()
            self.assertEqual(len(lines), STALL_PROBES)
            self.assertEqual(sorted(Reply(ln).token for ln in lines),
                             list(range(1, STALL_PROBES + 1)))
        finally:
            stalled.close()

    def test_connection_limit(self):
        # 512 connections in all, 64 per uid: eight uids fill the engine.
        d = self.daemon()
        # wait_ready's own connection must be gone before root's 64 are counted.
        time.sleep(STRAY_S)
        socks = []
        uids = [None] + [CONN_UID_BASE + k for k in range(MAX_CLIENTS // PER_UID_CLIENTS - 1)]
        try:
            for uid in uids:
                for _ in range(PER_UID_CLIENTS):
                    socks.append(connect_as(self.path, uid))
            # Each one is served (so each was accepted before the next test).
            for i, s in enumerate(socks):
                s.sendall(b"%d check-support feature send-probe\n" % i)
            for i, s in enumerate(socks):
                s.settimeout(QUICK_S)
                self.assertEqual(s.recv(4096), b"%d feature-support support ok\n" % i)
            extra = connect_as(self.path, NOBODY)
            extra.settimeout(QUICK_S)
            self.assertEqual(extra.recv(4096),
                             b"0 unexpected-error reason too-many-connections\n")
            self.assertEqual(extra.recv(4096), b"", "connection over the limit not closed")
            extra.close()
            # Logged around the close, not necessarily before the client sees it.
            deadline = time.monotonic() + QUICK_S
            while "refused" not in d.stderr() and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertIn("refused", d.stderr())
            # A connection of the last uid ends: that uid may connect again (not root,
            # which holds its 64 still).
            socks.pop().close()
            time.sleep(0.2)
            c = self.client(uids[-1])
            self.assertEqual(c.ask("1 check-support feature send-probe").line,
                             "1 feature-support support ok")
        finally:
            for s in socks:
                s.close()


class TestLimits(SocketCase):
    def test_inflight_per_user(self):
        self.daemon("--max-inflight-per-user", str(INFLIGHT_LIMIT))
        root = self.client()
        nobody = self.client(NOBODY)
        toks = list(range(1, INFLIGHT_LIMIT + 2))
        with LAB.nft_rules(LAB.dst, "input", ["meta l4proto icmp drop"]):
            root.send(*probe_lines(toks, LAB.dst4, "timeout %d" % HOLD_TIMEOUT_S))
            over = root.collect([INFLIGHT_LIMIT + 1], QUICK_S)
            self.assertEqual(over[INFLIGHT_LIMIT + 1].word, "probes-exhausted")
            # The limit is per uid, not per connection: a second root client is refused...
            other = self.client()
            r = other.ask("5 send-probe ip-4 %s ttl 1" % LAB.dst4)
            self.assertEqual(r.word, "probes-exhausted")
            # ...while another uid is served.
            ntoks = list(range(1, 51))
            nobody.send(*probe_lines(ntoks, LAB.dst4, "ttl 1", "timeout 3"))
            self.assert_all(nobody.collect(ntoks), ntoks, "ttl-expired", LAB.hop4[0])
            got = root.collect(toks[:-1], HOLD_TIMEOUT_S + PROBE_S)
            self.assertEqual(sorted(got), toks[:-1])
            self.assertEqual({r.word for r in got.values()}, {"no-reply"})
        # Once they are done the uid has its quota back.
        r = other.ask("6 send-probe ip-4 %s ttl 1" % LAB.dst4, PROBE_S)
        self.assertEqual(r.word, "ttl-expired")

    def test_inflight_freed_when_a_client_leaves(self):
        # A client that closes its connection gives its probes' slots back at once (they
        # held the uid's quota until they timed out, up to an hour).
        d = self.daemon("--max-inflight-per-user", str(INFLIGHT_LIMIT))
        with LAB.nft_rules(LAB.dst, "input", ["meta l4proto icmp drop"]):
            leaver = Client(self.path)
            leaver.send(*probe_lines(range(1, INFLIGHT_LIMIT + 1), LAB.dst4,
                                     "timeout %d" % HOLD_TIMEOUT_S))
            time.sleep(0.3)
            c = self.client()
            self.assertEqual(c.ask("1 send-probe ip-4 %s ttl 1" % LAB.dst4).word,
                             "probes-exhausted")
            leaver.close()
            time.sleep(0.3)
            self.assertEqual(c.ask("2 send-probe ip-4 %s ttl 1" % LAB.dst4).word,
                             "ttl-expired")
        self.assertIn("freeing their slots", d.stderr())

    def test_half_closed_client_still_answered(self):
        # Only its sending side shut: the answers still come (as in pipe mode).
        self.daemon()
        c = self.client()
        c.send(*probe_lines([1, 2], LAB.dst4, "ttl 1"))
        c.sock.shutdown(socket.SHUT_WR)
        got = c.collect([1, 2])
        self.assertEqual(sorted(got), [1, 2])

    def test_rate_per_user(self):
        self.daemon("--max-rate-per-user", str(RATE_LIMIT))
        root = self.client()
        nobody = self.client(NOBODY)
        toks = list(range(1, RATE_BURST + 1))
        root.send(*probe_lines(toks, LAB.dst4, "ttl 1", "timeout 3"))
        got = root.collect(toks)
        self.assertEqual(len(got), RATE_BURST)
        served = [t for t, r in got.items() if r.word == "ttl-expired"]
        refused = [t for t, r in got.items() if r.word == "probes-exhausted"]
        self.assertEqual(len(served) + len(refused), RATE_BURST)
        self.assertGreaterEqual(len(served), RATE_LIMIT)
        self.assertLessEqual(len(served), RATE_LIMIT + RATE_SLACK)
        # The first ones go through: the bucket starts full.
        self.assertEqual(sorted(served), toks[:len(served)])
        # Another uid has its own bucket.
        ntoks = list(range(1, RATE_LIMIT + 1))
        nobody.send(*probe_lines(ntoks, LAB.dst4, "ttl 1", "timeout 3"))
        self.assert_all(nobody.collect(ntoks), ntoks, "ttl-expired", LAB.hop4[0])
        # A second later the bucket is full again.
        time.sleep(1.1)
        toks2 = list(range(1001, 1001 + RATE_LIMIT // 2))
        root.send(*probe_lines(toks2, LAB.dst4, "ttl 1", "timeout 3"))
        self.assert_all(root.collect(toks2), toks2, "ttl-expired", LAB.hop4[0])


class TestCli(SocketCase):
    def test_hopwatch_report_as_nobody(self):
        self.daemon()
        cli = os.path.join(BUILD, "client", "hopwatch")
        # A copy nobody can surely execute (the build tree may be private).
        mine = os.path.join(self.dir, "hopwatch")
        shutil.copy(cli, mine)
        os.chmod(mine, 0o755)
        env = dict(os.environ, HOPWATCH_NO_HISTORY="1", HOME=self.dir)
        env.pop("HOPWATCH_ENGINE", None)
        out = subprocess.run(["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
                              "--clear-groups", mine, "-r", "-n", "-c", "3", "--engine",
                              "unix:" + self.path, LAB.dst4],
                             capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(out.returncode, 0, out.stderr)
        rows = [ln.split() for ln in out.stdout.splitlines() if ".|--" in ln]
        hosts = [r[1] for r in rows]
        self.assertEqual(hosts, LAB.hop4 + [LAB.dst4], out.stdout)
        for r in rows:
            self.assertEqual(r[2], "0.0%", out.stdout)
            self.assertEqual(r[3], "3", out.stdout)


class TestActivation(SocketCase):
    def setUp(self):
        super().setUp()
        self.outputs = []
        self.logs = []

    def tearDown(self):
        for fd in self.outputs:
            os.close(fd)
        for f in self.logs:
            f.close()
        super().tearDown()

    def start_activated(self, path, listen_pid_self=True):
        """Fork, put a listening socket on fd 3, set LISTEN_FDS/LISTEN_PID, exec."""
        os.makedirs(os.path.dirname(path), exist_ok=True)
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lsock.bind(path)
        os.chmod(path, 0o666)
        lsock.listen(16)
        log = tempfile.TemporaryFile(mode="w+")
        rfd, wfd = os.pipe()
        out_r, out_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.dup2(lsock.fileno(), LISTEN_FDS_START)
                os.set_inheritable(LISTEN_FDS_START, True)
                os.dup2(rfd, 0)
                os.dup2(out_w, 1)
                os.dup2(log.fileno(), 2)
                env = dict(os.environ, LISTEN_FDS="1",
                           LISTEN_PID=str(os.getpid() if listen_pid_self else 1))
                ip = shutil.which("ip")
                os.execve(ip, ["ip", "netns", "exec", LAB.src, LAB.engine], env)
            finally:
                os._exit(127)
        lsock.close()
        os.close(rfd)
        os.close(out_w)
        self.outputs.append(out_r)
        self.logs.append(log)
        return pid, log, wfd, out_r

    def test_activated_socket_serves(self):
        path = os.path.join(self.dir, "sd", "engine.sock")
        pid, log, wfd, _ = self.start_activated(path)
        try:
            c = Client(path, NOBODY)
            self.clients.append(c)
            r = c.ask("1 send-probe ip-4 %s ttl 2 timeout 2" % LAB.dst4, PROBE_S)
            self.assertIsNotNone(r, "no answer")
            self.assertEqual((r.word, r.args.get("ip-4")), ("ttl-expired", LAB.hop4[1]))
            ps = status(pid)
            self.assertEqual(int(ps["CapEff"], 16), 0)
            os.kill(pid, signal.SIGTERM)
            _, st = os.waitpid(pid, 0)
            pid = None
            self.assertEqual(os.waitstatus_to_exitcode(st), 0)
            # systemd's socket, not ours: it stays.
            self.assertTrue(os.path.lexists(path))
            log.seek(0)
            self.assertIn("client uid 65534", log.read())
        finally:
            os.close(wfd)
            if pid:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)

    def test_listen_pid_of_another_process_ignored(self):
        path = os.path.join(self.dir, "sd2", "engine.sock")
        pid, log, wfd, out = self.start_activated(path, listen_pid_self=False)
        try:
            # Pipe mode then: it answers on stdout and ends with its input.
            os.write(wfd, b"1 check-support feature send-probe\n")
            os.close(wfd)
            wfd = None
            _, st = os.waitpid(pid, 0)
            pid = None
            self.assertEqual(os.waitstatus_to_exitcode(st), 0)
            self.assertEqual(os.read(out, 4096), b"1 feature-support support ok\n")
        finally:
            if wfd is not None:
                os.close(wfd)
            if pid:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
