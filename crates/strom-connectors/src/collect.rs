//! A sink that gathers every record in memory, for tests and small jobs.

use std::sync::{Arc, Mutex};
use strom_core::{BoxError, Record, Sink, SinkContext, SinkWriter, Timestamp};

/// Collects records from all subtasks into one shared `Vec`.
pub struct CollectSink<T> {
    store: Arc<Mutex<Vec<Record<T>>>>,
}

/// Reads what a [`CollectSink`] gathered; clones share the same store.
pub struct CollectHandle<T> {
    store: Arc<Mutex<Vec<Record<T>>>>,
}

impl<T> Clone for CollectHandle<T> {
    fn clone(&self) -> Self {
        CollectHandle {
            store: Arc::clone(&self.store),
        }
    }
}

/// A collecting sink and the handle to read it.
pub fn collect_sink<T>() -> (CollectSink<T>, CollectHandle<T>) {
    let store = Arc::new(Mutex::new(Vec::new()));
    (
        CollectSink {
            store: Arc::clone(&store),
        },
        CollectHandle { store },
    )
}

impl<T> CollectHandle<T> {
    /// Take the values gathered so far, in arrival order (per subtask).
    pub fn take(&self) -> Vec<T> {
        self.take_records().into_iter().map(|r| r.value).collect()
    }

    /// Take the records (value and timestamp) gathered so far.
    pub fn take_records(&self) -> Vec<Record<T>> {
        match self.store.lock() {
            Ok(mut g) => std::mem::take(&mut *g),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        }
    }

    /// How many records are held.
    pub fn len(&self) -> usize {
        self.store.lock().map(|g| g.len()).unwrap_or(0)
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T: Send + 'static> Sink<T> for CollectSink<T> {
    type Writer = CollectWriter<T>;

    fn create_writer(&self, _: &SinkContext) -> Result<Self::Writer, BoxError> {
        Ok(CollectWriter {
            store: Arc::clone(&self.store),
        })
    }
}

/// Appends batches to the shared store.
pub struct CollectWriter<T> {
    store: Arc<Mutex<Vec<Record<T>>>>,
}

impl<T: Send> SinkWriter<T> for CollectWriter<T> {
    fn write(&mut self, value: T, timestamp: Timestamp) -> Result<(), BoxError> {
        self.write_batch(&mut vec![Record::new(value, timestamp)])
    }

    fn write_batch(&mut self, batch: &mut Vec<Record<T>>) -> Result<(), BoxError> {
        let mut g = self
            .store
            .lock()
            .map_err(|_| "collect sink lock poisoned")?;
        g.append(batch);
        Ok(())
    }
}
