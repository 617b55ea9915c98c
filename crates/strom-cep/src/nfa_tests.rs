//! NFA-level tests: the shared buffer's memory follows the live partial matches, and
//! runs, matches and timeouts on small sequences (Flink's semantics; the suite in
//! `tests/flink_cases.rs` checks many more shapes against real Flink).

#![allow(clippy::unwrap_used)]

use crate::compiler::compile;
use crate::nfa::{NfaRuns, Output};
use crate::{AfterMatchSkipStrategy, Match, Pattern};
use std::time::Duration;

type Ev = (char, i64);

/// Feed `(name, ts)` events in order, advancing time before each (as the operator does);
/// returns matches and timeouts rendered as `a1 b2` strings.
fn run(p: &Pattern<Ev>, events: &[Ev], end: i64) -> (Vec<String>, Vec<String>, NfaRuns<Ev>) {
    let nfa = compile(p).unwrap();
    let mut runs = NfaRuns::new(&nfa);
    let mut o = Output::default();
    for (seq, e) in events.iter().enumerate() {
        runs.advance_time(&nfa, e.1, &mut o).unwrap();
        runs.process(&nfa, *e, e.1, seq as u64, 0, &mut o).unwrap();
    }
    runs.advance_time(&nfa, end, &mut o).unwrap();
    let show = |m: &Match<Ev>| {
        m.events()
            .map(|(c, t)| format!("{c}{t}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let matches = o.matches.iter().map(show).collect();
    let timeouts = o
        .timeouts
        .iter()
        .map(|(m, at)| format!("{}@{at}", show(m)))
        .collect();
    (matches, timeouts, runs)
}

fn is(c: char) -> impl Fn(&Ev) -> bool + Send + Sync + 'static {
    move |e: &Ev| e.0 == c
}

#[test]
fn strict_and_relaxed_contiguity() {
    let events = [('a', 1), ('x', 2), ('b', 3)];
    let strict = Pattern::begin("a")
        .where_(is('a'))
        .next("b")
        .where_(is('b'));
    assert!(run(&strict, &events, 10).0.is_empty());
    let relaxed = Pattern::begin("a")
        .where_(is('a'))
        .followed_by("b")
        .where_(is('b'));
    assert_eq!(run(&relaxed, &events, 10).0, vec!["a1 b3"]);
}

#[test]
fn followed_by_any_branches_on_every_later_event() {
    let events = [('a', 1), ('b', 2), ('b', 3)];
    let any = Pattern::begin("a")
        .where_(is('a'))
        .followed_by_any("b")
        .where_(is('b'));
    assert_eq!(run(&any, &events, 10).0, vec!["a1 b2", "a1 b3"]);
    let next = Pattern::begin("a")
        .where_(is('a'))
        .followed_by("b")
        .where_(is('b'));
    assert_eq!(run(&next, &events, 10).0, vec!["a1 b2"]);
}

#[test]
fn skip_past_last_event_prunes_overlapping_runs() {
    let events = [('b', 1), ('b', 2), ('b', 3), ('c', 4)];
    let p = |skip| {
        Pattern::begin_with_skip("b", skip)
            .where_(is('b'))
            .one_or_more()
            .followed_by("c")
            .where_(is('c'))
    };
    let no_skip = run(&p(AfterMatchSkipStrategy::no_skip()), &events, 10).0;
    assert_eq!(
        no_skip,
        vec![
            "b1 b2 b3 c4",
            "b1 b2 c4",
            "b1 c4",
            "b2 b3 c4",
            "b2 c4",
            "b3 c4"
        ]
    );
    let past = run(
        &p(AfterMatchSkipStrategy::skip_past_last_event()),
        &events,
        10,
    )
    .0;
    assert_eq!(past, vec!["b1 b2 b3 c4"]);
}

#[test]
fn within_times_out_partial_matches_and_frees_their_events() {
    let p = Pattern::begin("a")
        .where_(is('a'))
        .followed_by("b")
        .where_(is('b'))
        .within(Duration::from_millis(10));
    // a1 times out at 11 (b at 11 is too late: 11 - 1 >= 10); a5 matches b11.
    let (m, t, runs) = run(&p, &[('a', 1), ('a', 5), ('b', 11)], 100);
    assert_eq!(m, vec!["a5 b11"]);
    assert_eq!(t, vec!["a1@11"]);
    assert!(runs.is_idle(), "nothing may stay buffered");
}

#[test]
fn shared_buffer_stays_linear_in_live_partial_matches() {
    // One `a` every ms, a `b` every 1000 ms, window 50 ms: at most ~50 partial matches
    // are alive at any time, however long the stream runs.
    let p = Pattern::begin("a")
        .where_(is('a'))
        .followed_by("b")
        .where_(is('b'))
        .within(Duration::from_millis(50));
    let nfa = compile(&p).unwrap();
    let mut runs = NfaRuns::new(&nfa);
    let mut o = Output::default();
    let mut peak = (0, 0, 0);
    for ts in 0..100_000i64 {
        let e = if ts % 1000 == 999 {
            ('b', ts)
        } else {
            ('a', ts)
        };
        runs.advance_time(&nfa, ts, &mut o).unwrap();
        runs.process(&nfa, e, ts, ts as u64, 0, &mut o).unwrap();
        let (ev, nodes) = runs.buffer_sizes();
        peak = (
            peak.0.max(runs.live_runs()),
            peak.1.max(ev),
            peak.2.max(nodes),
        );
        o.matches.clear();
        o.timeouts.clear();
    }
    assert!(peak.0 <= 51, "live runs {peak:?}");
    assert!(peak.1 <= 51 && peak.2 <= 51, "buffer {peak:?}");
    runs.advance_time(&nfa, i64::MAX, &mut o).unwrap();
    assert!(runs.is_idle());
}

#[test]
fn a_run_reaching_a_stop_state_is_discarded() {
    let p = Pattern::begin("a")
        .where_(is('a'))
        .not_followed_by("x")
        .where_(is('x'))
        .followed_by("b")
        .where_(is('b'));
    assert!(run(&p, &[('a', 1), ('x', 2), ('b', 3)], 10).0.is_empty());
    assert_eq!(
        run(&p, &[('a', 1), ('y', 2), ('b', 3)], 10).0,
        vec!["a1 b3"]
    );
}

#[test]
fn trailing_not_followed_by_completes_when_the_window_passes() {
    let p = Pattern::begin("a")
        .where_(is('a'))
        .not_followed_by("x")
        .where_(is('x'))
        .within(Duration::from_millis(10));
    let (m, t, _) = run(&p, &[('a', 1), ('a', 3), ('x', 5)], 100);
    // a1 and a3 are both cancelled by x5; a later a20 survives its window.
    assert!(m.is_empty() && t.is_empty(), "{m:?} {t:?}");
    let (m, _, _) = run(&p, &[('a', 1), ('x', 12), ('a', 20)], 100);
    assert_eq!(m, vec!["a1", "a20"]);
}

#[test]
fn malformed_patterns_are_rejected_with_a_reason() {
    let e = Pattern::<Ev>::begin("a")
        .until(is('x'))
        .validate()
        .unwrap_err();
    assert!(
        e.to_string().contains("until applies only to looping"),
        "{e}"
    );
    let e = Pattern::<Ev>::begin("a")
        .not_followed_by("x")
        .validate()
        .unwrap_err();
    assert!(e.to_string().contains("needs a window"), "{e}");
    let e = Pattern::<Ev>::begin("a")
        .followed_by("a")
        .validate()
        .unwrap_err();
    assert!(e.to_string().contains("duplicate stage name 'a'"), "{e}");
    let e = Pattern::<Ev>::begin_with_skip("a", AfterMatchSkipStrategy::skip_to_first("z"))
        .validate()
        .unwrap_err();
    assert!(e.to_string().contains("'z'"), "{e}");
}
