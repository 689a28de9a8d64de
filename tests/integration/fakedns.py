#!/usr/bin/env python3
"""fakedns.py: a tiny UDP DNS server for the integration lab, answering PTR queries,
TXT queries given with --txt and, with --hosts, A/AAAA queries.

  fakedns.py --bind ADDR [--port 53] --log FILE --ready FILE \
      [--name ADDR=NAME]... [--silent ADDR]... [--hosts FILE] [--txt QNAME=TEXT]...

A --txt QNAME (matched case-blind) gets one TXT record holding TEXT, decoded like a
--name (so hostile bytes can be sent) and cut into 255-byte character-strings.

--hosts FILE holds "NAME ADDR" lines and is read again for every query, so a test can
change what a name resolves to while the server runs (a renumbered target).
Every query is appended to --log as "QNAME QTYPE" (flushed at once, so a test can count
them). A --name address gets a PTR answer with NAME, whose labels are sent byte for byte
(Python escapes such as \\x1b in NAME are decoded first, so a test can send hostile bytes);
a --silent address gets no answer at all; anything else gets NXDOMAIN. --ready is created
once the socket is bound. Runs until killed. Only ever started inside a lab namespace.
"""
import argparse
import ipaddress
import socket
import struct
import sys

TYPE_PTR = 12
TYPE_A = 1
TYPE_AAAA = 28
TYPE_TXT = 16
TXT_STRING_MAX = 255
CLASS_IN = 1
TTL_S = 60
RCODE_NXDOMAIN = 3
FLAGS_ANSWER = 0x8180  # QR, RD, RA
MAX_PACKET = 4096


def parse_qname(pkt, off):
    labels = []
    while True:
        n = pkt[off]
        off += 1
        if n == 0:
            return labels, off
        if n & 0xC0:
            raise ValueError("compressed question name")
        labels.append(pkt[off:off + n])
        off += n


def ptr_to_addr(labels):
    """The address a reverse name asks about, or None."""
    low = [lb.lower() for lb in labels]
    if low[-2:] == [b"in-addr", b"arpa"] and len(low) == 6:
        return str(ipaddress.IPv4Address(".".join(x.decode() for x in reversed(low[:4]))))
    if low[-2:] == [b"ip6", b"arpa"] and len(low) == 34:
        nibbles = "".join(x.decode() for x in reversed(low[:32]))
        return str(ipaddress.IPv6Address(int(nibbles, 16)))
    return None


def encode_name(name):
    out = b""
    for label in name.split(b"."):
        if not label:
            continue
        out += bytes([len(label)]) + label
    return out + b"\0"


def forward(hosts_file, qname, qtype):
    """Whether the hosts file knows qname, and its records of qtype as rdata."""
    out, known = [], False
    if not hosts_file:
        return known, out
    try:
        lines = open(hosts_file, encoding="ascii").read().split("\n")
    except OSError:
        return known, out
    for line in lines:
        words = line.split()
        if len(words) != 2 or words[0].lower() != qname.lower().rstrip("."):
            continue
        known = True
        ip = ipaddress.ip_address(words[1])
        if qtype == TYPE_A and ip.version == 4 or qtype == TYPE_AAAA and ip.version == 6:
            out.append(ip.packed)
    return known, out


def answer(pkt, names, silent, log, hosts_file=None, txts=None):
    qid, _flags, qdcount = struct.unpack("!HHH", pkt[:6])
    if qdcount != 1:
        return None
    labels, end = parse_qname(pkt, 12)
    qtype, _qclass = struct.unpack("!HH", pkt[end:end + 4])
    question = pkt[12:end + 4]
    qname = b".".join(labels).decode("ascii", "backslashreplace")
    log.write(f"{qname} {qtype}\n")
    log.flush()
    if qtype in (TYPE_A, TYPE_AAAA):
        known, recs = forward(hosts_file, qname, qtype)
        rrs = b"".join(struct.pack("!HHHIH", 0xC00C, qtype, CLASS_IN, 1, len(r)) + r
                       for r in recs)
        # A known name without records of this type: no data, not "no such name".
        flags = FLAGS_ANSWER if known else FLAGS_ANSWER | RCODE_NXDOMAIN
        return struct.pack("!HHHHHH", qid, flags, 1, len(recs), 0, 0) + question + rrs
    if qtype == TYPE_TXT:
        text = txts.get(qname.lower()) if txts else None
        if text is None:
            return struct.pack("!HHHHHH", qid, FLAGS_ANSWER | RCODE_NXDOMAIN, 1, 0, 0, 0) + question
        chunks = [text[i:i + TXT_STRING_MAX] for i in range(0, len(text), TXT_STRING_MAX)] or [b""]
        rdata = b"".join(bytes([len(c)]) + c for c in chunks)
        rr = struct.pack("!HHHIH", 0xC00C, TYPE_TXT, CLASS_IN, TTL_S, len(rdata)) + rdata
        return struct.pack("!HHHHHH", qid, FLAGS_ANSWER, 1, 1, 0, 0) + question + rr
    addr = ptr_to_addr(labels) if qtype == TYPE_PTR else None
    if addr in silent:
        return None
    if addr in names:
        rdata = encode_name(names[addr])
        rr = struct.pack("!HHHIH", 0xC00C, TYPE_PTR, CLASS_IN, TTL_S, len(rdata)) + rdata
        return struct.pack("!HHHHHH", qid, FLAGS_ANSWER, 1, 1, 0, 0) + question + rr
    return struct.pack("!HHHHHH", qid, FLAGS_ANSWER | RCODE_NXDOMAIN, 1, 0, 0, 0) + question


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bind", required=True)
    ap.add_argument("--port", type=int, default=53)
    ap.add_argument("--log", required=True)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--name", action="append", default=[])
    ap.add_argument("--silent", action="append", default=[])
    ap.add_argument("--hosts")
    ap.add_argument("--txt", action="append", default=[])
    args = ap.parse_args()

    names = {}
    for item in args.name:
        addr, _, name = item.partition("=")
        raw = name.encode("latin-1").decode("unicode_escape").encode("latin-1")
        names[str(ipaddress.ip_address(addr))] = raw
    silent = {str(ipaddress.ip_address(a)) for a in args.silent}
    txts = {}
    for item in args.txt:
        qname, _, text = item.partition("=")
        txts[qname.lower().rstrip(".")] = text.encode("latin-1").decode(
            "unicode_escape").encode("latin-1")

    fam = socket.AF_INET6 if ":" in args.bind else socket.AF_INET
    sock = socket.socket(fam, socket.SOCK_DGRAM)
    sock.bind((args.bind, args.port))
    with open(args.ready, "w", encoding="ascii") as f:
        f.write("ready\n")
    with open(args.log, "a", encoding="utf-8") as log:
        while True:
            pkt, peer = sock.recvfrom(MAX_PACKET)
            try:
                reply = answer(pkt, names, silent, log, args.hosts, txts)
            except (ValueError, IndexError, struct.error) as e:
                print(f"fakedns: bad query: {e}", file=sys.stderr)
                continue
            if reply:
                sock.sendto(reply, peer)


if __name__ == "__main__":
    main()
