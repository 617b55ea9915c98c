//! Sinks, modelled on Flink's writer-based sinks: a [`Sink`] creates one [`SinkWriter`]
//! per parallel subtask.

use crate::{BoxError, TaskInfo};
use strom_types::{Record, Timestamp};

/// What a writer is told about where it runs.
#[derive(Clone, Debug)]
pub struct SinkContext {
    /// The sink subtask.
    pub info: TaskInfo,
}

/// A destination for a stream's records.
///
/// Contract: `create_writer` is called once per subtask, on that subtask's thread.
pub trait Sink<T>: Send + Sync + 'static {
    /// The writer a subtask runs.
    type Writer: SinkWriter<T>;

    /// Create the writer for one subtask.
    fn create_writer(&self, ctx: &SinkContext) -> Result<Self::Writer, BoxError>;
}

/// Writes the records of one sink subtask.
///
/// Contract: `write` (or `write_batch`) receives records in the order they arrive;
/// `flush` is called at least once per buffer timeout while records flow, and
/// `finish` once at the end of a bounded input (after it, nothing more is written).
/// An `Err` fails the job, naming the sink and subtask.
pub trait SinkWriter<T>: Send {
    /// Write one record.
    fn write(&mut self, value: T, timestamp: Timestamp) -> Result<(), BoxError>;

    /// Write a batch, draining it. Override to write batches more efficiently.
    fn write_batch(&mut self, batch: &mut Vec<Record<T>>) -> Result<(), BoxError> {
        for r in batch.drain(..) {
            self.write(r.value, r.timestamp)?;
        }
        Ok(())
    }

    /// Push buffered output to its destination.
    fn flush(&mut self) -> Result<(), BoxError> {
        Ok(())
    }

    /// The input ended: flush and close.
    fn finish(&mut self) -> Result<(), BoxError> {
        self.flush()
    }
}

/// A `TaskInfo`-free closure sink: `FnMut(T)` called per record on each subtask.
impl<T, F> SinkWriter<T> for F
where
    F: FnMut(T) -> Result<(), BoxError> + Send,
{
    fn write(&mut self, value: T, _timestamp: Timestamp) -> Result<(), BoxError> {
        self(value)
    }
}

/// Forwarding helper so `Box<dyn SinkWriter<T>>` is a writer too.
impl<T> SinkWriter<T> for Box<dyn SinkWriter<T>> {
    fn write(&mut self, value: T, timestamp: Timestamp) -> Result<(), BoxError> {
        (**self).write(value, timestamp)
    }
    fn write_batch(&mut self, batch: &mut Vec<Record<T>>) -> Result<(), BoxError> {
        (**self).write_batch(batch)
    }
    fn flush(&mut self) -> Result<(), BoxError> {
        (**self).flush()
    }
    fn finish(&mut self) -> Result<(), BoxError> {
        (**self).finish()
    }
}
