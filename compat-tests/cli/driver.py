#!/usr/bin/env python3
"""Drive an interactive ZooKeeper CLI (zkCli.sh or the C client's cli_mt)
through a script, one command at a time, and write a raw transcript.

Usage: driver.py {zkcli|climt} ADDR SCRIPT RAW_OUT

Why a driver instead of `cli < script`:
  * zkCli prints watch events from its event thread, so they can interleave
    with the output of the next command; cli_mt runs every command
    asynchronously and its line reader drops input when several lines arrive
    in one read().  The driver therefore sends one command, then a
    "sentinel" command whose output marks the end of the previous one, and
    waits for the sentinel before sending the next command.
  * a command line may end with `#events=N`: the driver then also waits
    until N watch-event lines were printed for it (zkCli delivers events
    asynchronously), so events are attributed to the command that triggered
    them.

Script format:
  ### NAME          starts a section (a unit of comparison)
  # text            comment
  @sleep SECONDS    driver pause (e.g. to let the container/TTL reaper run)
  @ADDR@            replaced by the server address in commands
  anything else     a CLI command, optionally ending in `#events=N`

Raw transcript format (normalize.py turns it into the compared transcript):
  ### NAME
  > command
  output line...
Sections "(startup)" and "(shutdown)" hold what the CLI printed before the
first and after the last command.
"""

import os
import queue
import re
import subprocess
import sys
import threading
import time

ZKCLI = os.environ.get("ZKCLI", "/usr/share/zookeeper/bin/zkCli.sh")
CLIMT = os.environ.get("CLIMT", "/usr/lib/zookeeper/bin/cli_mt")
CMD_TIMEOUT = float(os.environ.get("CLI_CMD_TIMEOUT", "30"))
EVENT_TIMEOUT = float(os.environ.get("CLI_EVENT_TIMEOUT", "10"))
START_TIMEOUT = float(os.environ.get("CLI_START_TIMEOUT", "60"))

# Trailing directives: "  #events=N", "  #sort", or both ("#events=1 sort").
DIRECTIVE_RE = re.compile(r"\s+#((?:events=\d+|sort)(?:[ ,]+(?:events=\d+|sort))*)\s*$")


class Proc(object):
    """A child process whose merged stdout+stderr is read line by line."""

    def __init__(self, argv, env):
        self.p = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, env=env, bufsize=0)
        self.q = queue.Queue()
        self.t = threading.Thread(target=self._reader, daemon=True)
        self.t.start()

    def _reader(self):
        buf = b""
        while True:
            chunk = self.p.stdout.read1(65536) if hasattr(
                self.p.stdout, "read1") else os.read(self.p.stdout.fileno(),
                                                     65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self.q.put(line.decode("utf-8", "replace"))
        if buf:
            self.q.put(buf.decode("utf-8", "replace"))
        self.q.put(None)  # EOF

    def send(self, line):
        try:
            self.p.stdin.write((line + "\n").encode())
            self.p.stdin.flush()
            return True
        except (BrokenPipeError, OSError):
            return False

    def readline(self, deadline):
        """Next line, None at EOF, False on timeout."""
        t = deadline - time.monotonic()
        if t <= 0:
            return False
        try:
            return self.q.get(timeout=t)
        except queue.Empty:
            return False

    def close_stdin(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass


class ZkCli(object):
    name = "zkcli"

    def argv(self, addr):
        return [ZKCLI, "-server", addr]

    def env(self):
        env = dict(os.environ)
        # Debian's zkEnv.sh hardcodes the log dir; keep the client's log4j/
        # slf4j output off our stdout anyway (slf4j falls back to NOP).
        env.setdefault("ZOO_LOG_DIR", "/tmp")
        env["CLIENT_JVMFLAGS"] = env.get("CLIENT_JVMFLAGS", "") + \
            " -Xmx128m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
        return env

    def is_event(self, line):
        return line.startswith("WatchedEvent ")

    def startup_done(self, line):
        return line.startswith("WatchedEvent state:SyncConnected")

    def sentinel(self, n):
        # `printwatches` (no argument) is answered by the client alone,
        # synchronously, even while disconnected, after the previous
        # (synchronous) command has finished printing.
        return "printwatches"

    def sentinel_seen(self, n, line, state):
        return line in ("printwatches is on", "printwatches is off")

    def is_main_line(self, line):
        # printed by the CLI's main thread (not by the event thread)
        return bool(line.strip()) and line != "WATCHER::" and \
            not self.is_event(line)

    def is_sentinel_tail(self, line):
        # While the session is closed, zkCli answers `printwatches` and then
        # also prints "Not connected" (ZooKeeperMain falls through to its
        # connection check).  That line arrives after the sentinel: either
        # while we wait for events, or first thing in the next window.
        return line == "Not connected"

    def quit(self):
        return "quit"


class CliMt(object):
    name = "climt"

    def argv(self, addr):
        return ["stdbuf", "-oL", "-eL", CLIMT, addr]

    def env(self):
        return dict(os.environ)

    def is_event(self, line):
        return line.startswith("Watcher ")

    def startup_done(self, line):
        return line.startswith("Got a new session id")

    def sentinel(self, n):
        # cli_mt runs commands asynchronously; a sync round trip completes
        # after every earlier request of the session (responses are in
        # order), so its completion marks the end of the previous command.
        return "sync /__sentinel_%d" % n

    def sentinel_seen(self, n, line, state):
        tag = "[/__sentinel_%d]: rc = " % n
        if line.startswith(tag):
            rc = line[len(tag):].strip()
            if rc == "0":
                state["want_name"] = True
                return False
            return True
        if state.get("want_name") and line.strip() == \
                "name = /__sentinel_%d" % n:
            return True
        return False

    def is_main_line(self, line):
        return False

    def is_sentinel_tail(self, line):
        return False

    def quit(self):
        return "quit"


class Transcript(object):
    """Raw transcript, written line by line so that a killed driver still
    leaves what it saw."""

    def __init__(self, path):
        self.f = open(path, "w")

    def append(self, line):
        self.f.write(line + "\n")
        self.f.flush()

    def close(self):
        self.f.close()


def parse_script(path, addr):
    sections = []
    cur = None
    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if line.startswith("### "):
                cur = (line[4:].strip(), [])
                sections.append(cur)
                continue
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if cur is None:
                cur = ("(unnamed)", [])
                sections.append(cur)
            events = 0
            directives = ""
            m = DIRECTIVE_RE.search(line)
            if m:
                directives = " #" + m.group(1)
                em = re.search(r"events=(\d+)", m.group(1))
                if em:
                    events = int(em.group(1))
                line = line[:m.start()]
            cur[1].append((line.replace("@ADDR@", addr).strip(), events,
                           directives))
    return sections


def main():
    if len(sys.argv) != 5:
        sys.stderr.write(__doc__)
        return 2
    kind, addr, script, out_path = sys.argv[1:]
    cli = {"zkcli": ZkCli, "climt": CliMt}[kind]()
    sections = parse_script(script, addr)
    out = Transcript(out_path)
    problems = 0

    proc = Proc(cli.argv(addr), cli.env())
    out.append("### (startup)")
    deadline = time.monotonic() + START_TIMEOUT
    alive = True
    while True:
        line = proc.readline(deadline)
        if line is False:
            out.append("!! timeout waiting for the session to connect")
            problems += 1
            proc.p.kill()
            alive = False
            break
        if line is None:
            out.append("!! CLI exited during startup")
            alive = False
            problems += 1
            break
        out.append(line)
        if cli.startup_done(line):
            break

    n = 0
    # zkCli: after a sentinel, the main thread may print one more line
    # ("Not connected", see ZkCli.is_sentinel_tail) before it reads the next
    # command; True until the first main-thread line after the sentinel.
    tail_pending = False
    for name, cmds in sections:
        out.append("### " + name)
        for cmd, events, directives in cmds:
            out.append("> " + cmd + directives)
            if not alive:
                out.append("!! CLI not running")
                continue
            if cmd.startswith("@sleep"):
                time.sleep(float(cmd.split()[1]))
                continue
            n += 1
            ok = proc.send(cmd) and proc.send(cli.sentinel(n))
            deadline = time.monotonic() + CMD_TIMEOUT
            state = {}
            seen_events = 0
            got_sentinel = False
            while True:
                if got_sentinel and seen_events >= events:
                    break
                if got_sentinel:
                    # only waiting for events now
                    line = proc.readline(min(deadline, ev_deadline))
                else:
                    line = proc.readline(deadline)
                if line is False:
                    out.append("!! timeout (%s)" % (
                        "events: got %d of %d" % (seen_events, events)
                        if got_sentinel else "no end-of-command marker"))
                    problems += 1
                    if not got_sentinel:
                        # The CLI is stuck (e.g. a request the server never
                        # answers): stop it; later commands are not run.
                        out.append("!! stopping the CLI")
                        proc.p.kill()
                        alive = False
                    break
                if line is None:
                    out.append("!! CLI exited")
                    alive = False
                    problems += 1
                    break
                if not got_sentinel and cli.sentinel_seen(n, line, state):
                    got_sentinel = True
                    tail_pending = True
                    ev_deadline = time.monotonic() + EVENT_TIMEOUT
                    continue
                if state.get("want_name") and not got_sentinel and \
                        line.startswith("[/__sentinel_%d]" % n):
                    continue
                if cli.is_event(line):
                    seen_events += 1
                elif cli.is_main_line(line) and tail_pending:
                    tail_pending = False
                    if cli.is_sentinel_tail(line):
                        continue
                out.append(line)
            if not ok:
                alive = False

    out.append("### (shutdown)")
    if alive:
        proc.send(cli.quit())
        proc.close_stdin()
        deadline = time.monotonic() + CMD_TIMEOUT
        while True:
            line = proc.readline(deadline)
            if line is False:
                out.append("!! timeout waiting for the CLI to exit")
                problems += 1
                break
            if line is None:
                break
            if cli.is_main_line(line) and tail_pending:
                tail_pending = False
                if cli.is_sentinel_tail(line):
                    continue
            out.append(line)
    try:
        proc.p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.p.kill()
        proc.p.wait()
    out.close()
    if problems:
        sys.stderr.write("driver: %d problem(s) talking to %s, see %s\n"
                         % (problems, cli.name, out_path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
