#!/usr/bin/env python3
"""Golden replies: replays the captured conversation of the official ZooKeeper 3.8 Java
client with a ZooKeeper 3.8.0 server (tests/golden/capture/capture.jsonl) against a live
server, and compares every frame the server sends with the captured one, byte for byte.

    replay.py HOST:PORT [CAPTURE.jsonl]

The capture's frames are replayed in their recorded order, on as many connections as the
capture has: a client frame is sent as it was, a server frame is read from its connection
and compared. Only fields that must vary between runs and servers are left out, chosen by
their position in the reply's record (parsed from the captured frame by the request's
opcode), never by a fuzzy compare:

  * ReplyHeader.zxid (except in notifications and auth replies, whose zxid is always -1
    and 0);
  * in every Stat: czxid, mzxid, ctime, mtime, pzxid;
  * a new session's id and password in its ConnectResponse.

Session ids are not masked elsewhere: a captured session id (in a reconnect's
ConnectResponse, a Stat's ephemeralOwner) must come back as the live id of that same
session. Client frames that carry what the client learnt from the server get the live
values, as the real client would send them: a reconnect's session id, password and
lastZxidSeen, setWatches' relativeZxid.

The server must be fresh (the capture creates /g and counts on its sequence numbers).
Prints `PASS name` or `FAIL name` with a hex diff per server frame; the last line is
"checks: N passed, M failed".
"""
import json
import os
import select
import socket
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CAPTURE = os.path.join(HERE, "..", "..", "tests", "golden", "capture", "capture.jsonl")
READ_TIMEOUT = 10.0
STAT_LEN = 68

RESULTS = []


def result(name, ok, why=""):
    RESULTS.append(ok)
    print(("PASS %s" % name) if ok else ("FAIL %s: %s" % (name, why)), flush=True)


class Short(Exception):
    pass


class Reader:
    """Walks a captured reply, recording the byte ranges to leave out."""

    def __init__(self, b, at=0):
        self.b, self.at, self.masks, self.owners = b, at, [], []

    def take(self, n):
        if self.at + n > len(self.b):
            raise Short("record ends at %d, wanted %d more bytes" % (self.at, n))
        v = self.b[self.at:self.at + n]
        self.at += n
        return v

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def i64(self):
        return struct.unpack(">q", self.take(8))[0]

    def buf(self):
        n = self.i32()
        return self.take(n) if n > 0 else b""

    def string(self):
        return self.buf()

    def strings(self):
        n = self.i32()
        for _ in range(max(n, 0)):
            self.string()

    def mask(self, n, what):
        self.masks.append((self.at, self.at + n, what))
        self.take(n)

    def stat(self):
        # czxid mzxid ctime mtime version cversion aversion ephemeralOwner dataLength
        # numChildren pzxid
        self.mask(8, "czxid")
        self.mask(8, "mzxid")
        self.mask(8, "ctime")
        self.mask(8, "mtime")
        self.take(12)
        self.owners.append(self.at)
        self.take(8 + 8)
        self.mask(8, "pzxid")

    def acls(self):
        for _ in range(max(self.i32(), 0)):
            self.i32()
            self.string()
            self.string()

    def done(self):
        if self.at != len(self.b):
            raise Short("%d bytes left after the record" % (len(self.b) - self.at))


# Reply bodies by request opcode (ZooKeeper's jute records).
def body_multi(r, read_only):
    while True:
        ty = r.i32()
        done = r.take(1)[0]
        r.i32()  # err
        if done:
            return
        if ty in (1,):
            r.string()
        elif ty in (15, 19, 21):
            r.string()
            r.stat()
        elif ty in (2, 13):
            pass
        elif ty == 5:
            r.stat()
        elif ty == 4:
            r.buf()
            r.stat()
        elif ty == 8:
            r.strings()
        elif ty == -1:
            r.i32()
        else:
            raise Short("multi result type %d" % ty)


BODIES = {
    1: lambda r: r.string(),
    15: lambda r: (r.string(), r.stat()),
    19: lambda r: (r.string(), r.stat()),
    21: lambda r: (r.string(), r.stat()),
    3: lambda r: r.stat(),
    4: lambda r: (r.buf(), r.stat()),
    5: lambda r: r.stat(),
    6: lambda r: (r.acls(), r.stat()),
    7: lambda r: r.stat(),
    8: lambda r: r.strings(),
    12: lambda r: (r.strings(), r.stat()),
    9: lambda r: r.string(),
    14: lambda r: body_multi(r, False),
    22: lambda r: body_multi(r, True),
    103: lambda r: r.strings(),
    104: lambda r: r.i32(),
    106: lambda r: r.i32(),
    107: lambda r: [(r.string(), r.string()) for _ in range(max(r.i32(), 0))],
}


def reply_layout(b, op):
    """(masks, ephemeralOwner offsets) of a reply to a request with opcode `op`."""
    r = Reader(b)
    xid = r.i32()
    if xid == -1:
        # A notification: ReplyHeader{-1, -1, 0} ‖ WatcherEvent{type, state, path}.
        r.take(8 + 4 + 4 + 4)
        r.string()
        r.done()
        return r.masks, r.owners
    if xid == -4:
        r.take(8)  # an auth reply's zxid is always 0
    else:
        r.mask(8, "zxid")
    err = r.i32()
    if r.at < len(b):
        if op not in BODIES:
            raise Short("a body after the header of op %s" % op)
        BODIES[op](r)
    elif err == 0 and op in BODIES and op not in (2, 17, 18, 101, 105):
        raise Short("no body for op %s" % op)
    r.done()
    return r.masks, r.owners


def connect_layout(b):
    """ConnectResponse: protocolVersion timeOut sessionId passwd [readOnly]."""
    r = Reader(b)
    r.i32()
    r.i32()
    sid_at = r.at
    r.take(8)
    r.i32()
    pw_at = r.at
    r.take(16)
    if r.at < len(b):
        r.take(1)
    r.done()
    return sid_at, pw_at


def hexdump(b, masks, width=16):
    masked = set()
    for s, e, _ in masks:
        masked.update(range(s, e))
    rows = []
    for off in range(0, len(b), width):
        cells = []
        for i in range(off, min(off + width, len(b))):
            cells.append("__" if i in masked else "%02x" % b[i])
        rows.append("%04x  %s" % (off, " ".join(cells)))
    return rows


def diff_text(want, got, masks):
    lines = ["  captured (ZooKeeper 3.8.0), %d bytes; __ = masked:" % len(want)]
    lines += ["    " + l for l in hexdump(want, masks)]
    lines.append("  live server, %d bytes:" % len(got))
    lines += ["    " + l for l in hexdump(got, masks)]
    firsts = [i for i in range(min(len(want), len(got)))
              if want[i] != got[i] and not any(s <= i < e for s, e, _ in masks)]
    if firsts:
        lines.append("  first differing byte at offset 0x%x (%d differ)" % (firsts[0], len(firsts)))
    elif len(want) != len(got):
        lines.append("  lengths differ")
    return "\n".join(lines)


class Conn:
    def __init__(self, addr):
        self.sock = socket.create_connection(addr, timeout=READ_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.ops = {}  # xid -> opcode of the requests sent
        self.session = None  # captured session id

    def send(self, payload):
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)

    def recv_exact(self, n):
        out = b""
        deadline = time.monotonic() + READ_TIMEOUT
        while len(out) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no frame within %.0f s" % READ_TIMEOUT)
            self.sock.settimeout(left)
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise EOFError("the server closed the connection")
            out += chunk
        return out

    def recv(self):
        (n,) = struct.unpack(">i", self.recv_exact(4))
        return self.recv_exact(n)

    def pending(self):
        """Whatever the server sent that the capture does not have (waits briefly)."""
        try:
            r, _, _ = select.select([self.sock], [], [], 0.3)
            if not r:
                return b""
            self.sock.setblocking(False)
            return self.sock.recv(65536)
        except (OSError, ValueError):
            return b""  # closed by the server, or by the replay before a reconnect

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    addr = (host, int(port))
    capture = sys.argv[2] if len(sys.argv) > 2 else DEFAULT_CAPTURE
    frames = [json.loads(l) for l in open(capture)]

    conns = {}  # capture conn number -> Conn
    started = set()
    live_sid = {}  # captured session id -> live session id
    live_pw = {}  # captured session id -> live password
    last_zxid = {}  # captured session id -> highest zxid the live server answered with
    label = {}  # capture conn -> name of the next request (from its /__label/ marker)
    names = {}  # (capture conn, xid) -> check name of the reply
    seen = {}
    counts = {}

    def unique(name):
        k = seen.get(name, 0) + 1
        seen[name] = k
        return name if k == 1 else "%s.%d" % (name, k)

    for i, fr in enumerate(frames):
        c = fr["conn"]
        b = bytes.fromhex(fr["hex"])
        if fr["dir"] == "c2s":
            if c not in started:
                started.add(c)
                # ConnectRequest: protocolVersion lastZxidSeen timeOut sessionId passwd [readOnly]
                sid = struct.unpack(">q", b[16:24])[0]
                if sid != 0:
                    # A reconnect: the capture's proxy had cut the session's old connection.
                    for o in conns.values():
                        if o.session == sid:
                            o.close()
                    if sid not in live_sid:
                        result("conn%d.connect_request" % c, False, "reconnect of an unknown session")
                        continue
                    b = (b[:4] + struct.pack(">q", last_zxid.get(sid, 0)) + b[12:16]
                         + struct.pack(">q", live_sid[sid]) + b[24:28] + live_pw[sid] + b[44:])
                try:
                    conns[c] = Conn(addr)
                except OSError as e:
                    result("conn%d.connect" % c, False, "cannot connect: %s" % e)
                    return
                conns[c].session = sid if sid != 0 else None
                conns[c].connect_sent = True
                conns[c].send(b)
                continue
            conn = conns.get(c)
            if conn is None:
                continue
            xid, op = struct.unpack(">ii", b[:8])
            if op == 3 and b"/__label/" in b:
                label[c] = b[8 + 4 + len("/__label/"):-1].decode()
                names[(c, xid)] = "marker." + label[c]
            elif xid == -2:
                names[(c, xid)] = "ping"
            elif xid == -4:
                names[(c, xid)] = "auth"
            elif op in (101, 105):
                names[(c, xid)] = {101: "set_watches", 105: "set_watches2"}[op]
                # relativeZxid: what the client had seen, as the live client would send it
                sid = conn.session
                b = b[:8] + struct.pack(">q", last_zxid.get(sid, 0)) + b[16:]
            elif c in label:
                names[(c, xid)] = label.pop(c)
            else:
                names[(c, xid)] = "conn%d.op%d" % (c, op)
            conn.ops[xid] = op
            try:
                conn.send(b)
            except OSError as e:
                result(unique(names[(c, xid)]) + ".request", False, "send failed: %s" % e)
            continue

        # A server frame: read the live one and compare.
        conn = conns.get(c)
        if conn is None:
            continue
        want = b
        try:
            got = conn.recv()
        except (OSError, EOFError) as e:
            xid = struct.unpack(">i", want[:4])[0] if len(want) >= 4 else 0
            result(unique(names.get((c, xid), "conn%d.frame%d" % (c, i))), False,
                   "captured %d-byte frame %s not received: %s" % (len(want), want.hex(), e))
            continue
        if getattr(conn, "connect_sent", False):
            conn.connect_sent = False
            name = unique("connect" if conn.session is None else "reconnect")
            try:
                sid_at, pw_at = connect_layout(want)
            except Short as e:
                result(name, False, "captured ConnectResponse does not parse: %s" % e)
                continue
            cap_sid = struct.unpack(">q", want[sid_at:sid_at + 8])[0]
            masks = []
            if conn.session is None:
                # A new session: its id and password are the server's to choose.
                masks = [(sid_at, sid_at + 8, "sessionId"), (pw_at, pw_at + 16, "passwd")]
                if len(got) == len(want):
                    live_sid[cap_sid] = struct.unpack(">q", got[sid_at:sid_at + 8])[0]
                    live_pw[cap_sid] = got[pw_at:pw_at + 16]
                conn.session = cap_sid
            elif cap_sid in live_sid:
                want = (want[:sid_at] + struct.pack(">q", live_sid[cap_sid]) + want[sid_at + 8:pw_at]
                        + live_pw[cap_sid] + want[pw_at + 16:])
            compare(name, want, got, masks)
            continue
        xid = struct.unpack(">i", want[:4])[0]
        if xid == -1:
            ev = struct.unpack(">i", want[16:20])[0]
            ev_name = {1: "node_created", 2: "node_deleted", 3: "node_data_changed",
                       4: "node_children_changed"}.get(ev, "event%d" % ev)
            k = counts.get((ev_name, c), 0) + 1
            counts[(ev_name, c)] = k
            name = unique("notification.%s.%d.conn%d" % (ev_name, k, c))
            op = None
        else:
            name = unique(names.get((c, xid), "conn%d.xid%d" % (c, xid)))
            op = conn.ops.get(xid)
        try:
            masks, owners = reply_layout(want, op)
        except Short as e:
            result(name, False, "captured reply does not parse as op %s: %s" % (op, e))
            continue
        # ephemeralOwner: the captured session's live id.
        for at in owners:
            owner = struct.unpack(">q", want[at:at + 8])[0]
            if owner in live_sid:
                want = want[:at] + struct.pack(">q", live_sid[owner]) + want[at + 8:]
        if xid >= 0 and len(got) >= 12 and conn.session is not None:
            z = struct.unpack(">q", got[4:12])[0]
            if z > last_zxid.get(conn.session, 0):
                last_zxid[conn.session] = z
        compare(name, want, got, masks)

    for c, conn in sorted(conns.items()):
        extra = conn.pending()
        if extra:
            result("conn%d.nothing_more" % c, False,
                   "the server sent %d bytes the capture does not have: %s" % (len(extra), extra[:64].hex()))
        else:
            result("conn%d.nothing_more" % c, True)
        conn.close()


def compare(name, want, got, masks):
    same = len(want) == len(got) and all(
        want[i] == got[i] for i in range(len(want)) if not any(s <= i < e for s, e, _ in masks))
    if same:
        result(name, True)
    else:
        result(name, False, "reply differs from ZooKeeper's\n" + diff_text(want, got, masks))


if __name__ == "__main__":
    main()
    passed = sum(1 for ok in RESULTS if ok)
    failed = len(RESULTS) - passed
    print("checks: %d passed, %d failed" % (passed, failed))
    sys.exit(0 if failed == 0 and RESULTS else 1)
