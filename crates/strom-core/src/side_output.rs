//! Typed side outputs (Flink's `OutputTag`).

use std::any::Any;
use std::marker::PhantomData;
use std::sync::Arc;
use strom_types::Record;

/// Names a side output of type `T`. Two tags are the same side output when their names are
/// equal; using one name with two types is rejected when the job is built.
pub struct OutputTag<T> {
    id: u64,
    name: Arc<str>,
    _type: PhantomData<fn() -> T>,
}

impl<T> OutputTag<T> {
    /// A tag named `name`.
    pub fn new(name: impl Into<Arc<str>>) -> Self {
        let name: Arc<str> = name.into();
        let id = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        OutputTag {
            id,
            name,
            _type: PhantomData,
        }
    }

    /// The tag's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A numeric id derived from the name.
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl<T> Clone for OutputTag<T> {
    fn clone(&self) -> Self {
        OutputTag {
            id: self.id,
            name: Arc::clone(&self.name),
            _type: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for OutputTag<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OutputTag({})", self.name)
    }
}

/// The side-output buffers of one operator instance.
///
/// The runtime registers one buffer per side output that has a consumer; records emitted to
/// a tag nobody consumes are dropped, as in Flink. Buffers are drained by the runtime after
/// each batch.
#[derive(Default)]
pub struct SideOutputs {
    slots: Vec<(u64, Box<dyn Any + Send>)>,
}

impl SideOutputs {
    /// No side outputs.
    pub fn new() -> Self {
        Self::default()
    }

    /// Register a buffer for `tag`'s records (runtime use).
    pub fn register<T: Send + 'static>(&mut self, tag_id: u64) {
        if !self.slots.iter().any(|(id, _)| *id == tag_id) {
            self.slots.push((tag_id, Box::new(Vec::<Record<T>>::new())));
        }
    }

    /// Emit `record` to the side output named by `tag`.
    pub fn emit<T: 'static>(&mut self, tag: &OutputTag<T>, record: Record<T>) {
        if let Some(buf) = self.buffer_mut::<T>(tag.id) {
            buf.push(record);
        }
    }

    /// The buffer registered for `tag_id` (runtime use).
    pub fn buffer_mut<T: 'static>(&mut self, tag_id: u64) -> Option<&mut Vec<Record<T>>> {
        self.slots
            .iter_mut()
            .find(|(id, _)| *id == tag_id)
            .and_then(|(_, b)| b.downcast_mut::<Vec<Record<T>>>())
    }

    /// Whether nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}
