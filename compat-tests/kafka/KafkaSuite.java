// compat-tests/kafka/KafkaSuite.java - two stock Kafka 0.9.0.1 brokers on a ZooKeeper
// server (Apache ZooKeeper 3.8 or Ferrokeeper) under the chroot /kafka, driven end to end:
// registration, topic create, produce/consume in a committing group, kill -9 of the
// controller, restart, topic delete, and the brokers' logs.
//
//   java -cp CLASSES:KAFKA_LIBS KafkaSuite ZKHOST:PORT WORKDIR KAFKA_LIBS_CLASSPATH PORT0 PORT1
//
// The brokers are started by this program as child JVMs (`java -cp LIBS kafka.Kafka
// server.properties`, never Kafka's scripts); their pids are written to WORKDIR/broker-N.pid
// so the calling script can kill them should this JVM die. Prints `PASS name (ms)` or
// `FAIL name: reason` per check, `INFO ...` lines, and last `N passed, M failed`.
// Compiled against the Kafka distribution's own jars (kafka-clients 0.9.0.1, Kafka's
// ZooKeeper 3.4.6 client): nothing else is needed.
//
// Ensemble mode (KAFKA_SUITE_ENSEMBLE_DIR=DIR with nodes DIR/s1..s3 as written by
// ensemble/node.sh's ens_setup, KAFKA_SUITE_NODE_SH=path of node.sh, ZKHOST:PORT = the three
// nodes' connect string): instead of server_restart_keeps_sessions_and_watches, the
// ensemble's leader (srvr Mode: leader) is killed with SIGKILL under produce load and
// restarted (zk_leader_kill_keeps_sessions), and after the brokers stop the /kafka trees of
// the three nodes are compared (ensemble_trees_identical).

import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.*;
import java.util.regex.*;

import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.zookeeper.*;
import org.apache.zookeeper.data.Stat;

public class KafkaSuite {
    static final String CHROOT = "/kafka";
    static final String TOPIC = "fk-check";
    static final int PARTITIONS = 4;
    static final int N_MESSAGES = 300;

    static String zkAddr, work, kafkaCp;
    static int[] ports = new int[2];
    static Process[] brokers = new Process[2];
    static int[] starts = new int[2]; // number of starts per broker (log file per start)
    static ZooKeeper zk;
    static int passed = 0, failed = 0;
    static final List<String> results = new ArrayList<>();
    // what the checks hand on to each other
    static final Set<String> acked = ConcurrentHashMap.newKeySet();
    static int controllerBefore = -1, survivor = -1;
    static long killedOwner = 0;
    static final String ensDir = System.getenv("KAFKA_SUITE_ENSEMBLE_DIR");
    static final String nodeSh = System.getenv("KAFKA_SUITE_NODE_SH");
    static final boolean ensemble = ensDir != null && !ensDir.isEmpty();

    public static void main(String[] args) throws Exception {
        zkAddr = args[0];
        work = args[1];
        kafkaCp = args[2];
        ports[0] = Integer.parseInt(args[3]);
        ports[1] = Integer.parseInt(args[4]);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            for (Process p : brokers) if (p != null && p.isAlive()) p.destroyForcibly();
        }));
        zk = connectZk();
        long t0 = System.currentTimeMillis();
        try {
            check("brokers_register", KafkaSuite::brokersRegister);
            check("controller_elected", KafkaSuite::controllerElected);
            check("topic_create", KafkaSuite::topicCreate);
            check("produce_consume_group", KafkaSuite::produceConsumeGroup);
            if (ensemble)
                check("zk_leader_kill_keeps_sessions", KafkaSuite::zkLeaderKill);
            else if (System.getenv("KAFKA_SUITE_RESTART_SERVER") != null)
                check("server_restart_keeps_sessions_and_watches", KafkaSuite::serverRestart);
            else
                info("SKIP server_restart_keeps_sessions_and_watches: no KAFKA_SUITE_RESTART_SERVER command");
            check("controller_failover", KafkaSuite::controllerFailover);
            check("broker_rejoin", KafkaSuite::brokerRejoin);
            check("no_acked_message_lost", KafkaSuite::noAckedMessageLost);
            check("topic_delete", KafkaSuite::topicDelete);
            check("no_zookeeper_errors_in_broker_logs", KafkaSuite::noZkErrors);
        } finally {
            for (int i = 0; i < 2; i++) stopBroker(i);
        }
        if (ensemble) check("ensemble_trees_identical", KafkaSuite::ensembleTreesIdentical);
        zk.close();
        System.out.println("INFO checks took " + (System.currentTimeMillis() - t0) / 1000 + " s");
        String rf = System.getenv("COMPAT_RESULT_FILE");
        if (rf != null && !rf.isEmpty()) Files.write(Paths.get(rf), results);
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
            String msg = e instanceof AssertionError ? e.getMessage() : e.toString();
            System.out.println("FAIL " + name + ": " + msg);
            if (!(e instanceof AssertionError)) e.printStackTrace(System.out);
        }
        System.out.flush();
    }

    static void require(boolean cond, String what) {
        if (!cond) throw new AssertionError(what);
    }

    static void info(String s) { System.out.println("INFO " + s); System.out.flush(); }

    interface Cond { String test() throws Exception; } // null = satisfied, else why not

    static void waitFor(String what, long timeoutMs, Cond c) throws Exception {
        long deadline = System.currentTimeMillis() + timeoutMs;
        String why = "?";
        while (true) {
            try {
                why = c.test();
            } catch (KeeperException e) {
                why = e.toString();
            }
            if (why == null) return;
            if (System.currentTimeMillis() > deadline)
                throw new AssertionError(what + " not reached within " + timeoutMs + " ms: " + why);
            Thread.sleep(200);
        }
    }

    // ---------------------------------------------------------------- ZooKeeper side

    static ZooKeeper connectZk() throws Exception { return connectZk(zkAddr); }

    static ZooKeeper connectZk(String addr) throws Exception {
        CountDownLatch up = new CountDownLatch(1);
        ZooKeeper z = new ZooKeeper(addr, 10000, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) up.countDown();
        });
        if (!up.await(20, TimeUnit.SECONDS)) {
            z.close();
            throw new IllegalStateException("no ZooKeeper session to " + addr);
        }
        return z;
    }

    static String data(String path, Stat st) throws Exception {
        byte[] b = zk.getData(path, false, st);
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    static String dataOrNull(String path, Stat st) throws Exception {
        try {
            return data(path, st);
        } catch (KeeperException.NoNodeException e) {
            return null;
        }
    }

    static int jsonInt(String json, String key) {
        Matcher m = Pattern.compile("\"" + key + "\"\\s*:\\s*\"?(-?\\d+)").matcher(json);
        if (!m.find()) throw new AssertionError("no " + key + " in " + json);
        return Integer.parseInt(m.group(1));
    }

    static List<Integer> jsonIntList(String json, String key) {
        Matcher m = Pattern.compile("\"" + key + "\"\\s*:\\s*\\[([^\\]]*)\\]").matcher(json);
        if (!m.find()) throw new AssertionError("no " + key + " in " + json);
        List<Integer> out = new ArrayList<>();
        for (String s : m.group(1).split(",")) if (!s.trim().isEmpty()) out.add(Integer.parseInt(s.trim()));
        return out;
    }

    /** The ZooKeeper session id the broker's client logged for its latest session. */
    static long brokerSession(int id) throws IOException {
        Path log = brokerLog(id, starts[id]);
        long sid = 0;
        Pattern p = Pattern.compile("sessionid = 0x([0-9a-f]+)");
        for (String line : Files.readAllLines(log, StandardCharsets.ISO_8859_1)) {
            Matcher m = p.matcher(line);
            if (m.find()) sid = Long.parseUnsignedLong(m.group(1), 16);
        }
        return sid;
    }

    static String partitionState(int p) throws Exception {
        return dataOrNull(CHROOT + "/brokers/topics/" + TOPIC + "/partitions/" + p + "/state", null);
    }

    // ---------------------------------------------------------------- brokers

    static Path brokerLog(int id, int start) {
        return Paths.get(work, "broker-" + id + (start > 1 ? "-start" + start : "") + ".log");
    }

    static void startBroker(int id) throws IOException {
        starts[id]++;
        Path props = Paths.get(work, "broker-" + id + ".properties");
        String cfg = String.join("\n",
            "broker.id=" + id,
            "listeners=PLAINTEXT://127.0.0.1:" + ports[id],
            "advertised.listeners=PLAINTEXT://127.0.0.1:" + ports[id],
            "log.dirs=" + work + "/broker-" + id + "-data",
            "zookeeper.connect=" + zkAddr + CHROOT,
            "zookeeper.session.timeout.ms=6000",
            "zookeeper.connection.timeout.ms=15000",
            "delete.topic.enable=true",
            "controlled.shutdown.enable=false",
            "auto.create.topics.enable=false",
            "num.partitions=1",
            "default.replication.factor=2",
            "offsets.topic.replication.factor=2",
            "offsets.topic.num.partitions=4",
            "num.network.threads=2",
            "num.io.threads=2",
            "num.recovery.threads.per.data.dir=1",
            "background.threads=2",
            "log.cleaner.enable=false",
            "replica.lag.time.max.ms=10000",
            "replica.fetch.wait.max.ms=100",
            "controller.socket.timeout.ms=5000",
            "") ;
        Files.write(props, cfg.getBytes(StandardCharsets.UTF_8));
        Path log4j = Paths.get(work, "broker-log4j.properties");
        Files.write(log4j, String.join("\n",
            "log4j.rootLogger=INFO, stdout",
            "log4j.appender.stdout=org.apache.log4j.ConsoleAppender",
            "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout",
            "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n",
            "log4j.logger.kafka.request.logger=WARN",
            "").getBytes(StandardCharsets.UTF_8));
        List<String> cmd = new ArrayList<>(Arrays.asList(
            "java", "-Xmx256m", "-Xss512k", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            "-Dlog4j.configuration=file:" + log4j,
            "-cp", kafkaCp, "kafka.Kafka", props.toString()));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.redirectErrorStream(true);
        pb.redirectOutput(brokerLog(id, starts[id]).toFile());
        pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        brokers[id] = pb.start();
        Files.write(Paths.get(work, "broker-" + id + ".pid"),
            (brokers[id].pid() + "\n").getBytes(StandardCharsets.UTF_8));
        info("broker " + id + " started (pid " + brokers[id].pid() + ", log " + brokerLog(id, starts[id]) + ")");
    }

    static void killBroker(int id) throws Exception {
        Process p = brokers[id];
        p.destroyForcibly(); // SIGKILL
        p.waitFor(20, TimeUnit.SECONDS);
        info("broker " + id + " killed with SIGKILL (pid " + p.pid() + ", alive " + p.isAlive() + ")");
    }

    static void stopBroker(int id) {
        Process p = brokers[id];
        if (p == null || !p.isAlive()) return;
        p.destroy(); // SIGTERM: Kafka's shutdown hook
        try {
            if (!p.waitFor(20, TimeUnit.SECONDS)) p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            p.destroyForcibly();
        }
    }

    static String bootstrap(int... ids) {
        StringBuilder sb = new StringBuilder();
        for (int id : ids) sb.append(sb.length() > 0 ? "," : "").append("127.0.0.1:").append(ports[id]);
        return sb.toString();
    }

    static KafkaProducer<String, String> producer(String bootstrap) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("acks", "all");
        p.put("retries", "100");
        p.put("retry.backoff.ms", "200");
        p.put("request.timeout.ms", "10000");
        p.put("max.block.ms", "30000");
        p.put("max.in.flight.requests.per.connection", "1");
        p.put("linger.ms", "5");
        p.put("metadata.max.age.ms", "2000");
        p.put("reconnect.backoff.ms", "200");
        p.put("key.serializer", "org.apache.kafka.common.serialization.StringSerializer");
        p.put("value.serializer", "org.apache.kafka.common.serialization.StringSerializer");
        return new KafkaProducer<>(p);
    }

    static KafkaConsumer<String, String> consumer(String bootstrap, String group) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        if (group != null) p.put("group.id", group);
        p.put("enable.auto.commit", "false");
        p.put("auto.offset.reset", "earliest");
        p.put("session.timeout.ms", "10000");
        p.put("heartbeat.interval.ms", "1000");
        p.put("request.timeout.ms", "15000");
        p.put("fetch.max.wait.ms", "200");
        p.put("metadata.max.age.ms", "2000");
        p.put("reconnect.backoff.ms", "200");
        p.put("key.deserializer", "org.apache.kafka.common.serialization.StringDeserializer");
        p.put("value.deserializer", "org.apache.kafka.common.serialization.StringDeserializer");
        return new KafkaConsumer<>(p);
    }

    /** Sends `count` messages "prefix-i" with acks=all; returns once each is acknowledged. */
    static void produce(String bootstrap, String prefix, int count) throws Exception {
        try (KafkaProducer<String, String> pr = producer(bootstrap)) {
            List<Future<RecordMetadata>> fs = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                String v = prefix + "-" + i;
                fs.add(pr.send(new ProducerRecord<>(TOPIC, v, v), (md, e) -> { if (e == null) acked.add(v); }));
            }
            pr.flush();
            for (Future<RecordMetadata> f : fs) f.get(30, TimeUnit.SECONDS);
        }
    }

    /**
     * Consumes the topic from the start in consumer group `group` until every value in
     * `expected` was seen (or the timeout), commits, and returns what it saw; checks the
     * group's committed offsets equal the consumer's positions.
     */
    static Set<String> consumeGroup(String bootstrap, String group, Set<String> expected, long timeoutMs) throws Exception {
        Set<String> seen = new HashSet<>();
        try (KafkaConsumer<String, String> c = consumer(bootstrap, group)) {
            c.subscribe(Collections.singletonList(TOPIC));
            long deadline = System.currentTimeMillis() + timeoutMs;
            while (!seen.containsAll(expected) && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : c.poll(500)) seen.add(r.value());
            }
            // One more short poll so nothing beyond `expected` is left unconsumed by chance.
            for (ConsumerRecord<String, String> r : c.poll(300)) seen.add(r.value());
            c.commitSync();
            long committed = 0, positions = 0;
            Set<TopicPartition> assigned = c.assignment();
            require(assigned.size() == PARTITIONS, "group " + group + " was assigned " + assigned);
            for (TopicPartition tp : assigned) {
                OffsetAndMetadata om = c.committed(tp);
                require(om != null, "no committed offset for " + tp);
                committed += om.offset();
                positions += c.position(tp);
            }
            require(committed == positions, "committed offsets " + committed + " != positions " + positions);
            info("group " + group + ": " + seen.size() + " messages, committed offsets sum " + committed);
        }
        return seen;
    }

    // ---------------------------------------------------------------- checks

    static void brokersRegister() throws Exception {
        startBroker(0);
        startBroker(1);
        for (int id = 0; id < 2; id++) {
            final int b = id;
            String path = CHROOT + "/brokers/ids/" + b;
            waitFor("registration of broker " + b, 60000, () -> zk.exists(path, false) == null ? "no " + path : null);
            Stat st = new Stat();
            String json = data(path, st);
            require(st.getEphemeralOwner() != 0, path + " is not ephemeral");
            long sid = brokerSession(b);
            require(sid != 0, "broker " + b + " logged no ZooKeeper session id");
            require(st.getEphemeralOwner() == sid, String.format("%s owner 0x%x != broker's session 0x%x",
                path, st.getEphemeralOwner(), sid));
            require(json.contains("\"port\":" + ports[b]) || json.contains(":" + ports[b] + "\""),
                path + " does not name port " + ports[b] + ": " + json);
            info(path + " = " + json + String.format(" (owner 0x%x)", sid));
        }
        List<String> ids = zk.getChildren(CHROOT + "/brokers/ids", false);
        Collections.sort(ids);
        require(ids.equals(Arrays.asList("0", "1")), "brokers/ids children " + ids);
        // the chroot holds Kafka's tree, the root nothing of it
        require(zk.exists("/brokers", false) == null, "/brokers outside the chroot");
        for (String p : new String[] {"/brokers/topics", "/config/changes", "/admin/delete_topics", "/consumers"})
            require(zk.exists(CHROOT + p, false) != null, CHROOT + p + " missing");
    }

    static void controllerElected() throws Exception {
        String path = CHROOT + "/controller";
        waitFor("a controller", 30000, () -> zk.exists(path, false) == null ? "no " + path : null);
        Stat st = new Stat();
        String json = data(path, st);
        controllerBefore = jsonInt(json, "brokerid");
        require(controllerBefore == 0 || controllerBefore == 1, "controller " + json);
        long sid = brokerSession(controllerBefore);
        require(st.getEphemeralOwner() == sid, String.format("%s owner 0x%x != broker %d's session 0x%x",
            path, st.getEphemeralOwner(), controllerBefore, sid));
        String epoch = data(CHROOT + "/controller_epoch", null);
        require(Integer.parseInt(epoch.trim()) >= 1, "controller_epoch " + epoch);
        info("controller: broker " + controllerBefore + ", controller_epoch " + epoch.trim());
    }

    static void topicCreate() throws Exception {
        kafka.utils.ZkUtils zu = kafka.utils.ZkUtils.apply(zkAddr + CHROOT, 6000, 15000, false);
        try {
            kafka.admin.AdminUtils.createTopic(zu, TOPIC, PARTITIONS, 2, new Properties());
        } finally {
            zu.close();
        }
        String tpath = CHROOT + "/brokers/topics/" + TOPIC;
        String assignment = data(tpath, null);
        for (int p = 0; p < PARTITIONS; p++) {
            List<Integer> r = jsonIntList(assignment, String.valueOf(p));
            require(r.size() == 2 && r.contains(0) && r.contains(1), "partition " + p + " replicas " + r + " in " + assignment);
        }
        require(zk.exists(CHROOT + "/config/topics/" + TOPIC, false) != null, "no topic config znode");
        waitFor("leaders and full ISRs", 30000, () -> {
            for (int p = 0; p < PARTITIONS; p++) {
                String s = partitionState(p);
                if (s == null) return "no state for partition " + p;
                if (jsonIntList(s, "isr").size() != 2) return "partition " + p + " state " + s;
            }
            return null;
        });
        // each broker answers a metadata request with the topic, a leader and both replicas
        for (int id = 0; id < 2; id++) {
            final int b = id;
            try (KafkaConsumer<String, String> c = consumer(bootstrap(b), null)) {
                waitFor("metadata from broker " + b, 20000, () -> {
                    List<PartitionInfo> ps = c.partitionsFor(TOPIC);
                    if (ps == null || ps.size() != PARTITIONS) return "partitions " + ps;
                    for (PartitionInfo pi : ps)
                        if (pi.leader() == null || pi.replicas().length != 2 || pi.inSyncReplicas().length != 2)
                            return "partition " + pi;
                    return null;
                });
            }
        }
    }

    static void produceConsumeGroup() throws Exception {
        produce(bootstrap(0, 1), "m", N_MESSAGES);
        Set<String> expected = new HashSet<>(acked);
        require(expected.size() == N_MESSAGES, "acknowledged " + expected.size() + " of " + N_MESSAGES);
        Set<String> seen = consumeGroup(bootstrap(0, 1), "fk-group", expected, 60000);
        require(seen.containsAll(expected), "consumed " + seen.size() + ", missing " + missing(expected, seen));
        require(zk.exists(CHROOT + "/brokers/topics/__consumer_offsets", false) != null,
            "no __consumer_offsets topic in ZooKeeper");
        // a second run of the group resumes from the commit: nothing left to read
        try (KafkaConsumer<String, String> c = consumer(bootstrap(0, 1), "fk-group")) {
            c.subscribe(Collections.singletonList(TOPIC));
            int again = 0;
            long deadline = System.currentTimeMillis() + 30000;
            while (c.assignment().isEmpty() && System.currentTimeMillis() < deadline) again += c.poll(300).count();
            long end = System.currentTimeMillis() + 2000; // then 2 s more of polling
            while (System.currentTimeMillis() < end) again += c.poll(300).count();
            require(c.assignment().size() == PARTITIONS, "rejoined group was assigned " + c.assignment());
            require(again == 0, "the group re-read " + again + " messages after its commit");
        }
    }

    static String missing(Set<String> expected, Set<String> seen) {
        List<String> m = new ArrayList<>();
        for (String e : expected) if (!seen.contains(e)) m.add(e);
        Collections.sort(m);
        return m.size() + " " + (m.size() > 10 ? m.subList(0, 10) + "..." : m);
    }

    static int countLines(Path log, String needle) throws IOException {
        int n = 0;
        for (String l : Files.readAllLines(log, StandardCharsets.ISO_8859_1)) if (l.contains(needle)) n++;
        return n;
    }

    /**
     * The ZooKeeper server is restarted (SIGTERM, same data dir and port) under the running
     * brokers: their sessions survive (same ephemeral owners, no new session), their clients
     * reconnect and re-register their watches with setWatches, and the controller acts on
     * watches set before the restart: a topic created afterwards (child watch on
     * /brokers/topics) gets leaders, and its deletion (child watch on /admin/delete_topics)
     * completes.
     */
    static void serverRestart() throws Exception {
        String[] eph = {CHROOT + "/brokers/ids/0", CHROOT + "/brokers/ids/1", CHROOT + "/controller"};
        long[] owners = new long[eph.length];
        for (int i = 0; i < eph.length; i++) {
            Stat st = zk.exists(eph[i], false);
            require(st != null, "no " + eph[i]);
            owners[i] = st.getEphemeralOwner();
        }
        int[] established = new int[2];
        for (int b = 0; b < 2; b++) established[b] = countLines(brokerLog(b, starts[b]), "Session establishment complete");
        long t = System.currentTimeMillis();
        ProcessBuilder pb = new ProcessBuilder("bash", "-c", System.getenv("KAFKA_SUITE_RESTART_SERVER"));
        pb.redirectErrorStream(true);
        pb.redirectOutput(ProcessBuilder.Redirect.appendTo(Paths.get(work, "restart.log").toFile()));
        Process p = pb.start();
        require(p.waitFor(90, TimeUnit.SECONDS) && p.exitValue() == 0, "the server restart command failed (see restart.log)");
        info("server restarted in " + (System.currentTimeMillis() - t) + " ms");
        waitFor("brokers reconnected", 30000, () -> {
            for (int b = 0; b < 2; b++)
                if (countLines(brokerLog(b, starts[b]), "Session establishment complete") <= established[b])
                    return "broker " + b + " not reconnected";
            return null;
        });
        for (int i = 0; i < eph.length; i++) {
            Stat st = zk.exists(eph[i], false);
            require(st != null, eph[i] + " gone after the restart");
            require(st.getEphemeralOwner() == owners[i], String.format("%s owner 0x%x -> 0x%x", eph[i], owners[i], st.getEphemeralOwner()));
        }
        for (int b = 0; b < 2; b++) {
            require(brokerSession(b) == owners[b], String.format("broker %d now on session 0x%x, was 0x%x", b, brokerSession(b), owners[b]));
            require(countLines(brokerLog(b, starts[b]), "(Expired)") == 0, "broker " + b + " saw its session expire");
        }
        String topic = "fk-after-restart";
        kafka.utils.ZkUtils zu = kafka.utils.ZkUtils.apply(zkAddr + CHROOT, 6000, 15000, false);
        try {
            kafka.admin.AdminUtils.createTopic(zu, topic, 2, 2, new Properties());
            waitFor("leaders for " + topic, 30000, () -> {
                for (int q = 0; q < 2; q++) {
                    String s = dataOrNull(CHROOT + "/brokers/topics/" + topic + "/partitions/" + q + "/state", null);
                    if (s == null) return "no state for partition " + q + " (controller's /brokers/topics watch lost?)";
                }
                return null;
            });
            kafka.admin.AdminUtils.deleteTopic(zu, topic);
            waitFor("deletion of " + topic, 30000, () ->
                zk.exists(CHROOT + "/brokers/topics/" + topic, false) != null
                    || zk.exists(CHROOT + "/admin/delete_topics/" + topic, false) != null
                    ? "still there (controller's /admin/delete_topics watch lost?)" : null);
        } finally {
            zu.close();
        }
    }

    static void controllerFailover() throws Exception {
        require(controllerBefore >= 0, "no controller found earlier");
        int victim = controllerBefore;
        survivor = 1 - victim;
        String cpath = CHROOT + "/controller";
        Stat before = new Stat();
        data(cpath, before);
        killedOwner = before.getEphemeralOwner();
        int epochBefore = Integer.parseInt(data(CHROOT + "/controller_epoch", null).trim());
        // an exists watch on the controller znode sees it go
        BlockingQueue<WatchedEvent> events = new LinkedBlockingQueue<>();
        zk.exists(cpath, events::add);

        // a producer keeps writing through the failover; what it gets acknowledged must survive
        LiveProducer bg = new LiveProducer("live");
        Thread.sleep(1000);
        long tKill = System.currentTimeMillis();
        killBroker(victim);

        waitFor("a new controller", 30000, () -> {
            String j = dataOrNull(cpath, null);
            if (j == null) return "no controller";
            return jsonInt(j, "brokerid") == survivor ? null : "controller " + j;
        });
        long tMoved = System.currentTimeMillis();
        Stat after = new Stat();
        data(cpath, after);
        long sid = brokerSession(survivor);
        require(after.getEphemeralOwner() == sid, String.format("new %s owner 0x%x != broker %d's session 0x%x",
            cpath, after.getEphemeralOwner(), survivor, sid));
        require(after.getCzxid() > before.getCzxid(), "controller znode not re-created");
        // the new controller creates /controller first, then increments /controller_epoch
        waitFor("controller_epoch " + (epochBefore + 1), 10000, () -> {
            int e = Integer.parseInt(data(CHROOT + "/controller_epoch", null).trim());
            return e == epochBefore + 1 ? null : "controller_epoch " + epochBefore + " -> " + e;
        });
        int epochAfter = Integer.parseInt(data(CHROOT + "/controller_epoch", null).trim());
        require(zk.exists(CHROOT + "/brokers/ids/" + victim, false) == null, "killed broker still registered");
        WatchedEvent ev = events.poll(5, TimeUnit.SECONDS);
        require(ev != null && ev.getType() == Watcher.Event.EventType.NodeDeleted,
            "exists watch on " + cpath + " got " + ev);
        info("controller moved " + victim + " -> " + survivor + " " + (tMoved - tKill) + " ms after the kill; epoch "
            + epochBefore + " -> " + epochAfter);

        waitFor("leadership on broker " + survivor, 30000, () -> {
            for (int p = 0; p < PARTITIONS; p++) {
                String s = partitionState(p);
                if (s == null) return "no state for partition " + p;
                if (jsonInt(s, "leader") != survivor || !jsonIntList(s, "isr").equals(Collections.singletonList(survivor)))
                    return "partition " + p + " state " + s;
            }
            return null;
        });
        // the survivor serves metadata naming itself leader everywhere
        try (KafkaConsumer<String, String> c = consumer(bootstrap(survivor), null)) {
            waitFor("metadata from broker " + survivor, 20000, () -> {
                for (PartitionInfo pi : c.partitionsFor(TOPIC))
                    if (pi.leader() == null || pi.leader().id() != survivor) return "partition " + pi;
                return null;
            });
        }
        Thread.sleep(1000); // a few acknowledged writes on the survivor alone
        bg.finish();
        require(bg.acked() > 0, "nothing acknowledged during the failover");
    }

    /** A producer writing PREFIX-i every 20 ms in the background until finish(); acknowledged values go to `acked`. */
    static class LiveProducer {
        final String prefix;
        final AtomicBoolean stop = new AtomicBoolean(false);
        final AtomicInteger sent = new AtomicInteger(), errors = new AtomicInteger();
        final Thread thread;

        LiveProducer(String prefix) {
            this.prefix = prefix;
            thread = new Thread(() -> {
                try (KafkaProducer<String, String> pr = producer(bootstrap(0, 1))) {
                    int i = 0;
                    while (!stop.get()) {
                        String v = prefix + "-" + i++;
                        try {
                            pr.send(new ProducerRecord<>(TOPIC, v, v), (md, e) -> {
                                if (e == null) acked.add(v); else errors.incrementAndGet();
                            });
                        } catch (Exception e) { // a send refused at once is not acknowledged either
                            errors.incrementAndGet();
                        }
                        sent.incrementAndGet();
                        Thread.sleep(20);
                    }
                    pr.flush();
                } catch (Exception e) {
                    info("background producer " + prefix + ": " + e);
                }
            });
            thread.start();
        }

        long acked() { return acked.stream().filter(s -> s.startsWith(prefix + "-")).count(); }

        void finish() throws InterruptedException {
            stop.set(true);
            thread.join(60000);
            info("background producer " + prefix + ": " + sent.get() + " sent, " + acked() + " acknowledged, "
                + errors.get() + " failed");
        }
    }

    static void brokerRejoin() throws Exception {
        require(survivor >= 0, "no failover happened");
        int victim = 1 - survivor;
        String path = CHROOT + "/brokers/ids/" + victim;
        startBroker(victim);
        waitFor("re-registration of broker " + victim, 60000, () -> zk.exists(path, false) == null ? "no " + path : null);
        Stat st = new Stat();
        data(path, st);
        long sid = brokerSession(victim);
        require(st.getEphemeralOwner() == sid && sid != 0, String.format("%s owner 0x%x != restarted broker's session 0x%x",
            path, st.getEphemeralOwner(), sid));
        require(sid != killedOwner, "restarted broker has the killed one's session");
        // the controller notices (child watch on brokers/ids) and the replicas catch up into the ISR
        waitFor("full ISRs again", 60000, () -> {
            for (int p = 0; p < PARTITIONS; p++) {
                String s = partitionState(p);
                if (s == null) return "no state for partition " + p;
                if (jsonIntList(s, "isr").size() != 2) return "partition " + p + " state " + s;
            }
            return null;
        });
        String c = data(CHROOT + "/controller", null);
        require(jsonInt(c, "brokerid") == survivor, "controller changed on rejoin: " + c);
        // the leaders announce the ISR expansion (5 s after the last change) with a sequential
        // isr_change_ znode, which the controller (child watch) reads and deletes: the parent's
        // cversion counts the create and the delete
        String isr = CHROOT + "/isr_change_notification";
        waitFor("isr_change_ notifications written and consumed", 40000, () -> {
            Stat ist = new Stat();
            List<String> left = zk.getChildren(isr, false, ist);
            if (!left.isEmpty()) return "left: " + left;
            return ist.getCversion() >= 2 ? null : "none written yet (cversion " + ist.getCversion() + ")";
        });
        info(isr + " cversion " + zk.exists(isr, false).getCversion() + " (notifications written and consumed)");
    }

    static void noAckedMessageLost() throws Exception {
        Set<String> expected = new HashSet<>(acked);
        require(expected.size() > N_MESSAGES, "only " + expected.size() + " acknowledged messages");
        // the old group resumes from its commit and reads the rest; a new group reads them all
        Set<String> seen = consumeGroup(bootstrap(0, 1), "fk-verify", expected, 60000);
        require(seen.containsAll(expected), "acknowledged " + expected.size() + ", consumed " + seen.size()
            + ", missing " + missing(expected, seen));
        Set<String> live = new HashSet<>(expected);
        live.removeIf(s -> s.startsWith("m-"));
        Set<String> resumed = consumeGroup(bootstrap(0, 1), "fk-group", live, 60000);
        require(resumed.containsAll(live), "group fk-group resumed and missed " + missing(live, resumed));
        for (String s : resumed)
            require(!s.startsWith("m-"), "group fk-group re-read " + s + " consumed and committed before the failover");
    }

    static void topicDelete() throws Exception {
        kafka.utils.ZkUtils zu = kafka.utils.ZkUtils.apply(zkAddr + CHROOT, 6000, 15000, false);
        try {
            kafka.admin.AdminUtils.deleteTopic(zu, TOPIC);
        } finally {
            zu.close();
        }
        String[] gone = {
            CHROOT + "/brokers/topics/" + TOPIC,
            CHROOT + "/config/topics/" + TOPIC,
            CHROOT + "/admin/delete_topics/" + TOPIC,
        };
        waitFor("topic deletion", 60000, () -> {
            for (String g : gone) if (zk.exists(g, false) != null) return g + " still there";
            return null;
        });
        for (int id = 0; id < 2; id++) {
            final int b = id;
            try (KafkaConsumer<String, String> c = consumer(bootstrap(b), null)) {
                waitFor("broker " + b + " forgetting the topic", 20000, () -> {
                    Map<String, List<PartitionInfo>> topics = c.listTopics();
                    return topics.containsKey(TOPIC) ? "still listed: " + topics.keySet() : null;
                });
            }
        }
    }

    // ---------------------------------------------------------------- ensemble mode

    static String nodeDir(int sid) { return ensDir + "/s" + sid; }

    static int nodePort(int sid) throws IOException {
        return Integer.parseInt(new String(Files.readAllBytes(Paths.get(nodeDir(sid), "client_port")),
            StandardCharsets.UTF_8).trim());
    }

    /** The Mode: of a node's srvr answer (leader, follower, ...), "none" when it does not serve, "down" when closed. */
    static String mode(int sid) {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        try (java.net.Socket s = new java.net.Socket("127.0.0.1", nodePort(sid))) {
            s.setSoTimeout(3000);
            s.getOutputStream().write("srvr".getBytes(StandardCharsets.US_ASCII));
            s.getOutputStream().flush();
            byte[] buf = new byte[4096];
            for (int n; (n = s.getInputStream().read(buf)) > 0; ) all.write(buf, 0, n);
        } catch (java.net.SocketTimeoutException e) {
            // what arrived is the answer
        } catch (IOException e) {
            if (all.size() == 0) return "down";
        }
        Matcher m = Pattern.compile("Mode: (\\w+)").matcher(new String(all.toByteArray(), StandardCharsets.UTF_8));
        return m.find() ? m.group(1) : "none";
    }

    static String modes() {
        StringBuilder sb = new StringBuilder();
        for (int sid = 1; sid <= 3; sid++) sb.append(sid > 1 ? " " : "").append("s").append(sid).append('=').append(mode(sid));
        return sb.toString();
    }

    /** node.sh CMD DIR/sSID (kill: SIGKILL and wait; start: in the background). */
    static void node(String cmd, int sid) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("bash", nodeSh, cmd, nodeDir(sid));
        pb.redirectErrorStream(true);
        pb.redirectOutput(ProcessBuilder.Redirect.appendTo(Paths.get(work, "ensemble-nodes.log").toFile()));
        Process p = pb.start();
        require(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, "node.sh " + cmd + " s" + sid + " failed (see ensemble-nodes.log)");
    }

    /**
     * kill -9 of the ZooKeeper ensemble's leader while a producer writes, then its restart: the
     * two others elect a leader, the brokers keep their sessions (the ephemerals of
     * /brokers/ids keep their owner, the sessions the brokers logged are the same, no Expired in
     * their logs), /controller_epoch moves by at most 1, writes are acknowledged after the kill,
     * and the killed node, restarted, rejoins as a follower and serves the brokers' ephemerals.
     */
    static void zkLeaderKill() throws Exception {
        String[] eph = {CHROOT + "/brokers/ids/0", CHROOT + "/brokers/ids/1", CHROOT + "/controller"};
        long[] owners = new long[eph.length];
        for (int i = 0; i < eph.length; i++) {
            Stat st = zk.exists(eph[i], false);
            require(st != null, "no " + eph[i]);
            owners[i] = st.getEphemeralOwner();
        }
        String ctrlBefore = data(CHROOT + "/controller", null);
        int epochBefore = Integer.parseInt(data(CHROOT + "/controller_epoch", null).trim());
        int[] established = new int[2];
        for (int b = 0; b < 2; b++) established[b] = countLines(brokerLog(b, starts[b]), "Session establishment complete");
        int leader = 0;
        for (int sid = 1; sid <= 3; sid++) if (mode(sid).equals("leader")) leader = sid;
        require(leader > 0, "no leader in the ensemble: " + modes());
        final int killed = leader;

        LiveProducer bg = new LiveProducer("zkl");
        Thread.sleep(1500);
        long ackedBefore = bg.acked();
        long tKill = System.currentTimeMillis();
        node("kill", killed);
        info("ZooKeeper leader s" + killed + " (port " + nodePort(killed) + ") killed with SIGKILL; "
            + ackedBefore + " zkl- messages acknowledged before");

        waitFor("a new leader among the two other nodes", 60000, () -> {
            int leaders = 0, followers = 0;
            for (int sid = 1; sid <= 3; sid++) {
                if (sid == killed) continue;
                String m = mode(sid);
                if (m.equals("leader")) leaders++;
                if (m.equals("follower")) followers++;
            }
            return leaders == 1 && followers == 1 ? null : modes();
        });
        long tElected = System.currentTimeMillis();
        waitFor("the suite's own session back", 30000, () -> zk.exists(CHROOT, false) == null ? "no " + CHROOT : null);
        // brokers whose server went away reconnect (on a follower they reconnect too: Java
        // ZooKeeper's followers drop their clients when they lose the leader)
        boolean[] again = new boolean[2];
        try {
            waitFor("both brokers reconnected", 20000, () -> {
                for (int b = 0; b < 2; b++)
                    again[b] = countLines(brokerLog(b, starts[b]), "Session establishment complete") > established[b];
                return again[0] && again[1] ? null : "reconnected: broker 0 " + again[0] + ", broker 1 " + again[1];
            });
        } catch (AssertionError e) {
            info(e.getMessage());
        }
        long tReconnected = System.currentTimeMillis();
        // past the brokers' session timeout (6 s) after the kill, so an expiry would show
        long wait = tKill + 9000 - System.currentTimeMillis();
        if (wait > 0) Thread.sleep(wait);
        for (int i = 0; i < eph.length; i++) {
            final String path = eph[i];
            Stat st = new Stat();
            waitFor("read " + path, 10000, () -> { data(path, st); return null; });
            if (i < 2) {
                require(st.getEphemeralOwner() == owners[i], String.format("%s owner 0x%x -> 0x%x (the broker's session did not survive)",
                    path, owners[i], st.getEphemeralOwner()));
            } else if (st.getEphemeralOwner() != owners[i]) {
                info(String.format("%s owner 0x%x -> 0x%x", path, owners[i], st.getEphemeralOwner()));
            }
        }
        for (int b = 0; b < 2; b++) {
            require(brokerSession(b) == owners[b], String.format("broker %d now on session 0x%x, was 0x%x", b, brokerSession(b), owners[b]));
            require(countLines(brokerLog(b, starts[b]), "(Expired)") == 0, "broker " + b + " saw its session expire");
        }
        String ctrlAfter = data(CHROOT + "/controller", null);
        int epochAfter = Integer.parseInt(data(CHROOT + "/controller_epoch", null).trim());
        require(epochAfter >= epochBefore && epochAfter <= epochBefore + 1,
            "controller_epoch " + epochBefore + " -> " + epochAfter + " across the leader kill (more than one election)");
        info("new ZooKeeper leader " + (tElected - tKill) + " ms after the kill (" + modes() + "), brokers reconnected "
            + (again[0] && again[1] ? (tReconnected - tKill) + " ms after" : "broker 0 " + again[0] + " broker 1 " + again[1])
            + "; controller_epoch " + epochBefore + " -> " + epochAfter + ", controller " + ctrlBefore + " -> " + ctrlAfter);
        bg.finish();
        require(bg.acked() > ackedBefore, "nothing acknowledged after the ZooKeeper leader kill");

        // the killed node, restarted, rejoins and serves the brokers' registrations
        long tStart = System.currentTimeMillis();
        node("start", killed);
        waitFor("s" + killed + " back in the ensemble", 60000, () -> {
            String m = mode(killed);
            return m.equals("follower") || m.equals("leader") ? null : modes();
        });
        info("s" + killed + " restarted, " + mode(killed) + " after " + (System.currentTimeMillis() - tStart) + " ms (" + modes() + ")");
        ZooKeeper z1 = connectZk("127.0.0.1:" + nodePort(killed));
        try {
            for (int i = 0; i < 2; i++) {
                final String path = eph[i];
                final long owner = owners[i];
                waitFor(path + " on s" + killed, 10000, () -> {
                    Stat st = z1.exists(path, false);
                    return st != null && st.getEphemeralOwner() == owner ? null : path + " " + st;
                });
            }
        } finally {
            z1.close();
        }
    }

    /** path -> data, children and the stat fields every node must agree on. */
    static void dumpTree(ZooKeeper z, String path, Map<String, String> out, Map<String, String> extra) throws Exception {
        Stat st = new Stat();
        byte[] d = z.getData(path, false, st);
        List<String> children = z.getChildren(path, false);
        Collections.sort(children);
        out.put(path, String.format("data=%s children=%s czxid=%x mzxid=%x version=%d owner=%x",
            d == null ? "null" : new String(d, StandardCharsets.ISO_8859_1), children,
            st.getCzxid(), st.getMzxid(), st.getVersion(), st.getEphemeralOwner()));
        extra.put(path, String.format("pzxid=%x cversion=%d", st.getPzxid(), st.getCversion()));
        for (String c : children) dumpTree(z, path + "/" + c, out, extra);
    }

    static String firstDifference(Map<String, String> a, Map<String, String> b) {
        TreeSet<String> paths = new TreeSet<>(a.keySet());
        paths.addAll(b.keySet());
        int n = 0;
        String first = null;
        for (String p : paths) {
            if (!Objects.equals(a.get(p), b.get(p))) {
                n++;
                if (first == null) first = p + ": " + a.get(p) + " | " + b.get(p);
            }
        }
        return n == 0 ? null : n + " znodes differ, first " + first;
    }

    /** After the brokers stopped: the three nodes hold the same /kafka tree (data, children, czxid, mzxid, version, owner). */
    static void ensembleTreesIdentical() throws Exception {
        ZooKeeper[] zs = new ZooKeeper[3];
        try {
            for (int sid = 1; sid <= 3; sid++) zs[sid - 1] = connectZk("127.0.0.1:" + nodePort(sid));
            List<Map<String, String>> trees = new ArrayList<>(), extras = new ArrayList<>();
            waitFor("identical /kafka trees on s1, s2, s3", 30000, () -> {
                trees.clear();
                extras.clear();
                for (ZooKeeper z : zs) {
                    Map<String, String> t = new TreeMap<>(), x = new TreeMap<>();
                    dumpTree(z, CHROOT, t, x);
                    trees.add(t);
                    extras.add(x);
                }
                for (int i = 1; i < 3; i++) {
                    String d = firstDifference(trees.get(0), trees.get(i));
                    if (d != null) return "s1 vs s" + (i + 1) + ": " + d;
                }
                for (String e : new String[] {CHROOT + "/brokers/ids/0", CHROOT + "/brokers/ids/1", CHROOT + "/controller"})
                    if (trees.get(0).containsKey(e)) return e + " still there after the brokers stopped";
                return null;
            });
            require(trees.get(0).size() > 10, "only " + trees.get(0).size() + " znodes under " + CHROOT);
            for (int i = 1; i < 3; i++) {
                String d = firstDifference(extras.get(0), extras.get(i));
                if (d != null) info("pzxid/cversion s1 vs s" + (i + 1) + ": " + d);
            }
            info(trees.get(0).size() + " znodes under " + CHROOT + " identical on s1, s2, s3 (" + modes() + ")");
        } finally {
            for (ZooKeeper z : zs) if (z != null) z.close();
        }
    }

    static final Pattern ZK_WORDS = Pattern.compile("(?i)zookeeper|zkclient|zkutils|keeperexception|zkexception|zknode|ZkNo|ZkBadVersion|ZkInterrupted|ZkTimeout|zk\\b|session expired");

    static void noZkErrors() throws Exception {
        List<String> bad = new ArrayList<>();
        int errors = 0;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(Paths.get(work), "broker-*.log")) {
            for (Path log : ds) {
                List<String> lines = Files.readAllLines(log, StandardCharsets.ISO_8859_1);
                for (int i = 0; i < lines.size(); i++) {
                    String l = lines.get(i);
                    if (!l.matches("^\\[[^\\]]*\\] (ERROR|FATAL) .*")) continue;
                    errors++;
                    // the ERROR line and its stack trace (lines not starting a new log record)
                    StringBuilder block = new StringBuilder(l);
                    for (int j = i + 1; j < lines.size() && !lines.get(j).startsWith("["); j++)
                        block.append('\n').append(lines.get(j));
                    if (ZK_WORDS.matcher(block).find()) bad.add(log.getFileName() + ": " + l);
                }
            }
        }
        info(errors + " ERROR/FATAL lines in the brokers' logs, " + bad.size() + " about ZooKeeper");
        require(bad.isEmpty(), "ZooKeeper-related errors: " + String.join(" | ", bad.subList(0, Math.min(5, bad.size()))));
    }
}
