//! Prints records to standard output, one per line, prefixed with the subtask as Flink's
//! `print()` does when the sink runs in parallel (`2> value`).

use std::fmt::Debug;
use std::io::Write;
use strom_core::{BoxError, Record, Sink, SinkContext, SinkWriter, Timestamp};

/// Prints each record with `{:?}`.
#[derive(Clone, Copy, Debug, Default)]
pub struct PrintSink;

impl<T: Debug + Send + 'static> Sink<T> for PrintSink {
    type Writer = PrintWriter;

    fn create_writer(&self, ctx: &SinkContext) -> Result<PrintWriter, BoxError> {
        let prefix = if ctx.info.parallelism > 1 {
            format!("{}> ", ctx.info.subtask + 1)
        } else {
            String::new()
        };
        Ok(PrintWriter {
            prefix,
            buf: Vec::new(),
        })
    }
}

/// Formats into a buffer and writes it to stdout per batch.
pub struct PrintWriter {
    prefix: String,
    buf: Vec<u8>,
}

impl<T: Debug + Send> SinkWriter<T> for PrintWriter {
    fn write(&mut self, value: T, _: Timestamp) -> Result<(), BoxError> {
        writeln!(self.buf, "{}{value:?}", self.prefix)?;
        Ok(())
    }

    fn write_batch(&mut self, batch: &mut Vec<Record<T>>) -> Result<(), BoxError> {
        for r in batch.drain(..) {
            writeln!(self.buf, "{}{:?}", self.prefix, r.value)?;
        }
        SinkWriter::<T>::flush(self)
    }

    fn flush(&mut self) -> Result<(), BoxError> {
        if !self.buf.is_empty() {
            let mut out = std::io::stdout().lock();
            out.write_all(&self.buf)?;
            out.flush()?;
            self.buf.clear();
        }
        Ok(())
    }
}
