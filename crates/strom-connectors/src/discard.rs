//! A sink that drops everything (Flink's `DiscardingSink`), for benchmarks.

use strom_core::{BoxError, Record, Sink, SinkContext, SinkWriter, Timestamp};

/// Drops every record.
#[derive(Clone, Copy, Debug, Default)]
pub struct DiscardSink;

impl<T: Send + 'static> Sink<T> for DiscardSink {
    type Writer = DiscardSink;

    fn create_writer(&self, _: &SinkContext) -> Result<DiscardSink, BoxError> {
        Ok(DiscardSink)
    }
}

impl<T: Send> SinkWriter<T> for DiscardSink {
    fn write(&mut self, _: T, _: Timestamp) -> Result<(), BoxError> {
        Ok(())
    }
    fn write_batch(&mut self, batch: &mut Vec<Record<T>>) -> Result<(), BoxError> {
        batch.clear();
        Ok(())
    }
}
