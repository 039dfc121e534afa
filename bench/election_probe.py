#!/usr/bin/env python3
"""Leader failover time of a ZooKeeper ensemble: kill -9 the leader, then time until the first
write succeeds on a survivor. Used by bench/ensemble.sh; no dependencies beyond Python 3.

    election_probe.py --kill PID --servers HOST:PORT,HOST:PORT [--timeout 60] [--label X]

The probe speaks the client protocol itself (jute over a plain socket): each attempt opens a
fresh connection to one survivor (alternating), sends a ConnectRequest for a new session,
and on its answer a create of a persistent sequential znode under /fkbench-election. In
ZooKeeper a new session is itself a transaction that the leader commits, so a ConnectResponse
already means the quorum is back; the create is the write that is timed. The time is from
just before os.kill(PID, SIGKILL) to the arrival of the create's successful reply
(time.monotonic). A failed attempt (refused, closed, timed out, an error code) is retried after
RETRY_SLEEP; the report's resolution_ms is the span from the start of the last failed attempt
to the success, i.e. how late the first success can be seen after the ensemble could first
take it (it includes the successful attempt's own session and create, two commits).

One JSON line on stdout: {"election_ms", "attempts", "resolution_ms", "first_ok", "errors",
"error_kinds", "last_error"}; errors is 1 when no write succeeded within --timeout.
"""
import argparse
import json
import os
import signal
import socket
import struct
import sys
import time

RETRY_SLEEP = 0.005
CONNECT_TIMEOUT = 0.5  # TCP connect
REPLY_TIMEOUT = 2.0  # ConnectResponse and the create's reply
PARENT = "/fkbench-election"


def buf(b):
    return struct.pack(">i", len(b)) + b


def string(s):
    return buf(s.encode())


def frame(payload):
    return struct.pack(">i", len(payload)) + payload


def recv_exact(sock, n, deadline):
    out = b""
    while len(out) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("reply timed out")
        sock.settimeout(left)
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ConnectionError("closed by server")
        out += chunk
    return out


def recv_frame(sock, deadline):
    (n,) = struct.unpack(">i", recv_exact(sock, 4, deadline))
    if n < 0 or n > 1 << 20:
        raise ConnectionError(f"bad frame length {n}")
    return recv_exact(sock, n, deadline)


CREATE, CLOSE = 1, -11
OPEN_ACL_UNSAFE = struct.pack(">i", 1) + struct.pack(">i", 31) + string("world") + string("anyone")
PERSISTENT, PERSISTENT_SEQUENTIAL = 0, 2


def create_req(xid, path, flags):
    return frame(struct.pack(">ii", xid, CREATE) + string(path) + buf(b"x") + OPEN_ACL_UNSAFE
                 + struct.pack(">i", flags))


def attempt(host, port, path, flags):
    """One session: connect, create PATH. Returns None on success, else a short error."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            sock.connect((host, port))
        except OSError as e:
            return f"connect: {e.__class__.__name__}"
        # ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, readOnly
        sock.sendall(frame(struct.pack(">iqiq", 0, 0, 4000, 0) + buf(b"\0" * 16) + b"\0"))
        deadline = time.monotonic() + REPLY_TIMEOUT
        try:
            resp = recv_frame(sock, deadline)
        except (OSError, TimeoutError, ConnectionError) as e:
            return f"session: {e.__class__.__name__}"
        _, timeout, sid = struct.unpack(">iiq", resp[:16])
        if sid == 0 or timeout <= 0:
            return "session: refused"
        sock.sendall(create_req(1, path, flags))
        try:
            while True:
                rep = recv_frame(sock, deadline)
                xid, _zxid, err = struct.unpack(">iqi", rep[:16])
                if xid == 1:
                    break
                # xid -1 (a notification) or -2 (ping) are not ours
        except (OSError, TimeoutError, ConnectionError) as e:
            return f"create: {e.__class__.__name__}"
        if err != 0 and not (err == -110 and flags == PERSISTENT):  # NODEEXISTS for the parent
            return f"create: error {err}"
        try:
            sock.sendall(frame(struct.pack(">ii", 2, CLOSE)))
        except OSError:
            pass
        return None
    finally:
        sock.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kill", type=int, required=True, help="the leader's pid")
    ap.add_argument("--servers", required=True, help="the survivors, HOST:PORT,HOST:PORT")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    servers = []
    for hp in a.servers.split(","):
        h, p = hp.rsplit(":", 1)
        servers.append((h, int(p)))
    # The parent znode, and a write that works before the kill (the probe itself is sound).
    for h, p in servers:
        err = attempt(h, p, PARENT, PERSISTENT)
        if err:
            print(json.dumps({"label": a.label, "errors": 1, "last_error": f"before the kill, {h}:{p}: {err}"}))
            return 1
    t0 = time.monotonic()
    os.kill(a.kill, signal.SIGKILL)
    starts, kinds, last_error, i = [], {}, "", 0
    while True:
        now = time.monotonic()
        if now - t0 > a.timeout:
            print(json.dumps({"label": a.label, "errors": 1, "attempts": i, "error_kinds": kinds,
                              "last_error": f"no write succeeded within {a.timeout:g} s: {last_error}"}))
            return 1
        h, p = servers[i % len(servers)]
        starts.append(now)
        i += 1
        err = attempt(h, p, PARENT + "/w-", PERSISTENT_SEQUENTIAL)
        if err is None:
            t1 = time.monotonic()
            # The ensemble may have been able to take the write from just after the previous
            # attempt's start (which came too early) on: that is the reading's uncertainty.
            since = starts[-2] if len(starts) >= 2 else t0
            print(json.dumps({"label": a.label, "errors": 0, "election_ms": round((t1 - t0) * 1000, 1),
                              "attempts": i, "resolution_ms": round((t1 - since) * 1000, 1),
                              "first_ok": f"{h}:{p}", "error_kinds": kinds, "last_error": last_error}))
            return 0
        kinds[err] = kinds.get(err, 0) + 1
        last_error = f"{h}:{p}: {err}"
        time.sleep(RETRY_SLEEP)


if __name__ == "__main__":
    sys.exit(main())
