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
 * SASL GSSAPI (Kerberos) through the official 3.8 client: each client logs in with a
 * Krb5LoginModule section (keytab) of the JAAS file given by -Djava.security.auth.login.config
 * (Alice, Bob, Svc). Modes:
 *   acl ALICE_ID SVC_ID SVC_READ   sasl:ALICE_ID ACLs, bob and anonymous denied, whoAmI of alice
 *                         and svc, svc's read of alice's node answered SVC_READ (OK when super)
 *   required ALICE_ID     sessionRequireClientSASLAuth: alice served, anonymous refused
 *   rekeyed               the server's key is stale: AuthFailed
 *   foreign EVE_ID        a user of a trusted realm: served, with identity EVE_ID
 *   stale-client          alice's keytab has an old key: the client's login fails (AuthFailed),
 *                         and it goes on unauthenticated
 * Prints one "PASS name" or "FAIL name: why" line per check.
 */
public class KerberosCheck {
    static int failed = 0;

    static void check(String name, boolean ok, String why) {
        System.out.println((ok ? "PASS " : "FAIL ") + name + (ok ? "" : ": " + why));
        if (!ok) {
            failed++;
        }
    }

    /** A session logged in with JAAS section {@code section} (null: SASL off). */
    static final class Session implements Watcher {
        final CountDownLatch done = new CountDownLatch(1);
        final String section;
        volatile Event.KeeperState state;
        final ZooKeeper zk;

        Session(String connect, String section) throws Exception {
            this.section = section;
            ZKClientConfig conf = new ZKClientConfig();
            if (section == null) {
                conf.setProperty(ZKClientConfig.ENABLE_CLIENT_SASL_KEY, "false");
            } else {
                conf.setProperty(ZKClientConfig.LOGIN_CONTEXT_NAME_KEY, section);
            }
            zk = new ZooKeeper(connect, 10000, this, conf);
        }

        @Override
        public void process(WatchedEvent e) {
            Event.KeeperState s = e.getState();
            boolean last = s == Event.KeeperState.SaslAuthenticated
                || s == Event.KeeperState.AuthFailed
                || (section == null && s == Event.KeeperState.SyncConnected);
            if (last && state == null) {
                state = s;
                done.countDown();
            }
        }

        Event.KeeperState await() throws InterruptedException {
            done.await(20, TimeUnit.SECONDS);
            return state;
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

    static String whoAmI(ZooKeeper zk) {
        String who = "";
        try {
            for (ClientInfo i : zk.whoAmI()) {
                who += i.getAuthScheme() + ":" + i.getUser() + " ";
            }
        } catch (Exception e) {
            who = code(e);
        }
        return who;
    }

    static String create(ZooKeeper zk, String path, String id) {
        // A mutable list: the client's validateACL asks contains(null), which List.of refuses.
        List<ACL> acl = new ArrayList<>();
        acl.add(new ACL(ZooDefs.Perms.ALL, new Id("sasl", id)));
        try {
            zk.create(path, "k".getBytes(), acl, CreateMode.PERSISTENT);
            return "OK";
        } catch (Exception e) {
            return code(e);
        }
    }

    static Session login(String connect, String section, String name) throws Exception {
        Session s = new Session(connect, section);
        Watcher.Event.KeeperState st = s.await();
        check(name + "-authenticated", st == Watcher.Event.KeeperState.SaslAuthenticated, "state " + st);
        return s;
    }

    public static void main(String[] args) throws Exception {
        String connect = args[0];
        String mode = args[1];
        List<Session> all = new ArrayList<>();
        if (mode.equals("acl")) {
            String aliceId = args[2];
            String svcId = args[3];
            String path = "/krb-java";
            Session alice = login(connect, "Alice", "java-alice");
            all.add(alice);
            String who = whoAmI(alice.zk);
            check("java-alice-whoami", who.contains("sasl:" + aliceId + " "), "whoAmI " + who);
            String c = create(alice.zk, path, aliceId);
            check("java-alice-create-sasl-acl", c.equals("OK"), c);
            check("java-alice-reads", read(alice.zk, path).equals("OK"), read(alice.zk, path));
            Session bob = login(connect, "Bob", "java-bob");
            all.add(bob);
            check("java-bob-noauth", read(bob.zk, path).equals("NOAUTH"), read(bob.zk, path));
            Session anon = new Session(connect, null);
            all.add(anon);
            anon.await();
            check("java-anonymous-noauth", read(anon.zk, path).equals("NOAUTH"), read(anon.zk, path));
            Session svc = login(connect, "Svc", "java-svc");
            all.add(svc);
            who = whoAmI(svc.zk);
            check("java-svc-whoami", who.contains("sasl:" + svcId + " "), "whoAmI " + who);
            check("java-svc-reads-alice-node-" + args[4], read(svc.zk, path).equals(args[4]),
                read(svc.zk, path));
            check("java-alice-still-reads", read(alice.zk, path).equals("OK"), read(alice.zk, path));
        } else if (mode.equals("required")) {
            String aliceId = args[2];
            Session alice = login(connect, "Alice", "java-required-alice");
            all.add(alice);
            String who = whoAmI(alice.zk);
            check("java-required-alice-whoami", who.contains("sasl:" + aliceId + " "), "whoAmI " + who);
            String c = create(alice.zk, "/krb-java-required", aliceId);
            check("java-required-alice-create", c.equals("OK"), c);
            Session anon = new Session(connect, null);
            all.add(anon);
            anon.await();
            String r = read(anon.zk, "/krb-java-required");
            check("java-required-anonymous-refused", !r.equals("OK") && !r.equals("NOAUTH"), r);
        } else if (mode.equals("foreign")) {
            String eveId = args[2];
            Session eve = login(connect, "Eve", "java-foreign-eve");
            all.add(eve);
            String who = whoAmI(eve.zk);
            check("java-foreign-eve-whoami", who.contains("sasl:" + eveId + " "), "whoAmI " + who);
            String c = create(eve.zk, "/krb-java-eve", eveId);
            check("java-foreign-eve-create-sasl-acl", c.equals("OK"), c);
            check("java-foreign-eve-reads", read(eve.zk, "/krb-java-eve").equals("OK"),
                read(eve.zk, "/krb-java-eve"));
        } else if (mode.equals("stale-client")) {
            Session stale = new Session(connect, "StaleAlice");
            all.add(stale);
            Watcher.Event.KeeperState st = stale.await();
            check("java-stale-client-key-authfailed", st == Watcher.Event.KeeperState.AuthFailed, "state " + st);
            String r = read(stale.zk, "/krb-java");
            check("java-stale-client-key-noauth", r.equals("NOAUTH"), r);
        } else if (mode.equals("rekeyed")) {
            Session alice = new Session(connect, "Alice");
            all.add(alice);
            Watcher.Event.KeeperState st = alice.await();
            check("java-stale-server-key-authfailed", st == Watcher.Event.KeeperState.AuthFailed, "state " + st);
            String r = read(alice.zk, "/krb-java");
            check("java-stale-server-key-cannot-read", !r.equals("OK"), r);
        }
        for (Session s : all) {
            s.zk.close();
        }
        System.exit(failed == 0 ? 0 : 1);
    }
}
