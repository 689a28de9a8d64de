"""enginetest: drive hopwatchd over its pipes from Python integration tests.

Shared by the tests that run_in_lab.sh starts. Lab describes the namespace lab from
the environment run_in_lab.sh sets; Engine starts the engine inside the lab's source
namespace, sends command lines and reads reply lines with timeouts, matching them by
token because replies may come in any order. Nothing here sends a packet itself: every
probe leaves from the engine in LAB_SRC.
"""

import contextlib
import os
import queue
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time

# Seconds to wait for a reply a working engine gives at once (parse errors, support).
QUICK_S = 3.0
# Seconds to wait for a probe result in the lab (a few hops of veth, no delay).
PROBE_S = 5.0
# Seconds an engine gets to exit after its input ends and its probes are done.
EXIT_S = 10.0
# Seconds a socket-mode engine gets to accept connections, and to exit on SIGTERM.
SOCKET_START_S = 5.0
SOCKET_EXIT_S = 5.0
# Name of the nftables table the helpers below create (and delete) in a namespace.
NFT_TABLE = "hwtest"

_TOKEN_RE = re.compile(r"^(0|[1-9][0-9]*)$")


class Reply:
    """One reply line: TOKEN WORD [NAME VALUE]..."""

    def __init__(self, line):
        self.line = line
        words = line.split(" ")
        if len(words) < 2 or not _TOKEN_RE.match(words[0]):
            raise ValueError("not a reply line: %r" % line)
        if len(words) % 2:
            raise ValueError("NAME without VALUE in reply: %r" % line)
        self.token = int(words[0])
        self.word = words[1]
        self.names = words[2::2]
        self.args = dict(zip(words[2::2], words[3::2]))
        if len(self.args) != len(self.names):
            raise ValueError("repeated argument in reply: %r" % line)

    def int(self, name):
        return int(self.args[name])

    def __repr__(self):
        return "Reply(%r)" % self.line


def _split(env, name):
    return [w for w in os.environ.get(name, "").split(" ") if w]


class Lab:
    """The lab run_in_lab.sh built: names and addresses, plus namespace helpers."""

    def __init__(self):
        env = os.environ
        missing = [n for n in ("LAB_SRC", "LAB_DST", "HOPWATCH_ENGINE") if not env.get(n)]
        if missing:
            raise RuntimeError("not run through run_in_lab.sh (missing %s)" % " ".join(missing))
        self.prefix = env.get("LAB_PREFIX", "")
        self.src = env["LAB_SRC"]
        self.dst = env["LAB_DST"]
        self.dst4 = env.get("LAB_DST4", "203.0.113.1")
        self.dst6 = env.get("LAB_DST6", "2001:db8:ffff::1")
        self.routers = _split(env, "LAB_ROUTERS")
        self.hop4 = _split(env, "LAB_HOP4")
        self.hop6 = _split(env, "LAB_HOP6")
        self.engine = env["HOPWATCH_ENGINE"]

    def router(self, k):
        """Namespace of router k, 1-based as in lab.sh."""
        return self.routers[k - 1]

    def ns(self, name, *cmd, check=True, input=None):
        """Run cmd inside namespace name; returns the CompletedProcess."""
        return subprocess.run(["ip", "netns", "exec", name] + list(cmd), check=check,
                              input=input, capture_output=True, text=True)

    def nft(self, name, script):
        """Feed an nft script (several commands, ';' or newline separated) to namespace name."""
        return self.ns(name, "nft", "-f", "-", input=script)

    @contextlib.contextmanager
    def nft_rules(self, name, hook, rules):
        """Install rules in a fresh 'inet hwtest' chain on hook (forward, output, input)
        of namespace name for the duration of a with block."""
        body = "\n".join("add rule inet %s c %s" % (NFT_TABLE, r) for r in rules)
        self.nft(name, "add table inet %s\n"
                 "add chain inet %s c { type filter hook %s priority 0; policy accept; }\n%s\n"
                 % (NFT_TABLE, NFT_TABLE, hook, body))
        try:
            yield
        finally:
            self.ns(name, "nft", "delete", "table", "inet", NFT_TABLE, check=False)

    @contextlib.contextmanager
    def ip_route(self, name, *route):
        """'ip route add ROUTE...' in namespace name for a with block (IPv6 when the
        route mentions a ':' address)."""
        fam = ["-6"] if any(":" in w for w in route) else ["-4"]
        self.ns(name, "ip", *fam, "route", "add", *route)
        try:
            yield
        finally:
            self.ns(name, "ip", *fam, "route", "del", *route, check=False)


class ReplyReader:
    """Collects reply lines by token. Subclasses keep self.pending (lines read, not yet
    taken) and provide _pull(deadline): read one more line into pending, False when
    none came in time or the input ended."""

    def collect(self, tokens, timeout=PROBE_S):
        """dict token -> Reply for every token in tokens answered in time."""
        deadline = time.monotonic() + timeout
        want = set(tokens)
        got = {}
        while want:
            for ln in list(self.pending):
                r = Reply(ln)
                if r.token in want:
                    self.pending.remove(ln)
                    want.discard(r.token)
                    got[r.token] = r
            if want and not self._pull(deadline):
                break
        return got

    def drain(self, timeout):
        """Every line that arrives within timeout seconds (plus those pending)."""
        deadline = time.monotonic() + timeout
        while self._pull(deadline):
            pass
        out, self.pending = self.pending, []
        return out


class Engine(ReplyReader):
    """hopwatchd in pipe mode inside a namespace, with a reader thread on its stdout."""

    def __init__(self, lab, args=(), ns=None):
        self.lab = lab
        self.pending = []  # reply lines read but not yet claimed by a test
        self._q = queue.Queue()
        self._eof = False
        cmd = ["ip", "netns", "exec", ns or lab.src, lab.engine] + list(args)
        # ip netns exec execs the engine, so self.proc.pid is the engine itself.
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     bufsize=0)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        buf = b""
        out = self.proc.stdout
        while True:
            chunk = out.read(65536)
            if not chunk:
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for ln in lines:
                self._q.put(ln.decode("utf-8", "backslashreplace"))
        if buf:
            # A last line without newline is a protocol violation a test should see.
            self._q.put(buf.decode("utf-8", "backslashreplace") + "<no newline>")
        self._q.put(None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # ---- input ----

    def write(self, data):
        """Raw bytes (or str) to the engine's stdin, nothing added."""
        if isinstance(data, str):
            data = data.encode()
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, *lines):
        """Each line plus its newline, in one write."""
        self.write(b"".join((ln.encode() if isinstance(ln, str) else ln) + b"\n"
                            for ln in lines))

    def close(self):
        """End the engine's input (EOF on stdin)."""
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()

    # ---- output ----

    def _pull(self, deadline):
        """Next line from the reader into pending; False on timeout or EOF."""
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

    def line(self, timeout=QUICK_S):
        """The oldest unclaimed line, or None after timeout seconds (or at EOF)."""
        deadline = time.monotonic() + timeout
        if not self.pending and not self._pull(deadline):
            return None
        return self.pending.pop(0)

    def expect(self, token, timeout=QUICK_S):
        """The first reply carrying token (leaving other lines pending), or None."""
        deadline = time.monotonic() + timeout
        i = 0
        while True:
            while i < len(self.pending):
                r = Reply(self.pending[i])
                if r.token == token:
                    del self.pending[i]
                    return r
                i += 1
            if not self._pull(deadline):
                return None

    def read_all(self, timeout=EXIT_S):
        """Every line up to EOF; raises TimeoutError if the engine keeps its stdout open."""
        deadline = time.monotonic() + timeout
        while self._pull(deadline):
            pass
        if not self._eof:
            raise TimeoutError("engine output did not end within %.0f s" % timeout)
        out, self.pending = self.pending, []
        return out

    # ---- lifetime ----

    def wait(self, timeout=EXIT_S):
        """Exit status, or None if the engine is still running after timeout seconds."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """Close input and make sure the engine is gone (SIGKILL after a grace period)."""
        self.close()
        if self.wait(timeout=2) is None:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=2)
        if self.proc.stdout and not self._reader.is_alive():
            self.proc.stdout.close()


class SocketDaemon:
    """hopwatchd --listen PATH [ARGS] in the lab's source namespace, stderr to a file.

    proc: an already started engine to manage instead (socket activation starts its own).
    """

    def __init__(self, lab, path, *args, proc=None):
        self.path = path
        self.log = tempfile.TemporaryFile(mode="w+")
        if proc is None:
            cmd = ["ip", "netns", "exec", lab.src, lab.engine, "--listen", path] + list(args)
            # ip netns exec execs the daemon in place: proc.pid is hopwatchd.
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=self.log)
        self.proc = proc
        self.pid = proc.pid

    def wait_ready(self, timeout=SOCKET_START_S):
        """True once PATH accepts connections (or False when the daemon died)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.connect(self.path)
                return True
            except OSError:
                time.sleep(0.02)
        return False

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.pid))

    def stderr(self):
        self.log.seek(0)
        return self.log.read()

    def terminate(self, timeout=SOCKET_EXIT_S):
        """SIGTERM; the exit status, or None when it did not exit in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        if self.terminate() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
