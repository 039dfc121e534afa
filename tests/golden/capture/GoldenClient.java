// Drives the official ZooKeeper 3.8 Java client through every client-protocol record,
// through capture/proxy.py. Before each interesting call it sends exists("/__label/NAME")
// so extract.py can name the next request and its reply. Dev tool; not run in CI.
import java.util.*;
import java.util.concurrent.*;
import org.apache.zookeeper.*;
import org.apache.zookeeper.data.*;

public class GoldenClient {
    static ZooKeeper zk;

    static void label(String name) throws Exception {
        zk.exists("/__label/" + name, false);
    }

    static void drop() throws Exception {
        // The proxy closes the connection on this path; the client reconnects.
        final CountDownLatch again = new CountDownLatch(1);
        try {
            zk.exists("/__ctl/drop", false);
        } catch (KeeperException.ConnectionLossException e) {
            // expected
        }
        for (int i = 0; i < 100 && !zk.getState().isConnected(); i++) Thread.sleep(100);
        // Let the reconnect's setWatches/auth reply arrive.
        Thread.sleep(500);
    }

    static void expect(Class<? extends Exception> c, Callable<?> f) throws Exception {
        try {
            f.call();
            throw new RuntimeException("expected " + c.getSimpleName());
        } catch (Exception e) {
            if (!c.isInstance(e)) throw e;
        }
    }

    public static void main(String[] args) throws Exception {
        final CountDownLatch connected = new CountDownLatch(1);
        Watcher defaultWatcher = ev -> {
            if (ev.getState() == Watcher.Event.KeeperState.SyncConnected) connected.countDown();
        };
        zk = new ZooKeeper(args[0], 4000, defaultWatcher);
        connected.await();
        List<ACL> open = ZooDefs.Ids.OPEN_ACL_UNSAFE;
        Stat st = new Stat();

        label("create");
        zk.create("/g", "root".getBytes(), open, CreateMode.PERSISTENT);
        label("create2");
        zk.create("/g/c2", "two".getBytes(), open, CreateMode.PERSISTENT, st);
        label("create_container");
        zk.create("/g/container", null, open, CreateMode.CONTAINER);
        label("create_ttl");
        zk.create("/g/ttl", "ttl".getBytes(), open, CreateMode.PERSISTENT_WITH_TTL, st, 60000);
        label("create_sequential");
        zk.create("/g/seq-", new byte[0], open, CreateMode.PERSISTENT_SEQUENTIAL);
        label("create_ephemeral");
        zk.create("/g/eph", "e".getBytes(), open, CreateMode.EPHEMERAL);
        label("create_nodeexists");
        expect(KeeperException.NodeExistsException.class,
                () -> zk.create("/g", null, open, CreateMode.PERSISTENT));
        List<ACL> secret = Collections.singletonList(
                new ACL(ZooDefs.Perms.READ, new Id("digest", "other:AAAAAAAAAAAAAAAAAAAAAAAAAAA=")));
        label("create_acl");
        zk.create("/g/secret", "s".getBytes(), secret, CreateMode.PERSISTENT);

        label("exists");
        zk.exists("/g/c2", true);
        label("exists_nonode");
        zk.exists("/g/missing", true);
        label("get_data");
        zk.getData("/g", true, st);
        label("get_data_null");
        zk.getData("/g/container", false, st);
        label("get_data_nonode");
        expect(KeeperException.NoNodeException.class, () -> zk.getData("/g/nothere", false, null));
        label("get_data_noauth");
        expect(KeeperException.NoAuthException.class, () -> zk.getData("/g/secret", false, null));
        label("get_children");
        zk.getChildren("/g", true);

        // Reconnect with plain watches pending: the client replays them with setWatches (101).
        drop();

        label("set_data");
        zk.setData("/g", "new".getBytes(), -1);
        label("set_data_badversion");
        expect(KeeperException.BadVersionException.class,
                () -> zk.setData("/g", "x".getBytes(), 99));
        label("get_acl");
        zk.getACL("/g", st);
        label("set_acl");
        zk.setACL("/g/c2", Arrays.asList(
                new ACL(ZooDefs.Perms.ALL, ZooDefs.Ids.ANYONE_ID_UNSAFE),
                new ACL(ZooDefs.Perms.READ | ZooDefs.Perms.WRITE, new Id("ip", "127.0.0.1"))), -1);
        label("get_children2");
        zk.getChildren("/g", false, st);
        label("create_trigger_created");
        zk.create("/g/missing", "m".getBytes(), open, CreateMode.PERSISTENT);
        label("get_data_watch");
        zk.getData("/g/missing", true, st);
        label("delete");
        zk.delete("/g/missing", -1);
        label("delete_nonode");
        expect(KeeperException.NoNodeException.class, () -> { zk.delete("/g/nothere", -1); return null; });
        label("delete_notempty");
        expect(KeeperException.NotEmptyException.class, () -> { zk.delete("/g", -1); return null; });
        label("delete_badversion");
        expect(KeeperException.BadVersionException.class, () -> { zk.delete("/g/c2", 42); return null; });

        final CountDownLatch synced = new CountDownLatch(1);
        label("sync");
        zk.sync("/g", (rc, path, ctx) -> synced.countDown(), null);
        synced.await();

        label("multi");
        zk.multi(Arrays.asList(
                Op.create("/g/m1", "m".getBytes(), open, CreateMode.PERSISTENT),
                Op.create("/g/m2", null, open, CreateMode.CONTAINER),
                Op.create("/g/m3", "t".getBytes(), open, CreateMode.PERSISTENT_WITH_TTL, 5000),
                Op.setData("/g/m1", "mm".getBytes(), -1),
                Op.check("/g/m1", 1),
                Op.delete("/g/m1", -1)));
        label("multi_failure");
        expect(KeeperException.NoNodeException.class, () -> zk.multi(Arrays.asList(
                Op.create("/g/f1", "f".getBytes(), open, CreateMode.PERSISTENT),
                Op.delete("/g/doesnotexist", -1),
                Op.setData("/g", "x".getBytes(), -1))));
        label("multi_read");
        zk.multi(Arrays.asList(Op.getChildren("/g"), Op.getData("/g"), Op.getData("/g/nothere")));

        final Watcher w = ev -> { };
        label("get_data_for_check");
        zk.getData("/g/c2", w, st);
        label("check_watches");
        zk.removeWatches("/g/c2", w, Watcher.WatcherType.Data, false);
        label("get_children_for_remove");
        zk.getChildren("/g/c2", true);
        label("remove_watches");
        zk.removeAllWatches("/g/c2", Watcher.WatcherType.Children, false);

        label("add_watch");
        zk.addWatch("/g", AddWatchMode.PERSISTENT_RECURSIVE);
        label("set_data_recursive_watch");
        zk.setData("/g/c2", "changed".getBytes(), -1);

        label("get_ephemerals");
        zk.getEphemerals("/");
        label("get_all_children_number");
        zk.getAllChildrenNumber("/g");
        label("who_am_i");
        zk.whoAmI();
        zk.addAuthInfo("digest", "user:pass".getBytes());
        label("who_am_i_auth");
        zk.whoAmI();

        // Idle long enough for the client to ping (readTimeout/2 = 4000*2/3/2 ms).
        Thread.sleep(2500);

        // Reconnect with a persistent watch: setWatches2 (105), then the auth packet again.
        zk.exists("/g/c2", true);
        drop();

        label("close_session");
        zk.close();
        System.out.println("done");
    }
}
