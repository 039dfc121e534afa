import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.client.ZKClientConfig;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.ClientInfo;
import org.apache.zookeeper.data.Id;

/**
 * TLS and x509 through the official 3.8 client (ClientCnxnSocketNetty, zookeeper.ssl.*
 * set per client in its ZKClientConfig). Usage: TlsCheck MODE PLAIN_PORT SECURE_PORT
 * CERT_DIR, MODE one of main (secure port, clientAuth=need), unified (TLS and plaintext on
 * the client port, clientAuth=want), none (clientAuth=none). Prints "PASS name" or
 * "FAIL name: why" per check and "INFO name: ..." for what was seen.
 */
public class TlsCheck {
    static final String PASS = "storepass";
    /** Java's X500Principal.getName() of alice's subject, as the x509 id. */
    static final String ALICE = "1.2.840.113549.1.9.1=#1611616c696365406578616d706c652e636f6d,"
        + "CN=alice,OU=clients,O=Ferrokeeper\\, Inc.,ST=Test State,C=US";
    static final String ADMIN = "CN=admin,O=Ferrokeeper Tests";
    static int failed = 0;
    static String dir;

    static void check(String name, boolean ok, String why) {
        System.out.println((ok ? "PASS " : "FAIL ") + name + (ok ? "" : ": " + why));
        if (!ok) {
            failed++;
        }
    }

    static final class Session implements Watcher {
        final CountDownLatch connected = new CountDownLatch(1);
        final CountDownLatch authFailed = new CountDownLatch(1);
        final ZooKeeper zk;

        /** keyStore null: no client certificate; secure false: plaintext. */
        Session(int port, boolean secure, String keyStore) throws Exception {
            ZKClientConfig c = new ZKClientConfig();
            if (secure) {
                c.setProperty("zookeeper.client.secure", "true");
                c.setProperty("zookeeper.clientCnxnSocket", "org.apache.zookeeper.ClientCnxnSocketNetty");
                if (keyStore != null) {
                    c.setProperty("zookeeper.ssl.keyStore.location", dir + "/" + keyStore);
                    c.setProperty("zookeeper.ssl.keyStore.password", PASS);
                }
                c.setProperty("zookeeper.ssl.trustStore.location", dir + "/trust.p12");
                c.setProperty("zookeeper.ssl.trustStore.password", PASS);
            }
            zk = new ZooKeeper("127.0.0.1:" + port, 10000, this, c);
        }

        @Override
        public void process(WatchedEvent e) {
            if (e.getState() == Event.KeeperState.SyncConnected) {
                connected.countDown();
            } else if (e.getState() == Event.KeeperState.AuthFailed) {
                authFailed.countDown();
            }
        }

        /** Whether the session was established within {@code ms}. */
        boolean up(long ms) throws InterruptedException {
            return connected.await(ms, TimeUnit.MILLISECONDS);
        }
    }

    static String code(Exception e) {
        return e instanceof KeeperException ? ((KeeperException) e).code().name() : e.toString();
    }

    static String read(ZooKeeper zk, String path) {
        try {
            zk.getData(path, false, null);
            return "OK";
        } catch (Exception e) {
            return code(e);
        }
    }

    static String who(ZooKeeper zk) {
        try {
            List<String> out = new ArrayList<>();
            for (ClientInfo i : zk.whoAmI()) {
                out.add(i.getAuthScheme() + ":" + i.getUser());
            }
            return String.join(" ", out);
        } catch (Exception e) {
            return code(e);
        }
    }

    static String create(ZooKeeper zk, String path, List<ACL> acl) {
        try {
            zk.create(path, "x".getBytes(), acl, CreateMode.PERSISTENT);
            return "OK";
        } catch (Exception e) {
            return code(e);
        }
    }

    /** A client that must not get a session: refused during or right after the handshake. */
    static void refused(String name, int port, String keyStore) throws Exception {
        Session s = new Session(port, true, keyStore);
        boolean up = s.up(3000);
        check(name, !up, "a session was established");
        s.zk.close();
    }

    public static void main(String[] args) throws Exception {
        String mode = args[0];
        int plainPort = Integer.parseInt(args[1]);
        int securePort = Integer.parseInt(args[2]);
        dir = args[3];
        if (mode.equals("main")) {
            main(plainPort, securePort);
        } else if (mode.equals("unified")) {
            unified(plainPort);
        } else {
            noClientAuth(securePort);
        }
        System.exit(failed == 0 ? 0 : 1);
    }

    static void main(int plainPort, int securePort) throws Exception {
        String path = "/tls-java";
        Session alice = new Session(securePort, true, "alice.p12");
        check("java-alice-connects", alice.up(10000), "no session");
        String aliceWho = who(alice.zk);
        System.out.println("INFO java-alice-whoami: " + aliceWho);
        check("java-alice-whoami-x509", aliceWho.contains("x509:" + ALICE), aliceWho);
        List<ACL> aliceOnly = new ArrayList<>();
        aliceOnly.add(new ACL(ZooDefs.Perms.ALL, new Id("x509", ALICE)));
        String c = create(alice.zk, path, aliceOnly);
        check("java-alice-create-x509-acl", c.equals("OK"), c);
        check("java-alice-reads", read(alice.zk, path).equals("OK"), read(alice.zk, path));
        c = create(alice.zk, path + "-auth", ZooDefs.Ids.CREATOR_ALL_ACL);
        String acl;
        try {
            acl = alice.zk.getACL(path + "-auth", null).toString().replaceAll("\\s+", " ").trim();
        } catch (Exception e) {
            acl = code(e);
        }
        System.out.println("INFO java-auth-acl: " + acl);
        check("java-auth-acl-is-x509-alice", c.equals("OK") && acl.contains("x509") && acl.contains("CN=alice")
            && !acl.contains("ip"), c + " " + acl);

        Session bob = new Session(securePort, true, "bob.p12");
        check("java-bob-connects", bob.up(10000), "no session");
        String bobWho = who(bob.zk);
        System.out.println("INFO java-bob-whoami: " + bobWho);
        check("java-bob-whoami-x509", bobWho.contains("x509:CN=bob,OU=clients,O=Ferrokeeper Tests"), bobWho);
        check("java-bob-noauth", read(bob.zk, path).equals("NOAUTH"), read(bob.zk, path));

        Session anon = new Session(plainPort, false, null);
        check("java-plaintext-port-works", anon.up(10000), "no session");
        String anonWho = who(anon.zk);
        check("java-plaintext-whoami-ip-only", anonWho.equals("ip:127.0.0.1"), anonWho);
        check("java-plaintext-noauth", read(anon.zk, path).equals("NOAUTH"), read(anon.zk, path));
        String pc = create(anon.zk, "/tls-plain", ZooDefs.Ids.OPEN_ACL_UNSAFE);
        check("java-plaintext-create", pc.equals("OK"), pc);
        check("java-alice-reads-plaintext-node", read(alice.zk, "/tls-plain").equals("OK"),
            read(alice.zk, "/tls-plain"));

        Session admin = new Session(securePort, true, "admin.p12");
        check("java-admin-connects", admin.up(10000), "no session");
        String adminWho = who(admin.zk);
        System.out.println("INFO java-admin-whoami: " + adminWho);
        // The super id is super:<subject>, but whoAmI shows "" for a scheme without a provider.
        check("java-admin-whoami-super", (" " + adminWho + " ").contains(" super: ")
            && adminWho.contains("x509:" + ADMIN), adminWho);
        check("java-admin-super-reads", read(admin.zk, path).equals("OK"), read(admin.zk, path));

        // addAuth x509 looks at the connection's certificate: fine with one, AuthFailed without.
        alice.zk.addAuthInfo("x509", new byte[0]);
        check("java-alice-addauth-x509-ok", read(alice.zk, path).equals("OK")
            && alice.authFailed.getCount() == 1, read(alice.zk, path));
        anon.zk.addAuthInfo("x509", new byte[0]);
        check("java-plaintext-addauth-x509-authfailed", anon.authFailed.await(5, TimeUnit.SECONDS),
            "no AuthFailed event");

        refused("java-untrusted-ca-refused", securePort, "rogue.p12");
        refused("java-expired-refused", securePort, "expired.p12");
        refused("java-no-client-cert-refused", securePort, null);
        check("java-alice-still-reads", read(alice.zk, path).equals("OK"), read(alice.zk, path));
        for (Session s : new Session[] {alice, bob, anon, admin}) {
            s.zk.close();
        }
    }

    static void unified(int port) throws Exception {
        Session alice = new Session(port, true, "alice.p12");
        check("java-unified-tls-connects", alice.up(10000), "no session");
        String w = who(alice.zk);
        check("java-unified-tls-whoami-x509", w.contains("x509:" + ALICE), w);
        Session plain = new Session(port, false, null);
        check("java-unified-plaintext-connects", plain.up(10000), "no session");
        check("java-unified-plaintext-whoami-ip-only", who(plain.zk).equals("ip:127.0.0.1"), who(plain.zk));
        Session noCert = new Session(port, true, null);
        check("java-want-no-cert-connects", noCert.up(10000), "no session");
        check("java-want-no-cert-whoami-ip-only", who(noCert.zk).equals("ip:127.0.0.1"), who(noCert.zk));
        // The JDK's client offers only a certificate whose issuer the server asked for, so
        // under want the rogue certificate stays home and the session has no x509 id.
        Session rogue = new Session(port, true, "rogue.p12");
        check("java-want-untrusted-not-offered-connects", rogue.up(10000), "no session");
        check("java-want-untrusted-whoami-ip-only", who(rogue.zk).equals("ip:127.0.0.1"), who(rogue.zk));
        for (Session s : new Session[] {alice, plain, noCert, rogue}) {
            s.zk.close();
        }
    }

    static void noClientAuth(int port) throws Exception {
        Session alice = new Session(port, true, "alice.p12");
        check("java-none-tls-connects", alice.up(10000), "no session");
        String w = who(alice.zk);
        System.out.println("INFO java-none-whoami: " + w);
        check("java-none-whoami-ip-only", w.equals("ip:127.0.0.1"), w);
        Session noCert = new Session(port, true, null);
        check("java-none-no-cert-connects", noCert.up(10000), "no session");
        for (Session s : new Session[] {alice, noCert}) {
            s.zk.close();
        }
    }
}
