"""compat-tests/quorum-sasl/wire.py PORT OUT - a fake election-port peer for the wire check.

Accepts one connection from a Java learner on 127.0.0.1:PORT, reads its initial message
(protocol version, sid, address), then its first QuorumAuthPacket, which it writes to OUT
as hex; then it answers a DIGEST-MD5 challenge (IN_PROGRESS) and appends the learner's
response token (text) to OUT, so the suite can pin both. Gives up after 30 s."""
import socket
import struct
import sys

CHALLENGE = b'realm="zk-quorum-sasl-md5",nonce="d2lyZS1jaGVjaw==",charset=utf-8,algorithm=md5-sess'
MAGIC = 0x5F2435013501EDCC


def exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError(f"closed after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def main():
    port, out = int(sys.argv[1]), sys.argv[2]
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(4)
    srv.settimeout(30)
    conn, _ = srv.accept()
    conn.settimeout(10)
    version, _sid = struct.unpack(">qq", exact(conn, 16))
    if version < 0:  # a versioned initial message: the address follows
        (n,) = struct.unpack(">i", exact(conn, 4))
        exact(conn, n)
    first = exact(conn, 16)
    (n,) = struct.unpack(">i", first[12:16])
    token = exact(conn, n) if n > 0 else b""
    with open(out, "w") as f:
        f.write((first + token).hex() + "\n")
    conn.sendall(struct.pack(">qii", MAGIC, 0, len(CHALLENGE)) + CHALLENGE)
    head = exact(conn, 16)
    (n,) = struct.unpack(">i", head[12:16])
    response = exact(conn, n)
    with open(out, "a") as f:
        f.write(response.decode("utf-8", "replace") + "\n")
    conn.close()


if __name__ == "__main__":
    main()
