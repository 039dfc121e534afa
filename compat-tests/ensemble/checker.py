#!/usr/bin/env python3
"""compat-tests/ensemble/checker.py - the ensemble checks, run by run.sh.

    checker.py --label TOPOLOGY/TARGET --run-dir DIR --checks elect,replicate,...
    checker.py --label rolling/TARGET --run-dir DIR --rolling KIND

DIR holds one directory per node, `s1`, `s2`, `s3` (see node.sh), already started by
run.sh and answering srvr with a Mode. Nodes are stopped, killed, wiped and restarted
through node.sh. Prints, per check, `PASS LABEL CHECK (SECONDS s) [info]` or
`FAIL LABEL CHECK: reason (SECONDS s)`, and `INFO LABEL CHECK: ...` lines for
observations that are not asserted. Exit status 0 when it ran to the end (whatever the
results), non-zero when it died.
"""
import argparse
import json
import logging
import struct
import os
import re
import socket
import subprocess
import sys
import threading
import time

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import (KazooException, NoNodeError, NotReadOnlyCallError,
                              SessionMovedError)
from kazoo.protocol.states import KeeperState
from kazoo.retry import KazooRetry
from kazoo.security import make_digest_acl, OPEN_ACL_UNSAFE

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_SH = os.path.join(HERE, "node.sh")

# Bounds (seconds); generous for a loaded 2-core machine, still bounded.
FORM_TIMEOUT = float(os.environ.get("ENSEMBLE_FORM_TIMEOUT", "60"))
LEADER_TIMEOUT = 60.0
CLIENT_TIMEOUT = 15.0
# Writes pipelined at a time by the catch-up checks.
WRITE_WINDOW = 100
# catchup-difflog's txns while the follower is down: well past the committedLog's 501, and
# their PROPOSAL and COMMIT packets well past a learner link's queue of 4096.
DIFFLOG_WRITES = 3000


# What the read-only check must see on every run (ZooKeeper 3.8's ReadOnlyZooKeeperServer);
# the rest of what it sees must match the reference run.
READ_ONLY_EXPECT = {
    "mode while cut": "read-only",
    "client state": "CONNECTED_RO",
    "read before-partition data": True,
    "create": "NotReadOnlyCallError",
    "set": "NotReadOnlyCallError",
    "sync": "NotReadOnlyCallError",
    "exists after refused create": False,
    "connect readOnly=None": "closed, no answer",
    "connect readOnly=False": "closed, no answer",
    "connect readOnly=True": "session, readOnly=True, timeout 10000",
    "isro after heal": "rw",
    "client sees majority's write": True,
}


class CheckFailed(Exception):
    pass


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- nodes

class Node:
    def __init__(self, run_dir, sid):
        self.sid = sid
        self.dir = os.path.join(run_dir, f"s{sid}")
        with open(os.path.join(self.dir, "client_port")) as f:
            self.port = int(f.read().strip())
        self.addr = f"127.0.0.1:{self.port}"

    @property
    def kind(self):
        with open(os.path.join(self.dir, "kind")) as f:
            return f.read().strip()

    def set_kind(self, kind):
        with open(os.path.join(self.dir, "kind"), "w") as f:
            f.write(kind + "\n")

    def ctl(self, *args, timeout=60):
        r = subprocess.run([NODE_SH, args[0], self.dir, *args[1:]], timeout=timeout,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if r.stderr.strip():
            log(f"node.sh {args[0]} s{self.sid}: {r.stderr.strip()}")
        return r.returncode

    def start(self):
        if self.ctl("start") != 0:
            raise CheckFailed(f"sid {self.sid} ({self.kind}) did not start")

    def stop(self):
        self.ctl("stop", "20", timeout=60)

    def kill9(self):
        self.ctl("kill")

    def quorum_port(self):
        """This server's quorum port, from its zoo.cfg."""
        with open(os.path.join(self.dir, "zoo.cfg")) as f:
            for line in f:
                if line.startswith(f"server.{self.sid}="):
                    return int(line.split("=", 1)[1].split(":")[1])
        raise CheckFailed(f"no server.{self.sid} line")

    def wipe(self):
        if self.ctl("wipe") != 0:
            raise CheckFailed(f"could not wipe sid {self.sid}")

    def running(self):
        return self.ctl("running") == 0

    def log_size(self):
        try:
            return os.path.getsize(os.path.join(self.dir, "server.log"))
        except OSError:
            return 0

    def log_since(self, offset):
        try:
            with open(os.path.join(self.dir, "server.log"), "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def four_lw(self, word):
        """The answer to a four-letter word, "" when the server does not answer."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=3) as s:
                s.settimeout(3)
                s.sendall(word.encode())
                buf = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    buf += chunk
        except OSError:
            return ""
        return buf.decode("utf-8", "replace")

    def srvr(self):
        """The srvr answer as a dict (Mode, Zxid, ...), {} when it does not answer."""
        out = {}
        for line in self.four_lw("srvr").splitlines():
            if ": " in line:
                k, v = line.split(": ", 1)
                out[k.strip()] = v.strip()
        return out

    def mode(self):
        return self.srvr().get("Mode", "")

    def election_port(self):
        with open(os.path.join(self.dir, "zoo.cfg")) as f:
            for line in f:
                if line.startswith(f"server.{self.sid}="):
                    return int(line.split("=", 1)[1].split(":")[2])
        raise CheckFailed(f"no server.{self.sid} line")

    def set_props(self, props):
        """System properties for the node's next start (node.sh reads `props`)."""
        path = os.path.join(self.dir, "props")
        if props:
            with open(path, "w") as f:
                f.write("".join(p + "\n" for p in props))
        elif os.path.exists(path):
            os.remove(path)


def raw_connect(node, read_only):
    """A ConnectRequest for a new session, with the trailing readOnly flag `read_only`
    (None: left out, as an old client does). Returns the ConnectResponse's fields as a dict,
    or None when the server closed the connection without one."""
    body = struct.pack(">iqiqi", 0, 0, 10000, 0, 16) + bytes(16)
    if read_only is not None:
        body += b"\x01" if read_only else b"\x00"
    try:
        with socket.create_connection(("127.0.0.1", node.port), timeout=5) as s:
            s.settimeout(5)
            s.sendall(struct.pack(">i", len(body)) + body)
            buf = b""
            while len(buf) < 4 or len(buf) < 4 + struct.unpack(">i", buf[:4])[0]:
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
    except OSError:
        return None
    if len(buf) < 4 + 20:
        return None
    _, timeout, session, pwlen = struct.unpack(">iiqi", buf[4:24])
    rest = buf[24 + pwlen:4 + struct.unpack(">i", buf[:4])[0]]
    return {"timeout": timeout, "session": session,
            "read_only": bool(rest[0]) if rest else None}


def wait_until(pred, timeout, what, interval=0.3):
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = pred()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise CheckFailed(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def modes(nodes):
    return {n.sid: n.mode() for n in nodes}


def wait_formed(nodes, timeout=FORM_TIMEOUT):
    """Every node in `nodes` answers srvr with leader/follower, exactly one leader."""
    last = {}

    def ok():
        nonlocal last
        last = modes(nodes)
        vals = list(last.values())
        if all(v in ("leader", "follower") for v in vals) and vals.count("leader") == 1:
            return last
        return None

    try:
        return wait_until(ok, timeout, "the ensemble to form")
    except CheckFailed:
        raise CheckFailed(f"ensemble not formed within {timeout:.0f}s: modes {fmt_modes(last)}")


def fmt_modes(m):
    return ", ".join(f"sid{s}={v or 'no answer'}" for s, v in sorted(m.items()))


def leader_of(nodes):
    m = modes(nodes)
    leaders = [s for s, v in m.items() if v == "leader"]
    return leaders[0] if len(leaders) == 1 else None


# ---------------------------------------------------------------- clients

def client(hosts, **kw):
    if isinstance(hosts, Node):
        hosts = hosts.addr
    elif isinstance(hosts, (list, tuple)):
        hosts = ",".join(n.addr for n in hosts)
    kw.setdefault("timeout", 10.0)
    kw.setdefault("connection_retry", KazooRetry(max_tries=-1, max_delay=1.0))
    zk = KazooClient(hosts=hosts, **kw)
    zk.start(timeout=CLIENT_TIMEOUT)
    return zk


def close(*zks):
    for zk in zks:
        if zk is None:
            continue
        try:
            zk.stop()
            zk.close()
        except Exception:  # noqa: BLE001 - best effort
            pass


def stat_tuple(st):
    return (st.czxid, st.mzxid, st.pzxid, st.ctime, st.mtime, st.version, st.cversion,
            st.aversion, st.ephemeralOwner, st.numChildren, st.dataLength)


STAT_FIELDS = ("czxid", "mzxid", "pzxid", "ctime", "mtime", "version", "cversion",
               "aversion", "ephemeralOwner", "numChildren", "dataLength")


def dump(zk, root):
    """{path: (data, stat tuple)} of the subtree at root, read level by level with
    pipelined async requests."""
    out = {}
    level = [root]
    while level:
        pending = [(p, zk.get_async(p), zk.get_children_async(p)) for p in level]
        level = []
        for p, ga, ca in pending:
            try:
                data, st = ga.get(timeout=30)
                kids = ca.get(timeout=30)
            except NoNodeError:
                continue  # deleted while reading: the caller compares quiet trees
            out[p] = (data, stat_tuple(st))
            level.extend(p.rstrip("/") + "/" + k for k in sorted(kids))
    return out


def synced_dump(node, root):
    zk = client(node)
    try:
        zk.sync(root)
        return dump(zk, root)
    finally:
        close(zk)


def diff_dumps(a, b, name_a, name_b):
    """A one-line description of the first difference, or None."""
    only_a = sorted(set(a) - set(b))
    only_b = sorted(set(b) - set(a))
    if only_a:
        return f"{len(only_a)} znodes only on {name_a} (e.g. {only_a[0]})"
    if only_b:
        return f"{len(only_b)} znodes only on {name_b} (e.g. {only_b[0]})"
    for p in sorted(a):
        da, sa = a[p]
        db, sb = b[p]
        if da != db:
            return f"{p}: data {da[:40]!r} on {name_a} vs {db[:40]!r} on {name_b}"
        if sa != sb:
            fields = [f"{f} {x} vs {y}" for f, x, y in zip(STAT_FIELDS, sa, sb) if x != y]
            return f"{p}: stat differs ({name_a} vs {name_b}): {', '.join(fields)}"
    return None


def all_identical(nodes, root):
    """Dump root on every node (after sync), assert the dumps are identical; return the
    first dump."""
    dumps = {n.sid: synced_dump(n, root) for n in nodes}
    first = nodes[0].sid
    for n in nodes[1:]:
        d = diff_dumps(dumps[first], dumps[n.sid], f"sid{first}", f"sid{n.sid}")
        if d:
            raise CheckFailed(d)
    return dumps[first]


def ensure_path(zk, path):
    zk.ensure_path(path)


def reset_base(nodes, base):
    zk = client(list(nodes))
    try:
        if zk.exists(base):
            zk.delete(base, recursive=True)
        zk.ensure_path(base)
    finally:
        close(zk)


# ---------------------------------------------------------------- write load

class Load:
    """`threads` writer threads, each with its own client on all `hosts`, creating
    `base/wT-NNNNNN` sequentially; records acknowledged creates and when they were
    issued and acknowledged."""

    def __init__(self, hosts, base, threads=3, pause=0.03):
        self.hosts = hosts
        self.base = base
        self.pause = pause
        self.stop_ev = threading.Event()
        self.lock = threading.Lock()
        self.acked = []  # (path, t_issue, t_ack)
        self.errors = 0
        # Sessions lost (KazooState.LOST), and each thread's session ids as they went.
        self.lost = 0
        self.sessions = {}
        self.threads = [threading.Thread(target=self._run, args=(t,), daemon=True)
                        for t in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(timeout=30)

    def _run(self, t):
        zk = None
        i = 0
        while not self.stop_ev.is_set():
            if zk is None:
                try:
                    zk = client(self.hosts, connection_retry=KazooRetry(max_tries=-1, max_delay=0.5))
                except Exception:  # noqa: BLE001
                    zk = None
                    time.sleep(0.5)
                    continue
                zk.add_listener(self._on_state)
            if zk.client_id:
                with self.lock:
                    ids = self.sessions.setdefault(t, [])
                    if not ids or ids[-1] != zk.client_id[0]:
                        ids.append(zk.client_id[0])
            path = f"{self.base}/w{t}-{i:06d}"
            i += 1
            t0 = time.monotonic()
            try:
                zk.create(path, f"t{t} i{i}".encode())
                with self.lock:
                    self.acked.append((path, t0, time.monotonic()))
                time.sleep(self.pause)
            except KazooException:
                with self.lock:
                    self.errors += 1
                time.sleep(0.1)
            except Exception:  # noqa: BLE001 - timeouts of the handler
                with self.lock:
                    self.errors += 1
                time.sleep(0.1)
        close(zk)

    def _on_state(self, state):
        # Closing the client at the end reports LOST too: only a loss under load counts.
        if state == KazooState.LOST and not self.stop_ev.is_set():
            with self.lock:
                self.lost += 1

    def sessions_kept(self):
        """Whether every writer kept one session throughout."""
        with self.lock:
            return self.lost == 0 and all(len(ids) == 1 for ids in self.sessions.values())

    def acked_paths(self):
        with self.lock:
            return [p for p, _, _ in self.acked]

    def first_ack_issued_after(self, t):
        with self.lock:
            times = [ta for _, ti, ta in self.acked if ti >= t]
        return min(times) if times else None

    def count(self):
        with self.lock:
            return len(self.acked)


def check_acked_everywhere(nodes, load):
    acked = set(load.acked_paths())
    tree = all_identical(nodes, load.base)
    missing = sorted(acked - set(tree))
    if missing:
        raise CheckFailed(f"{len(missing)} acknowledged writes missing (e.g. {missing[0]})")
    return tree


# ---------------------------------------------------------------- the checks

class Checks:
    def __init__(self, run_dir, label, reference_dir=None):
        self.label = label
        self.run_dir = run_dir
        # the all-Java reference run of this topology (None: this is the reference)
        self.reference_dir = reference_dir
        self.nodes = [Node(run_dir, s) for s in (1, 2, 3)]
        self.by_sid = {n.sid: n for n in self.nodes}

    def info(self, check, msg):
        print(f"INFO {self.label} {check}: {msg}", flush=True)

    # Before each check: every node running and the ensemble formed (a failed check may
    # have left a node down).
    def heal(self):
        for n in self.nodes:
            if not n.running():
                log(f"heal: starting sid {n.sid}")
                n.start()
        wait_formed(self.nodes)

    def followers(self):
        m = modes(self.nodes)
        return [self.by_sid[s] for s in sorted(m) if m[s] == "follower"]

    def leader(self):
        sid = leader_of(self.nodes)
        if sid is None:
            raise CheckFailed(f"no single leader: {fmt_modes(modes(self.nodes))}")
        return self.by_sid[sid]

    # 1. elect
    def elect(self):
        # one txn first: a follower reports zxid 0 until it has applied one of the epoch
        zk = client(self.nodes)
        try:
            zk.ensure_path("/ens")
            zk.set("/ens", b"elect")
        finally:
            close(zk)

        def agreed():
            info = {n.sid: n.srvr() for n in self.nodes}
            ms = [i.get("Mode") for i in info.values()]
            if ms.count("leader") != 1 or ms.count("follower") != 2:
                return None
            epochs = {s: int(i.get("Zxid", "0x0"), 16) >> 32 for s, i in info.items()}
            if len(set(epochs.values())) != 1:
                return None
            return info, epochs
        try:
            info, epochs = wait_until(agreed, 30, "one leader, two followers, one epoch")
        except CheckFailed:
            info = {n.sid: n.srvr() for n in self.nodes}
            raise CheckFailed("modes/epochs: " + ", ".join(
                f"sid{s}={i.get('Mode', 'no answer')}/{i.get('Zxid', '?')}"
                for s, i in sorted(info.items())))
        leader = [s for s, i in info.items() if i["Mode"] == "leader"][0]
        epoch = next(iter(epochs.values()))
        # the mixed topologies are about who leads: started highest sid first with equal
        # (empty) histories, sid 3 must lead (the Ferrokeeper node in mixed-fk-leader,
        # a Java node over the Ferrokeeper follower sid 1 in mixed-fk-follower)
        if self.label.startswith("mixed-") and leader != 3:
            raise CheckFailed(f"sid{leader} leads, the topology needs sid3 (highest sid, "
                              f"equal zxids)")
        return f"leader sid{leader}, epoch {epoch}, " + ", ".join(
            f"sid{s} {self.by_sid[s].kind}" for s in sorted(info))

    # 2. replicate
    def replicate(self):
        base = "/ens/replicate"
        reset_base(self.nodes, base)
        zks = [client(n) for n in self.nodes]
        try:
            acl = [make_digest_acl("alice", "secret", all=True)] + list(OPEN_ACL_UNSAFE)
            expected = {}
            for i, (n, zk) in enumerate(zip(self.nodes, zks)):
                top = f"{base}/via{n.sid}"
                zk.create(top, b"top-%d" % n.sid)
                for c in "abcde":
                    zk.create(f"{top}/{c}", f"{c}{n.sid}".encode())
                zk.set(f"{top}/a", b"a-set-1")
                zk.set(f"{top}/a", b"a-set-2")
                zk.set(f"{top}/b", b"")
                zk.delete(f"{top}/c")
                zk.delete(f"{top}/d", version=0)
                zk.set_acls(f"{top}/e", acl)
                zk.create(f"{top}/deep/er/still", b"deep", makepath=True)
                # sequentials in a parent shared by all nodes' clients
                for _ in range(3):
                    zk.create(f"{base}/seq/s-", b"seq-%d" % n.sid, sequence=True, makepath=True)
                # ephemerals (plain and sequential) owned by this node's session
                zk.create(f"{base}/eph/e{n.sid}", b"eph", ephemeral=True, makepath=True)
                zk.create(f"{base}/eph/es-", b"ephseq", ephemeral=True, sequence=True)
                expected[f"{top}/a"] = b"a-set-2"
                expected[f"{top}/b"] = b""
                expected[f"{top}/e"] = b"e%d" % n.sid
                expected[f"{top}/deep/er/still"] = b"deep"
                expected[f"{base}/eph/e{n.sid}"] = b"eph"
                for gone in (f"{top}/c", f"{top}/d"):
                    expected[gone] = None
            # a multi through the last node
            tx = zks[-1].transaction()
            tx.create(f"{base}/multi", b"m")
            tx.create(f"{base}/multi/x", b"mx")
            tx.set_data(f"{base}/via1", b"top-1-multi")
            tx.delete(f"{base}/via2/e")
            res = tx.commit()
            if any(isinstance(r, Exception) for r in res):
                raise CheckFailed(f"multi failed: {res}")
            expected[f"{base}/via1"] = b"top-1-multi"
            expected[f"{base}/via2/e"] = None
            expected[f"{base}/multi/x"] = b"mx"

            tree = all_identical(self.nodes, base)
            for p, want in expected.items():
                if want is None and p in tree:
                    raise CheckFailed(f"{p} should have been deleted")
                if want is not None:
                    if p not in tree:
                        raise CheckFailed(f"{p} missing")
                    if tree[p][0] != want:
                        raise CheckFailed(f"{p}: data {tree[p][0]!r}, want {want!r}")
            seq = [p for p in tree if p.startswith(f"{base}/seq/")]
            if len(seq) != 9:
                raise CheckFailed(f"{len(seq)} sequential znodes, want 9")
            owners = {zk.client_id[0] for zk in zks}
            for n, zk in zip(self.nodes, zks):
                owner = tree[f"{base}/eph/e{n.sid}"][1][8]
                if owner != zk.client_id[0]:
                    raise CheckFailed(f"eph/e{n.sid} owner 0x{owner:x}, session 0x{zk.client_id[0]:x}")
            eph_owners = {tree[p][1][8] for p in tree if p.startswith(f"{base}/eph/")}
            if eph_owners != owners:
                raise CheckFailed("ephemeral owners differ from the sessions")
            # sessions closed: their ephemerals go on every node
            close(*zks)
            zks = []
            tree2 = all_identical(self.nodes, base)
            left = [p for p in tree2 if p.startswith(f"{base}/eph/")]
            if left:
                raise CheckFailed(f"ephemerals left after the sessions closed: {left[:3]}")
            return f"{len(tree)} znodes identical on 3 nodes (data + 11 stat fields)"
        finally:
            close(*zks)

    def _sync_kind(self, node, text):
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # Ferrokeeper's log colours
        if node.kind == "zookeeper":
            if "Getting a diff from the leader" in text:
                return "DIFF"
            if "Getting a snapshot from leader" in text:
                return "SNAP"
            if "Truncating log to get in sync" in text:
                return "TRUNC"
            return "unknown"
        m = re.search(r"syncing with the leader by (\w+)", text)
        return m.group(1).upper() if m else "unknown"

    def _write_mix(self, zk, base, writes):
        """`writes` txns (creates, sets, sequentials, deletes), pipelined in windows of
        WRITE_WINDOW (one session keeps them in order); the znodes that must remain."""
        want = set()
        pending = []

        def drain():
            for kind, r in pending:
                name = r.get(timeout=CLIENT_TIMEOUT)
                if kind in (0, 2):
                    want.add(name)
            pending.clear()

        for i in range(writes):
            kind = i % 5
            if kind == 0:
                r = zk.create_async(f"{base}/n{i}", b"v%d" % i)
            elif kind == 1:
                r = zk.set_async(f"{base}/n{i - 1}", b"set%d" % i)
            elif kind == 2:
                r = zk.create_async(f"{base}/s-", b"", sequence=True)
            elif kind == 3:
                r = zk.create_async(f"{base}/d{i}", b"x")
            else:
                r = zk.delete_async(f"{base}/d{i - 1}")
            pending.append((kind, r))
            if len(pending) >= WRITE_WINDOW:
                drain()
        drain()
        return want

    def _catchup(self, check, wipe, writes):
        """Stops the lowest-sid follower, writes, restarts it; returns (follower, how it
        synced, the check's summary)."""
        base = f"/ens/{check}"
        reset_base(self.nodes, base)
        # the lowest-sid follower (sid 1 in every topology when sid 3 leads: the
        # Ferrokeeper follower in mixed-fk-follower, a Java follower of the Ferrokeeper
        # leader in mixed-fk-leader)
        f = self.followers()[0]
        others = [n for n in self.nodes if n is not f]
        self.info(check, f"stopping follower sid{f.sid} ({f.kind}), SIGTERM")
        f.stop()
        if wipe:
            f.wipe()
        zk = client(others)
        try:
            want = self._write_mix(zk, base, writes)
        finally:
            close(zk)
        off = f.log_size()
        f.start()
        wait_until(lambda: f.mode() == "follower", FORM_TIMEOUT,
                   f"sid{f.sid} back as a follower")
        tree = all_identical([f] + others, base)
        got = set(tree) - {base}
        if got != want:
            raise CheckFailed(f"znodes under {base}: missing {sorted(want - got)[:3]}, "
                              f"unexpected {sorted(got - want)[:3]}")
        how = self._sync_kind(f, f.log_since(off))
        return f, how, f"sid{f.sid} ({f.kind}) synced by {how}; {writes} txns, trees identical"

    def _leader_syncs(self, leader, text, sid):
        """How many times the leader's log says it began syncing learner `sid`."""
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)
        if leader.kind == "zookeeper":
            return len(re.findall(rf"Synchronizing with Learner sid: {sid} ", text))
        return len(re.findall(rf"sync of learner sid: {sid}: ", text))

    def _leader_source(self, leader, text, sid):
        """Where the leader took the learner's txns from, as its log says."""
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)
        if leader.kind == "zookeeper":
            if f"Use txnlog and committedLog for peer sid: {sid}" in text:
                return "txnlog"
            if f"Using committedLog for peer sid: {sid}" in text:
                return "committedLog"
            return "snapshot/none"
        m = re.search(rf"sync of learner sid: {sid}: \w+ 0x[0-9a-f]+ from ([\w ]+)", text)
        if not m:
            return "unknown"
        return "txnlog" if m.group(1).startswith("txnlog") else m.group(1)

    # 3. catchup-diff
    def catchup_diff(self):
        return self._catchup("catchup-diff", wipe=False, writes=50)[2]

    # 4. catchup-snap
    def catchup_snap(self):
        return self._catchup("catchup-snap", wipe=True, writes=50)[2]

    # 4a. catchup-difflog: further behind than the leader's committedLog (500 txns, 501
    # kept): ZooKeeper's leader reads the rest from its txn log and DIFFs when that is small
    # next to its newest snapshot (LearnerHandler.syncFollower). The sync mode must be the
    # all-Java reference's of this topology (written by the reference run to
    # REFERENCE_DIR/catchup-difflog.sync); the reference itself must DIFF.
    def catchup_difflog(self):
        check = "catchup-difflog"
        leader = self.leader()
        off = leader.log_size()
        f, how, summary = self._catchup(check, wipe=False, writes=DIFFLOG_WRITES)
        text = leader.log_since(off)
        source = self._leader_source(leader, text, f.sid)
        # Once: a leader that drops the link mid-DIFF (say a send queue shorter than the
        # DIFF) has the follower retry until some attempt gets through.
        syncs = self._leader_syncs(leader, text, f.sid)
        if syncs != 1:
            raise CheckFailed(f"leader sid{leader.sid} ({leader.kind}) began syncing sid{f.sid} "
                              f"{syncs} times, not once ({summary})")
        summary += f"; leader sid{leader.sid} ({leader.kind}) sent from {source}"
        if self.reference_dir is None:
            with open(os.path.join(self.run_dir, f"{check}.sync"), "w") as out:
                out.write(how + "\n")
            if how != "DIFF":
                raise CheckFailed(f"the all-Java reference synced by {how}, not DIFF: "
                                  f"the check's premise is wrong ({summary})")
            return summary
        try:
            with open(os.path.join(self.reference_dir, f"{check}.sync")) as ref:
                want = ref.read().strip()
            seen = "the reference's"
        except OSError:
            want, seen = "DIFF", "Java 3.8's (no reference run here)"
        if how != want:
            raise CheckFailed(f"synced by {how}, {seen} sync was {want} ({summary})")
        return summary + f"; as the reference ({want})"

    # 4b. catchup-trunc: the leader logs a write it can never commit (its quorum port is
    # cut off with iptables on loopback, so no follower hears the proposal), is killed, and
    # the others go on without it; back, it must be truncated (TRUNC) to the new history.
    def catchup_trunc(self):
        check = "catchup-trunc"
        base = f"/ens/{check}"
        reset_base(self.nodes, base)
        old = self.leader()
        followers = [n for n in self.nodes if n is not old]
        qport = old.quorum_port()
        rules = [["INPUT", "-i", "lo", "-p", "tcp", "--sport", str(qport), "-j", "DROP"],
                 ["INPUT", "-i", "lo", "-p", "tcp", "--dport", str(qport), "-j", "DROP"]]
        self.info(check, f"cut leader sid{old.sid} ({old.kind})'s quorum port {qport}, "
                         f"a write to it, kill -9 it")
        # The session must exist before the quorum goes: creating one needs a commit.
        zk = client([old])
        zk.exists(base)
        ghost = f"{base}/ghost"
        try:
            for r in rules:
                subprocess.run(["iptables", "-I", *r], check=True)
            zk.create_async(ghost, b"never committed")
            time.sleep(1.0)  # logged (and fsynced) by now, never ACKed
            old.kill9()
            close(zk)
            # The dead leader's kernel still holds the proposal in its send buffer and
            # would deliver it once the port opens: the cut stays until the others have
            # given the old leader up and elected a new one.
            wait_until(lambda: leader_of(followers), LEADER_TIMEOUT,
                       "a leader without the old one")
        finally:
            for r in rules:
                subprocess.run(["iptables", "-D", *r], check=False)
        # Back before the new leader commits anything: its history ends below the ghost,
        # in the ghost's epoch, so the leader truncates it (a later txn of the new epoch
        # would make both servers fall back to SNAP: "peer zxid is from different epoch").
        off = old.log_size()
        old.start()
        wait_until(lambda: old.mode() == "follower", FORM_TIMEOUT,
                   f"sid{old.sid} back as a follower")
        zk = client(self.nodes)
        want = set()
        try:
            for i in range(20):
                want.add(zk.create(f"{base}/n{i}", b"v%d" % i))
        finally:
            close(zk)
        tree = all_identical(self.nodes, base)
        got = set(tree) - {base}
        if got != want:
            raise CheckFailed(f"znodes under {base}: missing {sorted(want - got)[:3]}, "
                              f"unexpected {sorted(got - want)[:3]}")
        how = self._sync_kind(old, old.log_since(off))
        if how != "TRUNC":
            raise CheckFailed(f"sid{old.sid} ({old.kind}) synced by {how}, not TRUNC")
        return f"sid{old.sid} ({old.kind}) truncated (TRUNC): the ghost write is gone, trees identical"

    def session_move(self):
        check = "session-move"
        base = f"/ens/{check}"
        reset_base(self.nodes, base)
        a_node, b_node, c_node = self.nodes[0], self.nodes[1], self.nodes[2]
        # A does not reconnect by itself (max_tries=1): when its connection goes, it
        # stops without sending closeSession, and the session lives on for B.
        a = client(a_node, connection_retry=KazooRetry(max_tries=1))
        b = obs = None
        try:
            obs = client(c_node)
            obs.create(f"{base}/watched", b"0")
            sid, pw = a.client_id
            a.create(f"{base}/eph", b"mine", ephemeral=True)
            a_events = []
            a.get(f"{base}/watched", watch=a_events.append)
            b = KazooClient(hosts=b_node.addr, client_id=(sid, pw), timeout=10.0,
                            connection_retry=KazooRetry(max_tries=-1, max_delay=1.0))
            b.start(timeout=CLIENT_TIMEOUT)
            if b.client_id[0] != sid:
                raise CheckFailed(f"sid{b_node.sid} gave session 0x{b.client_id[0]:x}, "
                                  f"not the moved 0x{sid:x}")
            # A's connection to the old server is stale: a write through it must not
            # succeed (ZooKeeper: SESSIONMOVED from the leader's owner check)
            try:
                a.create(f"{base}/stale-write", b"x")
                raise CheckFailed("a write through the session's old connection succeeded")
            except SessionMovedError:
                stale = "SESSIONMOVED"
            except KazooException as e:
                stale = type(e).__name__
            self.info(check, f"write through the old connection on sid{a_node.sid}: {stale}")
            # drop A's connection (as a dead client would), without closeSession
            if a.connected:
                try:
                    a._connection._socket.shutdown(socket.SHUT_RDWR)
                except Exception:  # noqa: BLE001 - already closed by the server
                    pass
            wait_until(lambda: not a.connected, 15, "the old client to stop")
            # the ephemeral is still there, owned by the session
            for zk, n in ((b, b_node), (obs, c_node)):
                zk.sync(base)
                st = zk.exists(f"{base}/eph")
                if st is None or st.ephemeralOwner != sid:
                    raise CheckFailed(f"ephemeral gone or re-owned on sid{n.sid}: {st}")
            # the moved session's watches and writes work
            b_events = []
            b.get(f"{base}/watched", watch=b_events.append)
            obs.set(f"{base}/watched", b"1")
            wait_until(lambda: b_events, 10, "the watch through the moved session to fire")
            b.create(f"{base}/eph2", b"also mine", ephemeral=True)
            # outlive the old connection by more than a session timeout (10 s with
            # tickTime 500: maxSessionTimeout = 20 ticks)
            time.sleep(11)
            tree = all_identical(self.nodes, base)
            for e in ("eph", "eph2"):
                if f"{base}/{e}" not in tree or tree[f"{base}/{e}"][1][8] != sid:
                    raise CheckFailed(f"{e} lost after the move")
            if f"{base}/stale-write" in tree:
                raise CheckFailed("the stale write is in the tree")
            fired = [e for e in a_events if e.type != "NONE"]
            if fired:
                self.info(check, f"the old connection's watch fired: {fired}")
            # closing through B ends the session: the ephemerals go everywhere
            close(b)
            b = None
            tree = all_identical(self.nodes, base)
            left = [p for p in tree if "/eph" in p]
            if left:
                raise CheckFailed(f"ephemerals still there after the moved session closed: {left}")
            return (f"session 0x{sid:x} sid{a_node.sid}({a_node.kind}) -> "
                    f"sid{b_node.sid}({b_node.kind}): ephemeral kept, watch + writes work, "
                    f"old connection's write {stale}")
        finally:
            close(b, obs)
            close(a)

    # 6. leader-kill
    def leader_kill(self):
        check = "leader-kill"
        base = f"/ens/{check}"
        reset_base(self.nodes, base)
        leader = self.leader()
        survivors = [n for n in self.nodes if n is not leader]
        load = Load(self.nodes, base)
        load.start()
        try:
            wait_until(lambda: load.count() >= 30, 30, "the write load to start")
            time.sleep(2)
            before = load.count()
            self.info(check, f"kill -9 leader sid{leader.sid} ({leader.kind}) "
                             f"after {before} acked writes")
            leader.kill9()
            # node.sh returns once the process is gone: no write issued from now on can
            # be acknowledged by the old leader
            t_kill = time.monotonic()
            new_leader = wait_until(lambda: leader_of(survivors), LEADER_TIMEOUT,
                                    "a new leader among the survivors")
            t_elect = time.monotonic() - t_kill
            t_first = wait_until(lambda: load.first_ack_issued_after(t_kill),
                                 max(1.0, LEADER_TIMEOUT - t_elect),
                                 "a write acknowledged after the kill")
            recovery = t_first - t_kill
            # a few seconds of load on the new leader
            n0 = load.count()
            time.sleep(3)
            wait_until(lambda: load.count() >= n0 + 30, 30, "writes on the new leader")
        finally:
            load.stop()
        tree = check_acked_everywhere(survivors, load)
        acked = load.count()
        if not load.sessions_kept():
            raise CheckFailed(f"clients lost their sessions: {load.lost} LOST, ids "
                              f"{ {t: [hex(i) for i in v] for t, v in load.sessions.items()} }")
        # the killed node comes back and catches up
        off = leader.log_size()
        leader.start()
        wait_until(lambda: leader.mode() == "follower", FORM_TIMEOUT,
                   f"sid{leader.sid} back as a follower")
        check_acked_everywhere(self.nodes, load)
        how = self._sync_kind(leader, leader.log_since(off))
        return (f"new leader sid{new_leader} in {t_elect:.1f}s, first write {recovery:.1f}s "
                f"after the kill; {acked} acked writes ({load.errors} failed attempts, "
                f"every client kept its session) on "
                f"all nodes, {len(tree)} znodes identical; sid{leader.sid} rejoined by {how}")

    # 7. read-only: sid 1 is cut off from the others and restarted with
    # readonlymode.enabled; while it looks for a leader it serves reads to a kazoo
    # read_only=True client and refuses the rest; once the cut is healed it rejoins, and the
    # client ends up on a read-write server.
    #
    # Why sid 1 and a restart: the iptables rules match its own quorum and election ports,
    # which catch every connection only while it dials nobody. A lower sid's election-port
    # dial is closed by the higher sid, which dials back (into the rules); a follower's link
    # to the leader goes from an ephemeral port the rules cannot name, so sid 1 restarts
    # behind the rules and never gets that far.
    def read_only(self):
        check = "read-only"
        base = f"/ens/{check}"
        reset_base(self.nodes, base)
        iso = self.by_sid[1]
        others = [n for n in self.nodes if n is not iso]
        zk = client(self.nodes)
        try:
            zk.create(f"{base}/before", b"written before the partition")
        finally:
            close(zk)
        zk = client(iso)
        try:  # sid 1 has it (logged) before it goes
            zk.sync(base)
            zk.get(f"{base}/before")
        finally:
            close(zk)
        cfg_path = os.path.join(iso.dir, "zoo.cfg")
        with open(cfg_path) as f:
            cfg_text = f.read()
        rules = []
        for port in (iso.quorum_port(), iso.election_port()):
            rules += [["INPUT", "-i", "lo", "-p", "tcp", "--sport", str(port), "-j", "DROP"],
                      ["INPUT", "-i", "lo", "-p", "tcp", "--dport", str(port), "-j", "DROP"]]
        facts = {}  # what the reference and the run under test must agree on
        ro = None
        states = []
        try:
            try:
                iso.stop()
                for r in rules:
                    subprocess.run(["iptables", "-I", *r], check=True)
                # Java reads readonlymode.enabled only as a system property, and 3.8's
                # read-only server makes only local sessions (without them it answers a
                # new session with a bare NOTREADONLY header no client can read).
                iso.set_props(["-Dreadonlymode.enabled=true"])
                with open(cfg_path, "w") as f:
                    f.write(cfg_text + "localSessionsEnabled=true\n")
                t0 = time.monotonic()
                iso.start()
                wait_until(lambda: iso.four_lw("isro") == "ro", 30,
                           f"sid{iso.sid} to answer isro ro")
                t_ro = time.monotonic() - t0
                facts["mode while cut"] = iso.mode()
                ro = KazooClient(hosts=iso.addr, read_only=True, timeout=10.0,
                                 connection_retry=KazooRetry(max_tries=-1, max_delay=0.5))
                ro.add_listener(states.append)
                ro.start(timeout=CLIENT_TIMEOUT)
                facts["client state"] = str(ro.client_state)
                ro_session = ro.client_id[0]
                facts["session id names sid"] = (ro_session >> 56) == iso.sid
                data, _ = ro.get(f"{base}/before")
                facts["read before-partition data"] = data == b"written before the partition"
                for what, call in (("create", lambda: ro.create(f"{base}/ro-write", b"x")),
                                   ("set", lambda: ro.set(f"{base}/before", b"x")),
                                   ("sync", lambda: ro.sync(base))):
                    try:
                        call()
                        facts[what] = "succeeded"
                    except NotReadOnlyCallError:
                        facts[what] = "NotReadOnlyCallError"
                    except KazooException as e:
                        facts[what] = type(e).__name__
                facts["exists after refused create"] = ro.exists(f"{base}/ro-write") is not None
                for flag in (None, False, True):
                    got = raw_connect(iso, flag)
                    facts[f"connect readOnly={flag}"] = (
                        "closed, no answer" if got is None else
                        f"session, readOnly={got['read_only']}, timeout {got['timeout']}")
                # the majority goes on meanwhile
                wait_until(lambda: leader_of(others), LEADER_TIMEOUT, "a leader without sid 1")
                zk = client(others)
                try:
                    zk.create(f"{base}/during", b"written by the majority")
                finally:
                    close(zk)
            finally:
                for r in rules:
                    subprocess.run(["iptables", "-D", *r], check=False)
                iso.set_props([])
                with open(cfg_path, "w") as f:
                    f.write(cfg_text)
            t_heal = time.monotonic()
            wait_until(lambda: iso.mode() == "follower", FORM_TIMEOUT,
                       f"sid{iso.sid} back as a follower")
            t_back = time.monotonic() - t_heal
            facts["isro after heal"] = iso.four_lw("isro")
            wait_until(lambda: ro.client_state == KeeperState.CONNECTED, 30,
                       "the read_only=True client to reach a read-write server")
            # sid 1 still runs with local sessions (a new one each connection), its leader
            # without: what a write of that session gets is reported, not compared.
            try:
                ro.create(f"{base}/after-heal", b"rw again")
                wrote = "succeeded"
            except KazooException as e:
                wrote = type(e).__name__
            self.info(check, f"a write of the client after the heal: {wrote}")
            data, _ = ro.get(f"{base}/during")
            facts["client sees majority's write"] = data == b"written by the majority"
            facts["session after heal"] = "same" if ro.client_id[0] == ro_session else "new"
            facts["client went through LOST"] = KazooState.LOST in states
        finally:
            close(ro)
        all_identical(self.nodes, base)
        wrong = [f"{k}: {facts.get(k)!r}, not {v!r}" for k, v in READ_ONLY_EXPECT.items()
                 if facts.get(k) != v]
        if wrong:
            raise CheckFailed("; ".join(wrong))
        self._compare_facts(check, facts)
        return (f"sid{iso.sid} ({iso.kind}) read-only {t_ro:.1f}s after its start behind the "
                f"cut, rejoined {t_back:.1f}s after the heal; " +
                ", ".join(f"{k}: {v}" for k, v in facts.items()))

    def _compare_facts(self, check, facts):
        """The reference run writes what it saw; a run under test must have seen the same."""
        path = f"{check}.facts"
        if self.reference_dir is None:
            with open(os.path.join(self.run_dir, path), "w") as out:
                json.dump(facts, out, indent=1, sort_keys=True)
            return
        try:
            with open(os.path.join(self.reference_dir, path)) as ref:
                want = json.load(ref)
        except OSError:
            self.info(check, "no reference facts to compare with")
            return
        diff = [f"{k}: {facts.get(k)!r}, the reference {want.get(k)!r}"
                for k in sorted(set(want) | set(facts)) if facts.get(k) != want.get(k)]
        if diff:
            raise CheckFailed("not as the all-Java reference: " + "; ".join(diff))

    # 8. rolling
    def rolling(self, new_kind):
        check = "rolling"
        base = f"/ens/{check}"
        reset_base(self.nodes, base)
        load = Load(self.nodes, base)
        load.start()
        steps = []
        try:
            wait_until(lambda: load.count() >= 30, 30, "the write load to start")
            for n in self.nodes:
                t0 = time.monotonic()
                role = n.mode()
                old = n.kind
                n.stop()
                n.wipe()
                n.set_kind(new_kind)
                n.start()
                try:
                    wait_until(lambda: n.mode() in ("leader", "follower"), FORM_TIMEOUT,
                               f"the new sid{n.sid} ({new_kind}) to join")
                except CheckFailed as e:
                    raise CheckFailed(f"{e} (it answers Mode: {n.mode() or 'nothing'}; "
                                      f"done: {'; '.join(steps) or 'none'})")
                wait_formed(self.nodes)
                # it serves: a read after sync through it
                zk = client(n)
                try:
                    zk.sync(base)
                    zk.get_children(base)
                finally:
                    close(zk)
                n_before = load.count()
                wait_until(lambda: load.count() >= n_before + 10, 30, "writes after the step")
                steps.append(f"sid{n.sid} {old}({role})->{new_kind} {time.monotonic() - t0:.1f}s")
                self.info(check, steps[-1])
        finally:
            load.stop()
        tree = check_acked_everywhere(self.nodes, load)
        final = ", ".join(f"sid{s}={m}" for s, m in sorted(modes(self.nodes).items()))
        return (f"{'; '.join(steps)}; {load.count()} acked writes ({load.errors} failed "
                f"attempts) on all nodes, {len(tree)} znodes identical; {final}")


CHECKS = {
    "elect": "elect",
    "read-only": "read_only",
    "replicate": "replicate",
    "catchup-diff": "catchup_diff",
    "catchup-snap": "catchup_snap",
    "catchup-difflog": "catchup_difflog",
    "catchup-trunc": "catchup_trunc",
    "session-move": "session_move",
    "leader-kill": "leader_kill",
}


def run_one(checks, name, fn, heal=True):
    t0 = time.monotonic()
    try:
        if heal:
            checks.heal()
        info = fn()
        dt = time.monotonic() - t0
        print(f"PASS {checks.label} {name} ({dt:.1f}s)" + (f" {info}" if info else ""), flush=True)
        return True
    except Exception as e:  # noqa: BLE001 - any failure of the check
        dt = time.monotonic() - t0
        reason = str(e) or type(e).__name__
        if not isinstance(e, CheckFailed):
            reason = f"{type(e).__name__}: {reason}"
        print(f"FAIL {checks.label} {name}: {reason} ({dt:.1f}s)", flush=True)
        log(f"{name} failed: {reason}")
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--label", required=True)
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--checks", default=",".join(CHECKS))
    ap.add_argument("--rolling", metavar="KIND", help="run the rolling replacement to KIND")
    ap.add_argument("--reference-dir", help="the all-Java reference run's directory "
                    "(for a Ferrokeeper or mixed run)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    checks = Checks(args.run_dir, args.label, args.reference_dir)
    if args.rolling:
        run_one(checks, "rolling", lambda: checks.rolling(args.rolling), heal=False)
        return 0
    run_named(checks, args.checks.split(","), CHECKS)
    return 0


def run_named(checks, names, table):
    """Runs each named check of `table` (name -> method of `checks`), in order."""
    for name in names:
        if name not in table:
            print(f"FAIL {checks.label} {name}: unknown check", flush=True)
            continue
        run_one(checks, name, getattr(checks, table[name]))


if __name__ == "__main__":
    sys.exit(main())
