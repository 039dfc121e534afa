#!/usr/bin/env python3
"""Turns bench/ensemble.sh's JSON lines into ENSEMBLE.md: 3-node Ferrokeeper vs 3-node ZooKeeper.

    ensemble_report.py [--smoke] RESULTS.jsonl COMMAND

Medians, ranges, the run rules and the machine line come from report.py (compare.sh's report),
so a figure here means what it means there.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (bench/report.py)

Z, F = "zookeeper", "ferrokeeper"

# (row, workload, field, comparison, goal or None). Goals from issue 12's acceptance point 4.
THROUGHPUT = [
    ("create ops/s, 32x8", "create", "ops_per_s", ">=", 3.0),
    ("set ops/s, 32x8", "set", "ops_per_s", ">=", 3.0),
    ("get ops/s, 32x8", "get", "ops_per_s", ">=", None),
    ("mixed 80% get ops/s, 32x8", "mixed", "ops_per_s", ">=", None),
    ("create p50 us", "create", "p50_us", "<=", None),
    ("create p99 us", "create", "p99_us", "<=", None),
    ("set p50 us", "set", "p50_us", "<=", None),
    ("set p99 us", "set", "p99_us", "<=", None),
    ("get p50 us", "get", "p50_us", "<=", None),
    ("get p99 us", "get", "p99_us", "<=", None),
    ("mixed p99 us", "mixed", "p99_us", "<=", None),
]
ELECTION_GOAL = ("<=", 1.0)
ELECTION_MIN_TRIALS = {"full": 3, "smoke": 1}


def rel(op, r, goal):
    return r >= goal if op == ">=" else r <= goal


def main():
    smoke, rules, path, cmd, start, end, formed, measured = report.ensemble_input(sys.argv[1:])
    by = {}  # (workload, server) -> [runs]
    for r in measured:
        by.setdefault((r["workload"], r.get("server")), []).append(r)

    def runs(w, side):
        return by.get((w, side), [])

    nruns = sorted({len(v) for (w, _), v in by.items() if w not in ("election", "rss")})
    ntrials = sorted({len(v) for (w, _), v in by.items() if w == "election"})

    out = ["# 3-node Ferrokeeper ensemble vs 3-node Apache ZooKeeper 3.8 ensemble", ""]
    out.append(f"- Date: {time.strftime('%Y-%m-%d %H:%M %Z', time.localtime(os.path.getmtime(path)))}")
    out.append(f"- Machine: {report.machine()}")
    out.append(f"- Load average (1, 5, 15 min) at the start: {start.get('load', '?')}; at the end: "
               f"{end.get('load', '?')}; when each ensemble had formed: "
               + ", ".join(f"{f['server'][:2]}{f['run']} {f['load'].split()[0]}" for f in formed)
               + ". Other sessions' builds and ensembles shared the machine: figures are noisy.")
    out.append(f"- Command: `{cmd}`, {end.get('secs', '?')} s; Ferrokeeper binary "
               f"`{start.get('ferrokeeper_bin', '?')}` ({start.get('ferrokeeper_stamp', '?')}).")
    out.append("- Each ensemble: three servers on loopback, one data directory each on the same disk, "
               "fsync on, tickTime=2000 initLimit=10 syncLimit=5; ZooKeeper's QuorumPeerMain on G1 "
               "with -Xmx1000m unless the command says otherwise. One ensemble runs at a time; the bench "
               "client connects to all three nodes (its sessions pick a shuffled node each, so "
               "they spread; followers forward writes to the leader).")
    out.append(f"- Runs per workload and ensemble: {', '.join(map(str, nruns)) or '-'}, a fresh ensemble "
               "per run, the order alternating. Figures are medians of the runs, their range in "
               "parentheses; ratios are Ferrokeeper / ZooKeeper of the medians. Failover trials per "
               f"ensemble: {', '.join(map(str, ntrials)) or '-'}.")
    out.append(f"- A goal counts as met only when both sides have at least {rules['min_runs']} runs of at "
               f"least {rules['min_secs']:g} s and no run had an error (failover: at least "
               f"{ELECTION_MIN_TRIALS['smoke' if smoke else 'full']} trials, every one with a write).")
    out.append("")
    out.append("## Results")
    out.append("")
    out.append("| workload | ZooKeeper | Ferrokeeper | ratio | goal | met |")
    out.append("|---|---|---|---|---|---|")
    why_not = []
    for name, w, field, op, goal in THROUGHPUT:
        zr, fr = runs(w, Z), runs(w, F)
        if not zr and not fr:
            continue
        z, f, r, met, why = report.verdict(zr, fr, field, op, goal or 0.0, rules)
        if goal is None:
            met_s, goal_s = "", "-"
        else:
            goal_s = f"{op} {goal:g}"
            met_s = "yes" if met else ("**no** (not counted)" if why else "**no**")
            if why:
                why_not.append(f"- {name}: {why}")
        out.append(f"| {name} | {report.spread(report.figure(zr, field))} | "
                   f"{report.spread(report.figure(fr, field))} | {report.fmt(r, 2)} | {goal_s} | {met_s} |")

    # Failover.
    ez, ef = runs("election", Z), runs("election", F)
    if ez or ef:
        def fig(rs, field):
            return report.figure([r for r in rs if r.get("errors", 1) == 0 and r.get(field) is not None], field)
        z, f = fig(ez, "election_ms")[0], fig(ef, "election_ms")[0]
        r = f / z if f is not None and z else None
        faults = []
        need = ELECTION_MIN_TRIALS["smoke" if smoke else "full"]
        for side, rs in (("ZooKeeper", ez), ("Ferrokeeper", ef)):
            if len(rs) < need:
                faults.append(f"{side}: {len(rs)} trials < {need}")
            for i, t in enumerate(rs):
                if t.get("errors", 1):
                    faults.append(f"{side} trial {i + 1}: {t.get('last_error', 'failed')}")
        op, goal = ELECTION_GOAL
        met = not faults and r is not None and rel(op, r, goal)
        if faults:
            why_not.append("- failover: " + "; ".join(faults))
        out.append(f"| failover: kill -9 of the leader to the first successful write, ms | "
                   f"{report.spread(fig(ez, 'election_ms'))} | {report.spread(fig(ef, 'election_ms'))} | "
                   f"{report.fmt(r, 2)} | {op} {goal:g} | "
                   f"{'yes' if met else ('**no** (not counted)' if faults else '**no**')} |")
        out.append(f"| failover: probe resolution, ms (median) | {report.fmt(fig(ez, 'resolution_ms')[0], 1)} | "
                   f"{report.fmt(fig(ef, 'resolution_ms')[0], 1)} | | | |")

    # CPU per operation.
    for label, field in (("all 3 servers' CPU us/op", "servers_cpu_us_per_op"),
                         ("leader's CPU us/op", "leader_cpu_us_per_op"),
                         ("bench client's CPU us/op", "client_cpu_us_per_op")):
        for w in ("create", "set", "get", "mixed"):
            zr, fr = runs(w, Z), runs(w, F)
            if not zr and not fr:
                continue
            z, f = report.figure(zr, field)[0], report.figure(fr, field)[0]
            r = f / z if f is not None and z else None
            out.append(f"| {w}: {label} | {report.spread(report.figure(zr, field), 1)} | "
                       f"{report.spread(report.figure(fr, field), 1)} | {report.fmt(r, 2)} | - | |")

    # Txn log syncs during the write workloads: the leader's, from mntr's fsynctime.
    for r_ in [x for w in ("create", "set") for x in runs(w, Z) + runs(w, F)]:
        ls, fs, fm = r_.get("leader_sid"), r_.get("fsyncs") or [], r_.get("fsync_ms") or []
        if ls and len(fs) == 3 and fs[ls - 1]:
            r_["leader_ops_per_fsync"] = r_["ops"] / fs[ls - 1]
            r_["leader_fsync_avg_ms"] = fm[ls - 1] / fs[ls - 1] if fm[ls - 1] is not None else None
            fol = [(fs[i], fm[i]) for i in range(3) if i != ls - 1 and fs[i]]
            if fol and all(m is not None for _, m in fol):
                r_["follower_fsync_avg_ms"] = sum(m for _, m in fol) / sum(c for c, _ in fol)
    for w in ("create", "set"):
        for label, field, d in (("writes per leader fsync", "leader_ops_per_fsync", 0),
                                ("leader's mean fsync ms", "leader_fsync_avg_ms", 1),
                                ("followers' mean fsync ms", "follower_fsync_avg_ms", 1)):
            zr, fr = runs(w, Z), runs(w, F)
            z, f = report.figure(zr, field)[0], report.figure(fr, field)[0]
            if z is None and f is None:
                continue
            r = f / z if f is not None and z else None
            out.append(f"| {w}: {label} | {report.spread(report.figure(zr, field), d)} | "
                       f"{report.spread(report.figure(fr, field), d)} | {report.fmt(r, 2)} | - | |")

    # RSS after the write workloads.
    rz, rf = runs("rss", Z), runs("rss", F)
    if rz or rf:
        for r_ in rz + rf:
            kb = r_.get("rss_kb") or [0, 0, 0]
            r_["rss_sum_kb"] = sum(kb)
            r_["rss_max_kb"] = max(kb)
            ls = r_.get("leader_sid")
            r_["rss_leader_kb"] = kb[ls - 1] if ls else None
        for label, field in (("RSS of the 3 servers summed, kB", "rss_sum_kb"),
                             ("RSS of the leader, kB", "rss_leader_kb"),
                             ("RSS of the largest server, kB", "rss_max_kb")):
            z, f = report.figure(rz, field)[0], report.figure(rf, field)[0]
            r = f / z if f is not None and z else None
            out.append(f"| after create+set: {label} | {report.spread(report.figure(rz, field))} | "
                       f"{report.spread(report.figure(rf, field))} | {report.fmt(r, 2)} | - | |")
    if why_not:
        out.append("")
        out.append("Not counted:")
        out.extend(why_not)

    out.append("")
    out.append("CPU: the three servers' user + system time (/proc/PID/stat) over the whole measured "
               "bench invocation (its session connects, setup and closes included), per operation; "
               "the leader's alone and the bench client's (getrusage) over the measured window. The "
               "servers' RSS is read after the set workload (create, then set, have run). Fsyncs: "
               "the txn log syncs and their time over the measured invocation, from each node's "
               "`mntr` (zk_cnt_fsynctime, zk_sum_fsynctime, whole milliseconds).")
    out.append("")
    out.append("## Every run")
    out.append("")
    out.append("| workload | server | run | leader | ops | errors | ops/s | p50 us | p99 us | p999 us | max us | "
               "3 servers us/op | leader us/op | client us/op |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (w, side), rs in by.items():
        if w in ("election", "rss"):
            continue
        for r in rs:
            out.append(f"| {w} | {side} | {r.get('run')} | s{r.get('leader_sid')} | {r.get('ops')} | "
                       f"{r.get('errors')} | {report.fmt(r.get('ops_per_s'))} | {report.fmt(r.get('p50_us'))} | "
                       f"{report.fmt(r.get('p99_us'))} | {report.fmt(r.get('p999_us'))} | "
                       f"{report.fmt(r.get('max_us'))} | {report.fmt(r.get('servers_cpu_us_per_op'), 1)} | "
                       f"{report.fmt(r.get('leader_cpu_us_per_op'), 1)} | "
                       f"{report.fmt(r.get('client_cpu_us_per_op'), 1)} |"
                       + (f" {r['first_error']}" if r.get("first_error") else ""))
    if ez or ef:
        out.append("")
        out.append("| failover | trial | killed | new leader | ms | resolution ms | attempts | failed attempts | load |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        for side, rs in ((Z, ez), (F, ef)):
            for t in rs:
                kinds = ", ".join(f"{k} x{v}" for k, v in (t.get("error_kinds") or {}).items())
                ms = report.fmt(t.get("election_ms"), 1) if not t.get("errors") else \
                    f"FAILED: {t.get('last_error')}"
                out.append(f"| {side} | {t.get('run')} | s{t.get('killed_sid')} | s{t.get('new_leader_sid')} | "
                           f"{ms} | {report.fmt(t.get('resolution_ms'), 1)} | {t.get('attempts', '-')} | "
                           f"{kinds or '-'} | {t.get('load', '')} |")
    if rz or rf:
        out.append("")
        out.append("| RSS kB after create+set | run | s1 | s2 | s3 | leader |")
        out.append("|---|---|---|---|---|---|")
        for side, rs in ((Z, rz), (F, rf)):
            for r in rs:
                kb = r.get("rss_kb") or []
                out.append(f"| {side} | {r.get('run')} | " + " | ".join(str(x) for x in kb)
                           + f" | s{r.get('leader_sid')} |")
    notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ENSEMBLE-NOTES.md")
    if os.path.exists(notes):
        out.append("")
        out.append(open(notes).read().rstrip())
    print("\n".join(out))


if __name__ == "__main__":
    main()
