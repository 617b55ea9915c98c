// Runs Strom's hand-written CEP cases on real Apache Flink (2.3, flink-cep) and writes what
// Flink emitted, case by case, to the file given as the first argument (the format is in
// benchmarks/cep/README.md; crates/strom-cep/tests/flink_cases.rs reads it). Further
// arguments, if any, name the only cases to run. Run by benchmarks/cep/flink-cases.sh.
//
// Every case is one job: parallelism 1, a bounded collection source with monotonous event
// timestamps, a constant key, CEP.pattern(...).inEventTime().process(F). F numbers what it
// emits (matches to the main output, timed-out partial matches to a side output) so that the
// two outputs can be put back into emission order after executeAndCollect.
//
// Keep the cases in step with pattern_for() in crates/strom-cep/tests/flink_cases.rs.

import java.io.PrintWriter;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import java.util.regex.Matcher;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.cep.CEP;
import org.apache.flink.cep.functions.PatternProcessFunction;
import org.apache.flink.cep.functions.TimedOutPartialMatchHandler;
import org.apache.flink.cep.nfa.aftermatch.AfterMatchSkipStrategy;
import org.apache.flink.cep.pattern.Pattern;
import org.apache.flink.cep.pattern.WithinType;
import org.apache.flink.cep.pattern.conditions.IterativeCondition;
import org.apache.flink.cep.pattern.conditions.SimpleCondition;
import org.apache.flink.streaming.api.datastream.DataStream;
import org.apache.flink.streaming.api.datastream.SingleOutputStreamOperator;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.util.CloseableIterator;
import org.apache.flink.util.Collector;
import org.apache.flink.util.OutputTag;

public class CepCases {

  /** The event of every case (a Flink POJO). */
  public static class Event {
    public String name;
    public long value;
    public long ts;

    public Event() {}

    public Event(String name, long value, long ts) {
      this.name = name;
      this.value = value;
      this.ts = ts;
    }

    @Override
    public String toString() {
      return value != 0 ? name + ts + ":" + value : name + ts;
    }
  }

  private static final java.util.regex.Pattern TOKEN =
      java.util.regex.Pattern.compile("([A-Za-z]+)(\\d+)(?::(-?\\d+))?");

  /** "a1 b2:5 c3" -> events; the value defaults to 0. */
  static List<Event> parse(String input) {
    List<Event> out = new ArrayList<>();
    for (String tok : input.trim().split("\\s+")) {
      Matcher m = TOKEN.matcher(tok);
      if (!m.matches()) throw new IllegalArgumentException("bad token " + tok + " in " + input);
      long v = m.group(3) == null ? 0 : Long.parseLong(m.group(3));
      out.add(new Event(m.group(1), v, Long.parseLong(m.group(2))));
    }
    return out;
  }

  static String format(Map<String, List<Event>> match) {
    StringBuilder sb = new StringBuilder();
    for (Map.Entry<String, List<Event>> e : match.entrySet()) {
      sb.append(' ').append(e.getKey()).append("=[");
      boolean first = true;
      for (Event ev : e.getValue()) {
        if (!first) sb.append(',');
        sb.append(ev);
        first = false;
      }
      sb.append(']');
    }
    return sb.toString();
  }

  static final OutputTag<String> TIMED_OUT = new OutputTag<String>("timed-out") {};

  /** Emits "seq<TAB>M ..." for a match and "seq<TAB>T@ts ..." (side output) for a timeout. */
  public static class F extends PatternProcessFunction<Event, String>
      implements TimedOutPartialMatchHandler<Event> {
    private long seq;

    @Override
    public void processMatch(Map<String, List<Event>> match, Context ctx, Collector<String> out) {
      out.collect((seq++) + "\tM" + format(match));
    }

    @Override
    public void processTimedOutMatch(Map<String, List<Event>> match, Context ctx) {
      ctx.output(TIMED_OUT, (seq++) + "\tT@" + ctx.timestamp() + format(match));
    }
  }

  // ---- conditions -------------------------------------------------------------------------

  static SimpleCondition<Event> is(String name) {
    return SimpleCondition.of(e -> e.name.equals(name));
  }

  static SimpleCondition<Event> isAny(String... names) {
    Set<String> set = new HashSet<>(Arrays.asList(names));
    return SimpleCondition.of(e -> set.contains(e.name));
  }

  static SimpleCondition<Event> gt(long v) {
    return SimpleCondition.of(e -> e.value > v);
  }

  interface IterFn extends Serializable {
    boolean test(Event e, IterativeCondition.Context<Event> ctx) throws Exception;
  }

  static IterativeCondition<Event> iter(IterFn f) {
    return new IterativeCondition<Event>() {
      @Override
      public boolean filter(Event e, Context<Event> ctx) throws Exception {
        return f.test(e, ctx);
      }
    };
  }

  static long sum(Iterable<Event> evs) {
    long s = 0;
    for (Event e : evs) s += e.value;
    return s;
  }

  /** The value of the last event, or Long.MIN_VALUE when there is none. */
  static long last(Iterable<Event> evs) {
    long v = Long.MIN_VALUE;
    for (Event e : evs) v = e.value;
    return v;
  }

  static Duration ms(long n) {
    return Duration.ofMillis(n);
  }

  static Pattern<Event, Event> begin(String name) {
    return Pattern.<Event>begin(name);
  }

  static Pattern<Event, Event> begin(String name, AfterMatchSkipStrategy skip) {
    return Pattern.<Event>begin(name, skip);
  }

  // ---- the cases --------------------------------------------------------------------------

  static final class Case {
    final String name;
    final String input;
    final Supplier<Pattern<Event, ?>> pattern;
    final boolean unordered;

    Case(String name, String input, Supplier<Pattern<Event, ?>> pattern, boolean unordered) {
      this.name = name;
      this.input = input;
      this.pattern = pattern;
      this.unordered = unordered;
    }
  }

  static final List<Case> CASES = new ArrayList<>();

  static void add(String name, String input, Supplier<Pattern<Event, ?>> p) {
    CASES.add(new Case(name, input, p, false));
  }

  /** A case whose lines Flink does not emit in a stable order: they are written sorted. */
  static void addUnordered(String name, String input, Supplier<Pattern<Event, ?>> p) {
    CASES.add(new Case(name, input, p, true));
  }

  /** (a|b|c) (b|c) c+.greedy d, the after-match skip example of Flink's documentation. */
  static Pattern<Event, ?> docsSkip(AfterMatchSkipStrategy skip) {
    return begin("x", skip).where(isAny("a", "b", "c"))
        .followedBy("y").where(isAny("b", "c"))
        .followedBy("z").where(is("c")).oneOrMore().greedy()
        .followedBy("w").where(is("d"));
  }

  /** b+ c, the first after-match skip example of Flink's documentation. */
  static Pattern<Event, ?> bPlusC(AfterMatchSkipStrategy skip) {
    return begin("b", skip).where(is("b")).oneOrMore().followedBy("c").where(is("c"));
  }

  /** a b+, the NO_SKIP / SKIP_TO_NEXT example of Flink's documentation. */
  static Pattern<Event, ?> aBPlus(AfterMatchSkipStrategy skip) {
    return begin("a", skip).where(is("a")).followedBy("b").where(is("b")).oneOrMore();
  }

  static void defineCases() {
    // ---- contiguity
    add("next_strict", "a1 c2 b3 a4 b5",
        () -> begin("a").where(is("a")).next("b").where(is("b")));
    add("followed_by_relaxed", "a1 c2 b3 a4 b5",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b")));
    add("followed_by_any", "a1 c2 b3 a4 b5",
        () -> begin("a").where(is("a")).followedByAny("b").where(is("b")));
    add("followed_by_three_stages", "a1 b2 a3 b4 c5",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b"))
            .followedBy("c").where(is("c")));
    add("followed_by_any_three_stages", "a1 b2 a3 b4 c5 c6",
        () -> begin("a").where(is("a")).followedByAny("b").where(is("b"))
            .followedByAny("c").where(is("c")));
    add("next_then_followed_by_any", "a1 b2 x3 c4 a5 x6 b7 c8",
        () -> begin("a").where(is("a")).next("b").where(is("b"))
            .followedByAny("c").where(is("c")));

    // ---- quantifiers
    add("times_first", "a1 a2 x3 a4 b5",
        () -> begin("a").where(is("a")).times(2).followedBy("b").where(is("b")));
    add("times_consecutive", "a1 x2 a3 a4 b5",
        () -> begin("a").where(is("a")).times(2).consecutive().followedBy("b").where(is("b")));
    add("times_middle_strict_neighbours", "s1 a2 x3 a4 e5 s6 a7 a8 a9 e10",
        () -> begin("s").where(is("s")).next("a").where(is("a")).times(2)
            .next("e").where(is("e")));
    add("times_range_middle", "s1 a2 a3 x4 a5 e6",
        () -> begin("s").where(is("s")).followedBy("a").where(is("a")).times(1, 3)
            .followedBy("e").where(is("e")));
    add("times_range_last", "s1 a2 a3 a4 a5",
        () -> begin("s").where(is("s")).followedBy("a").where(is("a")).times(2, 3));
    add("times_zero_to_two", "s1 e2 s3 a4 e5 s6 a7 a8 a9 e10",
        () -> begin("s").where(is("s")).followedBy("a").where(is("a")).times(0, 2)
            .followedBy("e").where(is("e")));
    add("times_or_more_middle", "a1 b2 c3 b4 b5 c6",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b")).timesOrMore(2)
            .followedBy("c").where(is("c")));
    add("times_or_more_first", "b1 b2 b3 c4",
        () -> begin("b").where(is("b")).timesOrMore(2).followedBy("c").where(is("c")));
    add("one_or_more_first", "b1 b2 x3 b4 c5",
        () -> begin("b").where(is("b")).oneOrMore().followedBy("c").where(is("c")));
    add("one_or_more_middle", "a1 b2 x3 b4 c5",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b")).oneOrMore()
            .followedBy("c").where(is("c")));
    add("one_or_more_last", "a1 b2 x3 b4 b5",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b")).oneOrMore());
    add("one_or_more_strict", "a1 b2 b3 c4 a5 x6 b7 c8",
        () -> begin("a").where(is("a")).next("b").where(is("b")).oneOrMore()
            .next("c").where(is("c")));
    add("one_or_more_consecutive", "a1 b2 x3 b4 c5 a6 b7 b8 c9",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b")).oneOrMore().consecutive()
            .followedBy("c").where(is("c")));
    add("one_or_more_allow_combinations", "a1 b2 b3 b4 c5",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b")).oneOrMore()
            .allowCombinations().followedBy("c").where(is("c")));
    add("times_allow_combinations", "a1 b2 b3 b4 c5",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b")).times(2)
            .allowCombinations().followedBy("c").where(is("c")));
    add("one_or_more_followed_by_any", "a1 b2 x3 b4 c5 c6",
        () -> begin("a").where(is("a")).followedByAny("b").where(is("b")).oneOrMore()
            .followedByAny("c").where(is("c")));
    add("optional_middle", "a1 b2 c3 a4 c5",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b")).optional()
            .followedBy("c").where(is("c")));
    add("optional_first", "a1 b2 b3 x4 b5",
        () -> begin("a").where(is("a")).optional().followedBy("b").where(is("b")));
    add("optional_last", "a1 b2 x3 a4",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b")).optional());
    add("optional_strict", "a1 x2 c3 a4 c5 a6 b7 c8",
        () -> begin("a").where(is("a")).next("b").where(is("b")).optional()
            .next("c").where(is("c")));
    add("one_or_more_optional", "a1 c2 a3 b4 b5 c6",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b")).oneOrMore().optional()
            .followedBy("c").where(is("c")));

    // ---- greedy (the next stage's condition overlaps the loop's)
    add("greedy_one_or_more", "a1 b2 b3 b4 c5",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b")).oneOrMore().greedy()
            .followedBy("c").where(isAny("b", "c")));
    add("not_greedy_one_or_more", "a1 b2 b3 b4 c5",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b")).oneOrMore()
            .followedBy("c").where(isAny("b", "c")));
    add("greedy_times_range", "a1 b2 b3 b4 b5 c6",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b")).times(2, 4).greedy()
            .followedBy("c").where(isAny("b", "c")));
    add("greedy_first", "b1 b2 b3 c4",
        () -> begin("b").where(is("b")).oneOrMore().greedy().followedBy("c").where(isAny("b", "c")));
    add("greedy_consecutive_strict", "a1 b2 b3 c4 a5 b6 x7 b8 c9",
        () -> begin("a").where(is("a")).next("b").where(is("b")).oneOrMore().consecutive().greedy()
            .next("c").where(isAny("b", "c")));

    // ---- or / until
    add("or_condition", "x1:5 a2 b3 x4:9 b5 x6:2 b7",
        () -> begin("a").where(is("a")).or(gt(3)).followedBy("b").where(is("b")));
    add("where_and_or", "a1 a2:2 z3 b4 a5:3 b6",
        () -> begin("a").where(is("a")).where(gt(1)).or(is("z")).followedBy("b").where(is("b")));
    add("until_middle", "a1 b2 b3 x4 b5 c6",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b")).oneOrMore().until(is("x"))
            .followedBy("c").where(is("c")));
    add("until_last", "a1 b2 b3 b4:9 b5",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b")).oneOrMore().until(gt(5)));
    add("until_first", "b1 b2 x3 b4 c5",
        () -> begin("b").where(is("b")).oneOrMore().until(is("x")).followedBy("c").where(is("c")));
    add("until_then_next", "a1 b2 b3 c4 a5 b6 x7 c8",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b")).oneOrMore().until(is("x"))
            .next("c").where(is("c")));
    add("times_or_more_until", "a1 b2 x3 b4 b5 c6 a7 b8 b9 b10 x11 b12 c13",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b")).timesOrMore(2)
            .until(is("x")).followedBy("c").where(is("c")));

    // ---- negation
    add("not_next_middle", "a1 x2 b3 a4 c5 b6",
        () -> begin("a").where(is("a")).notNext("x").where(is("x"))
            .followedBy("b").where(is("b")));
    add("not_followed_by_middle", "a1 c2 x3 b4 a5 b6",
        () -> begin("a").where(is("a")).notFollowedBy("x").where(is("x"))
            .followedBy("b").where(is("b")));
    add("not_followed_by_after_loop", "a1 b2 x3 b4 c5 a6 b7 c8",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b")).oneOrMore()
            .notFollowedBy("x").where(is("x")).followedBy("c").where(is("c")));
    add("not_next_last", "a1 b2 a3 c4 a5",
        () -> begin("a").where(is("a")).notNext("b").where(is("b")));
    add("not_followed_by_last_within", "a1 b3 a4 c6 a10 c11",
        () -> begin("a").where(is("a")).notFollowedBy("b").where(is("b")).within(ms(5)));
    add("not_followed_by_last_after_loop_within", "a1 b2 b3 a8 b9 c10 b20",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b")).oneOrMore()
            .notFollowedBy("c").where(is("c")).within(ms(5)));

    // ---- within and timeouts
    add("within_timeout", "a1 c3 b7 a8 b10",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b")).within(ms(5)));
    add("within_boundary", "a1 b6 a7 b11",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b")).within(ms(5)));
    add("within_loop_timeout", "a1 b2 b3 a4 b8 c9",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b")).oneOrMore()
            .followedBy("c").where(is("c")).within(ms(5)));
    add("within_previous_and_current", "a1 b3 c5 a6 b10 c11 a12 b13 c17",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b"))
            .followedBy("c").where(is("c")).within(ms(3), WithinType.PREVIOUS_AND_CURRENT));
    add("within_previous_and_current_loop", "a1 b2 b4 b7 c8",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b")).oneOrMore()
            .followedBy("c").where(is("c")).within(ms(3), WithinType.PREVIOUS_AND_CURRENT));
    add("within_followed_by_any_timeouts", "a1 a2 b3 a4 x9",
        () -> begin("a").where(is("a")).followedByAny("b").where(is("b"))
            .followedBy("c").where(is("c")).within(ms(4)));
    add("within_one_or_more_last", "a1 b2 b3 x9",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b")).oneOrMore()
            .within(ms(5)));
    add("within_called_on_middle_stage", "a1 b2 c9 a10 b11 c12",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b")).within(ms(5))
            .followedBy("c").where(is("c")));
    add("within_previous_and_current_middle", "a1 b5 c20 a21 b23 c40",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b"))
            .within(ms(3), WithinType.PREVIOUS_AND_CURRENT).followedBy("c").where(is("c")));
    add("within_strict_discard", "a1 b2 x3 a4 b5",
        () -> begin("a").where(is("a")).next("b").where(is("b")).next("c").where(is("c"))
            .within(ms(5)));

    // ---- groups
    add("group_times", "a1 b2 a3 b4 c5 a6 b7",
        () -> Pattern.begin(begin("a").where(is("a")).next("b").where(is("b"))).times(2));
    add("group_one_or_more", "a1 b2 a3 b4 c5",
        () -> Pattern.begin(begin("a").where(is("a")).next("b").where(is("b"))).oneOrMore()
            .followedBy("c").where(is("c")));
    add("followed_by_group", "x1 a2 c3 a4 b5 x6 c7 a8 b9",
        () -> begin("x").where(is("x"))
            .followedBy(begin("a").where(is("a")).next("b").where(is("b"))));
    add("next_group", "x1 a2 c3 b4 x5 c6 a7 b8",
        () -> begin("x").where(is("x"))
            .next(begin("a").where(is("a")).followedBy("b").where(is("b"))));
    add("followed_by_any_group", "x1 a2 b3 a4 b5",
        () -> begin("x").where(is("x"))
            .followedByAny(begin("a").where(is("a")).next("b").where(is("b"))));
    add("optional_group", "x1 a2 b3 c4 x5 c6",
        () -> begin("x").where(is("x"))
            .followedBy(begin("a").where(is("a")).next("b").where(is("b"))).optional()
            .followedBy("c").where(is("c")));
    add("group_with_inner_loop", "a1 b2 b3 a4 b5 c6",
        () -> Pattern.begin(begin("a").where(is("a")).followedBy("b").where(is("b")).oneOrMore())
            .times(2).followedBy("c").where(is("c")));

    // ---- after-match skip strategies
    add("skip_bc_no_skip", "b1 b2 b3 c4", () -> bPlusC(AfterMatchSkipStrategy.noSkip()));
    add("skip_bc_to_next", "b1 b2 b3 c4", () -> bPlusC(AfterMatchSkipStrategy.skipToNext()));
    add("skip_bc_past_last", "b1 b2 b3 c4",
        () -> bPlusC(AfterMatchSkipStrategy.skipPastLastEvent()));
    add("skip_bc_to_first_b", "b1 b2 b3 c4",
        () -> bPlusC(AfterMatchSkipStrategy.skipToFirst("b")));
    add("skip_bc_to_last_b", "b1 b2 b3 c4", () -> bPlusC(AfterMatchSkipStrategy.skipToLast("b")));
    add("skip_docs_no_skip", "a1 b2 c3 c4 c5 d6", () -> docsSkip(AfterMatchSkipStrategy.noSkip()));
    add("skip_docs_to_next", "a1 b2 c3 c4 c5 d6",
        () -> docsSkip(AfterMatchSkipStrategy.skipToNext()));
    add("skip_docs_past_last", "a1 b2 c3 c4 c5 d6",
        () -> docsSkip(AfterMatchSkipStrategy.skipPastLastEvent()));
    add("skip_docs_to_first_z", "a1 b2 c3 c4 c5 d6",
        () -> docsSkip(AfterMatchSkipStrategy.skipToFirst("z")));
    add("skip_docs_to_last_z", "a1 b2 c3 c4 c5 d6",
        () -> docsSkip(AfterMatchSkipStrategy.skipToLast("z")));
    add("skip_ab_no_skip", "a1 b2 b3 b4", () -> aBPlus(AfterMatchSkipStrategy.noSkip()));
    add("skip_ab_to_next", "a1 b2 b3 b4", () -> aBPlus(AfterMatchSkipStrategy.skipToNext()));
    add("skip_ab_past_last", "a1 b2 b3 b4",
        () -> aBPlus(AfterMatchSkipStrategy.skipPastLastEvent()));
    add("skip_to_last_middle_stage", "a1 b2 a3 b4 b5 c6 b7 c8",
        () -> begin("a", AfterMatchSkipStrategy.skipToLast("b")).where(is("a"))
            .followedByAny("b").where(is("b")).oneOrMore().followedBy("c").where(is("c")));
    add("skip_to_first_missing_stage", "a1 a2 c3 b4 c5",
        () -> begin("a", AfterMatchSkipStrategy.skipToFirst("b")).where(is("a"))
            .followedBy("b").where(is("b")).optional().followedBy("c").where(is("c")));
    add("skip_to_first_released_by_timeout", "b1 b2 b3 c4 x20",
        () -> bPlusC(AfterMatchSkipStrategy.skipToFirst("b")).within(ms(5)));
    add("skip_past_last_within", "a1 a2 b3 a4 x20",
        () -> begin("a", AfterMatchSkipStrategy.skipPastLastEvent()).where(is("a"))
            .followedBy("b").where(is("b")).within(ms(5)));
    add("skip_past_last_group", "a1 b2 a3 b4 c5 c6",
        () -> Pattern.begin(begin("a").where(is("a")).next("b").where(is("b")),
                AfterMatchSkipStrategy.skipPastLastEvent())
            .oneOrMore().followedBy("c").where(is("c")));
    add("skip_past_last_greedy", "a1 b2 b3 b4 c5 b6 c7",
        () -> begin("a", AfterMatchSkipStrategy.skipPastLastEvent()).where(isAny("a", "b"))
            .followedBy("b").where(is("b")).oneOrMore().greedy()
            .followedBy("c").where(isAny("b", "c")));

    // ---- equal timestamps
    add("equal_ts_next", "a1 b1 a2 b2 b2",
        () -> begin("a").where(is("a")).next("b").where(is("b")));
    add("equal_ts_followed_by_any", "a1 a1 b1 b2",
        () -> begin("a").where(is("a")).followedByAny("b").where(is("b")));
    add("equal_ts_within", "a1 b1 a5 b6 a6 b11",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b")).within(ms(5)));
    add("equal_ts_timeout_boundary", "a1 a6 b6",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b")).within(ms(5)));

    // ---- iterative conditions
    add("iter_greater_than_a", "a1:5 b2:3 b3:7 a4:1 b5:2",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b"))
            .where(iter((e, ctx) -> e.value > last(ctx.getEventsForPattern("a")))));
    add("iter_sum_of_loop", "a1 b2:1 b3:1 b4:3 b5:10 c6",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b")).oneOrMore()
            .where(iter((e, ctx) -> e.value > sum(ctx.getEventsForPattern("b"))))
            .followedBy("c").where(is("c")));
    add("iter_increasing_consecutive", "b1:1 b2:3 b3:2 b4:5 c5",
        () -> begin("b").where(is("b"))
            .where(iter((e, ctx) -> e.value > last(ctx.getEventsForPattern("b"))))
            .oneOrMore().consecutive().followedBy("c").where(is("c")));
    add("iter_until", "a1 b2:2 b3:3 b4:4 c5",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b")).oneOrMore()
            .until(iter((e, ctx) -> e.value + sum(ctx.getEventsForPattern("b")) > 6))
            .followedBy("c").where(is("c")));
    add("iter_or", "a1:2 x2:1 x3:5 b4 a5:9 x6:3 b7",
        () -> begin("a").where(is("a")).followedBy("b").where(is("b"))
            .or(iter((e, ctx) -> e.value > last(ctx.getEventsForPattern("a")))));
  }

  // ---- running -----------------------------------------------------------------------------

  static List<String> run(Case c) throws Exception {
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
    env.setParallelism(1);
    DataStream<Event> events = env.fromData(Event.class, parse(c.input).toArray(new Event[0]))
        .assignTimestampsAndWatermarks(
            WatermarkStrategy.<Event>forMonotonousTimestamps()
                .withTimestampAssigner((e, t) -> e.ts));
    SingleOutputStreamOperator<String> matches =
        CEP.pattern(events.keyBy(e -> 0), c.pattern.get()).inEventTime().process(new F());
    DataStream<String> all = matches.union(matches.getSideOutput(TIMED_OUT));
    List<String[]> got = new ArrayList<>();
    try (CloseableIterator<String> it = all.executeAndCollect(c.name)) {
      while (it.hasNext()) got.add(it.next().split("\t", 2));
    }
    got.sort((x, y) -> Long.compare(Long.parseLong(x[0]), Long.parseLong(y[0])));
    List<String> lines = new ArrayList<>();
    for (String[] g : got) lines.add(g[1]);
    if (c.unordered) Collections.sort(lines);
    return lines;
  }

  public static void main(String[] args) throws Exception {
    if (args.length < 1) {
      System.err.println("usage: CepCases OUT_FILE [CASE...]");
      System.exit(2);
    }
    defineCases();
    Set<String> names = new HashSet<>();
    for (Case c : CASES) {
      if (!names.add(c.name)) throw new IllegalStateException("duplicate case " + c.name);
    }
    Set<String> only = new HashSet<>(Arrays.asList(args).subList(1, args.length));
    for (String o : only) {
      if (!names.contains(o)) throw new IllegalArgumentException("no case " + o);
    }
    long start = System.nanoTime();
    StringBuilder sb = new StringBuilder();
    int ran = 0;
    for (Case c : CASES) {
      if (!only.isEmpty() && !only.contains(c.name)) continue;
      long t0 = System.nanoTime();
      List<String> lines = run(c);
      ran++;
      System.err.printf("%-45s %3d lines %6d ms%n", c.name, lines.size(),
          (System.nanoTime() - t0) / 1_000_000);
      sb.append("== ").append(c.name).append(c.unordered ? " unordered" : "").append('\n');
      sb.append("input: ").append(c.input).append('\n');
      for (String l : lines) sb.append(l).append('\n');
      sb.append('\n');
    }
    try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(Paths.get(args[0]),
        StandardCharsets.UTF_8))) {
      w.print(sb);
    }
    System.err.printf("%d cases in %d ms%n", ran, (System.nanoTime() - start) / 1_000_000);
  }
}
