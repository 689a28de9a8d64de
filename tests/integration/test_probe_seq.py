"""test_probe_seq: hopwatchd numbers its probes as mtr-packet does.

Run inside a namespace with nothing but loopback (test_probe_seq.sh makes it). Tools
written for mtr-packet find an engine's probes by ICMP sequence: mtr's own test
listener (test/packet_listen.c) waits for 33000, the first probe of a fresh mtr-packet.
Raw sockets here see every echo request the engine sends to 127.0.0.1 and ::1 and check
the sequences: 33000 for the first probe of an engine, then one more per probe, whatever
the family.
"""

import os
import select
import socket
import struct
import subprocess
import sys
import time
import unittest

# mtr-packet's first probe sequence (mtr 0.95 packet/probe_unix.h MIN_PORT).
FIRST_SEQ = 33000
ICMP_ECHO = 8
ICMP6_ECHO = 128
# Seconds to wait for the engine's answers on loopback (each probe answers in < 1 ms).
WAIT_S = 5.0
ENGINE = os.path.join(os.environ.get("HOPWATCH_BUILD", "build"), "daemon", "hopwatchd")


def echo_seq(data, v6):
    """Sequence of an echo request, or None for any other packet."""
    if not v6:
        data = data[(data[0] & 0x0F) * 4:]  # raw IPv4 sockets read the IP header too
    if len(data) < 8 or data[0] != (ICMP6_ECHO if v6 else ICMP_ECHO):
        return None
    return struct.unpack("!H", data[6:8])[0]


class ProbeSeq(unittest.TestCase):
    def setUp(self):
        self.socks = {
            socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP): False,
            socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6): True,
        }

    def tearDown(self):
        for s in self.socks:
            s.close()

    def run_engine(self, lines):
        """Send lines to a fresh engine; return its replies once every token answered."""
        eng = subprocess.Popen([ENGINE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
        try:
            out, _ = eng.communicate("".join(l + "\n" for l in lines), timeout=WAIT_S * 2)
        except subprocess.TimeoutExpired:
            eng.kill()
            eng.communicate()
            self.fail("engine did not answer and exit within %.0f s" % (WAIT_S * 2))
        return out.splitlines()

    def seen(self):
        """(family, sequence) of every echo request the sockets hold, in arrival order."""
        got = []
        deadline = time.monotonic() + 0.5
        while True:
            ready, _, _ = select.select(list(self.socks), [], [],
                                        max(0.0, deadline - time.monotonic()))
            if not ready:
                return got
            for s in ready:
                seq = echo_seq(s.recv(65535), self.socks[s])
                if seq is not None:
                    got.append((6 if self.socks[s] else 4, seq))

    def test_first_probe_is_33000(self):
        replies = self.run_engine([
            "1 send-probe ip-4 127.0.0.1 timeout 1",
            "2 send-probe ip-6 ::1 timeout 1",
            "3 send-probe ip-4 127.0.0.1 timeout 1",
        ])
        self.assertEqual(sorted(r.split(" ")[:2] for r in replies),
                         [["1", "reply"], ["2", "reply"], ["3", "reply"]], replies)
        got = self.seen()
        # Replies arrive as the probes are answered: the order of the sequences is that of
        # the sends only within a family.
        self.assertEqual(sorted(got), [(4, FIRST_SEQ), (4, FIRST_SEQ + 2), (6, FIRST_SEQ + 1)])

    def test_each_engine_starts_again(self):
        for _ in range(2):
            self.assertEqual(self.run_engine(["7 send-probe ip-6 ::1 timeout 1"])[0][:8],
                             "7 reply ")
            self.assertEqual(self.seen(), [(6, FIRST_SEQ)])


if __name__ == "__main__":
    if not os.access(ENGINE, os.X_OK):
        sys.exit("engine not found: %s (set HOPWATCH_BUILD)" % ENGINE)
    unittest.main()
