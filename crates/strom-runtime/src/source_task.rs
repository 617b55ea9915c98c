//! The task of a source subtask: polls its [`SourceReader`] and pushes batches into the
//! chain, with an optional rate limit, periodic flushing and dead-letter routing.

use crate::downstream::Outputs;
use crate::metrics::OperatorMetrics;
use crate::operator::guarded;
use crate::task::{TaskEnv, TaskRunner};
use std::sync::Arc;
use std::time::{Duration, Instant};
use strom_core::{
    DeadLetter, ReadStatus, Result, SourceOutput, SourceReader, StromError, TaskInfo,
};
use strom_types::{Record, Watermark};

/// The name of the well-known dead-letter side output of every source.
pub const DEAD_LETTER_TAG: &str = "strom.dead-letters";

/// The tag id of the dead-letter side output.
pub fn dead_letter_tag_id() -> u64 {
    strom_core::OutputTag::<DeadLetter>::new(DEAD_LETTER_TAG).id()
}

/// Emits at most `rate` records per second, spread evenly.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    start: Instant,
    emitted: u64,
}

impl RateLimiter {
    /// A limiter for `per_second` records per second.
    pub fn new(per_second: f64) -> Self {
        RateLimiter {
            per_second,
            start: Instant::now(),
            emitted: 0,
        }
    }

    /// How many records may go now (up to `want`), or how long to wait for the next one.
    pub fn allowance(&self, want: usize) -> std::result::Result<usize, Duration> {
        let elapsed = self.start.elapsed().as_secs_f64();
        let allowed = (elapsed * self.per_second).floor() as u64 + 1;
        let free = allowed.saturating_sub(self.emitted);
        if free == 0 {
            let next_at = (self.emitted as f64) / self.per_second;
            Err(Duration::from_secs_f64((next_at - elapsed).max(0.0))
                .min(Duration::from_millis(100)))
        } else {
            Ok((free as usize).min(want))
        }
    }

    /// Record that `n` records went out.
    pub fn consumed(&mut self, n: usize) {
        self.emitted += n as u64;
    }
}

/// A running source subtask.
pub struct SourceTask<T, R> {
    /// The reader over this subtask's splits.
    pub reader: R,
    /// The chain fed by the source, and the dead-letter side output when the job consumes
    /// it (otherwise a malformed record fails the job).
    pub outputs: Outputs<T>,
    /// Records per batch.
    pub batch_size: usize,
    /// Optional rate limit for this subtask, records per second.
    pub rate: Option<f64>,
    /// The source's identity.
    pub info: TaskInfo,
    /// Counters.
    pub metrics: Arc<OperatorMetrics>,
    /// Job-wide task environment.
    pub env: TaskEnv,
}

impl<T, R> TaskRunner for SourceTask<T, R>
where
    T: Send + 'static,
    R: SourceReader<T> + 'static,
{
    fn run(mut self: Box<Self>) -> Result<()> {
        let result = self.run_loop();
        if matches!(result, Err(StromError::Cancelled)) {
            let _ = self.outputs.flush();
        }
        result
    }
}

impl<T: Send + 'static, R: SourceReader<T>> SourceTask<T, R> {
    fn run_loop(&mut self) -> Result<()> {
        let mut buf: Vec<Record<T>> = Vec::with_capacity(self.batch_size);
        let mut letters: Vec<DeadLetter> = Vec::new();
        let mut limiter = self.rate.map(RateLimiter::new);
        let mut next_flush = self.env.buffer_timeout.map(|t| Instant::now() + t);
        let env = self.env.clone();
        loop {
            if env.is_cancelled() {
                return Err(StromError::Cancelled);
            }
            let mut limit = self.batch_size;
            if let Some(l) = limiter.as_ref() {
                match l.allowance(limit) {
                    Ok(n) => limit = n,
                    Err(wait) => {
                        self.idle_until(wait, &mut next_flush)?;
                        continue;
                    }
                }
            }
            let status = {
                let reader = &mut self.reader;
                let mut out = SourceOutput::new(&mut buf, &mut letters, limit);
                guarded(&self.info, || {
                    reader.poll_next(&mut out).map_err(StromError::from_user)
                })?
            };
            if let Some(l) = limiter.as_mut() {
                l.consumed(buf.len());
            }
            if !buf.is_empty() {
                self.metrics.add_out(buf.len());
                self.outputs.main.push(&mut buf)?;
            }
            if !letters.is_empty() {
                self.route_dead_letters(&mut letters)?;
            }
            match status {
                ReadStatus::MoreAvailable => {}
                ReadStatus::NothingAvailable(wait) => self.idle_until(wait, &mut next_flush)?,
                ReadStatus::Finished => break,
            }
            if let Some(t) = next_flush
                && Instant::now() >= t
            {
                self.flush_all()?;
                next_flush = env.buffer_timeout.map(|d| Instant::now() + d);
            }
            if env.wakeup.load(std::sync::atomic::Ordering::Relaxed) != i64::MAX {
                env.fire_timers(&mut self.outputs.main)?;
            }
        }
        // A bounded source ends event time: every pending window and timer fires.
        self.outputs.watermark(Watermark::MAX)?;
        self.outputs.end_of_input()
    }

    fn flush_all(&mut self) -> Result<()> {
        self.outputs.flush()
    }

    /// Wait `wait` (interruptible), flushing output and firing timers when due meanwhile.
    fn idle_until(&mut self, wait: Duration, next_flush: &mut Option<Instant>) -> Result<()> {
        let env = self.env.clone();
        let mut wake = Instant::now() + wait;
        if let Some(t) = env.fire_timers(&mut self.outputs.main)? {
            wake = wake.min(t);
        }
        let deadline = next_flush.map_or(wake, |f| f.min(wake));
        env.sleep(deadline.saturating_duration_since(Instant::now()))?;
        if next_flush.is_some_and(|f| Instant::now() >= f) {
            self.flush_all()?;
            *next_flush = env.buffer_timeout.map(|d| Instant::now() + d);
        }
        env.fire_timers(&mut self.outputs.main)?;
        Ok(())
    }

    fn route_dead_letters(&mut self, letters: &mut Vec<DeadLetter>) -> Result<()> {
        let tag = dead_letter_tag_id();
        match self.outputs.side.buffer_mut::<DeadLetter>(tag) {
            Some(buf) => {
                buf.extend(letters.drain(..).map(Record::untimed));
                self.outputs.emit(&mut Vec::new())
            }
            None => {
                let first = letters.remove(0);
                Err(StromError::BadRecord {
                    location: format!("{} line {}", first.source, first.line),
                    message: first.error,
                }
                .in_operator(&self.info.operator_name, self.info.subtask))
            }
        }
    }
}
