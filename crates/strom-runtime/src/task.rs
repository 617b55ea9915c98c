//! Tasks: one thread per subtask of an operator chain.
//!
//! An input task reads its channels (all input edges of the chain's head operator, of one
//! input or of two), merges watermarks per input and over the inputs
//! ([`InputValves`]), pushes batches into the chain, flushes
//! its writers every buffer timeout and fires processing-time callbacks. Reading prefers
//! whatever channel has data (round robin, without blocking); only when all are empty does
//! it block, on all channels, the cancel signal and the next deadline at once.

use crate::checkpoint::messages::{TaskCheckpointing, TaskControl};
use crate::downstream::Downstream;
use crate::valve::InputValves;
use crossbeam_channel::{Receiver, Select};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};
use strom_core::{Clock, Result, StromError};
use strom_types::{CheckpointBarrier, CheckpointId, Watermark, WatermarkStatus};

/// What every task needs from the job: cancellation, timing and the clock.
#[derive(Clone)]
pub struct TaskEnv {
    /// Disconnects when the job is cancelled.
    pub cancel: Receiver<()>,
    /// Set when the job is cancelled (checked between batches).
    pub cancelled: Arc<AtomicBool>,
    /// Flush output buffers at least this often (`None`: only when full or on control).
    pub buffer_timeout: Option<Duration>,
    /// The processing-time clock.
    pub clock: Arc<dyn Clock>,
    /// Earliest processing-time callback requested by the chain's operators.
    pub wakeup: Arc<AtomicI64>,
    /// The link to the checkpoint coordinator, when the job takes checkpoints.
    pub checkpointing: Option<TaskCheckpointing>,
}

impl TaskEnv {
    /// Whether the job is being cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// Sleep up to `d`, waking early on cancellation (`Err(Cancelled)`) or on a message
    /// from the checkpoint coordinator (returned).
    pub fn sleep(&self, d: Duration) -> Result<Option<TaskControl>> {
        let Some(cp) = &self.checkpointing else {
            return match self.cancel.recv_timeout(d) {
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => Ok(None),
                _ => Err(StromError::Cancelled),
            };
        };
        crossbeam_channel::select! {
            recv(self.cancel) -> _ => Err(StromError::Cancelled),
            recv(cp.control) -> m => Ok(m.ok()),
            default(d) => Ok(None),
        }
    }

    /// On the way out of a cancelled task: completions that arrived before the cancel
    /// still commit (best effort).
    pub(crate) fn drain_completions<H: TaskHead + ?Sized>(&self, head: &mut H) {
        while let Some(msg) = self.try_control() {
            if let TaskControl::Complete(id) = msg {
                let _ = head.notify_checkpoint_complete(id);
            }
        }
    }

    /// A waiting message from the checkpoint coordinator, if any.
    pub fn try_control(&self) -> Option<TaskControl> {
        self.checkpointing.as_ref()?.control.try_recv().ok()
    }

    /// Fire processing-time callbacks that are due; returns the next one's `Instant`.
    pub(crate) fn fire_timers<H: TaskHead + ?Sized>(
        &self,
        head: &mut H,
    ) -> Result<Option<Instant>> {
        let due = self.wakeup.load(Ordering::Relaxed);
        if due == i64::MAX {
            return Ok(None);
        }
        let now = self.clock.now_ms();
        if now >= due {
            self.wakeup.store(i64::MAX, Ordering::Relaxed);
            head.processing_time(now)?;
            let next = self.wakeup.load(Ordering::Relaxed);
            return Ok((next != i64::MAX).then(|| Instant::now() + ms_until(now, next)));
        }
        Ok(Some(Instant::now() + ms_until(now, due)))
    }
}

fn ms_until(now: i64, at: i64) -> Duration {
    Duration::from_millis(at.saturating_sub(now).clamp(0, 60_000) as u64)
}

/// A subtask ready to run on its own thread.
pub trait TaskRunner: Send {
    /// Run to completion (end of input), failure or cancellation.
    fn run(self: Box<Self>) -> Result<()>;
}

/// The control side of a task's chain head.
pub trait TaskHead: Send {
    /// See [`Downstream::watermark`].
    fn watermark(&mut self, w: Watermark) -> Result<()>;
    /// See [`Downstream::status`].
    fn status(&mut self, s: WatermarkStatus) -> Result<()>;
    /// See [`Downstream::barrier`].
    fn barrier(&mut self, b: CheckpointBarrier) -> Result<()>;
    /// See [`Downstream::processing_time`].
    fn processing_time(&mut self, now_ms: i64) -> Result<()>;
    /// See [`Downstream::end_of_input`].
    fn end_of_input(&mut self) -> Result<()>;
    /// See [`Downstream::flush`].
    fn flush(&mut self) -> Result<()>;
    /// See [`Downstream::notify_checkpoint_complete`].
    fn notify_checkpoint_complete(&mut self, id: CheckpointId) -> Result<()>;
}

impl<T> TaskHead for Box<dyn Downstream<T>> {
    fn watermark(&mut self, w: Watermark) -> Result<()> {
        (**self).watermark(w)
    }
    fn status(&mut self, s: WatermarkStatus) -> Result<()> {
        (**self).status(s)
    }
    fn barrier(&mut self, b: CheckpointBarrier) -> Result<()> {
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
    fn notify_checkpoint_complete(&mut self, id: CheckpointId) -> Result<()> {
        (**self).notify_checkpoint_complete(id)
    }
}

pub use crate::channel::{ChannelEvent, InputChannel, WatermarkSink, deliver};

/// A task that reads channels into a chain head.
pub struct InputTask<H> {
    /// The input channels, in input-edge order.
    pub channels: Vec<Box<dyn InputChannel<H>>>,
    /// The logical input (0, or 1 for the second input of a two-input operator) of each
    /// channel: watermarks are combined per input, then over the inputs.
    pub inputs: Vec<usize>,
    /// The chain.
    pub head: H,
    /// Job-wide task environment.
    pub env: TaskEnv,
}

impl<H> InputTask<H> {
    /// A task reading `channels`, each with its logical input, into `head`.
    pub fn new(head: H, channels: Vec<(usize, Box<dyn InputChannel<H>>)>, env: TaskEnv) -> Self {
        let (inputs, channels) = channels.into_iter().unzip();
        InputTask {
            channels,
            inputs,
            head,
            env,
        }
    }
}

impl<H: TaskHead + 'static> TaskRunner for InputTask<H> {
    fn run(self: Box<Self>) -> Result<()> {
        let InputTask {
            channels,
            inputs,
            mut head,
            env,
        } = *self;
        let result = run_input_loop(&channels, &inputs, &mut head, &env);
        if matches!(result, Err(StromError::Cancelled)) {
            // Best effort: hand what was produced to sinks before stopping.
            let _ = head.flush();
            env.drain_completions(&mut head);
        }
        result
    }
}

/// Barrier alignment of one task (Flink's `CheckpointBarrierHandler`).
///
/// Exactly-once: a channel that delivered the barrier of the checkpoint being aligned is
/// blocked (not read) until every other open channel delivered it too; then the chain
/// snapshots, the barrier moves on and all channels are read again. At-least-once: no
/// channel is blocked; the snapshot happens when the last barrier arrives.
struct Alignment {
    exactly_once: bool,
    /// The checkpoint being aligned, with when its first barrier arrived.
    current: Option<(CheckpointBarrier, Instant)>,
    got: Vec<bool>,
    /// Highest checkpoint this task snapshotted or gave up.
    done: CheckpointId,
}

impl Alignment {
    fn new(n: usize, exactly_once: bool) -> Self {
        Alignment {
            exactly_once,
            current: None,
            got: vec![false; n],
            done: 0,
        }
    }

    fn blocked(&self, ch: usize) -> bool {
        self.exactly_once && self.current.is_some() && self.got[ch]
    }

    fn reset(&mut self) {
        self.current = None;
        self.got.iter_mut().for_each(|g| *g = false);
    }

    /// A barrier arrived on `ch`.
    fn on_barrier(&mut self, ch: usize, b: CheckpointBarrier) {
        if b.id <= self.done {
            return;
        }
        match self.current {
            Some((cur, _)) if cur.id == b.id => {}
            Some((cur, _)) if cur.id > b.id => return,
            _ => {
                // A newer checkpoint overtakes one still aligning: the older one is given up.
                self.reset();
                self.current = Some((b, Instant::now()));
            }
        }
        self.got[ch] = true;
    }

    fn abort(&mut self, id: CheckpointId) {
        if self.current.is_some_and(|(b, _)| b.id == id) {
            self.reset();
            self.done = self.done.max(id);
        }
    }

    /// The barrier to snapshot for, once every open channel delivered it.
    fn complete(&mut self, ended: &[bool]) -> Option<(CheckpointBarrier, Instant)> {
        let (b, started) = self.current?;
        if self.got.iter().zip(ended).all(|(g, e)| *g || *e) {
            self.reset();
            self.done = b.id;
            return Some((b, started));
        }
        None
    }
}

/// Snapshot the chain for `barrier` (it snapshots and forwards as the barrier passes each
/// operator) and acknowledge to the coordinator.
fn snapshot_chain<H: TaskHead + ?Sized>(
    head: &mut H,
    cp: &TaskCheckpointing,
    barrier: CheckpointBarrier,
    aligned_since: Option<Instant>,
) -> Result<()> {
    let alignment = aligned_since.map(|t| t.elapsed());
    head.barrier(barrier)?;
    cp.acknowledge(&barrier, alignment);
    Ok(())
}

/// What the task loop does after a control message.
pub(crate) enum AfterControl {
    /// Go on.
    Continue,
    /// Stop the task now.
    Stop,
}

/// Handle a coordinator message in a running task with input channels.
fn on_control<H: TaskHead + ?Sized>(
    msg: TaskControl,
    head: &mut H,
    alignment: &mut Alignment,
) -> Result<AfterControl> {
    match msg {
        TaskControl::Complete(id) => head.notify_checkpoint_complete(id)?,
        TaskControl::Abort(id) => alignment.abort(id),
        TaskControl::Stop => return Ok(AfterControl::Stop),
        // Running tasks with inputs get barriers in-band, not triggers.
        TaskControl::Trigger(_) => {}
    }
    Ok(AfterControl::Continue)
}

/// After its input ended, a task of a checkpointed job stays until the job's final
/// checkpoint completed (so that two-phase-commit sinks commit their last output exactly
/// once): it snapshots on direct triggers and passes completions to its chain.
pub(crate) fn await_final_checkpoint<H: TaskHead + ?Sized>(
    head: &mut H,
    env: &TaskEnv,
    mut done: CheckpointId,
    mut snapshot: impl FnMut(&mut H, CheckpointBarrier) -> Result<()>,
) -> Result<()> {
    let Some(cp) = &env.checkpointing else {
        return Ok(());
    };
    cp.finished();
    loop {
        let msg = crossbeam_channel::select! {
            recv(env.cancel) -> _ => return Err(StromError::Cancelled),
            recv(cp.control) -> m => m,
        };
        match msg {
            Ok(TaskControl::Trigger(b)) if b.id > done => {
                done = b.id;
                snapshot(head, b)?;
                cp.acknowledge(&b, None);
            }
            Ok(TaskControl::Trigger(_)) | Ok(TaskControl::Abort(_)) => {}
            Ok(TaskControl::Complete(id)) => head.notify_checkpoint_complete(id)?,
            Ok(TaskControl::Stop) | Err(_) => return Ok(()),
        }
    }
}

fn run_input_loop<H: TaskHead>(
    channels: &[Box<dyn InputChannel<H>>],
    inputs: &[usize],
    head: &mut H,
    env: &TaskEnv,
) -> Result<()> {
    let n = channels.len();
    if inputs.len() != n {
        return Err(StromError::Internal(format!(
            "{n} input channels but {} input indices",
            inputs.len()
        )));
    }
    let mut valve = InputValves::new(inputs);
    let mut ended = vec![false; n];
    let mut open = n;
    let mut next = 0usize;
    let mut next_flush = env.buffer_timeout.map(|t| Instant::now() + t);
    let mut next_timer = env.fire_timers(head)?;
    let cp = env.checkpointing.as_ref();
    let mut alignment = Alignment::new(n, cp.is_none_or(|c| c.exactly_once));
    if n == 0 {
        head.end_of_input()?;
        return await_final_checkpoint(head, env, 0, |h, b| h.barrier(b));
    }
    loop {
        if env.is_cancelled() {
            return Err(StromError::Cancelled);
        }
        if let Some(msg) = env.try_control()
            && let AfterControl::Stop = on_control(msg, head, &mut alignment)?
        {
            head.flush()?;
            return Ok(());
        }
        // Prefer any channel that has data, round robin, without blocking.
        let mut event = None;
        for i in 0..n {
            let ch = (next + i) % n;
            if ended[ch] || alignment.blocked(ch) {
                continue;
            }
            let mut on_watermark = |h: &mut H, w: Watermark| -> Result<()> {
                if let Some(w) = valve.on_watermark(ch, w).watermark {
                    h.watermark(w)?;
                }
                Ok(())
            };
            if let Some(ev) = channels[ch].try_receive(head, &mut on_watermark) {
                event = Some((ch, ev?));
                next = ch + 1;
                break;
            }
        }
        if event.is_none() {
            let deadline = match (next_flush, next_timer) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let mut sel = Select::new();
            let mut index = Vec::with_capacity(open);
            for (ch, c) in channels.iter().enumerate() {
                if !ended[ch] && !alignment.blocked(ch) {
                    c.register(&mut sel);
                    index.push(ch);
                }
            }
            let cancel_idx = sel.recv(&env.cancel);
            let control_idx = cp.map(|c| sel.recv(&c.control));
            let chosen = match deadline {
                Some(d) => sel.select_deadline(d).ok(),
                None => Some(sel.select()),
            };
            if let Some(oper) = chosen {
                let i = oper.index();
                if i == cancel_idx {
                    let _ = oper.recv(&env.cancel);
                    return Err(StromError::Cancelled);
                }
                if Some(i) == control_idx {
                    if let Some(c) = cp
                        && let Ok(msg) = oper.recv(&c.control)
                        && let AfterControl::Stop = on_control(msg, head, &mut alignment)?
                    {
                        head.flush()?;
                        return Ok(());
                    }
                    continue;
                }
                let ch = index[i];
                let mut on_watermark = |h: &mut H, w: Watermark| -> Result<()> {
                    if let Some(w) = valve.on_watermark(ch, w).watermark {
                        h.watermark(w)?;
                    }
                    Ok(())
                };
                event = Some((ch, channels[ch].complete(oper, head, &mut on_watermark)?));
            }
        }
        match event {
            Some((_, ChannelEvent::Data)) | None => {}
            Some((ch, ChannelEvent::Watermark(w))) => {
                if let Some(w) = valve.on_watermark(ch, w).watermark {
                    head.watermark(w)?;
                }
            }
            Some((ch, ChannelEvent::Status(s))) => {
                let out = valve.on_status(ch, s);
                if let Some(w) = out.watermark {
                    head.watermark(w)?;
                }
                if let Some(s) = out.status {
                    head.status(s)?;
                }
            }
            Some((ch, ChannelEvent::Barrier(b))) => match cp {
                Some(cp) => {
                    alignment.on_barrier(ch, b);
                    if let Some((b, since)) = alignment.complete(&ended) {
                        snapshot_chain(head, cp, b, Some(since))?;
                    }
                }
                None => head.barrier(b)?,
            },
            Some((ch, ChannelEvent::End)) => {
                if !ended[ch] {
                    ended[ch] = true;
                    open -= 1;
                    if env.is_cancelled() {
                        return Err(StromError::Cancelled);
                    }
                    if let Some(cp) = cp
                        && let Some((b, since)) = alignment.complete(&ended)
                    {
                        snapshot_chain(head, cp, b, Some(since))?;
                    }
                    if open == 0 {
                        head.end_of_input()?;
                        return await_final_checkpoint(head, env, alignment.done, |h, b| {
                            h.barrier(b)
                        });
                    }
                }
            }
        }
        let now = Instant::now();
        if let Some(t) = next_flush
            && now >= t
        {
            head.flush()?;
            next_flush = env.buffer_timeout.map(|d| now + d);
        }
        if next_timer.is_some_and(|t| now >= t) || env.wakeup.load(Ordering::Relaxed) != i64::MAX {
            next_timer = env.fire_timers(head)?;
        }
    }
}
