//! [`RecordWriter`]: the end of a chain that sends batches to other tasks.
//!
//! It keeps one buffer per output channel and sends a buffer when it holds `batch_size`
//! records, when the task's buffer timeout passes, or before any control message (which
//! therefore stays in order with the records). Channels are bounded, so a full channel
//! blocks the writer: that is backpressure, and it propagates to the sources.

use crate::channel::OutputChannel;
use crate::downstream::Downstream;
use crate::partition::{ChannelSelector, Selection};
use crossbeam_channel::Receiver;
use std::any::Any;
use std::sync::Arc;
use strom_core::{Result, StromError};
use strom_types::{CheckpointBarrier, Message, Record, Watermark, WatermarkStatus};

/// How a writer batches.
#[derive(Clone, Debug)]
pub struct WriterConfig {
    /// Records per buffer.
    pub batch_size: usize,
    /// Send after every push (buffer timeout 0).
    pub flush_every_push: bool,
    /// Disconnects when the job is cancelled; a blocked send wakes on it.
    pub cancel: Receiver<()>,
}

/// Builds the writer of a keyed edge for record type `T`, given its channels, batching and
/// the consumers' max parallelism and parallelism.
pub type KeyedWriterFactory<T> = Arc<
    dyn Fn(Vec<Box<dyn OutputChannel<T>>>, WriterConfig, usize, usize) -> Box<dyn Downstream<T>>
        + Send
        + Sync,
>;

/// Downcast the payload of [`crate::Partitioning::KeyGroups`].
pub fn keyed_writer_factory<T: 'static>(
    any: &Arc<dyn Any + Send + Sync>,
) -> Result<KeyedWriterFactory<T>> {
    any.downcast_ref::<KeyedWriterFactory<T>>()
        .cloned()
        .ok_or_else(|| StromError::Internal("key selector of wrong type on a keyed edge".into()))
}

/// Sends records to the channels of one output edge.
pub struct RecordWriter<T, S> {
    senders: Vec<Box<dyn OutputChannel<T>>>,
    buffers: Vec<Vec<Record<T>>>,
    /// Watermarks waiting in each channel's buffer, by record position.
    marks: Vec<Vec<(usize, Watermark)>>,
    selector: S,
    config: WriterConfig,
    /// End of input was sent: later barriers and flushes have nobody to go to.
    ended: bool,
}

impl<T: Clone + Send + 'static, S: ChannelSelector<T>> RecordWriter<T, S> {
    /// A writer over `senders` routing with `selector`.
    pub fn new(senders: Vec<Box<dyn OutputChannel<T>>>, selector: S, config: WriterConfig) -> Self {
        let buffers = senders
            .iter()
            .map(|_| Vec::with_capacity(config.batch_size))
            .collect();
        let marks = senders.iter().map(|_| Vec::new()).collect();
        RecordWriter {
            senders,
            buffers,
            marks,
            selector,
            config,
            ended: false,
        }
    }

    fn send(&mut self, channel: usize, msg: Message<T>) -> Result<()> {
        self.senders[channel].send(msg, &self.config.cancel)
    }

    fn send_buffer(&mut self, channel: usize) -> Result<()> {
        if self.buffers[channel].is_empty() && self.marks[channel].is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(
            &mut self.buffers[channel],
            Vec::with_capacity(self.config.batch_size),
        );
        if self.marks[channel].is_empty() {
            self.send(channel, Message::Data(full))
        } else {
            let marks = std::mem::take(&mut self.marks[channel]);
            self.send(
                channel,
                Message::Marked {
                    records: full,
                    marks,
                },
            )
        }
    }

    fn flush_all(&mut self) -> Result<()> {
        for c in 0..self.buffers.len() {
            self.send_buffer(c)?;
        }
        Ok(())
    }

    fn broadcast_control(&mut self, make: impl Fn() -> Message<T>) -> Result<()> {
        self.flush_all()?;
        for c in 0..self.senders.len() {
            self.send(c, make())?;
        }
        Ok(())
    }

    #[inline]
    fn append(&mut self, channel: usize, record: Record<T>) -> Result<()> {
        let buf = &mut self.buffers[channel];
        buf.push(record);
        if buf.len() >= self.config.batch_size {
            self.send_buffer(channel)?;
        }
        Ok(())
    }
}

impl<T: Clone + Send + 'static, S: ChannelSelector<T>> Downstream<T> for RecordWriter<T, S> {
    fn push(&mut self, batch: &mut Vec<Record<T>>) -> Result<()> {
        match self.selector.fixed() {
            Some(Selection::One(c)) => {
                for r in batch.drain(..) {
                    self.append(c, r)?;
                }
            }
            Some(Selection::All) => {
                for r in batch.drain(..) {
                    for c in 0..self.buffers.len() {
                        self.append(c, r.clone())?;
                    }
                }
            }
            None => {
                for r in batch.drain(..) {
                    match self.selector.select(&r) {
                        Selection::One(c) => self.append(c, r)?,
                        Selection::All => {
                            for c in 0..self.buffers.len() {
                                self.append(c, r.clone())?;
                            }
                        }
                    }
                }
            }
        }
        if self.config.flush_every_push {
            self.flush_all()?;
        }
        Ok(())
    }

    fn watermark(&mut self, watermark: Watermark) -> Result<()> {
        // The watermark joins each channel's buffer at the current position and travels
        // with the records (every watermark is kept, so operators see each one, as in
        // Flink); buffers are sent when full, on the buffer timeout, or before any other
        // control message.
        for c in 0..self.buffers.len() {
            let pos = self.buffers[c].len();
            self.marks[c].push((pos, watermark));
            if self.marks[c].len() >= self.config.batch_size {
                self.send_buffer(c)?;
            }
        }
        if self.config.flush_every_push || watermark == Watermark::MAX {
            self.flush_all()?;
        }
        Ok(())
    }

    fn status(&mut self, status: WatermarkStatus) -> Result<()> {
        self.broadcast_control(|| Message::Status(status))
    }

    fn barrier(&mut self, barrier: CheckpointBarrier) -> Result<()> {
        if self.ended {
            // A finished task snapshots after its end; its consumers no longer listen.
            return Ok(());
        }
        self.broadcast_control(|| Message::Barrier(barrier))
    }

    fn processing_time(&mut self, _now_ms: i64) -> Result<()> {
        Ok(())
    }

    fn end_of_input(&mut self) -> Result<()> {
        self.ended = true;
        self.broadcast_control(|| Message::EndOfInput)
    }

    fn flush(&mut self) -> Result<()> {
        if self.ended {
            return Ok(());
        }
        self.flush_all()
    }

    fn notify_checkpoint_complete(&mut self, _: strom_types::CheckpointId) -> Result<()> {
        Ok(())
    }
}
