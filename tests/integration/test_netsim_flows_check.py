#!/usr/bin/env python3
"""test_netsim_flows_check: checks hopwatch's --ecmp paris and --flows runs on ecmp.scn.

Usage: test_netsim_flows_check.py SCENARIO DIR CYCLES, with NAME.out (hopwatch's output)
and NAME.log (netsim's probe log) in DIR for each run of test_netsim_flows.sh.

Which router a flow meets is not hard-coded: it is computed from the simulator's rule
(tests/netsim/wire.c hashes the addresses, the protocol and the first four L4 bytes with
FNV-1a; tests/netsim/path.c picks a responder with splitmix64 of that hash, the seed and
the position, weighted) and from where hopwatchd puts a flow id (daemon/probe_key.c: the
ICMP checksum 0x8000 ^ id, the UDP destination port 33434 + id % 1024).
"""
import json
import os
import sys
from collections import defaultdict

M64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15
MUL1 = 0xBF58476D1CE4E5B9
MUL2 = 0x94D049BB133111EB
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
ICMP_FLOW_CHECK = 0x8000
UDP_BASE_PORT = 33434
UDP_FLOW_PORTS = 1024
NFLOWS = 4
AVG_TOL_MS = 0.5  # per-flow Avg against the log's kernel RTTs: shape, not precision
DST = "203.0.113.1"

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL " + msg)


def splitmix(x):
    z = (x + GAMMA) & M64
    z = ((z ^ (z >> 30)) * MUL1) & M64
    z = ((z ^ (z >> 27)) * MUL2) & M64
    return z ^ (z >> 31)


def fnv(h, data):
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & M64
    return h


def ip4(s):
    return bytes(int(x) for x in s.split("."))


def flow_hash(src, dst, proto, l4):
    h = fnv(FNV_OFFSET, ip4(src) + ip4(dst))
    h = fnv(h, bytes([proto]))
    return fnv(h, l4)


class Scenario:
    """The parts of a scenario the ECMP rule needs: seed, and per hop its responders."""

    def __init__(self, path):
        self.seed = 0
        self.hops = []  # [{"addrs": [(v4, weight)], "ecmp": "flow"|"packet"}]
        with open(path) as f:
            for line in f:
                w = line.split("#", 1)[0].split()
                if not w:
                    continue
                if w[0] == "seed":
                    self.seed = int(w[1])
                elif w[0] in ("hop", "dest"):
                    self.hops.append({"addrs": [], "ecmp": "flow", "dest": w[0] == "dest"})
                elif w[0] == "addr":
                    weight = int(w[w.index("weight") + 1]) if "weight" in w else 1
                    self.hops[-1]["addrs"].append((w[1], weight))
                elif w[0] == "ecmp":
                    self.hops[-1]["ecmp"] = w[1]

    def flow_hashed(self, pos):
        h = self.hops[pos - 1]
        return len(h["addrs"]) <= 1 or h["ecmp"] == "flow"

    def pick(self, pos, flow):
        """path.c pick_responder() for a flow-hashed hop at position pos."""
        addrs = self.hops[pos - 1]["addrs"]
        if len(addrs) == 1:
            return addrs[0][0]
        total = sum(wt for _, wt in addrs)
        r = splitmix(flow ^ self.seed ^ ((pos * GAMMA) & M64)) % total
        for a, wt in addrs:
            if r < wt:
                return a
            r -= wt
        return addrs[-1][0]


def log_lines(directory, name):
    with open(os.path.join(directory, name + ".log")) as f:
        for line in f:
            kv = dict(w.split("=", 1) for w in line.split() if "=" in w)
            if "ttl" in kv and kv.get("fate") != "noroute":
                yield kv


def report(directory, name):
    with open(os.path.join(directory, name + ".out")) as f:
        return json.load(f)["report"]


def expected_router(scn, kv, flow, pos):
    """The router the simulator picks at pos for a probe of this flow id (kv: one log line)."""
    if kv["proto"] == "icmp":
        check_value = ICMP_FLOW_CHECK ^ flow
        l4 = bytes([8, 0, check_value >> 8, check_value & 0xFF])
        proto = 1
    else:
        sport, dport = int(kv["sport"]), UDP_BASE_PORT + flow % UDP_FLOW_PORTS
        l4 = bytes([sport >> 8, sport & 0xFF, dport >> 8, dport & 0xFF])
        proto = 17
    return scn.pick(pos, flow_hash(kv["src"], kv["dst"], proto, l4))


def hub_responders(hub):
    return sorted(r["ip"] for r in hub["hopwatch"]["responders"])


def check_classic(scn):
    hubs = report(DIR, "classic")["hubs"]
    ecmp = [p for p in range(1, len(scn.hops)) if len(scn.hops[p - 1]["addrs"]) > 1]
    for pos in ecmp:
        got = hub_responders(hubs[pos - 1])
        # Without Paris the flow changes per probe: this is what paris must take away.
        check(len(got) > 1, "classic: hop %d saw only %s" % (pos, got))
        print("classic: hop %d responders %s" % (pos, got))


def check_paris(scn, name):
    rep = report(DIR, name)
    first = next(log_lines(DIR, name))
    for hub in rep["hubs"]:
        pos = hub["count"]
        got = hub_responders(hub)
        if pos > len(scn.hops) or not scn.flow_hashed(pos):
            print("%s: hop %d (per packet) responders %s" % (name, pos, got))
            continue
        want = [expected_router(scn, first, 0, pos)] if not scn.hops[pos - 1]["dest"] else [DST]
        check(got == want, "%s: hop %d saw %s, the hash picks %s" % (name, pos, got, want))
        print("%s: hop %d responders %s" % (name, pos, got))


def log_by_flow(name):
    """Per (flow, ttl): probes, answers, responders and kernel RTTs; UDP only (the port)."""
    out = defaultdict(lambda: {"sent": 0, "answered": 0, "from": set(), "rtts": []})
    for kv in log_lines(DIR, name):
        if "dport" not in kv:
            continue
        e = out[(int(kv["dport"]) - UDP_BASE_PORT, int(kv["ttl"]))]
        e["sent"] += 1
        if kv["fate"] == "answer":
            e["answered"] += 1
            e["from"].add(kv["from"])
            if "kernel_us" in kv:
                e["rtts"].append(int(kv["kernel_us"]) / 1000.0)
    return out


def check_flows(scn, name, cycles):
    rep = report(DIR, name)
    first = next(log_lines(DIR, name))
    fl = rep["hopwatch"]["flows"]
    check(fl["count"] == NFLOWS, "%s: %d flows" % (name, fl["count"]))
    check([p["flow_id"] for p in fl["paths"]] == list(range(NFLOWS)), name + ": flow ids")
    truth = log_by_flow(name) if first["proto"] == "udp" else None
    want_differ = set()
    branch = {}
    for pos in range(1, len(scn.hops) + 1):
        if not scn.flow_hashed(pos):
            want_differ.add(pos)  # per packet: every flow sees several routers
            continue
        picks = {f: expected_router(scn, first, f, pos) for f in range(NFLOWS)}
        if scn.hops[pos - 1]["dest"]:
            picks = {f: DST for f in range(NFLOWS)}
        branch[pos] = picks
        if len(set(picks.values())) > 1:
            want_differ.add(pos)
    for p in fl["paths"]:
        f = p["flow_id"]
        # Round r carries flow r % NFLOWS: each flow gets its share of the rounds.
        for hub in p["hubs"]:
            pos = hub["count"]
            got = sorted(r["ip"] for r in hub["responders"])
            check(hub["Snt"] == cycles // NFLOWS,
                  "%s: flow %d hop %d Snt %d, want %d" % (name, f, pos, hub["Snt"],
                                                          cycles // NFLOWS))
            if pos in branch:
                check(got == [branch[pos][f]], "%s: flow %d hop %d saw %s, the hash picks %s"
                      % (name, f, pos, got, branch[pos][f]))
            if truth is not None:
                t = truth[(f, pos)]
                check(t["sent"] == hub["Snt"], "%s: flow %d hop %d Snt %d, log %d"
                      % (name, f, pos, hub["Snt"], t["sent"]))
                check(sorted(t["from"]) == got, "%s: flow %d hop %d responders %s, log %s"
                      % (name, f, pos, got, sorted(t["from"])))
                if t["rtts"] and hub["Loss%"] == 0:
                    avg = sum(t["rtts"]) / len(t["rtts"])
                    check(abs(avg - hub["Avg"]) <= AVG_TOL_MS,
                          "%s: flow %d hop %d Avg %.3f, log %.3f" % (name, f, pos, hub["Avg"],
                                                                     avg))
        print("%s: flow %d path %s" % (name, f, [",".join(sorted(r["ip"] for r in h["responders"]))
                                                for h in p["hubs"]]))
    check(set(fl["differ"]) == want_differ, "%s: flows differ at %s, expected %s"
          % (name, fl["differ"], sorted(want_differ)))
    agg = {h["count"]: h["Snt"] for h in rep["hubs"]}
    for pos, snt in agg.items():
        per = sum(h["Snt"] for p in fl["paths"] for h in p["hubs"] if h["count"] == pos)
        check(per == snt, "%s: hop %d flows' Snt sum %d, table %d" % (name, pos, per, snt))
    return want_differ, branch


def check_report_text(want_differ, branch):
    with open(os.path.join(DIR, "flows_report.out")) as f:
        text = f.read()
    check("Flows: %d, one per round; the hops where their paths differ:" % NFLOWS in text,
          "report: no flows section")
    section = text.split("where their paths differ:", 1)[-1].splitlines()[2:]
    shown = [int(line.split(".")[0]) for line in section if line[:5].strip().rstrip(".")]
    check(sorted(shown) == sorted(want_differ), "report: hops %s shown, expected %s"
          % (shown, sorted(want_differ)))
    check(len(section) == NFLOWS * len(want_differ), "report: %d flow rows" % len(section))
    for pos in want_differ & set(branch):
        start = next(i for i, line in enumerate(section) if line.startswith(" %3d." % pos))
        for f in range(NFLOWS):
            row = section[start + f].split()
            host = row[2] if f == 0 else row[1]
            check(host == branch[pos][f], "report: hop %d flow %d shows %s, want %s"
                  % (pos, f, host, branch[pos][f]))


def main():
    global DIR
    scn = Scenario(sys.argv[1])
    DIR = sys.argv[2]
    cycles = int(sys.argv[3])
    check_classic(scn)
    check_paris(scn, "paris")
    check_paris(scn, "paris_udp")
    want, branch = check_flows(scn, "flows", cycles)
    check_flows(scn, "flows_udp", cycles)
    check_report_text(want, branch)
    if failures:
        print("%d failure(s)" % len(failures))
        sys.exit(1)
    print("flows: all checks passed")


DIR = ""
if __name__ == "__main__":
    main()
