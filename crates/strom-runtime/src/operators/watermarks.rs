//! Assigns timestamps and generates watermarks (Flink's `TimestampsAndWatermarksOperator`).
//!
//! Upstream watermarks are ignored, except the final `Watermark::MAX` that marks the end of
//! a bounded input. With a zero emission interval the watermark is computed after every
//! record and, when it advances, sent before the next record, so each record is judged
//! against the watermark left by the records before it; otherwise a processing-time
//! callback emits it every interval. Idleness is detected on the same callback.

use crate::downstream::{Downstream, Outputs};
use crate::metrics::OperatorMetrics;
use crate::operator::guarded;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use strom_core::watermark::{TimestampAssigner, WatermarkGenerator, WatermarkOutput};
use strom_core::{Clock, Result, TaskInfo};
use strom_types::{CheckpointBarrier, Record, Watermark, WatermarkStatus};

/// The timestamps-and-watermarks link of a chain.
pub struct TimestampsAndWatermarks<T, G, A> {
    generator: G,
    assigner: A,
    outputs: Outputs<T>,
    buf: Vec<Record<T>>,
    emitted: WatermarkOutput,
    current: Watermark,
    interval_ms: i64,
    idleness_ms: Option<i64>,
    idle: bool,
    last_activity: i64,
    clock: Arc<dyn Clock>,
    wakeup: Arc<AtomicI64>,
    info: TaskInfo,
    metrics: Arc<OperatorMetrics>,
}

impl<T, G, A> TimestampsAndWatermarks<T, G, A>
where
    T: Send + 'static,
    G: WatermarkGenerator<T>,
    A: TimestampAssigner<T>,
{
    /// A link emitting into `outputs`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        generator: G,
        assigner: A,
        interval: Duration,
        idleness: Option<Duration>,
        outputs: Outputs<T>,
        clock: Arc<dyn Clock>,
        wakeup: Arc<AtomicI64>,
        info: TaskInfo,
        metrics: Arc<OperatorMetrics>,
    ) -> Self {
        let now = clock.now_ms();
        let link = TimestampsAndWatermarks {
            generator,
            assigner,
            outputs,
            buf: Vec::new(),
            emitted: WatermarkOutput::default(),
            current: Watermark::MIN,
            interval_ms: interval.as_millis() as i64,
            idleness_ms: idleness.map(|d| d.as_millis().max(1) as i64),
            idle: false,
            last_activity: now,
            clock,
            wakeup,
            info,
            metrics,
        };
        link.schedule(now);
        link
    }

    fn schedule(&self, now: i64) {
        let mut next = i64::MAX;
        if self.interval_ms > 0 {
            next = now + self.interval_ms;
        }
        if let Some(idle) = self.idleness_ms {
            let check = if self.idle {
                now + idle
            } else {
                self.last_activity + idle
            };
            next = next.min(check.max(now + 1));
        }
        if next != i64::MAX {
            self.wakeup.fetch_min(next, Ordering::Relaxed);
        }
    }

    /// Forward what the generator emitted: flush records first so the watermark follows them.
    fn forward_emitted(&mut self) -> Result<()> {
        let (w, idle) = self.emitted.take();
        if let Some(w) = w
            && w > self.current
        {
            self.flush_buf()?;
            self.current = w;
            self.outputs.watermark(w)?;
        }
        match idle {
            Some(true) if !self.idle => {
                self.flush_buf()?;
                self.idle = true;
                self.outputs.status(WatermarkStatus::Idle)?;
            }
            Some(false) if self.idle => {
                self.idle = false;
                self.outputs.status(WatermarkStatus::Active)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn flush_buf(&mut self) -> Result<()> {
        if !self.buf.is_empty() {
            self.metrics.add_out(self.buf.len());
            self.outputs.main.push(&mut self.buf)?;
        }
        Ok(())
    }
}

impl<T, G, A> Downstream<T> for TimestampsAndWatermarks<T, G, A>
where
    T: Send + 'static,
    G: WatermarkGenerator<T>,
    A: TimestampAssigner<T>,
{
    fn push(&mut self, batch: &mut Vec<Record<T>>) -> Result<()> {
        self.metrics.add_in(batch.len());
        if self.idleness_ms.is_some() {
            self.last_activity = self.clock.now_ms();
        }
        if self.idle {
            self.idle = false;
            self.outputs.status(WatermarkStatus::Active)?;
        }
        let per_record = self.interval_ms == 0;
        for r in batch.drain(..) {
            let (generator, assigner, out) =
                (&mut self.generator, &mut self.assigner, &mut self.emitted);
            let ts = guarded(&self.info, || {
                let ts = assigner.extract_timestamp(&r.value, r.timestamp);
                generator.on_event(&r.value, ts, out);
                if per_record {
                    generator.on_periodic_emit(out);
                }
                Ok(ts)
            })?;
            // A watermark emitted for earlier records precedes this one.
            self.forward_emitted()?;
            self.buf.push(Record::new(r.value, ts));
        }
        self.flush_buf()
    }

    fn watermark(&mut self, watermark: Watermark) -> Result<()> {
        if watermark == Watermark::MAX && self.current != Watermark::MAX {
            self.flush_buf()?;
            self.current = Watermark::MAX;
            self.outputs.watermark(Watermark::MAX)?;
        }
        Ok(())
    }

    fn status(&mut self, _: WatermarkStatus) -> Result<()> {
        Ok(())
    }

    fn barrier(&mut self, barrier: CheckpointBarrier) -> Result<()> {
        self.outputs.barrier(barrier)
    }

    fn processing_time(&mut self, now_ms: i64) -> Result<()> {
        if self.interval_ms > 0 {
            let (generator, out) = (&mut self.generator, &mut self.emitted);
            guarded(&self.info, || {
                generator.on_periodic_emit(out);
                Ok(())
            })?;
        }
        if let Some(idle) = self.idleness_ms
            && !self.idle
            && now_ms - self.last_activity >= idle
        {
            self.emitted.mark_idle();
        }
        self.forward_emitted()?;
        self.schedule(now_ms);
        self.outputs.processing_time(now_ms)
    }

    fn end_of_input(&mut self) -> Result<()> {
        self.flush_buf()?;
        self.outputs.end_of_input()
    }

    fn flush(&mut self) -> Result<()> {
        self.outputs.flush()
    }
}
