#!/usr/bin/env python3
"""test_monitor_check: the checks of test_monitor.sh, one mode per part.

  accuracy DIR NAME KIND@HOP [CONCLUSION]  NAME.jsonl, NAME.prom and NAME.log against each
                              other; every window's diagnosis; the complete ones' finding
  prometheus DIR              the PromQL answer and the path change
  reload DIR                  /metrics before and after a SIGHUP
  gap DIR                     the lines and counters around a killed engine
  rename DIR                  a target whose name moves to another address
  prune DIR                   a hop no longer probed loses its series
"""
import json
import math
import re
import sys
from collections import defaultdict

COUNT_TOL = 1  # probes
AVG_TOL_MS = 0.1
AVG_TOL_REL = 0.01

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
    return cond


def lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def prom(path):
    """name{labels} value -> {(name, frozenset(labels)): value}"""
    series = {}
    pat = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            m = pat.match(line.strip())
            if not m:
                failures.append("%s: bad line %r" % (path, line))
                continue
            labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
            series[(m.group(1), labels)] = float(m.group(4))
    return series


def hop_value(series, name, target, hop):
    return series.get((name, frozenset({("target", target), ("hop", str(hop))})))


class Log:
    """netsim's probe log: per TTL, probes sent and answered and the true RTTs."""

    def __init__(self, path):
        self.sent = defaultdict(int)
        self.rtts = defaultdict(list)
        with open(path) as f:
            for line in f:
                kv = dict(w.split("=", 1) for w in line.split() if "=" in w)
                if "ttl" not in kv or kv.get("fate") == "noroute":
                    continue
                ttl = int(kv["ttl"])
                self.sent[ttl] += 1
                if kv["fate"] == "answer" and "unsent" not in kv:
                    us = int(kv.get("kernel_us", kv.get("applied_us", kv["rtt_us"])))
                    self.rtts[ttl].append(us / 1000.0)

    def loss_ratio(self, ttl):
        return 1.0 - len(self.rtts[ttl]) / self.sent[ttl] if self.sent[ttl] else 0.0

    def avg(self, ttl):
        r = self.rtts[ttl]
        return sum(r) / len(r) if r else None


def avg_ok(got, truth):
    return abs(got - truth) <= max(AVG_TOL_MS, AVG_TOL_REL * truth)


MIN_PROBES = 10  # a hop is judged only after this many finished probes (diagnose.h)
SEVERITIES = {"info", "warning", "problem"}
# Info-level latency findings a clean path may show under a loaded machine.
LATENCY_NOISE = {"brief_spike", "hop_spike", "high_stdev"}
CONCLUSIONS = {"clean", "no_exception", "check", "problem", "insufficient_data",
               "dest_drops_icmp"}


def window_diagnosis(name, wins):
    """Every window line carries its own diagnosis and conclusion, consistent with it and
    with the window's probe counts: fewer than MIN_PROBES at every hop is too few."""
    for i, w in enumerate(wins):
        diag, concl = w.get("diagnosis"), w.get("conclusion")
        tag = "%s: window %d" % (name, i)
        if not check(isinstance(diag, list) and diag, "%s: no diagnosis array: %s" % (tag, diag)):
            continue
        if not check(isinstance(concl, dict) and concl.get("id") in CONCLUSIONS,
                     "%s: conclusion %s" % (tag, concl)):
            continue
        for f in diag:
            check(isinstance(f.get("kind"), str) and f["kind"] not in ("", "unknown")
                  and f.get("severity") in SEVERITIES and isinstance(f.get("hop"), int),
                  "%s: finding %s" % (tag, f))
        kinds = [f["kind"] for f in diag]
        sev = {f.get("severity") for f in diag}
        check((concl["id"] == "problem") == ("problem" in sev),
              "%s: conclusion %s with severities %s" % (tag, concl["id"], sev))
        most = max([h["sent"] for h in w["hops"]] or [0])
        if most < MIN_PROBES:
            check(kinds == ["insufficient_data"] and concl["id"] == "insufficient_data",
                  "%s: %d probes at most per hop, yet findings %s, conclusion %s"
                  % (tag, most, kinds, concl["id"]))
        elif not w["interrupted"]:
            # Complete: every probe is in, so a hop with MIN_PROBES sent is judged.
            check("insufficient_data" not in kinds and concl["id"] != "insufficient_data",
                  "%s: %d probes at a hop, yet %s / %s" % (tag, most, kinds, concl["id"]))


def accuracy(d, name, expect, want_conclusion="-"):
    log = Log("%s/%s.log" % (d, name))
    wins = [x for x in lines("%s/%s.jsonl" % (d, name)) if x["type"] == "window"]
    full = [w for w in wins if not w["interrupted"]]
    check(len(full) >= 2, "%s: %d complete windows, want 2" % (name, len(full)))
    for w in full:
        check(w["rounds"] == 30, "%s: a complete window of %d rounds" % (name, w["rounds"]))
    # Every window (the last one cut short at exit) together: all probes of the run.
    sent, rcv, rtt_sum = defaultdict(int), defaultdict(int), defaultdict(float)
    for w in wins:
        for h in w["hops"]:
            sent[h["hop"]] += h["sent"]
            rcv[h["hop"]] += h["received"]
            if h["received"]:
                rtt_sum[h["hop"]] += h["avg_ms"] * h["received"]
    for ttl in sorted(sent):
        if not log.sent[ttl]:
            continue
        check(abs(sent[ttl] - log.sent[ttl]) <= COUNT_TOL,
              "%s: hop %d: JSON sent %d, simulator saw %d" % (name, ttl, sent[ttl], log.sent[ttl]))
        check(abs(rcv[ttl] - len(log.rtts[ttl])) <= COUNT_TOL,
              "%s: hop %d: JSON received %d, simulator answered %d"
              % (name, ttl, rcv[ttl], len(log.rtts[ttl])))
        if rcv[ttl] and log.avg(ttl) is not None:
            a = rtt_sum[ttl] / rcv[ttl]
            check(avg_ok(a, log.avg(ttl)),
                  "%s: hop %d: JSON Avg %.3f ms, simulator %.3f ms" % (name, ttl, a, log.avg(ttl)))
    # /metrics, scraped while it ran: the loss ratio within one probe, the Avg.
    s = prom("%s/%s.prom" % (d, name))
    for ttl in sorted(sent):
        ms = hop_value(s, "hopwatch_hop_probes_sent_total", "t1", ttl)
        mr = hop_value(s, "hopwatch_hop_probes_received_total", "t1", ttl)
        if not check(ms is not None and mr is not None, "%s: hop %d missing in /metrics" % (name, ttl)):
            continue
        want_lost = ms * log.loss_ratio(ttl)
        # One probe, plus the one in flight when scraped.
        check(abs((ms - mr) - want_lost) <= COUNT_TOL + 1,
              "%s: hop %d: /metrics lost %d of %d, the log's ratio says %.1f"
              % (name, ttl, ms - mr, ms, want_lost))
        total = hop_value(s, "hopwatch_hop_rtt_seconds_sum", "t1", ttl)
        n = hop_value(s, "hopwatch_hop_rtt_seconds_count", "t1", ttl)
        if n and log.avg(ttl) is not None:
            a = total / n * 1000.0
            check(avg_ok(a, log.avg(ttl)),
                  "%s: hop %d: /metrics Avg %.3f ms, simulator %.3f ms" % (name, ttl, a, log.avg(ttl)))
    # The diagnosis of each complete window names the scenario's finding.
    window_diagnosis(name, wins)
    for i, w in enumerate(full):
        diag = w.get("diagnosis", [])
        concl = w.get("conclusion", {}).get("id")
        # Scheduling noise of a loaded machine may add an info-level latency note to a
        # clean path's window (one slow answer is a brief spike): the path is still clean.
        noise = [f for f in diag if f["kind"] in LATENCY_NOISE and f["severity"] == "info"]
        if expect == "clean@0" and noise and len(noise) == len(diag):
            diag = [{"kind": "clean", "hop": 0}]
            if concl == "no_exception":
                concl = "clean"
        got = ["%s@%d" % (f["kind"], f["hop"]) for f in diag]
        check(expect in got, "%s: window %d: findings %s, want %s" % (name, i, got, expect))
        if want_conclusion != "-":
            check(concl == want_conclusion, "%s: window %d: conclusion %s, want %s"
                  % (name, i, concl, want_conclusion))
    print("%s: %d windows, hops %s; findings %s" % (
        name, len(wins), ", ".join("%d:%d/%d" % (t, rcv[t], sent[t]) for t in sorted(sent)),
        [["%s@%d" % (f["kind"], f["hop"]) for f in w.get("diagnosis", [])] for w in full]))


def prometheus(d):
    log_ratio = None
    try:
        ans = json.load(open(d + "/promql.json"))
        val = float(ans["data"]["result"][0]["value"][1])
    except Exception as e:  # noqa: BLE001
        check(False, "PromQL: no value (%s)" % e)
        return
    s = prom(d + "/prom_before.prom")
    ms = hop_value(s, "hopwatch_hop_probes_sent_total", "t1", 2)
    mr = hop_value(s, "hopwatch_hop_probes_received_total", "t1", 2)
    if check(ms, "prometheus: hop 2 not in /metrics"):
        log_ratio = 1 - mr / ms
        # Scraped a second or less apart: within a few probes of each other.
        check(abs(val - log_ratio) <= 3.0 / ms,
              "PromQL loss ratio %.3f, /metrics says %.3f" % (val, log_ratio))
    # throttle_hop: hop 2 answers 40% of its probes.
    check(0.45 <= val <= 0.75, "PromQL loss ratio of hop 2 %.3f, the scenario drops 60%%" % val)
    events = [x for x in lines(d + "/prom.jsonl") if x["type"] == "path_change"]
    check(len(events) == 1, "path changes: %d lines, want 1" % len(events))
    if events:
        e = events[0]
        check(e["first_diff_hop"] == 2, "path change at hop %s, want 2" % e["first_diff_hop"])
        check(e["new"][1] == "198.51.100.22", "new path %s" % e["new"])
        check(e["old"][1] == "198.51.100.2", "old path %s" % e["old"])
    a = prom(d + "/prom_after.prom")
    key = ("hopwatch_target_path_changes_total", frozenset({("target", "t1")}))
    check(s.get(key) == 0 and a.get(key) == 1,
          "path_changes_total %s -> %s, want 0 -> 1" % (s.get(key), a.get(key)))
    print("PromQL hop 2 loss ratio %.3f (/metrics %.3f); path change: %s" % (
        val, log_ratio or math.nan, events[0] if events else None))


def reload(d):
    b = prom(d + "/hup_before.prom")
    a = prom(d + "/hup_after.prom")

    def targets(s):
        return {dict(k[1]).get("target") for k in s if k[0] == "hopwatch_hop_probes_sent_total"}

    check(targets(b) == {"t1", "t2"}, "before: targets %s" % targets(b))
    check(targets(a) == {"t1", "t3"}, "after: targets %s" % targets(a))
    for hop in (1, 2, 3):
        x = hop_value(b, "hopwatch_hop_probes_sent_total", "t1", hop)
        y = hop_value(a, "hopwatch_hop_probes_sent_total", "t1", hop)
        check(x and y and y >= x + 10,
              "t1 hop %d: sent %s before, %s after: its counter must run on" % (hop, x, y))
    key = ("hopwatch_monitor_config_reloads_total", frozenset())
    check(a.get(key) == 1, "config_reloads_total %s" % a.get(key))
    print("reload: t1 hop 1 sent %s -> %s, targets %s -> %s" % (
        hop_value(b, "hopwatch_hop_probes_sent_total", "t1", 1),
        hop_value(a, "hopwatch_hop_probes_sent_total", "t1", 1), sorted(targets(b)),
        sorted(targets(a))))


def gap(d):
    ls = lines(d + "/gap.jsonl")
    types = [x["type"] for x in ls]
    check("engine_lost" in types and "engine_back" in types,
          "gap: lines %s, want engine_lost then engine_back" % types)
    if "engine_lost" in types and "engine_back" in types:
        lost, back = types.index("engine_lost"), types.index("engine_back")
        check(lost < back, "engine_back before engine_lost")
        cut = [x for x in ls[:lost] if x["type"] == "window" and x["interrupted"]]
        check(len(cut) == 1, "gap: %d interrupted windows before engine_lost, want 1" % len(cut))
        between = [x for x in ls[lost + 1:back] if x["type"] == "window"]
        check(not between, "gap: %d windows written during the gap" % len(between))
        check(ls[back].get("gap_s", 0) > 0.5, "gap_s %s" % ls[back].get("gap_s"))
    for w in ls:
        if w["type"] == "window":
            check(w["rounds"] <= 20, "a window of %d rounds (max 20)" % w["rounds"])
    window_diagnosis("gap", [x for x in ls if x["type"] == "window"])
    s = prom(d + "/gap.prom")
    key = ("hopwatch_monitor_engine_reconnects_total", frozenset())
    check(s.get(key) == 1, "engine_reconnects_total %s, want 1" % s.get(key))
    check(s.get(("hopwatch_monitor_engine_up", frozenset())) == 1, "engine_up after the gap")
    # Nothing invented: what the windows count is what the simulator saw.
    log = Log(d + "/gap.log")
    sent = defaultdict(int)
    rcv = defaultdict(int)
    for w in ls:
        if w["type"] == "window":
            for h in w["hops"]:
                sent[h["hop"]] += h["sent"]
                rcv[h["hop"]] += h["received"]
    for ttl in sorted(sent):
        # The killed engine's probes in flight reached netsim but no window counts them.
        check(abs(sent[ttl] - log.sent[ttl]) <= COUNT_TOL + 1,
              "gap: hop %d: windows sent %d, simulator saw %d" % (ttl, sent[ttl], log.sent[ttl]))
        check(rcv[ttl] <= len(log.rtts[ttl]),
              "gap: hop %d: windows received %d > simulator answered %d"
              % (ttl, rcv[ttl], len(log.rtts[ttl])))
    print("gap: lines %s; hop 1 windows %d/%d, simulator %d/%d" % (
        types, rcv[1], sent[1], len(log.rtts[1]), log.sent[1]))


def rename(d):
    ls = lines(d + "/dns.jsonl")
    ch = [x for x in ls if x["type"] == "address_change"]
    check(len(ch) == 1, "address changes: %d lines, want 1" % len(ch))
    if not ch:
        return
    check(ch[0]["old"] == "203.0.113.10" and ch[0]["new"] == "203.0.113.20",
          "address change %s -> %s" % (ch[0]["old"], ch[0]["new"]))
    at = ls.index(ch[0])
    # Windows of 5 rounds: too few probes for any claim, and each says so.
    wins = [x for x in ls if x["type"] == "window"]
    window_diagnosis("rename", wins)
    check(wins and all(x["conclusion"]["id"] == "insufficient_data" for x in wins
                       if isinstance(x.get("conclusion"), dict)),
          "rename: 5-round windows concluded %s" % [x.get("conclusion") for x in wins])
    before = [x["address"] for x in ls[:at] if x["type"] == "window"]
    after = [x["address"] for x in ls[at + 1:] if x["type"] == "window"]
    check(before and set(before) == {"203.0.113.10"}, "windows before: %s" % set(before))
    check(after and set(after) == {"203.0.113.20"}, "windows after: %s" % set(after))
    # A complete window reaches the new destination (one cut short at exit may not).
    for x in ls[at + 1:]:
        if x["type"] == "window" and x["hops"] and not x["interrupted"]:
            check(x["hops"][-1]["address"] == "203.0.113.20",
                  "after the change the last hop is %s" % x["hops"][-1]["address"])
    print("rename: %d windows of .10, then %d of .20" % (len(before), len(after)))


def prune(d):
    b = prom(d + "/short_before.prom")
    a = prom(d + "/short_after.prom")
    check(hop_value(b, "hopwatch_hop_probes_sent_total", "t1", 4) is not None,
          "before: hop 4 has no series")
    for name in ("hopwatch_hop_probes_sent_total", "hopwatch_hop_probes_received_total",
                 "hopwatch_hop_window_loss_ratio", "hopwatch_hop_info"):
        left = [k for k in a if k[0] == name and ("hop", "4") in k[1]]
        check(not left, "after: %s still has hop 4: %s" % (name, left))
    check(hop_value(a, "hopwatch_hop_probes_sent_total", "t1", 3) is not None,
          "after: hop 3 (now the destination) has no series")
    print("prune: hop 4 series before %d, after %d" % (
        sum(1 for k in b if ("hop", "4") in k[1]), sum(1 for k in a if ("hop", "4") in k[1])))


def main():
    mode = sys.argv[1]
    if mode == "accuracy":
        accuracy(*sys.argv[2:6])
    elif mode == "prometheus":
        prometheus(sys.argv[2])
    elif mode == "reload":
        reload(sys.argv[2])
    elif mode == "gap":
        gap(sys.argv[2])
    elif mode == "rename":
        rename(sys.argv[2])
    elif mode == "prune":
        prune(sys.argv[2])
    else:
        sys.exit("unknown mode " + mode)
    for f in failures:
        print("FAIL " + f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
