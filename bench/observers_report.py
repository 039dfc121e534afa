#!/usr/bin/env python3
"""Turns bench/observers.sh's JSON lines into OBSERVERS.md: 3 participants vs 3 participants +
2 observers, ZooKeeper 3.8 and Ferrokeeper.

    observers_report.py [--smoke] RESULTS.jsonl COMMAND

Medians, ranges, the run rules and the machine line come from report.py (compare.sh's report).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (bench/report.py)

Z, F = "zookeeper", "ferrokeeper"
NAMES = {Z: "ZooKeeper", F: "Ferrokeeper"}
TOPOS = (0, 2)  # observers


def topo_name(o):
    return "3" if o == 0 else f"3+{o}"


def ratio(a, b):
    return a / b if a is not None and b else None


def derive(r):
    """Figures computed from a run's per-node fields: the observers' share of the requests
    (received packets) and of the servers' CPU."""
    n_obs = r.get("observers", 0)
    if not n_obs:
        return
    pk, cpu = r.get("packets") or [], r.get("node_cpu_s") or []
    if pk and all(p is not None for p in pk) and sum(pk):
        r["obs_packets_pct"] = 100.0 * sum(pk[-n_obs:]) / sum(pk)
    if cpu and sum(cpu):
        r["obs_cpu_pct"] = 100.0 * sum(cpu[-n_obs:]) / sum(cpu)


def rss_fields(r):
    kb = r.get("rss_kb") or []
    n_obs = r.get("observers", 0)
    parts = kb[:len(kb) - n_obs]
    r["rss_sum_kb"] = sum(kb) if kb else None
    r["rss_participant_kb"] = report.median(parts)
    r["rss_observer_kb"] = report.median(kb[len(kb) - n_obs:]) if n_obs else None
    ls = r.get("leader_sid")
    r["rss_leader_kb"] = kb[ls - 1] if ls and ls <= len(kb) else None


def load1(r):
    try:
        r["load1"] = float(str(r.get("load", "")).split()[0])
    except (ValueError, IndexError):
        pass


ROWS = [
    # (row, workload, field, digits, compare across servers)
    ("get ops/s", "get", "ops_per_s", 0, True),
    ("mixed 80% get ops/s", "mixed", "ops_per_s", 0, True),
    ("get p50 us", "get", "p50_us", 0, True),
    ("get p99 us", "get", "p99_us", 0, True),
    ("mixed p99 us", "mixed", "p99_us", 0, True),
    ("get: all servers' CPU us/op (sum)", "get", "servers_cpu_us_per_op", 1, True),
    ("mixed: all servers' CPU us/op (sum)", "mixed", "servers_cpu_us_per_op", 1, True),
    ("get: leader's CPU us/op", "get", "leader_cpu_us_per_op", 1, True),
    ("get: bench client's CPU us/op", "get", "client_cpu_us_per_op", 1, True),
    ("get: observers' share of the requests, %", "get", "obs_packets_pct", 0, False),
    ("get: observers' share of the servers' CPU, %", "get", "obs_cpu_pct", 0, False),
    ("mixed: observers' share of the servers' CPU, %", "mixed", "obs_cpu_pct", 0, False),
    ("RSS per participant after the workloads, kB (median)", "rss", "rss_participant_kb", 0, True),
    ("RSS per observer after the workloads, kB (median)", "rss", "rss_observer_kb", 0, True),
    ("RSS of all servers summed, kB", "rss", "rss_sum_kb", 0, True),
    ("1-min load average before the measured get", "get", "load1", 1, False),
]


def main():
    smoke, rules, path, cmd, start, end, formed, measured = report.ensemble_input(sys.argv[1:])
    by = {}  # (workload, server, observers) -> [runs]
    for r in measured:
        derive(r)
        load1(r)
        if r["workload"] == "rss":
            rss_fields(r)
        by.setdefault((r["workload"], r.get("server"), r.get("observers", 0)), []).append(r)

    def runs(w, side, o):
        return by.get((w, side, o), [])

    def fig(w, side, o, field):
        return report.figure(runs(w, side, o), field)

    nruns = sorted({len(v) for (w, _, _), v in by.items() if w != "rss"})
    out = ["# Observer read scaling: 3 participants vs 3 participants + 2 observers, "
           "Apache ZooKeeper 3.8 and Ferrokeeper", ""]
    out.append(f"- Date: {time.strftime('%Y-%m-%d %H:%M %Z', time.localtime(os.path.getmtime(path)))}")
    out.append(f"- Machine: {report.machine()}. **Every server of an ensemble and the bench client share "
               f"these {start.get('nproc', '?')} cores**: an observer adds a process, not CPU, so "
               "this measures what observers cost and how the load spreads, not the scaling they give "
               "on machines of their own.")
    out.append(f"- Load average (1, 5, 15 min) at the start: {start.get('load', '?')}; at the end: "
               f"{end.get('load', '?')}; when each ensemble had formed: "
               + ", ".join(f"{f['server'][0].upper()}{topo_name(f.get('observers', 0))}/{f['run']} "
                           f"{f['load'].split()[0]}" for f in formed) + ".")
    synced = {}
    for f in formed:
        synced.setdefault((f["server"], f.get("observers", 0)), set()).add(tuple(f.get("synced") or ()))
    if synced:
        out.append("- The leader's mntr once each ensemble had formed, synced followers and synced observers "
                   "(`zk_synced_followers`, `zk_synced_observers`): "
                   + "; ".join(f"{NAMES.get(side, side)} {topo_name(o)}: "
                               + " or ".join(("/".join(str(x) for x in t) if t else "not recorded")
                                             for t in sorted(v, key=str))
                               for (side, o), v in sorted(synced.items())) + ".")
    out.append(f"- Command: `{cmd}`, {end.get('secs', '?')} s; Ferrokeeper binary "
               f"`{start.get('ferrokeeper_bin', '?')}` ({start.get('ferrokeeper_stamp', '?')}).")
    out.append("- Topologies on loopback: **3** = server.1-3 participants; **3+2** = the same plus server.4 "
               "and server.5 as observers (`:observer` on their server lines, `peerType=observer` in "
               "their zoo.cfg). One data directory per node on the same disk, fsync on, tickTime=2000 "
               "initLimit=10 syncLimit=5; ZooKeeper's QuorumPeerMain on G1 with -Xmx1000m unless the "
               "command says otherwise. One ensemble runs at a time.")
    out.append("- The bench client connects to every server of the topology (32 sessions, 8 requests in "
               "flight each, a shuffled server per session): get reads one znode per session from the "
               "node it is connected to; mixed is 80% get, 20% set (writes go to the leader, and reach "
               "the observers as INFORM).")
    out.append(f"- Runs per workload and ensemble: {', '.join(map(str, nruns)) or '-'}, a fresh ensemble per "
               "run, the order alternating (Z3, F3, Z3+2, F3+2, then backwards). Figures are medians of "
               "the runs, their range in parentheses; ratios are of the medians.")
    faults = []
    for (w, side, o), rs in by.items():
        for i, r in enumerate(rs):
            why = report.run_fault(r, rules) if w != "rss" else None
            if why:
                faults.append(f"- {w} {NAMES.get(side, side)} {topo_name(o)} run {i + 1}: {why}")
    out.append("")
    out.append("## Results")
    out.append("")
    out.append("| | ZooKeeper 3 | ZooKeeper 3+2 | ZK 3+2 / 3 | Ferrokeeper 3 | Ferrokeeper 3+2 | Fk 3+2 / 3 "
               "| Fk / ZK, 3 | Fk / ZK, 3+2 |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for name, w, field, d, cross in ROWS:
        cells, med = [], {}
        for side in (Z, F):
            for o in TOPOS:
                t = fig(w, side, o, field)
                med[(side, o)] = t[0]
                cells.append(report.spread(t, d))
            cells.append(report.fmt(ratio(med[(side, 2)], med[(side, 0)]), 2))
        if all(c in ("-",) for c in cells):
            continue
        for o in TOPOS:
            cells.append(report.fmt(ratio(med[(F, o)], med[(Z, o)]), 2) if cross else "")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    if faults:
        out.append("")
        out.append("Runs that do not count (errors, or too short for a full run's rules):")
        out.extend(faults)
    out.append("")
    out.append("CPU: each server's user + system time (/proc/PID/stat) over the whole measured bench "
               "invocation (its session connects, setup and closes included), summed over the servers "
               "and divided by the operations; the leader's alone and the bench client's (getrusage) "
               "over the measured window. Observers' share of the requests: their part of the packets "
               "all servers received over the invocation (mntr `zk_packets_received`). RSS: "
               "/proc/PID/status VmRSS after both workloads.")

    out.append("")
    out.append("## Every run")
    out.append("")
    out.append("| workload | server | topology | run | leader | ops | errors | ops/s | p50 us | p99 us | "
               "servers us/op | leader us/op | client us/op | CPU s per node | packets per node | load |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (w, side, o), rs in sorted(by.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        if w == "rss":
            continue
        for r in sorted(rs, key=lambda x: x.get("run", 0)):
            pk = r.get("packets") or []
            out.append(f"| {w} | {side} | {topo_name(o)} | {r.get('run')} | s{r.get('leader_sid')} | "
                       f"{r.get('ops')} | {r.get('errors')} | {report.fmt(r.get('ops_per_s'))} | "
                       f"{report.fmt(r.get('p50_us'))} | {report.fmt(r.get('p99_us'))} | "
                       f"{report.fmt(r.get('servers_cpu_us_per_op'), 1)} | "
                       f"{report.fmt(r.get('leader_cpu_us_per_op'), 1)} | "
                       f"{report.fmt(r.get('client_cpu_us_per_op'), 1)} | "
                       f"{' '.join(report.fmt(c, 2) for c in r.get('node_cpu_s') or [])} | "
                       f"{' '.join('-' if p is None else str(p) for p in pk)} | {r.get('load', '')} |"
                       + (f" {r['first_error']}" if r.get("first_error") else ""))
    out.append("")
    out.append("| RSS kB after the workloads | topology | run | s1 | s2 | s3 | s4 (observer) | s5 (observer) "
               "| leader |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for side in (Z, F):
        for o in TOPOS:
            for r in sorted(runs("rss", side, o), key=lambda x: x.get("run", 0)):
                kb = [str(x) for x in r.get("rss_kb") or []]
                kb += [""] * (5 - len(kb))
                out.append(f"| {side} | {topo_name(o)} | {r.get('run')} | " + " | ".join(kb)
                           + f" | s{r.get('leader_sid')} |")
    notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "OBSERVERS-NOTES.md")
    if os.path.exists(notes) and not smoke:
        out.append("")
        out.append(open(notes).read().rstrip())
    print("\n".join(out))


if __name__ == "__main__":
    main()
