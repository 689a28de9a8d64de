#!/usr/bin/env python3
"""forge_inject: the forger of test_forged.py, run inside the router next to the client.

It sniffs the client's probes as they arrive on the router's client-side link (an
AF_PACKET socket, so it sees them before the router's own filters drop them), learns
from each one everything a reply needs (addresses, echo id and sequence, UDP ports and
checksum), and sends the client replies that are right except for one defect each, as
Ethernet frames straight to the client's MAC address (so that even a wrong outer
destination reaches it). Every kind of forgery comes from an address of its own (or,
for echo replies, which must come from the probe's destination, is sent only for the
destination assigned to it), so the test can tell from a reply line which one, if any,
the engine took.

What it does with a probe depends on the probe's TTL, which the test chooses:
  TTL_SILENT  every defective forgery; the probe must end as no-reply
  TTL_CONTROL the same, then the same reply without defect (must be taken, once), then
              that reply again (a duplicate: must not give a second line)
  TTL_LATE    the defective ones, and the faultless reply only after the probe timed out
  TTL_ECHO    the defective ones, then a faultless echo reply (ICMP probes) or reset
              (TCP probes)
  TTL_REAL    a faultless reply once the real router has answered

Input: "stop" on stdin ends it; it then prints one JSON object, kind -> frames sent.
It prints "ready" once its socket is open. Nothing here leaves the lab: every frame goes
out of the one veth that joins this router to the client.
"""

import argparse
import ipaddress
import json
import select
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
PACKET_HOST = 0

TTL_REAL = 2
TTL_SILENT = 30
TTL_CONTROL = 31
TTL_LATE = 32
TTL_ECHO = 33
# Seconds after a TTL_REAL probe before the faultless copy of its answer goes out.
AFTER_ANSWER_S = 0.3

# Error kinds: an ICMP error quoting the probe, with one defect. Order fixes addresses.
ERROR_KINDS = [
    "quote_src",      # quoted source is not the client
    "quote_dst",      # quoted destination is not the probe's
    "quote_id",       # ICMP: quoted echo id of another engine
    "quote_seq",      # ICMP: quoted sequence of no probe in flight
    "quote_key",      # UDP/TCP: quoted checksum/sequence (the probe id) of no probe in flight
    "quote_sport",    # UDP/TCP: quoted source port not ours
    "quote_dport",    # UDP/TCP: quoted destination port not the probe's
    "quote_proto",    # quoted protocol not the probe's
    "quote_short",    # quote cut after 4 bytes of L4 header
    "bad_ip_csum",    # IPv4 header checksum wrong
    "bad_icmp_csum",  # ICMP/ICMPv6 checksum wrong
    "outer_dst",      # outer destination is not the client
    "frag_first",     # first fragment (more fragments set), alone
    "frag_later",     # a later fragment (offset != 0)
    "wrong_family",   # the same error in the other IP version
    "echo_wrong_src",  # echo reply from someone other than the probe's destination
    "echo_family",    # echo reply in the other IP version
    "duplicate",      # the faultless reply again, after it was taken
    "late",           # the faultless reply after the probe timed out
    "after_answer",   # the faultless reply after the real answer was taken
    "control",        # faultless error (must be taken)
]
# Echo kinds come from the probe's destination, so each has a destination of its own:
# ECHO_KINDS[i] is only sent for probes to silent destination i.
ECHO_KINDS = [
    "echo_id",        # another engine's echo id
    "echo_seq",       # a sequence no probe in flight has
    "echo_csum",      # ICMP checksum wrong
    "echo_ip_csum",   # IPv4 header checksum wrong (IPv6: checksum without our pseudo-header)
    "echo_outer_dst",  # outer destination not the client
    "echo_frag",      # first fragment alone
]
ECHO_CONTROL = "echo_control"
# TCP answers (reset from the destination) likewise: TCP_KINDS[i] for destination i.
TCP_KINDS = [
    "tcp_csum",       # TCP checksum wrong
    "tcp_ack",        # acknowledges a sequence number no probe in flight has
    "tcp_dport",      # to a port that is not ours
    "tcp_sport",      # from a port that is not the probe's destination port
    "tcp_outer_dst",  # outer destination not the client
    "tcp_frag",       # first fragment alone (IPv6: a fragment header)
]
TCP_CONTROL = "tcp_control"


def kind_addr(family, kind):
    """The address a forgery of this kind claims to come from."""
    i = ERROR_KINDS.index(kind)
    if family == 4:
        return ipaddress.ip_address("192.0.2.%d" % (10 + i))
    return ipaddress.ip_address("2001:db8:ff::%x" % (0x10 + i))


def silent_dst(family, i):
    if family == 4:
        return ipaddress.ip_address("203.0.113.%d" % (100 + i))
    return ipaddress.ip_address("2001:db8:ffff::%x" % (0x100 + i))


# Addresses of nobody in the lab, for the defects that need one.
OTHER4 = ipaddress.ip_address("198.51.100.77")
OTHER6 = ipaddress.ip_address("2001:db8::77")


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip4(src, dst, proto, payload, ttl=64, ident=0x4321, frag=0, bad_csum=False):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, ttl, proto, 0,
                    src.packed, dst.packed)
    c = csum(h)
    if bad_csum:
        c ^= 0x5A5A
    return h[:10] + struct.pack("!H", c) + h[12:] + payload


def ip6(src, dst, nh, payload, hlim=64):
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), nh, hlim, src.packed,
                       dst.packed) + payload


def icmp4(typ, code, rest, body, bad=False):
    m = struct.pack("!BBH", typ, code, 0) + rest + body
    c = csum(m) ^ (0x1234 if bad else 0)
    return m[:2] + struct.pack("!H", c) + m[4:]


def icmp6(src, dst, typ, code, rest, body, bad=False, pseudo_dst=None):
    m = struct.pack("!BBH", typ, code, 0) + rest + body
    ph = src.packed + (pseudo_dst or dst).packed + struct.pack("!IxxxB", len(m), 58)
    c = csum(ph + m) ^ (0x1234 if bad else 0)
    return m[:2] + struct.pack("!H", c) + m[4:]


def frag6(nh, payload, offset_units, more):
    """An IPv6 fragment header in front of payload."""
    return struct.pack("!BBHI", nh, 0, (offset_units << 3) | (1 if more else 0),
                       0x12345678) + payload


class Probe:
    """What a sniffed probe says: family, protocol, addresses, TTL, L4 bytes."""

    def __init__(self, family, pkt):
        self.family = family
        self.pkt = pkt
        if family == 4:
            hl = (pkt[0] & 0x0F) * 4
            self.proto = pkt[9]
            self.ttl = pkt[8]
            self.src = ipaddress.ip_address(pkt[12:16])
            self.dst = ipaddress.ip_address(pkt[16:20])
            self.hl = hl
        else:
            self.proto = pkt[6]
            self.ttl = pkt[7]
            self.src = ipaddress.ip_address(pkt[8:24])
            self.dst = ipaddress.ip_address(pkt[24:40])
            self.hl = 40
        self.l4 = pkt[self.hl:]
        self.icmp = self.proto in (1, 58)
        self.tcp = self.proto == 6

    def key(self):
        return (self.family, bytes(self.pkt[:self.hl + 8]))


class Forger:
    def __init__(self, iface, client4, client6, late_s):
        self.iface = iface
        self.client = {4: client4, 6: client6}
        self.late_s = late_s
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.bind((iface, 0))
        self.mac_client = None
        self.mac_self = None
        self.sent = {k: 0 for k in ERROR_KINDS + ECHO_KINDS + [ECHO_CONTROL] + TCP_KINDS +
                     [TCP_CONTROL]}
        self.later = []  # (time, kind, family, packet)
        self.seen = set()

    # ---- sending ----

    def send(self, kind, family, pkt):
        eth = self.mac_client + self.mac_self + struct.pack("!H", ETH_P_IP if family == 4
                                                          else ETH_P_IPV6)
        self.sock.send(eth + pkt)
        self.sent[kind] += 1

    # ---- building ----

    def quote(self, p, kind):
        """The quote a router would send, with the defect of kind (or None: n/a)."""
        q = bytearray(p.pkt)
        l4 = p.hl
        if kind == "quote_src":
            other = OTHER4 if p.family == 4 else OTHER6
            off = 12 if p.family == 4 else 8
            q[off:off + len(other.packed)] = other.packed
        elif kind == "quote_dst":
            other = silent_dst(p.family, 50)
            off = 16 if p.family == 4 else 24
            q[off:off + len(other.packed)] = other.packed
        elif kind == "quote_id":
            if not p.icmp:
                return None
            q[l4 + 4] ^= 0x01
        elif kind == "quote_seq":
            if not p.icmp:
                return None
            q[l4 + 6] ^= 0x40
        elif kind == "quote_key":
            if p.icmp:
                return None
            # TCP: the engine's half of the sequence. A changed probe id could, by
            # chance, be another probe's in flight, which would make the forgery true.
            q[l4 + (4 if p.tcp else 6)] ^= 0x01
        elif kind == "quote_sport":
            if p.icmp:
                return None
            q[l4 + 1] ^= 0x01
        elif kind == "quote_dport":
            if p.icmp:
                return None
            q[l4 + 3] ^= 0x01
        elif kind == "quote_proto":
            q[9 if p.family == 4 else 6] = 6 if p.proto == 17 else 17
        elif kind == "quote_short":
            q = q[:l4 + 4]
        return bytes(q)

    def error(self, p, kind):
        """An ICMP error for probe p with the defect of kind, or None (not applicable)."""
        fam = p.family
        q = self.quote(p, kind)
        if q is None:
            return None
        frm = kind_addr(fam, kind)
        to = self.client[fam]
        if kind == "outer_dst":
            to = OTHER4 if fam == 4 else OTHER6
        if kind == "wrong_family":
            return self.error_other_family(p)
        if fam == 4:
            if kind == "bad_ip_csum" or kind == "frag_first" or kind == "frag_later":
                frag = {"bad_ip_csum": 0, "frag_first": 0x2000, "frag_later": 0x0001}[kind]
                return ip4(frm, to, 1, icmp4(11, 0, b"\0" * 4, q), frag=frag,
                           bad_csum=kind == "bad_ip_csum")
            return ip4(frm, to, 1, icmp4(11, 0, b"\0" * 4, q, bad=kind == "bad_icmp_csum"))
        if kind == "bad_ip_csum":
            return None
        m = icmp6(frm, to, 3, 0, b"\0" * 4, q, bad=kind == "bad_icmp_csum")
        if kind in ("frag_first", "frag_later"):
            return ip6(frm, to, 44, frag6(58, m, 0 if kind == "frag_first" else 1,
                                         kind == "frag_first"))
        return ip6(frm, to, 58, m)

    def error_other_family(self, p):
        """The probe's L4 header quoted under the other IP version's header."""
        l4 = bytearray(p.l4)
        if p.icmp:
            l4[0] = 128 if p.family == 4 else 8
        if p.family == 4:
            frm = kind_addr(6, "wrong_family")
            qh = ip6(self.client[6], silent_dst(6, 0), 58 if p.icmp else p.proto, bytes(l4), hlim=1)
            return 6, ip6(frm, self.client[6], 58, icmp6(frm, self.client[6], 3, 0, b"\0" * 4,
                                                         qh))
        frm = kind_addr(4, "wrong_family")
        qh = ip4(self.client[4], silent_dst(4, 0), 1 if p.icmp else p.proto, bytes(l4), ttl=1)
        return 4, ip4(frm, self.client[4], 1, icmp4(11, 0, b"\0" * 4, qh))

    def echo(self, p, kind):
        """An echo reply for ICMP probe p with the defect of kind (ECHO_CONTROL: none)."""
        fam = p.family
        ident, seq = struct.unpack("!HH", p.l4[4:8])
        body = p.l4[8:]
        frm, to, frag, bad_ip, bad, pdst = p.dst, self.client[fam], 0, False, False, None
        if kind == "echo_id":
            ident ^= 1
        elif kind == "echo_seq":
            seq ^= 0x4000
        elif kind == "echo_csum":
            bad = True
        elif kind == "echo_ip_csum":
            if fam == 4:
                bad_ip = True
            else:
                pdst = OTHER6
        elif kind == "echo_outer_dst":
            to = OTHER4 if fam == 4 else OTHER6
        elif kind == "echo_frag":
            frag = 0x2000
        elif kind == "echo_wrong_src":
            frm = kind_addr(fam, kind)
        elif kind == "echo_family":
            ofam = 6 if fam == 4 else 4
            frm = silent_dst(ofam, 0)
            to = self.client[ofam]
            rest = struct.pack("!HH", ident, seq)
            if ofam == 6:
                return 6, ip6(frm, to, 58, icmp6(frm, to, 129, 0, rest, body))
            return 4, ip4(frm, to, 1, icmp4(0, 0, rest, body))
        rest = struct.pack("!HH", ident, seq)
        if fam == 4:
            return 4, ip4(frm, to, 1, icmp4(0, 0, rest, body, bad=bad), frag=frag,
                          bad_csum=bad_ip)
        m = icmp6(frm, to, 129, 0, rest, body, bad=bad, pseudo_dst=pdst)
        if frag:
            return 6, ip6(frm, to, 44, frag6(58, m, 0, True))
        return 6, ip6(frm, to, 58, m)

    def tcp_reset(self, p, kind):
        """A reset from the destination answering TCP probe p, with kind's defect."""
        fam = p.family
        sport, dport, seq = struct.unpack("!HHI", p.l4[:8])
        frm, to = p.dst, self.client[fam]
        ack = (seq + 1) & 0xFFFFFFFF
        if kind == "tcp_ack":
            ack ^= 0x4000
        elif kind == "tcp_dport":
            sport ^= 1
        elif kind == "tcp_sport":
            dport ^= 1
        elif kind == "tcp_outer_dst":
            to = OTHER4 if fam == 4 else OTHER6
        seg = bytearray(struct.pack("!HHIIBBHHH", dport, sport, 0, ack, 0x50, 0x14, 0, 0, 0))
        if fam == 4:
            ph = frm.packed + to.packed + struct.pack("!xBH", 6, len(seg))
        else:
            ph = frm.packed + to.packed + struct.pack("!IxxxB", len(seg), 6)
        c = csum(ph + bytes(seg)) ^ (0x1234 if kind == "tcp_csum" else 0)
        seg[16:18] = struct.pack("!H", c)
        if fam == 4:
            return 4, ip4(frm, to, 6, bytes(seg), frag=0x2000 if kind == "tcp_frag" else 0)
        if kind == "tcp_frag":
            return 6, ip6(frm, to, 44, frag6(6, bytes(seg), 0, True))
        return 6, ip6(frm, to, 6, bytes(seg))

    # ---- what to do with a probe ----

    def defects(self, p):
        for kind in ERROR_KINDS:
            if kind in ("duplicate", "late", "after_answer", "control", "echo_wrong_src",
                        "echo_family"):
                continue
            pkt = self.error(p, kind)
            if pkt is None:
                continue
            if isinstance(pkt, tuple):
                self.send(kind, *pkt)
            else:
                self.send(kind, p.family, pkt)
        if p.tcp:
            for i, kind in enumerate(TCP_KINDS):
                if p.dst == silent_dst(p.family, i):
                    self.send(kind, *self.tcp_reset(p, kind))
        if not p.icmp:
            return
        for kind in ("echo_wrong_src", "echo_family"):
            self.send(kind, *self.echo(p, kind))
        for i, kind in enumerate(ECHO_KINDS):
            if p.dst == silent_dst(p.family, i):
                self.send(kind, *self.echo(p, kind))

    def faultless(self, p, kind):
        """A reply without defect, from kind's own address."""
        frm = kind_addr(p.family, kind)
        to = self.client[p.family]
        if p.family == 4:
            return ip4(frm, to, 1, icmp4(11, 0, b"\0" * 4, p.pkt))
        return ip6(frm, to, 58, icmp6(frm, to, 3, 0, b"\0" * 4, p.pkt))

    def on_probe(self, p):
        now = time.monotonic()
        if p.ttl == TTL_REAL:
            self.later.append((now + AFTER_ANSWER_S, "after_answer", p.family,
                               self.faultless(p, "after_answer")))
            return
        if p.ttl not in (TTL_SILENT, TTL_CONTROL, TTL_LATE, TTL_ECHO):
            return
        self.defects(p)
        if p.ttl == TTL_CONTROL:
            pkt = self.faultless(p, "control")
            self.send("control", p.family, pkt)
            # The very same frame again: it answers a probe already answered.
            self.send("duplicate", p.family, pkt)
        elif p.ttl == TTL_LATE:
            self.later.append((now + self.late_s, "late", p.family, self.faultless(p, "late")))
        elif p.ttl == TTL_ECHO and p.icmp:
            self.send(ECHO_CONTROL, *self.echo(p, ECHO_CONTROL))
        elif p.ttl == TTL_ECHO and p.tcp:
            self.send(TCP_CONTROL, *self.tcp_reset(p, TCP_CONTROL))

    # ---- sniffing ----

    def on_frame(self, frame, pkttype):
        if pkttype != PACKET_HOST or len(frame) < 14 + 20:
            return
        etype = struct.unpack("!H", frame[12:14])[0]
        pkt = frame[14:]
        if etype == ETH_P_IP and pkt[0] >> 4 == 4:
            p = Probe(4, pkt[:struct.unpack("!H", pkt[2:4])[0]])
        elif etype == ETH_P_IPV6 and len(pkt) >= 48 and pkt[0] >> 4 == 6:
            p = Probe(6, pkt[:40 + struct.unpack("!H", pkt[4:6])[0]])
        else:
            return
        if p.src != self.client[p.family] or len(p.l4) < 8:
            return
        if not ((p.icmp and p.l4[0] in (8, 128)) or p.proto == 17 or
                (p.tcp and len(p.l4) >= 20 and p.l4[13] & 0x02)):
            return
        if p.key() in self.seen:
            return
        self.seen.add(p.key())
        self.mac_client = frame[6:12]
        self.mac_self = frame[0:6]
        self.on_probe(p)

    def run(self):
        print("ready", flush=True)
        while True:
            now = time.monotonic()
            due = [x for x in self.later if x[0] <= now]
            self.later = [x for x in self.later if x[0] > now]
            for _, kind, fam, pkt in due:
                self.send(kind, fam, pkt)
            r, _, _ = select.select([self.sock, sys.stdin], [], [], 0.05)
            if self.sock in r:
                frame, addr = self.sock.recvfrom(65535)
                self.on_frame(frame, addr[2])
            if sys.stdin in r:
                line = sys.stdin.readline()
                if not line or line.strip() == "stop":
                    break
        print(json.dumps(self.sent), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True)
    ap.add_argument("--client4", required=True, type=ipaddress.ip_address)
    ap.add_argument("--client6", required=True, type=ipaddress.ip_address)
    ap.add_argument("--late", type=float, required=True, help="seconds before late replies")
    a = ap.parse_args()
    Forger(a.iface, a.client4, a.client6, a.late).run()


if __name__ == "__main__":
    main()
