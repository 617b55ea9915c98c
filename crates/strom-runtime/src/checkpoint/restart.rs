//! Restart strategies: whether and when a failed job restarts from its latest completed
//! checkpoint (Flink's fixed-delay, exponential-delay and failure-rate strategies).

use std::time::{Duration, Instant};

/// What happens when a task fails.
#[derive(Clone, Debug, PartialEq)]
pub enum RestartStrategy {
    /// Fail the job.
    NoRestart,
    /// Restart up to `attempts` times, waiting `delay` before each.
    FixedDelay {
        /// Restarts allowed in total.
        attempts: u32,
        /// Wait before each restart.
        delay: Duration,
    },
    /// Wait `initial`, then `multiplier` times longer after each further failure, at most
    /// `max`; the delay falls back to `initial` after `reset_after` without failure.
    ExponentialBackoff {
        /// First delay.
        initial: Duration,
        /// Longest delay.
        max: Duration,
        /// Growth per failure.
        multiplier: f64,
        /// A run this long without failure resets the delay.
        reset_after: Duration,
        /// Restarts allowed in total (`u32::MAX`: unlimited).
        attempts: u32,
    },
    /// Restart unless more than `max_failures` failures happened within `interval`.
    FailureRate {
        /// Failures tolerated per interval.
        max_failures: u32,
        /// The measuring interval.
        interval: Duration,
        /// Wait before each restart.
        delay: Duration,
    },
}

impl Default for RestartStrategy {
    /// Flink's default with checkpointing: exponential delay from 1 s up to 1 min.
    fn default() -> Self {
        RestartStrategy::ExponentialBackoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            multiplier: 2.0,
            reset_after: Duration::from_secs(3600),
            attempts: u32::MAX,
        }
    }
}

/// The bookkeeping of one job's restarts.
#[derive(Debug)]
pub struct RestartTracker {
    strategy: RestartStrategy,
    restarts: u32,
    failures: Vec<Instant>,
    delay: Option<Duration>,
    last_start: Instant,
}

impl RestartTracker {
    /// A tracker for `strategy`, the job having just started.
    pub fn new(strategy: RestartStrategy) -> Self {
        RestartTracker {
            strategy,
            restarts: 0,
            failures: Vec::new(),
            delay: None,
            last_start: Instant::now(),
        }
    }

    /// Restarts so far.
    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    /// A failure happened now: the delay before restarting, or `None` to give up.
    pub fn on_failure(&mut self) -> Option<Duration> {
        let now = Instant::now();
        let delay = match &self.strategy {
            RestartStrategy::NoRestart => return None,
            RestartStrategy::FixedDelay { attempts, delay } => {
                if self.restarts >= *attempts {
                    return None;
                }
                *delay
            }
            RestartStrategy::ExponentialBackoff {
                initial,
                max,
                multiplier,
                reset_after,
                attempts,
            } => {
                if self.restarts >= *attempts {
                    return None;
                }
                let next = match self.delay {
                    Some(d) if now.duration_since(self.last_start) < *reset_after => {
                        d.mul_f64(multiplier.max(1.0)).min(*max)
                    }
                    _ => *initial,
                };
                self.delay = Some(next);
                next
            }
            RestartStrategy::FailureRate {
                max_failures,
                interval,
                delay,
            } => {
                self.failures.push(now);
                self.failures
                    .retain(|t| now.duration_since(*t) <= *interval);
                if self.failures.len() > *max_failures as usize {
                    return None;
                }
                *delay
            }
        };
        self.restarts += 1;
        Some(delay)
    }

    /// The job (re)started now.
    pub fn started(&mut self) {
        self.last_start = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_delay_gives_up_after_attempts() {
        let mut t = RestartTracker::new(RestartStrategy::FixedDelay {
            attempts: 2,
            delay: Duration::from_millis(5),
        });
        assert_eq!(t.on_failure(), Some(Duration::from_millis(5)));
        assert_eq!(t.on_failure(), Some(Duration::from_millis(5)));
        assert_eq!(t.on_failure(), None);
        assert_eq!(t.restarts(), 2);
    }

    #[test]
    fn exponential_backoff_grows_to_max() {
        let mut t = RestartTracker::new(RestartStrategy::ExponentialBackoff {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(35),
            multiplier: 2.0,
            reset_after: Duration::from_secs(60),
            attempts: 10,
        });
        let d: Vec<_> = (0..4).filter_map(|_| t.on_failure()).collect();
        assert_eq!(d, [10, 20, 35, 35].map(Duration::from_millis).to_vec());
    }

    #[test]
    fn failure_rate_counts_within_interval() {
        let mut t = RestartTracker::new(RestartStrategy::FailureRate {
            max_failures: 2,
            interval: Duration::from_secs(60),
            delay: Duration::ZERO,
        });
        assert!(t.on_failure().is_some());
        assert!(t.on_failure().is_some());
        assert!(t.on_failure().is_none());
        assert!(!matches!(
            RestartStrategy::default(),
            RestartStrategy::NoRestart
        ));
    }
}
