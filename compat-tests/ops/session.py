#!/usr/bin/env python3
"""A minimal raw ZooKeeper client for the ops suite: opens a session, creates a
persistent and an ephemeral node under BASE, leaves a data watch and a child
watch, prints "ready SESSIONID", then holds the session until stdin closes.

    session.py HOST:PORT BASE
"""
import socket
import struct
import sys


def frame(payload):
    return struct.pack(">i", len(payload)) + payload


def jstr(s):
    b = s.encode()
    return struct.pack(">i", len(b)) + b


def jbuf(b):
    return struct.pack(">i", len(b)) + b


def recv_exact(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise EOFError("server closed the connection")
        out += chunk
    return out


def recv_frame(sock):
    (n,) = struct.unpack(">i", recv_exact(sock, 4))
    return recv_exact(sock, n)


WORLD_ACL = struct.pack(">i", 1) + struct.pack(">i", 31) + jstr("world") + jstr("anyone")


class Client:
    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        req = struct.pack(">iqiq", 0, 0, 30000, 0) + jbuf(b"\0" * 16) + b"\0"
        self.sock.sendall(frame(req))
        resp = recv_frame(self.sock)
        _proto, _timeout, self.session_id = struct.unpack(">iiq", resp[:16])
        self.xid = 0

    def call(self, op, body):
        self.xid += 1
        self.sock.sendall(frame(struct.pack(">ii", self.xid, op) + body))
        while True:
            resp = recv_frame(self.sock)
            xid, _zxid, err = struct.unpack(">iqi", resp[:16])
            if xid == self.xid:
                return err

    def create(self, path, data=b"", flags=0):
        return self.call(1, jstr(path) + jbuf(data) + WORLD_ACL + struct.pack(">i", flags))

    def get_data(self, path, watch):
        return self.call(4, jstr(path) + (b"\1" if watch else b"\0"))

    def get_children(self, path, watch):
        return self.call(8, jstr(path) + (b"\1" if watch else b"\0"))


def main():
    addr, base = sys.argv[1], sys.argv[2]
    c = Client(addr)
    c.create(base, b"ops")
    c.create(base + "/persistent", b"data")
    c.create(base + "/ephemeral", b"e", flags=1)
    c.get_data(base + "/persistent", True)
    c.get_children(base, True)
    print("ready 0x%x" % c.session_id, flush=True)
    sys.stdin.read()
    c.call(-11, b"")


if __name__ == "__main__":
    main()
