#!/usr/bin/env python3
"""A minimal raw-socket ZooKeeper client, just enough to make followers forward
writes (REQUEST), reattach a session on another server (REVALIDATE) and close it.

usage: zkclient.py writes PORT_A PORT_B TAG   -- session on A, writes, reattach on B, close
       zkclient.py burst PORT TAG N           -- N setData on /golden-TAG (for DIFF catch-up)
       zkclient.py reconfig PORT JOINING      -- incremental reconfig (needs skipACL)
       zkclient.py lone PORT PID...           -- session on the leader, SIGSTOP the PIDs
                                                 (the followers), then a write only the
                                                 leader will log (for TRUNC)
"""
import os
import signal
import time
import socket
import struct
import sys

OPEN_ACL = struct.pack(">i", 1) + struct.pack(">i", 31) + b"".join(
    struct.pack(">i", len(s)) + s for s in (b"world", b"anyone"))


def ustr(s):
    b = s.encode()
    return struct.pack(">i", len(b)) + b


def buf(b):
    return struct.pack(">i", len(b)) + b


class Conn:
    def __init__(self, port, session=0, passwd=b"\0" * 16):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        body = struct.pack(">iqiq", 0, 0, 30000, session) + buf(passwd) + b"\0"
        self.send_raw(body)
        r = self.recv_frame()
        _proto, self.timeout, self.session = struct.unpack(">iiq", r[:16])
        (n,) = struct.unpack(">i", r[16:20])
        self.passwd = r[20:20 + n]
        self.xid = 0

    def send_raw(self, body):
        self.s.sendall(struct.pack(">i", len(body)) + body)

    def recv_frame(self):
        hdr = self.recv_n(4)
        (n,) = struct.unpack(">i", hdr)
        return self.recv_n(n)

    def recv_n(self, n):
        out = b""
        while len(out) < n:
            chunk = self.s.recv(n - len(out))
            if not chunk:
                raise EOFError("server closed")
            out += chunk
        return out

    def call(self, op, body):
        self.xid += 1
        self.send_raw(struct.pack(">ii", self.xid, op) + body)
        while True:
            r = self.recv_frame()
            xid, zxid, err = struct.unpack(">iqi", r[:16])
            if xid == self.xid:
                return err

    def create(self, path, data, flags=0):
        return self.call(1, ustr(path) + buf(data) + OPEN_ACL + struct.pack(">i", flags))

    def set_data(self, path, data):
        return self.call(5, ustr(path) + buf(data) + struct.pack(">i", -1))

    def set_acl(self, path):
        return self.call(7, ustr(path) + OPEN_ACL + struct.pack(">i", -1))

    def delete(self, path):
        return self.call(2, ustr(path) + struct.pack(">i", -1))

    def sync(self, path):
        return self.call(9, ustr(path))

    def multi(self, path):
        def hdr(t):
            return struct.pack(">i?i", t, False, -1)
        body = (hdr(1) + ustr(path + "/m") + buf(b"m") + OPEN_ACL + struct.pack(">i", 0)
                + hdr(5) + ustr(path + "/m") + buf(b"m2") + struct.pack(">i", -1)
                + hdr(2) + ustr(path + "/m") + struct.pack(">i", -1)
                + struct.pack(">i?i", -1, True, -1))
        return self.call(14, body)

    def reconfig(self, joining):
        # ReconfigRequest: joiningServers, leavingServers (null), newMembers (null), curConfigId
        body = ustr(joining) + struct.pack(">iiq", -1, -1, -1)
        return self.call(16, body)

    def hold(self, seconds):
        """Client pings for a while, so the session shows up in the learner's touch table
        when the leader's next PING arrives."""
        end = time.time() + seconds
        while time.time() < end:
            self.send_raw(struct.pack(">ii", -2, 11))
            self.recv_frame()
            time.sleep(0.2)

    def close_session(self):
        self.xid += 1
        self.send_raw(struct.pack(">ii", self.xid, -11))
        try:
            self.recv_frame()
        except (EOFError, OSError):
            pass
        self.s.close()


def writes(port_a, port_b, tag):
    c = Conn(port_a)
    root = "/golden-" + tag
    print("create", c.create(root, b"v0"))
    print("ephemeral-seq", c.create(root + "/e-", b"eph", flags=3))
    print("setData", c.set_data(root, b"v1"))
    print("setACL", c.set_acl(root))
    print("multi", c.multi(root))
    print("sync", c.sync(root))
    print("delete-missing", c.delete(root + "/missing"))
    # Drop the socket without closeSession and reattach on B: B must REVALIDATE.
    session, passwd = c.session, c.passwd
    c.s.close()
    d = Conn(port_b, session, passwd)
    print("reattached", hex(d.session), "timeout", d.timeout)
    print("setData-on-B", d.set_data(root, b"v2"))
    d.hold(2.5)
    d.close_session()


def burst(port, tag, n):
    c = Conn(port)
    root = "/golden-" + tag
    c.create(root, b"b")
    for i in range(n):
        c.set_data(root, b"b%d" % i)
    c.close_session()


if __name__ == "__main__":
    if sys.argv[1] == "writes":
        writes(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif sys.argv[1] == "reconfig":
        c = Conn(int(sys.argv[2]))
        print("reconfig", c.reconfig(sys.argv[3]))
        c.close_session()
    elif sys.argv[1] == "lone":
        # The session must be committed before the followers freeze.
        c = Conn(int(sys.argv[2]))
        for pid in sys.argv[3:]:
            os.kill(int(pid), signal.SIGSTOP)
        c.xid += 1
        c.send_raw(struct.pack(">ii", c.xid, 1) + ustr("/golden-lone") + buf(b"x") + OPEN_ACL
                   + struct.pack(">i", 0))
        time.sleep(1.5)  # the leader logs (and fsyncs) the proposal; no quorum can ack it
        print("lone write sent")
    else:
        burst(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
