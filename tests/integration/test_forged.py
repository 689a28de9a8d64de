#!/usr/bin/env python3
"""test_forged: forged replies must never become a probe's result.

Run by test_forged.sh through run_in_lab.sh (2 routers). forge_inject.py runs inside
router 1, the client's neighbour: it sniffs the engine's probes there and answers each
with replies that are right in every field but one (see its docstring for the kinds).
Router 1 drops the probes to the silent destinations, so nothing real ever answers
them. The probe's TTL tells the forger what to do with it:

  silent  (TTL 30) forgeries with one defect each      -> must end as no-reply
  control (TTL 31) those, then one faultless error, then the same frame again
                                                       -> ttl-expired from the control
                                                          address, exactly once
  late    (TTL 32) those, the faultless one after the probe's timeout -> no-reply only
  echo    (TTL 33) those, then a faultless echo reply  -> reply from the destination
  real    (TTL 2, real destination) a faultless forgery after router 2 answered
                                                       -> router 2, exactly once

The controls prove that each forgery would have been taken but for its defect: a check
removed from the engine lets that kind through and its count turns non-zero. The test
prints, per kind, the frames sent and the replies the engine took from them.
"""

import ipaddress
import json
import os
import subprocess
import sys
import time
import unittest

import forge_inject as fi
from enginetest import Engine, Lab, Reply

# Timeout (seconds) of every probe; the late forgeries follow LATE_S after each probe.
PROBE_TIMEOUT_S = 2
LATE_S = 3.0
# Silent destinations per family: one per echo kind, which only that one gets.
NDST = len(fi.ECHO_KINDS)
# Real probes per family and protocol (TTL 2 to the lab's destination).
NREAL = 3
# Seconds the injector has to open its socket, and to report at the end.
INJ_START_S = 10
INJ_STOP_S = 10
# Seconds to listen after the last expected line, for duplicates and late takes.
LINGER_S = 1.5

HERE = os.path.dirname(os.path.abspath(__file__))
LAB = Lab()


def responder(r):
    a = r.args.get("ip-4") or r.args.get("ip-6")
    return ipaddress.ip_address(a) if a else None


class TestForgedReplies(unittest.TestCase):
    def setUp(self):
        self.r1 = LAB.router(1)
        # The silent destinations: router 1 drops every probe to them after the forger
        # (on an AF_PACKET socket) has seen it.
        d4 = (fi.silent_dst(4, 0), fi.silent_dst(4, NDST - 1))
        d6 = (fi.silent_dst(6, 0), fi.silent_dst(6, NDST - 1))
        rules = ["ip daddr %s-%s drop" % d4, "ip6 daddr %s-%s drop" % d6]
        self.nft = LAB.nft_rules(self.r1, "forward", rules)
        self.nft.__enter__()
        self.inj = subprocess.Popen(
            ["ip", "netns", "exec", self.r1, sys.executable, os.path.join(HERE,
                                                                          "forge_inject.py"),
             "--iface", "left", "--client4", "198.51.100.1", "--client6", "2001:db8::1",
             "--late", str(LATE_S)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        deadline = time.monotonic() + INJ_START_S
        line = ""
        while time.monotonic() < deadline:
            line = self.inj.stdout.readline()
            if line.strip() == "ready" or not line:
                break
        if line.strip() != "ready":
            self.tearDown()
            self.fail("injector did not start: %r" % line)

    def tearDown(self):
        if self.inj and self.inj.poll() is None:
            self.inj.kill()
            self.inj.wait()
        self.inj = None
        if self.nft:
            self.nft.__exit__(None, None, None)
            self.nft = None

    def stop_injector(self):
        self.inj.stdin.write("stop\n")
        self.inj.stdin.flush()
        out, _ = self.inj.communicate(timeout=INJ_STOP_S)
        self.inj = None
        return json.loads(out.strip().splitlines()[-1])

    def plan(self):
        """token -> (family, protocol, class, destination)."""
        plan = {}
        t = 1
        for fam in (4, 6):
            for proto in ("icmp", "udp", "tcp"):
                for i in range(NDST):
                    for ttl in (fi.TTL_SILENT, fi.TTL_CONTROL, fi.TTL_LATE, fi.TTL_ECHO):
                        if ttl == fi.TTL_ECHO and proto == "udp":
                            continue
                        plan[t] = (fam, proto, ttl, fi.silent_dst(fam, i))
                        t += 1
                for _ in range(NREAL):
                    dst = ipaddress.ip_address(LAB.dst4 if fam == 4 else LAB.dst6)
                    plan[t] = (fam, proto, fi.TTL_REAL, dst)
                    t += 1
        return plan

    def test_forged_replies_are_refused(self):
        plan = self.plan()
        hop2 = {4: ipaddress.ip_address(LAB.hop4[1]), 6: ipaddress.ip_address(LAB.hop6[1])}
        by_addr = {}
        for kind in fi.ERROR_KINDS:
            for fam in (4, 6):
                by_addr[fi.kind_addr(fam, kind)] = kind
        with Engine(LAB) as e:
            e.send(*["%d send-probe ip-%d %s protocol %s ttl %d timeout %d"
                     % (t, fam, dst, proto, ttl, PROBE_TIMEOUT_S)
                     for t, (fam, proto, ttl, dst) in plan.items()])
            first = e.collect(plan.keys(), timeout=PROBE_TIMEOUT_S + 5)
            # Late forgeries come LATE_S after each probe; then listen a little longer.
            time.sleep(max(0.0, LATE_S - PROBE_TIMEOUT_S))
            extra = [Reply(ln) for ln in e.drain(LINGER_S)]
        sent = self.stop_injector()

        accepted = {k: 0 for k in sent}
        problems = []
        lines = {t: [r] for t, r in first.items()}
        for r in extra:
            lines.setdefault(r.token, []).append(r)
        for t, (fam, proto, ttl, dst) in plan.items():
            got = lines.get(t, [])
            if not got:
                problems.append("token %d (%s): no line at all" % (t, plan[t]))
                continue
            if ttl == fi.TTL_CONTROL:
                want = ("ttl-expired", fi.kind_addr(fam, "control"))
            elif ttl == fi.TTL_ECHO:
                want = ("reply", dst)
            elif ttl == fi.TTL_REAL:
                want = ("ttl-expired", hop2[fam])
            else:
                want = ("no-reply", None)
            for n, r in enumerate(got):
                who = responder(r)
                if n == 0 and (r.word, who) == want:
                    if ttl == fi.TTL_CONTROL:
                        accepted["control"] += 1
                    elif ttl == fi.TTL_ECHO:
                        accepted[fi.TCP_CONTROL if proto == "tcp" else fi.ECHO_CONTROL] += 1
                    continue
                # Anything else was taken from a forgery: say which.
                if n > 0 and ttl == fi.TTL_CONTROL and who == fi.kind_addr(fam, "control"):
                    kind = "duplicate"
                elif who in by_addr:
                    kind = by_addr[who]
                elif who == dst and ttl != fi.TTL_REAL:
                    i = [fi.silent_dst(fam, i) for i in range(NDST)].index(dst)
                    kind = (fi.TCP_KINDS if proto == "tcp" else fi.ECHO_KINDS)[i]
                else:
                    kind = None
                if kind:
                    accepted[kind] += 1
                problems.append("token %d %s/%s ttl %d: %r (from %s)"
                                % (t, "ip-%d" % fam, proto, ttl, r.line, kind or "?"))

        print("\n%-16s %6s %9s" % ("forged kind", "sent", "accepted"))
        controls = ("control", fi.ECHO_CONTROL, fi.TCP_CONTROL)
        for kind in fi.ERROR_KINDS + fi.ECHO_KINDS + [fi.ECHO_CONTROL] + fi.TCP_KINDS + [
                fi.TCP_CONTROL]:
            print("%-16s %6d %9d%s" % (kind, sent.get(kind, 0), accepted.get(kind, 0),
                                      "   (control: must equal sent)"
                                      if kind in controls else ""))
        sys.stdout.flush()

        # The controls: every faultless forgery was taken, so the others were sound too.
        self.assertGreater(sent["control"], 0)
        self.assertEqual(accepted["control"], sent["control"], "control forgeries not taken")
        self.assertEqual(accepted[fi.ECHO_CONTROL], sent[fi.ECHO_CONTROL],
                         "faultless echo replies not taken")
        self.assertEqual(accepted[fi.TCP_CONTROL], sent[fi.TCP_CONTROL],
                         "faultless TCP resets not taken")
        for kind in fi.ERROR_KINDS + fi.ECHO_KINDS + fi.TCP_KINDS:
            if kind != "control":
                self.assertGreater(sent.get(kind, 0), 0, "no %s forgery was sent" % kind)
        self.assertEqual(problems, [], "\n".join(problems))


if __name__ == "__main__":
    unittest.main(verbosity=2)
