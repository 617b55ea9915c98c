// Flink's side of Strom's CEP benchmark (issue #7): the events and the pattern of
// `strom bench cep` (src/cli/bench_cep.rs) in the DataStream API with flink-cep, counting the
// matches. Run by benchmarks/cep/compare-flink.sh; see benchmarks/cep/BENCH.md.
//
// usage: CepBench [--events N] [--keys K] [--p P] [--pattern strict|relaxed]
//                 [--disorder-ms D] [--checkpoint-ms MS]
//
// Event g (0 <= g < N): key g % K, timestamp BASE + g + jitter(g) ms (jitter < D < K, so a
// key's events stay in timestamp order), value 15 + (h & 0xFFFF) / 65536 * 15 with
// h = g * 0x9E3779B97F4A7C15, h ^= h >>> 31. DataGeneratorSource gives each of the P subtasks
// a contiguous index range; index i is mapped to g = (i % chunk) * P + i / chunk, so that
// subtask j produces g = j, j + P, j + 2P, ... in order: the stride Strom's generator uses,
// hence the same events per subtask and in-order timestamps per subtask (N must be a
// multiple of P). Watermarks: WatermarkStrategy.forBoundedOutOfOrderness(D ms), emitted every
// 200 ms (Flink's default), so no event is late.
//
// Pattern: begin("a", skipPastLastEvent()).next("b").where(b.value > every a.value)
//          .next("c").where(c.value > every b.value).within(1 minute)
//          (followedBy instead of next with --pattern relaxed), keyed by key, in event time.
// Every match becomes one record (a's timestamp); a chained map counts them in an accumulator
// (the CEP operator's own context has none) before a DiscardingSink. Prints to stdout: "MATCHES=<n> NET_RUNTIME_MS=<ms> TOTAL_MS=<ms>".

import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.apache.flink.api.common.JobExecutionResult;
import org.apache.flink.api.common.accumulators.LongCounter;
import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.cep.CEP;
import org.apache.flink.cep.functions.PatternProcessFunction;
import org.apache.flink.cep.nfa.aftermatch.AfterMatchSkipStrategy;
import org.apache.flink.cep.pattern.Pattern;
import org.apache.flink.cep.pattern.conditions.IterativeCondition;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.connector.datagen.source.DataGeneratorSource;
import org.apache.flink.connector.datagen.source.GeneratorFunction;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.apache.flink.util.Collector;

public class CepBench {

  /** Event time of event 0 (2024-01-01T00:00:00Z), as in Strom's benchmark. */
  static final long BASE_TS = 1704067200000L;

  /** A generated event (a Flink POJO: public fields, no-arg constructor). */
  public static class Ev {
    public int key;
    public long ts;
    public double value;

    public Ev() {}

    public Ev(int key, long ts, double value) {
      this.key = key;
      this.ts = ts;
      this.value = value;
    }
  }

  /** Event g of the sequence (the same function as bench_cep.rs's event()). */
  static Ev event(long g, int keys, long disorderMs) {
    long h = g * 0x9E3779B97F4A7C15L;
    h ^= (h >>> 31);
    long jitter = disorderMs > 0 ? (h >>> 32) % disorderMs : 0;
    return new Ev((int) (g % keys), BASE_TS + g + jitter, 15.0 + (h & 0xFFFF) / 65536.0 * 15.0);
  }

  /** Index i of the generator -> sequence number g (stride per subtask, as Strom). */
  public static class Gen implements GeneratorFunction<Long, Ev> {
    final long chunk;
    final int p;
    final int keys;
    final long disorderMs;

    Gen(long chunk, int p, int keys, long disorderMs) {
      this.chunk = chunk;
      this.p = p;
      this.keys = keys;
      this.disorderMs = disorderMs;
    }

    @Override
    public Ev map(Long i) {
      long g = (i % chunk) * p + i / chunk;
      return event(g, keys, disorderMs);
    }
  }

  /** Every event of stage `prev` has a lower value than the event tested. */
  public static class Higher extends IterativeCondition<Ev> {
    final String prev;

    Higher(String prev) {
      this.prev = prev;
    }

    @Override
    public boolean filter(Ev e, Context<Ev> ctx) throws Exception {
      for (Ev x : ctx.getEventsForPattern(prev)) {
        if (!(e.value > x.value)) {
          return false;
        }
      }
      return true;
    }
  }

  /** One record per match: its first event's timestamp. */
  public static class FirstTs extends PatternProcessFunction<Ev, Long> {
    @Override
    public void processMatch(Map<String, List<Ev>> match, Context ctx, Collector<Long> out) {
      out.collect(match.get("a").get(0).ts);
    }
  }

  /** Counts the records in an accumulator (the CEP operator's context has none). */
  public static class Count extends RichMapFunction<Long, Long> {
    private final LongCounter matches = new LongCounter();

    @Override
    public void open(OpenContext ctx) throws Exception {
      getRuntimeContext().addAccumulator("matches", matches);
    }

    @Override
    public Long map(Long v) {
      matches.add(1L);
      return v;
    }
  }

  static Pattern<Ev, Ev> pattern(boolean relaxed) {
    Pattern<Ev, Ev> p = Pattern.begin("a", AfterMatchSkipStrategy.skipPastLastEvent());
    p = (relaxed ? p.followedBy("b") : p.next("b")).where(new Higher("a"));
    p = (relaxed ? p.followedBy("c") : p.next("c")).where(new Higher("b"));
    return p.within(Duration.ofMinutes(1));
  }

  public static void main(String[] args) throws Exception {
    long t0 = System.nanoTime();
    long events = 10_000_000L, disorderMs = 100, checkpointMs = 0;
    int keys = 1000, p = 1;
    boolean relaxed = false;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--events": events = Long.parseLong(args[++i]); break;
        case "--keys": keys = Integer.parseInt(args[++i]); break;
        case "--p": p = Integer.parseInt(args[++i]); break;
        case "--pattern":
          String s = args[++i];
          if (!s.equals("strict") && !s.equals("relaxed")) {
            throw new IllegalArgumentException("--pattern strict|relaxed, not " + s);
          }
          relaxed = s.equals("relaxed");
          break;
        case "--disorder-ms": disorderMs = Long.parseLong(args[++i]); break;
        case "--checkpoint-ms": checkpointMs = Long.parseLong(args[++i]); break;
        default: throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    if (p < 1 || keys < 1 || events % p != 0 || disorderMs < 0 || disorderMs >= keys) {
      System.err.println("need p >= 1, keys >= 1, events % p == 0, 0 <= disorder-ms < keys");
      System.exit(2);
    }
    Configuration conf = new Configuration();
    conf.setString("parallelism.default", String.valueOf(p));
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
    if (checkpointMs > 0) {
      env.enableCheckpointing(checkpointMs); // hashmap state, JobManager checkpoint storage
    }
    long chunk = events / p;
    DataStream<Ev> input = env
        .fromSource(
            new DataGeneratorSource<>(new Gen(chunk, p, keys, disorderMs), events,
                TypeInformation.of(Ev.class)),
            WatermarkStrategy.noWatermarks(), "generator")
        .assignTimestampsAndWatermarks(
            WatermarkStrategy.<Ev>forBoundedOutOfOrderness(Duration.ofMillis(disorderMs))
                .withTimestampAssigner((e, prev) -> e.ts))
        .name("watermarks");
    CEP.pattern(input.keyBy(e -> e.key), pattern(relaxed))
        .inEventTime()
        .process(new FirstTs())
        .name("cep")
        .map(new Count())
        .name("count")
        .sinkTo(new DiscardingSink<>())
        .name("discard");
    JobExecutionResult res = env.execute("CepBench");
    Long matches = res.getAccumulatorResult("matches");
    System.out.println("MATCHES=" + (matches == null ? 0 : matches)
        + " NET_RUNTIME_MS=" + res.getNetRuntime()
        + " TOTAL_MS=" + (System.nanoTime() - t0) / 1_000_000);
    System.exit(0);
  }
}
