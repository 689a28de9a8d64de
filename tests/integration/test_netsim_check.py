#!/usr/bin/env python3
"""test_netsim_check: checks hopwatch's JSON reports against netsim's probe logs and the
shape each scenario describes. Called by test_netsim_scenarios.sh with the directory that
holds NAME.json (hopwatch -j) and NAME.log (the simulator's log) for every run.

Modes: DIR (scenario runs), "accuracy DIR" (acceptance 1: hopwatch within
max(0.1 ms, 1%) of the truth, mtr printed beside), "paris ENGINE" (acceptance 3: drives
hopwatchd with flow ids inside the netsim namespace running ecmp.scn), "delayed DIR MS"
(the accuracy check on runs whose engine had every send held back MS milliseconds).

Two kinds of checks on scenario runs:
- against the truth: per hop, hopwatch's sent/received counts agree with the log within
  one probe, and its Avg with the mean of the RTTs the simulator applied;
- against the scenario: the addresses, the loss pattern and the latency shape the seed
  document describes for that case (throttling vs real loss, steps vs spikes, ...).
"""
import json
import os
import re
import sys
from collections import defaultdict
from types import SimpleNamespace

# Scenario runs check shape; precision is test_netsim_accuracy.sh's job. One late probe
# in 20 (host scheduling, invisible to netsim) can move an Avg by a few tenths.
AVG_TOL_MS = 0.5  # absolute floor of the Avg tolerance against the log
AVG_TOL_REL = 0.02
COUNT_TOL = 1  # probes


def hop4(n):
    return "198.51.100.%d" % n


def hop6(n):
    # The scenarios write hop n as 2001:db8:1::n with n's decimal digits.
    return "2001:db8:1::%d" % n


DST4 = "203.0.113.1"
DST6 = "2001:db8:ffff::1"
LOST = "???"


class Run:
    def __init__(self, directory, name):
        self.name = name
        with open(os.path.join(directory, name + ".json")) as f:
            self.hubs = json.load(f)["report"]["hubs"]
        self.sent = defaultdict(int)
        self.rtts = defaultdict(list)
        self.plan = defaultdict(list)  # the RTTs the scenario drew, for the answered probes
        self.by_from = defaultdict(lambda: defaultdict(int))
        self.fates = defaultdict(lambda: defaultdict(int))
        self.unstamped = 0  # answers without a kernel-measured RTT
        self.arrivals = []  # netsim's t_us of every probe it logged
        with open(os.path.join(directory, name + ".log")) as f:
            for line in f:
                kv = dict(w.split("=", 1) for w in line.split() if "=" in w)
                if "ttl" not in kv or kv.get("fate") == "noroute":
                    continue
                if "t_us" in kv:
                    self.arrivals.append(int(kv["t_us"]))
                ttl = int(kv["ttl"])
                self.sent[ttl] += 1
                self.fates[ttl][kv["fate"]] += 1
                if kv["fate"] == "answer" and "unsent" not in kv:
                    # The truth: from the kernel queueing the probe to the TUN to the
                    # kernel taking the answer from it (netsim's packet ring), so a late
                    # read or write by netsim counts. Without a stamp: netsim's own
                    # read-to-write delay.
                    if "kernel_us" in kv:
                        us = int(kv["kernel_us"])
                    else:
                        self.unstamped += 1
                        us = int(kv.get("applied_us", kv["rtt_us"]))
                    self.rtts[ttl].append(us / 1000.0)
                    self.plan[ttl].append(int(kv["rtt_us"]) / 1000.0)
                    self.by_from[ttl][kv["from"]] += 1

    def hub(self, n):
        return self.hubs[n - 1]

    def host(self, n):
        return self.hub(n)["host"]

    def loss(self, n):
        return self.hub(n)["Loss%"]

    def stat(self, n, key):
        return self.hub(n)[key]

    def late(self, n):
        """How much later than planned hop n's answers were on average (ms, >= 0): host
        scheduling delays netsim's write of an answer now and then, which the kernel-stamped
        truth counts and hopwatch rightly sees. A scenario's nominal figures do not."""
        t, p = self.rtts[n], self.plan[n]
        if not t:
            return 0.0
        return max(0.0, sum(t) / len(t) - sum(p) / len(p))

    def responders(self, n):
        return self.hub(n).get("hopwatch", {}).get("responders", [])


failures = []


def check(cond, run, msg):
    if not cond:
        failures.append("%s: %s" % (run.name, msg))
    return cond


def near(a, b, tol):
    return abs(a - b) <= tol


def check_truth(run):
    """Counts and Avg per hop against what the simulator logged for that TTL."""
    for hub in run.hubs:
        ttl = hub["count"]
        snt = hub["Snt"]
        rcv = round(snt * (100.0 - hub["Loss%"]) / 100.0)
        answered = len(run.rtts[ttl])
        check(abs(snt - run.sent[ttl]) <= COUNT_TOL, run,
              "hop %d: Snt %d but the simulator saw %d probes" % (ttl, snt, run.sent[ttl]))
        check(abs(rcv - answered) <= COUNT_TOL, run,
              "hop %d: %d received but the simulator answered %d (%s)"
              % (ttl, rcv, answered, dict(run.fates[ttl])))
        if answered and rcv:
            truth = sum(run.rtts[ttl]) / answered
            tol = max(AVG_TOL_MS, AVG_TOL_REL * truth)
            check(near(hub["Avg"], truth, tol), run,
                  "hop %d: Avg %.3f ms, simulator applied %.3f ms on average"
                  % (ttl, hub["Avg"], truth))


def expect_hosts(run, hosts):
    got = [h["host"] for h in run.hubs]
    check(got[: len(hosts)] == hosts, run, "hosts %s, want %s" % (got, hosts))


def expect_avgs(run, avgs, tol):
    """hopwatch's Avg per hop against the scenario's nominal figure, within tol plus the
    lateness this run measured at that hop (Run.late); hopwatch against the truth itself
    is check_truth's job, with its own tolerance."""
    for n, want in enumerate(avgs, 1):
        if n <= len(run.hubs):
            late = run.late(n)
            check(near(run.stat(n, "Avg"), want, tol + late), run,
                  "hop %d: Avg %.3f, scenario says %.3f (this run's answers %.3f ms late)"
                  % (n, run.stat(n, "Avg"), want, late))


def expect_loss(run, hops, lossy):
    for n in hops:
        if n > len(run.hubs):
            check(False, run, "hop %d missing" % n)
            continue
        if lossy:
            check(run.loss(n) > 0, run, "hop %d: no loss, scenario loses there" % n)
        else:
            check(run.loss(n) == 0, run, "hop %d: %.1f%% loss, scenario has none"
                  % (n, run.loss(n)))


def scn_clean(run):
    expect_hosts(run, [hop4(1), hop4(2), hop4(3), hop4(4), DST4])
    expect_avgs(run, [1, 3, 6, 10, 15], 0.3)
    expect_loss(run, range(1, 6), False)
    check(len(run.hubs) == 5, run, "%d hops, want 5" % len(run.hubs))


def scn_clean6(run):
    expect_hosts(run, [hop6(1), hop6(2), hop6(3), hop6(4), DST6])
    expect_avgs(run, [1, 3, 6, 10, 15], 0.3)
    expect_loss(run, range(1, 6), False)


def scn_throttle_hop(run):
    expect_hosts(run, [hop4(1), hop4(2), hop4(3), hop4(4), DST4])
    expect_loss(run, [2], True)
    expect_loss(run, [1, 3, 4, 5], False)


def scn_loss_from_hop(run):
    expect_loss(run, [1, 2], False)
    expect_loss(run, [3, 4, 5, 6], True)
    check(run.host(6) == DST4, run, "destination not reached")
    # Real loss: the rates at hop 3 and at the destination agree (both the same cause).
    check(abs(run.loss(3) - run.loss(6)) <= 30, run, "loss at hop 3 and at the end differ")
    for ttl in (4, 5, 6):
        check(run.fates[ttl].get("lost", 0) > 0, run, "simulator lost nothing for ttl %d" % ttl)


def scn_loss_mixed(run):
    expect_loss(run, [1, 2], False)
    expect_loss(run, [3, 4, 5, 6, 7], True)
    # Throttling on top of the real loss: hops 4 and 5 lose more than the destination.
    check(run.loss(4) > run.loss(7) or run.loss(5) > run.loss(7), run,
          "throttled hops 4/5 (%.1f/%.1f) should exceed the reference loss at the end (%.1f)"
          % (run.loss(4), run.loss(5), run.loss(7)))


def scn_latency_step(run):
    expect_avgs(run, [1, 2, 42, 43, 44, 45], 0.4)
    for n in range(4, 7):
        check(run.stat(n, "Avg") > 40, run, "hop %d fell back after the step" % n)


def scn_spike_one_hop(run):
    expect_avgs(run, [1, 2, 53, 4, 5, 6], 0.4)
    expect_loss(run, range(1, 7), False)


def scn_high_stdev(run):
    check(run.stat(3, "StDev") > 5, run, "hop 3 StDev %.2f, want > 5" % run.stat(3, "StDev"))
    for n in (1, 2, 4, 5):
        check(run.stat(n, "StDev") < 1, run, "hop %d StDev %.2f" % (n, run.stat(n, "StDev")))
    check(run.stat(3, "Best") < run.stat(3, "Avg") < run.stat(3, "Wrst"), run, "Best<Avg<Wrst")


def scn_brief_spike(run):
    spikes = [r for r in run.rtts[3] if r > 100]
    check(spikes, run, "the simulator applied no spike at hop 3 in this run (seed?)")
    check(run.stat(3, "Wrst") > 100, run, "hop 3 Wrst %.1f, want > 100" % run.stat(3, "Wrst"))
    check(near(run.stat(3, "Best"), 3, 0.3), run, "hop 3 Best not normal")
    check(near(run.hub(3)["hopwatch"]["p50"], 3, 0.3), run, "hop 3 median not normal")
    for n in (2, 4, 5):
        # The scenario planned no spike there; a Wrst above 10 ms is hopwatch's error
        # unless the kernel saw that answer as late too (netsim preempted on a busy host).
        planned = max(run.plan[n], default=0.0)
        truth = max(run.rtts[n], default=0.0)
        check(planned < 10, run, "hop %d: the simulator planned a spike (%.1f ms)" % (n, planned))
        wrst = run.stat(n, "Wrst")
        check(wrst < 10 or near(wrst, truth, max(AVG_TOL_MS, AVG_TOL_REL * truth)), run,
              "hop %d has a spike too: Wrst %.1f ms, the kernel's slowest answer %.1f ms"
              % (n, wrst, truth))


def scn_dest_drops_icmp(run):
    expect_loss(run, [1, 2, 3, 4], False)
    check(run.loss(5) == 100, run, "final hop loss %.1f, want 100" % run.loss(5))
    check(run.fates[5].get("dropped", 0) == run.sent[5], run, "simulator did not drop all")
    check(DST4 not in [h["host"] for h in run.hubs], run, "destination answered ICMP")


def scn_dest_drops_icmp_udp(run):
    expect_hosts(run, [hop4(1), hop4(2), hop4(3), hop4(4), DST4])
    expect_loss(run, range(1, 6), False)


def scn_dest_throttle(run):
    expect_loss(run, [1, 2, 3], False)
    expect_loss(run, [4, 5], True)
    check(run.host(5) == DST4, run, "destination never answered")


def scn_loop(run):
    hosts = [h["host"] for h in run.hubs]
    expect_hosts(run, [hop4(1), hop4(2)] + [hop4(3), hop4(4)] * 4)
    check(DST4 not in hosts, run, "a looping path reached the destination")


def scn_interruption(run):
    expect_hosts(run, [hop4(1), hop4(2), hop4(3), hop4(4)])
    expect_loss(run, [1, 2, 3, 4], False)
    for hub in run.hubs[4:]:
        check(hub["Loss%"] == 100 and hub["host"] == LOST, run,
              "hop %d answered after the interruption" % hub["count"])
    check(len(run.hubs) >= 5, run, "the silent hop 5 is not shown")


def scn_ecmp(run):
    want = {2: {hop4(2), hop4(102)}, 3: {hop4(3), hop4(103), hop4(203)}}
    for n, allowed in want.items():
        resp = {r["host"]: r for r in run.responders(n)}
        check(set(resp) <= allowed, run, "hop %d responders %s" % (n, sorted(resp)))
        check(set(resp) == set(run.by_from[n]), run,
              "hop %d: hopwatch saw %s, simulator answered from %s"
              % (n, sorted(resp), sorted(run.by_from[n])))
        for host, r in resp.items():
            check(abs(r["Rcv"] - run.by_from[n][host]) <= COUNT_TOL, run,
                  "hop %d responder %s: Rcv %d, simulator %d"
                  % (n, host, r["Rcv"], run.by_from[n][host]))
    check(len(run.by_from[3]) == 3, run, "per-packet ECMP at hop 3 used %d of 3 routers"
          % len(run.by_from[3]))
    # Weight 2:1:1: the first router takes about half.
    total = sum(run.by_from[3].values())
    share = run.by_from[3][hop4(3)] / total if total else 0
    check(0.3 < share < 0.7, run, "hop 3 weight-2 router got %.2f of the answers" % share)


def scn_mpls(run):
    want = {2: [(24001, 0, 1)], 3: [(24002, 0, 0), (16, 0, 1)], 4: [(24003, 5, 1)], 5: []}
    for n, labels in want.items():
        resp = run.responders(n)
        got = [(m["label"], m["tc"], m["s"]) for m in (resp[0].get("mpls", []) if resp else [])]
        check(got == labels, run, "hop %d MPLS %s, want %s" % (n, got, labels))


def scn_realistic15(run, v6=False):
    h = hop6 if v6 else hop4
    expect_hosts(run, [h(10 * i) for i in range(1, 15)] + [DST6 if v6 else DST4])
    check(len(run.hubs) == 15, run, "%d hops, want 15" % len(run.hubs))
    expect_loss(run, [1, 3, 5, 10, 11, 12, 13, 14, 15], False)
    expect_loss(run, [9], True)
    check(near(run.stat(1, "Avg"), 1.8, 0.3 + run.late(1)), run, "hop 1 Avg")
    check(near(run.stat(15, "Avg"), 17.6, 0.4 + run.late(15)), run, "destination Avg")


def scn_realistic15_tcp6(run):
    scn_realistic15(run, v6=True)


def scn_scale(run):
    check(run.host(4) == "203.0.113.77", run, "prefix destination not reached at hop 4")
    expect_loss(run, range(1, 5), False)


ACC_TOL_MS = 0.1  # acceptance 1: max(0.1 ms, 1%)
ACC_TOL_REL = 0.01


def accuracy_rows(run):
    """Per hop: (ttl, [(stat, measured, truth, ok)], loss_ok) for one run."""
    rows = []
    for hub in run.hubs:
        ttl = hub["count"]
        t = run.rtts[ttl]
        snt = hub["Snt"]
        rcv = round(snt * (100.0 - hub["Loss%"]) / 100.0)
        loss_ok = abs(rcv - len(t)) <= COUNT_TOL and abs(snt - run.sent[ttl]) <= COUNT_TOL
        stats = []
        if t:
            truth = {"Avg": sum(t) / len(t), "Best": min(t), "Wrst": max(t)}
            for k in ("Avg", "Best", "Wrst"):
                tol = max(ACC_TOL_MS, ACC_TOL_REL * truth[k])
                stats.append((k, hub[k], truth[k], abs(hub[k] - truth[k]) <= tol))
        rows.append((ttl, stats, loss_ok))
    return rows


def accuracy_runs(directory):
    """Asserts hopwatch's runs; prints mtr's beside them. Returns hopwatch's runs by name
    and the worst errors of each engine."""
    names = sorted(f[len("hopwatch_"):-5] for f in os.listdir(directory)
                   if f.startswith("hopwatch_") and f.endswith(".json"))
    print("%-7s %4s  %-32s %-32s" % ("run", "hop", "hopwatch max |err| ms (A/B/W)",
                                      "mtr max |err| ms (A/B/W)"))
    worst = {"hopwatch": defaultdict(float), "mtr": defaultdict(float)}
    runs = {}
    for name in names:
        hw = runs[name] = Run(directory, "hopwatch_" + name)
        check(len(hw.hubs) == 10, hw, "%d hops, want 10" % len(hw.hubs))
        check(hw.unstamped == 0, hw, "%d answers without a kernel timestamp" % hw.unstamped)
        hw_rows = accuracy_rows(hw)
        mtr_rows = {}
        if os.path.exists(os.path.join(directory, "mtr_" + name + ".json")):
            mtr_run = Run(directory, "mtr_" + name)
            mtr_rows = {r[0]: r for r in accuracy_rows(mtr_run)}
            note_worst(worst["mtr"], mtr_run, mtr_rows.values())
        note_worst(worst["hopwatch"], hw, hw_rows)
        for ttl, stats, loss_ok in hw_rows:
            check(loss_ok, hw, "hop %d: Snt/Loss%% off the simulator's count by more than "
                  "one probe" % ttl)
            check(stats, hw, "hop %d: the simulator answered nothing" % ttl)
            for k, got, want, ok in stats:
                check(ok, hw, "hop %d %s %.3f ms, truth %.3f ms" % (ttl, k, got, want))
            m = mtr_rows.get(ttl)
            print("%-7s %4d  %-32s %-32s" % (name, ttl, fmt_errors(stats),
                                             (fmt_errors(m[1]) + ("" if m[2] else " loss!"))
                                             if m else "-"))
    return runs, worst


def fmt_errors(stats):
    return "/".join("%.3f%s" % (abs(g - w), "" if ok else "!") for _, g, w, ok in stats) or "-"


def print_worst(worst):
    for who, w in worst.items():
        if w:
            print("worst %-8s Avg %.3f ms, Best %.3f ms, Wrst %.3f ms (largest error / "
                  "tolerance %.2f), Rcv %d, Snt %d probes"
                  % (who, w["Avg"], w["Best"], w["Wrst"], w["ratio"], w["rcv"], w["snt"]))


def send_gaps(run):
    """Milliseconds between the simulator's arrivals of consecutive probes of a run."""
    t = sorted(run.arrivals)
    return [(b - a) / 1000.0 for a, b in zip(t, t[1:])]


def delayed(directory, delay_ms):
    """Runs whose engine had every send held back by delay_ms (tests/netsim/slow_send.sh):
    hopwatch's figures hold to the same tolerance, because its RTTs start at the kernel's
    send stamp. Control: the probes did arrive at least that far apart (the injection
    worked), and mtr's figures, stamped before the send, are printed beside."""
    runs, worst = accuracy_runs(directory)
    check(len(runs) >= 1, SimpleNamespace(name="delayed"), "no delayed hopwatch runs")
    for name, run in runs.items():
        gaps = send_gaps(run)
        got = min(gaps) if gaps else 0.0
        check(got >= 0.8 * delay_ms, SimpleNamespace(name=name),
              "probes %.3f ms apart at least, so sends were not held back %.1f ms"
              % (got, delay_ms))
        print("%s: probes at least %.3f ms apart (sends held back %.1f ms)"
              % (name, got, delay_ms))
    print_worst(worst)


def accuracy(directory):
    runs, worst = accuracy_runs(directory)
    check(len(runs) == 6, SimpleNamespace(name="accuracy"), "%d hopwatch runs, want 6"
          % len(runs))
    print_worst(worst)


def note_worst(w, run, rows):
    """Keeps the largest error per statistic (ms), relative to its tolerance, and counts."""
    for ttl, stats, _ in rows:
        for k, got, want, _ in stats:
            tol = max(ACC_TOL_MS, ACC_TOL_REL * want)
            w[k] = max(w[k], abs(got - want))
            w["ratio"] = max(w["ratio"], abs(got - want) / tol)
    for hub in run.hubs:
        ttl = hub["count"]
        rcv = round(hub["Snt"] * (100.0 - hub["Loss%"]) / 100.0)
        w["rcv"] = max(w["rcv"], abs(rcv - len(run.rtts[ttl])))
        w["snt"] = max(w["snt"], abs(hub["Snt"] - run.sent[ttl]))


def paris(engine):
    """Drives hopwatchd with flow ids on ecmp.scn (run inside the netsim namespace)."""
    import subprocess
    # 16 flows: the chance that all hash to one of two routers is 2^-15 (8 gave 1 in 128,
    # and the UDP tuple holds the engine's random source port).
    flows, reps, ttls = 16, 6, (1, 2, 3, 4)
    p = subprocess.Popen([engine], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    lines = ["1 enable-extension feature flow-id"]
    want = {}
    tok = 10
    for proto in ("icmp", "udp"):
        for f in range(flows):
            for _ in range(reps):
                for ttl in ttls:
                    lines.append("%d send-probe ip-4 203.0.113.1 protocol %s ttl %d "
                                 "flow-id %d timeout 2" % (tok, proto, ttl, f))
                    want[tok] = (proto, f, ttl)
                    tok += 1
    out, _ = p.communicate("\n".join(lines) + "\n", timeout=60)
    seen = defaultdict(set)
    answered = 0
    for line in out.splitlines():
        w = line.split()
        if len(w) >= 4 and w[1] == "ttl-expired" and int(w[0]) in want:
            seen[want[int(w[0])]].add(w[3])
            answered += 1
    ok = True
    if answered != len(want):
        print("FAIL paris: %d of %d probes answered" % (answered, len(want)))
        ok = False
    hop2 = defaultdict(set)
    hop3_split = 0
    for (proto, f, ttl), hosts in seen.items():
        if ttl == 2:
            hop2[proto] |= hosts
            if len(hosts) != 1:
                print("FAIL paris: %s flow %d saw %s at the flow-hashed hop 2"
                      % (proto, f, sorted(hosts)))
                ok = False
        if ttl in (1, 4) and len(hosts) != 1:
            print("FAIL paris: %s flow %d saw %s at hop %d" % (proto, f, sorted(hosts), ttl))
            ok = False
        if ttl == 3 and len(hosts) > 1:
            hop3_split += 1
    for proto in ("icmp", "udp"):
        # Different flows must still spread: otherwise the check above proves nothing.
        if len(hop2[proto]) != 2:
            print("FAIL paris: %s flows all hashed to %s at hop 2" % (proto, sorted(hop2[proto])))
            ok = False
    # Hop 3 balances per packet, which no flow id can pin: most flows see several routers.
    if hop3_split < flows:
        print("FAIL paris: per-packet hop 3 split only %d flows" % hop3_split)
        ok = False
    print("paris: %d probes, hop 2 responders per protocol %s, hop 3 split %d/%d flows"
          % (answered, {k: sorted(v) for k, v in hop2.items()}, hop3_split, 2 * flows))
    return 0 if ok else 1


def scenarios(directory):
    names = sorted(f[:-5] for f in os.listdir(directory) if f.endswith(".json"))
    for name in names:
        try:
            run = Run(directory, name)
        except (OSError, ValueError, KeyError) as e:
            failures.append("%s: unreadable report or log: %s" % (name, e))
            continue
        if not run.hubs:
            failures.append("%s: empty hop table" % name)
            continue
        check_truth(run)
        fn = globals().get("scn_" + name)
        check(fn is not None, run, "no expectations for this run")
        if fn:
            fn(run)
        print("%-22s %2d hops  loss %s" % (name, len(run.hubs),
                                           [round(h["Loss%"]) for h in run.hubs]))
    return len(names)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "paris":
        return paris(sys.argv[2])
    if len(sys.argv) == 3 and sys.argv[1] == "accuracy":
        accuracy(sys.argv[2])
        n = 1
    elif len(sys.argv) == 4 and sys.argv[1] == "delayed":
        delayed(sys.argv[2], float(sys.argv[3]))
        n = 1
    elif len(sys.argv) == 2:
        n = scenarios(sys.argv[1])
    else:
        print("usage: test_netsim_check.py DIR | accuracy DIR | paris ENGINE")
        return 2
    for f in failures:
        print("FAIL " + f)
    print("%d failures" % len(failures))
    return 1 if failures or not n else 0


if __name__ == "__main__":
    sys.exit(main())
