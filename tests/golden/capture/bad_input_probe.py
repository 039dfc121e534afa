#!/usr/bin/env python3
"""Raw-socket probes of bad client input (dev tool, not run in CI).

Usage: bad_input_probe.py PORT [MAXCNXN_PORT MAXCNXN]
Prints, for each case, the frames the server answered and whether it closed the
connection, plus the zxid movement seen by a separate, healthy session. The expected
answers in tests/bad_input.rs were taken from running this against ZooKeeper 3.8.0.
"""
import socket
import struct
import sys
import time

PORT = int(sys.argv[1])


def frame(b):
    return struct.pack(">i", len(b)) + b


def connect_req(ro=True):
    b = struct.pack(">iqiqi", 0, 0, 30000, 0, 16) + b"\0" * 16
    return b + (b"\0" if ro else b"")


def ustr(s):
    if isinstance(s, str):
        s = s.encode()
    return struct.pack(">i", len(s)) + s


def open_acl():
    """vector<ACL> with the single world:anyone ALL entry."""
    return struct.pack(">ii", 1, 31) + ustr("world") + ustr("anyone")


def session():
    s = socket.create_connection(("127.0.0.1", PORT))
    s.settimeout(2)
    s.sendall(frame(connect_req()))
    read_frame(s)
    return s


def read_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            return None
        b += c
    return b


def read_frame(s):
    h = read_exact(s, 4)
    if h is None:
        return None
    return read_exact(s, struct.unpack(">i", h)[0])


def outcome(s, wait=1.5):
    """Frames received until close or timeout."""
    s.settimeout(wait)
    got = []
    try:
        while True:
            f = read_frame(s)
            if f is None:
                return got, "closed"
            if len(f) >= 16:
                xid, zxid, err = struct.unpack(">iqi", f[:16])
                got.append((xid, zxid, err, f[16:].hex()))
            else:
                got.append(f.hex())
    except socket.timeout:
        return got, "open"
    except ConnectionResetError:
        return got, "reset"


ctl = session()
ctl_xid = [100]


def zxid():
    ctl_xid[0] += 1
    ctl.sendall(frame(struct.pack(">ii", -2, 11)))
    f = read_frame(ctl)
    return struct.unpack(">iqi", f[:16])[1]


def req(xid, op, body=b""):
    return frame(struct.pack(">ii", xid, op) + body)


def case(name, payload_bytes, do_connect=True, shut=False):
    z0 = zxid()
    s = socket.create_connection(("127.0.0.1", PORT))
    zs = None
    if do_connect:
        s.sendall(frame(connect_req()))
        read_frame(s)
        s.sendall(req(-2, 11))
        zs = struct.unpack(">iqi", read_frame(s)[:16])[1]
    s.sendall(payload_bytes)
    if shut:
        s.shutdown(socket.SHUT_WR)
    got, state = outcome(s)
    if state == "open":
        s.sendall(req(99, -11))
        outcome(s, 0.5)
    s.close()
    time.sleep(0.1)
    z1 = zxid()
    if state != "open":
        print(f"{name}: {got} {state}; same-session zxid before: {zs}; control zxid {z0}->{z1}")
    else:
        s2 = None
        print(f"{name}: {got} {state}; same-session zxid before: {zs}")


# Setup: /a exists (so "/a/" and "/a/." have a real parent).
s = session()
s.sendall(req(1, 1, ustr("/a") + struct.pack(">i", -1) + open_acl() + struct.pack(">i", 0)))
print("setup", outcome(s, 0.5))
s.close()

case("len>max after connect", struct.pack(">i", 1048576) + b"\0" * 16)
case("len>max (0x7fffffff) after connect", struct.pack(">i", 0x7FFFFFFF))
case("len==max after connect, truncated", struct.pack(">i", 1048575) + b"\0" * 16)
case("len>max as first frame", struct.pack(">i", 1048576) + b"\0" * 16, do_connect=False)
case("negative len after connect", struct.pack(">i", -5) + b"\0" * 8)
case("negative len as first frame", struct.pack(">i", -1) + b"\0" * 8, do_connect=False)
case("truncated frame then close", struct.pack(">i", 100) + b"\0\0\0\1\0\0\0\4", shut=True)
case("payload shorter than header", frame(b"\0\0\0"))
case("zero-length frame", frame(b""))
case("unknown opcode 999", req(7, 999, b"abc"))
case("unknown opcode 10 (unused)", req(7, 10))
case("malformed create body", req(7, 1, struct.pack(">i", 100) + b"/x"))
case("malformed create2 body, empty", req(7, 15))
case("malformed getData body", req(7, 4, struct.pack(">i", 100) + b"/x"))
case("malformed getData body, empty", req(7, 4))
case("malformed setData body", req(7, 5, ustr("/a")))
case("malformed delete body", req(7, 2, ustr("/a")))
case("malformed multi body", req(7, 14, struct.pack(">ib", 1, 0)))
case("malformed exists body", req(7, 3, b"\0"))
for p in ["a", "/a/", "//", "/a/.", "/a\0b", "", "/a/..", "/zookeeper/x\0"]:
    b = p.encode()
    case(f"create {p!r}", req(7, 1, ustr(b) + struct.pack(">i", -1) + open_acl() + struct.pack(">i", 0)))
    case(f"delete {p!r}", req(7, 2, ustr(b) + struct.pack(">i", -1)))
    case(f"getData {p!r}", req(7, 4, ustr(b) + b"\0"))
    case(f"setData {p!r}", req(7, 5, ustr(b) + struct.pack(">i", -1) + struct.pack(">i", -1)))
    case(f"exists {p!r}", req(7, 3, ustr(b) + b"\0"))
case("garbage ConnectRequest (10 bytes)", frame(b"\x01" * 10), do_connect=False)
case("ConnectRequest with bad passwd len", frame(struct.pack(">iqiqi", 0, 0, 30000, 0, 1000) + b"\0" * 16), do_connect=False)
case("ConnectRequest + trailing garbage", frame(connect_req() + b"\xde\xad\xbe\xef"), do_connect=False)
case("ConnectRequest unknown session", frame(struct.pack(">iqiqi", 0, 0, 30000, 0x1234, 16) + b"\0" * 16 + b"\0"), do_connect=False)
case("ConnectRequest lastZxidSeen ahead", frame(struct.pack(">iqiqi", 0, 1 << 40, 30000, 0, 16) + b"\0" * 16 + b"\0"), do_connect=False)
case("request before connect (getData as first frame)", req(1, 4, ustr("/") + b"\0"), do_connect=False)

if len(sys.argv) > 3:
    mport, mx = int(sys.argv[2]), int(sys.argv[3])
    PORT = mport
    socks = [session() for _ in range(mx)]
    extra = socket.create_connection(("127.0.0.1", mport))
    extra.sendall(frame(connect_req()))
    print("maxClientCnxns+1:", outcome(extra))
    # the first mx still work
    socks[0].sendall(req(1, 4, ustr("/") + b"\0"))
    print("  first still works:", outcome(socks[0], 0.5))
    for s in socks:
        s.close()
    time.sleep(0.5)
    again = socket.create_connection(("127.0.0.1", mport))
    again.sendall(frame(connect_req()))
    print("  after closing, new conn:", outcome(again, 0.5)[1], "(connect answered)")

# The control session survived everything.
ctl.sendall(req(5, 4, ustr("/a") + b"\0"))
print("control session getData /a:", outcome(ctl, 0.5))
