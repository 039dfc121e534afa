// FlinkStreamBench - the reference side of `ferrokeeper stream bench`: a windowed aggregation over
// a synthetic, deterministic event stream on Apache Flink 2.3.0 (DataStream API, local
// MiniCluster). See compat-tests/stream/README.md for the job's definition.
//
//   java -cp "flink-stream-bench.jar:$FLINK_HOME/lib/*" FlinkStreamBench \
//       --window tumbling|sliding|session --n N --p P [--checkpoint-ms MS]
//
// One JSON line on stdout:
//   {"engine":"flink","window":...,"n":...,"p":...,"checkpoint_ms":...,"results":R,
//    "checksum":"<16 hex>","events_per_s":...,"elapsed_ms":...,"checkpoints":K}
// All arithmetic is unsigned 64-bit wrapping (Java long, >>> for shifts, *Unsigned for / and %).

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.accumulators.LongCounter;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.AggregateFunction;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.connector.source.Boundedness;
import org.apache.flink.api.connector.source.ReaderOutput;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.SourceSplit;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.core.io.InputStatus;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.KeyedStream;
import org.apache.flink.streaming.api.datastream.WindowedStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.streaming.api.functions.windowing.ProcessWindowFunction;
import org.apache.flink.streaming.api.windowing.assigners.EventTimeSessionWindows;
import org.apache.flink.streaming.api.windowing.assigners.SlidingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.assigners.TumblingEventTimeWindows;
import org.apache.flink.streaming.api.windowing.windows.TimeWindow;
import org.apache.flink.util.Collector;

public class FlinkStreamBench {

    // ---------------------------------------------------------------- the generator

    static long mix64(long z) {
        z ^= z >>> 30;
        z *= 0xBF58476D1CE4E5B9L;
        z ^= z >>> 27;
        z *= 0x94D049BB133111EBL;
        z ^= z >>> 31;
        return z;
    }

    /** One event. level: 0 INFO, 1 WARN, 2 ERROR. */
    public static class Event {
        public long service;
        public long ts;
        public int level;
        public long latency;

        public Event() {}
    }

    static Event gen(long i) {
        long h = mix64((i + 1) * 0x9E3779B97F4A7C15L);
        Event e = new Event();
        e.ts = 1_700_000_000_000L + i + Long.divideUnsigned(i, 50_000L) * 8_000L - Long.remainderUnsigned(h, 1000L);
        long tier = Long.remainderUnsigned(h >>> 10, 1000L);
        long pick = Long.remainderUnsigned(h >>> 20, 1_000_000L);
        if (tier < 600) e.service = pick % 10;
        else if (tier < 990) e.service = 10 + pick % 40;
        else e.service = 50 + pick % 50;
        long lv = Long.remainderUnsigned(h >>> 40, 100L);
        long range;
        if (lv < 90) { e.level = 0; range = 200; }
        else if (lv < 98) { e.level = 1; range = 1000; }
        else { e.level = 2; range = 5000; }
        e.latency = 1 + (h >>> 47) % range; // h>>>47 < 2^17: signed % is fine
        return e;
    }

    // ---------------------------------------------------------------- the source (FLIP-27)

    /** Split k of p: indexes next, next+step, ... below n. */
    public static class GenSplit implements SourceSplit {
        final int k;
        final long next, step, n;

        GenSplit(int k, long next, long step, long n) {
            this.k = k;
            this.next = next;
            this.step = step;
            this.n = n;
        }

        @Override
        public String splitId() {
            return Integer.toString(k);
        }
    }

    static final class SplitSer implements SimpleVersionedSerializer<GenSplit> {
        @Override public int getVersion() { return 1; }

        @Override
        public byte[] serialize(GenSplit s) throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream(28);
            DataOutputStream o = new DataOutputStream(b);
            o.writeInt(s.k);
            o.writeLong(s.next);
            o.writeLong(s.step);
            o.writeLong(s.n);
            o.flush();
            return b.toByteArray();
        }

        @Override
        public GenSplit deserialize(int version, byte[] bytes) throws IOException {
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes));
            return new GenSplit(in.readInt(), in.readLong(), in.readLong(), in.readLong());
        }
    }

    static final class EnumSer implements SimpleVersionedSerializer<List<GenSplit>> {
        @Override public int getVersion() { return 1; }

        @Override
        public byte[] serialize(List<GenSplit> l) throws IOException {
            SplitSer ss = new SplitSer();
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            DataOutputStream o = new DataOutputStream(b);
            o.writeInt(l.size());
            for (GenSplit s : l) o.write(ss.serialize(s));
            o.flush();
            return b.toByteArray();
        }

        @Override
        public List<GenSplit> deserialize(int version, byte[] bytes) throws IOException {
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes));
            int c = in.readInt();
            List<GenSplit> l = new ArrayList<>(c);
            for (int j = 0; j < c; j++) l.add(new GenSplit(in.readInt(), in.readLong(), in.readLong(), in.readLong()));
            return l;
        }
    }

    /** Completed checkpoints, counted by the enumerator (it lives in the JobMaster: same JVM here). */
    static final AtomicLong CHECKPOINTS = new AtomicLong();

    /** Split k goes to subtask k; the enumerator's state is the splits not yet assigned. */
    static final class GenEnumerator implements SplitEnumerator<GenSplit, List<GenSplit>> {
        final SplitEnumeratorContext<GenSplit> ctx;
        final TreeMap<Integer, GenSplit> pending = new TreeMap<>();

        GenEnumerator(SplitEnumeratorContext<GenSplit> ctx, List<GenSplit> splits) {
            this.ctx = ctx;
            for (GenSplit s : splits) pending.put(s.k, s);
        }

        @Override public void start() {}
        @Override public void handleSplitRequest(int subtask, String host) {}

        @Override
        public void addSplitsBack(List<GenSplit> splits, int subtask) {
            for (GenSplit s : splits) pending.put(s.k, s);
            if (ctx.registeredReaders().containsKey(subtask)) addReader(subtask);
        }

        @Override
        public void addReader(int subtask) {
            GenSplit s = pending.remove(subtask);
            if (s != null) ctx.assignSplit(s, subtask);
            ctx.signalNoMoreSplits(subtask);
        }

        @Override
        public List<GenSplit> snapshotState(long checkpointId) {
            return new ArrayList<>(pending.values());
        }

        @Override
        public void notifyCheckpointComplete(long checkpointId) {
            CHECKPOINTS.incrementAndGet();
        }

        @Override public void close() {}
    }

    static final class GenReader implements SourceReader<Event, GenSplit> {
        static final int BATCH = 64;
        GenSplit split; // the assigned split; its next index is `next`
        long next;
        boolean noMore;
        CompletableFuture<Void> avail = new CompletableFuture<>();

        @Override public void start() {}

        @Override
        public InputStatus pollNext(ReaderOutput<Event> out) {
            if (split != null) {
                long i = next, step = split.step, n = split.n;
                for (int b = 0; b < BATCH && i < n; b++, i += step) out.collect(gen(i));
                next = i;
                if (i < n) return InputStatus.MORE_AVAILABLE;
                split = null;
            }
            return noMore ? InputStatus.END_OF_INPUT : InputStatus.NOTHING_AVAILABLE;
        }

        @Override
        public List<GenSplit> snapshotState(long checkpointId) {
            if (split == null) return Collections.emptyList();
            return Collections.singletonList(new GenSplit(split.k, next, split.step, split.n));
        }

        @Override
        public CompletableFuture<Void> isAvailable() {
            if (split != null || noMore) return CompletableFuture.completedFuture(null);
            if (avail.isDone()) avail = new CompletableFuture<>();
            return avail;
        }

        @Override
        public void addSplits(List<GenSplit> splits) {
            for (GenSplit s : splits) {
                if (split != null) throw new IllegalStateException("one split per reader");
                split = s;
                next = s.next;
            }
            avail.complete(null);
        }

        @Override
        public void notifyNoMoreSplits() {
            noMore = true;
            avail.complete(null);
        }

        @Override public void close() {}
    }

    public static final class GenSource implements Source<Event, GenSplit, List<GenSplit>> {
        final long n;
        final int p;

        GenSource(long n, int p) {
            this.n = n;
            this.p = p;
        }

        @Override public Boundedness getBoundedness() { return Boundedness.BOUNDED; }

        @Override
        public SplitEnumerator<GenSplit, List<GenSplit>> createEnumerator(SplitEnumeratorContext<GenSplit> ctx) {
            List<GenSplit> l = new ArrayList<>();
            for (int k = 0; k < p; k++) l.add(new GenSplit(k, k, p, n));
            return new GenEnumerator(ctx, l);
        }

        @Override
        public SplitEnumerator<GenSplit, List<GenSplit>> restoreEnumerator(SplitEnumeratorContext<GenSplit> ctx, List<GenSplit> chk) {
            return new GenEnumerator(ctx, chk);
        }

        @Override public SimpleVersionedSerializer<GenSplit> getSplitSerializer() { return new SplitSer(); }
        @Override public SimpleVersionedSerializer<List<GenSplit>> getEnumeratorCheckpointSerializer() { return new EnumSer(); }
        @Override public SourceReader<Event, GenSplit> createReader(SourceReaderContext ctx) { return new GenReader(); }
    }

    // ---------------------------------------------------------------- the aggregation

    /** Accumulator: [count, errors, latSum]. */
    public static final class Agg implements AggregateFunction<Event, long[], long[]> {
        @Override public long[] createAccumulator() { return new long[3]; }

        @Override
        public long[] add(Event e, long[] a) {
            a[0]++;
            if (e.level == 2) a[1]++;
            a[2] += e.latency;
            return a;
        }

        @Override public long[] getResult(long[] a) { return a; }

        @Override
        public long[] merge(long[] a, long[] b) {
            return new long[] {a[0] + b[0], a[1] + b[1], a[2] + b[2]};
        }
    }

    /**
     * Hashes each result (service, start, end, count, errors, latSum) and adds it into two
     * accumulators: results (count) and checksum (wrapping sum; LongCounter adds with Java's
     * wrapping long addition, also when merging the subtasks' values). Emits nothing.
     */
    public static final class Hash extends ProcessWindowFunction<long[], Long, Long, TimeWindow> {
        transient LongCounter results, checksum;

        @Override
        public void open(OpenContext ctx) {
            results = new LongCounter();
            checksum = new LongCounter();
            getRuntimeContext().addAccumulator("results", results);
            getRuntimeContext().addAccumulator("checksum", checksum);
        }

        @Override
        public void process(Long service, Context ctx, Iterable<long[]> in, Collector<Long> out) {
            for (long[] a : in) {
                long r = 0;
                r = mix64(r ^ service);
                r = mix64(r ^ ctx.window().getStart());
                r = mix64(r ^ ctx.window().getEnd());
                r = mix64(r ^ a[0]);
                r = mix64(r ^ a[1]);
                r = mix64(r ^ a[2]);
                results.add(1L);
                checksum.add(r);
            }
        }
    }

    // ---------------------------------------------------------------- main

    public static void main(String[] args) throws Exception {
        String window = "tumbling";
        long n = 100_000;
        int p = 1;
        long ckpt = 0;
        for (int a = 0; a < args.length; a++) {
            String v = a + 1 < args.length ? args[a + 1] : null;
            switch (args[a]) {
                case "--window": window = v; a++; break;
                case "--n": n = Long.parseLong(v); a++; break;
                case "--p": p = Integer.parseInt(v); a++; break;
                case "--checkpoint-ms": ckpt = Long.parseLong(v); a++; break;
                default:
                    System.err.println("usage: FlinkStreamBench --window tumbling|sliding|session --n N --p P [--checkpoint-ms MS]");
                    System.exit(2);
            }
        }

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(p);
        env.getConfig().enableObjectReuse();
        if (ckpt > 0) env.enableCheckpointing(ckpt);

        DataStream<Event> events = env.fromSource(new GenSource(n, p),
                WatermarkStrategy.<Event>forBoundedOutOfOrderness(Duration.ofSeconds(2))
                        .withTimestampAssigner((e, t) -> e.ts),
                "generator");
        KeyedStream<Event, Long> keyed = events.keyBy(e -> e.service);
        WindowedStream<Event, Long, TimeWindow> w;
        switch (window) {
            case "tumbling": w = keyed.window(TumblingEventTimeWindows.of(Duration.ofSeconds(10))); break;
            case "sliding": w = keyed.window(SlidingEventTimeWindows.of(Duration.ofSeconds(60), Duration.ofSeconds(10))); break;
            case "session": w = keyed.window(EventTimeSessionWindows.withGap(Duration.ofSeconds(5))); break;
            default:
                System.err.println("unknown window kind: " + window);
                System.exit(2);
                return;
        }
        w.aggregate(new Agg(), new Hash()).returns(Long.class).sinkTo(new DiscardingSink<>());

        long t0 = System.nanoTime();
        JobExecutionResult res = env.execute("ferrokeeper-stream-bench-" + window);
        long ns = System.nanoTime() - t0;

        Long results = res.getAccumulatorResult("results");
        Long checksum = res.getAccumulatorResult("checksum");
        double secs = ns / 1e9;
        System.out.printf(java.util.Locale.ROOT,
                "{\"engine\":\"flink\",\"window\":\"%s\",\"n\":%d,\"p\":%d,\"checkpoint_ms\":%d,\"results\":%d,"
                        + "\"checksum\":\"%016x\",\"events_per_s\":%.1f,\"elapsed_ms\":%d,\"checkpoints\":%d}%n",
                window, n, p, ckpt, results == null ? 0 : results, checksum == null ? 0 : checksum,
                n / secs, ns / 1_000_000, ckpt > 0 ? CHECKPOINTS.get() : 0);
        System.out.flush();
        System.exit(0);
    }
}
