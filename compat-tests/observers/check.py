#!/usr/bin/env python3
"""Checks of one observer topology (run by run.sh): sids 1..3 participants, sid 4 an
observer. Reuses the ensemble suite's nodes, clients and tree comparison.

  formed       the participants elect a leader, the observer says `observer` in srvr, the
               leader counts it in mntr's zk_synced_observers, and it never votes: the
               participants' election is the same with the observer down
  reads        writes through the participants are read on the observer (after sync), and
               a watch set on the observer fires for a write on a participant
  writes       the observer forwards its clients' writes (create, set, multi, ephemeral,
               sequential, delete), every server holds them; an ephemeral of an observer
               session goes when the session closes
  admin        the leader's AdminServer `observers` lists the observer with
               LearnerHandler's fields and counts; the other servers list none
  catchup      the observer, stopped, misses more txns than the leader's committedLog
               keeps; restarted, it syncs (DIFF) and holds the same tree
  leader-kill  kill -9 of the leader under write load through the observer: the observer
               follows the new leader, its clients keep their sessions, no acknowledged
               write is lost
"""

import argparse
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "ensemble"))

from checker import (  # noqa: E402
    CheckFailed, FORM_TIMEOUT, LEADER_TIMEOUT, Load, Node, all_identical,
    check_acked_everywhere, client, close, fmt_modes, leader_of, log, modes, reset_base,
    run_named, wait_until)

CATCHUP_WRITES = 1200


OBSERVER_INFO_KEYS = ["remote_socket_address", "sid", "established", "queued_packets",
                      "queued_packets_size", "packets_received", "packets_sent", "requests",
                      "last_zxid"]


def admin(node, command):
    """The AdminServer's JSON answer to /commands/COMMAND (keys in their order)."""
    import json
    import urllib.request
    with open(os.path.join(node.dir, "admin_port")) as f:
        port = int(f.read().strip())
    url = f"http://127.0.0.1:{port}/commands/{command}"
    with urllib.request.urlopen(url, timeout=20) as r:
        return json.loads(r.read().decode(), object_pairs_hook=lambda kv: kv)


def mntr(node):
    """mntr as a dict (empty when it does not answer)."""
    lines = (line.split("\t", 1) for line in node.four_lw("mntr").splitlines() if "\t" in line)
    return {k.strip(): v.strip() for k, v in lines}


class Checks:
    def __init__(self, run_dir, label):
        self.label = label
        self.run_dir = run_dir
        self.participants = [Node(run_dir, s) for s in (1, 2, 3)]
        self.observer = Node(run_dir, 4)
        self.nodes = self.participants + [self.observer]
        self.by_sid = {n.sid: n for n in self.nodes}

    def info(self, check, msg):
        print(f"INFO {self.label} {check}: {msg}", flush=True)

    def formed(self):
        m = modes(self.nodes)
        vals = [m[s] for s in (1, 2, 3)]
        return (vals.count("leader") == 1 and vals.count("follower") == 2
                and m[4] == "observer")

    def heal(self):
        for n in self.nodes:
            if not n.running():
                log(f"heal: starting sid {n.sid}")
                n.start()
        try:
            wait_until(self.formed, FORM_TIMEOUT, "three participants and the observer")
        except CheckFailed:
            raise CheckFailed(f"not formed within {FORM_TIMEOUT:.0f}s: "
                              f"{fmt_modes(modes(self.nodes))}")

    def leader(self):
        sid = leader_of(self.participants)
        if sid is None:
            raise CheckFailed(f"no single leader: {fmt_modes(modes(self.nodes))}")
        return self.by_sid[sid]

    # ---------------------------------------------------------------- checks

    def check_formed(self):
        leader = self.leader()
        zk = client(self.participants)
        try:
            zk.ensure_path("/obs")
            zk.set("/obs", b"formed")
        finally:
            close(zk)
        synced = wait_until(lambda: mntr(leader).get("zk_synced_observers") == "1" and 1,
                            15, "the leader's mntr to count one synced observer")
        # The observer never votes: with two participants down, the one left and the
        # observer are two of four servers, not a quorum of the three voters.
        followers = [n for n in self.participants if n is not leader]
        for f in followers:
            f.stop()
        time.sleep(6)  # past syncLimit (10 ticks of 500 ms): the leader has given up
        held = {n.sid: n.mode() for n in (leader, self.observer)}
        if any(held.values()):
            raise CheckFailed(f"with sids {[f.sid for f in followers]} down, a quorum "
                              f"stands: {fmt_modes(held)}")
        for f in followers:
            f.start()
        self.heal()
        return (f"leader sid{leader.sid} ({leader.kind}), observer sid4 "
                f"({self.observer.kind}); the leader's mntr counts {synced} synced "
                f"observer; one participant and the observer make no quorum")

    def check_reads(self):
        base = "/obs/reads"
        reset_base(self.participants, base)
        writer = client(self.participants)
        reader = client(self.observer)
        fired = threading.Event()
        try:
            for i in range(20):
                writer.create(f"{base}/n{i}", b"v%d" % i)
            reader.sync(base)
            kids = sorted(reader.get_children(base))
            if len(kids) != 20:
                raise CheckFailed(f"the observer lists {len(kids)} children after sync, not 20")
            data, st = reader.get(f"{base}/n7")
            if data != b"v7":
                raise CheckFailed(f"the observer reads {data!r} for n7")
            # A data watch on the observer fires for a participant's write.
            reader.get(f"{base}/n3", watch=lambda ev: fired.set())
            writer.set(f"{base}/n3", b"changed")
            if not fired.wait(10):
                raise CheckFailed("a watch on the observer did not fire for a write elsewhere")
            data, _ = reader.get(f"{base}/n3")
            if data != b"changed":
                raise CheckFailed(f"after the watch the observer reads {data!r}")
        finally:
            close(writer, reader)
        all_identical(self.nodes, base)
        return "20 znodes read on the observer after sync; its watch fired; trees identical"

    def check_writes(self):
        base = "/obs/writes"
        reset_base(self.participants, base)
        zk = client(self.observer)
        other = client(self.participants)
        try:
            zk.create(f"{base}/a", b"1")
            zk.set(f"{base}/a", b"2")
            seqs = [zk.create(f"{base}/s-", b"", sequence=True) for _ in range(3)]
            t = zk.transaction()
            t.create(f"{base}/m1", b"x")
            t.check(f"{base}/a", 1)
            t.create(f"{base}/m2", b"y")
            res = t.commit()
            if any(isinstance(r, Exception) for r in res):
                raise CheckFailed(f"the multi through the observer failed: {res}")
            zk.create(f"{base}/eph", b"e", ephemeral=True)
            zk.delete(seqs[0])
            other.sync(base)
            data, st = other.get(f"{base}/a")
            if (data, st.version) != (b"2", 1):
                raise CheckFailed(f"a participant reads {data!r} v{st.version} for a")
            owner = other.get(f"{base}/eph")[1].ephemeralOwner
            if owner != zk.client_id[0]:
                raise CheckFailed(f"eph's owner {owner:#x}, the observer session "
                                  f"{zk.client_id[0]:#x}")
        finally:
            close(zk)
        try:
            other.sync(base)
            if other.exists(f"{base}/eph"):
                raise CheckFailed("the observer session's ephemeral outlived its close")
        finally:
            close(other)
        tree = all_identical(self.nodes, base)
        return (f"create/set/sequential/multi/ephemeral/delete through the observer; "
                f"{len(tree)} znodes identical on the four servers; ephemeral gone on close")

    def check_admin(self):
        """The leader's AdminServer `observers` lists the observer as
        LearnerHandler.getLearnerHandlerInfo does; the others list none."""
        base = "/obs/admin"
        reset_base(self.participants, base)
        leader = self.leader()
        zk = client(self.observer)
        try:
            for i in range(5):
                zk.create(f"{base}/n{i}", b"")
        finally:
            close(zk)
        time.sleep(1.5)  # a few PING rounds (tickTime 500 ms)
        answer = dict(admin(leader, "observers"))
        if answer.get("synced_observers") != 1:
            raise CheckFailed(f"leader's synced_observers: {answer.get('synced_observers')}")
        obs = answer.get("observers") or []
        if len(obs) != 1:
            raise CheckFailed(f"leader lists {len(obs)} observers")
        keys = [k for k, _ in obs[0]]
        if keys != OBSERVER_INFO_KEYS:
            raise CheckFailed(f"observer info keys {keys}")
        o = dict(obs[0])
        now_ms = time.time() * 1000
        problems = []
        if o["sid"] != 4:
            problems.append(f"sid {o['sid']}")
        if not str(o["remote_socket_address"]).startswith("/127.0.0.1:"):
            problems.append(f"remote_socket_address {o['remote_socket_address']!r}")
        if not isinstance(o["established"], int) or abs(now_ms - o["established"]) > 600_000:
            problems.append(f"established {o['established']!r} (now {now_ms:.0f})")
        # createSession, five creates, closeSession: forwarded REQUESTs
        if o["requests"] < 7:
            problems.append(f"requests {o['requests']} < 7")
        if o["packets_received"] <= o["requests"] or o["packets_sent"] <= 0:
            problems.append(f"packets received/sent {o['packets_received']}/{o['packets_sent']}")
        if o["last_zxid"] <= 0:
            problems.append(f"last_zxid {o['last_zxid']}")
        # NEWLEADER and UPTODATE leave Java's running size below zero.
        if not o["queued_packets_size"] < 0:
            problems.append(f"queued_packets_size {o['queued_packets_size']} (Java's is < 0)")
        if problems:
            raise CheckFailed("leader's observer info: " + ", ".join(problems))
        # observer_connection_stat_reset zeroes the leader's counters of its observers.
        dict(admin(leader, "observer_connection_stat_reset"))
        after = dict(dict(admin(leader, "observers"))["observers"][0])
        if after["requests"] != 0 or after["packets_received"] >= o["packets_received"]:
            raise CheckFailed(f"after observer_connection_stat_reset: requests "
                              f"{after['requests']}, received {after['packets_received']}")
        for n in [p for p in self.participants if p is not leader] + [self.observer]:
            other = dict(admin(n, "observers"))
            if other.get("synced_observers") != 0 or other.get("observers") != []:
                raise CheckFailed(f"sid{n.sid} ({n.mode()}) answers {other}")
        return (f"leader sid{leader.sid} lists sid4: {o['requests']} requests, "
                f"{o['packets_received']} received, {o['packets_sent']} sent, "
                f"queued_packets_size {o['queued_packets_size']}; zeroed by "
                f"observer_connection_stat_reset; the others list none")

    def check_catchup(self):
        base = "/obs/catchup"
        reset_base(self.participants, base)
        obs = self.observer
        self.info("catchup", f"stopping the observer, {CATCHUP_WRITES} writes")
        obs.stop()
        zk = client(self.participants)
        try:
            pending = []
            for i in range(CATCHUP_WRITES):
                pending.append(zk.create_async(f"{base}/n{i}", b"v"))
                if len(pending) >= 100:
                    for p in pending:
                        p.get(timeout=15)
                    pending.clear()
            for p in pending:
                p.get(timeout=15)
        finally:
            close(zk)
        off = obs.log_size()
        obs.start()
        wait_until(lambda: obs.mode() == "observer", FORM_TIMEOUT, "the observer back")
        tree = all_identical(self.nodes, base)
        if len(tree) != CATCHUP_WRITES + 1:
            raise CheckFailed(f"{len(tree) - 1} znodes, not {CATCHUP_WRITES}")
        text = obs.log_since(off)
        how = "unknown"
        for mark, kind in (("Getting a diff from the leader", "DIFF"),
                           ("Getting a snapshot from leader", "SNAP"),
                           ("by Diff", "DIFF"), ("by Snap", "SNAP"), ("by Trunc", "TRUNC")):
            if mark in text:
                how = kind
                break
        return f"the observer rejoined by {how}; {CATCHUP_WRITES} txns, trees identical"

    def check_leader_kill(self):
        base = "/obs/leader-kill"
        reset_base(self.participants, base)
        leader = self.leader()
        survivors = [n for n in self.participants if n is not leader]
        # Writers connected to the observer only: their writes go through it.
        load = Load([self.observer], base, threads=2)
        load.start()
        try:
            wait_until(lambda: load.count() >= 30, 30, "writes through the observer")
            before = load.count()
            self.info("leader-kill", f"kill -9 leader sid{leader.sid} ({leader.kind}) after "
                                     f"{before} acked writes through the observer")
            leader.kill9()
            t_kill = time.monotonic()
            new = wait_until(lambda: leader_of(survivors), LEADER_TIMEOUT, "a new leader")
            wait_until(lambda: load.first_ack_issued_after(t_kill), LEADER_TIMEOUT,
                       "a write through the observer after the kill")
            took = load.first_ack_issued_after(t_kill) - t_kill
            n0 = load.count()
            wait_until(lambda: load.count() >= n0 + 30, 30, "writes on the new leader")
        finally:
            load.stop()
        if self.observer.mode() != "observer":
            raise CheckFailed(f"the observer says {self.observer.mode()!r}")
        if not load.sessions_kept():
            raise CheckFailed(f"the observer's clients lost their sessions ({load.lost} LOST)")
        check_acked_everywhere(survivors + [self.observer], load)
        leader.start()
        wait_until(self.formed, FORM_TIMEOUT, "the old leader back")
        tree = check_acked_everywhere(self.nodes, load)
        return (f"new leader sid{new}; first write through the observer {took:.1f}s after "
                f"the kill; {load.count()} acked, sessions kept, {len(tree)} znodes "
                f"identical on all four")


CHECKS = {
    "formed": "check_formed",
    "reads": "check_reads",
    "writes": "check_writes",
    "admin": "check_admin",
    "catchup": "check_catchup",
    "leader-kill": "check_leader_kill",
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--label", required=True)
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--checks", default=",".join(CHECKS))
    args = ap.parse_args()
    run_named(Checks(args.run_dir, args.label), args.checks.split(","), CHECKS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
