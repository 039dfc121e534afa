#!/usr/bin/env python3
"""Concurrent kazoo clients under faults, and the checker of their history.

    workload.py run   --hosts H1,H2,H3 --duration SECS --out history.jsonl [--clients 5]
                      [--probe-dir DIR]
    workload.py check --hosts H1,H2,H3 --history history.jsonl --report report.json

`run` makes /lin/k0../lin/k4 (if missing), then drives CLIENTS threads, each with its
own KazooClient connected to all the hosts, for DURATION seconds: `set` with a unique
value, compare-and-set (`set` with the version a `get` just returned) and `get`.
Every operation is one JSON line: process, session, op, key, value, version (expected,
for cas), invoke_ts/complete_ts (time.monotonic(), one process so one clock), outcome
ok / fail (the server answered with an error: not applied) / unknown (timeout,
connection loss, session expiry: may or may not have been applied), and on ok the
returned version and mzxid.

With --probe-dir, a prober also takes part in the stop-leader-sync scenario: when run.sh
writes DIR/connectN (a host: the leader about to be paused), it connects PROBE_CLIENTS
sessions to that host alone with a long session timeout (so they keep their connection
across the pause) and writes DIR/readyN; when run.sh writes DIR/fireN (during the pause,
after the new leader acknowledged writes), each session sends `sync` then a `get` of every
key, pipelined. The gets are recorded with the sync's invocation time and outcome: a get
after an ok sync must see every write acknowledged before the sync was issued.

`check` waits until every server, read directly after a `sync`, has the same data and
Stat for /lin and every key, then checks the history (see README.md) and prints a
summary; it exits 1 on any anomaly, 2 when the servers did not converge.
"""

import argparse
import itertools
import json
import logging
import os
import random
import sys
import threading
import time
from collections import defaultdict

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import (
    BadArgumentsError,
    BadVersionError,
    NoAuthError,
    NodeExistsError,
    NoNodeError,
    SessionMovedError,
)

ROOT = "/lin"
KEYS = [f"{ROOT}/k{i}" for i in range(5)]
INIT = "init"
SESSION_TIMEOUT = 4.0  # seconds; servers allow 2..20 ticks of 500 ms
OP_TIMEOUT = 8.0  # an op not answered by then is `unknown`
# The server said no: the operation was not applied.
DEFINITE = (
    BadVersionError,
    NoNodeError,
    NodeExistsError,
    BadArgumentsError,
    NoAuthError,
    SessionMovedError,
)


def client(hosts, timeout=SESSION_TIMEOUT, randomize=True):
    return KazooClient(
        hosts=hosts,
        timeout=timeout,
        randomize_hosts=randomize,
        connection_retry=dict(max_tries=-1, delay=0.05, backoff=1.3, max_delay=1.0),
        command_retry=None,
    )


def stat_dict(st):
    return {
        "version": st.version,
        "mzxid": st.mzxid,
        "czxid": st.czxid,
        "ctime": st.ctime,
        "mtime": st.mtime,
        "cversion": st.cversion,
        "aversion": st.aversion,
        "ephemeralOwner": st.ephemeralOwner,
        "dataLength": st.dataLength,
        "numChildren": st.numChildren,
        "pzxid": st.pzxid,
    }


# ---------------------------------------------------------------------------- run


class History:
    def __init__(self, path):
        self.f = open(path, "w")
        self.lock = threading.Lock()

    def write(self, rec):
        line = json.dumps(rec, sort_keys=True)
        with self.lock:
            self.f.write(line + "\n")
            self.f.flush()


def setup_keys(hosts, hist, deadline):
    """Make /lin and its keys; record each key's starting value and version."""
    zk = client(hosts)
    while True:
        try:
            zk.start(timeout=15)
            break
        except Exception as e:  # noqa: BLE001
            if time.monotonic() > deadline:
                raise
            print(f"setup: connect failed ({e!r}), retrying", file=sys.stderr)
    while True:
        try:
            zk.ensure_path(ROOT)
            for k in KEYS:
                try:
                    zk.create(k, INIT.encode())
                except NodeExistsError:
                    pass
            for k in KEYS:
                data, st = zk.get(k)
                hist.write(
                    {
                        "process": -1,
                        "op": "init",
                        "key": k,
                        "value": data.decode(),
                        "outcome": "ok",
                        "ret_version": st.version,
                        "mzxid": st.mzxid,
                        "invoke_ts": time.monotonic(),
                        "complete_ts": time.monotonic(),
                    }
                )
            break
        except Exception as e:  # noqa: BLE001
            if time.monotonic() > deadline:
                raise
            print(f"setup: {e!r}, retrying", file=sys.stderr)
            time.sleep(0.5)
    zk.stop()
    zk.close()


def worker(proc, hosts, end, hist, seed, counts):
    rnd = random.Random(seed)
    zk = client(hosts)
    start_deadline = time.monotonic() + 60
    while True:
        try:
            zk.start(timeout=10)
            break
        except Exception as e:  # noqa: BLE001
            if time.monotonic() > start_deadline:
                print(f"client {proc}: could not connect: {e!r}", file=sys.stderr)
                return
    seq = itertools.count()

    def op(kind, key, fn, value=None, version=None):
        rec = {
            "process": proc,
            "op": kind,
            "key": key,
            "session": zk._session_id,
            "invoke_ts": time.monotonic(),
        }
        if value is not None:
            rec["value"] = value
        if version is not None:
            rec["version"] = version
        result = None
        try:
            result = fn().get(timeout=OP_TIMEOUT)
            rec["outcome"] = "ok"
        except DEFINITE as e:
            rec["outcome"] = "fail"
            rec["error"] = type(e).__name__
        except Exception as e:  # noqa: BLE001  timeout, ConnectionLoss, SessionExpired...
            rec["outcome"] = "unknown"
            rec["error"] = type(e).__name__
        rec["complete_ts"] = time.monotonic()
        rec["session_after"] = zk._session_id
        if rec["outcome"] == "ok":
            if kind == "get":
                data, st = result
                rec["value"] = data.decode()
            else:
                st = result
            rec["ret_version"] = st.version
            rec["mzxid"] = st.mzxid
        hist.write(rec)
        counts[(kind, rec["outcome"])] += 1
        return rec

    while time.monotonic() < end:
        key = rnd.choice(KEYS)
        r = rnd.random()
        if r < 0.45:
            v = f"p{proc}-{next(seq)}"
            op("set", key, lambda: zk.set_async(key, v.encode()), value=v)
        elif r < 0.70:
            g = op("get", key, lambda: zk.get_async(key))
            if g["outcome"] == "ok" and time.monotonic() < end:
                v = f"p{proc}-{next(seq)}"
                ver = g["ret_version"]
                op("cas", key, lambda: zk.set_async(key, v.encode(), ver), value=v, version=ver)
        else:
            op("get", key, lambda: zk.get_async(key))
        if zk.state != KazooState.CONNECTED:
            time.sleep(0.1)
        else:
            time.sleep(rnd.uniform(0.005, 0.03))
    try:
        zk.stop()
        zk.close()
    except Exception:  # noqa: BLE001
        pass


PROBE_CLIENTS = 4
PROBE_SESSION_TIMEOUT = 60.0  # kazoo pings at a third of it: the link outlives the pause
PROBE_OP_TIMEOUT = 20.0  # the requests wait in the paused server's socket


def wait_file(path, end):
    while time.monotonic() < end:
        if os.path.exists(path):
            return True
        time.sleep(0.05)
    return False


def probe_round(rnd, host, pdir, hist, end):
    """Sessions on the (soon paused) leader alone; on `fire`, sync + gets, pipelined."""
    clients = []
    for i in range(PROBE_CLIENTS):
        zk = KazooClient(
            hosts=host,
            timeout=PROBE_SESSION_TIMEOUT,
            randomize_hosts=False,
            connection_retry=dict(max_tries=-1, delay=0.1, backoff=1.3, max_delay=1.0),
            command_retry=None,
        )
        try:
            zk.start(timeout=10)
            clients.append(zk)
        except Exception as e:  # noqa: BLE001
            print(f"probe round {rnd}: cannot connect to {host}: {e!r}", file=sys.stderr, flush=True)
    open(os.path.join(pdir, f"ready{rnd}"), "w").close()
    if not wait_file(os.path.join(pdir, f"fire{rnd}"), end):
        return
    sent = []
    for i, zk in enumerate(clients):
        inv = time.monotonic()
        sid = zk._session_id
        try:
            sa = zk.sync_async(ROOT)
            gets = [(k, zk.get_async(k)) for k in KEYS]
        except Exception as e:  # noqa: BLE001
            print(f"probe round {rnd}: send failed: {e!r}", file=sys.stderr, flush=True)
            continue
        sent.append((i, zk, sid, inv, sa, gets))
    for i, zk, sid, inv, sa, gets in sent:
        deadline = inv + PROBE_OP_TIMEOUT
        try:
            sa.get(timeout=max(0.1, deadline - time.monotonic()))
            sync_outcome = "ok"
        except Exception as e:  # noqa: BLE001
            sync_outcome = "unknown:" + type(e).__name__
        for k, ga in gets:
            rec = {
                "process": 100 + 10 * rnd + i,
                "op": "get",
                "key": k,
                "session": sid,
                "invoke_ts": inv,
                "sync_invoke_ts": inv,
                "sync_outcome": sync_outcome,
                "probe_round": rnd,
            }
            try:
                data, st = ga.get(timeout=max(0.1, deadline - time.monotonic()))
                rec.update(outcome="ok", value=data.decode(), ret_version=st.version, mzxid=st.mzxid)
            except DEFINITE as e:
                rec.update(outcome="fail", error=type(e).__name__)
            except Exception as e:  # noqa: BLE001
                rec.update(outcome="unknown", error=type(e).__name__)
            rec["complete_ts"] = time.monotonic()
            rec["session_after"] = zk._session_id
            hist.write(rec)
        print(f"probe round {rnd} client {i}: sync {sync_outcome}", flush=True)
    for zk in clients:
        threading.Thread(target=lambda z=zk: (z.stop(), z.close()), daemon=True).start()


def prober(pdir, hist, end):
    done = 0
    while time.monotonic() < end:
        # run.sh skips a round that finds no leader: take the next round asked for.
        asked = sorted(
            int(f[len("connect"):]) for f in os.listdir(pdir)
            if f.startswith("connect") and f[len("connect"):].isdigit()
        )
        rnd = next((r for r in asked if r > done), None)
        if rnd is None:
            time.sleep(0.05)
            continue
        host = open(os.path.join(pdir, f"connect{rnd}")).read().strip()
        probe_round(rnd, host, pdir, hist, end)
        done = rnd


def cmd_run(args):
    logging.basicConfig(level=logging.ERROR)
    hist = History(args.out)
    setup_keys(args.hosts, hist, time.monotonic() + 90)
    print("keys ready", flush=True)
    end = time.monotonic() + args.duration
    counts = defaultdict(int)
    threads = [
        threading.Thread(
            target=worker,
            args=(p, args.hosts, end, hist, args.seed * 1000 + p, counts),
            daemon=True,
        )
        for p in range(args.clients)
    ]
    if args.probe_dir:
        threads.append(threading.Thread(target=prober, args=(args.probe_dir, hist, end), daemon=True))
    for t in threads:
        t.start()
    for t in threads:
        t.join(args.duration + OP_TIMEOUT * 3 + 60)
    summary = " ".join(f"{k}:{o}={n}" for (k, o), n in sorted(counts.items()))
    print(f"workload done: {summary}", flush=True)


# -------------------------------------------------------------------------- check


def read_server(host):
    """(children of /lin, {key: (value, stat)}) read from `host` alone after a sync."""
    zk = client(host, timeout=6.0, randomize=False)
    zk.start(timeout=8)
    try:
        zk.sync(ROOT)
        children = sorted(zk.get_children(ROOT))
        _, rst = zk.get(ROOT)
        out = {ROOT: ("", stat_dict(rst))}
        for c in children:
            p = f"{ROOT}/{c}"
            data, st = zk.get(p)
            out[p] = (data.decode(), stat_dict(st))
        return children, out
    finally:
        try:
            zk.stop()
            zk.close()
        except Exception:  # noqa: BLE001
            pass


def converge(hosts, timeout):
    """Read every server until they agree; return (final state, per-server states, ok)."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        states = {}
        for h in hosts.split(","):
            try:
                states[h] = read_server(h)
            except Exception as e:  # noqa: BLE001
                states[h] = ("error", repr(e))
        vals = list(states.values())
        if all(v[0] != "error" for v in vals) and all(v == vals[0] for v in vals):
            return vals[0][1], states, True
        last = states
        if time.monotonic() > deadline:
            return None, last, False
        time.sleep(2)


def check_history(recs, final):
    anomalies = []

    def anomaly(kind, msg):
        anomalies.append({"kind": kind, "msg": msg})

    by_key = defaultdict(list)
    for r in recs:
        by_key[r["key"]].append(r)

    for key in KEYS:
        rs = by_key.get(key, [])
        writes = [r for r in rs if r["op"] in ("set", "cas")]
        ok_w = [r for r in writes if r["outcome"] == "ok"]
        unk_w = [r for r in writes if r["outcome"] == "unknown"]
        init = [r for r in rs if r["op"] == "init"]
        # version -> value: what every ok observation pins; value -> version likewise.
        pin = {}
        pinned_by = {}
        val_ver = {}
        writers = {r["value"]: r for r in writes}
        if init:
            pin[init[0]["ret_version"]] = init[0]["value"]
            pinned_by[init[0]["ret_version"]] = "init"
            val_ver[init[0]["value"]] = init[0]["ret_version"]

        def observe(ver, val, what):
            if ver in pin and pin[ver] != val:
                anomaly(
                    "divergent-version",
                    f"{key} version {ver}: {pinned_by[ver]} says {pin[ver]!r}, {what} says {val!r}",
                )
            else:
                pin[ver] = val
                pinned_by[ver] = what
            if val in val_ver and val_ver[val] != ver and not (val == INIT):
                anomaly(
                    "value-at-two-versions",
                    f"{key} value {val!r} seen at versions {val_ver[val]} and {ver} ({what})",
                )
            val_ver.setdefault(val, ver)

        # 1. ok writes: unique versions (no split brain), cas semantics.
        seen_ver = {}
        for w in ok_w:
            v = w["ret_version"]
            if v in seen_ver:
                anomaly(
                    "duplicate-version",
                    f"{key}: ok writes {seen_ver[v]['value']!r} and {w['value']!r} both got version {v}",
                )
            seen_ver[v] = w
            if w["op"] == "cas" and v != w["version"] + 1:
                anomaly(
                    "cas-version",
                    f"{key}: cas of {w['value']!r} expected version {w['version']} but returned {v}",
                )
            observe(v, w["value"], f"ok {w['op']} by p{w['process']}")

        # 2. linearizable writes: real-time order agrees with version order.
        # For B, every ok write A with a higher version must not have completed before B
        # was invoked.  Sort by version, suffix-minimum of completion times.
        srt = sorted(ok_w, key=lambda w: w["ret_version"])
        suffix_min = [None] * (len(srt) + 1)
        suffix_min[len(srt)] = (float("inf"), None)
        for i in range(len(srt) - 1, -1, -1):
            c = (srt[i]["complete_ts"], srt[i])
            suffix_min[i] = min(suffix_min[i + 1], c, key=lambda x: x[0])
        lin_bad = 0
        for i, b in enumerate(srt):
            # first index with a strictly higher version
            j = i + 1
            while j < len(srt) and srt[j]["ret_version"] == b["ret_version"]:
                j += 1
            ts, a = suffix_min[j]
            if a is not None and ts < b["invoke_ts"]:
                lin_bad += 1
                if lin_bad <= 5:
                    anomaly(
                        "not-linearizable",
                        f"{key}: {a['op']} {a['value']!r} (version {a['ret_version']}) completed "
                        f"{b['invoke_ts'] - ts:.3f}s before {b['op']} {b['value']!r} was invoked, "
                        f"which got the lower version {b['ret_version']}",
                    )
        if lin_bad > 5:
            anomaly("not-linearizable", f"{key}: {lin_bad - 5} more")

        # 3. reads: only values somebody wrote, at a consistent version.
        for g in rs:
            if g["op"] != "get" or g["outcome"] != "ok":
                continue
            val, ver = g["value"], g["ret_version"]
            w = writers.get(val)
            if val != INIT and w is None:
                anomaly("phantom-read", f"{key}: p{g['process']} read {val!r} (version {ver}) nobody wrote")
                continue
            if w is not None and w["outcome"] == "fail":
                anomaly(
                    "failed-write-visible",
                    f"{key}: p{g['process']} read {val!r} whose write failed with {w.get('error')}",
                )
            observe(ver, val, f"get by p{g['process']}")

        # 3b. sync then read: a get after an ok sync sees every write acknowledged before
        # the sync was issued (ZooKeeper's sync does not promise this: ZOOKEEPER-1675).
        stale = 0
        for g in rs:
            if g["op"] != "get" or g["outcome"] != "ok" or g.get("sync_outcome") != "ok":
                continue
            before = [w for w in ok_w if w["complete_ts"] < g["sync_invoke_ts"]]
            if not before:
                continue
            w = max(before, key=lambda w: w["ret_version"])
            if g["ret_version"] < w["ret_version"]:
                stale += 1
                if stale <= 5:
                    anomaly(
                        "stale-sync-read",
                        f"{key}: p{g['process']} read version {g['ret_version']} after a sync, but "
                        f"{w['op']} {w['value']!r} (version {w['ret_version']}) was acknowledged "
                        f"{g['sync_invoke_ts'] - w['complete_ts']:.3f}s before the sync was issued",
                    )
        if stale > 5:
            anomaly("stale-sync-read", f"{key}: {stale - 5} more")

        # 4. the final state: no lost acknowledged write, no phantom write.
        if final is None:
            continue
        if key not in final:
            anomaly("lost-key", f"{key} missing from the final state")
            continue
        fval, fst = final[key]
        fver = fst["version"]
        observe(fver, fval, "final state")
        if fval != INIT and fval not in writers:
            anomaly("phantom-final", f"{key}: final value {fval!r} nobody wrote")
        elif fval in writers and writers[fval]["outcome"] == "fail":
            anomaly("failed-write-visible", f"{key}: final value {fval!r} came from a failed write")
        max_ok = max((w["ret_version"] for w in ok_w), default=0)
        if fver < max_ok:
            anomaly(
                "lost-write",
                f"{key}: final version {fver} < version {max_ok} of an acknowledged write",
            )
        base = init[0]["ret_version"] if init else 0
        applied = fver - base
        if applied < len(ok_w):
            anomaly(
                "lost-write",
                f"{key}: {len(ok_w)} acknowledged writes but the version only moved by {applied}",
            )
        if applied > len(ok_w) + len(unk_w):
            anomaly(
                "phantom-write",
                f"{key}: version moved by {applied} but only {len(ok_w)} ok + {len(unk_w)} "
                "unknown writes were issued",
            )

    # 5. per session: monotonic versions per key (reads never go back, read-your-writes).
    last = {}
    for r in sorted(
        (r for r in recs if r["process"] >= 0 and r["outcome"] == "ok"),
        key=lambda r: r["complete_ts"],
    ):
        if r.get("session") is None or r.get("session") != r.get("session_after"):
            continue
        k = (r["process"], r["session"], r["key"])
        if k in last and r["ret_version"] < last[k]["ret_version"]:
            p = last[k]
            anomaly(
                "session-went-back",
                f"{r['key']}: p{r['process']} session {r['session']:#x} saw version "
                f"{p['ret_version']} ({p['op']}) then {r['ret_version']} ({r['op']})",
            )
        last[k] = r

    return anomalies


def cmd_check(args):
    logging.basicConfig(level=logging.CRITICAL)
    recs = [json.loads(line) for line in open(args.history) if line.strip()]
    counts = defaultdict(int)
    for r in recs:
        if r["op"] != "init":
            counts[(r["op"], r["outcome"])] += 1
    final, states, ok = converge(args.hosts, args.converge_timeout)
    anomalies = []
    if not ok:
        detail = {}
        for h, s in (states or {}).items():
            detail[h] = s if s[0] == "error" else {k: [v[0], v[1]["version"], v[1]["mzxid"]] for k, v in s[1].items()}
        anomalies.append(
            {"kind": "no-convergence", "msg": "servers did not agree: " + json.dumps(detail, sort_keys=True)}
        )
    anomalies += check_history(recs, final)
    # Liveness, not an anomaly: the longest stretch with no acknowledged write.
    oks = sorted(r["complete_ts"] for r in recs if r["op"] in ("set", "cas") and r["outcome"] == "ok")
    t0 = min((r["invoke_ts"] for r in recs if r["process"] >= 0), default=0)
    t1 = max((r["complete_ts"] for r in recs if r["process"] >= 0), default=0)
    pts = [t0] + oks + [t1]
    gaps = [(b - a, a - t0) for a, b in zip(pts, pts[1:])]
    gap, gap_at = max(gaps, default=(0, 0))
    ops = {}
    for op in ("set", "cas", "get"):
        ops[op] = {o: counts[(op, o)] for o in ("ok", "fail", "unknown")}
    probes = [r for r in recs if "sync_invoke_ts" in r]
    if probes:
        synced = [r["outcome"] == "ok" and r["sync_outcome"] == "ok" for r in probes]
        ops["sync-get"] = {
            "ok": sum(synced),
            "fail": sum(1 for r in probes if r["outcome"] == "fail"),
            "unknown": sum(1 for r, s in zip(probes, synced) if not s and r["outcome"] != "fail"),
        }
    report = {
        "ops": ops,
        "anomalies": anomalies,
        "converged": ok,
        "max_write_gap_s": round(gap, 2),
        "max_write_gap_at_s": round(gap_at, 2),
        "final": {k: [v[0], v[1]["version"], v[1]["mzxid"]] for k, v in (final or {}).items()},
    }
    with open(args.report, "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)
    line = "  ".join(f"{op} ok/fail/unknown={c['ok']}/{c['fail']}/{c['unknown']}" for op, c in ops.items())
    print(f"ops: {line}")
    print(f"longest time without an acknowledged write: {gap:.1f} s (from t={gap_at:.1f} s)")
    print(f"converged: {ok}; anomalies: {len(anomalies)}")
    for a in anomalies[:30]:
        print(f"  ANOMALY {a['kind']}: {a['msg']}")
    if not ok:
        return 2
    return 1 if anomalies else 0


def selftest():
    """The checker finds each kind of anomaly in a small made-up history, and none in
    the clean one."""
    k = KEYS[0]

    def w(op, value, ver, t0, t1, outcome="ok", proc=0, expected=None):
        r = {"process": proc, "op": op, "key": k, "value": value, "invoke_ts": t0,
             "complete_ts": t1, "outcome": outcome, "session": 1, "session_after": 1}
        if outcome == "ok":
            r["ret_version"] = ver
        if expected is not None:
            r["version"] = expected
        return r

    def base():
        recs = [{"process": -1, "op": "init", "key": kk, "value": INIT, "outcome": "ok",
                 "ret_version": 0, "invoke_ts": 0, "complete_ts": 0} for kk in KEYS]
        recs += [w("set", "a", 1, 1, 2), w("cas", "b", 2, 3, 4, expected=1),
                 w("set", "u", None, 5, 6, outcome="unknown"),
                 w("get", "b", 2, 7, 8, proc=1)]
        final = {kk: (INIT, {"version": 0}) for kk in KEYS}
        final[k] = ("b", {"version": 2})
        return recs, final

    def mutate(fn):
        recs, final = base()
        fn(recs, final)
        return {a["kind"] for a in check_history(recs, final)}

    def setv(i, ver):
        def f(recs, final):
            recs[len(KEYS) + i]["ret_version"] = ver
        return f

    cases = {
        "clean": (lambda r, f: None, set()),
        "unknown applied": (lambda r, f: f.update({k: ("u", {"version": 3})}), set()),
        "lost write": (lambda r, f: f.update({k: ("a", {"version": 1})}), {"lost-write"}),
        "duplicate version": (setv(1, 1), {"duplicate-version", "cas-version"}),
        "real-time order": (lambda r, f: (setv(0, 2)(r, f), setv(1, 1)(r, f), f.update({k: ("a", {"version": 2})})),
                            {"not-linearizable"}),
        "phantom read": (lambda r, f: r[-1].update(value="zzz"), {"phantom-read"}),
        "read of another version": (lambda r, f: r[-1].update(ret_version=1), {"divergent-version", "value-at-two-versions"}),
        "phantom write": (lambda r, f: f.update({k: ("b", {"version": 4})}), {"phantom-write", "value-at-two-versions"}),
        "failed write visible": (lambda r, f: (r.append(w("cas", "c", None, 9, 10, outcome="fail", expected=1)),
                                               f.update({k: ("c", {"version": 3})})), {"failed-write-visible"}),
        "session went back": (lambda r, f: r.append(w("get", "a", 1, 9, 10, proc=1)), {"session-went-back"}),
        "stale read after sync": (lambda r, f: r.append(dict(w("get", "a", 1, 9, 10, proc=2), session=2,
                                                             session_after=2, sync_invoke_ts=5,
                                                             sync_outcome="ok")), {"stale-sync-read"}),
        "read after sync, write acknowledged later": (
            lambda r, f: r.append(dict(w("get", "a", 1, 9, 10, proc=2), session=2, session_after=2,
                                       sync_invoke_ts=3.5, sync_outcome="ok")), set()),
    }
    bad = 0
    for name, (fn, want) in cases.items():
        got = mutate(fn)
        ok = want <= got if want else not got
        bad += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: found {sorted(got)}" + ("" if ok else f", wanted {sorted(want)}"))
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--hosts", required=True)
    r.add_argument("--duration", type=float, required=True)
    r.add_argument("--clients", type=int, default=5)
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--out", required=True)
    r.add_argument("--probe-dir", default=None)
    c = sub.add_parser("check")
    c.add_argument("--hosts", required=True)
    c.add_argument("--history", required=True)
    c.add_argument("--report", required=True)
    c.add_argument("--converge-timeout", type=float, default=90)
    sub.add_parser("selftest")
    args = ap.parse_args()
    if args.cmd == "selftest":
        return selftest()
    if args.cmd == "run":
        cmd_run(args)
        return 0
    return cmd_check(args)


if __name__ == "__main__":
    sys.exit(main())
