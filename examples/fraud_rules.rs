//! Fraud detection on logins with rules that change while the job runs (the broadcast state
//! pattern).
//!
//! Logins are keyed by user; each user's recent failed logins live in keyed state. Rule
//! changes (how many failures within how long raise an alert, which countries are blocked)
//! arrive on a second stream that is broadcast to every subtask, where the current rules live
//! in broadcast state. A [`KeyedBroadcastProcessFunction`] applies the current rules to each
//! login; when the failure limit changes, its broadcast side visits every user's state
//! (`apply_to_keyed_state`) to apply the new limit to the failures already counted.
//!
//! The inputs are generated. So that the demo prints the same alerts on every run, the two
//! generated sources pace each other (handshakes through [`Progress`]): a rule change is sent
//! once the logins before it were processed, and the logins after it wait until every
//! subtask has applied it. In a real job rules arrive whenever someone edits them, and which
//! logins see a change first depends on timing, as in Flink.
//!
//! `cargo run --example fraud_rules`

use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use strom::prelude::*;
use strom::process::{KeyedBroadcastContext, KeyedBroadcastProcessFunction, KeyedReadOnlyContext};

/// A login attempt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Login {
    /// Who tried to log in.
    pub user: String,
    /// When (event time, ms).
    pub ts: i64,
    /// Whether the password was right.
    pub success: bool,
    /// Where the attempt came from (ISO code; `XA` and `XB` are made up).
    pub country: String,
}

/// How many failed logins within how long raise an alert.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailureLimit {
    /// Failures that raise an alert.
    pub count: usize,
    /// The window they must fall in (ms).
    pub within_ms: i64,
}

/// A rule change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Rule {
    /// Replace the failure limit.
    MaxFailures(FailureLimit),
    /// Alert on every login from this country.
    Block(String),
    /// Stop alerting on logins from this country.
    Unblock(String),
}

/// A rule change and when it was made (event time, ms).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleChange {
    /// When the change was made.
    pub at_ms: i64,
    /// The change.
    pub rule: Rule,
}

/// A suspicious login, or a user found over a lowered limit.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Alert {
    /// When (event time, ms).
    pub ts: i64,
    /// Whom it is about.
    pub user: String,
    /// Why.
    pub reason: String,
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "t={:>4}s  ALERT {:<4} {}",
            self.ts / 1000,
            self.user,
            self.reason
        )
    }
}

impl fmt::Display for RuleChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match &self.rule {
            Rule::MaxFailures(l) => format!(
                "alert on {} failed logins within {} s",
                l.count,
                l.within_ms / 1000
            ),
            Rule::Block(c) => format!("block {c}"),
            Rule::Unblock(c) => format!("unblock {c}"),
        };
        write!(f, "t={:>4}s  RULE  {what}", self.at_ms / 1000)
    }
}

/// The logins the generator replays, one every 5 s: (user, succeeded, country).
const SCRIPT: [(&str, bool, &str); 39] = [
    ("ann", true, "DE"), // 0 s
    ("bob", false, "FR"),
    ("cid", true, "US"),
    ("dee", true, "XA"), // blocked country
    ("bob", false, "FR"),
    ("ann", false, "DE"), // 25 s
    ("bob", false, "FR"),
    ("ann", false, "DE"),
    ("cid", true, "XB"),  // not blocked yet
    ("bob", false, "FR"), // bob's 4th failure within 60 s
    ("ann", false, "DE"), // 50 s: ann's 3rd failure, under the limit of 4
    ("dee", true, "DE"),
    // 60 s: the limit drops to 3 failures: ann is over it
    ("ann", true, "DE"),
    ("bob", true, "FR"),
    ("dee", false, "DE"),
    ("cid", true, "US"), // 75 s
    ("dee", false, "DE"),
    ("ann", false, "DE"),
    ("dee", false, "DE"), // dee's 3rd failure within 60 s
    ("bob", true, "FR"),
    // 100 s: XB is blocked
    ("cid", true, "XB"),
    ("ann", true, "DE"),
    ("bob", false, "XB"),
    ("dee", true, "DE"),
    ("cid", true, "US"), // 120 s
    ("ann", true, "XA"),
    // 130 s: XA is unblocked
    ("dee", true, "XA"),
    ("bob", false, "FR"),
    ("cid", true, "US"),
    ("ann", false, "DE"), // 145 s
    ("bob", false, "FR"), // bob's 3rd failure within 60 s
    ("dee", true, "DE"),
    // 160 s: 2 failures within 20 s raise an alert
    ("ann", false, "DE"),
    ("cid", false, "US"),
    ("dee", true, "DE"),
    ("bob", true, "FR"), // 175 s
    ("ann", true, "DE"),
    ("cid", false, "US"), // 20 s after cid's last failure: outside the window
    ("cid", false, "US"),
];

/// Logins generated.
pub const LOGINS: u64 = SCRIPT.len() as u64;

/// Login `i` (`i < LOGINS`), at `i * 5` s.
pub fn login(i: u64) -> Login {
    let (user, success, country) = SCRIPT[i as usize];
    Login {
        user: user.to_string(),
        ts: i as i64 * 5_000,
        success,
        country: country.to_string(),
    }
}

/// The rule changes, each with the index of the first login that must see it.
pub fn rule_schedule() -> Vec<(u64, RuleChange)> {
    let change = |before: u64, rule| {
        (
            before,
            RuleChange {
                at_ms: login(before).ts,
                rule,
            },
        )
    };
    let limit = |count, secs: i64| {
        Rule::MaxFailures(FailureLimit {
            count,
            within_ms: secs * 1000,
        })
    };
    vec![
        change(0, limit(4, 60)),
        change(0, Rule::Block("XA".into())),
        // Tightened: users who already have 3 recent failures are flagged at once.
        change(12, limit(3, 60)),
        change(20, Rule::Block("XB".into())),
        change(26, Rule::Unblock("XA".into())),
        change(32, limit(2, 20)),
    ]
}

/// Demo pacing (see the module docs): logins processed, and rule changes applied (each
/// counts once per subtask).
#[derive(Clone, Default)]
pub struct Progress {
    logins: Arc<AtomicUsize>,
    rules: Arc<AtomicUsize>,
}

impl Progress {
    fn wait(counter: &AtomicUsize, n: usize) {
        let start = Instant::now();
        while counter.load(Ordering::SeqCst) < n {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "demo handshake timed out"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

const LIMIT: &str = "failures";

/// Applies the current rules to each user's logins.
#[derive(Clone)]
pub struct FraudRules {
    /// Broadcast: the failure limit, under the key `"failures"`.
    limit: MapStateDescriptor<String, FailureLimit>,
    /// Broadcast: the blocked countries.
    blocked: MapStateDescriptor<String, ()>,
    /// Keyed: the user's recent failed logins (event times, oldest first).
    failures: ValueStateDescriptor<Vec<i64>>,
    progress: Progress,
}

impl FraudRules {
    /// The function, reporting its progress to `progress`.
    pub fn new(progress: Progress) -> Self {
        FraudRules {
            limit: MapStateDescriptor::new("limit"),
            blocked: MapStateDescriptor::new("blocked"),
            failures: ValueStateDescriptor::new("failures"),
            progress,
        }
    }

    fn check(
        &mut self,
        login: &Login,
        ctx: &mut KeyedReadOnlyContext<'_, '_, String>,
    ) -> Result<Vec<Alert>, BoxError> {
        let mut alerts = Vec::new();
        let alert = |reason: String| Alert {
            ts: login.ts,
            user: login.user.clone(),
            reason,
        };
        if ctx
            .broadcast_state(&self.blocked)?
            .contains_key(&login.country)
        {
            alerts.push(alert(format!(
                "login from blocked country {}",
                login.country
            )));
        }
        let limit = ctx.broadcast_state(&self.limit)?.get(LIMIT).copied();
        if let Some(limit) = limit
            && !login.success
        {
            let mut state = ctx.keyed.value_state(&self.failures);
            let mut recent = state.value()?.unwrap_or_default();
            recent.retain(|&t| t > login.ts - limit.within_ms);
            recent.push(login.ts);
            if recent.len() >= limit.count {
                alerts.push(alert(format!(
                    "{} failed logins within {} s",
                    recent.len(),
                    limit.within_ms / 1000
                )));
                state.clear()?;
            } else {
                state.update(recent)?;
            }
        }
        Ok(alerts)
    }
}

impl KeyedBroadcastProcessFunction<String, Login, RuleChange, Alert> for FraudRules {
    fn process_element(
        &mut self,
        login: Login,
        ctx: &mut KeyedReadOnlyContext<'_, '_, String>,
        out: &mut Collector<'_, Alert>,
    ) -> Result<(), BoxError> {
        let alerts = self.check(&login, ctx);
        self.progress.logins.fetch_add(1, Ordering::SeqCst);
        for a in alerts? {
            out.collect(a);
        }
        Ok(())
    }

    fn process_broadcast_element(
        &mut self,
        change: RuleChange,
        ctx: &mut KeyedBroadcastContext<'_, String>,
        out: &mut Collector<'_, Alert>,
    ) -> Result<(), BoxError> {
        match change.rule {
            Rule::MaxFailures(limit) => {
                ctx.broadcast_state(&self.limit)?
                    .insert(LIMIT.to_string(), limit);
                // Apply the new limit to the failures every user already has: forget those
                // outside the new window, and flag (and reset) users already over it.
                ctx.apply_to_keyed_state(&self.failures, |user, mut state| {
                    let mut recent = state.value()?.unwrap_or_default();
                    recent.retain(|&t| t > change.at_ms - limit.within_ms);
                    if recent.len() >= limit.count {
                        out.collect(Alert {
                            ts: change.at_ms,
                            user: user.clone(),
                            reason: format!(
                                "{} failed logins within {} s (under the new limit)",
                                recent.len(),
                                limit.within_ms / 1000
                            ),
                        });
                        state.clear()
                    } else if recent.is_empty() {
                        state.clear()
                    } else {
                        state.update(recent)
                    }
                })?;
            }
            Rule::Block(country) => {
                ctx.broadcast_state(&self.blocked)?.insert(country, ());
            }
            Rule::Unblock(country) => {
                ctx.broadcast_state(&self.blocked)?.remove(&country);
            }
        }
        self.progress.rules.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// Run the job at `parallelism` and return its alerts in time order (by time, user, reason).
pub fn fraud_alerts(parallelism: usize) -> Result<Vec<Alert>, StromError> {
    // Buffers of one record, so that a source waiting in a handshake has sent everything
    // before the record it waits at.
    let env = StreamEnv::new()
        .with_parallelism(parallelism)
        .with_buffer_size(1);
    let progress = Progress::default();
    let schedule = rule_schedule();

    // Login i waits until every subtask applied the rule changes scheduled before it.
    let (pacing, rules_before) = (progress.clone(), schedule.clone());
    let logins = env
        .generate(Some(LOGINS), move |i| {
            let due = rules_before
                .iter()
                .filter(|(before, _)| *before <= i)
                .count();
            Progress::wait(&pacing.rules, due * parallelism);
            login(i)
        })
        .set_parallelism(1)
        .name("Source: Logins");
    // A rule change waits until the logins before it were processed.
    let pacing = progress.clone();
    let rules = env
        .generate(Some(schedule.len() as u64), move |j| {
            let (before, change) = &schedule[j as usize];
            Progress::wait(&pacing.logins, *before as usize);
            change.clone()
        })
        .set_parallelism(1)
        .name("Source: Rules");

    let alerts = logins
        .key_by(|l: &Login| l.user.clone())
        .connect_broadcast(rules.broadcast_stream())
        .process(FraudRules::new(progress))
        .collect();
    env.execute("fraud rules")?;
    let mut alerts = alerts.take();
    alerts.sort();
    Ok(alerts)
}

fn main() -> Result<(), BoxError> {
    let alerts = fraud_alerts(2)?;
    // Print a timeline: rule changes and alerts by time (a rule before the alerts it raised).
    let mut timeline: Vec<(i64, u8, String)> = rule_schedule()
        .into_iter()
        .map(|(_, c)| (c.at_ms, 0, c.to_string()))
        .collect();
    timeline.extend(alerts.iter().map(|a| (a.ts, 1, a.to_string())));
    timeline.sort();
    for (_, _, line) in timeline {
        println!("{line}");
    }
    println!("{} alerts over {LOGINS} logins", alerts.len());
    Ok(())
}
