//! [`Downstream`]: the interface through which the operators of a chain call each other.
//!
//! A task is a chain of operators fused into one thread. Each operator instance owns the
//! `Downstream` of its output: the next operator in the chain, a [`FanOut`] to several, a
//! network writer to another task, or [`Discard`]. Calls go one batch at a time, so the cost
//! of the virtual call is shared by all records of the batch.

use strom_core::{Result, SideOutputs};
use strom_types::{CheckpointBarrier, CheckpointId, Record, Watermark, WatermarkStatus};

/// The receiving end of an operator's output, within a task.
///
/// Contract: `push` consumes every record of `batch` (leaving it empty, capacity kept);
/// control calls arrive in stream order with the batches; after `end_of_input` nothing more
/// arrives. Implementations forward control calls downstream after handling them.
pub trait Downstream<T>: Send {
    /// Process a batch of records, draining it.
    fn push(&mut self, batch: &mut Vec<Record<T>>) -> Result<()>;
    /// The event-time watermark advanced.
    fn watermark(&mut self, watermark: Watermark) -> Result<()>;
    /// The input became idle or active again.
    fn status(&mut self, status: WatermarkStatus) -> Result<()>;
    /// A checkpoint barrier passed (all inputs aligned).
    fn barrier(&mut self, barrier: CheckpointBarrier) -> Result<()>;
    /// Processing time advanced to `now_ms` (drives processing-time timers).
    fn processing_time(&mut self, now_ms: i64) -> Result<()>;
    /// The input ended: emit what is pending and forward the end.
    fn end_of_input(&mut self) -> Result<()>;
    /// Hand buffered records to the next task (buffer timeout).
    fn flush(&mut self) -> Result<()>;
    /// Checkpoint `id` completed: tell every operator of the chain (not forwarded across
    /// tasks: the coordinator tells each task itself).
    fn notify_checkpoint_complete(&mut self, id: CheckpointId) -> Result<()>;
}

/// Drops everything: the output of an operator that nobody consumes.
pub struct Discard;

impl<T: Send> Downstream<T> for Discard {
    fn push(&mut self, batch: &mut Vec<Record<T>>) -> Result<()> {
        batch.clear();
        Ok(())
    }
    fn watermark(&mut self, _: Watermark) -> Result<()> {
        Ok(())
    }
    fn status(&mut self, _: WatermarkStatus) -> Result<()> {
        Ok(())
    }
    fn barrier(&mut self, _: CheckpointBarrier) -> Result<()> {
        Ok(())
    }
    fn processing_time(&mut self, _: i64) -> Result<()> {
        Ok(())
    }
    fn end_of_input(&mut self) -> Result<()> {
        Ok(())
    }
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
    fn notify_checkpoint_complete(&mut self, _: CheckpointId) -> Result<()> {
        Ok(())
    }
}

/// Sends each batch to several consumers: clones for all but the last, which gets the
/// originals.
pub struct FanOut<T> {
    outputs: Vec<Box<dyn Downstream<T>>>,
    scratch: Vec<Record<T>>,
}

impl<T> FanOut<T> {
    /// A fan-out to `outputs` (at least two).
    pub fn new(outputs: Vec<Box<dyn Downstream<T>>>) -> Self {
        FanOut {
            outputs,
            scratch: Vec::new(),
        }
    }
}

macro_rules! forward_all {
    ($self:ident, $call:ident $(, $arg:expr)?) => {{
        for o in $self.outputs.iter_mut() {
            o.$call($($arg)?)?;
        }
        Ok(())
    }};
}

impl<T: Clone + Send> Downstream<T> for FanOut<T> {
    fn push(&mut self, batch: &mut Vec<Record<T>>) -> Result<()> {
        if let Some((last, rest)) = self.outputs.split_last_mut() {
            for o in rest {
                self.scratch.extend_from_slice(batch);
                o.push(&mut self.scratch)?;
            }
            last.push(batch)?;
        }
        batch.clear();
        Ok(())
    }
    fn watermark(&mut self, w: Watermark) -> Result<()> {
        forward_all!(self, watermark, w)
    }
    fn status(&mut self, s: WatermarkStatus) -> Result<()> {
        forward_all!(self, status, s)
    }
    fn barrier(&mut self, b: CheckpointBarrier) -> Result<()> {
        forward_all!(self, barrier, b)
    }
    fn processing_time(&mut self, now: i64) -> Result<()> {
        forward_all!(self, processing_time, now)
    }
    fn end_of_input(&mut self) -> Result<()> {
        forward_all!(self, end_of_input)
    }
    fn flush(&mut self) -> Result<()> {
        forward_all!(self, flush)
    }
    fn notify_checkpoint_complete(&mut self, id: CheckpointId) -> Result<()> {
        forward_all!(self, notify_checkpoint_complete, id)
    }
}

/// One side output of an operator, drained after every batch into its consumer.
pub trait SideDrain: Send {
    /// Move the buffered side-output records downstream.
    fn drain(&mut self, side: &mut SideOutputs) -> Result<()>;
    /// Forward a watermark.
    fn watermark(&mut self, watermark: Watermark) -> Result<()>;
    /// Forward a status change.
    fn status(&mut self, status: WatermarkStatus) -> Result<()>;
    /// Forward a barrier.
    fn barrier(&mut self, barrier: CheckpointBarrier) -> Result<()>;
    /// Forward processing time.
    fn processing_time(&mut self, now_ms: i64) -> Result<()>;
    /// Forward end of input.
    fn end_of_input(&mut self) -> Result<()>;
    /// Flush buffered records.
    fn flush(&mut self) -> Result<()>;
    /// Forward a completed checkpoint's notification.
    fn notify_checkpoint_complete(&mut self, id: CheckpointId) -> Result<()>;
}

/// The side output `tag_id` of element type `X`, feeding `downstream`.
pub struct SideChannel<X> {
    tag_id: u64,
    downstream: Box<dyn Downstream<X>>,
}

impl<X: Send + 'static> SideChannel<X> {
    /// Register the buffer in `side` and return the drain.
    pub fn new(tag_id: u64, downstream: Box<dyn Downstream<X>>, side: &mut SideOutputs) -> Self {
        side.register::<X>(tag_id);
        SideChannel { tag_id, downstream }
    }
}

impl<X: Send + 'static> SideDrain for SideChannel<X> {
    fn drain(&mut self, side: &mut SideOutputs) -> Result<()> {
        match side.buffer_mut::<X>(self.tag_id) {
            Some(buf) if !buf.is_empty() => self.downstream.push(buf),
            _ => Ok(()),
        }
    }
    fn watermark(&mut self, w: Watermark) -> Result<()> {
        self.downstream.watermark(w)
    }
    fn status(&mut self, s: WatermarkStatus) -> Result<()> {
        self.downstream.status(s)
    }
    fn barrier(&mut self, b: CheckpointBarrier) -> Result<()> {
        self.downstream.barrier(b)
    }
    fn processing_time(&mut self, now: i64) -> Result<()> {
        self.downstream.processing_time(now)
    }
    fn end_of_input(&mut self) -> Result<()> {
        self.downstream.end_of_input()
    }
    fn flush(&mut self) -> Result<()> {
        self.downstream.flush()
    }
    fn notify_checkpoint_complete(&mut self, id: CheckpointId) -> Result<()> {
        self.downstream.notify_checkpoint_complete(id)
    }
}

/// An operator's outputs: the main output and its side outputs.
pub struct Outputs<T> {
    /// The main output.
    pub main: Box<dyn Downstream<T>>,
    /// Side-output buffers that user code writes into.
    pub side: SideOutputs,
    /// Drains of the side outputs that have consumers.
    pub side_drains: Vec<Box<dyn SideDrain>>,
}

impl<T: Send + 'static> Outputs<T> {
    /// Outputs with only a main output.
    pub fn main_only(main: Box<dyn Downstream<T>>) -> Self {
        Outputs {
            main,
            side: SideOutputs::new(),
            side_drains: Vec::new(),
        }
    }

    /// Emit `buf` on the main output and drain the side buffers.
    pub fn emit(&mut self, buf: &mut Vec<Record<T>>) -> Result<()> {
        if !buf.is_empty() {
            self.main.push(buf)?;
        }
        for d in self.side_drains.iter_mut() {
            d.drain(&mut self.side)?;
        }
        Ok(())
    }

    /// Forward a watermark to every output.
    pub fn watermark(&mut self, w: Watermark) -> Result<()> {
        self.main.watermark(w)?;
        self.side_drains.iter_mut().try_for_each(|d| d.watermark(w))
    }
    /// Forward a status change to every output.
    pub fn status(&mut self, s: WatermarkStatus) -> Result<()> {
        self.main.status(s)?;
        self.side_drains.iter_mut().try_for_each(|d| d.status(s))
    }
    /// Forward a barrier to every output.
    pub fn barrier(&mut self, b: CheckpointBarrier) -> Result<()> {
        self.main.barrier(b)?;
        self.side_drains.iter_mut().try_for_each(|d| d.barrier(b))
    }
    /// Forward processing time to every output.
    pub fn processing_time(&mut self, now: i64) -> Result<()> {
        self.main.processing_time(now)?;
        self.side_drains
            .iter_mut()
            .try_for_each(|d| d.processing_time(now))
    }
    /// Forward end of input to every output.
    pub fn end_of_input(&mut self) -> Result<()> {
        self.main.end_of_input()?;
        self.side_drains
            .iter_mut()
            .try_for_each(|d| d.end_of_input())
    }
    /// Flush every output.
    pub fn flush(&mut self) -> Result<()> {
        self.main.flush()?;
        self.side_drains.iter_mut().try_for_each(|d| d.flush())
    }
    /// Tell every output that checkpoint `id` completed.
    pub fn notify_checkpoint_complete(&mut self, id: CheckpointId) -> Result<()> {
        self.main.notify_checkpoint_complete(id)?;
        self.side_drains
            .iter_mut()
            .try_for_each(|d| d.notify_checkpoint_complete(id))
    }
}
