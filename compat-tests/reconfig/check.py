#!/usr/bin/env python3
"""Checks of one reconfig topology (run by run.sh): s1..s3 running with reconfigEnabled
and a dynamicConfigFile, s4..s6 set up as joiners. The checks are one scenario, run in
order, each from the state the previous one left; one writer client (on all six servers)
writes from `formed` to `durable`.

  formed   s1..s3 elect; /zookeeper/config reads the same on each, with a version line
  add      s4 joins (dynamic file = current config + itself), serves as a non-voting
           follower, then reconfig(joining=server.4): returned config, /zookeeper/config
           on every member, s4's srvr/conf, zoo.cfg.dynamic.VERSION on every member
  remove   reconfig(leaving=LEADER): the config lacks it, another member leads, writes go on
  members  s5, s6 join; reconfig(new_members=s4,s5,s6): exactly those, one of them leads
  durable  the writer stops; every acknowledged write is on s4..s6 with its data, and
           the trees (/ and the writer's) are identical there
  errors   reconfig's error answers, compared with JAVA_ERRORS (captured from the java
           topology)
Per reconfig it reports the write gap: the longest time without an acknowledged write
around the call.
"""

import argparse
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "ensemble"))

from kazoo.exceptions import ConnectionLoss, KazooException  # noqa: E402
from kazoo.retry import KazooRetry  # noqa: E402

from checker import (  # noqa: E402
    CheckFailed, FORM_TIMEOUT, LEADER_TIMEOUT, Node, all_identical, client, close,
    diff_dumps, fmt_modes, leader_of, log, modes, run_named, synced_dump, wait_formed,
    wait_until)

# lib.sh's SUPER_DIGEST is the digest of super:test (given to every server).
SUPER_AUTH = [("digest", "super:test")]
ZKCLI = os.environ.get("ZKCLI", "/usr/share/zookeeper/bin/zkCli.sh")
BASE = "/reconfig"

# What Java 3.8.0 answers (kazoo exception names), captured from the java topology; the
# `errors` check asks these on the final config s4..s6.
JAVA_ERRORS = {
    "no auth (leaving=6, no super)": "NoAuthError",
    "stale from_config (leaving=6)": "BadVersionError",
    "no quorum (new_members=4 + two down)": "NewConfigNoQuorumError",
    "leaving every member": "BadArgumentsError",
    "bad server spec": "BadArgumentsError",
    # Java accepts it: a new config version with the same members.
    "leaving a non-member (1)": "ok: members [4, 5, 6]",
}


def parse_config(data):
    """/zookeeper/config's text -> ({sid: spec}, version)."""
    servers, version = {}, None
    for line in data.decode().splitlines():
        m = re.match(r"server\.(\d+)=(.*)$", line.strip())
        if m:
            servers[int(m.group(1))] = m.group(2)
        elif line.startswith("version="):
            version = line.split("=", 1)[1].strip()
    return servers, version


def read_config(node):
    zk = client(node)
    try:
        zk.sync("/zookeeper/config")
        return zk.get("/zookeeper/config")[0]
    finally:
        close(zk)


def spare_ports(n):
    """n loopback ports nothing listens on (for servers that never run)."""
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class Writer:
    """One client on all six servers writing from `formed` to `durable`: a sequential
    znode BASE/w/n- (data: the write's number), then BASE/counter set to that number.
    Requests are not retried, so an acknowledgement is a write ZooKeeper promised."""

    def __init__(self, nodes):
        self.zk = client(nodes, connection_retry=KazooRetry(max_tries=-1, max_delay=0.5))
        self.zk.ensure_path(BASE + "/w")
        self.zk.ensure_path(BASE + "/counter")
        self.lock = threading.Lock()
        self.acked = []  # (path, data, t_ack) of the creates, in order
        self.counter = None  # the last acknowledged counter value
        self.attempted = 0
        self.errors = 0
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop_ev.is_set():
            self.attempted += 1
            data = b"%d" % self.attempted
            try:
                path = self.zk.create(BASE + "/w/n-", data, sequence=True)
                with self.lock:
                    self.acked.append((path, data, time.monotonic()))
                self.zk.set(BASE + "/counter", data)
                with self.lock:
                    self.counter = self.attempted
                time.sleep(0.02)
            except Exception:  # noqa: BLE001 - connection loss, timeouts: not acked
                with self.lock:
                    self.errors += 1
                time.sleep(0.05)

    def stop(self):
        self.stop_ev.set()
        self.thread.join(timeout=30)
        with self.lock:
            acked, counter = list(self.acked), self.counter
        close(self.zk)
        return acked, counter

    def acks_after(self, t):
        with self.lock:
            return sum(1 for _, _, ta in self.acked if ta > t)

    def gap(self, t0, t1):
        """The longest time without an acknowledged write from the last ack before t0
        to the first after t1."""
        with self.lock:
            times = [ta for _, _, ta in self.acked]
        seq = ([t for t in times if t < t0][-1:] + [t for t in times if t0 <= t <= t1]
               + [t for t in times if t > t1][:1])
        return max((b - a for a, b in zip(seq, seq[1:])), default=float("nan"))


class Checks:
    def __init__(self, run_dir, label):
        self.label = label
        self.nodes = {s: Node(run_dir, s) for s in range(1, 7)}
        self.members = []  # sids of the current config, as the last reconfig returned
        self.config = None  # its /zookeeper/config text
        self.writer = None
        self.gaps = []

    def heal(self):
        pass  # one scenario: each check starts where the last left off

    def info(self, check, msg):
        print(f"INFO {self.label} {check}: {msg}", flush=True)

    def line(self, sid):
        with open(os.path.join(self.nodes[sid].dir, "server_line")) as f:
            return f.read().strip()

    def spec(self, sid):
        return self.line(sid).split("=", 1)[1]

    def member_nodes(self, sids=None):
        return [self.nodes[s] for s in (sids or self.members)]

    def dyn_files(self, sid):
        return sorted(f for f in os.listdir(self.nodes[sid].dir)
                      if f.startswith("zoo.cfg.dynamic."))

    def cfg_pointer(self, sid):
        """zoo.cfg's dynamicConfigFile and whether clientPort is still there."""
        with open(os.path.join(self.nodes[sid].dir, "zoo.cfg")) as f:
            text = f.read()
        m = re.search(r"^dynamicConfigFile=(.*)$", text, re.M)
        ptr = os.path.basename(m.group(1)) if m else "none"
        return f"{ptr}{'' if 'clientPort=' in text else ', no clientPort'}"

    # ------------------------------------------------------------ helpers

    def expect_config(self, data, sids):
        servers, version = parse_config(data)
        want = {s: self.spec(s) for s in sids}
        if servers != want or not version:
            raise CheckFailed(f"config {data.decode()!r}, expected servers {want} and a version")
        return version

    def same_config_everywhere(self, data):
        """Every member reads `data` from /zookeeper/config after sync."""
        for n in self.member_nodes():
            seen = []
            try:
                wait_until(lambda: seen.append(read_config(n)) or seen[-1] == data, 20,
                           f"sid{n.sid} to read the new config")
            except CheckFailed:
                raise CheckFailed(f"sid{n.sid} reads {seen[-1:]!r}, not {data!r}")

    def join(self, sid):
        """Start sid with the documented joiner config: the current one plus itself."""
        n = self.nodes[sid]
        lines = [f"server.{s}={spec}" for s, spec in sorted(parse_config(self.config)[0].items())]
        with open(os.path.join(n.dir, "zoo.cfg.dynamic"), "w") as f:
            f.write("\n".join(lines + [self.line(sid)]) + "\n")
        n.start()

        def serving():
            if not n.running():  # fail at once, not after FORM_TIMEOUT
                tail = n.log_since(0).strip().splitlines()[-1:]
                raise CheckFailed(f"joiner sid{sid} ({n.kind}) exited: {tail}")
            return n.mode() in ("follower", "leader") and n.mode()
        mode = wait_until(serving, FORM_TIMEOUT, f"joiner sid{sid} ({n.kind}) to serve")
        self.info("join", f"sid{sid} ({n.kind}) serves as {mode} before it is added")

    def reconfig(self, via, **kw):
        """A super client on `via` (sids that stay members) asks for a reconfig. Returns
        (config text, how it was answered, start, end). When the leader changes, Java's
        servers drop their clients before the answer goes out (ConnectionLoss though the
        reconfig committed): then the config is read once a member of `via` leads."""
        kw = {"joining": None, "leaving": None, "new_members": None, **kw}
        zk = client(self.member_nodes(via), auth_data=SUPER_AUTH)
        try:
            t0 = time.monotonic()
            try:
                data, _ = zk.reconfig(**kw)
                answer = "answered"
            except ConnectionLoss:
                data, answer = None, "ConnectionLoss"
            t1 = time.monotonic()
        finally:
            close(zk)
        if data is None:
            self.leader(via)
            data = read_config(self.nodes[via[0]])
        return data, answer, t0, t1

    def after_reconfig(self, what, t0, t1):
        """Writes go on after the reconfig; records the write gap around it."""
        wait_until(lambda: self.writer.acks_after(t1) >= 20, LEADER_TIMEOUT,
                   f"writes after {what}")
        g = self.writer.gap(t0, t1)
        self.gaps.append((what, g))
        return g

    def require(self, ok, what):
        """A check that needs an earlier one's outcome fails plainly without it, rather
        than testing something else (e.g. the errors of a Java-only config)."""
        if not ok:
            raise CheckFailed(f"needs {what}; the config is {self.members}")

    def leader(self, sids):
        sid = wait_until(lambda: leader_of(self.member_nodes(sids)), LEADER_TIMEOUT,
                         f"one leader among {sids}")
        return sid

    def identical_from_root(self, nodes):
        """The whole trees are identical, except /zookeeper/config's stat: Java stamps its
        mtime with each server's own clock when it activates a config."""
        dumps = {}
        for n in nodes:
            d = synced_dump(n, "/")
            if "/zookeeper/config" in d:
                d["/zookeeper/config"] = (d["/zookeeper/config"][0], None)
            dumps[n.sid] = d
        first = nodes[0].sid
        for n in nodes[1:]:
            diff = diff_dumps(dumps[first], dumps[n.sid], f"sid{first}", f"sid{n.sid}")
            if diff:
                raise CheckFailed(diff)
        return dumps[first]

    # ------------------------------------------------------------ checks

    def check_formed(self):
        first = [1, 2, 3]
        wait_formed(self.member_nodes(first))
        configs = {s: read_config(self.nodes[s]) for s in first}
        if len(set(configs.values())) != 1:
            raise CheckFailed(f"/zookeeper/config differs: {configs}")
        self.config, self.members = configs[1], first
        version = self.expect_config(self.config, first)
        self.writer = Writer(list(self.nodes.values()))
        wait_until(lambda: self.writer.acks_after(0) >= 20, 30, "the writer's first writes")
        return (f"version {version} on sid1..3; files {self.dyn_files(1)}, zoo.cfg -> "
                f"{self.cfg_pointer(1)}; leader sid{leader_of(self.member_nodes())}")

    def check_add(self):
        self.join(4)
        data, answer, t0, t1 = self.reconfig(self.members, joining=self.line(4))
        version = self.expect_config(data, [1, 2, 3, 4])
        self.config, self.members = data, [1, 2, 3, 4]
        self.same_config_everywhere(data)
        gap = self.after_reconfig("add", t0, t1)
        s4 = self.nodes[4]
        mode = s4.mode()
        if mode not in ("follower", "leader"):
            raise CheckFailed(f"sid4 says {mode!r}")
        conf = s4.four_lw("conf")
        if self.line(4) not in conf or f"version={version}" not in conf:
            raise CheckFailed(f"sid4's conf lacks its line or version {version}: {conf!r}")
        # Every member writes the new config as zoo.cfg.dynamic.VERSION (hex, as in
        # /zookeeper/config) and points zoo.cfg at it.
        name = f"zoo.cfg.dynamic.{version}"
        try:
            wait_until(lambda: all(name in self.dyn_files(s) for s in self.members), 15,
                       f"{name} on every member")
        except CheckFailed:
            raise CheckFailed(f"{name} missing: " + ", ".join(
                f"sid{s} ({self.nodes[s].kind}) has {self.dyn_files(s)}" for s in self.members))
        return (f"version {version} ({answer}); sid4 ({s4.kind}) {mode}; {name} on sid1..4, "
                f"s4 zoo.cfg -> {self.cfg_pointer(4)}; write gap {gap:.2f}s")

    def check_remove(self):
        self.require(4 in self.members, "`add` (sid4 a member)")
        old = self.leader(self.members)
        stay = [s for s in self.members if s != old]
        data, answer, t0, t1 = self.reconfig(stay, leaving=str(old))
        version = self.expect_config(data, stay)
        self.config, self.members = data, stay
        new = self.leader(stay)
        took = time.monotonic() - t1
        gap = self.after_reconfig("remove", t0, t1)
        self.same_config_everywhere(data)
        time.sleep(2)
        removed_mode = self.nodes[old].mode() or "no answer"
        self.nodes[old].stop()
        return (f"removed leader sid{old} ({self.nodes[old].kind}), version {version} "
                f"({answer}); new "
                f"leader sid{new} ({self.nodes[new].kind}) within {took:.1f}s of the answer; "
                f"the removed server then says {removed_mode}; write gap {gap:.2f}s")

    def check_members(self):
        self.join(5)
        self.join(6)
        final = [4, 5, 6]
        data, answer, t0, t1 = self.reconfig(
            final, new_members=",".join(self.line(s) for s in final))
        version = self.expect_config(data, final)
        gone = [s for s in self.members if s not in final]
        self.config, self.members = data, final
        lead = self.leader(final)
        gap = self.after_reconfig("members", t0, t1)
        self.same_config_everywhere(data)
        time.sleep(2)
        left = fmt_modes(modes(self.member_nodes(gone)))
        for s in gone:
            self.nodes[s].stop()
        return (f"version {version} ({answer}), members sid4..6, leader sid{lead} "
                f"({self.nodes[lead].kind}); removed then say {left}; write gap {gap:.2f}s")

    def check_durable(self):
        self.require(self.writer, "`formed` (the writer)")
        acked, counter = self.writer.stop()
        self.require(self.members == [4, 5, 6], "`members` (the config sid4..6)")
        final = self.member_nodes()
        tree = all_identical(final, BASE)
        missing = [p for p, _, _ in acked if p not in tree]
        if missing:
            raise CheckFailed(f"{len(missing)} of {len(acked)} acknowledged creates missing "
                              f"(e.g. {missing[0]})")
        wrong = [p for p, d, _ in acked if tree[p][0] != d]
        if wrong:
            raise CheckFailed(f"{len(wrong)} acknowledged creates with other data "
                              f"(e.g. {wrong[0]}: {tree[wrong[0]][0]!r})")
        # The counter's last set may have been applied unacknowledged: never below the
        # last acknowledged value.
        value = int(tree[BASE + "/counter"][0] or b"0")
        if counter is not None and not counter <= value <= self.writer.attempted:
            raise CheckFailed(f"counter {value}, last acknowledged {counter}")
        root = self.identical_from_root(final)
        gaps = ", ".join(f"{w} {g:.2f}s" for w, g in self.gaps)
        return (f"{len(acked)} acked creates on sid4..6 with their data ({self.writer.errors} "
                f"unacked attempts), counter {value}; {len(root)} znodes identical from /; "
                f"write gaps: {gaps}")

    def check_errors(self):
        self.require(self.members == [4, 5, 6], "`members` (the config sid4..6)")
        final = self.member_nodes()
        stale = int(parse_config(read_config(final[0]))[1], 16) - 1
        down = [f"server.{7 + i}=127.0.0.1:{a}:{b}:participant;127.0.0.1:{c}"
                for i, (a, b, c) in enumerate(zip(*[iter(spare_ports(6))] * 3))]
        plain = client(final)
        su = client(final, auth_data=SUPER_AUTH)
        asks = [
            ("no auth (leaving=6, no super)", plain, {"leaving": "6"}),
            ("stale from_config (leaving=6)", su, {"leaving": "6", "from_config": stale}),
            ("no quorum (new_members=4 + two down)", su,
             {"new_members": ",".join([self.line(4)] + down)}),
            ("leaving every member", su, {"leaving": "4,5,6"}),
            ("bad server spec", su, {"joining": "server.9=not-a-server-spec"}),
            # last: Java accepts it, with a new config version
            ("leaving a non-member (1)", su, {"leaving": "1"}),
        ]
        got = {}
        try:
            for name, zk, kw in asks:
                kw = {"joining": None, "leaving": None, "new_members": None, **kw}
                try:
                    data, _ = zk.reconfig(**kw)
                    got[name] = f"ok: members {sorted(parse_config(data)[0])}"
                except KazooException as e:
                    got[name] = type(e).__name__
                log(f"errors: {name}: {got[name]}")
        finally:
            close(plain, su)
        after = read_config(final[0])
        for name, ans in got.items():
            self.info("errors", f"{name}: {ans}")
        differ = [f"{n}: {got[n]} (Java: {JAVA_ERRORS[n]})" for n in JAVA_ERRORS
                  if got.get(n) != JAVA_ERRORS[n]]
        if differ:
            raise CheckFailed("; ".join(differ))
        if parse_config(after)[0] != parse_config(self.config)[0]:
            raise CheckFailed(f"the members changed: {after!r}")
        return f"{len(got)} answers as Java's; members unchanged"

    def check_observer(self):
        """A removed server comes back as an observer: it joins with the current config
        plus its own line as observer, is added by reconfig (observers learn configs by
        INFORMANDACTIVATE), serves the ensemble's writes, and is removed again (a role
        change: it goes on as a non-voting participant)."""
        self.require(self.members == [4, 5, 6], "`members` (the config sid4..6)")
        sid = 1
        n = self.nodes[sid]
        obs = self.line(sid).replace(":participant;", ":observer;")
        lines = [f"server.{s}={spec}" for s, spec in sorted(parse_config(self.config)[0].items())]
        dyn = os.path.join(n.dir, "zoo.cfg.dynamic.observer")
        with open(dyn, "w") as f:
            f.write("\n".join(lines + [obs]) + "\n")
        cfg = os.path.join(n.dir, "zoo.cfg")
        with open(cfg) as f:
            text = f.read()
        text = re.sub(r"^dynamicConfigFile=.*$", f"dynamicConfigFile={dyn}", text, flags=re.M)
        with open(cfg, "w") as f:
            f.write(text)
        n.start()
        # Java takes the ensemble's newer config from the election at once, and without
        # itself in it a server is a non-voting participant: it serves as a follower until
        # the reconfig makes it an observer.
        before = wait_until(lambda: n.mode() in ("follower", "observer") and n.mode(),
                            FORM_TIMEOUT, f"sid{sid} ({n.kind}) to serve before it is added")
        data, answer, _, _ = self.reconfig(self.members, joining=obs.split("=", 1)[0]
                                           + "=" + obs.split("=", 1)[1])
        servers, version = parse_config(data)
        if servers.get(sid) != obs.split("=", 1)[1]:
            raise CheckFailed(f"config {data!r} lacks {obs}")
        self.config = data
        wait_until(lambda: n.mode() == "observer" and read_config(n) == data, LEADER_TIMEOUT,
                   f"sid{sid} to observe with the new config")
        zk = client(self.member_nodes())
        try:
            zk.set(BASE + "/counter", b"observed")
        finally:
            close(zk)
        zo = client(n)
        try:
            zo.sync(BASE)
            seen = zo.get(BASE + "/counter")[0]
        finally:
            close(zo)
        if seen != b"observed":
            raise CheckFailed(f"the observer reads {seen!r}")
        data, _, _, _ = self.reconfig(self.members, leaving=str(sid))
        if sid in parse_config(data)[0]:
            raise CheckFailed(f"sid{sid} still in {data!r}")
        self.config = data
        wait_until(lambda: n.mode() in ("follower", "observer") and read_config(n) == data,
                   LEADER_TIMEOUT, f"sid{sid} to serve the config without it")
        after = n.mode()
        n.stop()
        return (f"sid{sid} ({n.kind}) served as {before}, added as observer at version "
                f"{version} ({answer}), observed and read a write, removed; then {after}")

    def check_cli(self):
        """zkCli.sh and `ferrokeeper cli` run the same reconfig session (as super: `config`,
        `reconfig -remove` of a non-member, which commits a new version, and a refusal)
        against the ensemble; their outputs must match once versions are masked."""
        self.require(self.members == [4, 5, 6], "`members` (the config sid4..6)")
        fk_bin = os.environ.get("FERROKEEPER_BIN", "")
        if not os.access(fk_bin, os.X_OK):
            raise CheckFailed("no FERROKEEPER_BIN for `ferrokeeper cli`")
        addr = ",".join(n.addr for n in self.member_nodes())
        script = ("addauth digest super:test\nconfig\nreconfig -remove 9\n"
                  "reconfig -add server.9=127.0.0.1:1:2:participant -v 1\nquit\n")
        outs = {}
        for name, argv in (("zkCli", [ZKCLI, "-server", addr]),
                           ("ferrokeeper cli", [fk_bin, "cli", "-server", addr])):
            r = subprocess.run(argv, input=script, capture_output=True, text=True, timeout=120)
            outs[name] = cli_lines(r.stdout + r.stderr)
        if outs["zkCli"] != outs["ferrokeeper cli"]:
            raise CheckFailed(f"zkCli {outs['zkCli']!r} != ferrokeeper cli "
                              f"{outs['ferrokeeper cli']!r}")
        return f"{len(outs['zkCli'])} lines alike (config, committed reconfig, refusal)"


def cli_lines(text):
    """A CLI transcript's answers: connection chatter and logging dropped, config
    versions masked (each session's reconfig commits its own)."""
    keep = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("WATCHER::", "WatchedEvent", "Connecting to",
                                        "Welcome to", "JLine", "log4j", "SLF4J")):
            continue
        if re.match(r"^\d{4}-\d\d-\d\d", line) or re.match(r"^\d+ \[", line):
            continue
        keep.append(re.sub(r"^version=[0-9a-f]+$", "version=V", line))
    return keep


CHECKS = {
    "formed": "check_formed",
    "add": "check_add",
    "remove": "check_remove",
    "members": "check_members",
    "durable": "check_durable",
    "errors": "check_errors",
    "observer": "check_observer",
    "cli": "check_cli",
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--label", required=True)
    ap.add_argument("--run-dir", required=True)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    checks = Checks(args.run_dir, args.label)
    try:
        run_named(checks, list(CHECKS), CHECKS)
    finally:
        if checks.writer:
            checks.writer.stop_ev.set()
    return 0


if __name__ == "__main__":
    sys.exit(main())
