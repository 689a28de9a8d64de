#!/usr/bin/env python3
"""test_analyze_check.py: what `hopwatch -j --analyze` concluded on a lab path, judged.

Used by test_analyze_lab.sh and test_analyze_false_alarm.sh. Each mode reads one JSON
report and exits 0 when the diagnosis says what the lab built, else prints why and the
report's hopwatch part (findings, conclusion, confirmation) and its hop table, and exits 1.

  dest_drops FILE --trace icmp|tcp --carriers N
      the destination drops ICMP echo behind N healthy carrier hops. Never a carrier
      blamed (no finding with contact "carrier" at severity warning or problem). An ICMP
      trace: a confirmed dest_drops_icmp finding, conclusion "dest_drops_icmp", and the
      confirmation's TCP probes answered by the destination. A TCP trace reaches the
      destination (the kernel's RST from its closed port): conclusion not "problem".
  interruption FILE --hop K
      router K forwards nothing: a confirmed path_interruption at hop K (severity
      problem, conclusion "problem"), a confirmation with TCP and UDP entries, and no
      answer to any of them from past hop K (never the destination).
  real_loss FILE --hop K
      loss on the link into router K, the last carrier hop: hops before K clean, K and
      every later hop lossy, a real_loss finding at hop K (severity problem), no
      dest_loss, conclusion "problem".
  no_alarm FILE
      a path where nothing is lost in forwarding: no finding of severity problem, no
      carrier blamed, conclusion not "problem".
  no_confirm FILE
      a run with --no-confirm: no confirmation probe sent, no finding "confirmed".
  summary FILE
      prints "CONCLUSION PROBES_SENT" (0 when no confirmation ran), for the false-alarm
      counts; fails only on a report without a diagnosis.
"""

import argparse
import json
import sys


class Bad(Exception):
    pass


def hopwatch_part(report):
    hw = report.get("report", {}).get("hopwatch")
    if not isinstance(hw, dict) or not isinstance(hw.get("diagnosis"), list):
        raise Bad("no report.hopwatch.diagnosis (was --analyze given?)")
    return hw


def conclusion_id(hw):
    # The key the report writes today, or a shorter one a later version may use.
    c = hw.get("diagnosis_conclusion", hw.get("conclusion"))
    if not isinstance(c, dict) or "id" not in c:
        raise Bad("no conclusion object with an id")
    return c["id"]


def confirmation(hw):
    c = hw.get("confirmation")
    return c if isinstance(c, dict) else None


def probes_sent(hw):
    c = confirmation(hw)
    return int(c.get("probes_sent", 0)) if c else 0


def findings(hw, kind):
    return [f for f in hw["diagnosis"] if f.get("kind") == kind]


def carrier_blamed(hw):
    return [
        f
        for f in hw["diagnosis"]
        if f.get("contact") == "carrier" and f.get("severity") in ("warning", "problem")
    ]


def dest_ttl(entry):
    # The confirmation writes a probe sent with the full TTL as "dest" (or 0).
    return entry.get("ttl") in ("dest", 0, None)


def protocol_entries(hw, proto):
    c = confirmation(hw)
    if not c:
        return []
    return [p for p in c.get("probes", []) if str(p.get("protocol", "")).lower() == proto]


def describe(f):
    return "%s/%s at hop %s (contact %s, confirmed %s)" % (
        f.get("kind"),
        f.get("severity"),
        f.get("hop"),
        f.get("contact"),
        f.get("confirmed"),
    )


def check_dest_drops(hw, trace, carriers):
    errs = []
    for f in carrier_blamed(hw):
        errs.append("a carrier is blamed: " + describe(f))
    cid = conclusion_id(hw)
    if trace == "tcp":
        if cid == "problem":
            errs.append("conclusion is 'problem' on a healthy path")
        c = hw.get("diagnosis_conclusion", hw.get("conclusion", {}))
        if c.get("dest_reached") is not True:
            errs.append("a TCP trace should reach the destination (its closed port's RST)")
        return errs
    dd = findings(hw, "dest_drops_icmp")
    if not dd:
        errs.append("no dest_drops_icmp finding")
    elif not any(f.get("confirmed") is True for f in dd):
        errs.append("dest_drops_icmp is not confirmed: " + "; ".join(map(describe, dd)))
    for f in dd:
        if f.get("hop", 0) <= carriers:
            errs.append("dest_drops_icmp placed on a carrier hop: " + describe(f))
    if cid != "dest_drops_icmp":
        errs.append("conclusion is %r, not 'dest_drops_icmp'" % cid)
    tcp = protocol_entries(hw, "tcp")
    if not tcp:
        errs.append("no TCP entry in report.hopwatch.confirmation")
    elif not any(dest_ttl(p) and int(p.get("from_dest", 0)) > 0 for p in tcp):
        errs.append("no TCP confirmation probe answered by the destination")
    return errs


def check_interruption(hw, hop):
    errs = []
    pi = [f for f in findings(hw, "path_interruption") if f.get("hop") == hop]
    if not pi:
        errs.append("no path_interruption finding at hop %d" % hop)
    for f in pi:
        if f.get("severity") != "problem":
            errs.append("interruption is not a problem: " + describe(f))
        if f.get("confirmed") is not True:
            errs.append("interruption is not confirmed: " + describe(f))
    for f in findings(hw, "dest_drops_icmp"):
        errs.append("a dead router read as a destination dropping ICMP: " + describe(f))
    if conclusion_id(hw) != "problem":
        errs.append("conclusion is %r, not 'problem'" % conclusion_id(hw))
    c = confirmation(hw)
    if not c:
        errs.append("no report.hopwatch.confirmation")
        return errs
    if int(c.get("probes_sent", 0)) <= 0:
        errs.append("confirmation sent no probes")
    for proto in ("tcp", "udp"):
        if not protocol_entries(hw, proto):
            errs.append("no %s entry in the confirmation" % proto.upper())
    for p in c.get("probes", []):
        if int(p.get("from_dest", 0)) > 0:
            errs.append("the destination answered a confirmation probe: %r" % p)
        ttl = p.get("ttl")
        # An entry sent with a TTL up to hop K may see hops up to K answer; one sent
        # further (or with the full TTL) must see nothing past K: no answer at all.
        if int(p.get("answered", 0)) > 0 and (dest_ttl(p) or int(ttl) > hop):
            errs.append("an answer from past hop %d: %r" % (hop, p))
    return errs


def check_real_loss(report, hw, hop):
    errs = []
    hubs = report["report"].get("hubs", [])
    for h in hubs:
        n, loss = h.get("count"), float(h.get("Loss%", 0))
        if n < hop and loss > 0:
            errs.append("lab: hop %d before the lossy link shows %.1f%% loss" % (n, loss))
        if n >= hop and loss == 0:
            errs.append("lab: hop %d behind the lossy link shows no loss" % n)
    rl = [f for f in findings(hw, "real_loss") if f.get("hop") == hop]
    if not rl:
        errs.append("no real_loss finding at hop %d" % hop)
    for f in rl:
        if f.get("severity") != "problem":
            errs.append("real loss is not a problem: " + describe(f))
    for f in findings(hw, "dest_loss"):
        errs.append("loss from the last carrier hop on read as the destination's: " + describe(f))
    if conclusion_id(hw) != "problem":
        errs.append("conclusion is %r, not 'problem'" % conclusion_id(hw))
    return errs


def check_no_alarm(hw):
    errs = []
    for f in hw["diagnosis"]:
        if f.get("severity") == "problem":
            errs.append("a problem where nothing is lost in forwarding: " + describe(f))
    for f in carrier_blamed(hw):
        if f.get("severity") != "problem":
            errs.append("a carrier is blamed: " + describe(f))
    if conclusion_id(hw) == "problem":
        errs.append("conclusion is 'problem'")
    return errs


def check_no_confirm(hw):
    errs = []
    if probes_sent(hw):
        errs.append("%d confirmation probes sent despite --no-confirm" % probes_sent(hw))
    for f in hw["diagnosis"]:
        if f.get("confirmed") is True:
            errs.append("confirmed without a confirmation: " + describe(f))
    return errs


def dump(report, hw):
    print("--- hops (hop host Loss% Snt)", file=sys.stderr)
    for h in report.get("report", {}).get("hubs", []):
        print(
            "  %2s %-22s %5.1f%% %3s"
            % (h.get("count"), h.get("host"), float(h.get("Loss%", 0)), h.get("Snt")),
            file=sys.stderr,
        )
    print("--- report.hopwatch", file=sys.stderr)
    print(json.dumps(hw, indent=1), file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["dest_drops", "interruption", "real_loss", "no_alarm", "no_confirm", "summary"])
    ap.add_argument("file")
    ap.add_argument("--trace", choices=["icmp", "tcp"], default="icmp")
    ap.add_argument("--carriers", type=int, default=0)
    ap.add_argument("--hop", type=int, default=0)
    a = ap.parse_args()
    try:
        with open(a.file, encoding="utf-8") as fh:
            report = json.load(fh)
    except (OSError, ValueError) as e:
        print("FAIL: %s: not a JSON report: %s" % (a.file, e), file=sys.stderr)
        return 1
    hw = None
    try:
        hw = hopwatch_part(report)
        if a.mode == "summary":
            print(conclusion_id(hw), probes_sent(hw))
            return 0
        if a.mode == "dest_drops":
            errs = check_dest_drops(hw, a.trace, a.carriers)
        elif a.mode == "no_alarm":
            errs = check_no_alarm(hw)
        elif a.mode == "no_confirm":
            errs = check_no_confirm(hw)
        elif a.mode == "interruption":
            errs = check_interruption(hw, a.hop)
        else:
            errs = check_real_loss(report, hw, a.hop)
    except (Bad, KeyError, TypeError, ValueError) as e:
        errs = ["malformed report: %s" % e]
    if not errs:
        loss = "/".join(
            "%g" % float(h.get("Loss%", 0)) for h in report["report"].get("hubs", [])
        )
        print(
            "conclusion %s; findings: %s; confirmation probes %d; Loss%% by hop %s"
            % (
                conclusion_id(hw),
                ", ".join(describe(f) for f in hw["diagnosis"]),
                probes_sent(hw),
                loss,
            )
        )
        return 0
    for e in errs:
        print("  - " + e, file=sys.stderr)
    if hw is not None:
        dump(report, hw)
    else:
        print(json.dumps(report, indent=1), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
