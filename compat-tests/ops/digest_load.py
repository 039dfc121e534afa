"""The ops suite's digest load: a deterministic stream of writes that passes several
multiples of 128 zxids, and ZooKeeper's tree digest computed by the client from what it
reads of the tree at each of them, for the `hash` checks in check.py.

ZooKeeper (DataTree.logZxidDigest) logs the tree digest after every txn whose zxid is a
multiple of 128. The digest of a node (DigestCalculator) is the CRC32 of its path ("" for
the root), its data and its stored stat: czxid, mzxid, pzxid, ctime, mtime, version,
cversion, aversion, ephemeralOwner; nodes under /zookeeper/ count 0; the tree's digest is
their sum mod 2^64, read as a signed long. Times are in it, so two servers never agree on
the value; each server's value is checked against the digest of its own tree, read back
through the client when the zxid stands exactly on the multiple of 128 (reads consume no
zxid). The client sees cversion as ZooKeeper's stored count of creates times 2 minus the
children, and the ephemeralOwner of containers and TTL nodes as 0, so both are undone
here from what the client knows (the children count, which nodes the load makes how). So
the server must hold no container or TTL node but the load's (a fresh one does).
"""
import socket
import struct
import zlib

BASE = "/opsdigest"
INTERVAL = 128
OPEN = [(31, "world", "anyone")]
READ_ONLY = [(1, "world", "anyone")]
# digest:u:<sha1 of u:p> with everything, and world read: setData without auth fails.
LOCKED = [(31, "digest", "u:LDMnvPPTnMtxfzXbkHV2zRpbFaY="), (1, "world", "anyone")]
CONTAINER_OWNER = -(1 << 63)
TTL_MASK = -(1 << 56)  # 0xFF00000000000000
TTL_MS = 3600 * 1000


def jstr(s):
    b = s.encode()
    return struct.pack(">i", len(b)) + b


def jbuf(b):
    if b is None:
        return struct.pack(">i", -1)
    return struct.pack(">i", len(b)) + b


def jacl(acl):
    out = struct.pack(">i", len(acl))
    for perms, scheme, ident in acl:
        out += struct.pack(">i", perms) + jstr(scheme) + jstr(ident)
    return out


class Reply:
    def __init__(self, b):
        self.xid, self.zxid, self.err = struct.unpack(">iqi", b[:16])
        self.body, self.at = b, 16

    def i32(self):
        v = struct.unpack(">i", self.body[self.at:self.at + 4])[0]
        self.at += 4
        return v

    def buf(self):
        n = self.i32()
        if n < 0:
            return None
        v = self.body[self.at:self.at + n]
        self.at += n
        return v

    def stat(self):
        v = struct.unpack(">qqqqiiiqiiq", self.body[self.at:self.at + 68])
        self.at += 68
        keys = ("czxid", "mzxid", "ctime", "mtime", "version", "cversion", "aversion",
                "ephemeralOwner", "dataLength", "numChildren", "pzxid")
        return dict(zip(keys, v))


class Client:
    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        req = struct.pack(">iqiq", 0, 0, 30000, 0) + jbuf(b"\0" * 16) + b"\0"
        self._send(req)
        resp = self._recv()
        self.session_id = struct.unpack(">q", resp[8:16])[0]
        self.xid = 0

    def _send(self, payload):
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)

    def _recv_exact(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise EOFError("server closed the connection")
            out += chunk
        return out

    def _recv(self):
        (n,) = struct.unpack(">i", self._recv_exact(4))
        return self._recv_exact(n)

    def call(self, op, body):
        self.xid += 1
        self._send(struct.pack(">ii", self.xid, op) + body)
        while True:
            r = Reply(self._recv())
            if r.xid == self.xid:
                return r

    def close(self):
        try:
            self.call(-11, b"")
        except (OSError, EOFError):
            pass
        self.sock.close()


def digest_of(path, data, stored):
    """DigestCalculator.calculateDigest of one node from its stored stat."""
    if path.startswith("/zookeeper/"):
        return 0
    crc = zlib.crc32((b"" if path == "/" else path.encode()) + (data or b""))
    crc = zlib.crc32(struct.pack(">qqqqqiiiq", stored["czxid"], stored["mzxid"], stored["pzxid"],
                                 stored["ctime"], stored["mtime"], stored["version"],
                                 stored["cversion"], stored["aversion"], stored["ephemeralOwner"]),
                     crc)
    return crc


def tree_digest(c, owners):
    """The digest of the whole tree as it is now, read through the client."""
    total = 0
    stack = ["/"]
    while stack:
        path = stack.pop()
        r = c.call(4, jstr(path) + b"\0")
        if r.err != 0:
            raise RuntimeError("getData %s: error %d" % (path, r.err))
        data = r.buf()
        st = r.stat()
        stored = dict(st)
        # DataNode.copyStat: cversion = creates * 2 - children; containers and TTL nodes
        # show ephemeralOwner 0.
        stored["cversion"] = (st["cversion"] + st["numChildren"]) // 2
        if path in owners:
            stored["ephemeralOwner"] = owners[path]
        total = (total + digest_of(path, data, stored)) % (1 << 64)
        r = c.call(8, jstr(path) + b"\0")
        if r.err != 0:
            raise RuntimeError("getChildren %s: error %d" % (path, r.err))
        n = r.i32()
        for _ in range(n):
            name = r.buf().decode()
            stack.append(("" if path == "/" else path) + "/" + name)
    return total - (1 << 64) if total >= (1 << 63) else total


def ops():
    """The load: (opcode, body, path it creates or None, stored owner of that path)."""
    yield 1, jstr(BASE) + jbuf(b"digest load") + jacl(OPEN) + struct.pack(">i", 0), None, None
    for i in range(1000):
        p = "%s/n%03d" % (BASE, i)
        data = None if i % 7 == 0 else (b"v%d;" % i) * (i % 4)
        acl = (OPEN, READ_ONLY, LOCKED)[i % 3]
        kind = i % 10
        if kind == 3:
            # a container that keeps a child (an emptied one would be reaped: a txn)
            yield 19, jstr(p) + jbuf(data) + jacl(OPEN) + struct.pack(">i", 4), p, CONTAINER_OWNER
            yield 1, jstr(p + "/keep") + jbuf(b"k") + jacl(OPEN) + struct.pack(">i", 0), None, None
        elif kind == 4:
            yield (21, jstr(p) + jbuf(data) + jacl(acl) + struct.pack(">iq", 5, TTL_MS), p,
                   TTL_MASK | TTL_MS)
        else:
            flags = {1: 1, 2: 2, 6: 3}.get(kind, 0)  # ephemeral, sequential, both
            yield 1, jstr(p) + jbuf(data) + jacl(acl) + struct.pack(">i", flags), None, None
        if i % 5 == 4:
            q = "%s/n%03d" % (BASE, i - 4)  # kind 0: persistent, open unless i-4 % 3
            yield 5, jstr(q) + jbuf(b"set %d" % i) + struct.pack(">i", -1), None, None
        if i % 11 == 5:
            q = "%s/n%03d" % (BASE, i - 5)
            yield 7, jstr(q) + jacl(OPEN) + struct.pack(">i", -1), None, None
        if i % 13 == 7:
            q = "%s/n%03d" % (BASE, i - 7)
            yield 2, jstr(q) + struct.pack(">i", -1), None, None  # may fail: a failed txn
        if i % 17 == 8:
            yield 1, jstr(BASE) + jbuf(b"") + jacl(OPEN) + struct.pack(">i", 0), None, None
        if i % 19 == 9:
            m = "%s/m%03d" % (BASE, i)
            body = (struct.pack(">i?i", 1, False, -1) + jstr(m) + jbuf(b"multi") + jacl(OPEN)
                    + struct.pack(">i", 0)
                    + struct.pack(">i?i", 5, False, -1) + jstr(m) + jbuf(b"multi set")
                    + struct.pack(">i", -1)
                    + struct.pack(">i?i", -1, True, -1))
            yield 14, body, None, None


def run(addr, boundaries=3):
    """Drives the load until `boundaries` multiples of 128 have passed; returns the open
    client (its session holds ephemerals: close it when done), the zxid before the first
    write, and [(zxid, digest)] read back at each multiple of 128."""
    c = Client(addr)
    # Every container and TTL node the load makes, by name: on a server that ran the load
    # before, later ones are there already.
    owners = {path: owner for _, _, path, owner in ops() if path is not None}
    expected = []
    first = last = None
    for op, body, path, owner in ops():
        r = c.call(op, body)
        if first is None:
            first = r.zxid - 1
        if last is not None and r.zxid != last + 1:
            raise RuntimeError("zxid went from 0x%x to 0x%x: another txn came in between"
                               % (last, r.zxid))
        last = r.zxid
        if r.zxid % INTERVAL == 0:
            expected.append((r.zxid, tree_digest(c, owners)))
            if len(expected) == boundaries:
                return c, first, expected
    raise RuntimeError("the load ran out of ops before %d multiples of 128" % boundaries)
