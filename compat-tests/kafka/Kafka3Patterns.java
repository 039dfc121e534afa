// compat-tests/kafka/Kafka3Patterns.java - the ZooKeeper request patterns of Apache Kafka 3.x's
// KafkaZkClient / ZooKeeperClient / KafkaController (ZooKeeper mode), replayed with the
// ZooKeeper 3.8 Java client (the client line Kafka 3.x ships) under the chroot /kafka3.
// No Kafka 2.x/3.x broker is available from a package registry, so the patterns are
// reproduced request for request (see README.md: the list, and where Kafka does each).
//
//   java -cp CLASSES:ZK_CLASSPATH Kafka3Patterns HOST:PORT
//
// Prints `PASS name (ms)` / `FAIL name: reason`, last `N passed, M failed`.

import java.io.*;
import java.net.*;
import java.nio.charset.StandardCharsets;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.*;

import org.apache.zookeeper.*;
import org.apache.zookeeper.KeeperException.Code;
import org.apache.zookeeper.data.*;

public class Kafka3Patterns {
    static final String CHROOT = "/kafka3";
    static final List<ACL> OPEN = ZooDefs.Ids.OPEN_ACL_UNSAFE; // defaultAcls when not secure
    static String server;
    static int passed = 0, failed = 0;
    static final List<String> results = new ArrayList<>();

    public static void main(String[] args) throws Exception {
        server = args[0];
        check("k3_chroot_and_create_recursive", Kafka3Patterns::chrootAndCreateRecursive);
        check("k3_checked_ephemeral_broker_epoch", Kafka3Patterns::checkedEphemeral);
        check("k3_controller_election_multi", Kafka3Patterns::controllerElection);
        check("k3_fenced_writes_check_op", Kafka3Patterns::fencedWrites);
        check("k3_exists_watch_on_missing_nodes", Kafka3Patterns::existsWatches);
        check("k3_child_watches_and_sequential_notifications", Kafka3Patterns::childWatchesAndSequential);
        check("k3_broker_seqid_and_conditional_update", Kafka3Patterns::seqidAndConditional);
        check("k3_pipelined_async_requests", Kafka3Patterns::pipelined);
        check("k3_acls_and_delete_recursive", Kafka3Patterns::aclsAndDeleteRecursive);
        check("k3_migration_multis", Kafka3Patterns::migrationMultis);
        check("k3_set_watches_on_reconnect", Kafka3Patterns::setWatchesOnReconnect);
        check("k3_session_expiry_reregistration", Kafka3Patterns::expiryReregistration);
        String rf = System.getenv("COMPAT_RESULT_FILE");
        if (rf != null && !rf.isEmpty())
            try (FileWriter w = new FileWriter(rf, true)) { for (String r : results) w.write(r + "\n"); }
        System.out.println(passed + " passed, " + failed + " failed");
        System.out.flush();
        System.exit(failed == 0 ? 0 : 1);
    }

    interface Body { void run() throws Exception; }

    static void check(String name, Body body) {
        long t = System.currentTimeMillis();
        try {
            body.run();
            passed++;
            results.add(name + " PASS");
            System.out.println("PASS " + name + " (" + (System.currentTimeMillis() - t) + " ms)");
        } catch (Throwable e) {
            failed++;
            results.add(name + " FAIL");
            System.out.println("FAIL " + name + ": " + (e instanceof AssertionError ? e.getMessage() : e.toString()));
            if (!(e instanceof AssertionError)) e.printStackTrace(System.out);
        }
        System.out.flush();
    }

    static void require(boolean c, String what) { if (!c) throw new AssertionError(what); }

    static <T> void eq(T want, T got, String what) {
        if (!Objects.equals(want, got)) throw new AssertionError(what + ": expected " + want + ", got " + got);
    }

    static byte[] b(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    static String s(byte[] b) { return b == null ? null : new String(b, StandardCharsets.UTF_8); }

    static class Events implements Watcher {
        final BlockingQueue<WatchedEvent> q = new LinkedBlockingQueue<>();
        final BlockingQueue<Event.KeeperState> states = new LinkedBlockingQueue<>();
        public void process(WatchedEvent e) {
            if (e.getType() == Event.EventType.None) states.add(e.getState()); else q.add(e);
        }
        WatchedEvent next(long ms) throws InterruptedException { return q.poll(ms, TimeUnit.MILLISECONDS); }
        String expect(Event.EventType type, String path) throws InterruptedException {
            return expect(type, path, 5000);
        }
        String expect(Event.EventType type, String path, long ms) throws InterruptedException {
            WatchedEvent e = next(ms);
            require(e != null, "no " + type + " for " + path);
            require(e.getType() == type && path.equals(e.getPath()), "expected " + type + " " + path + ", got " + e);
            return e.getPath();
        }
        void none(long ms) throws InterruptedException {
            WatchedEvent e = next(ms);
            require(e == null, "unexpected event " + e);
        }
        void waitState(Event.KeeperState st, long ms) throws InterruptedException {
            long deadline = System.currentTimeMillis() + ms;
            while (System.currentTimeMillis() < deadline) {
                Event.KeeperState got = states.poll(200, TimeUnit.MILLISECONDS);
                if (got == st) return;
            }
            throw new AssertionError("no " + st + " state within " + ms + " ms");
        }
    }

    static ZooKeeper connect(String addr, int timeoutMs, Events w) throws Exception {
        Events ev = w != null ? w : new Events();
        ZooKeeper z = new ZooKeeper(addr, timeoutMs, ev);
        ev.waitState(Watcher.Event.KeeperState.SyncConnected, 20000);
        return z;
    }

    static ZooKeeper kafka(Events w) throws Exception { return connect(server + CHROOT, 6000, w); }

    /** KafkaZkClient.createRecursive: create; on NONODE create the parents, then again; NODEEXISTS is fine. */
    static void createRecursive(ZooKeeper z, String path, byte[] data) throws Exception {
        try {
            z.create(path, data, OPEN, CreateMode.PERSISTENT);
        } catch (KeeperException.NodeExistsException e) {
            // fine
        } catch (KeeperException.NoNodeException e) {
            createRecursive(z, path.substring(0, path.lastIndexOf('/')), null);
            try { z.create(path, data, OPEN, CreateMode.PERSISTENT); } catch (KeeperException.NodeExistsException e2) { /* fine */ }
        }
    }

    /** KafkaZkClient.deleteRecursive: children first (getChildren), then the node, any version; NONODE is fine. */
    static void deleteRecursive(ZooKeeper z, String path) throws Exception {
        List<String> kids;
        try { kids = z.getChildren(path, false); } catch (KeeperException.NoNodeException e) { return; }
        for (String k : kids) deleteRecursive(z, path + "/" + k);
        try { z.delete(path, -1); } catch (KeeperException.NoNodeException e) { /* fine */ }
    }

    static final String[] PERSISTENT_PATHS = {
        "/consumers", "/brokers/ids", "/brokers/topics", "/config/changes", "/admin/delete_topics",
        "/brokers/seqid", "/isr_change_notification", "/latest_producer_id_block", "/log_dir_event_notification",
        "/config/topics", "/config/clients", "/config/users", "/config/brokers", "/config/ips",
    };

    // ------------------------------------------------------------------ checks

    static void chrootAndCreateRecursive() throws Exception {
        // KafkaZkClient.apply: a client without chroot makes the chroot path, recursively
        try (ZooKeeper root = connect(server, 6000, null)) {
            deleteRecursive(root, CHROOT);
            createRecursive(root, CHROOT, null);
            require(root.exists(CHROOT, false) != null, "chroot not created");
        }
        try (ZooKeeper z = kafka(null)) {
            for (String p : PERSISTENT_PATHS) createRecursive(z, p, null);
            for (String p : PERSISTENT_PATHS) createRecursive(z, p, null); // a second broker: NODEEXISTS ignored
            List<String> top = z.getChildren("/", false);
            Collections.sort(top);
            eq(Arrays.asList("admin", "brokers", "config", "consumers", "isr_change_notification",
                "latest_producer_id_block", "log_dir_event_notification"), top, "chroot children");
            // /cluster/id: getData NONODE -> create -> a racing creator gets NODEEXISTS and reads it
            try { z.getData("/cluster/id", false, null); throw new AssertionError("cluster id exists"); }
            catch (KeeperException.NoNodeException e) { /* expected */ }
            createRecursive(z, "/cluster/id", b("{\"version\":\"1\",\"id\":\"abc\"}"));
            try { z.create("/cluster/id", b("{\"version\":\"1\",\"id\":\"other\"}"), OPEN, CreateMode.PERSISTENT); throw new AssertionError("second create ok"); }
            catch (KeeperException.NodeExistsException e) { /* expected */ }
            eq("{\"version\":\"1\",\"id\":\"abc\"}", s(z.getData("/cluster/id", false, null)), "cluster id");
        }
        try (ZooKeeper root = connect(server, 6000, null)) {
            require(root.exists(CHROOT + "/brokers/ids", false) != null, "chrooted create not under " + CHROOT);
        }
    }

    /** KafkaZkClient.registerBroker -> CheckedEphemeral.create: multi(create EPHEMERAL null data, setData v0). */
    static Stat checkedEphemeralCreate(ZooKeeper z, String path, byte[] data) throws Exception {
        try {
            List<OpResult> r = z.multi(Arrays.asList(Op.create(path, null, OPEN, CreateMode.EPHEMERAL), Op.setData(path, data, 0)));
            require(r.get(0) instanceof OpResult.CreateResult, "result 0 " + r.get(0));
            // The 3.8 Java client leaves the chroot on a multi's CreateResult path (a plain create's
            // name is stripped); Kafka does not read it. Both servers send the full path.
            eq(CHROOT + path, ((OpResult.CreateResult) r.get(0)).getPath(), "created path");
            return ((OpResult.SetDataResult) r.get(1)).getStat();
        } catch (KeeperException.NodeExistsException e) {
            // getAfterNodeExists: ours if the owner is this session
            Stat st = new Stat();
            z.getData(path, false, st);
            if (st.getEphemeralOwner() != z.getSessionId()) throw e;
            return st;
        }
    }

    static void checkedEphemeral() throws Exception {
        try (ZooKeeper a = kafka(null); ZooKeeper other = kafka(null)) {
            String path = "/brokers/ids/1001";
            long before = a.exists("/brokers/ids", false).getPzxid();
            Stat st = checkedEphemeralCreate(a, path, b("{\"broker\":1001}"));
            long epoch = st.getCzxid(); // the broker epoch
            require(epoch > before, "czxid " + epoch + " not after " + before);
            eq(st.getCzxid(), st.getMzxid(), "create and setData in one multi share a zxid (czxid == mzxid)");
            eq(1, st.getVersion(), "version after setData 0");
            eq(a.getSessionId(), st.getEphemeralOwner(), "ephemeralOwner");
            eq(b("{\"broker\":1001}").length, st.getDataLength(), "dataLength");
            Stat read = new Stat();
            eq("{\"broker\":1001}", s(a.getData(path, false, read)), "data");
            eq(epoch, read.getCzxid(), "getData czxid");
            // the same session again (retry after CONNECTIONLOSS): NODEEXISTS, owner is us -> same epoch
            eq(epoch, checkedEphemeralCreate(a, path, b("{\"broker\":1001}")).getCzxid(), "re-registration epoch");
            // another session: NODEEXISTS with another owner -> refused, nothing changed
            try {
                checkedEphemeralCreate(other, path, b("{\"broker\":\"impostor\"}"));
                throw new AssertionError("another session registered the same id");
            } catch (KeeperException.NodeExistsException e) { /* expected */ }
            eq("{\"broker\":1001}", s(other.getData(path, false, null)), "data after refused registration");
            // the multi failing on the create leaves no trace: the setData did not run
            eq(1, other.exists(path, false).getVersion(), "version after refused registration");
            // the getChildren2 a controller does on /brokers/ids
            Stat ids = new Stat();
            require(a.getChildren("/brokers/ids", false, ids).contains("1001"), "not listed");
            a.close();
            Stat again = checkedEphemeralCreate(other, path, b("{\"broker\":1001}"));
            require(again.getCzxid() > epoch, "new epoch " + again.getCzxid() + " not above " + epoch);
            other.delete(path, -1);
        }
    }

    static int epochOf(ZooKeeper z, Stat st) throws Exception {
        return Integer.parseInt(s(z.getData("/controller_epoch", false, st)).trim());
    }

    /** registerControllerAndIncrementControllerEpoch: multi(create /controller EPHEMERAL, setData /controller_epoch v). */
    static void controllerElection() throws Exception {
        try (ZooKeeper a = kafka(null); ZooKeeper bz = kafka(null)) {
            deleteRecursive(a, "/controller");
            deleteRecursive(a, "/controller_epoch");
            // maybeCreateControllerEpochZNode: create "0" PERSISTENT; a racing broker gets NODEEXISTS
            a.create("/controller_epoch", b("0"), OPEN, CreateMode.PERSISTENT);
            try { bz.create("/controller_epoch", b("0"), OPEN, CreateMode.PERSISTENT); throw new AssertionError("twice"); }
            catch (KeeperException.NodeExistsException e) { /* expected */ }
            Stat es = new Stat();
            int epoch = epochOf(a, es);
            int zkVersion = es.getVersion();
            List<OpResult> r = a.multi(Arrays.asList(
                Op.create("/controller", b("{\"version\":1,\"brokerid\":1,\"timestamp\":\"1\"}"), OPEN, CreateMode.EPHEMERAL),
                Op.setData("/controller_epoch", b(String.valueOf(epoch + 1)), zkVersion)));
            int newVersion = ((OpResult.SetDataResult) r.get(1)).getStat().getVersion();
            eq(zkVersion + 1, newVersion, "controller_epoch zkVersion");
            // the losing broker read the same epoch and version: NODEEXISTS at op 0, op 1 rolled back
            try {
                bz.multi(Arrays.asList(
                    Op.create("/controller", b("{\"version\":1,\"brokerid\":2,\"timestamp\":\"1\"}"), OPEN, CreateMode.EPHEMERAL),
                    Op.setData("/controller_epoch", b(String.valueOf(epoch + 1)), zkVersion)));
                throw new AssertionError("second controller elected");
            } catch (KeeperException e) {
                eq(Code.NODEEXISTS, e.code(), "losing multi code");
                List<OpResult> rs = e.getResults();
                eq(Code.NODEEXISTS.intValue(), ((OpResult.ErrorResult) rs.get(0)).getErr(), "op 0");
                eq(Code.RUNTIMEINCONSISTENCY.intValue(), ((OpResult.ErrorResult) rs.get(1)).getErr(), "op 1");
            }
            Stat now = new Stat();
            eq(epoch + 1, epochOf(bz, now), "epoch after the lost race");
            eq(newVersion, now.getVersion(), "epoch version after the lost race");
            // checkControllerAndEpoch: the loser reads /controller and its owner
            Stat cs = new Stat();
            require(s(bz.getData("/controller", false, cs)).contains("\"brokerid\":1"), "controller data");
            eq(a.getSessionId(), cs.getEphemeralOwner(), "controller owner");
            // after the controller's session goes, a stale epoch version: BADVERSION at op 1, create undone
            a.close();
            require(bz.exists("/controller", false) == null, "controller not deleted with its session");
            try {
                bz.multi(Arrays.asList(
                    Op.create("/controller", b("{\"version\":1,\"brokerid\":2,\"timestamp\":\"2\"}"), OPEN, CreateMode.EPHEMERAL),
                    Op.setData("/controller_epoch", b(String.valueOf(epoch + 1)), zkVersion)));
                throw new AssertionError("stale epoch version accepted");
            } catch (KeeperException e) {
                eq(Code.BADVERSION, e.code(), "stale multi code");
                eq(0, ((OpResult.ErrorResult) e.getResults().get(0)).getErr(), "op 0 of the failed multi");
                eq(Code.BADVERSION.intValue(), ((OpResult.ErrorResult) e.getResults().get(1)).getErr(), "op 1");
            }
            require(bz.exists("/controller", false) == null, "the create of a failed multi stayed");
            List<OpResult> r2 = bz.multi(Arrays.asList(
                Op.create("/controller", b("{\"version\":1,\"brokerid\":2,\"timestamp\":\"3\"}"), OPEN, CreateMode.EPHEMERAL),
                Op.setData("/controller_epoch", b(String.valueOf(epoch + 2)), newVersion)));
            eq(newVersion + 1, ((OpResult.SetDataResult) r2.get(1)).getStat().getVersion(), "epoch version after re-election");
            bz.delete("/controller", -1);
        }
    }

    /** Controller writes wrapped as multi(check /controller_epoch version, op): ControllerMovedException on BADVERSION. */
    static void fencedWrites() throws Exception {
        try (ZooKeeper z = kafka(null)) {
            createRecursive(z, "/brokers/topics/t1/partitions", null);
            Stat es = new Stat();
            z.getData("/controller_epoch", false, es);
            int v = es.getVersion();
            Op check = Op.check("/controller_epoch", v);
            // create, setData, delete, each fenced
            List<OpResult> r = z.multi(Arrays.asList(check, Op.create("/brokers/topics/t1/partitions/0", null, OPEN, CreateMode.PERSISTENT)));
            require(r.get(0) instanceof OpResult.CheckResult, "check result " + r.get(0));
            r = z.multi(Arrays.asList(check, Op.create("/brokers/topics/t1/partitions/0/state", b("{\"leader\":1}"), OPEN, CreateMode.PERSISTENT)));
            eq(CHROOT + "/brokers/topics/t1/partitions/0/state", ((OpResult.CreateResult) r.get(1)).getPath(), "fenced create path (chroot kept, see above)");
            r = z.multi(Arrays.asList(check, Op.setData("/brokers/topics/t1/partitions/0/state", b("{\"leader\":2}"), 0)));
            Stat st = ((OpResult.SetDataResult) r.get(1)).getStat();
            eq(1, st.getVersion(), "partition state zkVersion (the partition epoch)");
            // the per-partition conditional update with a stale zkVersion: BADVERSION from op 1
            try {
                z.multi(Arrays.asList(check, Op.setData("/brokers/topics/t1/partitions/0/state", b("{\"leader\":3}"), 0)));
                throw new AssertionError("stale partition version accepted");
            } catch (KeeperException e) {
                eq(Code.BADVERSION, e.code(), "code");
                eq(0, ((OpResult.ErrorResult) e.getResults().get(0)).getErr(), "check op result in a failed multi");
            }
            // another controller bumps the epoch: every fenced write fails on the check
            z.setData("/controller_epoch", b("99"), v);
            for (Op op : Arrays.asList(
                    Op.setData("/brokers/topics/t1/partitions/0/state", b("{\"leader\":4}"), 1),
                    Op.create("/brokers/topics/t1/partitions/1", null, OPEN, CreateMode.PERSISTENT),
                    Op.delete("/brokers/topics/t1/partitions/0/state", -1))) {
                try {
                    z.multi(Arrays.asList(check, op));
                    throw new AssertionError("fenced " + op.getPath() + " went through");
                } catch (KeeperException e) {
                    eq(Code.BADVERSION, e.code(), "fenced multi code");
                    eq(Code.BADVERSION.intValue(), ((OpResult.ErrorResult) e.getResults().get(0)).getErr(), "check op");
                    eq(Code.RUNTIMEINCONSISTENCY.intValue(), ((OpResult.ErrorResult) e.getResults().get(1)).getErr(), "fenced op");
                }
            }
            eq("{\"leader\":2}", s(z.getData("/brokers/topics/t1/partitions/0/state", false, null)), "state after fencing");
            require(z.exists("/brokers/topics/t1/partitions/1", false) == null, "fenced create happened");
            // async multi, as ZooKeeperClient sends it: rc and per-op results in the callback
            CompletableFuture<Object[]> f = new CompletableFuture<>();
            z.multi(Arrays.asList(Op.check("/controller_epoch", v + 1), Op.setData("/brokers/topics/t1/partitions/0/state", b("{\"leader\":5}"), 1)),
                (rc, path, ctx, res) -> f.complete(new Object[] {rc, res}), null);
            Object[] got = f.get(10, TimeUnit.SECONDS);
            eq(0, got[0], "async fenced multi rc");
            @SuppressWarnings("unchecked") List<OpResult> res = (List<OpResult>) got[1];
            eq(2, ((OpResult.SetDataResult) res.get(1)).getStat().getVersion(), "async multi stat");
            deleteRecursive(z, "/brokers/topics/t1");
        }
    }

    /** registerZNodeChangeHandlerAndCheckExistence: exists with a watch, also on missing nodes. */
    static void existsWatches() throws Exception {
        Events w = new Events();
        try (ZooKeeper z = kafka(w); ZooKeeper other = kafka(null)) {
            for (String p : new String[] {"/controller", "/admin/reassign_partitions", "/admin/preferred_replica_election"})
                require(z.exists(p, true) == null, p + " exists");
            other.create("/controller", b("{\"brokerid\":7}"), OPEN, CreateMode.EPHEMERAL);
            w.expect(Watcher.Event.EventType.NodeCreated, "/controller");
            other.create("/admin/reassign_partitions", b("{}"), OPEN, CreateMode.PERSISTENT);
            w.expect(Watcher.Event.EventType.NodeCreated, "/admin/reassign_partitions");
            // the handler re-reads with a watch: data change, then deletion (session close)
            z.getData("/controller", true, null);
            z.exists("/admin/reassign_partitions", true);
            other.setData("/admin/reassign_partitions", b("{\"partitions\":[]}"), -1);
            w.expect(Watcher.Event.EventType.NodeDataChanged, "/admin/reassign_partitions");
            other.close();
            w.expect(Watcher.Event.EventType.NodeDeleted, "/controller");
            z.delete("/admin/reassign_partitions", -1);
            w.none(300); // no watch was left on it
            // the broker modification handler: getData watch on /brokers/ids/N
            z.create("/brokers/ids/5", b("a"), OPEN, CreateMode.EPHEMERAL);
            z.getData("/brokers/ids/5", true, null);
            z.setData("/brokers/ids/5", b("b"), -1);
            w.expect(Watcher.Event.EventType.NodeDataChanged, "/brokers/ids/5");
            z.delete("/brokers/ids/5", -1);
            z.exists("/admin/preferred_replica_election", false); // a plain exists clears nothing
            z.create("/admin/preferred_replica_election", b("{}"), OPEN, CreateMode.PERSISTENT);
            w.expect(Watcher.Event.EventType.NodeCreated, "/admin/preferred_replica_election");
            z.delete("/admin/preferred_replica_election", -1);
            w.none(300);
        }
    }

    /** Child watches (getChildren2) and the sequential notification znodes the controller consumes. */
    static void childWatchesAndSequential() throws Exception {
        Events w = new Events();
        try (ZooKeeper z = kafka(w); ZooKeeper broker = kafka(null)) {
            deleteRecursive(z, "/isr_change_notification");
            createRecursive(z, "/isr_change_notification", null);
            Stat st = new Stat();
            eq(0, z.getChildren("/isr_change_notification", true, st).size(), "children");
            String n0 = broker.create("/isr_change_notification/isr_change_", b("{\"version\":1,\"partitions\":[]}"), OPEN, CreateMode.PERSISTENT_SEQUENTIAL);
            eq("/isr_change_notification/isr_change_0000000000", n0, "first sequential name");
            w.expect(Watcher.Event.EventType.NodeChildrenChanged, "/isr_change_notification");
            String n1 = broker.create("/isr_change_notification/isr_change_", null, OPEN, CreateMode.PERSISTENT_SEQUENTIAL);
            eq("/isr_change_notification/isr_change_0000000001", n1, "second sequential name");
            w.none(300); // one-shot: not re-armed
            // the controller processes: getChildren (re-arm), getData each, delete each
            List<String> kids = z.getChildren("/isr_change_notification", true);
            Collections.sort(kids);
            eq(Arrays.asList("isr_change_0000000000", "isr_change_0000000001"), kids, "notifications");
            for (String k : kids) {
                z.getData("/isr_change_notification/" + k, false, null);
                z.delete("/isr_change_notification/" + k, -1);
            }
            w.expect(Watcher.Event.EventType.NodeChildrenChanged, "/isr_change_notification");
            // the suffix counts the parent's creates only: deletes do not move it
            eq("/isr_change_notification/isr_change_0000000002",
                broker.create("/isr_change_notification/isr_change_", null, OPEN, CreateMode.PERSISTENT_SEQUENTIAL), "after deletes");
            // config change notifications share the scheme
            String c0 = broker.create("/config/changes/config_change_", b("{\"version\":2,\"entity_path\":\"topics/t\"}"), OPEN, CreateMode.PERSISTENT_SEQUENTIAL);
            require(c0.matches("/config/changes/config_change_\\d{10}"), "config change name " + c0);
            // the broker change handler: a child watch on /brokers/ids sees an ephemeral go with its session
            z.getChildren("/brokers/ids", true);
            broker.create("/brokers/ids/9", b("{}"), OPEN, CreateMode.EPHEMERAL);
            w.expect(Watcher.Event.EventType.NodeChildrenChanged, "/brokers/ids");
            z.getChildren("/brokers/ids", true);
            broker.close();
            w.expect(Watcher.Event.EventType.NodeChildrenChanged, "/brokers/ids");
            deleteRecursive(z, "/isr_change_notification");
            deleteRecursive(z, "/config/changes");
        }
    }

    /** generateBrokerSequenceId (setData -1 on /brokers/seqid, the version is the id) and conditionalUpdatePath. */
    static void seqidAndConditional() throws Exception {
        try (ZooKeeper z = kafka(null)) {
            deleteRecursive(z, "/brokers/seqid");
            try { z.setData("/brokers/seqid", new byte[0], -1); throw new AssertionError("seqid exists"); }
            catch (KeeperException.NoNodeException e) { createRecursive(z, "/brokers/seqid", new byte[0]); }
            for (int i = 1; i <= 3; i++) eq(i, z.setData("/brokers/seqid", new byte[0], -1).getVersion(), "seqid " + i);
            // /latest_producer_id_block: read, conditional write with the read version, lose a race
            Stat st = new Stat();
            z.getData("/latest_producer_id_block", false, st);
            Stat s2 = z.setData("/latest_producer_id_block", b("{\"version\":1,\"broker\":1,\"block_start\":\"0\",\"block_end\":\"999\"}"), st.getVersion());
            eq(st.getVersion() + 1, s2.getVersion(), "version");
            try { z.setData("/latest_producer_id_block", b("x"), st.getVersion()); throw new AssertionError("stale write"); }
            catch (KeeperException.BadVersionException e) { /* expected */ }
            try { z.setData("/brokers/topics/missing/partitions/0/state", b("x"), 0); throw new AssertionError("no node"); }
            catch (KeeperException.NoNodeException e) { /* expected */ }
        }
    }

    /** ZooKeeperClient pipelines up to maxInFlightRequests (10) async requests; answers come in order. */
    static void pipelined() throws Exception {
        try (ZooKeeper z = kafka(null)) {
            createRecursive(z, "/brokers/topics/pipe", b("{\"partitions\":{}}"));
            int n = 60;
            List<String> order = Collections.synchronizedList(new ArrayList<>());
            CountDownLatch done = new CountDownLatch(n);
            for (int i = 0; i < n; i++) {
                final int k = i;
                switch (i % 5) {
                    case 0: z.create("/brokers/topics/pipe/p" + i, b("d" + i), OPEN, CreateMode.PERSISTENT,
                        (rc, p, ctx, name) -> { order.add(k + ":" + rc); done.countDown(); }, null); break;
                    case 1: z.getData("/brokers/topics/pipe/p" + (i - 1), false,
                        (rc, p, ctx, data, st) -> { order.add(k + ":" + rc + ":" + s(data)); done.countDown(); }, null); break;
                    case 2: z.exists("/brokers/topics/pipe/missing" + i, false,
                        (rc, p, ctx, st) -> { order.add(k + ":" + rc); done.countDown(); }, null); break;
                    case 3: z.getChildren("/brokers/topics/pipe", false,
                        (rc, p, ctx, kids, st) -> { order.add(k + ":" + rc + ":" + kids.size()); done.countDown(); }, null); break;
                    default: z.setData("/brokers/topics/pipe/p" + (i - 4), b("e"), 0,
                        (rc, p, ctx, st) -> { order.add(k + ":" + rc); done.countDown(); }, null); break;
                }
            }
            require(done.await(20, TimeUnit.SECONDS), "replies missing: " + order.size());
            for (int i = 0; i < n; i++) {
                String want;
                switch (i % 5) {
                    case 0: want = i + ":0"; break;
                    case 1: want = i + ":0:d" + (i - 1); break;
                    case 2: want = i + ":" + Code.NONODE.intValue(); break;
                    case 3: want = i + ":0:" + (i / 5 + 1); break;
                    default: want = i + ":0"; break;
                }
                eq(want, order.get(i), "reply " + i);
            }
            deleteRecursive(z, "/brokers/topics/pipe");
        }
    }

    /** getAcl / setAcl (ZkSecurityMigrator, defaultAcls) and deleteRecursive of a topic tree. */
    static void aclsAndDeleteRecursive() throws Exception {
        try (ZooKeeper z = kafka(null)) {
            createRecursive(z, "/brokers/topics/acl/partitions/0/state", b("{}"));
            Stat st = new Stat();
            eq(OPEN, z.getACL("/brokers/topics/acl", st), "default ACL");
            List<ACL> world = Collections.singletonList(new ACL(ZooDefs.Perms.ALL, ZooDefs.Ids.ANYONE_ID_UNSAFE));
            Stat after = z.setACL("/brokers/topics/acl", world, st.getAversion());
            eq(st.getAversion() + 1, after.getAversion(), "aversion");
            try { z.setACL("/brokers/topics/acl", world, st.getAversion()); throw new AssertionError("stale aversion"); }
            catch (KeeperException.BadVersionException e) { /* expected */ }
            deleteRecursive(z, "/brokers/topics/acl");
            require(z.exists("/brokers/topics/acl", false) == null, "not deleted");
            deleteRecursive(z, "/brokers/topics/acl"); // NONODE tolerated
        }
    }

    /** ZK -> KRaft migration: 3-op fenced multis and the controller take-over (delete + create in one multi). */
    static void migrationMultis() throws Exception {
        try (ZooKeeper z = kafka(null); ZooKeeper old = kafka(null)) {
            deleteRecursive(z, "/migration");
            deleteRecursive(z, "/controller");
            z.create("/migration", b("{\"version\":0}"), OPEN, CreateMode.PERSISTENT);
            Stat es = new Stat();
            int epoch = epochOf(z, es);
            old.create("/controller", b("{\"brokerid\":1}"), OPEN, CreateMode.EPHEMERAL);
            Stat cs = old.exists("/controller", false);
            // registerZkControllerForMigration: bump the epoch, delete the old controller znode by version, create ours
            List<OpResult> r = z.multi(Arrays.asList(
                Op.setData("/controller_epoch", b(String.valueOf(epoch + 1)), es.getVersion()),
                Op.delete("/controller", cs.getVersion()),
                Op.create("/controller", b("{\"brokerid\":3000,\"kraftControllerEpoch\":1}"), OPEN, CreateMode.PERSISTENT)));
            int epochVersion = ((OpResult.SetDataResult) r.get(0)).getStat().getVersion();
            require(r.get(1) instanceof OpResult.DeleteResult, "delete result " + r.get(1));
            Stat nc = z.exists("/controller", false);
            eq(0L, nc.getEphemeralOwner(), "kraft controller znode is persistent");
            // wrapMigrationRequest: check epoch version, setData /migration version, the op
            Stat ms = z.exists("/migration", false);
            r = z.multi(Arrays.asList(Op.check("/controller_epoch", epochVersion),
                Op.setData("/migration", b("{\"version\":0,\"n\":1}"), ms.getVersion()),
                Op.create("/config/topics/mig", b("{}"), OPEN, CreateMode.PERSISTENT)));
            eq(ms.getVersion() + 1, ((OpResult.SetDataResult) r.get(1)).getStat().getVersion(), "migration version");
            r = z.multi(Arrays.asList(Op.check("/controller_epoch", epochVersion),
                Op.check("/migration", ms.getVersion() + 1),
                Op.delete("/config/topics/mig", -1)));
            require(r.get(1) instanceof OpResult.CheckResult, "check result " + r.get(1));
            try {
                z.multi(Arrays.asList(Op.check("/controller_epoch", epochVersion),
                    Op.setData("/migration", b("{}"), ms.getVersion()),
                    Op.create("/config/topics/mig2", b("{}"), OPEN, CreateMode.PERSISTENT)));
                throw new AssertionError("stale migration version accepted");
            } catch (KeeperException e) {
                eq(Code.BADVERSION, e.code(), "code");
                int[] want = {0, Code.BADVERSION.intValue(), Code.RUNTIMEINCONSISTENCY.intValue()};
                for (int i = 0; i < 3; i++) eq(want[i], ((OpResult.ErrorResult) e.getResults().get(i)).getErr(), "op " + i);
            }
            require(z.exists("/config/topics/mig2", false) == null, "failed multi left a node");
            z.delete("/controller", -1);
            deleteRecursive(z, "/migration");
        }
    }

    // ---------------------------------------------------------------- a TCP relay to cut connections

    /** Relays 127.0.0.1:port to the server; cut() drops every connection and refuses new ones until open(). */
    static class Relay implements Closeable {
        final ServerSocket ss = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
        final List<Socket> live = Collections.synchronizedList(new ArrayList<>());
        volatile boolean up = true;
        final String host; final int port;
        Relay(String target) throws IOException {
            host = target.substring(0, target.lastIndexOf(':'));
            port = Integer.parseInt(target.substring(target.lastIndexOf(':') + 1));
            Thread t = new Thread(this::accept, "relay");
            t.setDaemon(true);
            t.start();
        }
        String addr() { return "127.0.0.1:" + ss.getLocalPort(); }
        void accept() {
            while (!ss.isClosed()) {
                try {
                    Socket c = ss.accept();
                    if (!up) { c.close(); continue; }
                    Socket s = new Socket(host, port);
                    live.add(c); live.add(s);
                    pump(c, s); pump(s, c);
                } catch (IOException e) { /* closed */ }
            }
        }
        void pump(Socket from, Socket to) {
            Thread t = new Thread(() -> {
                byte[] buf = new byte[65536];
                try {
                    InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream();
                    for (int n; (n = in.read(buf)) > 0; ) out.write(buf, 0, n);
                } catch (IOException e) { /* cut */ }
                try { from.close(); } catch (IOException e) { }
                try { to.close(); } catch (IOException e) { }
            });
            t.setDaemon(true);
            t.start();
        }
        void cut() {
            up = false;
            synchronized (live) { for (Socket s : live) try { s.close(); } catch (IOException e) { } live.clear(); }
        }
        void open() { up = true; }
        public void close() throws IOException { cut(); ss.close(); }
    }

    /**
     * The Java client re-sends its watches with setWatches (relative zxid) after a reconnect:
     * what changed while it was away fires at once (NodeCreated, NodeDataChanged, NodeDeleted,
     * NodeChildrenChanged); untouched watches stay armed and fire later.
     */
    static void setWatchesOnReconnect() throws Exception {
        try (Relay relay = new Relay(server); ZooKeeper other = kafka(null)) {
            createRecursive(other, "/sw", null);
            other.create("/sw/data", b("1"), OPEN, CreateMode.PERSISTENT);
            other.create("/sw/gone", b("1"), OPEN, CreateMode.PERSISTENT);
            other.create("/sw/still", b("1"), OPEN, CreateMode.PERSISTENT);
            Events w = new Events();
            try (ZooKeeper z = connect(relay.addr() + CHROOT, 6000, w)) {
                require(z.exists("/controller", true) == null, "controller exists");
                z.getData("/sw/data", true, null);
                z.exists("/sw/gone", true);
                z.getChildren("/sw", true);
                z.getData("/sw/still", true, null);
                relay.cut();
                w.waitState(Watcher.Event.KeeperState.Disconnected, 10000);
                other.create("/controller", b("{\"brokerid\":2}"), OPEN, CreateMode.EPHEMERAL);
                other.setData("/sw/data", b("2"), -1);
                other.delete("/sw/gone", -1);
                relay.open();
                w.waitState(Watcher.Event.KeeperState.SyncConnected, 15000);
                Map<String, Watcher.Event.EventType> got = new TreeMap<>();
                for (int i = 0; i < 4; i++) {
                    WatchedEvent e = w.next(5000);
                    require(e != null, "events after reconnect: " + got);
                    got.put(e.getPath(), e.getType());
                }
                Map<String, Watcher.Event.EventType> want = new TreeMap<>();
                want.put("/controller", Watcher.Event.EventType.NodeCreated);
                want.put("/sw/data", Watcher.Event.EventType.NodeDataChanged);
                want.put("/sw/gone", Watcher.Event.EventType.NodeDeleted);
                want.put("/sw", Watcher.Event.EventType.NodeChildrenChanged);
                eq(want, got, "events from setWatches");
                w.none(300);
                other.setData("/sw/still", b("2"), -1); // re-registered, still armed
                w.expect(Watcher.Event.EventType.NodeDataChanged, "/sw/still");
                other.delete("/controller", -1);
            }
            deleteRecursive(other, "/sw");
        }
    }

    /**
     * Session expiry: the broker's ephemerals go (watchers told), the client gets Expired;
     * ZooKeeperClient makes a new session and CheckedEphemeral registers again with a new epoch.
     */
    static void expiryReregistration() throws Exception {
        Events ow = new Events();
        try (Relay relay = new Relay(server); ZooKeeper observer = kafka(ow)) {
            Events w = new Events();
            ZooKeeper z = connect(relay.addr() + CHROOT, 4000, w);
            Stat st = checkedEphemeralCreate(z, "/brokers/ids/77", b("{\"b\":77}"));
            observer.exists("/brokers/ids/77", true);
            relay.cut(); // no pings reach the server: the session expires after 4 s
            ow.expect(Watcher.Event.EventType.NodeDeleted, "/brokers/ids/77", 20000);
            relay.open();
            w.waitState(Watcher.Event.KeeperState.Expired, 20000);
            z.close();
            try (ZooKeeper z2 = connect(relay.addr() + CHROOT, 4000, null)) {
                Stat again = checkedEphemeralCreate(z2, "/brokers/ids/77", b("{\"b\":77}"));
                require(again.getCzxid() > st.getCzxid(), "new broker epoch " + again.getCzxid() + " not above " + st.getCzxid());
                eq(z2.getSessionId(), again.getEphemeralOwner(), "owner");
                require(z2.getSessionId() != z.getSessionId(), "same session id");
            }
            require(observer.exists("/brokers/ids/77", false) == null, "not removed with the closed session");
            // tidy: the whole chroot goes
        }
        try (ZooKeeper root = connect(server, 6000, null)) {
            deleteRecursive(root, CHROOT);
        }
    }
}
