#!/usr/bin/env python3
"""asn_compare.py KIND MTR_OUT HOPWATCH_OUT: whether hopwatch's output has real mtr's
layout, with what varies between two runs masked (latencies, loss, times).

  report  -r/-w: every line but Start: equal up to the first statistics column (the
          header's "Loss%" less one), then equal with digits masked.
  json    the same keys in the same order (hopwatch's own "hopwatch" keys left out),
          the same count, host and ASN values.
  csv     the same header; rows equal in every column but Start_Time and the figures.
  xml     equal with every element's figures masked.
Prints the first difference and exits 1, else exits 0.
"""
import json
import re
import sys


def mask(s):
    return re.sub(r"[0-9]", "9", s)


def cmp_report(a, b):
    la, lb = a.splitlines(), b.splitlines()
    if len(la) != len(lb):
        return f"{len(la)} lines vs {len(lb)}"
    off = la[1].find("Loss%") - 1 if len(la) > 1 else -1
    if off < 0:
        return "no Loss% column in mtr's header"
    for i, (x, y) in enumerate(zip(la, lb)):
        if x.startswith("Start: ") and y.startswith("Start: "):
            continue
        if x[:off] != y[:off]:
            return f"line {i + 1} host part: {x[:off]!r} vs {y[:off]!r}"
        if mask(x[off:]) != mask(y[off:]):
            return f"line {i + 1} figures: {x[off:]!r} vs {y[off:]!r}"
    return None


def cmp_json(a, b):
    ja, jb = json.loads(a), json.loads(b)
    ra, rb = ja["report"], jb["report"]
    if list(ra["mtr"]) != list(rb["mtr"]):
        return f"mtr keys {list(ra['mtr'])} vs {list(rb['mtr'])}"
    ha, hb = ra["hubs"], rb["hubs"]
    if len(ha) != len(hb):
        return f"{len(ha)} hubs vs {len(hb)}"
    for x, y in zip(ha, hb):
        ky = [k for k in y if k != "hopwatch"]
        if list(x) != ky:
            return f"hub keys {list(x)} vs {ky}"
        for k in ("count", "host", "ASN"):
            if x.get(k) != y.get(k):
                return f"hub {x.get('count')} {k}: {x.get(k)!r} vs {y.get(k)!r}"
    return None


def cmp_csv(a, b):
    la, lb = a.splitlines(), b.splitlines()
    if len(la) != len(lb):
        return f"{len(la)} lines vs {len(lb)}"
    if la[0] != lb[0]:
        return f"header {la[0]!r} vs {lb[0]!r}"
    for i, (x, y) in enumerate(zip(la[1:], lb[1:])):
        fx, fy = x.split(","), y.split(",")
        if len(fx) != len(fy):
            return f"row {i + 1}: {len(fx)} columns vs {len(fy)}"
        fx[1] = fy[1] = ""
        if [mask(v) for v in fx] != [mask(v) for v in fy] or fx[:7] != fy[:7]:
            return f"row {i + 1}: {x!r} vs {y!r}"
    return None


def cmp_xml(a, b):
    ma = re.sub(r">[0-9. %]+<", ">N<", a)
    mb = re.sub(r">[0-9. %]+<", ">N<", b)
    if ma != mb:
        for i, (x, y) in enumerate(zip(ma.splitlines(), mb.splitlines())):
            if x != y:
                return f"line {i + 1}: {x!r} vs {y!r}"
        return "different lengths"
    return None


def main():
    kind, fa, fb = sys.argv[1:4]
    a = open(fa, encoding="latin-1").read()
    b = open(fb, encoding="latin-1").read()
    diff = {"report": cmp_report, "json": cmp_json, "csv": cmp_csv, "xml": cmp_xml}[kind](a, b)
    if diff:
        print(diff)
        sys.exit(1)


if __name__ == "__main__":
    main()
