#!/usr/bin/env python3
"""test_reaping.py: process hygiene of hopwatch, hopwatchd and the broker, and the
socket file of socket mode. Runs as root in a network namespace of its own (see
test_reaping.sh) and makes itself a child subreaper (PR_SET_CHILD_SUBREAPER), so that
whatever its children leave behind is reparented to it, where it can be seen: a process
whose parent died becomes ours (an orphan), one that exited and was never waited for
stays a zombie. Checked: the CLI reaps the engine it spawned and the engine its broker,
whatever order they end in; a killed CLI or engine leaves nothing running; the socket
file goes away on SIGTERM even from a directory the engine's user cannot write; and
root never follows a symlink swapped in at the socket's path.
"""
import ctypes
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest

BUILD = os.environ.get("HOPWATCH_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
ENGINE = os.path.realpath(os.path.join(BUILD, "daemon/hopwatchd"))
CLI = os.path.realpath(os.path.join(BUILD, "client/hopwatch"))
PR_SET_CHILD_SUBREAPER = 36
TARGET = "127.0.0.1"  # inside our own namespace: nothing leaves it
SETTLE_S = 5.0  # longest a process may take to leave after its parent went
STEP_S = 0.02
STARTUP_S = 5.0
RACE_ROUNDS = 60  # engine starts while a racer swaps the socket path for a symlink
RACER_HOLD_S = 0.002  # how long the racer leaves its symlink at the path
ENGINE_USER = "hopwatchd"


def children_of(pid):
    """Pids whose parent is pid, zombies included (from /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append((int(d), fields[0]))
    return out


def descendants(pid):
    """Every process below pid (pid, state) by walking /proc."""
    todo, seen = [pid], []
    while todo:
        for child in children_of(todo.pop()):
            seen.append(child)
            todo.append(child[0])
    return seen


def reap_all():
    """Wait for every child that has exited; return their pids."""
    got = []
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return got
        if pid == 0:
            return got
        got.append(pid)


def wait_gone(pids, timeout=SETTLE_S):
    """Reap what exits; True once none of pids is alive or a zombie."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reap_all()
        if not any(os.path.exists(f"/proc/{p}") for p in pids):
            return True
        time.sleep(STEP_S)
    return False


def wait_for(cond, timeout=STARTUP_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(STEP_S)
    return None


class Reaping(unittest.TestCase):
    def setUp(self):
        for f in (ENGINE, CLI):
            if not os.access(f, os.X_OK):
                self.fail(f"not built: {f}")
        self.me = os.getpid()
        self.assertEqual(reap_all(), [])
        self.assertEqual(children_of(self.me), [], "left over from an earlier case")

    def tearDown(self):
        for pid, _ in descendants(self.me):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_gone([p for p, _ in descendants(self.me)])

    def assert_clean(self, what):
        """Nothing below us: every process reaped by its own parent or by us."""
        left = descendants(self.me)
        self.assertEqual(left, [], f"{what}: left behind (pid, state): {left}")

    # -- the CLI and the engine it spawns ------------------------------------------

    def start_cli(self, *args):
        env = dict(os.environ, HOPWATCH_ENGINE=ENGINE, HOPWATCH_NO_HISTORY="1")
        return subprocess.Popen([CLI, "-n", *args, TARGET], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def engine_tree(self, cli):
        """(engine, broker) below the running CLI, once both are up."""
        def find():
            kids = [p for p, _ in children_of(cli.pid)]
            if len(kids) != 1:
                return None
            brokers = [p for p, _ in children_of(kids[0])]
            return (kids[0], brokers[0]) if len(brokers) == 1 else None
        tree = wait_for(find)
        self.assertIsNotNone(tree, "the CLI did not start an engine with a broker")
        return tree

    def test_cli_report_reaps_engine_and_broker(self):
        cli = self.start_cli("-r", "-c", "2", "-i", "0.2")
        engine, broker = self.engine_tree(cli)
        self.assertEqual(cli.wait(timeout=30), 0, cli.stderr.read())
        cli.stderr.close()
        # Reaped by their parents: never reparented to us, so not ours to wait for.
        self.assertEqual(reap_all(), [])
        self.assertFalse(os.path.exists(f"/proc/{engine}"))
        self.assertFalse(os.path.exists(f"/proc/{broker}"))
        self.assert_clean("a finished report")

    def test_cli_sigterm_reaps_engine_and_broker(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            cli = self.start_cli("-r", "-c", "100", "-i", "0.2")
            engine, broker = self.engine_tree(cli)
            cli.send_signal(sig)
            cli.wait(timeout=30)
            cli.stderr.close()
            self.assertEqual(reap_all(), [], f"after {sig!r}, reparented to us")
            self.assertTrue(wait_gone([engine, broker]))
            self.assert_clean(f"the CLI ended by {sig!r}")

    def test_cli_killed_leaves_nothing(self):
        cli = self.start_cli("-r", "-c", "100", "-i", "0.2")
        engine, broker = self.engine_tree(cli)
        cli.kill()
        cli.wait()
        cli.stderr.close()
        # The engine reads EOF and leaves, reaping the broker on its way out.
        self.assertTrue(wait_gone([engine, broker]), f"still there: {descendants(self.me)}")
        self.assert_clean("a killed CLI")

    # -- the engine alone, in pipe mode, and its broker ---------------------------

    def start_engine(self, *args):
        eng = subprocess.Popen([ENGINE, *args], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        brokers = wait_for(lambda: children_of(eng.pid))
        self.assertTrue(brokers, "no broker under the engine")
        return eng, brokers[0][0]

    def test_engine_sigterm_reaps_broker(self):
        eng, broker = self.start_engine()
        eng.send_signal(signal.SIGTERM)
        eng.wait(timeout=10)
        self.assertEqual(reap_all(), [], "the broker was left for us to reap")
        self.assertFalse(os.path.exists(f"/proc/{broker}"), "the broker outlived the engine")
        self.assert_clean("an engine ended by SIGTERM")
        for f in (eng.stdin, eng.stdout, eng.stderr):
            f.close()

    def test_engine_eof_reaps_broker(self):
        eng, broker = self.start_engine()
        eng.stdin.close()
        eng.wait(timeout=10)
        self.assertEqual(reap_all(), [])
        self.assertFalse(os.path.exists(f"/proc/{broker}"))
        self.assert_clean("an engine at EOF")
        eng.stdout.close()
        eng.stderr.close()

    def test_engine_killed_broker_leaves(self):
        eng, broker = self.start_engine()
        eng.kill()
        eng.wait()
        # Now an orphan, ours: it must leave by itself (EOF, parent-death signal).
        self.assertTrue(wait_gone([broker]), "the broker of a killed engine stayed")
        self.assert_clean("a killed engine")
        for f in (eng.stdin, eng.stdout, eng.stderr):
            f.close()

    def test_broker_killed_engine_goes_on_then_leaves(self):
        eng, broker = self.start_engine()
        os.kill(broker, signal.SIGKILL)
        # The engine is its parent and must reap it: no zombie stays below it.
        time.sleep(0.5)
        zombies = [p for p, st in children_of(eng.pid) if st == "Z"]
        eng.stdin.write(b"1 check-support feature send-probe\n")
        eng.stdin.flush()
        eng.stdin.close()
        eng.wait(timeout=10)
        self.assertEqual(reap_all(), [])
        self.assert_clean("an engine whose broker was killed")
        for f in (eng.stdout, eng.stderr):
            f.close()
        # A zombie for a moment is fine; one the engine never waits for is not.
        self.assertFalse(os.path.exists(f"/proc/{broker}"), f"zombies: {zombies}")

    # -- socket mode: the file -----------------------------------------------------

    def start_listener(self, path):
        eng = subprocess.Popen([ENGINE, "--listen", path], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        ok = wait_for(lambda: os.path.exists(path) and stat.S_ISSOCK(os.lstat(path).st_mode)
                      or eng.poll() is not None)
        self.assertTrue(ok)
        if eng.poll() is not None:
            self.fail(f"engine failed: {eng.stderr.read()!r}")
        return eng

    def stop_listener(self, eng):
        eng.send_signal(signal.SIGTERM)
        err = eng.communicate(timeout=10)[1]
        self.assertEqual(eng.returncode, 0, err)
        return err

    def test_socket_removed_from_root_directory(self):
        uid = pwd.getpwnam(ENGINE_USER).pw_uid
        with tempfile.TemporaryDirectory() as d:
            os.chmod(d, 0o755)  # root's, not writable by the engine's user
            path = os.path.join(d, "engine.sock")
            eng = self.start_listener(path)
            st = os.lstat(path)
            self.assertEqual(st.st_uid, uid, "the socket is not the engine user's")
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o666)
            self.assertEqual(sorted(os.listdir(d)), ["engine.sock"], "private dir left")
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(path)
            c.close()
            err = self.stop_listener(eng)
            self.assertFalse(os.path.exists(path), f"socket left behind; stderr: {err!r}")
            self.assert_clean("a listener ended by SIGTERM")

    def test_socket_removed_from_own_directory(self):
        uid = pwd.getpwnam(ENGINE_USER).pw_uid
        with tempfile.TemporaryDirectory() as d:
            os.chmod(d, 0o755)
            path = os.path.join(d, "run", "engine.sock")
            eng = self.start_listener(path)
            self.assertEqual(os.stat(os.path.dirname(path)).st_uid, uid)
            self.stop_listener(eng)
            self.assertFalse(os.path.exists(path))

    def test_no_path_based_chmod_chown_as_root(self):
        """Whatever the timing: the engine, as root, never changes a mode or an owner by a
        path in a directory someone else may write, only through descriptors or by a name
        inside its private directory without following symlinks (traced with strace)."""
        if not shutil.which("strace"):
            self.skipTest("strace is not installed")
        pw = pwd.getpwnam(ENGINE_USER)
        with tempfile.TemporaryDirectory() as d:
            os.chmod(d, 0o755)
            run = os.path.join(d, "run")
            os.mkdir(run, 0o755)
            os.chown(run, pw.pw_uid, pw.pw_gid)
            path = os.path.join(run, "engine.sock")
            out = os.path.join(d, "trace")
            calls = "chmod,fchmodat,chown,lchown,fchownat,fchmod,fchown"
            subprocess.run(["strace", "-f", "-qq", "-e", "trace=" + calls, "-o", out,
                            "timeout", "-s", "TERM", "1", ENGINE, "--listen", path],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=30)
            with open(out) as f:
                lines = [l for l in f if "(" in l and "resumed" not in l]
            seen = [l for l in lines if "chown" in l or "chmod" in l]
            self.assertTrue(any("fchownat(" in l for l in seen), "no chown traced: %r" % seen)
            for l in seen:
                call = l.split()[1].split("(")[0]
                if call in ("fchmod", "fchown"):
                    continue  # a descriptor: nothing to swap
                self.assertIn(call, ("fchownat",), "by path: " + l)
                self.assertNotIn("AT_FDCWD", l, "by path: " + l)
                self.assertIn("AT_SYMLINK_NOFOLLOW", l, "follows symlinks: " + l)

    def test_no_symlink_followed_at_socket_path(self):
        """A user owning the socket's directory swaps in a symlink to a root file
        again and again while the engine starts: the file must keep its mode/owner."""
        pw = pwd.getpwnam(ENGINE_USER)
        with tempfile.TemporaryDirectory() as d:
            os.chmod(d, 0o755)
            victim = os.path.join(d, "victim")
            with open(victim, "w") as f:
                f.write("secret\n")
            os.chmod(victim, 0o600)
            run = os.path.join(d, "run")
            os.mkdir(run, 0o755)
            os.chown(run, pw.pw_uid, pw.pw_gid)
            path = os.path.join(run, "engine.sock")
            stop = threading.Event()
            racer = os.fork()
            if racer == 0:
                try:
                    os.setgid(pw.pw_gid)
                    os.setuid(pw.pw_uid)
                    tmp = os.path.join(run, "link")
                    while True:
                        # The moment a socket shows at the path, put the symlink there;
                        # a moment later clear the path again for the next start.
                        try:
                            st = os.lstat(path)
                        except OSError:
                            continue
                        try:
                            if stat.S_ISSOCK(st.st_mode):
                                if not os.path.lexists(tmp):
                                    os.symlink(victim, tmp)
                                os.rename(tmp, path)
                                time.sleep(RACER_HOLD_S)
                            elif stat.S_ISLNK(st.st_mode):
                                os.unlink(path)
                        except OSError:
                            pass
                finally:
                    os._exit(0)
            try:
                for _ in range(RACE_ROUNDS):
                    eng = subprocess.Popen([ENGINE, "--listen", path],
                                           stdin=subprocess.DEVNULL,
                                           stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL)
                    time.sleep(0.03)
                    eng.send_signal(signal.SIGTERM)
                    eng.wait(timeout=10)
            finally:
                stop.set()
                os.kill(racer, signal.SIGKILL)
                os.waitpid(racer, 0)
            st = os.stat(victim)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o600, "root chmod()ed the victim")
            self.assertEqual((st.st_uid, st.st_gid), (0, 0), "root chown()ed the victim")
            left = [n for n in os.listdir(run) if n.startswith(".hopwatchd")]
            self.assertEqual(left, [], "private bind directory left behind")


if __name__ == "__main__":
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit(f"prctl(PR_SET_CHILD_SUBREAPER): errno {ctypes.get_errno()}")
    unittest.main(verbosity=2)
