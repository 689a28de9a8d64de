#!/usr/bin/env python3
"""fake_engine.py: a scripted hopwatchd stand-in for the golden tests of hopwatch.

Answers send-probe lines from a fixed transcript instead of the network, so that every
output format can be compared byte for byte. The round of a probe is how many probes
with the same TTL came before it (0-based), so answers do not depend on timing.

Transcript (FAKE_TRANSCRIPT): one rule a line, first match wins, '#' comments:
    TTL ROUNDS KIND [ADDR RTTS] [late]
  TTL    a number, or N+ for N and above
  ROUNDS '*' or a comma list of 0-based rounds
  KIND   a reply word: reply, ttl-expired, no-route, no-reply, ...
  RTTS   microseconds, a comma list indexed by round (modulo its length)
  late   hold this answer until the next probe has been answered (reordering)
A probe no rule matches gets no-reply. KIND 'silent' never answers (a lost engine reply,
so that the client's -G grace limit is what ends the run).

Environment: FAKE_MISSING=feature[,feature] answers check-support with "no";
FAKE_DIE=TEXT prints TEXT on stderr and exits 1 before reading anything (an engine
without privileges); FAKE_EXIT_AFTER=N exits 1 with a message on the Nth send-probe;
FAKE_LOG=FILE appends every line received.
"""
import os
import select
import sys

IDLE_FLUSH_S = 0.5  # held answers go out after this long without input


def load_rules(path):
    rules = []
    with open(path, encoding="ascii") as f:
        for raw in f:
            line = raw.split("#", 1)[0].split()
            if not line:
                continue
            ttl, rounds, kind = line[0], line[1], line[2]
            rest = line[3:]
            late = bool(rest) and rest[-1] == "late"
            if late:
                rest = rest[:-1]
            addr = rest[0] if rest else None
            rtts = [int(x) for x in rest[1].split(",")] if len(rest) > 1 else [0]
            if ttl.endswith("+"):
                lo, hi = int(ttl[:-1]), 255
            else:
                lo = hi = int(ttl)
            rset = None if rounds == "*" else {int(x) for x in rounds.split(",")}
            rules.append((lo, hi, rset, kind, addr, rtts, late))
    return rules


def answer(rules, token, ttl, rnd, family):
    for lo, hi, rset, kind, addr, rtts, late in rules:
        if not lo <= ttl <= hi or (rset is not None and rnd not in rset):
            continue
        if addr is None:
            return f"{token} {kind}", late
        rtt = rtts[rnd % len(rtts)]
        return f"{token} {kind} {family} {addr} round-trip-time {rtt}", late
    return f"{token} no-reply", False


def main():
    if os.environ.get("FAKE_DIE"):
        sys.stderr.write(os.environ["FAKE_DIE"] + "\n")
        sys.exit(1)
    rules = load_rules(os.environ["FAKE_TRANSCRIPT"])
    missing = set(filter(None, os.environ.get("FAKE_MISSING", "").split(",")))
    log = open(os.environ["FAKE_LOG"], "a", encoding="ascii") if os.environ.get("FAKE_LOG") else None
    seen = {}
    exit_after = int(os.environ.get("FAKE_EXIT_AFTER", "0"))
    probes = 0
    held = []
    out = sys.stdout
    inp = sys.stdin.buffer
    buf = b""
    while True:
        ready, _, _ = select.select([inp], [], [], IDLE_FLUSH_S if held else None)
        if not ready:
            for h in held:
                out.write(h + "\n")
            held = []
            out.flush()
            continue
        chunk = os.read(inp.fileno(), 65536)
        if not chunk:
            break
        buf += chunk
        while b"\n" in buf:
            raw, buf = buf.split(b"\n", 1)
            line = raw.decode("ascii", "replace")
            if log:
                log.write(line + "\n")
                log.flush()
            words = line.split()
            if len(words) < 2:
                out.write("0 command-parse-error\n")
                continue
            token, cmd, args = words[0], words[1], dict(zip(words[2::2], words[3::2]))
            if cmd == "check-support":
                feat = args.get("feature", "")
                sup = "0.1.0-fake" if feat == "version" else ("no" if feat in missing else "ok")
                out.write(f"{token} feature-support support {sup}\n")
            elif cmd == "send-probe":
                probes += 1
                if probes == exit_after:
                    out.flush()
                    sys.stderr.write("fake engine quits after %d probes\n" % probes)
                    sys.exit(1)
                ttl = int(args.get("ttl", "255"))
                family = "ip-6" if "ip-6" in args else "ip-4"
                rnd = seen.get(ttl, 0)
                seen[ttl] = rnd + 1
                text, late = answer(rules, token, ttl, rnd, family)
                if text.endswith(" silent"):
                    continue
                if late:
                    held.append(text)
                    continue
                out.write(text + "\n")
                for h in held:
                    out.write(h + "\n")
                held = []
            else:
                out.write(f"{token} unknown-command\n")
        out.flush()
    for h in held:
        out.write(h + "\n")
    out.flush()


if __name__ == "__main__":
    main()
