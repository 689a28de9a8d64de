#!/usr/bin/env python3
"""Helpers of monitor_scale.sh (plain Python 3, no project code):

  tree PID               CPU clock ticks (utime+stime, and cutime+cstime of reaped
                         children) summed over PID and its descendants, then one line per
                         process: pid, name, ticks, VmHWM in KiB
  prom FILE              sums of the Prometheus series the benchmark reads, key=value
  mtr OUTDIR COUNT ADDR...  one `mtr -r -n -c COUNT -i 1` per address, all at once, as a
                         child subreaper (so mtr-packet's CPU is collected even if mtr does
                         not reap it); prints the children's total CPU, the number of
                         processes, the largest and summed peak RSS, and Snt from reports
"""
import ctypes
import os
import re
import resource
import signal
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
MTR_GRACE_S = 60  # beyond COUNT rounds, before the runner kills what is left


def stat_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    name = s[s.index("(") + 1:s.rindex(")")]
    w = s[s.rindex(")") + 2:].split()
    # w[0] is field 3 (state): utime..cstime are fields 14..17, ppid field 4
    return name, int(w[1]), sum(int(x) for x in w[11:15])


def hwm_of(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cmd_tree(root):
    procs = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                procs[int(d)] = stat_of(int(d))
            except (OSError, ValueError):
                pass
    keep, todo = [], [root]
    while todo:
        p = todo.pop()
        if p in procs:
            keep.append(p)
            todo.extend(q for q, v in procs.items() if v[1] == p)
    print(sum(procs[p][2] for p in keep))
    for p in keep:
        print(p, procs[p][0], procs[p][2], hwm_of(p))


def cmd_prom(path):
    want = ("hopwatch_monitor_probes_sent_total", "hopwatch_monitor_probes_answered_total",
            "hopwatch_monitor_probes_exhausted_total", "hopwatch_monitor_send_errors_total",
            "hopwatch_monitor_scheduling_lag_seconds", "hopwatch_monitor_engine_reconnects_total",
            "hopwatch_hop_probes_sent_total", "hopwatch_hop_probes_received_total",
            "hopwatch_target_reachable", "hopwatch_target_info", "hopwatch_target_windows_total",
            "smokeping_requests_total", "smokeping_response_duration_seconds_count")
    sums = dict.fromkeys(want, 0.0)
    sums["rounds"] = 0.0  # probes sent to hop 1: one per round
    series = 0
    line_re = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
    with open(path) as f:
        for line in f:
            m = line_re.match(line)
            if not m:
                continue
            series += 1
            if m.group(1) in sums:
                sums[m.group(1)] += float(m.group(3))
            if m.group(1) == "hopwatch_hop_probes_sent_total" and 'hop="1"' in (m.group(2) or ""):
                sums["rounds"] += float(m.group(3))
    sums["series"] = series
    for k in want + ("rounds", "series"):
        v = sums[k]
        print("%s=%s" % (k, "%d" % v if v == int(v) else "%.6f" % v))


def cmd_mtr(outdir, count, addrs):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    env = {k: v for k, v in os.environ.items() if k not in ("MTR_PACKET", "MTR_OPTIONS")}
    mtrs = {}
    t0 = time.monotonic()
    for i, a in enumerate(addrs):
        out = open(os.path.join(outdir, "mtr-%d.txt" % i), "w")
        p = subprocess.Popen(["mtr", "-r", "-n", "-c", str(count), "-i", "1", a],
                             stdout=out, stderr=subprocess.STDOUT, env=env)
        mtrs[p.pid] = p
        out.close()
    deadline = t0 + count + MTR_GRACE_S
    nproc, max_rss, sum_rss, failed, killed = 0, 0, 0, 0, 0
    while True:
        try:
            pid, status, ru = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            if time.monotonic() > deadline and not killed:
                for p in mtrs.values():
                    p.send_signal(signal.SIGKILL)
                killed = 1
            time.sleep(0.05)
            continue
        nproc += 1
        max_rss = max(max_rss, ru.ru_maxrss)
        sum_rss += ru.ru_maxrss
        if pid in mtrs:
            mtrs[pid].returncode = status
            if status:
                failed += 1
    wall = time.monotonic() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    snt = rcv = hops = 0
    hop_re = re.compile(r"^\s*\d+\.\|--\s+(\S+)\s+([\d.]+)%\s+(\d+)")
    for i in range(len(addrs)):
        with open(os.path.join(outdir, "mtr-%d.txt" % i)) as f:
            for line in f:
                m = hop_re.match(line)
                if m:
                    n = int(m.group(3))
                    snt += n
                    rcv += round(n * (1 - float(m.group(2)) / 100))
                    hops += 1
    print("cpu_s=%.3f wall_s=%.3f procs=%d failed=%d killed=%d max_rss_kib=%d "
          "sum_rss_kib=%d snt=%d rcv=%d hops=%d" % (ru.ru_utime + ru.ru_stime, wall, nproc,
                                                      failed, killed, max_rss, sum_rss, snt,
                                                      rcv, hops))


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "tree":
        cmd_tree(int(sys.argv[2]))
    elif len(sys.argv) == 3 and sys.argv[1] == "prom":
        cmd_prom(sys.argv[2])
    elif len(sys.argv) >= 5 and sys.argv[1] == "mtr":
        cmd_mtr(sys.argv[2], int(sys.argv[3]), sys.argv[4:])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
