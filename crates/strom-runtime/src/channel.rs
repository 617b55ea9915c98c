//! Channels between tasks, through one interface.
//!
//! Every channel the executor creates is a pair of an [`OutputChannel`] (the producer's
//! end, which a [`crate::writer::RecordWriter`] sends batches and control messages into)
//! and an [`InputChannel`] (the consumer's end, which the task loop polls and selects
//! over). The task loop and the writers know nothing else about a channel.
//!
//! Two implementations exist, chosen job-wide by [`ChannelMode`]:
//!
//! * **in memory** (the default): a bounded crossbeam channel of [`Message`]s; batches
//!   move between threads without being copied.
//! * **serialized**: every message is encoded into one frame ([`crate::frame`]), the bytes
//!   cross a bounded channel, and the consumer decodes them. This is what a network
//!   channel does, less the socket: running a job in this mode
//!   (`STROM_CHANNELS=serialized`) proves that everything crossing a task boundary survives
//!   the wire, and its cost per record is the floor of any network shuffle.
//!
//! Both are bounded by the number of messages (buffers) in flight, so backpressure works
//! the same way: a full channel blocks the producer until the consumer takes a buffer or
//! the job is cancelled.

use crate::downstream::Downstream;
use crate::frame;
use crossbeam_channel::{Receiver, Select, SelectedOperation, Sender, TryRecvError, TrySendError};
use std::cell::RefCell;
use std::marker::PhantomData;
use strom_core::{Data, Result, StromError};
use strom_types::{CheckpointBarrier, Message, Record, Watermark, WatermarkStatus};

/// How channels between tasks carry messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChannelMode {
    /// Messages move between threads as values.
    #[default]
    InMemory,
    /// Messages are encoded to bytes and decoded again, as over a network.
    Serialized,
}

impl ChannelMode {
    /// The mode named by the environment variable `STROM_CHANNELS` (`serialized` or
    /// `memory`), in-memory when unset. An unknown value is an error naming it.
    pub fn from_env() -> Result<ChannelMode> {
        match std::env::var("STROM_CHANNELS") {
            Err(_) => Ok(ChannelMode::InMemory),
            Ok(v) => v.parse(),
        }
    }
}

impl std::str::FromStr for ChannelMode {
    type Err = StromError;

    fn from_str(s: &str) -> Result<ChannelMode> {
        match s.trim() {
            "" | "memory" | "in-memory" => Ok(ChannelMode::InMemory),
            "serialized" => Ok(ChannelMode::Serialized),
            other => Err(StromError::InvalidJob(format!(
                "STROM_CHANNELS={other:?} is not a channel mode; use 'memory' or 'serialized'"
            ))),
        }
    }
}

/// The producer's end of a channel.
pub trait OutputChannel<T>: Send {
    /// Send `msg`, waiting while the channel is full (backpressure). Fails with
    /// [`StromError::Cancelled`] when the consumer is gone or `cancel` disconnects.
    fn send(&mut self, msg: Message<T>, cancel: &Receiver<()>) -> Result<()>;
}

/// What one message from a channel meant to the task loop.
#[derive(Debug)]
pub enum ChannelEvent {
    /// Records (and watermarks carried with them) were handed to the head.
    Data,
    /// A watermark.
    Watermark(Watermark),
    /// A status change.
    Status(WatermarkStatus),
    /// A barrier.
    Barrier(CheckpointBarrier),
    /// The channel ended (end of input, or the producer went away).
    End,
}

/// An input channel into a chain head that takes records of `T`.
pub type HeadInput<T> = Box<dyn InputChannel<Box<dyn Downstream<T>>>>;

/// Receives the watermarks carried inside a batch, with the task head.
pub type WatermarkSink<'a, H> = &'a mut dyn FnMut(&mut H, Watermark) -> Result<()>;

/// The consumer's end of a channel into a task whose head is `H`; data goes straight
/// into the head.
pub trait InputChannel<H: ?Sized>: Send {
    /// Receive one message if one is waiting; watermarks inside a batch go to `watermark`.
    fn try_receive(
        &self,
        head: &mut H,
        watermark: WatermarkSink<'_, H>,
    ) -> Option<Result<ChannelEvent>>;
    /// Add the channel to a blocking select.
    fn register<'a>(&'a self, sel: &mut Select<'a>) -> usize;
    /// Complete a select that chose this channel.
    fn complete(
        &self,
        oper: SelectedOperation<'_>,
        head: &mut H,
        watermark: WatermarkSink<'_, H>,
    ) -> Result<ChannelEvent>;
}

/// A bounded channel of `capacity` messages in `mode`.
pub fn channel<T: Data>(
    capacity: usize,
    mode: ChannelMode,
) -> (Box<dyn OutputChannel<T>>, ChannelReceiver<T>) {
    match mode {
        ChannelMode::InMemory => {
            let (tx, rx) = crossbeam_channel::bounded::<Message<T>>(capacity);
            (
                Box::new(MemoryOutput(tx)),
                ChannelReceiver {
                    kind: ReceiverKind::Memory(rx),
                },
            )
        }
        ChannelMode::Serialized => {
            let (tx, rx) = crossbeam_channel::bounded::<Vec<u8>>(capacity);
            (
                Box::new(SerializedOutput {
                    tx,
                    last_len: 0,
                    _t: PhantomData,
                }),
                ChannelReceiver {
                    kind: ReceiverKind::Serialized(rx),
                },
            )
        }
    }
}

fn send_blocking<M>(tx: &Sender<M>, msg: M, cancel: &Receiver<()>) -> Result<()> {
    match tx.try_send(msg) {
        Ok(()) => Ok(()),
        Err(TrySendError::Disconnected(_)) => Err(StromError::Cancelled),
        Err(TrySendError::Full(msg)) => crossbeam_channel::select! {
            send(tx, msg) -> r => r.map_err(|_| StromError::Cancelled),
            recv(cancel) -> _ => Err(StromError::Cancelled),
        },
    }
}

/// In memory: messages as values.
struct MemoryOutput<T>(Sender<Message<T>>);

impl<T: Send> OutputChannel<T> for MemoryOutput<T> {
    fn send(&mut self, msg: Message<T>, cancel: &Receiver<()>) -> Result<()> {
        send_blocking(&self.0, msg, cancel)
    }
}

/// Deliver one message: records into `push`, watermarks carried inside a batch into
/// `watermark` (in order with the records); other messages become an event.
pub fn deliver<T>(
    msg: Message<T>,
    mut push: impl FnMut(&mut Vec<Record<T>>) -> Result<()>,
    watermark: &mut dyn FnMut(Watermark) -> Result<()>,
) -> Result<ChannelEvent> {
    Ok(match msg {
        Message::Data(mut batch) => {
            push(&mut batch)?;
            ChannelEvent::Data
        }
        Message::Marked { records, marks } => {
            let mut segment = Vec::with_capacity(records.len());
            let mut it = records.into_iter();
            let mut done = 0usize;
            for (pos, w) in marks {
                segment.extend(it.by_ref().take(pos.saturating_sub(done)));
                done = done.max(pos);
                if !segment.is_empty() {
                    push(&mut segment)?;
                    segment.clear();
                }
                watermark(w)?;
            }
            segment.extend(it);
            if !segment.is_empty() {
                push(&mut segment)?;
            }
            ChannelEvent::Data
        }
        Message::Watermark(w) => ChannelEvent::Watermark(w),
        Message::Status(s) => ChannelEvent::Status(s),
        Message::Barrier(b) => ChannelEvent::Barrier(b),
        Message::EndOfInput => ChannelEvent::End,
    })
}

/// Hand a message's records and in-batch watermarks to the head, in order.
fn deliver_to<T>(
    msg: Message<T>,
    head: &mut Box<dyn Downstream<T>>,
    watermark: WatermarkSink<'_, Box<dyn Downstream<T>>>,
) -> Result<ChannelEvent> {
    let head = RefCell::new(head);
    deliver(msg, |b| head.borrow_mut().push(b), &mut |w| {
        watermark(&mut head.borrow_mut(), w)
    })
}

/// Serialized: one frame of bytes per message.
struct SerializedOutput<T> {
    tx: Sender<Vec<u8>>,
    /// Size of the last frame, to allocate the next one once at about its size.
    last_len: usize,
    _t: PhantomData<fn(T)>,
}

impl<T: Data> OutputChannel<T> for SerializedOutput<T> {
    fn send(&mut self, msg: Message<T>, cancel: &Receiver<()>) -> Result<()> {
        let mut bytes = Vec::with_capacity(self.last_len.max(64));
        frame::encode(&msg, &mut bytes)?;
        self.last_len = bytes.len();
        send_blocking(&self.tx, bytes, cancel)
    }
}

/// The consumer's end of a channel of `T`, in either mode. It is an [`InputChannel`] into
/// a head of `T`; [`TaggedInput`] feeds it into a head of another type (the second input
/// of a two-input operator).
pub struct ChannelReceiver<T> {
    kind: ReceiverKind<T>,
}

enum ReceiverKind<T> {
    Memory(Receiver<Message<T>>),
    Serialized(Receiver<Vec<u8>>),
}

impl<T: Data> ChannelReceiver<T> {
    /// The next message, if one is waiting.
    pub fn try_message(&self) -> Option<Result<Message<T>>> {
        let disconnected = || Some(Err(StromError::Cancelled));
        match &self.kind {
            ReceiverKind::Memory(rx) => match rx.try_recv() {
                Ok(m) => Some(Ok(m)),
                Err(TryRecvError::Empty) => None,
                // The producer went away without ending its input: failed or cancelled.
                Err(TryRecvError::Disconnected) => disconnected(),
            },
            ReceiverKind::Serialized(rx) => match rx.try_recv() {
                Ok(bytes) => Some(frame::decode(&bytes)),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => disconnected(),
            },
        }
    }

    /// Add the channel to a blocking select.
    pub fn register<'a>(&'a self, sel: &mut Select<'a>) -> usize {
        match &self.kind {
            ReceiverKind::Memory(rx) => sel.recv(rx),
            ReceiverKind::Serialized(rx) => sel.recv(rx),
        }
    }

    /// The message of a select that chose this channel.
    pub fn complete_message(&self, oper: SelectedOperation<'_>) -> Result<Message<T>> {
        match &self.kind {
            ReceiverKind::Memory(rx) => oper.recv(rx).map_err(|_| StromError::Cancelled),
            ReceiverKind::Serialized(rx) => {
                let bytes = oper.recv(rx).map_err(|_| StromError::Cancelled)?;
                frame::decode(&bytes)
            }
        }
    }
}

impl<T: Data> InputChannel<Box<dyn Downstream<T>>> for ChannelReceiver<T> {
    fn try_receive(
        &self,
        head: &mut Box<dyn Downstream<T>>,
        watermark: WatermarkSink<'_, Box<dyn Downstream<T>>>,
    ) -> Option<Result<ChannelEvent>> {
        self.try_message()
            .map(|m| m.and_then(|m| deliver_to(m, head, watermark)))
    }
    fn register<'a>(&'a self, sel: &mut Select<'a>) -> usize {
        ChannelReceiver::register(self, sel)
    }
    fn complete(
        &self,
        oper: SelectedOperation<'_>,
        head: &mut Box<dyn Downstream<T>>,
        watermark: WatermarkSink<'_, Box<dyn Downstream<T>>>,
    ) -> Result<ChannelEvent> {
        deliver_to(self.complete_message(oper)?, head, watermark)
    }
}

/// A channel of `T` feeding a head of `U`: every record is converted by `tag` (for the
/// inputs of a two-input operator, `Either::Left` or `Either::Right`), batch by batch into
/// a reused buffer.
pub struct TaggedInput<T, U> {
    rx: ChannelReceiver<T>,
    tag: fn(T) -> U,
    scratch: RefCell<Vec<Record<U>>>,
}

impl<T, U> TaggedInput<T, U> {
    /// Convert what `rx` delivers with `tag`.
    pub fn new(rx: ChannelReceiver<T>, tag: fn(T) -> U) -> Self {
        TaggedInput {
            rx,
            tag,
            scratch: RefCell::new(Vec::new()),
        }
    }

    fn deliver(
        &self,
        msg: Message<T>,
        head: &mut Box<dyn Downstream<U>>,
        watermark: WatermarkSink<'_, Box<dyn Downstream<U>>>,
    ) -> Result<ChannelEvent> {
        let head = RefCell::new(head);
        let tag = self.tag;
        deliver(
            msg,
            |batch| {
                let mut scratch = self.scratch.borrow_mut();
                scratch.clear();
                scratch.extend(batch.drain(..).map(|r| Record {
                    value: tag(r.value),
                    timestamp: r.timestamp,
                }));
                head.borrow_mut().push(&mut scratch)
            },
            &mut |w| watermark(&mut head.borrow_mut(), w),
        )
    }
}

impl<T: Data, U: Send> InputChannel<Box<dyn Downstream<U>>> for TaggedInput<T, U> {
    fn try_receive(
        &self,
        head: &mut Box<dyn Downstream<U>>,
        watermark: WatermarkSink<'_, Box<dyn Downstream<U>>>,
    ) -> Option<Result<ChannelEvent>> {
        self.rx
            .try_message()
            .map(|m| m.and_then(|m| self.deliver(m, head, watermark)))
    }
    fn register<'a>(&'a self, sel: &mut Select<'a>) -> usize {
        self.rx.register(sel)
    }
    fn complete(
        &self,
        oper: SelectedOperation<'_>,
        head: &mut Box<dyn Downstream<U>>,
        watermark: WatermarkSink<'_, Box<dyn Downstream<U>>>,
    ) -> Result<ChannelEvent> {
        let msg = self.rx.complete_message(oper)?;
        self.deliver(msg, head, watermark)
    }
}
