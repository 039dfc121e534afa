#!/usr/bin/env python3
"""Recording TCP proxy between a ZooKeeper client and server (dev tool, not run in CI).

Usage: proxy.py LISTEN_PORT UPSTREAM_PORT LOG.jsonl

Every frame (4-byte big-endian length + payload) in either direction is appended to
LOG.jsonl as {"conn": n, "dir": "c2s"|"s2c", "hex": payload}. A request whose payload
contains the path "/__ctl/drop" is not forwarded: the proxy closes both sides of that
connection instead, so the client reconnects (and replays its watches with setWatches).
"""
import json
import socket
import sys
import threading

LISTEN, UPSTREAM, LOG = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()
log = open(LOG, "a")


def record(conn, direction, payload):
    with lock:
        log.write(json.dumps({"conn": conn, "dir": direction, "hex": payload.hex()}) + "\n")
        log.flush()


def read_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def pump(conn, direction, src, dst, both):
    try:
        while True:
            head = read_exact(src, 4)
            if head is None:
                break
            n = int.from_bytes(head, "big", signed=True)
            payload = read_exact(src, n)
            if payload is None:
                break
            if direction == "c2s" and b"/__ctl/drop" in payload:
                break
            record(conn, direction, payload)
            dst.sendall(head + payload)
    except OSError:
        pass
    for s in both:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()


def main():
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", LISTEN))
    srv.listen(16)
    n = 0
    while True:
        c, _ = srv.accept()
        n += 1
        u = socket.create_connection(("127.0.0.1", UPSTREAM))
        both = (c, u)
        threading.Thread(target=pump, args=(n, "c2s", c, u, both), daemon=True).start()
        threading.Thread(target=pump, args=(n, "s2c", u, c, both), daemon=True).start()


if __name__ == "__main__":
    main()
