//! Assigns timestamps and generates watermarks (Flink's `TimestampsAndWatermarksOperator`).
//!
//! Upstream watermarks are ignored, except the final `Watermark::MAX` that marks the end of
//! a bounded input. With a zero emission interval the watermark is computed after every
//! record and, when it advances, sent before the next record, so each record is judged
//! against the watermark left by the records before it; otherwise a processing-time
//! callback emits it every interval. Idleness is detected on the same callback.
//!
//! On a source (`from_source_with_watermarks`) every split gets its own generator and the
//! watermark is the minimum over the active splits (Flink's per-split watermarks); a finished
//! split stops holding it back. Elsewhere the stream is one split.

use crate::downstream::{Downstream, Outputs};
use crate::metrics::OperatorMetrics;
use crate::operator::guarded;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use strom_core::watermark::{TimestampAssigner, WatermarkGenerator, WatermarkOutput};
use strom_core::{Clock, Result, SplitEvent, TaskInfo};
use strom_types::{CheckpointBarrier, Record, Watermark, WatermarkStatus};

/// One split's generator and watermark.
struct SplitGenerator<G> {
    id: u64,
    generator: G,
    watermark: i64,
}

/// The timestamps-and-watermarks link of a chain.
pub struct TimestampsAndWatermarks<T, G, A> {
    prototype: G,
    splits: Vec<SplitGenerator<G>>,
    current: usize,
    assigner: A,
    outputs: Outputs<T>,
    buf: Vec<Record<T>>,
    emitted: WatermarkOutput,
    output: Watermark,
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
    G: WatermarkGenerator<T> + Clone,
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
            splits: vec![SplitGenerator {
                id: 0,
                generator: generator.clone(),
                watermark: i64::MIN,
            }],
            prototype: generator,
            current: 0,
            assigner,
            outputs,
            buf: Vec::new(),
            emitted: WatermarkOutput::default(),
            output: Watermark::MIN,
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

    /// Start with the given splits registered (a source subtask's assigned splits): each
    /// holds the watermark back until it has produced records or finished.
    pub fn with_splits(mut self, ids: &[u64]) -> Self {
        if !ids.is_empty() {
            self.splits = ids
                .iter()
                .map(|&id| SplitGenerator {
                    id,
                    generator: self.prototype.clone(),
                    watermark: i64::MIN,
                })
                .collect();
            self.current = 0;
        }
        self
    }

    /// Switch to split `id`, creating its generator on first sight.
    fn select_split(&mut self, id: u64) {
        if let Some(i) = self.splits.iter().position(|s| s.id == id) {
            self.current = i;
        } else {
            self.splits.push(SplitGenerator {
                id,
                generator: self.prototype.clone(),
                watermark: i64::MIN,
            });
            self.current = self.splits.len() - 1;
        }
    }

    /// Split `id` is exhausted: it no longer holds the watermark back.
    fn finish_split(&mut self, id: u64) -> Result<()> {
        if let Some(i) = self.splits.iter().position(|s| s.id == id) {
            self.splits.swap_remove(i);
            self.current = 0;
            self.advance()?;
        }
        Ok(())
    }

    /// Emit the minimum over the active splits if it moved forward: flush records first so
    /// the watermark follows them.
    fn advance(&mut self) -> Result<()> {
        let Some(min) = self.splits.iter().map(|s| s.watermark).min() else {
            return Ok(());
        };
        if min > self.output.0 {
            self.flush_buf()?;
            self.mark_active()?;
            self.output = Watermark(min);
            self.outputs.watermark(self.output)?;
        }
        Ok(())
    }

    /// As Flink's `WatermarkEmitter`: emitting a watermark makes an idle stream active
    /// again (downstream ignores the watermarks of an idle input).
    fn mark_active(&mut self) -> Result<()> {
        if self.idle {
            self.idle = false;
            self.outputs.status(WatermarkStatus::Active)?;
        }
        Ok(())
    }

    /// Forward what the current split's generator emitted.
    fn forward_emitted(&mut self) -> Result<()> {
        let (w, idle) = self.emitted.take();
        if let Some(w) = w
            && let Some(split) = self.splits.get_mut(self.current)
            && w.0 > split.watermark
        {
            split.watermark = w.0;
            self.advance()?;
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

impl<T, G, A> crate::source_task::SourceHead<T> for TimestampsAndWatermarks<T, G, A>
where
    T: Send + 'static,
    G: WatermarkGenerator<T> + Clone,
    A: TimestampAssigner<T>,
{
    fn push_with_splits(
        &mut self,
        batch: &mut Vec<Record<T>>,
        events: &[SplitEvent],
    ) -> Result<()> {
        self.metrics.add_in(batch.len());
        if self.idleness_ms.is_some() {
            self.last_activity = self.clock.now_ms();
        }
        if self.idle && !batch.is_empty() {
            self.idle = false;
            self.outputs.status(WatermarkStatus::Active)?;
        }
        let per_record = self.interval_ms == 0;
        let mut events = events.iter().peekable();
        for (i, r) in batch.drain(..).enumerate() {
            while let Some(e) = events.next_if(|e| event_at(e) <= i) {
                self.split_event(e)?;
            }
            if self.splits.is_empty() {
                self.select_split(0);
            }
            // As Flink: the record goes out first, then the generator sees it, so a watermark
            // it causes follows the record (each record is judged against the watermark of
            // the records before it).
            let assigner = &mut self.assigner;
            let ts = guarded(&self.info, || {
                Ok(assigner.extract_timestamp(&r.value, r.timestamp))
            })?;
            let value = r.value;
            self.buf.push(Record::new(value, ts));
            let (generator, out, value) = (
                &mut self.splits[self.current].generator,
                &mut self.emitted,
                &self.buf[self.buf.len() - 1].value,
            );
            guarded(&self.info, || {
                generator.on_event(value, ts, out);
                if per_record {
                    generator.on_periodic_emit(out);
                }
                Ok(())
            })?;
            self.forward_emitted()?;
        }
        for e in events {
            self.split_event(e)?;
        }
        self.flush_buf()
    }
}

fn event_at(e: &SplitEvent) -> usize {
    match *e {
        SplitEvent::Start { at, .. } | SplitEvent::Finish { at, .. } => at,
    }
}

impl<T, G, A> TimestampsAndWatermarks<T, G, A>
where
    T: Send + 'static,
    G: WatermarkGenerator<T> + Clone,
    A: TimestampAssigner<T>,
{
    fn split_event(&mut self, e: &SplitEvent) -> Result<()> {
        match *e {
            SplitEvent::Start { id, .. } => {
                // The first real split replaces the placeholder split 0 if it saw nothing.
                if let [only] = self.splits.as_slice()
                    && only.id == 0
                    && only.watermark == i64::MIN
                    && id != 0
                {
                    self.splits.clear();
                }
                self.select_split(id);
                Ok(())
            }
            SplitEvent::Finish { id, .. } => self.finish_split(id),
        }
    }
}

impl<T, G, A> Downstream<T> for TimestampsAndWatermarks<T, G, A>
where
    T: Send + 'static,
    G: WatermarkGenerator<T> + Clone,
    A: TimestampAssigner<T>,
{
    fn push(&mut self, batch: &mut Vec<Record<T>>) -> Result<()> {
        crate::source_task::SourceHead::push_with_splits(self, batch, &[])
    }

    fn watermark(&mut self, watermark: Watermark) -> Result<()> {
        if watermark == Watermark::MAX && self.output != Watermark::MAX {
            self.flush_buf()?;
            self.mark_active()?;
            self.output = Watermark::MAX;
            self.outputs.watermark(Watermark::MAX)?;
        }
        Ok(())
    }

    fn status(&mut self, _: WatermarkStatus) -> Result<()> {
        Ok(())
    }

    fn barrier(&mut self, barrier: CheckpointBarrier) -> Result<()> {
        // Records before the barrier stay before it.
        self.flush_buf()?;
        self.outputs.barrier(barrier)
    }

    fn processing_time(&mut self, now_ms: i64) -> Result<()> {
        if self.interval_ms > 0 {
            for i in 0..self.splits.len() {
                self.current = i;
                let (generator, out) = (&mut self.splits[i].generator, &mut self.emitted);
                guarded(&self.info, || {
                    generator.on_periodic_emit(out);
                    Ok(())
                })?;
                self.forward_emitted()?;
            }
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

    fn notify_checkpoint_complete(&mut self, id: strom_types::CheckpointId) -> Result<()> {
        self.outputs.notify_checkpoint_complete(id)
    }
}
