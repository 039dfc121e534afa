// compat-tests/storage/StorageWorkload.java - the storage suite's client, on the official
// ZooKeeper 3.8 Java client.
//   StorageWorkload workload HOST:PORT [small]  scripted writes (every node kind, ACLs, multi,
//                                        deletes, sequential nodes); exits WITHOUT closing
//                                        its session, so its ephemerals stay in the data
//   StorageWorkload dump HOST:PORT       one line per znode (as super): path, data, Stat, ACL
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs.Ids;
import org.apache.zookeeper.ZooDefs.Perms;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;

public class StorageWorkload {
    static ZooKeeper connect(String addr) throws Exception {
        CountDownLatch up = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(addr, 40000, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                up.countDown();
            }
        });
        if (!up.await(30, TimeUnit.SECONDS)) {
            throw new IllegalStateException("cannot connect to " + addr);
        }
        return zk;
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static final List<ACL> OPEN = Ids.OPEN_ACL_UNSAFE;

    static void workload(ZooKeeper zk, boolean small) throws Exception {
        zk.addAuthInfo("digest", b("alice:secret"));
        zk.create("/app", b("root-data"), OPEN, CreateMode.PERSISTENT);
        zk.create("/app/null", null, OPEN, CreateMode.PERSISTENT);
        zk.create("/app/empty", new byte[0], OPEN, CreateMode.PERSISTENT);
        zk.create("/app/readonly", b("r"), Ids.READ_ACL_UNSAFE, CreateMode.PERSISTENT);
        zk.create("/app/creator", b("c"), Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT);
        List<ACL> mixed = Arrays.asList(new ACL(Perms.ALL, new Id("ip", "127.0.0.1")),
                new ACL(Perms.READ | Perms.WRITE, new Id("world", "anyone")));
        zk.create("/app/mixed", b("m"), mixed, CreateMode.PERSISTENT);
        zk.create("/app/seq", null, OPEN, CreateMode.PERSISTENT);
        List<String> seqs = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            seqs.add(zk.create("/app/seq/s-", b("s" + i), OPEN, CreateMode.PERSISTENT_SEQUENTIAL));
        }
        zk.delete(seqs.get(1), -1);
        zk.delete(seqs.get(4), 0);
        zk.create("/app/eph", b("e"), OPEN, CreateMode.EPHEMERAL);
        zk.create("/app/seq/eph-", b("es"), OPEN, CreateMode.EPHEMERAL_SEQUENTIAL);
        zk.create("/app/cont", b("container"), OPEN, CreateMode.CONTAINER);
        zk.create("/app/cont/child", b("keeps it"), OPEN, CreateMode.PERSISTENT);
        zk.create("/app/ttl", b("ttl"), OPEN, CreateMode.PERSISTENT_WITH_TTL, null, 3600000);
        zk.create("/app/seq/ttl-", b("ttls"), OPEN, CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, null, 7200000);
        zk.multi(Arrays.asList(
                Op.create("/app/multi", b("m"), OPEN, CreateMode.PERSISTENT),
                Op.create("/app/multi/a", null, OPEN, CreateMode.PERSISTENT),
                Op.create("/app/multi/s-", b("ms"), OPEN, CreateMode.PERSISTENT_SEQUENTIAL),
                Op.setData("/app", b("root-v2"), 0),
                Op.check("/app", 1),
                Op.delete(seqs.get(5), -1)));
        try {
            zk.multi(Arrays.asList(
                    Op.create("/app/never", b("x"), OPEN, CreateMode.PERSISTENT),
                    Op.check("/app", 99)));
        } catch (KeeperException.BadVersionException expected) {
            // a failed multi is logged as a multi of error txns
        }
        try {
            zk.create("/app", null, OPEN, CreateMode.PERSISTENT);
        } catch (KeeperException.NodeExistsException expected) {
            // a failed write is logged as an error txn
        }
        zk.setData("/app/null", b("no longer null"), -1);
        zk.setData("/app/empty", null, -1);
        zk.setACL("/app/mixed", Ids.OPEN_ACL_UNSAFE, 0);
        zk.setACL("/app/creator", Arrays.asList(new ACL(Perms.ALL, new Id("auth", "")),
                new ACL(Perms.READ, new Id("world", "anyone"))), -1);
        byte[] bin = new byte[256];
        for (int i = 0; i < 256; i++) {
            bin[i] = (byte) i;
        }
        zk.create("/app/binary", bin, OPEN, CreateMode.PERSISTENT);
        zk.create("/app/big", new byte[small ? 2048 : 200 * 1024], OPEN, CreateMode.PERSISTENT);
        zk.create("/app/\u00fcn\u00efc\u00f8de", b("\u2603"), OPEN, CreateMode.PERSISTENT);
        zk.create("/deep", null, OPEN, CreateMode.PERSISTENT);
        String p = "/deep";
        for (String c : new String[] {"a", "b", "c", "d", "e"}) {
            p = p + "/" + c;
            zk.create(p, b(p), OPEN, CreateMode.PERSISTENT);
        }
        zk.create("/gone", null, OPEN, CreateMode.PERSISTENT);
        zk.create("/gone/x", null, OPEN, CreateMode.PERSISTENT);
        zk.delete("/gone/x", -1);
        zk.delete("/gone", -1);
        // Enough txns for several snapshots and log files at a small snapCount.
        zk.create("/load", null, OPEN, CreateMode.PERSISTENT);
        for (int i = 0; i < (small ? 40 : 120); i++) {
            String n = "/load/n-" + i;
            zk.create(n, b("v" + i), OPEN, CreateMode.PERSISTENT);
            if (i % 3 == 0) {
                zk.setData(n, b("w" + i), -1);
            }
            if (i % 5 == 0) {
                zk.delete(n, -1);
            }
        }
        zk.setData("/app", b("root-final"), -1);
    }

    static String hex(byte[] d) {
        if (d == null) {
            return "null";
        }
        StringBuilder sb = new StringBuilder(d.length * 2 + 1).append('x');
        for (byte x : d) {
            sb.append(String.format("%02x", x));
        }
        return sb.toString();
    }

    static void dump(ZooKeeper zk, String path, List<String> out) throws Exception {
        Stat st = new Stat();
        byte[] data = zk.getData(path, false, st);
        Stat ast = new Stat();
        List<ACL> acl = zk.getACL(path, ast);
        StringBuilder acls = new StringBuilder();
        for (ACL a : acl) {
            acls.append(a.getId().getScheme()).append(':').append(a.getId().getId())
                    .append(':').append(a.getPerms()).append(';');
        }
        out.add(path + " data=" + hex(data) + " stat=" + st.toString().trim().replace('\n', ' ')
                + " acl=" + acls);
        List<String> children = zk.getChildren(path, false);
        Collections.sort(children);
        for (String c : children) {
            dump(zk, path.equals("/") ? "/" + c : path + "/" + c, out);
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: StorageWorkload workload|dump HOST:PORT");
            System.exit(2);
        }
        ZooKeeper zk = connect(args[1]);
        if (args[0].equals("workload")) {
            workload(zk, args.length > 2 && args[2].equals("small"));
            System.out.println("session 0x" + Long.toHexString(zk.getSessionId()));
            System.out.flush();
            // Leave without closeSession: the session and its ephemerals stay in the data.
            Runtime.getRuntime().halt(0);
        }
        zk.addAuthInfo("digest", b("super:test"));
        zk.getData("/", false, null); // the auth packet is processed before this read
        List<String> out = new ArrayList<>();
        dump(zk, "/", out);
        for (String l : out) {
            System.out.println(l);
        }
        zk.close();
    }
}
