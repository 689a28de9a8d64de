#!/usr/bin/python3
# Scripted mtr-packet stand-in for mtr_reference.sh: answers every probe from the table
# below by TTL and per-TTL probe number (TTLs past 5 answer as the destination). It never
# sends a packet. The same table is built by hand in test_report.c.
import os
import sys
# FAKE_MPLS=1: hops 1 and 2 quote a two-label stack (report_r_mpls.txt).
MPLS = os.environ.get("FAKE_MPLS") == "1"
SCRIPT = {
    1: [("ttl-expired", "198.51.100.2", 1234), ("ttl-expired", "198.51.100.2", 1500),
        ("ttl-expired", "198.51.100.2", 1100), ("ttl-expired", "198.51.100.2", 2000),
        ("ttl-expired", "198.51.100.2", 1300)],
    2: [("ttl-expired", "198.51.100.6", 5000), ("ttl-expired", "198.51.100.66", 5600),
        ("ttl-expired", "198.51.100.70", 7100), ("ttl-expired", "198.51.100.6", 4900),
        ("ttl-expired", "198.51.100.66", 6250)],
    3: [None] * 5,
    4: [("ttl-expired", "198.51.100.14", 10000), None, ("ttl-expired", "198.51.100.14", 12345),
        None, ("ttl-expired", "198.51.100.14", 9876)],
    5: [("reply", "203.0.113.1", 20100), ("reply", "203.0.113.1", 19900),
        ("reply", "203.0.113.1", 25000), ("reply", "203.0.113.1", 20500),
        ("reply", "203.0.113.1", 21000)],
}
count = {}
for line in sys.stdin:
    w = line.split()
    if len(w) < 2:
        continue
    tok, cmd = w[0], w[1]
    if cmd == "check-support":
        out = f"{tok} feature-support support ok"
    elif cmd == "send-probe":
        ttl = int(w[w.index("ttl") + 1])
        n = count.get(ttl, 0)
        count[ttl] = n + 1
        seq = SCRIPT.get(ttl, SCRIPT[5])
        ans = seq[n % len(seq)]
        if ans is None:
            out = f"{tok} no-reply"
        else:
            out = f"{tok} {ans[0]} ip-4 {ans[1]} round-trip-time {ans[2]}"
            if MPLS and ttl in (1, 2):
                out += " mpls 16,0,0,1,24001,5,1,2"
    else:
        out = f"{tok} unknown-command"
    sys.stdout.write(out + "\n")
    sys.stdout.flush()
