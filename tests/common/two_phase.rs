//! An in-memory two-phase-commit sink for exactly-once tests: records become visible only
//! when the checkpoint that covers them completes.

#![allow(clippy::unwrap_used)]

use super::sorted;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use strom::core::checkpoint::{RestoredState, SnapshotContext, StateSnapshot};
use strom::core::operator_state::Redistribution;
use strom::core::{BoxError, SinkContext};
use strom::prelude::*;
use strom::{Sink, SinkWriter, Timestamp};

/// Committed transactions by (writer subtask, checkpoint id): committing one twice is a
/// no-op, as a real two-phase-commit target (a file rename, a Kafka transaction) is.
pub type Committed<T> = Arc<Mutex<BTreeMap<(usize, u64), Vec<T>>>>;

pub fn contents<T: Clone + Ord>(c: &Committed<T>) -> Vec<T> {
    sorted(c.lock().unwrap().values().flatten().cloned().collect())
}

/// A two-phase-commit sink into memory: records become visible only when the checkpoint
/// that covers them completes (or at the end without checkpointing).
#[derive(Clone)]
pub struct TxSink<T> {
    /// Where committed transactions go.
    pub committed: Committed<T>,
}

/// The writer of one sink subtask.
pub struct TxWriter<T> {
    committed: Committed<T>,
    subtask: usize,
    checkpointing: bool,
    current: Vec<T>,
    pending: Vec<(usize, u64, Vec<T>)>,
}

impl<T: Data> TxWriter<T> {
    fn commit_up_to(&mut self, id: u64) {
        let mut c = self.committed.lock().unwrap();
        self.pending.retain_mut(|(subtask, cid, records)| {
            if *cid <= id {
                c.entry((*subtask, *cid))
                    .or_insert_with(|| std::mem::take(records));
                false
            } else {
                true
            }
        });
    }
}

impl<T: Data> SinkWriter<T> for TxWriter<T> {
    fn write(&mut self, value: T, _: Timestamp) -> Result<(), BoxError> {
        self.current.push(value);
        Ok(())
    }
    fn finish(&mut self) -> Result<(), BoxError> {
        if !self.checkpointing {
            let records = std::mem::take(&mut self.current);
            self.committed
                .lock()
                .unwrap()
                .insert((self.subtask, 0), records);
        }
        Ok(())
    }
    fn initialize_state(&mut self, state: &RestoredState) -> Result<(), BoxError> {
        self.pending = state.list("pending")?;
        self.commit_up_to(u64::MAX);
        Ok(())
    }
    fn snapshot_state(
        &mut self,
        ctx: &SnapshotContext,
        out: &mut StateSnapshot,
    ) -> Result<(), BoxError> {
        let batch = std::mem::take(&mut self.current);
        self.pending.push((self.subtask, ctx.checkpoint_id, batch));
        out.list("pending", Redistribution::EvenSplit, &self.pending)?;
        Ok(())
    }
    fn notify_checkpoint_complete(&mut self, id: u64) -> Result<(), BoxError> {
        self.commit_up_to(id);
        Ok(())
    }
}

impl<T: Data> Sink<T> for TxSink<T> {
    type Writer = TxWriter<T>;
    fn create_writer(&self, ctx: &SinkContext) -> Result<TxWriter<T>, BoxError> {
        Ok(TxWriter {
            committed: Arc::clone(&self.committed),
            subtask: ctx.info.subtask,
            checkpointing: ctx.checkpointing,
            current: Vec::new(),
            pending: Vec::new(),
        })
    }
}
