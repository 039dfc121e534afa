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
 * SASL DIGEST-MD5 through the official 3.8 client: each client logs in with a section of
 * the JAAS file given by -Djava.security.auth.login.config (Bob, Alice, Super, BadBob).
 * Prints one "PASS name" or "FAIL name: why" line per check.
 */
public class SaslCheck {
    static int failed = 0;

    static void check(String name, boolean ok, String why) {
        System.out.println((ok ? "PASS " : "FAIL ") + name + (ok ? "" : ": " + why));
        if (!ok) {
            failed++;
        }
    }

    /** A session logged in with JAAS section {@code section} (null: SASL off); waits for
     * SaslAuthenticated or AuthFailed (or just SyncConnected without SASL). */
    static final class Session implements Watcher {
        final CountDownLatch done = new CountDownLatch(1);
        volatile Event.KeeperState state;
        final ZooKeeper zk;

        Session(String connect, String section) throws Exception {
            // Before the client starts: its event thread may call process() at once.
            this.section = section;
            ZKClientConfig conf = new ZKClientConfig();
            if (section == null) {
                conf.setProperty(ZKClientConfig.ENABLE_CLIENT_SASL_KEY, "false");
            } else {
                conf.setProperty(ZKClientConfig.LOGIN_CONTEXT_NAME_KEY, section);
            }
            zk = new ZooKeeper(connect, 10000, this, conf);
        }

        final String section;

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
            done.await(15, TimeUnit.SECONDS);
            return state;
        }
    }

    static String code(Exception e) {
        return e instanceof KeeperException ? ((KeeperException) e).code().name() : e.toString();
    }

    static String readCode(ZooKeeper zk, String path) {
        try {
            zk.getData(path, false, null);
            return "OK";
        } catch (Exception e) {
            return code(e);
        }
    }

    public static void main(String[] args) throws Exception {
        String connect = args[0];
        String path = "/sasl-java";

        Session bob = new Session(connect, "Bob");
        check("java-bob-authenticated", bob.await() == Watcher.Event.KeeperState.SaslAuthenticated,
            "state " + bob.state);
        String who = "";
        try {
            List<ClientInfo> infos = bob.zk.whoAmI();
            for (ClientInfo i : infos) {
                who += i.getAuthScheme() + ":" + i.getUser() + " ";
            }
        } catch (Exception e) {
            who = code(e);
        }
        check("java-bob-whoami", who.contains("sasl:bob "), "whoAmI " + who);

        // A mutable list: the client's validateACL asks contains(null), which List.of refuses.
        List<ACL> bobOnly = new ArrayList<>();
        bobOnly.add(new ACL(ZooDefs.Perms.ALL, new Id("sasl", "bob")));
        String created;
        try {
            bob.zk.create(path, "x".getBytes(), bobOnly, CreateMode.PERSISTENT);
            created = "OK";
        } catch (Exception e) {
            created = code(e);
        }
        check("java-bob-create-sasl-acl", created.equals("OK"), created);
        check("java-bob-reads", readCode(bob.zk, path).equals("OK"), readCode(bob.zk, path));

        String authAcl;
        try {
            bob.zk.create(path + "-auth", new byte[0], ZooDefs.Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT);
            List<ACL> acl = bob.zk.getACL(path + "-auth", null);
            authAcl = acl.toString().replaceAll("\\s+", " ").trim();
        } catch (Exception e) {
            authAcl = code(e);
        }
        check("java-bob-auth-acl-is-sasl-bob",
            authAcl.contains("sasl") && authAcl.contains("bob") && !authAcl.contains("ip"), authAcl);

        Session alice = new Session(connect, "Alice");
        check("java-alice-authenticated",
            alice.await() == Watcher.Event.KeeperState.SaslAuthenticated, "state " + alice.state);
        check("java-alice-noauth", readCode(alice.zk, path).equals("NOAUTH"), readCode(alice.zk, path));

        Session anon = new Session(connect, null);
        anon.await();
        check("java-anonymous-noauth", readCode(anon.zk, path).equals("NOAUTH"), readCode(anon.zk, path));

        Session superUser = new Session(connect, "Super");
        check("java-super-authenticated",
            superUser.await() == Watcher.Event.KeeperState.SaslAuthenticated, "state " + superUser.state);
        check("java-super-reads", readCode(superUser.zk, path).equals("OK"), readCode(superUser.zk, path));

        Session bad = new Session(connect, "BadBob");
        Watcher.Event.KeeperState badState = bad.await();
        check("java-wrong-password-authfailed", badState == Watcher.Event.KeeperState.AuthFailed,
            "state " + badState);
        String badRead = readCode(bad.zk, path);
        check("java-wrong-password-cannot-read", !badRead.equals("OK"), badRead);

        // Bob's session is unaffected by the others.
        check("java-bob-still-reads", readCode(bob.zk, path).equals("OK"), readCode(bob.zk, path));

        for (Session s : new Session[] {bob, alice, anon, superUser, bad}) {
            s.zk.close();
        }
        System.exit(failed == 0 ? 0 : 1);
    }
}
