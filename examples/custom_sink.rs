//! A user-defined sink: one writer per subtask, batches in, flush and finish hooks.
//!
//! `cargo run --release --example custom_sink`

use std::io::Write;
use strom::core::{Sink, SinkContext, SinkWriter};
use strom::prelude::*;

/// Writes `subtask:value` lines to standard error, buffering per batch.
struct StderrSink;

struct StderrWriter {
    subtask: usize,
    buf: Vec<u8>,
}

impl Sink<u64> for StderrSink {
    type Writer = StderrWriter;
    fn create_writer(&self, ctx: &SinkContext) -> Result<StderrWriter, BoxError> {
        Ok(StderrWriter {
            subtask: ctx.info.subtask,
            buf: Vec::new(),
        })
    }
}

impl SinkWriter<u64> for StderrWriter {
    fn write(&mut self, value: u64, _timestamp: i64) -> Result<(), BoxError> {
        writeln!(self.buf, "{}:{value}", self.subtask)?;
        Ok(())
    }
    fn flush(&mut self) -> Result<(), BoxError> {
        std::io::stderr().write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
}

fn main() -> Result<(), BoxError> {
    let env = StreamEnv::new().with_parallelism(2);
    env.generate(Some(10), |i| i * i)
        .sink_to(StderrSink, "Sink: Stderr");
    let result = env.execute("custom sink")?;
    println!(
        "{:?}",
        result.operator("Sink: Stderr").map(|o| o.records_in)
    );
    Ok(())
}
