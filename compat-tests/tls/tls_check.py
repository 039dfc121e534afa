"""TLS and x509 checks through kazoo (use_ssl, certfile/keyfile/ca) and a raw TLS client.

usage: tls_check.py main|unified|none PLAIN_PORT SECURE_PORT CERT_DIR
Prints one "PASS name" or "FAIL name: why" line per check; exit status 1 on a failure.
"""
import os
import socket
import ssl
import struct
import sys
import time

FAILED = []
ALICE = ("1.2.840.113549.1.9.1=#1611616c696365406578616d706c652e636f6d,"
         "CN=alice,OU=clients,O=Ferrokeeper\\, Inc.,ST=Test State,C=US")


def check(name, ok, why=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + str(why)), flush=True)
    if not ok:
        FAILED.append(name)


# ---- the raw wire ---------------------------------------------------------------------

def frame(body):
    return struct.pack(">i", len(body)) + body


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("closed")
        buf += chunk
    return buf


def recv_frame(s):
    (n,) = struct.unpack(">i", recv_exact(s, 4))
    return recv_exact(s, n)


CONNECT = frame(struct.pack(">iqiqi", 0, 0, 30000, 0, 16) + b"\0" * 16)


def tls_context(certs, who):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(os.path.join(certs, "ca.pem"))
    if who:
        ctx.load_cert_chain(os.path.join(certs, who + ".pem"), os.path.join(certs, who + ".key"))
    return ctx


def tls_session(port, certs, who):
    """A raw session over TLS with WHO's certificate; returns the socket."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    s = tls_context(certs, who).wrap_socket(raw, server_hostname="localhost")
    s.sendall(CONNECT)
    recv_frame(s)
    return s


def who_am_i(s, xid):
    s.sendall(frame(struct.pack(">ii", xid, 107)))
    body = recv_frame(s)
    _, _, err = struct.unpack(">iqi", body[:16])
    if err != 0:
        return "error %d" % err
    (n,) = struct.unpack(">i", body[16:20])
    pos, out = 20, []
    for _ in range(n):
        vals = []
        for _ in range(2):
            (ln,) = struct.unpack(">i", body[pos:pos + 4])
            pos += 4
            vals.append(body[pos:pos + max(ln, 0)].decode())
            pos += max(ln, 0)
        out.append("%s:%s" % tuple(vals))
    return " ".join(out)


def closed_unanswered(s, timeout=12.0):
    """True when the server closes S without a ZooKeeper answer (TLS alerts aside)."""
    s.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    except socket.timeout:
        return False, "still open after %.0f s" % timeout
    # A TLS alert record may come first; a ConnectResponse frame would be 0x00000024...
    answered = len(data) >= 4 and struct.unpack(">i", data[:4])[0] in range(20, 64)
    return not answered, repr(data[:16])


def raw_checks(plain_port, secure_port, certs):
    live = tls_session(secure_port, certs, "alice")
    w = who_am_i(live, 1)
    check("raw-tls-whoami-x509", ("x509:" + ALICE) in w, w)

    # Garbage where a ClientHello should be: only that connection goes.
    g = socket.create_connection(("127.0.0.1", secure_port), timeout=10)
    g.sendall(b"\x16\x03\x01\x00\x20" + os.urandom(32) + b"garbage" * 10)
    ok, why = closed_unanswered(g)
    check("raw-garbage-handshake-closed", ok, why)
    g.close()

    # A plaintext ConnectRequest on the secure port.
    p = socket.create_connection(("127.0.0.1", secure_port), timeout=10)
    p.sendall(CONNECT)
    ok, why = closed_unanswered(p)
    check("raw-plaintext-on-secure-port-refused", ok, why)
    p.close()

    # A handshake with an untrusted, an expired and no certificate: refused.
    for who, name in (("rogue", "untrusted"), ("expired", "expired"), (None, "no-cert")):
        try:
            s = tls_session(secure_port, certs, who)
            w2 = who_am_i(s, 1)
            check("raw-%s-refused" % name, False, "served: " + w2)
        except (ssl.SSLError, EOFError, ConnectionError, OSError):
            check("raw-%s-refused" % name, True)

    w = who_am_i(live, 2)
    check("raw-live-session-unaffected", ("x509:" + ALICE) in w, w)
    live.close()


# ---- kazoo ----------------------------------------------------------------------------

def kazoo_client(port, certs, who, secure=True):
    from kazoo.client import KazooClient
    if not secure:
        return KazooClient(hosts="127.0.0.1:%d" % port, timeout=10,
                           connection_retry={"max_tries": 0})
    return KazooClient(hosts="127.0.0.1:%d" % port, timeout=10, use_ssl=True,
                       verify_certs=True, ca=os.path.join(certs, "ca.pem"),
                       certfile=os.path.join(certs, who + ".pem") if who else None,
                       keyfile=os.path.join(certs, who + ".key") if who else None,
                       connection_retry={"max_tries": 0})


def read(zk, path):
    from kazoo.exceptions import NoAuthError
    try:
        zk.get(path)
        return "OK"
    except NoAuthError:
        return "NOAUTH"
    except Exception as e:  # noqa: BLE001 - the check reports what happened
        return repr(e)


def started(zk, timeout=8):
    try:
        zk.start(timeout=timeout)
        return zk.connected
    except Exception:  # noqa: BLE001
        return False


def kazoo_main(plain_port, secure_port, certs):
    from kazoo.security import make_acl
    alice = kazoo_client(secure_port, certs, "alice")
    check("kazoo-alice-connects", started(alice))
    if not alice.connected:
        return
    try:
        alice.create("/tls-kazoo", b"k", acl=[make_acl("x509", ALICE, all=True)])
        check("kazoo-alice-create-x509-acl", True)
    except Exception as e:  # noqa: BLE001
        check("kazoo-alice-create-x509-acl", False, repr(e))
    check("kazoo-alice-reads", read(alice, "/tls-kazoo") == "OK", read(alice, "/tls-kazoo"))
    check("kazoo-alice-reads-java-node", read(alice, "/tls-java") == "OK", read(alice, "/tls-java"))
    bob = kazoo_client(secure_port, certs, "bob")
    check("kazoo-bob-connects", started(bob))
    check("kazoo-bob-noauth", read(bob, "/tls-kazoo") == "NOAUTH", read(bob, "/tls-kazoo"))
    anon = kazoo_client(plain_port, certs, None, secure=False)
    check("kazoo-plaintext-connects", started(anon))
    check("kazoo-plaintext-noauth", read(anon, "/tls-kazoo") == "NOAUTH", read(anon, "/tls-kazoo"))
    admin = kazoo_client(secure_port, certs, "admin")
    check("kazoo-admin-connects", started(admin))
    check("kazoo-admin-super-reads", read(admin, "/tls-kazoo") == "OK", read(admin, "/tls-kazoo"))
    for who, name in (("rogue", "untrusted"), ("expired", "expired")):
        zk = kazoo_client(secure_port, certs, who)
        check("kazoo-%s-refused" % name, not started(zk, 4))
        zk.stop()
    check("kazoo-alice-still-reads", read(alice, "/tls-kazoo") == "OK", read(alice, "/tls-kazoo"))
    for zk in (alice, bob, anon, admin):
        zk.stop()


def kazoo_unified(port, certs):
    tls = kazoo_client(port, certs, "alice")
    check("kazoo-unified-tls-connects", started(tls))
    plain = kazoo_client(port, certs, None, secure=False)
    check("kazoo-unified-plaintext-connects", started(plain))
    if tls.connected and plain.connected:
        plain.ensure_path("/tls-unified")
        check("kazoo-unified-tls-reads-plaintext-write", read(tls, "/tls-unified") == "OK",
              read(tls, "/tls-unified"))
    s = tls_session(port, certs, "alice")
    w = who_am_i(s, 1)
    check("raw-unified-tls-whoami-x509", ("x509:" + ALICE) in w, w)
    s.close()
    # Python sends its certificate whatever the server asked: an untrusted one fails
    # the handshake even under want.
    try:
        r = tls_session(port, certs, "rogue")
        check("raw-want-untrusted-sent-refused", False, "served: " + who_am_i(r, 1))
    except (ssl.SSLError, EOFError, ConnectionError, OSError):
        check("raw-want-untrusted-sent-refused", True)
    for zk in (tls, plain):
        zk.stop()


def per_port_limits(plain_port, secure_port, certs):
    """maxClientCnxns=3 (mode none) holds on each port by itself, as ZooKeeper's plaintext and
    secure factories each count connections per IP: 3 plain and 3 TLS sessions at once are
    served, a 4th on either port is closed unanswered."""
    held, served = [], 0
    try:
        for _ in range(3):
            p = socket.create_connection(("127.0.0.1", plain_port), timeout=10)
            p.sendall(CONNECT)
            recv_frame(p)
            held.append(p)
            held.append(tls_session(secure_port, certs, None))
            served += 2
    except (ssl.SSLError, EOFError, ConnectionError, OSError) as e:
        check("limit-3-plain-and-3-tls-served", False, "%d served, then %r" % (served, e))
        return
    check("limit-3-plain-and-3-tls-served", served == 6)
    extra = socket.create_connection(("127.0.0.1", plain_port), timeout=10)
    extra.sendall(CONNECT)
    ok, why = closed_unanswered(extra)
    check("limit-4th-plain-refused", ok, why)
    extra.close()
    try:
        s = tls_session(secure_port, certs, None)
        check("limit-4th-tls-refused", False, "served: " + who_am_i(s, 1))
    except (ssl.SSLError, EOFError, ConnectionError, OSError):
        check("limit-4th-tls-refused", True)
    for h in held:
        h.close()


def kazoo_none(port, certs):
    zk = kazoo_client(port, certs, None)
    check("kazoo-none-no-cert-connects", started(zk))
    zk.stop()
    s = tls_session(port, certs, "alice")
    w = who_am_i(s, 1)
    check("raw-none-whoami-ip-only", w == "ip:127.0.0.1", w)
    s.close()


def main():
    import logging
    logging.basicConfig(level=logging.CRITICAL)
    mode, plain, secure, certs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    start = time.time()
    if mode == "main":
        kazoo_main(plain, secure, certs)
        raw_checks(plain, secure, certs)
    elif mode == "unified":
        kazoo_unified(plain, certs)
    else:
        kazoo_none(secure, certs)
        per_port_limits(plain, secure, certs)
    print("INFO python %s: %.1f s" % (mode, time.time() - start), flush=True)
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
