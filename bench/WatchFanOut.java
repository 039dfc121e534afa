// Watch fan-out through the official Java client (org.apache.zookeeper 3.8): WATCHERS sessions
// in this one JVM watch one znode; each round arms a data watch in every session, sets the
// znode's data from one more session, and times from just before the setData until the last
// session's watcher ran (the moment an application would see the event).
//
// Usage: java -cp <classes>:<zookeeper jars> WatchFanOut HOST:PORT LABEL WATCHERS ROUNDS SECONDS WARMUP [SERVER_PID]
//
// Measures at least ROUNDS rounds and at least SECONDS seconds, after WARMUP unmeasured rounds.
// Prints one JSON line in the shape of `ferrokeeper bench --json`: workload "watch-java", ops =
// rounds measured, errors (sessions that did not connect, watches not armed, notifications that
// did not arrive, failed setData), latencies of the rounds, the rounds themselves ("rounds_us",
// in order), where each round's time went ("split_us": setData's reply, first and last
// notification) and, with SERVER_PID, the server's CPU per round from /proc. Exits non-zero on
// any error. Compiled by bench/compare.sh with javac at run time; nothing here is built by cargo.

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.zookeeper.AsyncCallback;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.Watcher.Event.EventType;
import org.apache.zookeeper.Watcher.Event.KeeperState;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;

public class WatchFanOut {
    /** Longest wait for sessions to connect, watches to arm or notifications to arrive. */
    static final long WAIT_S = 60;
    /** Short, so the sessions this run leaves open expire soon after it. */
    static final int SESSION_TIMEOUT_MS = 6000;
    static final String ROOT = "/fkbench";
    static final String PATH = ROOT + "/watch-java";

    static int errors = 0;
    static String firstError = null;

    static void fail(String e) {
        errors++;
        if (firstError == null) {
            firstError = e;
        }
        System.err.println("watch-java: " + e);
    }

    /** A session that counts down `connected` on its first SyncConnected. */
    static ZooKeeper session(String connect, CountDownLatch connected) throws Exception {
        AtomicInteger seen = new AtomicInteger();
        return new ZooKeeper(connect, SESSION_TIMEOUT_MS, e -> {
            if (e.getType() == EventType.None && e.getState() == KeeperState.SyncConnected
                    && seen.getAndIncrement() == 0) {
                connected.countDown();
            }
        });
    }

    /** The server's user + system CPU so far in seconds (clock ticks of 10 ms), or -1. */
    static double serverCpu(long pid) {
        if (pid <= 0) {
            return -1;
        }
        try {
            String stat = new String(Files.readAllBytes(Paths.get("/proc/" + pid + "/stat")));
            // Fields after the command name, which is in parentheses and may hold spaces.
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / 100.0;
        } catch (Exception e) {
            return -1;
        }
    }

    static double clientCpu() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime() / 1e9;
    }

    /** One round; its time from setData to the last notification in ns, or -1 on error. */
    static long round(ZooKeeper setter, List<ZooKeeper> watchers, long[] split) throws InterruptedException {
        int n = watchers.size();
        CountDownLatch armed = new CountDownLatch(n);
        CountDownLatch notified = new CountDownLatch(n);
        AtomicInteger armErrors = new AtomicInteger();
        AtomicLong first = new AtomicLong(Long.MAX_VALUE);
        AtomicLong last = new AtomicLong(Long.MIN_VALUE);
        Watcher w = e -> {
            if (e.getType() == EventType.NodeDataChanged) {
                long t = System.nanoTime();
                first.accumulateAndGet(t, Math::min);
                last.accumulateAndGet(t, Math::max);
                notified.countDown();
            }
        };
        AsyncCallback.DataCallback cb = (rc, path, ctx, data, stat) -> {
            if (rc != KeeperException.Code.OK.intValue()) {
                armErrors.incrementAndGet();
            }
            armed.countDown();
        };
        // Async, so the 1000 getData are in flight at once as they are from the Rust bench.
        for (ZooKeeper z : watchers) {
            z.getData(PATH, w, cb, null);
        }
        if (!armed.await(WAIT_S, TimeUnit.SECONDS) || armErrors.get() > 0) {
            fail("armed " + (n - armed.getCount() - armErrors.get()) + " of " + n + " watches");
            return -1;
        }
        long t0 = System.nanoTime();
        try {
            setter.setData(PATH, "fan-out".getBytes(), -1);
        } catch (KeeperException e) {
            fail("setData: " + e);
            return -1;
        }
        long replied = System.nanoTime();
        if (!notified.await(WAIT_S, TimeUnit.SECONDS)) {
            fail((n - notified.getCount()) + " of " + n + " notifications arrived");
            return -1;
        }
        split[0] = (replied - t0) / 1000;
        split[1] = (first.get() - t0) / 1000;
        split[2] = (last.get() - t0) / 1000;
        return last.get() - t0;
    }

    static long quantile(long[] sorted, double q) {
        if (sorted.length == 0) {
            return 0;
        }
        // Nearest rank, as HdrHistogram reports it.
        int i = (int) Math.ceil(q * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 6) {
            System.err.println("usage: WatchFanOut HOST:PORT LABEL WATCHERS ROUNDS SECONDS WARMUP [SERVER_PID]");
            System.exit(2);
        }
        String connect = args[0], label = args[1];
        int n = Integer.parseInt(args[2]), rounds = Integer.parseInt(args[3]), warm = Integer.parseInt(args[5]);
        long minNanos = (long) (Double.parseDouble(args[4]) * 1e9);
        long pid = args.length > 6 ? Long.parseLong(args[6]) : 0;

        CountDownLatch setterUp = new CountDownLatch(1);
        ZooKeeper setter = session(connect, setterUp);
        List<ZooKeeper> watchers = new ArrayList<>();
        List<Long> measured = new ArrayList<>();
        List<long[]> splits = new ArrayList<>();
        double cpuClient = 0, cpuServer = 0, window = 0;
        try {
            if (!setterUp.await(WAIT_S, TimeUnit.SECONDS)) {
                throw new IllegalStateException("the setter's session did not connect");
            }
            for (String p : new String[] {ROOT, PATH}) {
                try {
                    setter.create(p, new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
                } catch (KeeperException.NodeExistsException e) {
                    // Left by an earlier run.
                }
            }
            CountDownLatch up = new CountDownLatch(n);
            for (int i = 0; i < n; i++) {
                watchers.add(session(connect, up));
            }
            if (!up.await(WAIT_S, TimeUnit.SECONDS)) {
                throw new IllegalStateException((n - up.getCount()) + " of " + n + " sessions connected");
            }
            double c0 = 0, s0 = 0;
            long w0 = System.nanoTime();
            for (int r = 0; r < warm || measured.size() < rounds || System.nanoTime() - w0 < minNanos; r++) {
                if (r == warm) {
                    c0 = clientCpu();
                    s0 = serverCpu(pid);
                    w0 = System.nanoTime();
                }
                long[] split = new long[3];
                long d = round(setter, watchers, split);
                if (d < 0) {
                    // The failure is counted; whatever it left (a late notification) must not
                    // land in another round.
                    break;
                }
                if (r >= warm) {
                    measured.add(d / 1000);
                    splits.add(split);
                }
            }
            window = (System.nanoTime() - w0) / 1e9;
            cpuClient = clientCpu() - c0;
            cpuServer = s0 < 0 ? -1 : serverCpu(pid) - s0;
        } catch (Exception e) {
            fail(e.toString());
        }
        // The sessions are left to expire (6 s) instead of closed: ZooKeeper.close() sleeps
        // 100 ms under a lock that every session of the JVM shares (the ZooKeeper.States enum
        // constant, in ClientCnxnSocketNIO.cleanup), so 1000 closes take 60-85 s. compare.sh
        // waits for the expiry before it measures anything else.

        long[] us = measured.stream().mapToLong(Long::longValue).toArray();
        long[] sorted = us.clone();
        Arrays.sort(sorted);
        long sum = Arrays.stream(us).sum();
        int ops = us.length;
        StringBuilder j = new StringBuilder();
        j.append(String.format(Locale.ROOT,
                "{\"workload\":\"watch-java\",\"server\":\"%s\",\"sessions\":32,\"outstanding\":8,"
                        + "\"watchers\":%d,\"ops\":%d,\"errors\":%d,\"elapsed_s\":%.3f,\"ops_per_s\":%.3f,"
                        + "\"window_s\":%.3f,\"mean_us\":%.3f,\"p50_us\":%d,\"p99_us\":%d,\"p999_us\":%d,\"max_us\":%d",
                label, n, ops, errors, sum / 1e6, sum > 0 ? ops / (sum / 1e6) : 0.0, window,
                ops > 0 ? (double) sum / ops : 0.0, quantile(sorted, 0.5), quantile(sorted, 0.99),
                quantile(sorted, 0.999), ops > 0 ? sorted[ops - 1] : 0));
        j.append(",\"rounds_us\":").append(Arrays.toString(us).replace(" ", ""));
        StringBuilder sp = new StringBuilder("[");
        for (long[] s : splits) {
            sp.append(sp.length() > 1 ? "," : "").append(Arrays.toString(s).replace(" ", ""));
        }
        j.append(",\"split_us\":").append(sp).append("]");
        if (ops > 0) {
            j.append(String.format(Locale.ROOT, ",\"client_cpu_s\":%.3f,\"client_cpu_us_per_op\":%.1f",
                    cpuClient, cpuClient * 1e6 / ops));
            if (cpuServer >= 0) {
                j.append(String.format(Locale.ROOT, ",\"server_cpu_s\":%.3f,\"server_cpu_us_per_op\":%.1f",
                        cpuServer, cpuServer * 1e6 / ops));
            }
        }
        if (firstError != null) {
            j.append(",\"first_error\":\"").append(firstError.replace("\\", "\\\\").replace("\"", "'")).append('"');
        }
        j.append('}');
        System.out.println(j);
        System.exit(errors == 0 && ops > 0 ? 0 : 1);
    }
}
