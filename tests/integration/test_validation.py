"""test_validation: send-probe lines hopwatchd must refuse or answer plainly.

Run inside a namespace of its own (test_validation.sh makes it, with loopback only).
Each case starts a fresh engine, writes lines and checks the replies by token:
destinations that are no single host (unspecified, multicast, limited broadcast),
the token "-0", a size above the route MTU over IPv4, and IPv6 probes after their
interface went down. Where stock mtr-packet is installed, the cases it answers the same
way are run against it too: the reply word must be the same.
"""

import os
import subprocess
import sys
import time
import unittest

ENGINE = os.path.join(os.environ.get("HOPWATCH_BUILD", "build"), "daemon", "hopwatchd")
STOCK = os.environ.get("STOCK_PACKET", "/usr/bin/mtr-packet")
# Seconds an engine gets to answer everything and exit after its input ends.
WAIT_S = 10
# A veth pair made by a case: MTU 1500 like a real link, and nothing behind it.
LINK = ("hwv0", "hwv1")
SRC4, GW4, FAR4 = "198.51.100.1", "198.51.100.99", "192.0.2.1"
SRC6, GW6, FAR6 = "2001:db8::1", "2001:db8::99", "2001:db8:5::1"


def run(engine, lines, between=None):
    """Replies of a fresh engine, by token. between() runs after the first line's reply."""
    eng = subprocess.Popen([engine], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        if between:
            eng.stdin.write(lines[0] + "\n")
            eng.stdin.flush()
            first = eng.stdout.readline()
            between()
            lines = lines[1:]
        out, _ = eng.communicate("".join(l + "\n" for l in lines), timeout=WAIT_S)
    finally:
        if eng.poll() is None:
            eng.kill()
            eng.communicate()
    if between:
        out = first + out
    return {int(l.split(" ")[0]): l for l in out.splitlines()}


def words(replies):
    return {t: l.split(" ")[1] for t, l in replies.items()}


class Case(unittest.TestCase):
    def same_word_as_stock(self, lines):
        """Where mtr-packet is installed, it must answer each line with the same word."""
        if os.access(STOCK, os.X_OK):
            self.assertEqual(words(run(ENGINE, lines)), words(run(STOCK, lines)))


def ip(*args):
    subprocess.run(["ip"] + list(args), check=True)


class Validation(Case):
    def assertReplies(self, lines, expected):
        self.assertEqual(run(ENGINE, lines), expected)

    def test_not_one_host(self):
        lines = ["1 send-probe ip-4 0.0.0.0 timeout 1",
                 "2 send-probe ip-6 :: timeout 1",
                 "3 send-probe ip-6 ff05::2 timeout 1",
                 "4 send-probe ip-4 224.0.0.1 timeout 1",
                 "5 send-probe ip-4 239.255.255.250 protocol udp timeout 1",
                 "6 send-probe ip-4 255.255.255.255 timeout 1",
                 "7 send-probe ip-6 ff02::1 protocol tcp timeout 1",
                 "8 send-probe ip-4 127.0.0.1 timeout 1",
                 "9 send-probe ip-6 ::ffff:127.0.0.1 timeout 1"]
        got = run(ENGINE, lines)
        # The one host among them is still probed.
        self.assertTrue(got.pop(8).startswith("8 reply ip-4 127.0.0.1 round-trip-time "))
        self.assertEqual(got, {
            1: "1 invalid-argument reason unspecified-address",
            2: "2 invalid-argument reason unspecified-address",
            3: "3 invalid-argument reason multicast-address",
            4: "4 invalid-argument reason multicast-address",
            5: "5 invalid-argument reason multicast-address",
            6: "6 invalid-argument reason broadcast-address",
            7: "7 invalid-argument reason multicast-address",
            9: "9 invalid-argument reason v4-mapped-address"})
        # mtr-packet probes 0.0.0.0 and :: (the kernel answers from loopback): not these.
        self.same_word_as_stock(lines[2:8])

    def test_minus_zero_token(self):
        self.assertReplies(["-0 check-support feature version",
                            "5 send-probe ip-4 127.0.0.1 timeout -0"],
                           {0: "0 command-parse-error",
                            5: "5 invalid-argument reason bad-number"})


class Link(Case):
    """Cases on a veth pair with MTU 1500 and routes that lead nowhere."""

    def setUp(self):
        ip("link", "add", LINK[0], "type", "veth", "peer", "name", LINK[1])
        for dev in LINK:
            ip("link", "set", dev, "up")
        ip("addr", "add", SRC4 + "/24", "dev", LINK[0])
        ip("addr", "add", SRC6 + "/64", "dev", LINK[0], "nodad")
        ip("route", "add", "default", "via", GW4)
        ip("-6", "route", "add", "default", "via", GW6, "dev", LINK[0])

    def tearDown(self):
        subprocess.run(["ip", "link", "del", LINK[0]], stderr=subprocess.DEVNULL)

    def test_size_above_mtu(self):
        lines = ["1 send-probe ip-4 %s size 65000 timeout 1" % FAR4,
                 "2 send-probe ip-4 %s size 9001 protocol udp timeout 1" % FAR4]
        self.assertEqual(run(ENGINE, lines + ["3 send-probe ip-4 %s size 1500 timeout 1" % FAR4]),
                         {1: "1 invalid-argument reason size-exceeds-mtu",
                          2: "2 invalid-argument reason size-exceeds-mtu",
                          3: "3 no-reply"})
        self.same_word_as_stock(lines)

    def test_ipv6_after_link_down(self):
        # The first probe caches the source; the link goes down before the others.
        def down():
            ip("link", "set", LINK[0], "down")
            time.sleep(0.2)
        got = run(ENGINE, ["1 send-probe ip-6 %s timeout 1" % FAR6,
                           "2 send-probe ip-6 %s timeout 1" % FAR6,
                           "3 send-probe ip-6 %s protocol udp timeout 1" % FAR6,
                           "4 send-probe ip-6 %s protocol tcp timeout 1" % FAR6,
                           "5 send-probe ip-4 %s timeout 1" % FAR4], between=down)
        self.assertEqual(got, {1: "1 no-reply", 2: "2 no-route", 3: "3 no-route",
                               4: "4 no-route", 5: "5 no-route"})


if __name__ == "__main__":
    if not os.access(ENGINE, os.X_OK):
        sys.exit("engine not found: %s (set HOPWATCH_BUILD)" % ENGINE)
    unittest.main()
