#!/usr/bin/env python3
"""Ops suite: four-letter words and AdminServer commands compared, keys/lines and format,
with expectations captured from Apache ZooKeeper 3.8.0 (values normalized).

    check.py [--capture] [--whitelist] HOST:PORT [ADMIN_PORT]
    check.py [--capture] --role leader|follower [--metrics PORT] HOST:PORT [ADMIN_PORT]

With --capture the normalized replies are written to expected/ instead of compared.
With --whitelist the server's whitelist is only `ruok`: checks which words are refused and
the refusal text. With --role the server is the leader or a follower of a 3-server
ensemble (ensemble.sh): the role-dependent words and AdminServer commands are compared
with expected/ROLE-4lw and expected/ROLE-admin (keys, value classes, and the role's own
values exactly), and with --metrics its Prometheus endpoint is checked for ZooKeeper's
quorum metric names, types and values. Prints PASS/FAIL lines, then "checks: N passed, M failed".

Before the words are compared, digest_load.py drives writes past three multiples of 128
zxids, and `hash` (and the AdminServer's `hash`) must list exactly the digests the client
computes from the tree it reads back at each of them (hash_* checks).
"""
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

import digest_load

HERE = os.path.dirname(os.path.abspath(__file__))
EXPECTED = os.path.join(HERE, "expected")
BASE = "/opscompat"

WORDS = ["conf", "cons", "dirs", "dump", "envi", "gtmk", "hash", "isro", "mntr", "ruok",
         "srvr", "stat", "stmk", "wchc", "wchp", "wchs",
         # resets last: they change what the others report
         "crst", "srst"]

ADMIN = ["configuration", "conf", "config", "connections", "cons", "dirs", "dump",
         "environment", "envi", "get_trace_mask", "gtmk", "hash", "initial_configuration",
         "icfg", "is_read_only", "isro", "last_snapshot", "lsnp", "leader", "lead",
         "monitor", "mntr", "observers", "obsr", "ruok", "server_stats", "srvr",
         "set_trace_mask", "stats", "stat", "system_properties", "sysp", "voting_view",
         "watch_summary", "wchs", "watches", "wchc", "watches_by_path", "wchp", "zabstate",
         "no_such_command",
         # resets last
         "connection_stat_reset", "crst", "observer_connection_stat_reset", "orst",
         "stat_reset", "srst"]

# Maps whose keys are data (session ids, paths, times), not field names.
DATA_KEYED = {"expiry_time_to_session_ids", "session_id_to_ephemeral_paths",
              "session_id_to_watched_paths", "path_to_session_ids", "current_config"}
# JVM properties, and the logging binding's (set by the harness, not by ZooKeeper).
JVM_PROP = re.compile(r"^(java|sun|jdk|jetty|org\.slf4j)\.")

RESULTS = []


def result(name, ok, why=""):
    RESULTS.append((name, ok))
    print(("PASS %s" % name) if ok else ("FAIL %s: %s" % (name, why)), flush=True)


def four_lw(host, port, word):
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(word.encode())
        s.settimeout(3)
        out = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        except socket.timeout:
            pass
    return out.decode("utf-8", "replace")


VERSION = re.compile(r"\d+\.\d+\.\d+-\S+, built on \d{4}-\d\d-\d\d \d\d:\d\d \w+")
DATE = re.compile(r"\b\w{3} \w{3} \d\d \d\d:\d\d:\d\d \w+ \d{4}\b")
ADDR = re.compile(r"/?\b\d+\.\d+\.\d+\.\d+:\d+")
HEX = re.compile(r"0x[0-9a-f]+")
FLOAT = re.compile(r"-?\b\d+\.\d+(E-?\d+)?\b")
INT = re.compile(r"-?\b\d+\b")


def norm_value(v):
    v = VERSION.sub("<VERSION>", v)
    v = DATE.sub("<DATE>", v)
    v = v.replace(BASE, "<BASE>")
    v = ADDR.sub("<ADDR>", v)
    v = HEX.sub("0x<H>", v)
    v = re.sub(r"lop=[A-Z]+", "lop=<OP>", v)
    v = FLOAT.sub("<F>", v)
    v = INT.sub("<N>", v)
    return v


def normalize(word, text):
    lines = text.split("\n")
    if word == "envi":
        # keys only: the values are the JVM's
        return "\n".join(l.split("=", 1)[0] for l in lines)
    if word == "conf":
        out = []
        for l in lines:
            k, _, v = l.partition("=")
            out.append(k + ("=<PATH>" if v.startswith("/") else ("=" + norm_value(v) if v else "")))
        return "\n".join(out)
    if word == "mntr":
        out = []
        for l in lines:
            if not l or "_per_namespace" in l:
                continue
            k, _, v = l.partition("\t")
            out.append(k + "\t" + norm_value(v))
        return "\n".join(sorted(out))
    lines = [norm_value(l) for l in lines]
    if word == "cons":
        body = sorted(l for l in lines if l)
        return "\n".join(body) + "\n"
    if word == "dump":
        # How many expiry buckets the sessions and connections fall into depends on
        # timing (tick boundaries), so the bucket headers go and repeats collapse.
        out = []
        for l in lines:
            if l.endswith(" expire at <DATE>:"):
                continue
            if out and out[-1] == l:
                continue
            out.append(l)
        return "\n".join(out)
    if word == "stat":
        # the Clients block is in hash order
        try:
            i = lines.index("Clients:")
            j = lines.index("", i)
            lines[i + 1:j] = sorted(lines[i + 1:j])
        except ValueError:
            pass
    return "\n".join(lines)


def keyspec(v, path=""):
    """The set of 'path:type' of a JSON value, data-keyed maps and lists collapsed."""
    t = type(v).__name__
    out = {"%s:%s" % (path, t)}
    if isinstance(v, dict):
        collapse = path.split(".")[-1] in DATA_KEYED
        for k, x in v.items():
            if collapse:
                k = "*"
            elif path == "" and JVM_PROP.match(k):
                continue
            elif "_per_namespace" in k:
                continue
            out |= keyspec(x, path + "." + k)
    elif isinstance(v, list):
        for x in v:
            out |= keyspec(x, path + "[]")
    return out


def admin_get(port, name, query=""):
    url = "http://127.0.0.1:%d/commands/%s%s" % (port, name, query)
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read().decode()


def check_or_capture(capture, rel, actual, name):
    path = os.path.join(EXPECTED, rel)
    if capture:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(actual)
        result(name, True)
        return
    try:
        with open(path) as f:
            expected = f.read()
    except OSError as e:
        result(name, False, "no expectation: %s" % e)
        return
    if expected == actual:
        result(name, True)
    else:
        el, al = expected.split("\n"), actual.split("\n")
        diff = [("- " + e, "+ " + a) for e, a in zip(el, al) if e != a]
        extra = ""
        if len(el) != len(al):
            extra = " (%d lines expected, %d got)" % (len(el), len(al))
            missing = sorted(set(el) - set(al))[:5]
            added = sorted(set(al) - set(el))[:5]
            diff = [("- " + m, "") for m in missing] + [("", "+ " + a) for a in added]
        print("  expected vs actual%s:" % extra)
        for d in diff[:8]:
            print("   ", d[0], "|", d[1])
        result(name, False, "differs from ZooKeeper 3.8's format")


HASH_LINE = re.compile(r"^([0-9a-f]+): (-?[0-9]+)$")


def check_hash(addr, admin_port):
    """The digest log after the digest load, while its session still holds its ephemerals."""
    host, port = addr.rsplit(":", 1)
    try:
        client, first, expected = digest_load.run(addr)
    except (OSError, EOFError, RuntimeError) as e:
        result("hash_load", False, "digest load: %s" % e)
        return
    try:
        print("  digest load from zxid 0x%x: %s" % (
            first, ", ".join("0x%x: %d" % e for e in expected)))
        text = four_lw(host, int(port), "hash")
        lines = text.split("\n")
        ok = lines[-1] == ""
        entries = []
        for l in lines[:-1]:
            m = HASH_LINE.match(l)
            ok = ok and m is not None
            if m:
                entries.append((int(m.group(1), 16), int(m.group(2))))
        if not ok:
            result("hash_format", False, "not `hex-zxid: digest` lines: %r" % text[:300])
        else:
            result("hash_format", True)
        # Consecutive multiples of 128 (from 0x80 if the load began before it, as on a fresh
        # server), ending with the load's own, at most 1024 of them.
        zxids = [z for z, _ in entries]
        load = [z for z, _ in expected]
        why = []
        if any(z % 128 for z in zxids) or any(b - a != 128 for a, b in zip(zxids, zxids[1:])):
            why.append("not consecutive multiples of 0x80")
        if zxids[-len(load):] != load:
            why.append("does not end with the load's %s" % [hex(z) for z in load])
        if first < 128 and zxids[:1] != [128]:
            why.append("does not start at 0x80")
        if len(zxids) > 1024:
            why.append("more than 1024 entries")
        result("hash_zxids", not why, "%s: %s" % ([hex(z) for z in zxids], ", ".join(why)))
        got = dict(entries)
        bad = ["0x%x: %s, the tree's digest is %d" % (z, got.get(z, "missing"), d)
               for z, d in expected if got.get(z) != d]
        result("hash_digests", not bad, "; ".join(bad))
        if admin_port:
            try:
                _, _, body = admin_get(admin_port, "hash")
                doc = json.loads(body)
                admin = [(d["zxid"], d["digest"], d["digest_version"]) for d in doc["digests"]]
            except (OSError, ValueError, KeyError, TypeError) as e:
                result("hash_admin", False, str(e))
            else:
                want = [(z, d, 2) for z, d in entries]
                result("hash_admin", admin == want,
                       "AdminServer lists %s, the four-letter word %s" % (admin, want))
    finally:
        client.close()


# ---------------------------------------------------------------- ensemble roles
# The words and AdminServer commands whose answers depend on the role, compared on the
# leader and on a follower of a 3-server ensemble (ensemble.sh) with expectations captured
# from ZooKeeper 3.8 in the same role (expected/leader-*, expected/follower-*).
ROLE_WORDS = ["conf", "isro", "mntr", "ruok", "srvr", "stat"]
ROLE_ADMIN = ["leader", "lead", "voting_view", "zabstate", "is_read_only", "isro",
              "server_stats", "srvr", "stats", "stat", "monitor", "mntr", "observers",
              "configuration"]
# mntr keys whose values are compared as they are: they tell the role.
ROLE_EXACT_MNTR = {"zk_server_state", "zk_peer_state", "zk_quorum_size", "zk_learners",
                   "zk_synced_followers", "zk_synced_non_voting_followers",
                   "zk_synced_observers", "zk_pending_syncs"}
# mntr keys compared by sign (<0>, <+>): after ensemble.sh's writes through the follower,
# the role's ServerMetrics must have moved.
ROLE_MOVED_MNTR = {"zk_cnt_election_time", "zk_proposal_count", "zk_commit_count",
                   "zk_cnt_quorum_ack_latency", "zk_last_proposal_size",
                   "zk_min_proposal_size", "zk_max_proposal_size",
                   "zk_learner_proposal_received_count", "zk_learner_commit_received_count",
                   "zk_cnt_proposal_latency", "zk_cnt_follower_sync_time"}
# AdminServer integers compared as they are (the rest are value classes, <N>).
ROLE_EXACT_JSON = {".quorum_size", ".learners", ".synced_followers",
                   ".synced_non_voting_followers", ".synced_observers", ".pending_syncs"}
# A leader's LearnerHandler summary sets are keyed by the learner's sid.
LEARNER_SID = re.compile(r"_\d+_learner_handler_")


def role_key(k):
    return LEARNER_SID.sub("_<SID>_learner_handler_", k)


def normalize_role(word, text):
    if word == "mntr":
        out = set()
        for l in text.split("\n"):
            if not l or "_per_namespace" in l:
                continue
            k, _, v = l.partition("\t")
            if k in ROLE_EXACT_MNTR:
                pass
            elif k in ROLE_MOVED_MNTR and re.match(r"^-?\d+$", v):
                v = "<0>" if int(v) == 0 else ("<+>" if int(v) > 0 else "<->")
            else:
                v = norm_value(v)
            out.add(role_key(k) + "\t" + v)
        return "\n".join(sorted(out))
    return normalize(word, text)


def leaves(v, path=""):
    """`path=value` of every leaf: strings normalized, integers as <N> (except the role's
    counts), booleans and nulls as they are; data-keyed maps collapsed to `*`."""
    out = set()
    if isinstance(v, dict):
        collapse = path.split(".")[-1] in DATA_KEYED
        for k, x in v.items():
            if "_per_namespace" in k:
                continue
            out |= leaves(x, path + "." + ("*" if collapse else role_key(k)))
    elif isinstance(v, list):
        for x in v:
            out |= leaves(x, path + "[]")
    elif isinstance(v, bool) or v is None:
        out.add("%s=%s" % (path, json.dumps(v)))
    elif isinstance(v, (int, float)):
        if path in ROLE_EXACT_JSON and isinstance(v, int):
            out.add("%s=%d" % (path, v))
        else:
            out.add("%s=%s" % (path, "<F>" if isinstance(v, float) else "<N>"))
    elif v.startswith("/"):
        out.add("%s=<PATH>" % path)
    else:
        out.add("%s=%s" % (path, norm_value(v)))
    return out


def role_spec(doc):
    spec = set()
    for l in keyspec(doc):
        spec.add(role_key(l))
    return sorted(spec) + sorted(leaves(doc))


# Prometheus metrics a quorum server registers in ZooKeeper 3.8 (QuorumZooKeeperServer,
# LeaderZooKeeperServer.registerMetrics, ServerMetrics' quorum summaries), with their
# types under PrometheusMetricsProvider. Debian ships no PrometheusMetricsProvider jar,
# so these come from ZooKeeper's source, not from a capture.
PROM_COMMON = [("quorum_size", "gauge"), ("election_time", "summary"),
               ("learner_proposal_received_count", "counter"),
               ("learner_commit_received_count", "counter"),
               ("follower_sync_time", "summary"), ("proposal_latency", "summary"),
               ("quorum_ack_latency", "summary"), ("commit_propagation_latency", "summary"),
               ("proposal_ack_creation_latency", "summary"),
               ("learner_request_processor_queue_size", "summary"),
               ("leader_unavailable_time", "summary"), ("looking_count", "counter")]
PROM_LEADER = [("learners", "gauge"), ("synced_followers", "gauge"),
               ("synced_non_voting_followers", "gauge"), ("synced_observers", "gauge"),
               ("pending_syncs", "gauge"), ("leader_uptime", "gauge"),
               ("last_proposal_size", "gauge"), ("min_proposal_size", "gauge"),
               ("max_proposal_size", "gauge")]
PROM_VALUES = {"leader": {"quorum_size": 3, "learners": 2, "synced_followers": 2,
                          "synced_non_voting_followers": 0, "synced_observers": 0},
               "follower": {"quorum_size": 3}}


def check_prometheus(role, port):
    url = "http://127.0.0.1:%d/metrics" % port
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            text = r.read().decode()
    except OSError as e:
        result("%s_prometheus" % role, False, "%s: %s" % (url, e))
        return
    types, values = {}, {}
    for l in text.split("\n"):
        if l.startswith("# TYPE "):
            _, _, name, t = l.split(" ", 3)
            types[name] = t
        elif l and not l.startswith("#"):
            name, _, v = l.rpartition(" ")
            try:
                values[name] = float(v)
            except ValueError:
                pass
    want = PROM_COMMON + (PROM_LEADER if role == "leader" else [])
    bad = ["%s: %s, not %s" % (n, types.get(n, "missing"), t) for n, t in want
           if types.get(n) != t]
    if role == "follower":
        bad += ["%s: a follower exports it" % n for n, _ in PROM_LEADER
                if values.get(n, 0) != 0]
    result("%s_prometheus_names" % role, not bad, "; ".join(bad))
    bad = ["%s=%s, not %s" % (n, values.get(n), v) for n, v in PROM_VALUES[role].items()
           if values.get(n) != v]
    if values.get("election_time_count", 0) < 1:
        bad.append("election_time_count=%s, no election recorded"
                   % values.get("election_time_count"))
    result("%s_prometheus_values" % role, not bad, "; ".join(bad))


def main_role(role, capture, addr, admin_port, metrics_port):
    host, port = addr.rsplit(":", 1)
    port = int(port)
    for w in ROLE_WORDS:
        try:
            text = four_lw(host, port, w)
        except OSError as e:
            result("%s_4lw_%s" % (role, w), False, str(e))
            continue
        check_or_capture(capture, "%s-4lw/%s.txt" % (role, w), normalize_role(w, text),
                         "%s_4lw_%s" % (role, w))
    if admin_port:
        for name in ROLE_ADMIN:
            try:
                st, ctype, body = admin_get(admin_port, name)
                doc = json.loads(body)
            except (OSError, ValueError) as e:
                result("%s_admin_%s" % (role, name), False, str(e))
                continue
            spec = role_spec(doc)
            spec.append("status:%d content-type:%s" % (st, ctype.split(";")[0]))
            check_or_capture(capture, "%s-admin/%s.keys" % (role, name),
                             "\n".join(spec) + "\n", "%s_admin_%s" % (role, name))
    if metrics_port:
        check_prometheus(role, metrics_port)


def main():
    args = sys.argv[1:]
    capture = whitelist = False
    role = None
    metrics_port = 0
    while args and args[0].startswith("--"):
        capture |= args[0] == "--capture"
        whitelist |= args[0] == "--whitelist"
        if args[0] == "--role":
            role = args[1]
            args = args[1:]
        if args[0] == "--metrics":
            metrics_port = int(args[1]) if args[1] else 0
            args = args[1:]
        args = args[1:]
    if role:
        admin_port = int(args[1]) if len(args) > 1 and args[1] else 0
        main_role(role, capture, args[0], admin_port, metrics_port)
        return
    host, port = args[0].rsplit(":", 1)
    port = int(port)
    if whitelist:
        # a server whose whitelist is only "ruok": srvr is always allowed, the rest refused
        lines = []
        for w in WORDS:
            text = four_lw(host, port, w)
            lines.append("%s: %s" % (w, text if "not in the whitelist" in text else "<ANSWERED>"))
        check_or_capture(capture, "whitelist.txt", "\n".join(lines) + "\n", "4lw_whitelist")
        return
    admin_port = int(args[1]) if len(args) > 1 and args[1] else 0

    holder = subprocess.Popen([sys.executable, os.path.join(HERE, "session.py"), args[0], BASE],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        ready = holder.stdout.readline()
        if not ready.startswith("ready"):
            result("session_setup", False, "could not open the holding session")
        check_hash(args[0], admin_port)
        time.sleep(0.3)
        for w in WORDS:
            try:
                text = four_lw(host, port, w)
            except OSError as e:
                result("4lw_" + w, False, str(e))
                continue
            check_or_capture(capture, "4lw/%s.txt" % w, normalize(w, text), "4lw_" + w)
        if admin_port:
            try:
                st, ctype, body = admin_get(admin_port, "")
            except OSError as e:
                result("admin_list", False, "AdminServer on port %d: %s" % (admin_port, e))
                return
            names = sorted(re.findall(r'href="/commands/([a-z_]+)"', body))
            check_or_capture(capture, "admin/_list.txt", "\n".join(names) + "\n", "admin_list")
            for name in ADMIN:
                query = "?traceMask=306" if name in ("set_trace_mask", "stmk") else ""
                try:
                    st, ctype, body = admin_get(admin_port, name, query)
                    doc = json.loads(body)
                except (OSError, ValueError) as e:
                    result("admin_" + name, False, str(e))
                    continue
                spec = sorted(keyspec(doc))
                spec.append("status:%d content-type:%s" % (st, ctype.split(";")[0]))
                check_or_capture(capture, "admin/%s.keys" % name, "\n".join(spec) + "\n",
                                 "admin_" + name)
            # set_trace_mask without its argument answers an error
            try:
                st, ctype, body = admin_get(admin_port, "set_trace_mask")
                spec = "\n".join(sorted(keyspec(json.loads(body)))) + "\n"
            except (OSError, ValueError) as e:
                result("admin_set_trace_mask_noarg", False, str(e))
            else:
                check_or_capture(capture, "admin/set_trace_mask_noarg.keys", spec,
                                 "admin_set_trace_mask_noarg")
    finally:
        try:
            holder.stdin.close()
            holder.wait(timeout=10)
        except Exception:
            holder.kill()


if __name__ == "__main__":
    main()
    passed = sum(1 for _, ok in RESULTS if ok)
    failed = len(RESULTS) - passed
    print("checks: %d passed, %d failed" % (passed, failed))
    sys.exit(0 if failed == 0 else 1)
