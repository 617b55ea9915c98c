//! The task of a source subtask: polls its [`SourceReader`] and pushes batches into the
//! chain, with an optional rate limit, periodic flushing and dead-letter routing.

use crate::checkpoint::messages::{OperatorAck, TaskControl};
use crate::downstream::{Downstream, Outputs};
use crate::metrics::OperatorMetrics;
use crate::operator::guarded;
use crate::task::TaskHead;
use crate::task::{TaskEnv, TaskRunner};
use std::sync::Arc;
use std::time::{Duration, Instant};
use strom_core::checkpoint::{CheckpointId, StateSnapshot};
use strom_core::{
    DeadLetter, ReadStatus, Result, SourceOutput, SourceReader, SplitEvent, StromError, TaskInfo,
};
use strom_types::{CheckpointBarrier, Record, Watermark};

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

/// The first link of a source chain: takes each poll's records with the reader's split
/// changes (used for per-split watermarks).
pub trait SourceHead<T>: Downstream<T> {
    /// Push a poll's records; `events` say which split each record came from.
    fn push_with_splits(&mut self, batch: &mut Vec<Record<T>>, events: &[SplitEvent])
    -> Result<()>;
}

/// A source head without a watermark strategy: split changes do not matter.
pub struct PlainHead<T>(pub Box<dyn Downstream<T>>);

impl<T: Send + 'static> SourceHead<T> for PlainHead<T> {
    fn push_with_splits(&mut self, batch: &mut Vec<Record<T>>, _: &[SplitEvent]) -> Result<()> {
        self.0.push(batch)
    }
}

impl<T: Send + 'static> Downstream<T> for PlainHead<T> {
    fn push(&mut self, batch: &mut Vec<Record<T>>) -> Result<()> {
        self.0.push(batch)
    }
    fn watermark(&mut self, w: strom_types::Watermark) -> Result<()> {
        self.0.watermark(w)
    }
    fn status(&mut self, s: strom_types::WatermarkStatus) -> Result<()> {
        self.0.status(s)
    }
    fn barrier(&mut self, b: strom_types::CheckpointBarrier) -> Result<()> {
        self.0.barrier(b)
    }
    fn processing_time(&mut self, now_ms: i64) -> Result<()> {
        self.0.processing_time(now_ms)
    }
    fn end_of_input(&mut self) -> Result<()> {
        self.0.end_of_input()
    }
    fn flush(&mut self) -> Result<()> {
        self.0.flush()
    }
    fn notify_checkpoint_complete(&mut self, id: strom_types::CheckpointId) -> Result<()> {
        self.0.notify_checkpoint_complete(id)
    }
}

impl<T: Send + 'static> crate::task::TaskHead for Box<dyn SourceHead<T>> {
    fn watermark(&mut self, w: strom_types::Watermark) -> Result<()> {
        (**self).watermark(w)
    }
    fn status(&mut self, s: strom_types::WatermarkStatus) -> Result<()> {
        (**self).status(s)
    }
    fn barrier(&mut self, b: strom_types::CheckpointBarrier) -> Result<()> {
        (**self).barrier(b)
    }
    fn processing_time(&mut self, now_ms: i64) -> Result<()> {
        (**self).processing_time(now_ms)
    }
    fn end_of_input(&mut self) -> Result<()> {
        (**self).end_of_input()
    }
    fn flush(&mut self) -> Result<()> {
        (**self).flush()
    }
    fn notify_checkpoint_complete(&mut self, id: strom_types::CheckpointId) -> Result<()> {
        (**self).notify_checkpoint_complete(id)
    }
}

/// Snapshots a reader's split positions (as the source's operator list state).
pub type SplitSnapshotter<R> = Box<dyn Fn(&R) -> Result<StateSnapshot> + Send>;

/// A running source subtask.
pub struct SourceTask<T, R> {
    /// The source's node (its state is stored under it).
    pub node: usize,
    /// Takes the reader's split positions at a checkpoint.
    pub snapshot_splits: SplitSnapshotter<R>,
    /// The reader over this subtask's splits.
    pub reader: R,
    /// The chain fed by the source (through its watermark strategy, if any).
    pub head: Box<dyn SourceHead<T>>,
    /// The dead-letter side output when the job consumes it (otherwise a malformed record
    /// fails the job); its main output is unused.
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
            let _ = self.head.flush();
            let _ = self.outputs.flush();
            let env = self.env.clone();
            env.drain_completions(&mut *self);
        }
        result
    }
}

/// What the source loop does after a coordinator message.
enum Next {
    Go,
    Stop,
}

impl<T: Send + 'static, R: SourceReader<T>> SourceTask<T, R> {
    /// Snapshot the split positions and the chain for `barrier`, which then goes downstream.
    fn checkpoint(&mut self, barrier: CheckpointBarrier) -> Result<()> {
        self.snapshot_and_forward(barrier)?;
        if let Some(cp) = &self.env.checkpointing {
            cp.acknowledge(&barrier, None);
        }
        Ok(())
    }

    /// Record the split positions, then pass the barrier through the chain (whose
    /// operators snapshot as it passes). The caller acknowledges.
    fn snapshot_and_forward(&mut self, barrier: CheckpointBarrier) -> Result<()> {
        let Some(cp) = self.env.checkpointing.clone() else {
            return Ok(());
        };
        let started = Instant::now();
        let reader = &self.reader;
        let snap = &self.snapshot_splits;
        let snapshot = guarded(&self.info, || snap(reader))?;
        cp.collect(OperatorAck {
            node: self.node,
            subtask: self.info.subtask,
            snapshot,
            sync_ms: started.elapsed().as_secs_f64() * 1e3,
        });
        self.head.barrier(barrier)?;
        self.outputs.barrier(barrier)
    }

    fn on_control(&mut self, msg: TaskControl, done: &mut CheckpointId) -> Result<Next> {
        match msg {
            TaskControl::Trigger(b) if b.id > *done => {
                *done = b.id;
                self.checkpoint(b)?;
            }
            TaskControl::Complete(id) => {
                self.head.notify_checkpoint_complete(id)?;
                self.outputs.notify_checkpoint_complete(id)?;
            }
            TaskControl::Stop => {
                self.flush_all()?;
                return Ok(Next::Stop);
            }
            TaskControl::Trigger(_) | TaskControl::Abort(_) => {}
        }
        Ok(Next::Go)
    }

    fn run_loop(&mut self) -> Result<()> {
        let mut done: CheckpointId = 0;
        let mut buf: Vec<Record<T>> = Vec::with_capacity(self.batch_size);
        let mut letters: Vec<DeadLetter> = Vec::new();
        let mut limiter = self.rate.map(RateLimiter::new);
        let mut next_flush = self.env.buffer_timeout.map(|t| Instant::now() + t);
        let env = self.env.clone();
        loop {
            if env.is_cancelled() {
                return Err(StromError::Cancelled);
            }
            while let Some(msg) = env.try_control() {
                if let Next::Stop = self.on_control(msg, &mut done)? {
                    return Ok(());
                }
            }
            let mut limit = self.batch_size;
            if let Some(l) = limiter.as_ref() {
                match l.allowance(limit) {
                    Ok(n) => limit = n,
                    Err(wait) => {
                        if let Next::Stop = self.idle_until(wait, &mut next_flush, &mut done)? {
                            return Ok(());
                        }
                        continue;
                    }
                }
            }
            let (status, events) = {
                let reader = &mut self.reader;
                let mut out = SourceOutput::new(&mut buf, &mut letters, limit);
                let status = guarded(&self.info, || {
                    reader.poll_next(&mut out).map_err(StromError::from_user)
                })?;
                (status, out.take_split_events())
            };
            if let Some(l) = limiter.as_mut() {
                l.consumed(buf.len());
            }
            if !buf.is_empty() || !events.is_empty() {
                self.metrics.add_out(buf.len());
                self.head.push_with_splits(&mut buf, &events)?;
            }
            if !letters.is_empty() {
                self.route_dead_letters(&mut letters)?;
            }
            match status {
                ReadStatus::MoreAvailable => {}
                ReadStatus::NothingAvailable(wait) => {
                    if let Next::Stop = self.idle_until(wait, &mut next_flush, &mut done)? {
                        return Ok(());
                    }
                }
                ReadStatus::Finished => break,
            }
            if let Some(t) = next_flush
                && Instant::now() >= t
            {
                self.flush_all()?;
                next_flush = env.buffer_timeout.map(|d| Instant::now() + d);
            }
            if env.wakeup.load(std::sync::atomic::Ordering::Relaxed) != i64::MAX {
                env.fire_timers(&mut self.head)?;
            }
        }
        // A bounded source ends event time: every pending window and timer fires.
        self.head.watermark(Watermark::MAX)?;
        self.outputs.watermark(Watermark::MAX)?;
        self.head.end_of_input()?;
        self.outputs.end_of_input()?;
        let env = self.env.clone();
        crate::task::await_final_checkpoint(self, &env, done, |task, b| {
            task.snapshot_and_forward(b)
        })
    }

    fn flush_all(&mut self) -> Result<()> {
        self.head.flush()?;
        self.outputs.flush()
    }

    /// Wait `wait` (interruptible), flushing output and firing timers when due meanwhile,
    /// and handling the coordinator's messages as they come.
    fn idle_until(
        &mut self,
        wait: Duration,
        next_flush: &mut Option<Instant>,
        done: &mut CheckpointId,
    ) -> Result<Next> {
        let env = self.env.clone();
        let mut wake = Instant::now() + wait;
        if let Some(t) = env.fire_timers(&mut self.head)? {
            wake = wake.min(t);
        }
        let deadline = next_flush.map_or(wake, |f| f.min(wake));
        if let Some(msg) = env.sleep(deadline.saturating_duration_since(Instant::now()))?
            && let Next::Stop = self.on_control(msg, done)?
        {
            return Ok(Next::Stop);
        }
        if next_flush.is_some_and(|f| Instant::now() >= f) {
            self.flush_all()?;
            *next_flush = env.buffer_timeout.map(|d| Instant::now() + d);
        }
        env.fire_timers(&mut self.head)?;
        Ok(Next::Go)
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

/// A source task after its input ended, as the head `await_final_checkpoint` drives.
impl<T: Send + 'static, R: SourceReader<T>> TaskHead for SourceTask<T, R> {
    fn watermark(&mut self, _: Watermark) -> Result<()> {
        Ok(())
    }
    fn status(&mut self, _: strom_types::WatermarkStatus) -> Result<()> {
        Ok(())
    }
    fn barrier(&mut self, b: CheckpointBarrier) -> Result<()> {
        self.snapshot_and_forward(b)
    }
    fn processing_time(&mut self, _: i64) -> Result<()> {
        Ok(())
    }
    fn end_of_input(&mut self) -> Result<()> {
        Ok(())
    }
    fn flush(&mut self) -> Result<()> {
        self.flush_all()
    }
    fn notify_checkpoint_complete(&mut self, id: CheckpointId) -> Result<()> {
        self.head.notify_checkpoint_complete(id)?;
        self.outputs.notify_checkpoint_complete(id)
    }
}
