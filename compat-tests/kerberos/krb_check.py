"""SASL GSSAPI (Kerberos) checks through kazoo (pure-sasl over pykerberos) and a raw client.

usage: krb_check.py acl|rekeyed|raw HOST:PORT WORKDIR [ALICE_ID EVE_ID]
Each user's ticket cache is WORKDIR/NAME.cc (kinit'ed by run.sh from its keytab); a client
picks its user by KRB5CCNAME, which MIT krb5 reads at each GSS-API call.
Prints one "PASS name" or "FAIL name: why" line per check; exit status 1 on a failure.
"""
import logging
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "sasl"))
from sasl_check import AUTHFAILED, closed, exists, sasl, session  # noqa: E402

FAILED = []


def check(name, ok, why=""):
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else ": " + str(why)), flush=True)
    if not ok:
        FAILED.append(name)


def kazoo_client(hosts, work, user, authzid=None):
    from kazoo.client import KazooClient

    if user is None:
        return KazooClient(hosts=hosts, timeout=10)
    os.environ["KRB5CCNAME"] = "FILE:" + os.path.join(work, user + ".cc")
    opts = {"mechanism": "GSSAPI"}
    if authzid is not None:
        opts["authorization_id"] = authzid
    return KazooClient(hosts=hosts, sasl_options=opts, timeout=10,
                       connection_retry={"max_tries": 0})


def authzid_checks(hosts, work):
    """A client asking for another authorization id: ZooKeeper's callback names a principal
    of the default realm by its principal, whatever it asked; for another realm's principal
    no DEFAULT rule applies, and the id it asked for stays."""
    from kazoo.security import make_acl

    for user, name, expect in (("alice", "default-realm", "NOAUTH"), ("eve", "foreign", "OK")):
        zk = kazoo_client(hosts, work, user, authzid="mallory")
        r = start(zk)
        check("kazoo-%s-authzid-connected" % name, r == "OK", r)
        if r != "OK":
            continue
        path = "/krb-mallory-" + user
        try:
            zk.create(path, b"m", acl=[make_acl("sasl", "mallory", all=True)])
        except Exception as e:  # noqa: BLE001
            check("kazoo-%s-authzid-create" % name, False, repr(e))
        got = read(zk, path)
        check("kazoo-%s-authzid-mallory-read-%s" % (name, expect), got == expect, got)
        zk.stop()
        zk.close()


def read(zk, path):
    from kazoo.exceptions import NoAuthError

    try:
        zk.get(path)
        return "OK"
    except NoAuthError:
        return "NOAUTH"
    except Exception as e:  # noqa: BLE001 - the check reports what happened
        return repr(e)


def start(zk):
    try:
        zk.start(timeout=15)
        return "OK" if zk.connected else "not connected"
    except Exception as e:  # noqa: BLE001
        return repr(e)


def acl_checks(hosts, work, alice_id, eve_id):
    from kazoo.security import make_acl

    path = "/krb-kazoo"
    alice = kazoo_client(hosts, work, "alice")
    r = start(alice)
    check("kazoo-alice-connected", r == "OK", r)
    if r != "OK":
        return
    try:
        alice.create(path, b"k", acl=[make_acl("sasl", alice_id, all=True)])
        check("kazoo-alice-create-sasl-acl", True)
    except Exception as e:  # noqa: BLE001
        check("kazoo-alice-create-sasl-acl", False, repr(e))
    check("kazoo-alice-reads", read(alice, path) == "OK", read(alice, path))
    check("kazoo-alice-reads-java-node", read(alice, "/krb-java") == "OK",
          read(alice, "/krb-java"))
    bob = kazoo_client(hosts, work, "bob")
    r = start(bob)
    check("kazoo-bob-connected", r == "OK", r)
    check("kazoo-bob-noauth", read(bob, path) == "NOAUTH", read(bob, path))
    anon = kazoo_client(hosts, work, None)
    start(anon)
    check("kazoo-anonymous-noauth", read(anon, path) == "NOAUTH", read(anon, path))
    # A user of the trusted realm: its identity is whatever the server made of it.
    eve = kazoo_client(hosts, work, "eve")
    r = start(eve)
    check("kazoo-foreign-eve-connected", r == "OK", r)
    try:
        eve.create(path + "-eve", b"e", acl=[make_acl("sasl", eve_id, all=True)])
        check("kazoo-foreign-eve-create-sasl-acl", True)
    except Exception as e:  # noqa: BLE001
        check("kazoo-foreign-eve-create-sasl-acl", False, repr(e))
    check("kazoo-foreign-eve-reads", read(eve, path + "-eve") == "OK", read(eve, path + "-eve"))
    check("kazoo-foreign-eve-noauth-on-alice", read(eve, path) == "NOAUTH", read(eve, path))
    for zk in (alice, bob, anon, eve):
        zk.stop()
        zk.close()


def rekeyed_checks(hosts, work):
    """The server's key is stale. kazoo reports CONNECTED before its SASL exchange, then
    AUTH_FAILED when the server answers AUTHFAILED and closes."""
    from kazoo.protocol.states import KeeperState

    alice = kazoo_client(hosts, work, "alice")
    seen = []
    session_callback = alice._session_callback

    def spy(state):
        seen.append(state)
        return session_callback(state)

    alice._session_callback = spy
    try:
        alice.start(timeout=5)
    except Exception:  # noqa: BLE001 - the states seen tell
        pass
    deadline = time.monotonic() + 5
    while KeeperState.AUTH_FAILED not in seen and time.monotonic() < deadline:
        time.sleep(0.05)
    check("kazoo-stale-server-key-auth-failed", KeeperState.AUTH_FAILED in seen, seen)
    check("kazoo-stale-server-key-cannot-read", read(alice, "/krb-kazoo") != "OK",
          read(alice, "/krb-kazoo"))
    alice.stop()
    alice.close()


def raw_checks(hostport):
    """Tokens a GSSAPI server must refuse: AUTHFAILED with a null token, then the close."""
    bystander = session(hostport)
    for name, token in (
        ("garbage", b"\x60\x0bnot-kerberos"),
        ("digest-md5-first-token", b""),
        ("oversized", b"\x60" + b"\0" * 70000),
    ):
        s = session(hostport)
        r = sasl(s, 1, token)
        ok = r is not None and r[2] == AUTHFAILED and r[3] is None
        check("raw-" + name + "-authfailed", ok, r)
        check("raw-" + name + "-closed", closed(s))
        s.close()
    r = exists(bystander, 2, "/")
    check("raw-bystander-unaffected", r is not None and r[2] == 0, r)
    bystander.close()


def main():
    logging.basicConfig(level=logging.CRITICAL)
    mode, hosts, work = sys.argv[1], sys.argv[2], sys.argv[3]
    if mode == "acl":
        acl_checks(hosts, work, sys.argv[4], sys.argv[5])
        authzid_checks(hosts, work)
    elif mode == "rekeyed":
        rekeyed_checks(hosts, work)
    elif mode == "raw":
        raw_checks(hosts)
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
