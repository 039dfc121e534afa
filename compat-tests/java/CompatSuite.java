// Ferrokeeper compatibility suite: exercises a ZooKeeper server through the
// official Java client (org.apache.zookeeper 3.8) plus a tiny raw-socket client
// for wire details the Java client hides.
//
// Usage: java -cp <classes>:<zookeeper jars> CompatSuite HOST:PORT [checkNameSubstring...]
//
// Every check prints "PASS name" or "FAIL name: reason"; the last line is
// "N passed, M failed"; the exit code is non-zero when M > 0.
//
// The expectations were validated against Apache ZooKeeper 3.8.0 (standalone,
// tickTime=2000, extendedTypesEnabled=true, znode.container.checkIntervalMs=1000,
// superDigest for super:test). Only relations between zxids are asserted, never
// absolute zxids, timestamps or session ids.

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.jute.BinaryInputArchive;
import org.apache.jute.BinaryOutputArchive;
import org.apache.jute.Record;
import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.AsyncCallback;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.KeeperException.Code;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.Watcher.Event.EventType;
import org.apache.zookeeper.Watcher.Event.KeeperState;
import org.apache.zookeeper.Watcher.WatcherType;
import org.apache.zookeeper.ZKUtil;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooDefs.Ids;
import org.apache.zookeeper.ZooDefs.Perms;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.admin.ZooKeeperAdmin;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.ClientInfo;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.proto.AddWatchRequest;
import org.apache.zookeeper.proto.AuthPacket;
import org.apache.zookeeper.proto.ConnectRequest;
import org.apache.zookeeper.proto.ConnectResponse;
import org.apache.zookeeper.proto.Create2Response;
import org.apache.zookeeper.proto.CreateRequest;
import org.apache.zookeeper.proto.CreateResponse;
import org.apache.zookeeper.proto.CreateTTLRequest;
import org.apache.zookeeper.proto.ExistsRequest;
import org.apache.zookeeper.proto.GetDataRequest;
import org.apache.zookeeper.proto.GetDataResponse;
import org.apache.zookeeper.proto.MultiHeader;
import org.apache.zookeeper.proto.ReplyHeader;
import org.apache.zookeeper.proto.RequestHeader;
import org.apache.zookeeper.proto.SetDataRequest;
import org.apache.zookeeper.proto.WatcherEvent;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;

public class CompatSuite {

    static String CONNECT;
    /**
     * Where the Java-client sessions of the checks connect: in an ensemble, the first server
     * (as the raw client and the four-letter words do). ZooKeeper orders one server's
     * sessions with each other, not sessions on different servers: a check whose second
     * session must see the first one's write at once (a watch set on a node just created)
     * would race replication if the client picked any server. kazoo's suite and the Rust
     * client's spread their sessions over every server.
     */
    static String CLIENT_CONNECT;
    static String HOST;
    static int PORT;
    /** True when CONNECT lists several servers (a quorum): a few expectations differ. */
    static boolean ENSEMBLE;
    static final int TIMEOUT = 10000;
    static final long EVENT_WAIT_MS = 5000;
    static final long CHECK_TIMEOUT_MS = 60000;
    static final byte[] EMPTY = new byte[0];
    static final String SUPER_AUTH = "super:test";

    static int passed = 0;
    static int failed = 0;
    static final List<Closeable> opened = new CopyOnWriteArrayList<>();
    static final List<String> infos = new CopyOnWriteArrayList<>();

    // ------------------------------------------------------------------ asserts

    static class CheckFailed extends RuntimeException {
        CheckFailed(String m) {
            super(m);
        }
    }

    static void fail(String msg) {
        throw new CheckFailed(msg);
    }

    static void eq(Object expected, Object actual, String what) {
        if (expected == null ? actual != null : !expected.equals(actual)) {
            fail(what + ": expected <" + expected + "> but got <" + actual + ">");
        }
    }

    static void isTrue(boolean cond, String what) {
        if (!cond) {
            fail(what);
        }
    }

    static void info(String msg) {
        infos.add(msg);
    }

    interface ThrowingRunnable {
        void run() throws Exception;
    }

    /** Runs r and requires it to throw a KeeperException with the given code. */
    static KeeperException expectCode(Code expected, String what, ThrowingRunnable r) throws Exception {
        try {
            r.run();
        } catch (KeeperException e) {
            if (e.code() != expected) {
                fail(what + ": expected " + expected + " but got " + e.code() + " (" + e.getMessage() + ")");
            }
            return e;
        }
        fail(what + ": expected " + expected + " but the call succeeded");
        return null;
    }

    static Set<String> set(String... s) {
        return new TreeSet<>(Arrays.asList(s));
    }

    static Set<String> set(List<String> s) {
        return new TreeSet<>(s);
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String s(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    // ------------------------------------------------------------------ clients

    static class Events implements Watcher {
        final BlockingQueue<WatchedEvent> node = new LinkedBlockingQueue<>();
        final BlockingQueue<KeeperState> states = new LinkedBlockingQueue<>();
        final List<String> log = new CopyOnWriteArrayList<>();

        @Override
        public void process(WatchedEvent e) {
            log.add(e.getType() + " " + e.getPath());
            if (e.getType() == EventType.None) {
                states.add(e.getState());
            } else {
                node.add(e);
            }
        }

        WatchedEvent expect(EventType type, String path) throws InterruptedException {
            WatchedEvent e = node.poll(EVENT_WAIT_MS, TimeUnit.MILLISECONDS);
            if (e == null) {
                fail("no watch event within " + EVENT_WAIT_MS + "ms, expected " + type + " " + path);
            }
            eq(type + " " + path, e.getType() + " " + e.getPath(), "watch event");
            return e;
        }

        void expectNone(long ms) throws InterruptedException {
            WatchedEvent e = node.poll(ms, TimeUnit.MILLISECONDS);
            if (e != null) {
                fail("unexpected watch event " + e.getType() + " " + e.getPath());
            }
        }

        void awaitState(KeeperState want, long ms) throws InterruptedException {
            long end = System.currentTimeMillis() + ms;
            while (true) {
                long left = end - System.currentTimeMillis();
                KeeperState st = left > 0 ? states.poll(left, TimeUnit.MILLISECONDS) : null;
                if (st == null) {
                    fail("connection state " + want + " not reached within " + ms + "ms");
                }
                if (st == want) {
                    return;
                }
            }
        }
    }

    static class Client implements Closeable {
        final ZooKeeper zk;
        final Events ev;

        Client(ZooKeeper zk, Events ev) {
            this.zk = zk;
            this.ev = ev;
        }

        @Override
        public void close() {
            try {
                zk.close(2000);
            } catch (Exception ignored) {
                // best effort
            }
        }
    }

    static Client client() throws Exception {
        return client(TIMEOUT);
    }

    static Client client(int timeout) throws Exception {
        Events ev = new Events();
        ZooKeeper zk = new ZooKeeper(CLIENT_CONNECT, timeout, ev);
        Client c = new Client(zk, ev);
        opened.add(c);
        ev.awaitState(KeeperState.SyncConnected, 15000);
        return c;
    }

    static Client superClient() throws Exception {
        Client c = client();
        c.zk.addAuthInfo("digest", b(SUPER_AUTH));
        return c;
    }

    /** Fresh base path /compat/NAME (deleted recursively first, with super auth). */
    static String base(String name) throws Exception {
        Client su = superClient();
        String path = "/compat/" + name;
        try {
            su.zk.create("/compat", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        } catch (KeeperException.NodeExistsException ignored) {
            // ok
        }
        if (su.zk.exists(path, false) != null) {
            ZKUtil.deleteRecursive(su.zk, path);
        }
        su.zk.create(path, EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        su.close();
        opened.remove(su);
        return path;
    }

    static String digestId(String userPass) throws Exception {
        return DigestAuthenticationProvider.generateDigest(userPass);
    }

    static int lastSegmentNumber(String path) {
        String tail = path.substring(path.length() - 10);
        return Integer.parseInt(tail);
    }

    /** Polls until the path is gone; returns elapsed ms or -1. */
    static long waitGone(ZooKeeper zk, String path, long maxMs) throws Exception {
        long start = System.currentTimeMillis();
        while (System.currentTimeMillis() - start < maxMs) {
            if (zk.exists(path, false) == null) {
                return System.currentTimeMillis() - start;
            }
            Thread.sleep(200);
        }
        return -1;
    }

    // ------------------------------------------------------------------ raw client

    static class Reply {
        int frameLen;
        ReplyHeader hdr = new ReplyHeader();
        byte[] body;

        <T extends Record> T read(T rec) throws IOException {
            BinaryInputArchive ia = BinaryInputArchive.getArchive(new ByteArrayInputStream(body));
            rec.deserialize(ia, "body");
            return rec;
        }
    }

    /** Minimal ZooKeeper wire client, used where the Java client hides details. */
    static class Raw implements Closeable {
        final Socket sock;
        final DataInputStream in;
        final DataOutputStream out;
        int xid = 0;
        ConnectResponse conn;
        int connectExtraBytes;
        int connectFrameLen;
        final List<Reply> notifications = new ArrayList<>();

        Raw() throws IOException {
            sock = new Socket();
            sock.connect(new InetSocketAddress(HOST, PORT), 10000);
            sock.setSoTimeout(20000);
            sock.setTcpNoDelay(true);
            in = new DataInputStream(sock.getInputStream());
            out = new DataOutputStream(sock.getOutputStream());
            opened.add(this);
        }

        static Raw session(int timeout) throws IOException {
            Raw r = new Raw();
            r.handshake(timeout, 0L, new byte[16], true);
            if (r.conn.getSessionId() == 0) {
                fail("raw connect refused");
            }
            return r;
        }

        void sendFrame(byte[] payload) throws IOException {
            out.writeInt(payload.length);
            out.write(payload);
            out.flush();
        }

        byte[] readFrame() throws IOException {
            int len = in.readInt();
            if (len < 0 || len > 0x100000) {
                fail("bad frame length " + len);
            }
            byte[] buf = new byte[len];
            in.readFully(buf);
            return buf;
        }

        ConnectResponse handshake(int timeout, long sid, byte[] pwd, boolean withReadOnly) throws IOException {
            ByteArrayOutputStream bos = new ByteArrayOutputStream();
            BinaryOutputArchive oa = BinaryOutputArchive.getArchive(bos);
            new ConnectRequest(0, 0L, timeout, sid, pwd).serialize(oa, "connect");
            if (withReadOnly) {
                oa.writeBool(false, "readOnly");
            }
            sendFrame(bos.toByteArray());
            byte[] f = readFrame();
            connectFrameLen = f.length;
            ByteArrayInputStream bis = new ByteArrayInputStream(f);
            conn = new ConnectResponse();
            conn.deserialize(BinaryInputArchive.getArchive(bis), "connect");
            connectExtraBytes = bis.available();
            return conn;
        }

        void sendRequest(int x, int type, Record req) throws IOException {
            ByteArrayOutputStream bos = new ByteArrayOutputStream();
            BinaryOutputArchive oa = BinaryOutputArchive.getArchive(bos);
            new RequestHeader(x, type).serialize(oa, "header");
            if (req != null) {
                req.serialize(oa, "request");
            }
            sendFrame(bos.toByteArray());
        }

        void sendRaw(int x, int type, byte[] body) throws IOException {
            ByteArrayOutputStream bos = new ByteArrayOutputStream();
            DataOutputStream d = new DataOutputStream(bos);
            d.writeInt(x);
            d.writeInt(type);
            d.write(body);
            sendFrame(bos.toByteArray());
        }

        Reply readReply() throws IOException {
            byte[] f = readFrame();
            Reply r = new Reply();
            r.frameLen = f.length;
            ByteArrayInputStream bis = new ByteArrayInputStream(f);
            r.hdr.deserialize(BinaryInputArchive.getArchive(bis), "header");
            r.body = new byte[bis.available()];
            bis.read(r.body, 0, r.body.length);
            return r;
        }

        /** Reads replies until one with xid x arrives; notifications are collected. */
        Reply readReplyFor(int x) throws IOException {
            while (true) {
                Reply r = readReply();
                if (r.hdr.getXid() == -1) {
                    notifications.add(r);
                    continue;
                }
                eq(x, r.hdr.getXid(), "reply xid");
                return r;
            }
        }

        Reply call(int type, Record req) throws IOException {
            int x = ++xid;
            sendRequest(x, type, req);
            return readReplyFor(x);
        }

        Reply callRaw(int type, byte[] body) throws IOException {
            int x = ++xid;
            sendRaw(x, type, body);
            return readReplyFor(x);
        }

        /** true when the peer closed the connection within ms. */
        boolean closedWithin(long ms) throws IOException {
            sock.setSoTimeout((int) ms);
            try {
                while (true) {
                    int len = in.readInt();
                    in.skipBytes(len);
                }
            } catch (EOFException e) {
                return true;
            } catch (SocketTimeoutException e) {
                return false;
            } catch (IOException e) {
                return true; // connection reset
            }
        }

        /** Closes the session too (best effort) so no session lingers until it expires. */
        @Override
        public void close() {
            try {
                if (conn != null && conn.getSessionId() != 0 && !sock.isClosed()) {
                    sock.setSoTimeout(1000);
                    sendRequest(++xid, ZooDefs.OpCode.closeSession, null);
                    while (true) {
                        int len = in.readInt();
                        in.skipBytes(len);
                    }
                }
            } catch (IOException ignored) {
                // EOF / reset / timeout: done
            }
            try {
                sock.close();
            } catch (IOException ignored) {
                // ignore
            }
        }
    }

    /** sync(path) and wait for it: afterwards zk sees every write committed before. */
    static void syncOn(ZooKeeper zk, String path) throws Exception {
        CountDownLatch l = new CountDownLatch(1);
        zk.sync(path, (rc, p, ctx) -> l.countDown(), null);
        isTrue(l.await(10, TimeUnit.SECONDS), "sync " + path + " answered");
    }

    static String rawFourLetter(String cmd) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(HOST, PORT), 10000);
            s.setSoTimeout(10000);
            s.getOutputStream().write(cmd.getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    // ------------------------------------------------------------------ checks

    static final Map<String, ThrowingRunnable> CHECKS = new LinkedHashMap<>();

    static void check(String name, ThrowingRunnable r) {
        CHECKS.put(name, r);
    }

    static {
        // Checks that assert zxid deltas come first, before anything in the
        // background (container/TTL reaper, session expiry) can consume zxids.

        check("zxid_accounting", () -> {
            String b = base("zxid_accounting");
            Client c = client();
            ZooKeeper zk = c.zk;
            String n = b + "/n";
            zk.create(n, EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            zk.create(b + "/x", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            Map<String, ThrowingRunnable> ops = new LinkedHashMap<>();
            Map<String, Long> expected = new LinkedHashMap<>();
            ops.put("successful create", () -> zk.create(b + "/c1", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT));
            expected.put("successful create", 1L);
            ops.put("create NODEEXISTS", () -> expectCode(Code.NODEEXISTS, "create", () -> zk.create(b + "/x", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT)));
            expected.put("create NODEEXISTS", 1L);
            ops.put("create NONODE", () -> expectCode(Code.NONODE, "create", () -> zk.create(b + "/nope/x", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT)));
            expected.put("create NONODE", 1L);
            ops.put("delete NONODE", () -> expectCode(Code.NONODE, "delete", () -> zk.delete(b + "/nope", -1)));
            expected.put("delete NONODE", 1L);
            ops.put("delete BADVERSION", () -> expectCode(Code.BADVERSION, "delete", () -> zk.delete(b + "/x", 7)));
            expected.put("delete BADVERSION", 1L);
            ops.put("setData BADVERSION", () -> expectCode(Code.BADVERSION, "setData", () -> zk.setData(b + "/x", EMPTY, 7)));
            expected.put("setData BADVERSION", 1L);
            ops.put("setACL BADVERSION", () -> expectCode(Code.BADVERSION, "setACL", () -> zk.setACL(b + "/x", Ids.OPEN_ACL_UNSAFE, 7)));
            expected.put("setACL BADVERSION", 1L);
            ops.put("successful multi of 3", () -> zk.multi(Arrays.asList(
                Op.create(b + "/m1", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
                Op.setData(b + "/m1", b("v"), -1),
                Op.delete(b + "/m1", -1))));
            expected.put("successful multi of 3", 1L);
            ops.put("failed multi", () -> expectCode(Code.NODEEXISTS, "multi", () -> zk.multi(Arrays.asList(
                Op.create(b + "/m2", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
                Op.create(b + "/x", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT)))));
            expected.put("failed multi", 1L);
            ops.put("reads (getData/exists/getChildren/getACL/multiRead)", () -> {
                zk.getData(b + "/x", false, null);
                zk.exists(b + "/x", false);
                zk.exists(b + "/missing", false);
                zk.getChildren(b, false);
                zk.getACL(b + "/x", null);
                zk.getAllChildrenNumber(b);
                zk.multi(Arrays.asList(Op.getData(b + "/x"), Op.getChildren(b)));
            });
            expected.put("reads (getData/exists/getChildren/getACL/multiRead)", 0L);
            ops.put("sync", () -> {
                CountDownLatch l = new CountDownLatch(1);
                zk.sync(b, (rc, p, ctx) -> l.countDown(), null);
                l.await(10, TimeUnit.SECONDS);
            });
            expected.put("sync", 0L);
            ops.put("addWatch + removeAllWatches", () -> {
                zk.addWatch(b + "/x", e -> { }, AddWatchMode.PERSISTENT);
                zk.removeAllWatches(b + "/x", WatcherType.Any, false);
            });
            expected.put("addWatch + removeAllWatches", 0L);
            ops.put("new session + close", () -> {
                Client c2 = client();
                c2.zk.close();
            });
            expected.put("new session + close", 2L);
            Stat prev = zk.setData(n, EMPTY, -1);
            List<String> problems = new ArrayList<>();
            for (Map.Entry<String, ThrowingRunnable> e : ops.entrySet()) {
                e.getValue().run();
                Stat now = zk.setData(n, EMPTY, -1);
                long used = now.getMzxid() - prev.getMzxid() - 1;
                long want = expected.get(e.getKey());
                if (used != want) {
                    problems.add(e.getKey() + " consumed " + used + " zxids, expected " + want);
                }
                prev = now;
            }
            isTrue(problems.isEmpty(), String.join("; ", problems));
        });

        check("reply_zxid_raw", () -> {
            String b = base("reply_zxid_raw");
            Raw r = Raw.session(10000);
            Reply cr = r.call(ZooDefs.OpCode.create2, new CreateRequest(b + "/n", b("d"), Ids.OPEN_ACL_UNSAFE, 0));
            eq(0, cr.hdr.getErr(), "create2 err");
            Create2Response c2 = cr.read(new Create2Response());
            eq(b + "/n", c2.getPath(), "create2 path");
            eq(c2.getStat().getCzxid(), cr.hdr.getZxid(), "reply zxid of create == czxid of the node (no concurrent writers)");
            Reply gr = r.call(ZooDefs.OpCode.getData, new GetDataRequest(b + "/n", false));
            eq(cr.hdr.getZxid(), gr.hdr.getZxid(), "reply zxid of a following read == last processed zxid");
            // a failed write still advances the last processed zxid
            Reply fr = r.call(ZooDefs.OpCode.create, new CreateRequest(b + "/n", EMPTY, Ids.OPEN_ACL_UNSAFE, 0));
            eq(Code.NODEEXISTS.intValue(), fr.hdr.getErr(), "dup create err");
            eq(cr.hdr.getZxid() + 1, fr.hdr.getZxid(), "reply zxid of failed create");
            eq(16, fr.frameLen, "error reply is a bare 16-byte ReplyHeader");
        });

        // ---------------------------------------------------------- create

        check("create_all_modes", () -> {
            String b = base("create_all_modes");
            Client c = client();
            ZooKeeper zk = c.zk;
            long sid = zk.getSessionId();
            eq(b + "/p", zk.create(b + "/p", b("p"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT), "persistent path");
            eq(b + "/e", zk.create(b + "/e", b("e"), Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL), "ephemeral path");
            String ps = zk.create(b + "/ps-", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_SEQUENTIAL);
            eq(b + "/ps-0000000002", ps, "persistent sequential path (parent had 2 creates)");
            String es = zk.create(b + "/es-", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL_SEQUENTIAL);
            eq(b + "/es-0000000003", es, "ephemeral sequential path");
            eq(b + "/c", zk.create(b + "/c", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.CONTAINER), "container path");
            Stat st = new Stat();
            eq(b + "/t", zk.create(b + "/t", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL, st, 3600000L), "ttl path");
            eq(0L, st.getEphemeralOwner(), "ttl create stat ephemeralOwner");
            String ts = zk.create(b + "/ts-", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, null, 3600000L);
            eq(b + "/ts-0000000006", ts, "ttl sequential path");
            eq(0L, zk.exists(b + "/p", false).getEphemeralOwner(), "persistent owner");
            eq(sid, zk.exists(b + "/e", false).getEphemeralOwner(), "ephemeral owner");
            eq(0L, zk.exists(ps, false).getEphemeralOwner(), "persistent sequential owner");
            eq(sid, zk.exists(es, false).getEphemeralOwner(), "ephemeral sequential owner");
            eq(0L, zk.exists(b + "/c", false).getEphemeralOwner(), "container owner");
            eq(0L, zk.exists(b + "/t", false).getEphemeralOwner(), "ttl owner");
            eq(0L, zk.exists(ts, false).getEphemeralOwner(), "ttl sequential owner");
            eq("p", s(zk.getData(b + "/p", false, null)), "data");
            eq(set("p", "e", "ps-0000000002", "es-0000000003", "c", "t", "ts-0000000006"), set(zk.getChildren(b, false)), "children");
        });

        check("create2_stat", () -> {
            String b = base("create2_stat");
            Client c = client();
            Stat st = new Stat();
            c.zk.create(b + "/n", b("hello"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT, st);
            Stat ex = c.zk.exists(b + "/n", false);
            eq(ex, st, "create2 stat equals exists stat");
            eq(st.getCzxid(), st.getMzxid(), "czxid == mzxid");
            eq(st.getCzxid(), st.getPzxid(), "czxid == pzxid");
            eq(st.getCtime(), st.getMtime(), "ctime == mtime");
            eq(0, st.getVersion(), "version");
            eq(0, st.getCversion(), "cversion");
            eq(0, st.getAversion(), "aversion");
            eq(5, st.getDataLength(), "dataLength");
            eq(0, st.getNumChildren(), "numChildren");
            eq(0L, st.getEphemeralOwner(), "ephemeralOwner");
            // container and TTL creates always return a stat (Create2Response)
            Stat cs = new Stat();
            c.zk.create(b + "/c", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.CONTAINER, cs);
            eq(c.zk.exists(b + "/c", false), cs, "container create stat");
            Stat ts = new Stat();
            c.zk.create(b + "/t", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL, ts, 100000);
            eq(c.zk.exists(b + "/t", false), ts, "ttl create stat");
            // null data
            Stat ns = new Stat();
            c.zk.create(b + "/null", null, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT, ns);
            eq(0, ns.getDataLength(), "null data length");
            byte[] d = c.zk.getData(b + "/null", false, null);
            isTrue(d == null || d.length == 0, "null data read back as null/empty");
            info("create2_stat: getData of node created with null data returns " + (d == null ? "null" : "byte[0]"));
        });

        check("create_errors", () -> {
            String b = base("create_errors");
            Client c = client();
            ZooKeeper zk = c.zk;
            zk.create(b + "/n", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            expectCode(Code.NODEEXISTS, "duplicate", () -> zk.create(b + "/n", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT));
            expectCode(Code.NONODE, "missing parent", () -> zk.create(b + "/missing/x", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT));
            zk.create(b + "/eph", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
            expectCode(Code.NOCHILDRENFOREPHEMERALS, "child of ephemeral", () -> zk.create(b + "/eph/x", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT));
            expectCode(Code.NOCHILDRENFOREPHEMERALS, "seq child of ephemeral", () -> zk.create(b + "/eph/x", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL_SEQUENTIAL));
            // NODEEXISTS wins over NOCHILDRENFOREPHEMERALS? (node can't exist under an ephemeral) - skip
            // containers and TTL nodes may have children
            zk.create(b + "/c", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.CONTAINER);
            zk.create(b + "/c/x", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
            zk.create(b + "/t", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL, null, 100000);
            zk.create(b + "/t/x", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            // ACL errors
            expectCode(Code.INVALIDACL, "empty acl", () -> zk.create(b + "/a1", EMPTY, new ArrayList<>(), CreateMode.PERSISTENT));
            expectCode(Code.INVALIDACL, "auth acl without auth", () -> zk.create(b + "/a2", EMPTY, Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT));
            expectCode(Code.INVALIDACL, "unknown scheme", () -> zk.create(b + "/a3", EMPTY, Arrays.asList(new ACL(Perms.ALL, new Id("bogus", "x"))), CreateMode.PERSISTENT));
            expectCode(Code.INVALIDACL, "digest id without colon", () -> zk.create(b + "/a4", EMPTY, Arrays.asList(new ACL(Perms.ALL, new Id("digest", "nocolon"))), CreateMode.PERSISTENT));
            expectCode(Code.INVALIDACL, "bad ip", () -> zk.create(b + "/a5", EMPTY, Arrays.asList(new ACL(Perms.ALL, new Id("ip", "not-an-ip"))), CreateMode.PERSISTENT));
            // NONODE is checked before NODEEXISTS? parent missing -> NONODE; INVALIDACL before NONODE
            expectCode(Code.INVALIDACL, "invalid acl checked before parent existence", () -> zk.create(b + "/missing/y", EMPTY, new ArrayList<>(), CreateMode.PERSISTENT));
            eq(set("n", "eph", "c", "t"), set(zk.getChildren(b, false)), "children after failures");
        });

        check("sequential_numbering", () -> {
            String b = base("sequential_numbering");
            Client c = client();
            ZooKeeper zk = c.zk;
            String p = b + "/p";
            zk.create(p, EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            eq(p + "/s-0000000000", zk.create(p + "/s-", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_SEQUENTIAL), "first seq");
            zk.create(p + "/a", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            zk.create(p + "/b", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            zk.delete(p + "/a", -1);
            zk.delete(p + "/b", -1);
            Stat st = zk.exists(p, false);
            eq(5, st.getCversion(), "cversion = creates + deletes seen (3 creates, 2 deletes)");
            eq(1, st.getNumChildren(), "numChildren");
            // the suffix counts creates only (stored cversion), not deletes
            eq(p + "/s-0000000003", zk.create(p + "/s-", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_SEQUENTIAL), "seq after deletes");
            eq(6, zk.exists(p, false).getCversion(), "cversion after 4 creates 2 deletes");
            // a failed create does not bump the counter
            expectCode(Code.NODEEXISTS, "dup", () -> zk.create(p + "/s-0000000003", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT));
            eq(p + "/s-0000000004", zk.create(p + "/s-", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL_SEQUENTIAL), "seq after failed create");
            // different prefixes share the parent counter
            eq(p + "/other0000000005", zk.create(p + "/other", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_SEQUENTIAL), "other prefix");
            // trailing slash with a sequential flag is legal: name is just the number
            eq(p + "/0000000006", zk.create(p + "/", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_SEQUENTIAL), "trailing slash seq");
            // setACL / setData on the parent do not change the counter
            zk.setData(p, b("x"), -1);
            eq(p + "/s-0000000007", zk.create(p + "/s-", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_SEQUENTIAL), "seq after setData");
            // inside one multi, later ops see the earlier bumps
            List<OpResult> res = zk.multi(Arrays.asList(
                Op.create(p + "/m-", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_SEQUENTIAL),
                Op.create(p + "/m-", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_SEQUENTIAL)));
            eq(p + "/m-0000000008", ((OpResult.CreateResult) res.get(0)).getPath(), "multi seq 1");
            eq(p + "/m-0000000009", ((OpResult.CreateResult) res.get(1)).getPath(), "multi seq 2");
            // sequential names of a TTL/sequential node
            eq(p + "/t-0000000010", zk.create(p + "/t-", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, null, 100000), "ttl seq");
        });

        // ---------------------------------------------------------- delete / data / acl

        check("delete_version_and_errors", () -> {
            String b = base("delete_version_and_errors");
            Client c = client();
            ZooKeeper zk = c.zk;
            zk.create(b + "/n", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            zk.setData(b + "/n", b("1"), -1);
            expectCode(Code.BADVERSION, "delete wrong version", () -> zk.delete(b + "/n", 0));
            expectCode(Code.BADVERSION, "delete wrong version 2", () -> zk.delete(b + "/n", 5));
            zk.delete(b + "/n", 1);
            isTrue(zk.exists(b + "/n", false) == null, "deleted");
            expectCode(Code.NONODE, "delete missing", () -> zk.delete(b + "/n", -1));
            expectCode(Code.NONODE, "delete missing parent", () -> zk.delete(b + "/x/y", -1));
            zk.create(b + "/p", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            zk.create(b + "/p/c", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            expectCode(Code.NOTEMPTY, "delete non-empty", () -> zk.delete(b + "/p", -1));
            // BADVERSION is checked before NOTEMPTY
            expectCode(Code.BADVERSION, "delete non-empty with wrong version", () -> zk.delete(b + "/p", 3));
            zk.delete(b + "/p/c", -1);
            zk.delete(b + "/p", -1);
            // ephemeral/container/ttl delete explicitly
            zk.create(b + "/e", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
            zk.delete(b + "/e", 0);
            zk.create(b + "/c", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.CONTAINER);
            zk.delete(b + "/c", 0);
            zk.create(b + "/t", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL, null, 100000);
            zk.delete(b + "/t", 0);
            eq(0, zk.getChildren(b, false).size(), "all gone");
        });

        check("get_set_data", () -> {
            String b = base("get_set_data");
            Client c = client();
            ZooKeeper zk = c.zk;
            String n = b + "/n";
            Stat s0 = new Stat();
            zk.create(n, b("v0"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT, s0);
            Stat got = new Stat();
            eq("v0", s(zk.getData(n, false, got)), "initial data");
            eq(s0, got, "getData stat");
            Stat s1 = zk.setData(n, b("value-1"), 0);
            eq(1, s1.getVersion(), "version after setData");
            eq(7, s1.getDataLength(), "dataLength");
            eq(s0.getCzxid(), s1.getCzxid(), "czxid unchanged");
            isTrue(s1.getMzxid() > s0.getMzxid(), "mzxid increased");
            eq(s0.getPzxid(), s1.getPzxid(), "pzxid unchanged by setData");
            eq(s0.getCtime(), s1.getCtime(), "ctime unchanged");
            isTrue(s1.getMtime() >= s0.getMtime(), "mtime not earlier");
            expectCode(Code.BADVERSION, "setData stale version", () -> zk.setData(n, b("x"), 0));
            expectCode(Code.BADVERSION, "setData future version", () -> zk.setData(n, b("x"), 2));
            Stat s2 = zk.setData(n, b(""), -1);
            eq(2, s2.getVersion(), "version after unconditional setData");
            eq(0, s2.getDataLength(), "empty data length");
            Stat s3 = zk.setData(n, null, 2);
            eq(3, s3.getVersion(), "version after null setData");
            eq(0, s3.getDataLength(), "null data length");
            expectCode(Code.NONODE, "setData missing", () -> zk.setData(b + "/missing", EMPTY, -1));
            expectCode(Code.NONODE, "getData missing", () -> zk.getData(b + "/missing", false, null));
            // binary data round trip incl. zero bytes
            byte[] bin = new byte[256];
            for (int i = 0; i < bin.length; i++) {
                bin[i] = (byte) i;
            }
            zk.setData(n, bin, -1);
            isTrue(Arrays.equals(bin, zk.getData(n, false, null)), "binary data round trip");
            // large data (just under 1 MiB)
            byte[] big = new byte[1000 * 1000];
            Arrays.fill(big, (byte) 'z');
            zk.setData(n, big, -1);
            isTrue(Arrays.equals(big, zk.getData(n, false, null)), "1MB data round trip");
        });

        check("acl_get_set", () -> {
            String b = base("acl_get_set");
            Client c = client();
            ZooKeeper zk = c.zk;
            String n = b + "/n";
            Stat s0 = new Stat();
            zk.create(n, b("d"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT, s0);
            Stat as = new Stat();
            eq(Ids.OPEN_ACL_UNSAFE, zk.getACL(n, as), "default acl");
            eq(0, as.getAversion(), "aversion");
            List<ACL> acl2 = Arrays.asList(new ACL(Perms.READ | Perms.WRITE | Perms.ADMIN, Ids.ANYONE_ID_UNSAFE));
            Stat s1 = zk.setACL(n, acl2, 0);
            eq(1, s1.getAversion(), "aversion after setACL");
            eq(s0.getMzxid(), s1.getMzxid(), "setACL does not change mzxid");
            eq(s0.getMtime(), s1.getMtime(), "setACL does not change mtime");
            eq(0, s1.getVersion(), "setACL does not change version");
            eq(s0.getPzxid(), s1.getPzxid(), "setACL does not change pzxid");
            Stat as2 = new Stat();
            eq(acl2, zk.getACL(n, as2), "acl after setACL");
            eq(s1, as2, "getACL stat");
            expectCode(Code.BADVERSION, "setACL stale aversion", () -> zk.setACL(n, Ids.OPEN_ACL_UNSAFE, 0));
            expectCode(Code.NONODE, "setACL missing", () -> zk.setACL(b + "/missing", Ids.OPEN_ACL_UNSAFE, -1));
            expectCode(Code.NONODE, "getACL missing", () -> zk.getACL(b + "/missing", null));
            expectCode(Code.INVALIDACL, "setACL empty", () -> zk.setACL(n, new ArrayList<>(), -1));
            // INVALIDACL is checked before NONODE for setACL
            expectCode(Code.INVALIDACL, "setACL invalid on missing node", () -> zk.setACL(b + "/missing", new ArrayList<>(), -1));
            // duplicates are removed
            List<ACL> dup = Arrays.asList(new ACL(Perms.ALL, Ids.ANYONE_ID_UNSAFE), new ACL(Perms.ALL, Ids.ANYONE_ID_UNSAFE));
            zk.setACL(n, dup, -1);
            eq(Ids.OPEN_ACL_UNSAFE, zk.getACL(n, null), "duplicate ACL entries removed");
            Stat s3 = zk.exists(n, false);
            eq(2, s3.getAversion(), "aversion after one more successful setACL");
            eq(s0.getMzxid(), s3.getMzxid(), "mzxid still unchanged");
        });

        check("get_children", () -> {
            String b = base("get_children");
            Client c = client();
            ZooKeeper zk = c.zk;
            eq(0, zk.getChildren(b, false).size(), "empty");
            for (String n : new String[] {"a", "b", "c"}) {
                zk.create(b + "/" + n, EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            }
            zk.create(b + "/a/deep", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            eq(set("a", "b", "c"), set(zk.getChildren(b, false)), "getChildren names only");
            Stat st = new Stat();
            eq(set("a", "b", "c"), set(zk.getChildren(b, false, st)), "getChildren2");
            eq(zk.exists(b, false), st, "getChildren2 stat == exists stat");
            eq(3, st.getNumChildren(), "numChildren");
            eq(3, st.getCversion(), "cversion");
            expectCode(Code.NONODE, "getChildren missing", () -> zk.getChildren(b + "/missing", false));
            expectCode(Code.NONODE, "getChildren2 missing", () -> zk.getChildren(b + "/missing", false, new Stat()));
            eq(set("zookeeper", "compat"), intersect(set(zk.getChildren("/", false)), set("zookeeper", "compat")), "root children include zookeeper and compat");
        });

        // ---------------------------------------------------------- multi

        check("multi_success", () -> {
            String b = base("multi_success");
            Client c = client();
            ZooKeeper zk = c.zk;
            zk.create(b + "/existing", b("x"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            List<OpResult> res = zk.multi(Arrays.asList(
                Op.create(b + "/a", b("a"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
                Op.create(b + "/a/child", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
                Op.create(b + "/cont", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.CONTAINER),
                Op.create(b + "/ttl", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL, 100000),
                Op.setData(b + "/existing", b("y"), 0),
                Op.check(b + "/existing", 1),
                Op.delete(b + "/a/child", 0),
                Op.create(b + "/a/child", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL)));
            eq(8, res.size(), "result count");
            isTrue(res.get(0) instanceof OpResult.CreateResult, "r0 CreateResult");
            eq(b + "/a", ((OpResult.CreateResult) res.get(0)).getPath(), "r0 path");
            eq(null, ((OpResult.CreateResult) res.get(0)).getStat(), "plain create inside multi has no stat");
            eq(b + "/a/child", ((OpResult.CreateResult) res.get(1)).getPath(), "r1 path");
            OpResult.CreateResult cr = (OpResult.CreateResult) res.get(2);
            eq(b + "/cont", cr.getPath(), "container path");
            isTrue(cr.getStat() != null, "container create in multi returns stat (create2 result)");
            OpResult.CreateResult tr = (OpResult.CreateResult) res.get(3);
            isTrue(tr.getStat() != null, "ttl create in multi returns stat");
            eq(0L, tr.getStat().getEphemeralOwner(), "ttl stat owner");
            isTrue(res.get(4) instanceof OpResult.SetDataResult, "r4 SetDataResult");
            Stat sd = ((OpResult.SetDataResult) res.get(4)).getStat();
            eq(1, sd.getVersion(), "setData version in multi");
            isTrue(res.get(5) instanceof OpResult.CheckResult, "r5 CheckResult");
            isTrue(res.get(6) instanceof OpResult.DeleteResult, "r6 DeleteResult");
            isTrue(res.get(7) instanceof OpResult.CreateResult, "r7 CreateResult");
            // all ops share one zxid
            Stat a = zk.exists(b + "/a", false);
            eq(a.getCzxid(), sd.getMzxid(), "one zxid for the whole multi");
            eq(a.getCzxid(), tr.getStat().getCzxid(), "ttl czxid == multi zxid");
            eq(zk.getSessionId(), zk.exists(b + "/a/child", false).getEphemeralOwner(), "ephemeral from multi");
            eq(a.getCzxid(), zk.exists(b + "/a/child", false).getCzxid(), "recreated child czxid");
            Stat as = zk.exists(b + "/a", false);
            eq(3, as.getCversion(), "cversion after create, delete, create in one multi");
            // transaction() API
            List<OpResult> tres = zk.transaction().create(b + "/tx", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT).delete(b + "/tx", -1).commit();
            eq(2, tres.size(), "transaction results");
            isTrue(zk.exists(b + "/tx", false) == null, "tx node deleted");
        });

        check("multi_failure_rollback", () -> {
            String b = base("multi_failure_rollback");
            Client c = client();
            ZooKeeper zk = c.zk;
            zk.create(b + "/x", b("orig"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            Stat before = zk.exists(b + "/x", false);
            KeeperException ke = expectCode(Code.NODEEXISTS, "multi", () -> zk.multi(Arrays.asList(
                Op.create(b + "/new", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
                Op.setData(b + "/x", b("changed"), -1),
                Op.create(b + "/x", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
                Op.delete(b + "/x", -1),
                Op.create(b + "/other", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT))));
            List<OpResult> rs = ke.getResults();
            eq(5, rs.size(), "result count");
            int[] codes = new int[rs.size()];
            for (int i = 0; i < rs.size(); i++) {
                isTrue(rs.get(i) instanceof OpResult.ErrorResult, "result " + i + " is ErrorResult but was " + rs.get(i).getClass().getSimpleName());
                codes[i] = ((OpResult.ErrorResult) rs.get(i)).getErr();
            }
            eq(Arrays.toString(new int[] {0, 0, -110, -2, -2}), Arrays.toString(codes), "error codes OK,OK,NODEEXISTS,RUNTIMEINCONSISTENCY,RUNTIMEINCONSISTENCY");
            isTrue(zk.exists(b + "/new", false) == null, "rolled back create");
            isTrue(zk.exists(b + "/other", false) == null, "later op not applied");
            eq("orig", s(zk.getData(b + "/x", false, null)), "rolled back setData");
            Stat after = zk.exists(b + "/x", false);
            eq(before, after, "stat unchanged");
            eq(1, zk.exists(b, false).getNumChildren(), "parent children unchanged");
            // check op failing
            KeeperException ke2 = expectCode(Code.BADVERSION, "check", () -> zk.multi(Arrays.asList(
                Op.check(b + "/x", 0),
                Op.check(b + "/x", 5),
                Op.setData(b + "/x", b("y"), -1))));
            eq(Arrays.asList(0, -103, -2), errCodes(ke2.getResults()), "check failure codes");
            expectCode(Code.NONODE, "check missing", () -> zk.multi(Arrays.asList(Op.check(b + "/missing", -1))));
            // delete NOTEMPTY inside multi; children created earlier in the same multi count
            KeeperException ke3 = expectCode(Code.NOTEMPTY, "notempty", () -> zk.multi(Arrays.asList(
                Op.create(b + "/p", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
                Op.create(b + "/p/c", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
                Op.delete(b + "/p", -1))));
            eq(Arrays.asList(0, 0, -111), errCodes(ke3.getResults()), "notempty codes");
            isTrue(zk.exists(b + "/p", false) == null, "rolled back p");
            // async multi: callback rc and results
            CountDownLatch l = new CountDownLatch(1);
            AtomicReference<Object[]> got = new AtomicReference<>();
            zk.multi(Arrays.asList(
                Op.create(b + "/y", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
                Op.delete(b + "/missing", -1)), (rc, path, ctx, results) -> {
                    got.set(new Object[] {rc, results});
                    l.countDown();
                }, null);
            isTrue(l.await(10, TimeUnit.SECONDS), "async multi callback");
            eq(Code.NONODE.intValue(), got.get()[0], "async multi rc");
            @SuppressWarnings("unchecked")
            List<OpResult> ar = (List<OpResult>) got.get()[1];
            eq(Arrays.asList(0, -101), errCodes(ar), "async multi results");
            // the failed multi still consumed exactly one zxid (checked in zxid_accounting too)
            isTrue(zk.exists(b + "/y", false) == null, "async failed multi rolled back");
        });

        check("multi_read", () -> {
            String b = base("multi_read");
            Client c = client();
            ZooKeeper zk = c.zk;
            zk.create(b + "/a", b("A"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            zk.create(b + "/a/x", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            zk.create(b + "/a/y", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            zk.create(b + "/secret", b("S"), Arrays.asList(new ACL(Perms.WRITE, Ids.ANYONE_ID_UNSAFE)), CreateMode.PERSISTENT);
            List<OpResult> rs = zk.multi(Arrays.asList(
                Op.getChildren(b + "/a"),
                Op.getData(b + "/a"),
                Op.getData(b + "/missing"),
                Op.getChildren(b + "/missing"),
                Op.getData(b + "/secret"),
                Op.getData(b + "/a/x")));
            eq(6, rs.size(), "result count");
            isTrue(rs.get(0) instanceof OpResult.GetChildrenResult, "r0 GetChildrenResult");
            eq(set("x", "y"), set(((OpResult.GetChildrenResult) rs.get(0)).getChildren()), "children");
            isTrue(rs.get(1) instanceof OpResult.GetDataResult, "r1 GetDataResult");
            OpResult.GetDataResult gd = (OpResult.GetDataResult) rs.get(1);
            eq("A", s(gd.getData()), "data");
            eq(zk.exists(b + "/a", false), gd.getStat(), "stat");
            eq(Code.NONODE.intValue(), ((OpResult.ErrorResult) rs.get(2)).getErr(), "missing getData");
            eq(Code.NONODE.intValue(), ((OpResult.ErrorResult) rs.get(3)).getErr(), "missing getChildren");
            eq(Code.NOAUTH.intValue(), ((OpResult.ErrorResult) rs.get(4)).getErr(), "noauth getData");
            isTrue(rs.get(5) instanceof OpResult.GetDataResult, "later op still succeeds");
        });

        // ---------------------------------------------------------- exists / sync / misc reads

        check("exists_and_watch_on_missing", () -> {
            String b = base("exists_and_watch_on_missing");
            Client c = client();
            ZooKeeper zk = c.zk;
            Events w = new Events();
            isTrue(zk.exists(b + "/n", w) == null, "exists on missing returns null");
            Client other = client();
            other.zk.create(b + "/n", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            w.expect(EventType.NodeCreated, b + "/n");
            Stat st = zk.exists(b + "/n", w);
            isTrue(st != null, "exists on present");
            other.zk.setData(b + "/n", b("x"), -1);
            w.expect(EventType.NodeDataChanged, b + "/n");
            // getData on missing does NOT leave a watch
            Events w2 = new Events();
            expectCode(Code.NONODE, "getData missing", () -> zk.getData(b + "/m", w2, null));
            Events w3 = new Events();
            expectCode(Code.NONODE, "getChildren missing", () -> zk.getChildren(b + "/m", w3));
            other.zk.create(b + "/m", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            other.zk.setData(b + "/m", b("1"), -1);
            other.zk.create(b + "/m/c", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            w2.expectNone(300);
            w3.expectNone(10);
        });

        check("sync", () -> {
            String b = base("sync");
            Client c = client();
            for (String p : new String[] {b, b + "/does-not-exist"}) {
                CountDownLatch l = new CountDownLatch(1);
                AtomicReference<Object[]> got = new AtomicReference<>();
                c.zk.sync(p, (rc, path, ctx) -> {
                    got.set(new Object[] {rc, path});
                    l.countDown();
                }, null);
                isTrue(l.await(10, TimeUnit.SECONDS), "sync callback");
                eq(0, got.get()[0], "sync rc for " + p);
                eq(p, got.get()[1], "sync path");
            }
        });

        check("get_ephemerals", () -> {
            String b = base("get_ephemerals");
            Client c1 = client();
            Client c2 = client();
            c1.zk.create(b + "/e1", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
            c1.zk.create(b + "/e2", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
            c1.zk.create(b + "/sub", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            c1.zk.create(b + "/sub/e3", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
            String es = c1.zk.create(b + "/sub/es-", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL_SEQUENTIAL);
            c1.zk.create(b + "/p", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            c1.zk.create(b + "/c", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.CONTAINER);
            c1.zk.create(b + "/t", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL, null, 100000);
            c2.zk.create(b + "/f", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
            eq(set(b + "/e1", b + "/e2", b + "/sub/e3", es), set(c1.zk.getEphemerals(b)), "c1 ephemerals under base");
            eq(set(b + "/e1", b + "/e2", b + "/sub/e3", es), set(c1.zk.getEphemerals()), "c1 all ephemerals");
            eq(set(b + "/f"), set(c2.zk.getEphemerals(b)), "c2 ephemerals");
            // prefix is a string prefix, not a path
            eq(set(b + "/e1", b + "/e2"), set(c1.zk.getEphemerals(b + "/e")), "string prefix match");
            eq(set(b + "/sub/e3", es), set(c1.zk.getEphemerals(b + "/sub")), "sub prefix");
            eq(0, c1.zk.getEphemerals(b + "/nothing").size(), "no match");
            Client c3 = client();
            eq(0, c3.zk.getEphemerals("/").size(), "fresh session has none");
        });

        check("get_all_children_number", () -> {
            String b = base("get_all_children_number");
            Client c = client();
            ZooKeeper zk = c.zk;
            eq(0, zk.getAllChildrenNumber(b), "empty");
            zk.create(b + "/a", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            zk.create(b + "/a/x", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            zk.create(b + "/a/x/y", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
            zk.create(b + "/b", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            eq(4, zk.getAllChildrenNumber(b), "all descendants");
            eq(2, zk.getAllChildrenNumber(b + "/a"), "subtree");
            eq(0, zk.getAllChildrenNumber(b + "/b"), "leaf");
            expectCode(Code.NONODE, "missing", () -> zk.getAllChildrenNumber(b + "/missing"));
            zk.create(b + "/secret", EMPTY, Arrays.asList(new ACL(Perms.WRITE, Ids.ANYONE_ID_UNSAFE)), CreateMode.PERSISTENT);
            expectCode(Code.NOAUTH, "no READ", () -> zk.getAllChildrenNumber(b + "/secret"));
        });

        // ---------------------------------------------------------- watches

        check("watch_event_types", () -> {
            String b = base("watch_event_types");
            Client c = client();
            Client o = client();
            ZooKeeper zk = c.zk;
            String n = b + "/n";
            Events we = new Events();
            zk.exists(n, we);
            o.zk.create(n, EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            we.expect(EventType.NodeCreated, n);
            Events wd = new Events();
            zk.getData(n, wd, null);
            o.zk.setData(n, b("1"), -1);
            wd.expect(EventType.NodeDataChanged, n);
            // one-shot: the second change is not delivered
            o.zk.setData(n, b("2"), -1);
            Events wc = new Events();
            zk.getChildren(n, wc);
            o.zk.create(n + "/c", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            wc.expect(EventType.NodeChildrenChanged, n);
            o.zk.create(n + "/c2", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            // setData on a child does not fire the parent's child watch
            Events wc2 = new Events();
            zk.getChildren(n, wc2);
            o.zk.setData(n + "/c", b("x"), -1);
            // delete child fires data watch on child and child watch on parent
            Events wdc = new Events();
            zk.getData(n + "/c", wdc, null);
            o.zk.delete(n + "/c", -1);
            wdc.expect(EventType.NodeDeleted, n + "/c");
            wc2.expect(EventType.NodeChildrenChanged, n);
            o.zk.delete(n + "/c2", -1);
            // child watch on a node that gets deleted -> NodeDeleted
            Events wcd = new Events();
            zk.getChildren(n, wcd);
            Events wdd = new Events();
            zk.exists(n, wdd);
            o.zk.delete(n, -1);
            wcd.expect(EventType.NodeDeleted, n);
            wdd.expect(EventType.NodeDeleted, n);
            // setACL fires nothing
            o.zk.create(n, EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            // In an ensemble zk's server may not have applied o's create yet.
            syncOn(zk, n);
            Events wa = new Events();
            zk.getData(n, wa, null);
            zk.getChildren(n, wa);
            o.zk.setACL(n, Ids.READ_ACL_UNSAFE, -1);
            we.expectNone(200);
            wd.expectNone(10);
            wc.expectNone(10);
            wc2.expectNone(10);
            wdc.expectNone(10);
            wa.expectNone(10);
            // default watcher (watch=true)
            zk.getData(n, true, null);
            Client su = superClient();
            su.zk.setData(n, b("z"), -1);
            c.ev.expect(EventType.NodeDataChanged, n);
            // same watcher registered by exists and getData fires once
            Events ws = new Events();
            zk.exists(n, ws);
            zk.getData(n, ws, null);
            su.zk.setData(n, b("zz"), -1);
            ws.expect(EventType.NodeDataChanged, n);
            ws.expectNone(300);
            // event state is SyncConnected
            Events wst = new Events();
            zk.exists(n, wst);
            su.zk.delete(n, -1);
            WatchedEvent e = wst.expect(EventType.NodeDeleted, n);
            eq(KeeperState.SyncConnected, e.getState(), "event state");
        });

        check("watch_notification_before_reply", () -> {
            String b = base("watch_notification_before_reply");
            Client c = client();
            ZooKeeper zk = c.zk;
            String n = b + "/n";
            List<String> order = Collections.synchronizedList(new ArrayList<>());
            Watcher rec = e -> order.add("event:" + e.getType() + ":" + e.getPath());
            // exists watch -> create
            zk.exists(n, rec);
            zk.getChildren(b, rec);
            CountDownLatch l1 = new CountDownLatch(1);
            zk.create(n, EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT, (rc, path, ctx, name) -> {
                order.add("reply:create:" + rc);
                l1.countDown();
            }, null);
            isTrue(l1.await(10, TimeUnit.SECONDS), "create callback");
            // data watch -> setData
            zk.getData(n, rec, null);
            CountDownLatch l2 = new CountDownLatch(1);
            zk.setData(n, b("x"), -1, (rc, path, ctx, stat) -> {
                order.add("reply:setData:" + rc);
                l2.countDown();
            }, null);
            isTrue(l2.await(10, TimeUnit.SECONDS), "setData callback");
            // data + child watches -> delete
            zk.getData(n, rec, null);
            zk.getChildren(b, rec);
            CountDownLatch l3 = new CountDownLatch(1);
            zk.delete(n, -1, (rc, path, ctx) -> {
                order.add("reply:delete:" + rc);
                l3.countDown();
            }, null);
            isTrue(l3.await(10, TimeUnit.SECONDS), "delete callback");
            // multi
            zk.exists(n, rec);
            CountDownLatch l4 = new CountDownLatch(1);
            zk.multi(Arrays.asList(Op.create(n, EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT)), (rc, path, ctx, r) -> {
                order.add("reply:multi:" + rc);
                l4.countDown();
            }, null);
            isTrue(l4.await(10, TimeUnit.SECONDS), "multi callback");
            List<String> want = Arrays.asList(
                "event:NodeCreated:" + n,
                "event:NodeChildrenChanged:" + b,
                "reply:create:0",
                "event:NodeDataChanged:" + n,
                "reply:setData:0",
                "event:NodeDeleted:" + n,
                "event:NodeChildrenChanged:" + b,
                "reply:delete:0",
                "event:NodeCreated:" + n,
                "reply:multi:0");
            // events of one txn: data-table events (NodeCreated/NodeDeleted) come before NodeChildrenChanged of the parent
            eq(want, new ArrayList<>(order), "event/reply order");
        });

        check("remove_watches", () -> {
            String b = base("remove_watches");
            Client c = client();
            Client o = client();
            ZooKeeper zk = c.zk;
            String n = b + "/n";
            zk.create(n, EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            Events wd = new Events();
            zk.getData(n, wd, null);
            zk.removeWatches(n, wd, WatcherType.Data, false);
            wd.expect(EventType.DataWatchRemoved, n);
            o.zk.setData(n, b("x"), -1);
            wd.expectNone(300);
            Events wc = new Events();
            zk.getChildren(n, wc);
            zk.removeWatches(n, wc, WatcherType.Children, false);
            wc.expect(EventType.ChildWatchRemoved, n);
            o.zk.create(n + "/c", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            wc.expectNone(300);
            // no watcher -> NOWATCHER
            expectCode(Code.NOWATCHER, "removeWatches without watch", () -> zk.removeWatches(n, wd, WatcherType.Data, false));
            expectCode(Code.NOWATCHER, "removeAllWatches without watch", () -> zk.removeAllWatches(n, WatcherType.Any, false));
            expectCode(Code.NOWATCHER, "removeAllWatches on missing path", () -> zk.removeAllWatches(b + "/missing", WatcherType.Data, false));
            // Any removes both kinds
            Events wa = new Events();
            zk.getData(n, wa, null);
            zk.getChildren(n, wa);
            zk.removeWatches(n, wa, WatcherType.Any, false);
            Set<String> evs = new HashSet<>();
            evs.add(wa.node.poll(EVENT_WAIT_MS, TimeUnit.MILLISECONDS).getType().toString());
            evs.add(wa.node.poll(EVENT_WAIT_MS, TimeUnit.MILLISECONDS).getType().toString());
            eq(new HashSet<>(Arrays.asList("DataWatchRemoved", "ChildWatchRemoved")), evs, "Any removal events");
            // removeAllWatches removes every watcher of the type
            Events w1 = new Events();
            Events w2 = new Events();
            zk.getData(n, w1, null);
            zk.getData(n, w2, null);
            zk.removeAllWatches(n, WatcherType.Data, false);
            w1.expect(EventType.DataWatchRemoved, n);
            w2.expect(EventType.DataWatchRemoved, n);
            o.zk.setData(n, b("y"), -1);
            w1.expectNone(300);
            w2.expectNone(10);
            // removing data watch leaves the child watch
            Events wm = new Events();
            zk.getData(n, wm, null);
            zk.getChildren(n, wm);
            zk.removeWatches(n, wm, WatcherType.Data, false);
            wm.expect(EventType.DataWatchRemoved, n);
            o.zk.create(n + "/d", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            wm.expect(EventType.NodeChildrenChanged, n);
            // exists watch on a missing node can be removed as a Data watch
            Events wx = new Events();
            zk.exists(b + "/later", wx);
            zk.removeWatches(b + "/later", wx, WatcherType.Data, false);
            wx.expect(EventType.DataWatchRemoved, b + "/later");
            o.zk.create(b + "/later", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            wx.expectNone(300);
            // a watch of another session is not visible: NOWATCHER
            Events wo = new Events();
            o.zk.getData(n, wo, null);
            expectCode(Code.NOWATCHER, "other session's watch", () -> zk.removeAllWatches(n, WatcherType.Data, false));
        });

        check("add_watch_persistent", () -> {
            String b = base("add_watch_persistent");
            Client c = client();
            Client o = client();
            String p = b + "/p";
            Events w = new Events();
            c.zk.addWatch(p, w, AddWatchMode.PERSISTENT);   // node does not exist yet
            o.zk.create(p, EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            o.zk.setData(p, b("1"), -1);
            o.zk.setData(p, b("2"), -1);
            o.zk.create(p + "/c", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            o.zk.setData(p + "/c", b("x"), -1);          // no event: not the watched path
            o.zk.create(p + "/c/d", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT); // no event
            o.zk.delete(p + "/c/d", -1);
            o.zk.delete(p + "/c", -1);
            o.zk.setACL(p, Ids.OPEN_ACL_UNSAFE, -1);    // no event
            o.zk.delete(p, -1);
            o.zk.create(p, EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            w.expect(EventType.NodeCreated, p);
            w.expect(EventType.NodeDataChanged, p);
            w.expect(EventType.NodeDataChanged, p);
            w.expect(EventType.NodeChildrenChanged, p);
            w.expect(EventType.NodeChildrenChanged, p);
            w.expect(EventType.NodeDeleted, p);
            w.expect(EventType.NodeCreated, p);
            w.expectNone(300);
            // a persistent watch does not prevent the one-shot watch of the same client from being consumed
            // removal: removeAllWatches(Any) removes it (client reports PersistentWatchRemoved)
            c.zk.removeAllWatches(p, WatcherType.Any, false);
            WatchedEvent rm = w.node.poll(EVENT_WAIT_MS, TimeUnit.MILLISECONDS);
            isTrue(rm != null, "removal event");
            eq(EventType.PersistentWatchRemoved, rm.getType(), "removal event type");
            o.zk.setData(p, b("3"), -1);
            w.expectNone(300);
            // addWatch with the default watcher
            c.zk.addWatch(p, AddWatchMode.PERSISTENT);
            o.zk.setData(p, b("4"), -1);
            c.ev.expect(EventType.NodeDataChanged, p);
        });

        check("add_watch_persistent_recursive", () -> {
            String b = base("add_watch_persistent_recursive");
            Client c = client();
            Client o = client();
            String p = b + "/p";
            o.zk.create(p, EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            // In an ensemble c's server may not have applied o's create yet.
            syncOn(c.zk, p);
            Events w = new Events();
            c.zk.addWatch(p, w, AddWatchMode.PERSISTENT_RECURSIVE);
            o.zk.create(p + "/a", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            o.zk.create(p + "/a/b", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            o.zk.setData(p + "/a/b", b("x"), -1);
            o.zk.delete(p + "/a/b", -1);
            o.zk.setData(p, b("y"), -1);
            o.zk.create(b + "/sibling", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT); // outside
            o.zk.create(b + "/pp", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);      // prefix but not descendant
            o.zk.multi(Arrays.asList(
                Op.create(p + "/m", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
                Op.setData(p + "/m", b("1"), -1)));
            o.zk.delete(p + "/a", -1);
            w.expect(EventType.NodeCreated, p + "/a");
            w.expect(EventType.NodeCreated, p + "/a/b");
            w.expect(EventType.NodeDataChanged, p + "/a/b");
            w.expect(EventType.NodeDeleted, p + "/a/b");
            w.expect(EventType.NodeDataChanged, p);
            w.expect(EventType.NodeCreated, p + "/m");
            w.expect(EventType.NodeDataChanged, p + "/m");
            w.expect(EventType.NodeDeleted, p + "/a");
            w.expectNone(300);
            // a one-shot watch on a descendant still fires in addition (separate watcher)
            Events one = new Events();
            c.zk.getData(p + "/m", one, null);
            o.zk.setData(p + "/m", b("2"), -1);
            one.expect(EventType.NodeDataChanged, p + "/m");
            w.expect(EventType.NodeDataChanged, p + "/m");
            // persistent and recursive on the same path with the same watcher object:
            // recursive events (no NodeChildrenChanged) keep flowing
            c.zk.removeAllWatches(p, WatcherType.Any, false);
            WatchedEvent rm = w.node.poll(EVENT_WAIT_MS, TimeUnit.MILLISECONDS);
            isTrue(rm != null && rm.getType() == EventType.PersistentWatchRemoved, "recursive watch removed event");
            o.zk.setData(p + "/m", b("3"), -1);
            w.expectNone(300);
        });

        // ---------------------------------------------------------- auth / ACL

        check("auth_digest_acl", () -> {
            String b = base("auth_digest_acl");
            Client alice = client();
            alice.zk.addAuthInfo("digest", b("alice:pw"));
            Client anon = client();
            Client wrong = client();
            wrong.zk.addAuthInfo("digest", b("alice:wrong"));
            String aliceId = digestId("alice:pw");
            String n = b + "/n";
            alice.zk.create(n, b("secret"), Arrays.asList(new ACL(Perms.ALL, new Id("digest", aliceId))), CreateMode.PERSISTENT);
            eq("secret", s(alice.zk.getData(n, false, null)), "owner reads");
            expectCode(Code.NOAUTH, "anon getData", () -> anon.zk.getData(n, false, null));
            expectCode(Code.NOAUTH, "wrong password getData", () -> wrong.zk.getData(n, false, null));
            expectCode(Code.NOAUTH, "anon setData", () -> anon.zk.setData(n, b("x"), -1));
            expectCode(Code.NOAUTH, "anon getChildren", () -> anon.zk.getChildren(n, false));
            expectCode(Code.NOAUTH, "anon create child", () -> anon.zk.create(n + "/c", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT));
            expectCode(Code.NOAUTH, "anon setACL", () -> anon.zk.setACL(n, Ids.OPEN_ACL_UNSAFE, -1));
            expectCode(Code.NOAUTH, "anon getACL (needs READ or ADMIN)", () -> anon.zk.getACL(n, null));
            // exists does not check the ACL in 3.8.0 (3.8.4+ requires READ: CVE-2024-23944 hardening) - accept both
            try {
                Stat st = anon.zk.exists(n, false);
                isTrue(st != null, "exists returns stat");
                info("auth_digest_acl: exists on a node without READ permission succeeds (3.8.0 behaviour)");
            } catch (KeeperException.NoAuthException e) {
                info("auth_digest_acl: exists on a node without READ permission -> NOAUTH (3.8.4+ behaviour)");
            }
            // delete needs DELETE on the parent, not on the node
            alice.zk.create(n + "/c", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            expectCode(Code.NOAUTH, "anon delete child of protected parent", () -> anon.zk.delete(n + "/c", -1));
            alice.zk.create(b + "/open", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            alice.zk.create(b + "/open/locked", EMPTY, Arrays.asList(new ACL(Perms.ALL, new Id("digest", aliceId))), CreateMode.PERSISTENT);
            anon.zk.delete(b + "/open/locked", -1); // allowed: DELETE on /open is open
            // NONODE vs NOAUTH: getData of a missing child of a protected node -> NONODE
            expectCode(Code.NONODE, "missing node under protected parent", () -> anon.zk.getData(n + "/missing", false, null));
            // adding the right auth later grants access
            wrong.zk.addAuthInfo("digest", b("alice:pw"));
            eq("secret", s(wrong.zk.getData(n, false, null)), "after adding the correct auth");
            // 'auth' scheme expands to the caller's ids
            alice.zk.create(b + "/creator", EMPTY, Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT);
            eq(Arrays.asList(new ACL(Perms.ALL, new Id("digest", aliceId))), alice.zk.getACL(b + "/creator", null), "auth expanded to digest id");
            // getACL with READ but no ADMIN masks digest ids
            alice.zk.create(b + "/masked", EMPTY, Arrays.asList(
                new ACL(Perms.ALL, new Id("digest", aliceId)),
                new ACL(Perms.READ, Ids.ANYONE_ID_UNSAFE)), CreateMode.PERSISTENT);
            List<ACL> masked = anon.zk.getACL(b + "/masked", null);
            eq(Arrays.asList(new ACL(Perms.ALL, new Id("digest", "alice:x")), new ACL(Perms.READ, Ids.ANYONE_ID_UNSAFE)), masked, "masked ACL for non-admin");
            List<ACL> full = alice.zk.getACL(b + "/masked", null);
            eq(aliceId, full.get(0).getId().getId(), "unmasked ACL for admin");
            // perms are a bitmask: READ only node
            alice.zk.create(b + "/ro", b("r"), Ids.READ_ACL_UNSAFE, CreateMode.PERSISTENT);
            eq("r", s(anon.zk.getData(b + "/ro", false, null)), "read-only readable");
            expectCode(Code.NOAUTH, "read-only setData", () -> anon.zk.setData(b + "/ro", b("w"), -1));
            expectCode(Code.NOAUTH, "read-only create child", () -> anon.zk.create(b + "/ro/c", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT));
            expectCode(Code.NOAUTH, "read-only setACL by owner too", () -> alice.zk.setACL(b + "/ro", Ids.OPEN_ACL_UNSAFE, -1));
            // CREATE-only permission
            alice.zk.create(b + "/co", EMPTY, Arrays.asList(new ACL(Perms.CREATE, Ids.ANYONE_ID_UNSAFE)), CreateMode.PERSISTENT);
            anon.zk.create(b + "/co/x", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            expectCode(Code.NOAUTH, "create-only: delete child", () -> anon.zk.delete(b + "/co/x", -1));
            expectCode(Code.NOAUTH, "create-only: getChildren", () -> anon.zk.getChildren(b + "/co", false));
            // multiple digest identities on one connection
            Client both = client();
            both.zk.addAuthInfo("digest", b("bob:pw2"));
            both.zk.addAuthInfo("digest", b("alice:pw"));
            eq("secret", s(both.zk.getData(n, false, null)), "any matching identity is enough");
            both.zk.create(b + "/both", EMPTY, Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT);
            eq(set("digest:" + digestId("bob:pw2"), "digest:" + aliceId), aclIds(both.zk.getACL(b + "/both", null)), "auth expands to all identities");
        });

        check("auth_ip_world_acl", () -> {
            String b = base("auth_ip_world_acl");
            Client c = client();
            ZooKeeper zk = c.zk;
            zk.create(b + "/ip-ok", b("1"), Arrays.asList(new ACL(Perms.ALL, new Id("ip", "127.0.0.1"))), CreateMode.PERSISTENT);
            eq("1", s(zk.getData(b + "/ip-ok", false, null)), "ip 127.0.0.1 allowed");
            zk.create(b + "/ip-net", b("2"), Arrays.asList(new ACL(Perms.ALL, new Id("ip", "127.0.0.0/8"))), CreateMode.PERSISTENT);
            eq("2", s(zk.getData(b + "/ip-net", false, null)), "ip 127.0.0.0/8 allowed");
            zk.create(b + "/ip-bad", b("3"), Arrays.asList(new ACL(Perms.ALL, new Id("ip", "10.1.2.3"))), CreateMode.PERSISTENT);
            expectCode(Code.NOAUTH, "ip 10.1.2.3 denied", () -> zk.getData(b + "/ip-bad", false, null));
            zk.create(b + "/ip-bad-net", b("3"), Arrays.asList(new ACL(Perms.ALL, new Id("ip", "10.0.0.0/8"))), CreateMode.PERSISTENT);
            expectCode(Code.NOAUTH, "ip 10.0.0.0/8 denied", () -> zk.getData(b + "/ip-bad-net", false, null));
            zk.create(b + "/world", b("4"), Arrays.asList(new ACL(Perms.READ | Perms.CREATE, Ids.ANYONE_ID_UNSAFE)), CreateMode.PERSISTENT);
            eq("4", s(zk.getData(b + "/world", false, null)), "world read");
            expectCode(Code.NOAUTH, "world no write", () -> zk.setData(b + "/world", EMPTY, -1));
            zk.create(b + "/world/c", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            expectCode(Code.NOAUTH, "world no delete", () -> zk.delete(b + "/world/c", -1));
            // world with id other than anyone does not match anybody
            // world with an id other than "anyone" is not a valid ACL (there is no "world" auth provider)
            expectCode(Code.INVALIDACL, "world:someone", () -> zk.create(b + "/world-x", b("5"), Arrays.asList(new ACL(Perms.ALL, new Id("world", "someone"))), CreateMode.PERSISTENT));
            // ACL with perms 0 -> nobody
            zk.create(b + "/zero", EMPTY, Arrays.asList(new ACL(0, Ids.ANYONE_ID_UNSAFE)), CreateMode.PERSISTENT);
            expectCode(Code.NOAUTH, "perms 0", () -> zk.getData(b + "/zero", false, null));
            // invalid ACLs
            expectCode(Code.INVALIDACL, "ip bad mask", () -> zk.create(b + "/x", EMPTY, Arrays.asList(new ACL(Perms.ALL, new Id("ip", "10.0.0.0/99"))), CreateMode.PERSISTENT));
        });

        check("auth_failed_unknown_scheme", () -> {
            Client c = client();
            c.zk.addAuthInfo("nosuchscheme", b("x"));
            c.ev.awaitState(KeeperState.AuthFailed, 10000);
            // raw: AUTHFAILED reply (xid -4, err -115) then the server closes the connection
            Raw r = Raw.session(10000);
            r.sendRequest(-4, ZooDefs.OpCode.auth, new AuthPacket(0, "nosuchscheme", b("x")));
            Reply rep = r.readReply();
            eq(-4, rep.hdr.getXid(), "auth reply xid");
            eq(Code.AUTHFAILED.intValue(), rep.hdr.getErr(), "auth reply err");
            isTrue(r.closedWithin(5000), "server closes the connection after AUTHFAILED");
            // a good digest auth: reply xid -4, err 0, connection stays
            Raw r2 = Raw.session(10000);
            r2.sendRequest(-4, ZooDefs.OpCode.auth, new AuthPacket(0, "digest", b("u:p")));
            Reply rep2 = r2.readReply();
            eq(-4, rep2.hdr.getXid(), "auth ok reply xid");
            eq(0, rep2.hdr.getErr(), "auth ok err");
            eq(16, rep2.frameLen, "auth reply is a bare header");
            Reply ping = r2.callRaw(ZooDefs.OpCode.exists, rawExists("/", false));
            eq(0, ping.hdr.getErr(), "connection still usable");
        });

        check("super_user", () -> {
            String b = base("super_user");
            Client alice = client();
            alice.zk.addAuthInfo("digest", b("alice:pw"));
            String n = b + "/n";
            alice.zk.create(n, b("v"), Arrays.asList(new ACL(Perms.ALL, new Id("digest", digestId("alice:pw")))), CreateMode.PERSISTENT);
            alice.zk.create(b + "/none", b("v"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            alice.zk.create(b + "/none/c", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            alice.zk.setACL(b + "/none", Arrays.asList(new ACL(0, Ids.ANYONE_ID_UNSAFE)), -1);
            Client su = superClient();
            eq("v", s(su.zk.getData(n, false, null)), "super reads");
            su.zk.setData(n, b("w"), -1);
            eq("v", s(su.zk.getData(b + "/none", false, null)), "super reads perms-0 node");
            su.zk.create(n + "/c", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            su.zk.delete(n + "/c", -1);
            su.zk.delete(b + "/none/c", -1);
            List<ACL> acl = su.zk.getACL(n, null);
            eq(digestId("alice:pw"), acl.get(0).getId().getId(), "super sees unmasked ACL");
            su.zk.setACL(n, Ids.OPEN_ACL_UNSAFE, -1);
            Client anon = client();
            eq("w", s(anon.zk.getData(n, false, null)), "opened by super");
            // wrong super password is just a normal digest identity
            Client notSuper = client();
            notSuper.zk.addAuthInfo("digest", b("super:wrong"));
            expectCode(Code.NOAUTH, "super with wrong password", () -> notSuper.zk.getData(b + "/none", false, null));
        });

        check("who_am_i", () -> {
            Client c = client();
            List<ClientInfo> ci = c.zk.whoAmI();
            // the server keeps auth ids in a hash set: order is unspecified, compare as sets
            eq(set("ip:127.0.0.1"), infoList(ci), "anonymous whoAmI");
            c.zk.addAuthInfo("digest", b("alice:pw"));
            eq(set("ip:127.0.0.1", "digest:alice"), infoList(c.zk.whoAmI()), "after digest auth");
            c.zk.addAuthInfo("digest", b("alice:pw"));
            eq(2, c.zk.whoAmI().size(), "same identity twice is not duplicated");
            c.zk.addAuthInfo("digest", b("bob:x"));
            eq(set("ip:127.0.0.1", "digest:alice", "digest:bob"), infoList(c.zk.whoAmI()), "two digest identities");
            Client su = superClient();
            // the super identity is reported as scheme "super" with an empty user
            eq(set("ip:127.0.0.1", "digest:super", "super:"), infoList(su.zk.whoAmI()), "super whoAmI");
        });

        // ---------------------------------------------------------- special nodes / paths

        check("special_nodes", () -> {
            Client c = client();
            ZooKeeper zk = c.zk;
            isTrue(zk.exists("/zookeeper", false) != null, "/zookeeper exists");
            isTrue(set(zk.getChildren("/zookeeper", false)).containsAll(set("config", "quota")), "/zookeeper has config and quota");
            eq(set("config", "quota"), set(zk.getChildren("/zookeeper", false)), "/zookeeper children");
            Stat zs = new Stat();
            eq(Ids.OPEN_ACL_UNSAFE, zk.getACL("/zookeeper", zs), "/zookeeper acl");
            eq(0L, zs.getCzxid(), "/zookeeper czxid");
            eq(0L, zs.getMzxid(), "/zookeeper mzxid");
            eq(0, zs.getVersion(), "/zookeeper version");
            eq(0, zs.getAversion(), "/zookeeper aversion");
            eq(0L, zs.getCtime(), "/zookeeper ctime");
            eq(2, zs.getNumChildren(), "/zookeeper numChildren");
            Stat qs = new Stat();
            eq(Ids.OPEN_ACL_UNSAFE, zk.getACL("/zookeeper/quota", qs), "/zookeeper/quota acl");
            eq(0L, qs.getCzxid(), "quota czxid");
            eq(0, qs.getNumChildren(), "quota children");
            Stat cs = new Stat();
            eq(Ids.READ_ACL_UNSAFE, zk.getACL("/zookeeper/config", cs), "/zookeeper/config acl");
            eq(-1, cs.getAversion(), "/zookeeper/config aversion");
            eq(0L, cs.getCzxid(), "config czxid");
            eq(0L, cs.getMzxid(), "config mzxid");
            byte[] cfg = zk.getData("/zookeeper/config", false, null);
            byte[] viaGetConfig = zk.getConfig(false, null);
            if (!ENSEMBLE) {
                eq(0, cs.getVersion(), "config version");
                eq(0, cfg == null ? 0 : cfg.length, "standalone /zookeeper/config data is empty");
                eq(0, viaGetConfig == null ? 0 : viaGetConfig.length, "getConfig in standalone");
            } else {
                // A quorum peer writes its (static) config at startup with
                // DataTree.setData(path, data, version -1, zxid = config version 0, now).
                eq(-1, cs.getVersion(), "config version in an ensemble");
                String text = cfg == null ? "" : new String(cfg, java.nio.charset.StandardCharsets.UTF_8);
                isTrue(text.startsWith("server.1=127.0.0.1:") && text.contains("\nserver.3=")
                        && text.contains(":participant\n") && text.endsWith("\nversion=0"),
                    "/zookeeper/config holds the server list and version=0 in an ensemble, was: '" + text + "'");
                eq(text, viaGetConfig == null ? "" : new String(viaGetConfig, java.nio.charset.StandardCharsets.UTF_8),
                    "getConfig = /zookeeper/config data");
            }
            // root
            Stat rs = zk.exists("/", false);
            eq(0L, rs.getCzxid(), "root czxid");
            eq(0L, rs.getEphemeralOwner(), "root owner");
            eq(Ids.OPEN_ACL_UNSAFE, zk.getACL("/", null), "root acl");
            // special paths cannot be deleted, even by super
            Client su = superClient();
            for (String p : new String[] {"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"}) {
                expectCode(Code.BADARGUMENTS, "delete " + p, () -> zk.delete(p, -1));
                expectCode(Code.BADARGUMENTS, "super delete " + p, () -> su.zk.delete(p, -1));
            }
            expectCode(Code.NOAUTH, "setData /zookeeper/config", () -> zk.setData("/zookeeper/config", b("x"), -1));
            expectCode(Code.NODEEXISTS, "create /zookeeper", () -> zk.create("/zookeeper", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT));
            expectCode(Code.NODEEXISTS, "create /", () -> zk.create("/", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT));
        });

        check("invalid_paths_raw", () -> {
            String b = base("invalid_paths_raw");
            Raw r = Raw.session(10000);
            eq(0, r.call(ZooDefs.OpCode.create, new CreateRequest(b + "/x", EMPTY, Ids.OPEN_ACL_UNSAFE, 0)).hdr.getErr(), "create x");
            // the parent (everything before the last '/') is looked up before the full path is validated
            Object[][] cases = {
                {b + "//x", Code.NONODE},              // parent "b/" does not exist
                {b + "/.", Code.BADARGUMENTS},
                {b + "/..", Code.BADARGUMENTS},
                {b + "/x/.", Code.BADARGUMENTS},
                {b + "/x/", Code.BADARGUMENTS},         // parent "b/x" exists, then trailing slash rejected
                {b + "/y/", Code.NONODE},               // parent "b/y" missing
                {b + "/x\u0001y", Code.BADARGUMENTS},
                {b + "/x\u007fy", Code.BADARGUMENTS},
                {b + "/x\ud800y", Code.BADARGUMENTS},
                {b + "/\u0000x", Code.BADARGUMENTS},
                {b + "/x/\u0000", Code.BADARGUMENTS},
                {b + "/ok\u00e9\u4e2d", Code.OK},     // non-ASCII is fine
                {b + "/x/...", Code.OK},                // only "." and ".." are special
            };
            List<String> wrong = new ArrayList<>();
            for (Object[] cs : cases) {
                String p = (String) cs[0];
                Reply rep = r.call(ZooDefs.OpCode.create, new CreateRequest(p, EMPTY, Ids.OPEN_ACL_UNSAFE, 0));
                int want = ((Code) cs[1]).intValue();
                if (rep.hdr.getErr() != want) {
                    wrong.add("create " + printable(p) + " -> " + rep.hdr.getErr() + " (expected " + want + ")");
                }
            }
            isTrue(wrong.isEmpty(), String.join("; ", wrong));
            Reply noSlash = r.call(ZooDefs.OpCode.create, new CreateRequest("noslash", EMPTY, Ids.OPEN_ACL_UNSAFE, 0));
            eq(Code.BADARGUMENTS.intValue(), noSlash.hdr.getErr(), "create without leading slash");
            Reply empty = r.call(ZooDefs.OpCode.create, new CreateRequest("", EMPTY, Ids.OPEN_ACL_UNSAFE, 0));
            eq(Code.BADARGUMENTS.intValue(), empty.hdr.getErr(), "create empty path");
            // sequential + trailing slash is fine
            Reply seq = r.call(ZooDefs.OpCode.create, new CreateRequest(b + "/", EMPTY, Ids.OPEN_ACL_UNSAFE, 2));
            eq(0, seq.hdr.getErr(), "sequential trailing slash");
            eq(b + "/0000000002", seq.read(new CreateResponse()).getPath(), "sequential trailing slash name");
            // invalid create flags
            Reply flags = r.call(ZooDefs.OpCode.create, new CreateRequest(b + "/f", EMPTY, Ids.OPEN_ACL_UNSAFE, 7));
            eq(Code.BADARGUMENTS.intValue(), flags.hdr.getErr(), "flags 7");
            Reply flagsNeg = r.call(ZooDefs.OpCode.create, new CreateRequest(b + "/f", EMPTY, Ids.OPEN_ACL_UNSAFE, -1));
            eq(Code.BADARGUMENTS.intValue(), flagsNeg.hdr.getErr(), "flags -1");
            // setData / delete with invalid paths
            Reply sd = r.call(ZooDefs.OpCode.setData, new SetDataRequest(b + "//x", EMPTY, -1));
            eq(Code.BADARGUMENTS.intValue(), sd.hdr.getErr(), "setData //");
            Reply del = r.call(ZooDefs.OpCode.delete, new org.apache.zookeeper.proto.DeleteRequest("noslash", -1));
            eq(Code.BADARGUMENTS.intValue(), del.hdr.getErr(), "delete without slash");
            // exists with NUL
            Reply ex = r.call(ZooDefs.OpCode.exists, new ExistsRequest(b + "/a\u0000b", false));
            eq(Code.BADARGUMENTS.intValue(), ex.hdr.getErr(), "exists with NUL");
            // reads of odd paths simply find nothing
            Reply gd = r.call(ZooDefs.OpCode.getData, new GetDataRequest(b + "//x", false));
            eq(Code.NONODE.intValue(), gd.hdr.getErr(), "getData // -> NONODE");
            Reply ex2 = r.call(ZooDefs.OpCode.exists, new ExistsRequest("noslash", false));
            eq(Code.NONODE.intValue(), ex2.hdr.getErr(), "exists without slash -> NONODE");
            // nothing got created
            Client c = client();
            eq(set("0000000002", "x", "ok\u00e9\u4e2d"), set(c.zk.getChildren(b, false)), "children after the invalid creates");
        });

        check("raw_multi_wire", () -> {
            String b = base("raw_multi_wire");
            Raw r = Raw.session(10000);
            eq(0, r.call(ZooDefs.OpCode.create, new CreateRequest(b + "/e", EMPTY, Ids.OPEN_ACL_UNSAFE, 0)).hdr.getErr(), "create e");
            MultiBuilder mb = new MultiBuilder()
                .op(ZooDefs.OpCode.create, new CreateRequest(b + "/m1", EMPTY, Ids.OPEN_ACL_UNSAFE, 0))
                .op(ZooDefs.OpCode.create2, new CreateRequest(b + "/m2", EMPTY, Ids.OPEN_ACL_UNSAFE, 0))
                .op(ZooDefs.OpCode.createContainer, new CreateRequest(b + "/m3", EMPTY, Ids.OPEN_ACL_UNSAFE, 4))
                .op(ZooDefs.OpCode.createTTL, new CreateTTLRequest(b + "/m4", EMPTY, Ids.OPEN_ACL_UNSAFE, 5, 100000))
                .op(ZooDefs.OpCode.check, new org.apache.zookeeper.proto.CheckVersionRequest(b + "/e", 0))
                .op(ZooDefs.OpCode.setData, new SetDataRequest(b + "/e", b("x"), -1))
                .op(ZooDefs.OpCode.delete, new org.apache.zookeeper.proto.DeleteRequest(b + "/m1", -1));
            Reply ok = r.callRaw(ZooDefs.OpCode.multi, mb.bytes());
            eq(0, ok.hdr.getErr(), "multi err");
            List<int[]> hdrs = new ArrayList<>();
            BinaryInputArchive ia = BinaryInputArchive.getArchive(new ByteArrayInputStream(ok.body));
            while (true) {
                MultiHeader h = new MultiHeader();
                h.deserialize(ia, "h");
                if (h.getDone()) {
                    eq(-1, h.getType(), "end marker type");
                    eq(-1, h.getErr(), "end marker err");
                    break;
                }
                hdrs.add(new int[] {h.getType(), h.getErr()});
                switch (h.getType()) {
                    case 1: new CreateResponse().deserialize(ia, "r"); break;
                    case 15: new Create2Response().deserialize(ia, "r"); break;
                    case 5: new org.apache.zookeeper.proto.SetDataResponse().deserialize(ia, "r"); break;
                    case 2: case 13: break;
                    default: fail("unexpected result type " + h.getType());
                }
            }
            StringBuilder types = new StringBuilder();
            for (int[] h : hdrs) {
                types.append(h[0]).append('/').append(h[1]).append(' ');
            }
            // NB: a create2 (15) inside multi answers with a plain CreateResponse (type 1) in 3.8.0;
            // createContainer and createTTL answer with type 15 (Create2Response)
            eq("1/0 1/0 15/0 15/0 13/0 5/0 2/0", types.toString().trim(), "result types/errs");
            // mixing reads and writes, or ops not allowed in multi -> MARSHALLINGERROR; still consumes a zxid
            long z0 = ok.hdr.getZxid();
            Reply mixed = r.callRaw(ZooDefs.OpCode.multi, new MultiBuilder()
                .op(ZooDefs.OpCode.create, new CreateRequest(b + "/x1", EMPTY, Ids.OPEN_ACL_UNSAFE, 0))
                .op(ZooDefs.OpCode.getData, new GetDataRequest(b + "/e", false)).bytes());
            eq(Code.MARSHALLINGERROR.intValue(), mixed.hdr.getErr(), "mixed multi");
            eq(z0 + 1, mixed.hdr.getZxid(), "mixed multi consumed a zxid");
            Reply acl = r.callRaw(ZooDefs.OpCode.multi, new MultiBuilder()
                .op(ZooDefs.OpCode.setACL, new org.apache.zookeeper.proto.SetACLRequest(b + "/e", Ids.OPEN_ACL_UNSAFE, -1)).bytes());
            eq(Code.MARSHALLINGERROR.intValue(), acl.hdr.getErr(), "setACL inside multi");
            Reply readWithWrite = r.callRaw(ZooDefs.OpCode.multiRead, new MultiBuilder()
                .op(ZooDefs.OpCode.create, new CreateRequest(b + "/x2", EMPTY, Ids.OPEN_ACL_UNSAFE, 0)).bytes());
            eq(Code.MARSHALLINGERROR.intValue(), readWithWrite.hdr.getErr(), "create inside multiRead");
            // empty multi / multiRead: OK with just the end marker
            Reply empty = r.callRaw(ZooDefs.OpCode.multi, new MultiBuilder().bytes());
            eq(0, empty.hdr.getErr(), "empty multi");
            eq("ffffffff01ffffffff", hex(empty.body), "empty multi body = end marker");
            Reply emptyRead = r.callRaw(ZooDefs.OpCode.multiRead, new MultiBuilder().bytes());
            eq(0, emptyRead.hdr.getErr(), "empty multiRead");
            eq("ffffffff01ffffffff", hex(emptyRead.body), "empty multiRead body");
            // failed multi: ReplyHeader.err == 0, all results are type -1 with ErrorResponse bodies:
            // MultiHeader{-1, false, err} + ErrorResponse{err}: OK (0) before, the code at, -2 after the failing op
            Reply failed = r.callRaw(ZooDefs.OpCode.multi, new MultiBuilder()
                .op(ZooDefs.OpCode.create, new CreateRequest(b + "/y", EMPTY, Ids.OPEN_ACL_UNSAFE, 0))
                .op(ZooDefs.OpCode.delete, new org.apache.zookeeper.proto.DeleteRequest(b + "/missing", -1))
                .op(ZooDefs.OpCode.setData, new SetDataRequest(b + "/e", EMPTY, -1)).bytes());
            eq(0, failed.hdr.getErr(), "failed multi ReplyHeader.err");
            eq("ffffffff000000000000000000" + "ffffffff00ffffff9bffffff9b" + "ffffffff00fffffffefffffffe" + "ffffffff01ffffffff",
                hex(failed.body), "failed multi body");
            Client c = client();
            eq(set("e", "m2", "m3", "m4"), set(c.zk.getChildren(b, false)), "children");
        });

        check("raw_notifications_and_set_watches", () -> {
            String b = base("raw_notifications_and_set_watches");
            Raw w = Raw.session(10000);
            Raw r = Raw.session(10000);
            eq(0, r.call(ZooDefs.OpCode.create, new CreateRequest(b + "/e", EMPTY, Ids.OPEN_ACL_UNSAFE, 0)).hdr.getErr(), "create");
            eq(0, w.call(ZooDefs.OpCode.exists, new ExistsRequest(b + "/e", true)).hdr.getErr(), "exists watch");
            eq(0, r.call(ZooDefs.OpCode.setData, new SetDataRequest(b + "/e", b("1"), -1)).hdr.getErr(), "setData");
            Reply n = w.readReply();
            eq(-1, n.hdr.getXid(), "notification xid");
            eq(-1L, n.hdr.getZxid(), "notification zxid (3.8: always -1)");
            eq(0, n.hdr.getErr(), "notification err");
            WatcherEvent we = n.read(new WatcherEvent());
            eq(3, we.getType(), "NodeDataChanged");
            eq(3, we.getState(), "SyncConnected");
            eq(b + "/e", we.getPath(), "path");
            // setWatches (as sent on reconnect): events are produced immediately, before the reply (xid -8)
            Reply cr = r.call(ZooDefs.OpCode.create, new CreateRequest(b + "/sw", EMPTY, Ids.OPEN_ACL_UNSAFE, 0));
            long rel = cr.hdr.getZxid();           // everything up to /sw's creation is "seen"
            eq(0, r.call(ZooDefs.OpCode.setData, new SetDataRequest(b + "/e", b("2"), -1)).hdr.getErr(), "setData after rel");
            Raw s2 = Raw.session(10000);
            s2.sendRequest(-8, ZooDefs.OpCode.setWatches, new org.apache.zookeeper.proto.SetWatches(rel,
                Arrays.asList(b + "/e", b + "/sw", b + "/missing-d"),
                Arrays.asList(b + "/sw", b + "/missing-x"),
                Arrays.asList(b, b + "/missing-c", b + "/sw")));
            List<String> got = new ArrayList<>();
            while (true) {
                Reply x = s2.readReply();
                if (x.hdr.getXid() == -1) {
                    WatcherEvent e = x.read(new WatcherEvent());
                    got.add(e.getType() + " " + e.getPath());
                } else {
                    eq(-8, x.hdr.getXid(), "setWatches reply xid");
                    eq(0, x.hdr.getErr(), "setWatches err");
                    eq(16, x.frameLen, "setWatches reply has no body");
                    break;
                }
            }
            eq(Arrays.asList(
                "3 " + b + "/e",            // data watch, mzxid > rel -> NodeDataChanged
                "2 " + b + "/missing-d",    // data watch, node missing -> NodeDeleted
                "1 " + b + "/sw",           // exist watch, node exists -> NodeCreated
                "2 " + b + "/missing-c"),   // child watch, node missing -> NodeDeleted
                got, "setWatches immediate events (b/sw data: mzxid == rel, b: pzxid == rel -> registered)");
            // the registered ones fire later
            eq(0, r.call(ZooDefs.OpCode.setData, new SetDataRequest(b + "/sw", b("x"), -1)).hdr.getErr(), "setData sw");
            Reply later = s2.readReply();
            eq(-1, later.hdr.getXid(), "later notification");
            eq("3 " + b + "/sw", later.read(new WatcherEvent()).getType() + " " + b + "/sw", "data watch registered by setWatches");
            eq(0, r.call(ZooDefs.OpCode.create, new CreateRequest(b + "/missing-x", EMPTY, Ids.OPEN_ACL_UNSAFE, 0)).hdr.getErr(), "create missing-x");
            WatcherEvent e1 = s2.readReply().read(new WatcherEvent());
            WatcherEvent e2 = s2.readReply().read(new WatcherEvent());
            eq(set("1 " + b + "/missing-x", "4 " + b), set(e1.getType() + " " + e1.getPath(), e2.getType() + " " + e2.getPath()), "exist + child watches registered by setWatches");
        });

        check("raw_check_watches_and_misc_ops", () -> {
            String b = base("raw_check_watches_and_misc_ops");
            Raw r = Raw.session(10000);
            String e = b + "/e";
            eq(0, r.call(ZooDefs.OpCode.create, new CreateRequest(e, EMPTY, Ids.OPEN_ACL_UNSAFE, 0)).hdr.getErr(), "create");
            eq(Code.NOWATCHER.intValue(), r.call(ZooDefs.OpCode.checkWatches, new org.apache.zookeeper.proto.CheckWatchesRequest(e, 3)).hdr.getErr(), "checkWatches none");
            eq(Code.NOWATCHER.intValue(), r.call(ZooDefs.OpCode.removeWatches, new org.apache.zookeeper.proto.RemoveWatchesRequest(e, 3)).hdr.getErr(), "removeWatches none");
            eq(0, r.call(ZooDefs.OpCode.getData, new GetDataRequest(e, true)).hdr.getErr(), "getData watch");
            eq(0, r.call(ZooDefs.OpCode.checkWatches, new org.apache.zookeeper.proto.CheckWatchesRequest(e, 2)).hdr.getErr(), "checkWatches data");
            eq(Code.NOWATCHER.intValue(), r.call(ZooDefs.OpCode.checkWatches, new org.apache.zookeeper.proto.CheckWatchesRequest(e, 1)).hdr.getErr(), "checkWatches children");
            eq(0, r.call(ZooDefs.OpCode.checkWatches, new org.apache.zookeeper.proto.CheckWatchesRequest(e, 3)).hdr.getErr(), "checkWatches any");
            eq(Code.MARSHALLINGERROR.intValue(), r.call(ZooDefs.OpCode.checkWatches, new org.apache.zookeeper.proto.CheckWatchesRequest(e, 9)).hdr.getErr(), "checkWatches bad type");
            Reply rm = r.call(ZooDefs.OpCode.removeWatches, new org.apache.zookeeper.proto.RemoveWatchesRequest(e, 2));
            eq(0, rm.hdr.getErr(), "removeWatches data");
            eq(16, rm.frameLen, "removeWatches reply has no body");
            eq(Code.NOWATCHER.intValue(), r.call(ZooDefs.OpCode.checkWatches, new org.apache.zookeeper.proto.CheckWatchesRequest(e, 2)).hdr.getErr(), "after removal");
            eq(0, r.call(ZooDefs.OpCode.addWatch, new AddWatchRequest(b + "/pw", 0)).hdr.getErr(), "addWatch on a missing path");
            // sync / getAllChildrenNumber / getEphemerals / whoAmI bodies
            Reply sy = r.call(ZooDefs.OpCode.sync, new org.apache.zookeeper.proto.SyncRequest(b + "/anything"));
            eq(0, sy.hdr.getErr(), "sync");
            eq(b + "/anything", sy.read(new org.apache.zookeeper.proto.SyncResponse()).getPath(), "sync echoes the path");
            Reply ge = r.call(ZooDefs.OpCode.getEphemerals, new org.apache.zookeeper.proto.GetEphemeralsRequest("/"));
            eq(0, ge.read(new org.apache.zookeeper.proto.GetEphemeralsResponse()).getEphemerals().size(), "no ephemerals");
            Reply wa = r.callRaw(ZooDefs.OpCode.whoAmI, EMPTY);
            eq(0, wa.hdr.getErr(), "whoAmI");
            List<ClientInfo> ci = wa.read(new org.apache.zookeeper.proto.WhoAmIResponse()).getClientInfo();
            eq(set("ip:127.0.0.1"), infoList(ci), "whoAmI body");
            // a create reply for op 1 is CreateResponse; op 15 and 19 answer Create2Response
            Reply c1 = r.call(ZooDefs.OpCode.create, new CreateRequest(b + "/c1", EMPTY, Ids.OPEN_ACL_UNSAFE, 0));
            eq(4 + (b + "/c1").length(), c1.body.length, "create reply body = CreateResponse");
            Reply c2 = r.call(ZooDefs.OpCode.create2, new CreateRequest(b + "/c2", EMPTY, Ids.OPEN_ACL_UNSAFE, 4));
            eq(4 + (b + "/c2").length() + 68, c2.body.length, "create2 with container flag -> Create2Response");
            Reply c3 = r.call(ZooDefs.OpCode.createContainer, new CreateRequest(b + "/c3", EMPTY, Ids.OPEN_ACL_UNSAFE, 4));
            eq(4 + (b + "/c3").length() + 68, c3.body.length, "createContainer -> Create2Response");
            // TTL validation
            Object[][] ttl = {
                {5, 0L, Code.BADARGUMENTS}, {5, -1L, Code.BADARGUMENTS}, {5, 0x10000000000L, Code.BADARGUMENTS},
                {5, 0xFFFFFFFFFFL, Code.OK}, {6, 1L, Code.OK}, {0, 1000L, Code.BADARGUMENTS}, {4, 1000L, Code.BADARGUMENTS},
                {1, 1000L, Code.BADARGUMENTS},
            };
            List<String> wrong = new ArrayList<>();
            int i = 0;
            for (Object[] t : ttl) {
                String tp = b + "/t" + (i++);
                Reply tr = r.call(ZooDefs.OpCode.createTTL, new CreateTTLRequest(tp, EMPTY, Ids.OPEN_ACL_UNSAFE, (Integer) t[0], (Long) t[1]));
                if (tr.hdr.getErr() != ((Code) t[2]).intValue()) {
                    wrong.add("createTTL flags=" + t[0] + " ttl=" + t[1] + " -> " + tr.hdr.getErr());
                }
                if (tr.hdr.getErr() == 0) {
                    // creates under b so far: e, c1, c2, c3, t3 -> suffix 5
                    String want = (Integer) t[0] == 6 ? tp + "0000000005" : tp;
                    eq(want, tr.read(new Create2Response()).getPath(), "createTTL path");
                    eq(4 + want.length() + 68, tr.body.length, "createTTL -> Create2Response");
                }
            }
            Reply op1ttl = r.call(ZooDefs.OpCode.create, new CreateRequest(b + "/t-op1", EMPTY, Ids.OPEN_ACL_UNSAFE, 5));
            if (op1ttl.hdr.getErr() != Code.BADARGUMENTS.intValue()) {
                wrong.add("create(op 1) with TTL flag 5 -> " + op1ttl.hdr.getErr());
            }
            isTrue(wrong.isEmpty(), String.join("; ", wrong));
            // unknown opcode: UNIMPLEMENTED (ReplyHeader zxid -1), then the server closes the connection
            Reply un = r.callRaw(999, EMPTY);
            eq(Code.UNIMPLEMENTED.intValue(), un.hdr.getErr(), "unknown opcode");
            eq(-1L, un.hdr.getZxid(), "unknown opcode reply zxid");
            isTrue(r.closedWithin(5000), "connection closed after an unknown opcode");
        });

        // ------------------------------------------- differences a differential run found

        // CVE-2024-23944 (fixed in 3.8.4 and 3.9.2, and in Debian's 3.8.0-11+deb12u2): a
        // watcher is told of an event only when it holds READ on the node (on the parent for
        // NodeChildrenChanged); a one-shot watch whose event was filtered is used up all the same.
        check("watch_acl_filter_exists_created", () -> {
            String b = base("watch_acl_filter_exists_created");
            Client c = client();
            String p = b + "/c";
            isTrue(c.zk.exists(p, true) == null, "no node yet");
            List<ACL> noRead = Arrays.asList(new ACL(Perms.DELETE, Ids.ANYONE_ID_UNSAFE),
                new ACL(Perms.CREATE, new Id("ip", "127.0.0.0/8")));
            c.zk.create(p, EMPTY, noRead, CreateMode.PERSISTENT);
            c.ev.expectNone(1000);
            // the exists watch is gone: opening the node and deleting it tells nothing
            Client su = superClient();
            su.zk.setACL(p, Ids.OPEN_ACL_UNSAFE, -1);
            su.zk.delete(p, -1);
            c.ev.expectNone(1000);
            // the same watch on an open node is told
            isTrue(c.zk.exists(p, true) == null, "deleted");
            c.zk.create(p, EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            c.ev.expect(EventType.NodeCreated, p);
        });

        check("watch_acl_filter_data_children_deleted", () -> {
            String b = base("watch_acl_filter_data_children_deleted");
            Client c = client();
            Client su = superClient();
            List<ACL> noRead = Arrays.asList(new ACL(Perms.WRITE | Perms.CREATE | Perms.DELETE, Ids.ANYONE_ID_UNSAFE));
            String d = b + "/d";
            su.zk.create(d, EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            // In an ensemble c's server may not have applied su's writes yet.
            syncOn(c.zk, d);
            c.zk.getData(d, true, null);
            c.zk.getChildren(d, true);
            su.zk.setACL(d, noRead, -1);
            su.zk.setData(d, b("1"), -1);
            su.zk.create(d + "/k", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            c.ev.expectNone(1000);
            // both watches were used up
            su.zk.setACL(d, Ids.OPEN_ACL_UNSAFE, -1);
            su.zk.setData(d, b("2"), -1);
            su.zk.create(d + "/k2", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            c.ev.expectNone(1000);
            // NodeDeleted, to a data and a child watch, filtered by the deleted node's ACL
            String g = b + "/g";
            su.zk.create(g, EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            syncOn(c.zk, g);
            c.zk.exists(g, true);
            c.zk.getChildren(g, true);
            su.zk.setACL(g, noRead, -1);
            su.zk.delete(g, -1);
            c.ev.expectNone(1000);
            // a parent without READ hides NodeChildrenChanged, an open child still tells its own
            String h = b + "/h";
            su.zk.create(h, EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            su.zk.create(h + "/x", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            syncOn(c.zk, h);
            c.zk.getChildren(h, true);
            c.zk.exists(h + "/x", true);
            su.zk.setACL(h, noRead, -1);
            su.zk.delete(h + "/x", -1);
            c.ev.expect(EventType.NodeDeleted, h + "/x");
            c.ev.expectNone(1000);
            // control: an open node tells
            c.zk.getData(d, true, null);
            su.zk.setData(d, b("3"), -1);
            c.ev.expect(EventType.NodeDataChanged, d);
        });

        check("watch_acl_filter_persistent_recursive", () -> {
            String b = base("watch_acl_filter_persistent_recursive");
            Client c = client();
            Client other = client();
            other.zk.addAuthInfo("digest", b("other:secret"));
            List<ACL> others = Arrays.asList(new ACL(Perms.ALL, new Id("digest", digestId("other:secret"))));
            String r = b + "/r";
            other.zk.create(r, EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            syncOn(c.zk, r);
            c.zk.addWatch(r, AddWatchMode.PERSISTENT_RECURSIVE);
            other.zk.create(r + "/x", EMPTY, others, CreateMode.PERSISTENT);
            other.zk.setData(r + "/x", b("1"), -1);
            other.zk.create(r + "/x/y", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            other.zk.delete(r + "/x/y", -1);
            other.zk.delete(r + "/x", -1);
            other.zk.create(r + "/o", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            c.ev.expect(EventType.NodeCreated, r + "/x/y");
            c.ev.expect(EventType.NodeDeleted, r + "/x/y");
            c.ev.expect(EventType.NodeCreated, r + "/o");
            c.ev.expectNone(1000);
            // a persistent watch on the hidden node itself stays, and tells nothing while hidden
            other.zk.create(r + "/z", EMPTY, others, CreateMode.PERSISTENT);
            c.ev.expectNone(500);
            c.zk.addWatch(r + "/z", AddWatchMode.PERSISTENT);
            other.zk.setData(r + "/z", b("1"), -1);
            other.zk.setACL(r + "/z", Ids.OPEN_ACL_UNSAFE, -1);
            other.zk.setData(r + "/z", b("2"), -1);
            // one event: the recursive and the persistent watch tell a connection once
            c.ev.expect(EventType.NodeDataChanged, r + "/z");
            c.ev.expectNone(500);
        });

        check("watch_acl_filter_close_session", () -> {
            String b = base("watch_acl_filter_close_session");
            Client c = client();
            String q = b + "/q";
            c.zk.create(q, EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            c.zk.addWatch(q, AddWatchMode.PERSISTENT_RECURSIVE);
            Client other = client();
            other.zk.addAuthInfo("digest", b("other:secret"));
            List<ACL> others = Arrays.asList(new ACL(Perms.ALL, new Id("digest", digestId("other:secret"))));
            other.zk.create(q + "/secret", EMPTY, others, CreateMode.EPHEMERAL);
            other.zk.create(q + "/open", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
            c.ev.expect(EventType.NodeCreated, q + "/open");
            other.zk.close();
            // the ephemerals go with the session; only the readable one is told
            c.ev.expect(EventType.NodeDeleted, q + "/open");
            c.ev.expectNone(1000);
            eq(0, c.zk.getChildren(q, false).size(), "ephemerals deleted");
        });

        check("raw_get_all_children_number_empty_path", () -> {
            String b = base("raw_get_all_children_number_empty_path");
            Raw r = Raw.session(10000);
            eq(0, r.call(ZooDefs.OpCode.create, new CreateRequest(b + "/a", EMPTY, Ids.OPEN_ACL_UNSAFE, 0)).hdr.getErr(), "create");
            // ZooKeeper counts its node map's keys under path + "/": for "" that includes the
            // root's own "/" key, one more than for "/". Another check's TTL or container
            // node may be reaped meanwhile: compare readings taken between two equal ones.
            String got = null;
            for (int i = 0; i < 5 && got == null; i++) {
                int before = allChildren(r, "/");
                int empty = allChildren(r, "");
                int after = allChildren(r, "/");
                if (before == after) {
                    got = (empty - before) + "";
                }
            }
            eq("1", got, "getAllChildrenNumber(\"\") - getAllChildrenNumber(\"/\")");
            eq(1, allChildren(r, b), "below the base");
        });

        // A createTTL sub-op is rebuilt by Op.create(path, data, acl, flags, ttl): only a TTL
        // mode keeps it a createTTL; other modes make a create (createContainer for the
        // container mode) whose ttl is dropped. Create sub-ops get their type from their flags.
        check("raw_multi_create_ttl_modes", () -> {
            String b = base("raw_multi_create_ttl_modes");
            Raw r = Raw.session(10000);
            Reply ok = r.callRaw(ZooDefs.OpCode.multi, new MultiBuilder()
                .op(ZooDefs.OpCode.createTTL, new CreateTTLRequest(b + "/p", EMPTY, Ids.OPEN_ACL_UNSAFE, 0, 1000))
                .op(ZooDefs.OpCode.createTTL, new CreateTTLRequest(b + "/e", EMPTY, Ids.OPEN_ACL_UNSAFE, 1, 1000))
                .op(ZooDefs.OpCode.createTTL, new CreateTTLRequest(b + "/s", EMPTY, Ids.OPEN_ACL_UNSAFE, 2, 1000))
                .op(ZooDefs.OpCode.createTTL, new CreateTTLRequest(b + "/c", EMPTY, Ids.OPEN_ACL_UNSAFE, 4, 1000))
                .op(ZooDefs.OpCode.createTTL, new CreateTTLRequest(b + "/t", EMPTY, Ids.OPEN_ACL_UNSAFE, 5, 1000))
                .op(ZooDefs.OpCode.createTTL, new CreateTTLRequest(b + "/n", EMPTY, Ids.OPEN_ACL_UNSAFE, 0, -1))
                .op(ZooDefs.OpCode.createContainer, new CreateRequest(b + "/pc", EMPTY, Ids.OPEN_ACL_UNSAFE, 0))
                .op(ZooDefs.OpCode.create, new CreateRequest(b + "/cc", EMPTY, Ids.OPEN_ACL_UNSAFE, 4))
                .bytes());
            eq(0, ok.hdr.getErr(), "multi err");
            eq("1/0 1/0 1/0 15/0 15/0 1/0 1/0 15/0", multiResultTypes(ok), "result types/errs");
            Client c = client();
            eq(r.conn.getSessionId(), c.zk.exists(b + "/e", false).getEphemeralOwner(), "createTTL mode 1: ephemeral");
            isTrue(c.zk.exists(b + "/s0000000002", false) != null, "createTTL mode 2: sequential");
            // Stats show 0 as the owner of containers and TTL nodes: tell them by the reaper,
            // which removes a container once its last child goes and a TTL node after its ttl.
            for (String n : new String[] {"p", "c", "pc", "cc"}) {
                c.zk.create(b + "/" + n + "/k", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
                c.zk.delete(b + "/" + n + "/k", -1);
            }
            isTrue(waitGone(c.zk, b + "/c", 10000) >= 0, "createTTL mode 4: a container, reaped");
            isTrue(waitGone(c.zk, b + "/cc", 10000) >= 0, "create with flags 4: a container, reaped");
            isTrue(waitGone(c.zk, b + "/t", 10000) >= 0, "createTTL mode 5: a TTL node, reaped");
            Thread.sleep(1500);
            for (String n : new String[] {"p", "n", "pc"}) {
                isTrue(c.zk.exists(b + "/" + n, false) != null, "/" + n + " is persistent: not reaped");
            }
            // failing as the create it became: an existing path, an unknown mode
            Reply exists = r.callRaw(ZooDefs.OpCode.multi, new MultiBuilder()
                .op(ZooDefs.OpCode.createTTL, new CreateTTLRequest(b + "/p", EMPTY, Ids.OPEN_ACL_UNSAFE, 0, 1000)).bytes());
            eq("-1/-110", multiResultTypes(exists), "existing path");
            Reply badMode = r.callRaw(ZooDefs.OpCode.multi, new MultiBuilder()
                .op(ZooDefs.OpCode.createTTL, new CreateTTLRequest(b + "/bad", EMPTY, Ids.OPEN_ACL_UNSAFE, 9, 1000)).bytes());
            eq("-1/-8", multiResultTypes(badMode), "unknown mode");
            Reply badTtl = r.callRaw(ZooDefs.OpCode.multi, new MultiBuilder()
                .op(ZooDefs.OpCode.createTTL, new CreateTTLRequest(b + "/bt", EMPTY, Ids.OPEN_ACL_UNSAFE, 5, 0)).bytes());
            eq("-1/-8", multiResultTypes(badTtl), "TTL mode with ttl 0");
        });

        // ZooKeeper 3.8's containsWatcher walks the path with a PathParentIterator that throws
        // on a non-empty path without '/'; FinalRequestProcessor answers MARSHALLINGERROR.
        check("raw_check_watches_path_without_slash", () -> {
            Raw r = Raw.session(10000);
            for (int type = 1; type <= 3; type++) {
                eq(Code.MARSHALLINGERROR.intValue(),
                    r.call(ZooDefs.OpCode.checkWatches, new org.apache.zookeeper.proto.CheckWatchesRequest("abc", type)).hdr.getErr(),
                    "checkWatches(\"abc\", " + type + ")");
            }
            eq(Code.NOWATCHER.intValue(),
                r.call(ZooDefs.OpCode.checkWatches, new org.apache.zookeeper.proto.CheckWatchesRequest("", 3)).hdr.getErr(),
                "checkWatches(\"\")");
            eq(Code.NOWATCHER.intValue(),
                r.call(ZooDefs.OpCode.removeWatches, new org.apache.zookeeper.proto.RemoveWatchesRequest("abc", 3)).hdr.getErr(),
                "removeWatches(\"abc\")");
            eq(0, r.call(ZooDefs.OpCode.exists, new ExistsRequest("/", false)).hdr.getErr(), "connection still serves");
        });

        check("four_letter_words", () -> {
            eq("imok", rawFourLetter("ruok"), "ruok");
            eq("rw", rawFourLetter("isro"), "isro");
            String srvr = rawFourLetter("srvr");
            isTrue(srvr.startsWith("Zookeeper version: "), "srvr starts with 'Zookeeper version: ' but was: " + srvr);
            if (ENSEMBLE) {
                isTrue(srvr.contains("\nMode: leader\n") || srvr.contains("\nMode: follower\n"),
                    "srvr has Mode: leader or follower in an ensemble");
            } else {
                isTrue(srvr.contains("\nMode: standalone\n"), "srvr has Mode: standalone");
            }
            isTrue(srvr.contains("\nZxid: 0x"), "srvr has Zxid: 0x...");
            isTrue(srvr.contains("\nNode count: "), "srvr has Node count");
        });

        // ---------------------------------------------------------- stat rules

        check("stat_parent_rules", () -> {
            String b = base("stat_parent_rules");
            Client c = client();
            ZooKeeper zk = c.zk;
            String p = b + "/p";
            Stat p0 = new Stat();
            zk.create(p, b("x"), Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT, p0);
            Stat c1 = new Stat();
            zk.create(p + "/c1", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT, c1);
            Stat p1 = zk.exists(p, false);
            eq(1, p1.getCversion(), "cversion after create");
            eq(1, p1.getNumChildren(), "numChildren after create");
            eq(c1.getCzxid(), p1.getPzxid(), "pzxid = child czxid");
            eq(p0.getMzxid(), p1.getMzxid(), "parent mzxid unchanged by child create");
            eq(p0.getVersion(), p1.getVersion(), "parent version unchanged");
            zk.setData(p + "/c1", b("y"), -1);
            eq(p1, zk.exists(p, false), "child setData does not touch the parent");
            Stat c2 = new Stat();
            zk.create(p + "/c2", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL, c2);
            zk.delete(p + "/c1", -1);
            Stat p2 = zk.exists(p, false);
            eq(3, p2.getCversion(), "cversion after 2 creates + 1 delete");
            eq(1, p2.getNumChildren(), "numChildren");
            isTrue(p2.getPzxid() > c2.getCzxid(), "pzxid moved to the delete zxid");
            Stat s = zk.setData(p, b("z"), -1);
            eq(s.getMzxid() - 1, p2.getPzxid(), "delete zxid immediately precedes the next setData");
            // grandchild changes don't touch the grandparent
            Stat before = zk.exists(b, false);
            zk.create(p + "/c3", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            zk.create(p + "/c3/g", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            eq(before, zk.exists(b, false), "grandparent unchanged");
            // ephemeral delete via session close updates parent like delete
            Client o = client();
            o.zk.create(p + "/eph", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
            // another session's writes: sync first (in an ensemble zk may be on another server)
            syncOn(zk, p);
            Stat p3 = zk.exists(p, false);
            o.zk.close();
            syncOn(zk, p);
            Stat p4 = zk.exists(p, false);
            eq(p3.getCversion() + 1, p4.getCversion(), "cversion after session-close delete");
            eq(p3.getNumChildren() - 1, p4.getNumChildren(), "numChildren after session close");
            isTrue(p4.getPzxid() > p3.getPzxid(), "pzxid after session close");
            // data length / numChildren on getData stat
            Stat gs = new Stat();
            zk.getData(p, false, gs);
            eq(1, gs.getDataLength(), "dataLength");
            eq(p4.getNumChildren(), gs.getNumChildren(), "numChildren via getData");
        });

        // ---------------------------------------------------------- reconfig

        check("reconfig_standalone", () -> {
            Events ev = new Events();
            ZooKeeperAdmin admin = new ZooKeeperAdmin(CONNECT, TIMEOUT, ev);
            opened.add(() -> {
                try {
                    admin.close();
                } catch (InterruptedException ignored) {
                    // ignore
                }
            });
            ev.awaitState(KeeperState.SyncConnected, 15000);
            expectCode(Code.RECONFIGDISABLED, "reconfig in standalone (reconfigEnabled=false)",
                () -> admin.reconfigure("server.2=127.0.0.1:2888:3888:participant;2181", null, null, -1, new Stat()));
            expectCode(Code.RECONFIGDISABLED, "reconfig leaving",
                () -> admin.reconfigure(null, "1", null, -1, new Stat()));
            Client su = superClient();
            ZooKeeperAdmin sadmin = new ZooKeeperAdmin(CONNECT, TIMEOUT, e -> { });
            opened.add(() -> {
                try {
                    sadmin.close();
                } catch (InterruptedException ignored) {
                    // ignore
                }
            });
            sadmin.addAuthInfo("digest", b(SUPER_AUTH));
            expectCode(Code.RECONFIGDISABLED, "super reconfig",
                () -> sadmin.reconfigure(null, null, "server.1=127.0.0.1:2888:3888:participant;2181", -1, new Stat()));
            su.close();
        });

        // ---------------------------------------------------------- sessions

        check("session_timeout_negotiation", () -> {
            // (the Java client derives its connect timeout from the session timeout, so
            // a 1ms request is only possible through the raw client)
            Raw r1 = new Raw();
            r1.handshake(1, 0L, new byte[16], true);
            eq(4000, r1.conn.getTimeOut(), "raw 1ms -> min 2*tickTime");
            Client a = client(1000);
            eq(4000, a.zk.getSessionTimeout(), "1s -> min 2*tickTime");
            Client b2 = client(600000);
            eq(40000, b2.zk.getSessionTimeout(), "10min -> max 20*tickTime");
            Client m = client(12345);
            eq(12345, m.zk.getSessionTimeout(), "in-range value kept");
            Raw r = new Raw();
            r.handshake(0, 0L, new byte[16], true);
            eq(4000, r.conn.getTimeOut(), "raw timeout 0 -> 4000");
            Raw r2 = new Raw();
            r2.handshake(-5, 0L, new byte[16], true);
            eq(4000, r2.conn.getTimeOut(), "raw negative timeout -> 4000");
        });

        check("raw_connect_handshake", () -> {
            Raw r = new Raw();
            ConnectResponse cr = r.handshake(30000, 0L, new byte[16], true);
            eq(0, cr.getProtocolVersion(), "protocolVersion");
            eq(30000, cr.getTimeOut(), "timeOut");
            isTrue(cr.getSessionId() != 0, "session id assigned");
            eq(16, cr.getPasswd().length, "password length");
            eq(1, r.connectExtraBytes, "readOnly byte present when the client sent one");
            eq(37, r.connectFrameLen, "ConnectResponse frame length with readOnly");
            // old client: no readOnly byte in the request -> none in the response
            Raw old = new Raw();
            ConnectResponse cr2 = old.handshake(30000, 0L, new byte[16], false);
            isTrue(cr2.getSessionId() != 0, "old client session");
            eq(0, old.connectExtraBytes, "no readOnly byte for old clients");
            eq(36, old.connectFrameLen, "ConnectResponse frame length without readOnly");
            isTrue(cr2.getSessionId() != cr.getSessionId(), "distinct session ids");
            // ping
            old.sendRaw(-2, ZooDefs.OpCode.ping, EMPTY);
            Reply p = old.readReply();
            eq(-2, p.hdr.getXid(), "ping xid");
            eq(0, p.hdr.getErr(), "ping err");
            eq(16, p.frameLen, "ping reply is a bare header");
            // addWatch reply carries a 4-byte ErrorResponse body
            Reply aw = old.call(ZooDefs.OpCode.addWatch, new AddWatchRequest("/compat-nonexistent", 0));
            eq(0, aw.hdr.getErr(), "addWatch err");
            eq(20, aw.frameLen, "addWatch reply = header + 4-byte ErrorResponse");
            // delete reply has no body
            Reply missing = old.call(ZooDefs.OpCode.getData, new GetDataRequest("/compat-nonexistent", false));
            eq(Code.NONODE.intValue(), missing.hdr.getErr(), "getData missing");
            eq(16, missing.frameLen, "error reply has no body");
            // the same session password is accepted on a reconnect
            long sid = cr.getSessionId();
            byte[] pw = cr.getPasswd();
            Raw again = new Raw();
            ConnectResponse cr3 = again.handshake(30000, sid, pw, true);
            eq(sid, cr3.getSessionId(), "reconnect keeps session id");
            isTrue(Arrays.equals(pw, cr3.getPasswd()), "reconnect returns the same password");
            isTrue(r.closedWithin(5000), "old connection of a moved session is closed by the server");
            // closeSession: reply, then the server closes the socket
            Reply close = again.call(ZooDefs.OpCode.closeSession, null);
            eq(0, close.hdr.getErr(), "closeSession err");
            isTrue(again.closedWithin(5000), "server closes after closeSession");
            // the closed session cannot be resumed
            Raw dead = new Raw();
            ConnectResponse cr4 = dead.handshake(30000, sid, pw, true);
            eq(0L, cr4.getSessionId(), "closed session: sessionId 0");
            eq(0, cr4.getTimeOut(), "closed session: timeout 0");
            isTrue(dead.closedWithin(5000), "server closes after refusing the session");
        });

        check("session_reconnect_same_id", () -> {
            String b = base("session_reconnect_same_id");
            Raw r = Raw.session(10000);
            long sid = r.conn.getSessionId();
            Reply cr = r.call(ZooDefs.OpCode.create, new CreateRequest(b + "/e", b("mine"), Ids.OPEN_ACL_UNSAFE, 1));
            eq(0, cr.hdr.getErr(), "raw ephemeral create");
            Events ev = new Events();
            // The raw connection's server (in an ensemble a session moving to another
            // server is not closed there at once: the old server learns it lazily).
            ZooKeeper zk = new ZooKeeper(HOST + ":" + PORT, 10000, ev, sid, r.conn.getPasswd());
            opened.add(() -> {
                try {
                    zk.close(2000);
                } catch (InterruptedException ignored) {
                    // ignore
                }
            });
            ev.awaitState(KeeperState.SyncConnected, 15000);
            eq(sid, zk.getSessionId(), "resumed session id");
            isTrue(r.closedWithin(5000), "previous connection closed by the server");
            Stat st = zk.exists(b + "/e", false);
            isTrue(st != null, "ephemeral survives the move");
            eq(sid, st.getEphemeralOwner(), "owner");
            eq(Arrays.asList(b + "/e"), zk.getEphemerals(b), "getEphemerals on the resumed session");
            zk.close();
            Client o = client();
            syncOn(o.zk, b);
            isTrue(o.zk.exists(b + "/e", false) == null, "ephemeral gone after close");
        });

        check("session_wrong_password", () -> {
            Raw r = Raw.session(10000);
            byte[] bad = r.conn.getPasswd().clone();
            bad[0] ^= 0x55;
            Events ev = new Events();
            // The raw connection's server: another server of an ensemble does not drop it.
            ZooKeeper zk = new ZooKeeper(HOST + ":" + PORT, 10000, ev, r.conn.getSessionId(), bad);
            opened.add(() -> {
                try {
                    zk.close(1000);
                } catch (InterruptedException ignored) {
                    // ignore
                }
            });
            ev.awaitState(KeeperState.Expired, 15000);
            // surprising but true: the server drops the existing connection of the session
            // *before* it checks the password; the session itself stays valid
            isTrue(r.closedWithin(5000), "existing connection closed by a reconnect attempt with a wrong password");
            Raw good = new Raw();
            ConnectResponse ok = good.handshake(10000, r.conn.getSessionId(), r.conn.getPasswd(), true);
            eq(r.conn.getSessionId(), ok.getSessionId(), "session still valid with the right password");
            // raw: wrong password -> timeOut 0 / sessionId 0 / 16 zero bytes, then close
            Raw bad2 = new Raw();
            ConnectResponse resp = bad2.handshake(10000, r.conn.getSessionId(), bad, true);
            eq(0L, resp.getSessionId(), "sessionId");
            eq(0, resp.getTimeOut(), "timeOut");
            isTrue(Arrays.equals(new byte[16], resp.getPasswd()), "zero password");
            isTrue(bad2.closedWithin(5000), "connection closed");
            isTrue(good.closedWithin(5000), "and again the valid connection was dropped");
            // unknown session id
            Raw unknown = new Raw();
            ConnectResponse ur = unknown.handshake(10000, 0x7777777777L, new byte[16], true);
            eq(0L, ur.getSessionId(), "unknown session refused");
        });

        check("ephemeral_deleted_on_close", () -> {
            String b = base("ephemeral_deleted_on_close");
            Client owner = client();
            Client watcher = client();
            String e = b + "/e";
            owner.zk.create(e, EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
            String es = owner.zk.create(b + "/es-", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL_SEQUENTIAL);
            owner.zk.create(b + "/p", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            Events w = new Events();
            isTrue(watcher.zk.exists(e, w) != null, "exists");
            Events wc = new Events();
            watcher.zk.getChildren(b, wc);
            owner.zk.close();
            w.expect(EventType.NodeDeleted, e);
            wc.expect(EventType.NodeChildrenChanged, b);
            wc.expectNone(300);
            isTrue(watcher.zk.exists(e, false) == null, "ephemeral gone");
            isTrue(watcher.zk.exists(es, false) == null, "ephemeral sequential gone");
            isTrue(watcher.zk.exists(b + "/p", false) != null, "persistent stays");
        });

        check("session_expiry", () -> {
            String b = base("session_expiry");
            Raw r = Raw.session(4000);
            eq(4000, r.conn.getTimeOut(), "negotiated");
            Reply cr = r.call(ZooDefs.OpCode.create, new CreateRequest(b + "/e", EMPTY, Ids.OPEN_ACL_UNSAFE, 1));
            eq(0, cr.hdr.getErr(), "ephemeral create");
            long created = System.currentTimeMillis();
            Client o = client();
            Events w = new Events();
            isTrue(o.zk.exists(b + "/e", w) != null, "exists");
            // stop pinging: the session must expire (4s timeout, 2s ticks -> within ~6s)
            WatchedEvent ev = w.node.poll(20000, TimeUnit.MILLISECONDS);
            isTrue(ev != null, "NodeDeleted after session expiry within 20s");
            eq(EventType.NodeDeleted, ev.getType(), "event type");
            long elapsed = System.currentTimeMillis() - created;
            isTrue(elapsed >= 3000, "session expired too early: " + elapsed + "ms");
            isTrue(r.closedWithin(5000), "server closes the expired session's connection");
            Raw again = new Raw();
            ConnectResponse resp = again.handshake(4000, r.conn.getSessionId(), r.conn.getPasswd(), true);
            eq(0L, resp.getSessionId(), "expired session cannot be resumed");
            eq(0, resp.getTimeOut(), "expired timeout 0");
        });

        // ---------------------------------------------------------- containers / TTL

        check("container_reaping", () -> {
            String b = base("container_reaping");
            Client c = client();
            ZooKeeper zk = c.zk;
            String cont = b + "/c";
            String never = b + "/never-used";
            String busy = b + "/busy";
            zk.create(cont, EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.CONTAINER);
            zk.create(never, EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.CONTAINER);
            zk.create(busy, EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.CONTAINER);
            zk.create(cont + "/x", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            zk.create(busy + "/x", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            zk.create(busy + "/y", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            Events w = new Events();
            zk.exists(cont, w);
            zk.delete(cont + "/x", -1);
            zk.delete(busy + "/x", -1);
            long t = waitGone(zk, cont, 15000);
            isTrue(t >= 0, "emptied container deleted within 15s");
            w.expect(EventType.NodeDeleted, cont);
            Thread.sleep(1500);
            isTrue(zk.exists(never, false) != null, "never-used container is kept");
            isTrue(zk.exists(busy, false) != null, "container with a child is kept");
            // container whose child was an ephemeral removed by session close
            zk.create(b + "/c2", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.CONTAINER);
            Client o = client();
            o.zk.create(b + "/c2/e", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
            o.zk.close();
            isTrue(waitGone(zk, b + "/c2", 15000) >= 0, "container emptied by session close is deleted");
        });

        check("ttl_reaping", () -> {
            String b = base("ttl_reaping");
            Client c = client();
            ZooKeeper zk = c.zk;
            String t = b + "/t";
            String keep = b + "/keep";
            String withChild = b + "/with-child";
            zk.create(t, EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL, null, 500);
            String ts = zk.create(b + "/ts-", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, null, 500);
            zk.create(keep, EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL, null, 3600000);
            zk.create(withChild, EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL, null, 500);
            zk.create(withChild + "/c", EMPTY, Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            Events w = new Events();
            zk.exists(t, w);
            isTrue(waitGone(zk, t, 15000) >= 0, "TTL node deleted within 15s");
            w.expect(EventType.NodeDeleted, t);
            isTrue(waitGone(zk, ts, 10000) >= 0, "sequential TTL node deleted");
            isTrue(zk.exists(keep, false) != null, "long TTL node kept");
            isTrue(zk.exists(withChild, false) != null, "TTL node with children kept");
            zk.delete(withChild + "/c", -1);
            isTrue(waitGone(zk, withChild, 15000) >= 0, "TTL node deleted after its child is gone");
        });
    }

    // ------------------------------------------------------------------ small helpers

    static int allChildren(Raw r, String path) throws IOException {
        Reply x = r.call(ZooDefs.OpCode.getAllChildrenNumber, new org.apache.zookeeper.proto.GetAllChildrenNumberRequest(path));
        eq(0, x.hdr.getErr(), "getAllChildrenNumber(" + path + ")");
        return x.read(new org.apache.zookeeper.proto.GetAllChildrenNumberResponse()).getTotalNumber();
    }

    /** "type/err ..." of a multi reply's results. */
    static String multiResultTypes(Reply reply) throws IOException {
        eq(0, reply.hdr.getErr(), "multi ReplyHeader.err");
        StringBuilder types = new StringBuilder();
        BinaryInputArchive ia = BinaryInputArchive.getArchive(new ByteArrayInputStream(reply.body));
        while (true) {
            MultiHeader h = new MultiHeader();
            h.deserialize(ia, "h");
            if (h.getDone()) {
                break;
            }
            types.append(h.getType()).append('/').append(h.getErr()).append(' ');
            switch (h.getType()) {
                case 1: new CreateResponse().deserialize(ia, "r"); break;
                case 15: new Create2Response().deserialize(ia, "r"); break;
                case 5: new org.apache.zookeeper.proto.SetDataResponse().deserialize(ia, "r"); break;
                case -1: new org.apache.zookeeper.proto.ErrorResponse().deserialize(ia, "r"); break;
                case 2: case 13: break;
                default: fail("unexpected result type " + h.getType());
            }
        }
        return types.toString().trim();
    }

    static class MultiBuilder {
        final ByteArrayOutputStream bos = new ByteArrayOutputStream();
        final BinaryOutputArchive oa = BinaryOutputArchive.getArchive(bos);

        MultiBuilder op(int type, Record r) throws IOException {
            new MultiHeader(type, false, -1).serialize(oa, "h");
            r.serialize(oa, "r");
            return this;
        }

        byte[] bytes() throws IOException {
            new MultiHeader(-1, true, -1).serialize(oa, "h");
            return bos.toByteArray();
        }
    }

    static String hex(byte[] bs) {
        StringBuilder sb = new StringBuilder();
        for (byte x : bs) {
            sb.append(String.format("%02x", x));
        }
        return sb.toString();
    }

    static <T> Set<T> intersect(Set<T> a, Set<T> bset) {
        Set<T> r = new TreeSet<>(a);
        r.retainAll(bset);
        return r;
    }

    static List<Integer> errCodes(List<OpResult> rs) {
        List<Integer> out = new ArrayList<>();
        for (OpResult r : rs) {
            if (r instanceof OpResult.ErrorResult) {
                out.add(((OpResult.ErrorResult) r).getErr());
            } else {
                out.add(999); // marker: not an ErrorResult
            }
        }
        return out;
    }

    static Set<String> aclIds(List<ACL> acl) {
        Set<String> out = new TreeSet<>();
        for (ACL a : acl) {
            out.add(a.getId().getScheme() + ":" + a.getId().getId());
        }
        return out;
    }

    static Set<String> infoList(List<ClientInfo> ci) {
        Set<String> out = new TreeSet<>();
        for (ClientInfo c : ci) {
            out.add(c.getAuthScheme() + ":" + c.getUser());
        }
        return out;
    }

    static byte[] rawExists(String path, boolean watch) throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        new ExistsRequest(path, watch).serialize(BinaryOutputArchive.getArchive(bos), "r");
        return bos.toByteArray();
    }

    static String printable(String p) {
        StringBuilder sb = new StringBuilder();
        for (char ch : p.toCharArray()) {
            if (ch < 0x20) {
                sb.append(String.format("\\u%04x", (int) ch));
            } else {
                sb.append(ch);
            }
        }
        return sb.toString();
    }

    // ------------------------------------------------------------------ main

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: CompatSuite HOST:PORT[,HOST:PORT...] [check-name-filter...]");
            System.exit(2);
        }
        CONNECT = args[0];
        // A connect string may list several servers (an ensemble: h1:p1,h2:p2,h3:p3):
        // the Java client gets all of them; the raw wire client and the four-letter
        // words talk to the first one.
        String first = CONNECT.split(",")[0];
        ENSEMBLE = CONNECT.contains(",");
        CLIENT_CONNECT = first;
        int colon = first.lastIndexOf(':');
        HOST = first.substring(0, colon);
        PORT = Integer.parseInt(first.substring(colon + 1));
        List<String> filters = Arrays.asList(args).subList(1, args.length);

        ExecutorService exec = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "check");
            t.setDaemon(true);
            return t;
        });
        long suiteStart = System.currentTimeMillis();
        for (Map.Entry<String, ThrowingRunnable> e : CHECKS.entrySet()) {
            String name = e.getKey();
            if (!filters.isEmpty() && filters.stream().noneMatch(name::contains)) {
                continue;
            }
            long start = System.currentTimeMillis();
            Future<?> f = exec.submit(() -> {
                e.getValue().run();
                return null;
            });
            String failure = null;
            try {
                f.get(CHECK_TIMEOUT_MS, TimeUnit.MILLISECONDS);
            } catch (TimeoutException te) {
                f.cancel(true);
                failure = "timed out after " + CHECK_TIMEOUT_MS + "ms";
            } catch (java.util.concurrent.ExecutionException ee) {
                Throwable cause = ee.getCause();
                if (cause instanceof CheckFailed) {
                    failure = cause.getMessage();
                } else {
                    StackTraceElement where = null;
                    for (StackTraceElement el : cause.getStackTrace()) {
                        if (el.getClassName().startsWith("CompatSuite")) {
                            where = el;
                            break;
                        }
                    }
                    failure = cause.getClass().getName() + ": " + cause.getMessage()
                        + (where != null ? " (at line " + where.getLineNumber() + ")" : "");
                }
            }
            for (Closeable c : opened) {
                try {
                    c.close();
                } catch (Exception ignored) {
                    // ignore
                }
            }
            opened.clear();
            long took = System.currentTimeMillis() - start;
            if (failure == null) {
                passed++;
                System.out.println("PASS " + name + " (" + took + "ms)");
            } else {
                failed++;
                System.out.println("FAIL " + name + ": " + failure.replace('\n', ' ') + " (" + took + "ms)");
            }
            System.out.flush();
        }
        for (String i : infos) {
            System.out.println("INFO " + i);
        }
        System.out.println("# total time " + (System.currentTimeMillis() - suiteStart) + "ms");
        System.out.println(passed + " passed, " + failed + " failed");
        System.out.flush();
        System.exit(failed == 0 ? 0 : 1);
    }
}
