//! Asynchronous I/O (Flink's `AsyncDataStream`): call an external service for each element
//! without blocking the task, with many requests in flight.
//!
//! Requests run on a small tokio runtime owned by the operator instance. At most `capacity`
//! are in flight; when full, the task waits for one to finish (backpressure). Each request
//! has a timeout and may be retried; once retries are exhausted the job fails, naming the
//! operator. In *ordered* mode results are emitted in input order; in *unordered* mode as
//! they complete. In both modes a watermark never overtakes the results of the elements
//! before it: the operator emits them all before the watermark goes on, as Flink does.
//!
//! ## Checkpoints
//!
//! As Flink's `AsyncWaitOperator` does, the operator checkpoints the input elements whose
//! results it has not emitted yet (requests in flight, and in ordered mode also finished
//! ones waiting for an earlier one), in input order, as the operator list state
//! [`AsyncOperator::STATE_NAME`] (even split when the job is rescaled). A restored subtask
//! submits them again, in that order and before any new element, so each result is emitted
//! exactly once downstream; the external service may see a request twice (once before the
//! failure, once after), so requests should be idempotent or their effects tolerated.

use crossbeam_channel::{Receiver, Sender};
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use strom_core::checkpoint::{
    RestoredState, SnapshotContext, StateSection, StateSnapshot, encode, state_error,
};
use strom_core::operator_state::Redistribution;
use strom_core::{BoxError, Data, Result, StromError};
use strom_runtime::operator::{Emitter, OneInputOperator, OperatorContext};
use strom_types::{Record, Timestamp};

/// A future producing a request's results.
pub type AsyncResult<O> =
    Pin<Box<dyn Future<Output = std::result::Result<Vec<O>, BoxError>> + Send>>;

/// Calls a service for one element (Flink's `AsyncFunction`).
///
/// Contract: `invoke` returns a future that completes with the element's results (possibly
/// none); it may be called again for the same element when a retry is configured.
/// Closures `Fn(I) -> impl Future<Output = Result<O, BoxError>>` implement it (one result per
/// element).
pub trait AsyncFunction<I, O>: Send + Sync + 'static {
    /// Start the request for `input`.
    fn invoke(&self, input: I) -> AsyncResult<O>;
}

impl<I, O, F, Fut> AsyncFunction<I, O> for F
where
    F: Fn(I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = std::result::Result<O, BoxError>> + Send + 'static,
    O: Send + 'static,
{
    fn invoke(&self, input: I) -> AsyncResult<O> {
        let fut = self(input);
        Box::pin(async move { fut.await.map(|o| vec![o]) })
    }
}

/// How requests are issued.
#[derive(Clone, Copy, Debug)]
pub struct AsyncConfig {
    /// Most requests in flight per subtask.
    pub capacity: usize,
    /// Time allowed for one attempt.
    pub timeout: Duration,
    /// Further attempts after a failure or timeout.
    pub retries: u32,
    /// Wait between attempts (doubled after each).
    pub retry_delay: Duration,
    /// Emit results in input order.
    pub ordered: bool,
}

impl Default for AsyncConfig {
    fn default() -> Self {
        AsyncConfig {
            capacity: 100,
            timeout: Duration::from_secs(10),
            retries: 0,
            retry_delay: Duration::from_millis(100),
            ordered: true,
        }
    }
}

type Done<O> = (u64, Timestamp, std::result::Result<Vec<O>, String>);

impl<I, O, F> AsyncOperator<I, O, F> {
    /// The operator list state that holds the elements in flight in a checkpoint (Flink's
    /// name for it).
    pub const STATE_NAME: &'static str = "_async_wait_operator_state_";
}

/// Runs an [`AsyncFunction`]; checkpoints the elements whose results are not emitted yet
/// (see the [module documentation](self)).
pub struct AsyncOperator<I, O, F> {
    function: Arc<F>,
    config: AsyncConfig,
    runtime: tokio::runtime::Runtime,
    done_tx: Sender<Done<O>>,
    done_rx: Receiver<Done<O>>,
    next_seq: u64,
    in_flight: usize,
    /// Ordered mode: finished results waiting for their predecessors, and the order.
    finished: BTreeMap<u64, (Timestamp, Vec<O>)>,
    order: VecDeque<u64>,
    /// The input of every request whose results are not emitted yet, by sequence number
    /// (what a checkpoint keeps).
    inputs: BTreeMap<u64, Record<I>>,
    /// Restored elements not submitted again yet, in input order.
    recovered: VecDeque<Record<I>>,
    /// The operator's name, for errors about its state.
    operator: String,
}

impl<I, O, F> AsyncOperator<I, O, F>
where
    I: Clone + Send + 'static,
    O: Send + 'static,
    F: AsyncFunction<I, O>,
{
    /// An operator calling `function` under `config`.
    pub fn new(function: F, config: AsyncConfig) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_time()
            .thread_name("strom-async")
            .build()
            .map_err(|e| {
                StromError::Internal(format!("cannot start the async I/O runtime: {e}"))
            })?;
        let (done_tx, done_rx) = crossbeam_channel::unbounded();
        Ok(AsyncOperator {
            function: Arc::new(function),
            config: AsyncConfig {
                capacity: config.capacity.max(1),
                ..config
            },
            runtime,
            done_tx,
            done_rx,
            next_seq: 0,
            in_flight: 0,
            finished: BTreeMap::new(),
            order: VecDeque::new(),
            inputs: BTreeMap::new(),
            recovered: VecDeque::new(),
            operator: String::new(),
        })
    }

    fn start(&mut self, r: Record<I>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.in_flight += 1;
        if self.config.ordered {
            self.order.push_back(seq);
        }
        self.inputs.insert(seq, r.clone());
        let (f, cfg, tx) = (
            Arc::clone(&self.function),
            self.config,
            self.done_tx.clone(),
        );
        let (input, ts) = (r.value, r.timestamp);
        self.runtime.spawn(async move {
            let mut delay = cfg.retry_delay;
            let mut attempt = 0;
            let result = loop {
                let outcome = tokio::time::timeout(cfg.timeout, f.invoke(input.clone())).await;
                let err = match outcome {
                    Ok(Ok(v)) => break Ok(v),
                    Ok(Err(e)) => format!("async request failed: {e}"),
                    Err(_) => format!("async request timed out after {:?}", cfg.timeout),
                };
                if attempt >= cfg.retries {
                    break Err(if cfg.retries > 0 {
                        format!("{err} (after {} attempts)", attempt + 1)
                    } else {
                        err
                    });
                }
                attempt += 1;
                tokio::time::sleep(delay).await;
                delay = delay.saturating_mul(2);
            };
            let _ = tx.send((seq, ts, result));
        });
    }

    /// Requests occupying capacity: in ordered mode also those finished but waiting for an
    /// earlier one (Flink counts them too), so that buffered results stay bounded.
    fn queued(&self) -> usize {
        if self.config.ordered {
            self.order.len()
        } else {
            self.in_flight
        }
    }

    /// Take one finished request (blocking when `wait`), and emit what may be emitted.
    fn collect(&mut self, wait: bool, out: &mut Emitter<'_, O>) -> Result<bool> {
        let done = if wait {
            self.done_rx
                .recv()
                .map_err(|_| StromError::Internal("async I/O runtime stopped".into()))?
        } else {
            match self.done_rx.try_recv() {
                Ok(d) => d,
                Err(_) => return Ok(false),
            }
        };
        self.in_flight -= 1;
        let (seq, ts, result) = done;
        let results = result.map_err(|e| StromError::User(e.into()))?;
        if self.config.ordered {
            self.finished.insert(seq, (ts, results));
            while let Some(&next) = self.order.front() {
                let Some((ts, results)) = self.finished.remove(&next) else {
                    break;
                };
                self.order.pop_front();
                self.inputs.remove(&next);
                out.records
                    .extend(results.into_iter().map(|v| Record::new(v, ts)));
            }
        } else {
            self.inputs.remove(&seq);
            out.records
                .extend(results.into_iter().map(|v| Record::new(v, ts)));
        }
        Ok(true)
    }

    /// Submit `r`, waiting for capacity first, and emit what has finished meanwhile.
    fn submit(&mut self, r: Record<I>, out: &mut Emitter<'_, O>) -> Result<()> {
        while self.queued() >= self.config.capacity {
            self.collect(true, out)?;
        }
        self.start(r);
        while self.collect(false, out)? {}
        Ok(())
    }

    /// Submit the restored elements again (before anything else the operator does).
    fn resubmit_recovered(&mut self, out: &mut Emitter<'_, O>) -> Result<()> {
        while let Some(r) = self.recovered.pop_front() {
            self.submit(r, out)?;
            out.flush_if_full()?;
        }
        Ok(())
    }

    /// Wait until every request in flight has finished and its results are emitted.
    fn drain(&mut self, out: &mut Emitter<'_, O>) -> Result<()> {
        self.resubmit_recovered(out)?;
        while self.in_flight > 0 {
            self.collect(true, out)?;
            out.flush_if_full()?;
        }
        Ok(())
    }
}

impl<I, O, F> OneInputOperator<I, O> for AsyncOperator<I, O, F>
where
    I: Data,
    O: Send + 'static,
    F: AsyncFunction<I, O>,
{
    fn open(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        self.operator = ctx.info.operator_name.clone();
        Ok(())
    }

    fn initialize_state(&mut self, state: &RestoredState, ctx: &mut OperatorContext) -> Result<()> {
        self.recovered = state.list::<Record<I>>(Self::STATE_NAME)?.into();
        if !self.recovered.is_empty() {
            // Submit them at the first callback even if no element arrives.
            ctx.request_processing_time(ctx.clock.now_ms());
        }
        Ok(())
    }

    fn snapshot_state(&mut self, _ctx: &SnapshotContext, out: &mut StateSnapshot) -> Result<()> {
        let elements: Vec<Record<I>> = self
            .recovered
            .iter()
            .chain(self.inputs.values())
            .cloned()
            .collect();
        let operator = self.operator.clone();
        out.defer(move |sections| {
            let elements = elements
                .iter()
                .map(|e| encode(e).map_err(|m| state_error(&operator, Self::STATE_NAME, m)))
                .collect::<Result<Vec<_>>>()?;
            sections.push(StateSection::List {
                state: Self::STATE_NAME.to_string(),
                mode: Redistribution::EvenSplit,
                elements,
            });
            Ok(())
        });
        Ok(())
    }

    fn process_batch(
        &mut self,
        batch: &mut Vec<Record<I>>,
        ctx: &mut OperatorContext,
        out: &mut Emitter<'_, O>,
    ) -> Result<()> {
        self.resubmit_recovered(out)?;
        for r in batch.drain(..) {
            self.submit(r, out)?;
        }
        if self.in_flight > 0 {
            // Come back soon to emit results that finish while no input arrives.
            ctx.request_processing_time(ctx.clock.now_ms() + 1);
        }
        Ok(())
    }

    fn on_watermark(&mut self, _ctx: &mut OperatorContext, out: &mut Emitter<'_, O>) -> Result<()> {
        // No watermark overtakes the results of the elements before it.
        self.drain(out)
    }

    fn on_processing_time(
        &mut self,
        now_ms: i64,
        ctx: &mut OperatorContext,
        out: &mut Emitter<'_, O>,
    ) -> Result<()> {
        self.resubmit_recovered(out)?;
        while self.collect(false, out)? {}
        if self.in_flight > 0 {
            ctx.request_processing_time(now_ms + 1);
        }
        Ok(())
    }

    fn on_end_of_input(
        &mut self,
        _ctx: &mut OperatorContext,
        out: &mut Emitter<'_, O>,
    ) -> Result<()> {
        self.drain(out)
    }
}
