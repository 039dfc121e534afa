// compat-tests/flink/FlinkHaJob.java - the keyed streaming job of the Flink HA suite.
// A sequence 0,1,2,... (NumberSequenceSource: its position is in the checkpoints), slowed
// down to ~RATE records/s, keyed by n % 3; a KeyedProcessFunction counts the records per
// key in ValueState and appends "n key count" to OUTFILE. With state restored correctly
// every line has count == n / 3 + 1, also after a restore from a checkpoint; a job started
// again from zero would write n = 0 again, a lost state a count that is too small.
//   FlinkHaJob OUTFILE [RATE]
import java.io.FileWriter;
import java.io.IOException;

import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.util.Collector;

public class FlinkHaJob {
    public static void main(String[] args) throws Exception {
        final String out = args[0];
        final long sleepMs = 1000L / (args.length > 1 ? Long.parseLong(args[1]) : 50L);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.setParallelism(1);
        env.enableCheckpointing(1000);
        env.fromSequence(0, Long.MAX_VALUE - 1)
                .map((MapFunction<Long, Long>) n -> {
                    Thread.sleep(sleepMs);
                    return n;
                })
                .keyBy(n -> n % 3)
                .process(new Count(out))
                .sinkTo(new DiscardingSink<>());
        env.execute("ferrokeeper-ha-job");
    }

    static class Count extends KeyedProcessFunction<Long, Long, String> {
        private final String out;
        private transient ValueState<Long> count;

        Count(String out) { this.out = out; }

        @Override
        public void open(org.apache.flink.api.common.functions.OpenContext ctx) {
            count = getRuntimeContext().getState(new ValueStateDescriptor<>("count", Long.class));
        }

        @Override
        public void processElement(Long n, Context ctx, Collector<String> col) throws IOException {
            Long c = count.value();
            long next = (c == null ? 0L : c) + 1;
            count.update(next);
            String line = n + " " + ctx.getCurrentKey() + " " + next;
            try (FileWriter w = new FileWriter(out, true)) {
                w.write(line + "\n");
            }
            col.collect(line);
        }
    }
}
