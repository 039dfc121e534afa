"""SASL DIGEST-MD5 checks through kazoo (pure-sasl) and a raw wire client.

usage: sasl_check.py kazoo|raw|required HOST:PORT
Prints one "PASS name" or "FAIL name: why" line per check; exit status 1 on a failure.
"""
import socket
import struct
import sys
import time

FAILED = []


def check(name, ok, why=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + str(why)), flush=True)
    if not ok:
        FAILED.append(name)


# ---- kazoo ---------------------------------------------------------------------------

def kazoo_checks(hosts):
    import logging
    from kazoo.client import KazooClient
    from kazoo.exceptions import NoAuthError
    from kazoo.protocol.states import KeeperState
    from kazoo.security import make_acl

    logging.basicConfig(level=logging.CRITICAL)

    def client(user, password):
        opts = {"mechanism": "DIGEST-MD5", "username": user, "password": password}
        return KazooClient(hosts=hosts, sasl_options=opts, timeout=10,
                           connection_retry={"max_tries": 0})

    def read(zk, path):
        try:
            zk.get(path)
            return "OK"
        except NoAuthError:
            return "NOAUTH"
        except Exception as e:  # noqa: BLE001 - the check reports what happened
            return repr(e)

    bob = client("bob", "bobsecret")
    try:
        bob.start(timeout=15)
        check("kazoo-bob-connected", bob.connected)
    except Exception as e:  # noqa: BLE001
        check("kazoo-bob-connected", False, repr(e))
        return
    path = "/sasl-kazoo"
    try:
        bob.create(path, b"k", acl=[make_acl("sasl", "bob", all=True)])
        check("kazoo-bob-create-sasl-acl", True)
    except Exception as e:  # noqa: BLE001
        check("kazoo-bob-create-sasl-acl", False, repr(e))
    check("kazoo-bob-reads", read(bob, path) == "OK", read(bob, path))
    check("kazoo-bob-reads-java-node", read(bob, "/sasl-java") == "OK", read(bob, "/sasl-java"))

    alice = client("alice", "alicesecret")
    alice.start(timeout=15)
    check("kazoo-alice-noauth", read(alice, path) == "NOAUTH", read(alice, path))

    anon = KazooClient(hosts=hosts, timeout=10)
    anon.start(timeout=15)
    check("kazoo-anonymous-noauth", read(anon, path) == "NOAUTH", read(anon, path))

    # kazoo reports CONNECTED before its SASL exchange, then AUTH_FAILED when the server
    # answers AUTHFAILED and closes.
    bad = client("bob", "wrong")
    seen = []
    session_callback = bad._session_callback

    def spy(state):
        seen.append(state)
        return session_callback(state)

    bad._session_callback = spy
    try:
        bad.start(timeout=5)
    except Exception:  # noqa: BLE001 - the states seen tell
        pass
    deadline = time.monotonic() + 5
    while KeeperState.AUTH_FAILED not in seen and time.monotonic() < deadline:
        time.sleep(0.05)
    check("kazoo-wrong-password-auth-failed", KeeperState.AUTH_FAILED in seen, seen)
    check("kazoo-wrong-password-cannot-read", read(bad, path) != "OK", read(bad, path))
    bad.stop()
    bad.close()

    check("kazoo-bob-still-reads", read(bob, path) == "OK", read(bob, path))
    for zk in (bob, alice, anon):
        zk.stop()
        zk.close()


# ---- raw wire --------------------------------------------------------------------------

SASL = 102
AUTHFAILED = -115


def frame(body):
    return struct.pack(">i", len(body)) + body


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            return None
        b += c
    return b


def recv_frame(s):
    h = recv_exact(s, 4)
    if h is None:
        return None
    return recv_exact(s, struct.unpack(">i", h)[0])


def session(hostport):
    host, port = hostport.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    s.sendall(frame(struct.pack(">iqiqi", 0, 0, 30000, 0, 16) + b"\0" * 16))
    if recv_frame(s) is None:
        raise RuntimeError("no ConnectResponse")
    return s


def sasl(s, xid, token):
    """Sends a sasl request; returns (xid, zxid, err, token) or None when the server closed."""
    s.sendall(frame(struct.pack(">ii", xid, SASL) + struct.pack(">i", len(token)) + token))
    r = recv_frame(s)
    if r is None or len(r) < 16:
        return None
    rx, zxid, err = struct.unpack(">iqi", r[:16])
    n = struct.unpack(">i", r[16:20])[0]
    return rx, zxid, err, (None if n < 0 else r[20:20 + n])


def closed(s):
    """True when the server closed the connection (EOF, or reset)."""
    try:
        s.settimeout(5)
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def exists(s, xid, path):
    p = path.encode()
    s.sendall(frame(struct.pack(">ii", xid, 3) + struct.pack(">i", len(p)) + p + b"\0"))
    r = recv_frame(s)
    return None if r is None else struct.unpack(">iqi", r[:16])


def raw_checks(hostport):
    bystander = session(hostport)

    s = session(hostport)
    r = sasl(s, 1, b"")
    ok = r is not None and r[2] == 0 and r[1] == 0 and r[3] is not None \
        and r[3].startswith(b'realm="zk-sasl-md5",nonce="') \
        and r[3].endswith(b'",charset=utf-8,algorithm=md5-sess')
    check("raw-challenge", ok, r)
    first_nonce = r[3] if r else None
    r = sasl(s, 2, b"garbage")
    check("raw-garbage-authfailed", r is not None and r[:3] == (2, 0, AUTHFAILED) and r[3] is None, r)
    check("raw-garbage-closed", closed(s))
    s.close()

    s = session(hostport)
    r = sasl(s, 1, b"")
    check("raw-nonce-per-connection", r is not None and r[3] != first_nonce, r)
    s.close()

    # Over the JDK's 4096-byte limit, even as a first token.
    for size, name in ((4097, "4097"), (1_000_000, "1000000")):
        s = session(hostport)
        r = sasl(s, 1, b"x" * size)
        check(f"raw-token-{name}-authfailed", r is not None and r[:3] == (1, 0, AUTHFAILED), r)
        check(f"raw-token-{name}-closed", closed(s))
        s.close()

    # 1 MiB of token makes a frame over jute.maxbuffer: closed without a reply.
    s = session(hostport)
    try:
        r = sasl(s, 1, b"x" * (1 << 20))
    except (BrokenPipeError, ConnectionResetError):
        r = None
    check("raw-token-1MiB-closed-without-reply", r is None, r)
    s.close()

    # A null token (length -1): 3.8.0 throws on it and closes without a reply.
    s = session(hostport)
    s.sendall(frame(struct.pack(">ii", 1, SASL) + struct.pack(">i", -1)))
    try:
        r = recv_frame(s)
    except ConnectionResetError:
        r = None
    except socket.timeout:
        r = "no close"
    check("raw-null-token-closed-without-reply", r is None, r)
    s.close()

    r = exists(bystander, 7, "/")
    check("raw-other-session-unaffected", r is not None and r[0] == 7 and r[2] == 0, r)
    bystander.close()


def digest_login(s, user, password):
    """DIGEST-MD5 over sasl requests, written out (RFC 2831, qop=auth); returns
    (authenticated, rspauth verified, last reply)."""
    import hashlib
    import re

    def h(b):
        return hashlib.md5(b).digest()

    def hx(b):
        return hashlib.md5(b).hexdigest()

    r = sasl(s, 1, b"")
    if r is None or r[2] != 0 or r[3] is None:
        return False, False, r
    nonce = re.search(rb'nonce="([^"]*)"', r[3]).group(1)
    cnonce, uri, realm = b"c0ffee", b"zookeeper/zk-sasl-md5", b"zk-sasl-md5"
    a1 = h(user + b":" + realm + b":" + password) + b":" + nonce + b":" + cnonce

    def value(a2):
        return hx(hx(a1).encode() + b":" + nonce + b":00000001:" + cnonce + b":auth:"
                  + hx(a2).encode()).encode()

    resp = (b'charset=utf-8,username="' + user + b'",realm="' + realm + b'",nonce="' + nonce
            + b'",nc=00000001,cnonce="' + cnonce + b'",digest-uri="' + uri + b'",maxbuf=65536,'
            + b"response=" + value(b"AUTHENTICATE:" + uri) + b",qop=auth")
    r = sasl(s, 2, resp)
    if r is None or r[2] != 0 or r[3] is None:
        return False, False, r
    return True, r[3] == b"rspauth=" + value(b":" + uri), r


REQUIRE_SASL = -124


def required_checks(hostport):
    """The server runs with zookeeper.sessionRequireClientSASLAuth=true."""
    s = session(hostport)
    r = exists(s, 5, "/")
    check("required-anonymous-request-refused", r is not None and r == (5, 0, REQUIRE_SASL), r)
    check("required-anonymous-request-closed", closed(s))
    s.close()

    s = session(hostport)
    s.sendall(frame(struct.pack(">ii", -2, 11)))
    r = recv_frame(s)
    r = None if r is None else struct.unpack(">iqi", r[:16])
    check("required-anonymous-ping-refused", r == (-2, 0, REQUIRE_SASL), r)
    check("required-anonymous-ping-closed", closed(s))
    s.close()

    s = session(hostport)
    ok, rspauth, r = digest_login(s, b"bob", b"bobsecret")
    check("required-raw-digest-md5-login", ok, r)
    check("required-raw-digest-md5-rspauth", rspauth, r)
    r = exists(s, 9, "/")
    check("required-authenticated-request-served", r is not None and r[0] == 9 and r[2] == 0, r)
    s.close()

    s = session(hostport)
    ok, _, r = digest_login(s, b"bob", b"wrong")
    check("required-wrong-password-refused", not ok and r is not None
          and r[:3] == (2, 0, REQUIRE_SASL) and r[3] is None, r)
    check("required-wrong-password-closed", closed(s))
    s.close()


def main():
    mode, hostport = sys.argv[1], sys.argv[2]
    {"kazoo": kazoo_checks, "raw": raw_checks, "required": required_checks}[mode](hostport)
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
