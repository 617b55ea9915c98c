//! The local checkpoint coordinator (Flink's `CheckpointCoordinator`): a thread that
//! drives the sans-IO [`CheckpointProtocol`] with this process's clock, channels and
//! checkpoint storage.
//!
//! It feeds the protocol the tasks' acknowledgements (which the tasks' snapshot writer
//! sends after writing the state files), savepoint requests and the passing of time, and
//! carries out what the protocol decides: control messages to tasks, the metadata write
//! (which completes a checkpoint), deleting aborted and subsumed checkpoints, logging and
//! the job's checkpoint report. Every decision is the protocol's; this module only does
//! I/O.

use crate::checkpoint::CheckpointConfig;
use crate::checkpoint::format::{
    CheckpointStats, checkpoint_dir_id, encode_metadata, list_checkpoints, load,
};
use crate::checkpoint::messages::{CoordinatorMsg, TaskControl};
use crate::checkpoint::protocol::{
    Action, CheckpointProtocol, Event, ExistingCheckpoints, Millis, ProtocolConfig,
    ProtocolOperator,
};
use crate::checkpoint::storage::CheckpointStorage;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use strom_core::checkpoint::CheckpointId;
use strom_core::{Result, StromError};
use strom_types::CheckpointKind;

/// A request for a savepoint, answered with its location.
pub struct SavepointRequest {
    stop: bool,
    reply: Sender<Result<String>>,
}

/// Triggers savepoints on a running job from any thread (a CLI command, a REST call, a
/// test). Clones share the job.
#[derive(Clone)]
pub struct SavepointHandle {
    tx: Sender<SavepointRequest>,
    rx: Receiver<SavepointRequest>,
}

impl Default for SavepointHandle {
    fn default() -> Self {
        let (tx, rx) = crossbeam_channel::bounded(16);
        SavepointHandle { tx, rx }
    }
}

impl SavepointHandle {
    /// A fresh handle.
    pub fn new() -> Self {
        Self::default()
    }

    /// Ask for a savepoint; with `stop`, the job stops once it is complete (Flink's
    /// stop-with-savepoint). The receiver gets the savepoint's location, or why it failed.
    pub fn trigger(&self, stop: bool) -> Receiver<Result<String>> {
        let (reply, rx) = crossbeam_channel::bounded(1);
        if let Err(e) = self.tx.try_send(SavepointRequest { stop, reply }) {
            let (tx, rx) = crossbeam_channel::bounded(1);
            let _ = tx.send(Err(StromError::Checkpoint(format!(
                "cannot request a savepoint: {e}"
            ))));
            return rx;
        }
        rx
    }

    /// [`trigger`](Self::trigger) and wait up to `timeout` for the answer.
    pub fn trigger_and_wait(&self, stop: bool, timeout: Duration) -> Result<String> {
        self.trigger(stop)
            .recv_timeout(timeout)
            .map_err(|_| StromError::Checkpoint("no savepoint within the timeout".into()))?
    }

    pub(crate) fn requests(&self) -> &Receiver<SavepointRequest> {
        &self.rx
    }
}

/// What the coordinator reports when the job ends.
#[derive(Clone, Debug, Default)]
pub struct CoordinatorReport {
    /// Figures of every completed checkpoint and savepoint.
    pub completed: Vec<CheckpointStats>,
    /// Checkpoints aborted (timeout, failure).
    pub aborted: u64,
    /// Location of the savepoint the job stopped with.
    pub stopped_with_savepoint: Option<String>,
    /// The last completed checkpoint, for a restart.
    pub latest: Option<CheckpointId>,
}

/// A task as the coordinator sees it.
pub struct TaskSlot {
    /// Its control channel.
    pub control: Sender<TaskControl>,
    /// Whether it runs a source (sources are triggered directly).
    pub is_source: bool,
}

/// Everything needed to start a coordinator.
pub struct CoordinatorSetup {
    /// Checkpoint settings.
    pub config: CheckpointConfig,
    /// The job's name.
    pub job_name: String,
    /// Every node.
    pub nodes: Vec<ProtocolOperator>,
    /// Every task.
    pub tasks: Vec<TaskSlot>,
    /// Acknowledgements and finish notices from the tasks' snapshot writer.
    pub inbox: Receiver<CoordinatorMsg>,
    /// Savepoint requests.
    pub savepoints: SavepointHandle,
    /// Disconnected (or sent to) when the job ends otherwise (failure, cancel).
    pub shutdown: Receiver<()>,
    /// Shared with the tasks: the checkpoint incremental snapshots build on.
    pub incremental_base: Arc<AtomicU64>,
    /// Ids continue after this one (the restored checkpoint's).
    pub restored_id: CheckpointId,
    /// Figures, readable after the job.
    pub report: Arc<Mutex<CoordinatorReport>>,
}

/// Runs one job's checkpoints in this process.
pub struct Coordinator {
    protocol: CheckpointProtocol,
    job_name: String,
    storage: Arc<dyn CheckpointStorage>,
    tasks: Vec<TaskSlot>,
    inbox: Receiver<CoordinatorMsg>,
    savepoints: SavepointHandle,
    shutdown: Receiver<()>,
    incremental_base: Arc<AtomicU64>,
    report: Arc<Mutex<CoordinatorReport>>,
    clock: DriverClock,
    replies: HashMap<u64, Sender<Result<String>>>,
    next_request: u64,
}

/// Milliseconds since the epoch, moving with the monotonic clock.
struct DriverClock {
    start: Instant,
    epoch_ms: Millis,
}

impl DriverClock {
    fn new() -> Self {
        let epoch_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        DriverClock {
            start: Instant::now(),
            epoch_ms,
        }
    }

    fn now(&self) -> Millis {
        self.epoch_ms
            .saturating_add(i64::try_from(self.start.elapsed().as_millis()).unwrap_or(i64::MAX))
    }

    fn instant(&self, at: Millis) -> Instant {
        let offset = u64::try_from(at.saturating_sub(self.epoch_ms)).unwrap_or(0);
        self.start + Duration::from_millis(offset)
    }
}

impl Coordinator {
    /// Prepare a coordinator (reads which checkpoints the storage already has).
    pub fn new(s: CoordinatorSetup) -> Result<Self> {
        let storage = Arc::clone(&s.config.storage);
        let mut existing = ExistingCheckpoints::default();
        for (id, prefix) in list_checkpoints(storage.as_ref())? {
            match load(storage.as_ref(), &prefix, false) {
                Ok(found) => existing.complete.push(found.metadata),
                Err(_) => existing.incomplete.push(id),
            }
        }
        // Directories without metadata: aborted or interrupted checkpoints.
        for path in storage.list("")? {
            if let Some(id) = path.split('/').next().and_then(checkpoint_dir_id)
                && !existing.complete.iter().any(|m| m.checkpoint_id == id)
                && !existing.incomplete.contains(&id)
            {
                existing.incomplete.push(id);
            }
        }
        let clock = DriverClock::new();
        let protocol = CheckpointProtocol::new(
            ProtocolConfig::of(&s.config),
            s.job_name.clone(),
            s.nodes,
            s.tasks.iter().map(|t| t.is_source).collect(),
            existing,
            s.restored_id,
            clock.now(),
        );
        Ok(Coordinator {
            protocol,
            job_name: s.job_name,
            storage,
            tasks: s.tasks,
            inbox: s.inbox,
            savepoints: s.savepoints,
            shutdown: s.shutdown,
            incremental_base: s.incremental_base,
            report: s.report,
            clock,
            replies: HashMap::new(),
            next_request: 0,
        })
    }

    /// Run until the job ends.
    pub fn run(mut self) {
        loop {
            let now = Instant::now();
            // Wake at least twice a second, so a stalled clock cannot stall the protocol.
            let wake = self
                .protocol
                .next_deadline()
                .map_or(now + Duration::from_millis(500), |d| {
                    self.clock.instant(d).min(now + Duration::from_millis(500))
                });
            let inbox = self.inbox.clone();
            let requests = self.savepoints.requests().clone();
            let shutdown = self.shutdown.clone();
            let event = crossbeam_channel::select! {
                recv(inbox) -> m => match m {
                    Ok(m) => Event::from(m),
                    Err(_) => break,
                },
                recv(requests) -> r => match r {
                    Ok(r) => {
                        let request = self.next_request;
                        self.next_request += 1;
                        self.replies.insert(request, r.reply);
                        Event::TriggerSavepoint { request, stop: r.stop }
                    }
                    Err(_) => Event::Tick,
                },
                recv(shutdown) -> _ => break,
                default(wake.saturating_duration_since(Instant::now())) => Event::Tick,
            };
            self.handle(event);
        }
        for (_, reply) in self.replies.drain() {
            let _ = reply.send(Err(StromError::Checkpoint(
                "the job ended before the savepoint completed".into(),
            )));
        }
    }

    /// Feed one event to the protocol and carry out its actions (and the events they
    /// cause, such as a written metadata file).
    fn handle(&mut self, event: Event) {
        let mut events = vec![event];
        while let Some(event) = events.pop() {
            let actions = self.protocol.handle(self.clock.now(), event);
            for action in actions {
                if let Some(e) = self.perform(action) {
                    events.push(e);
                }
            }
        }
    }

    fn location(&self, prefix: &str) -> String {
        format!("{}/{prefix}", self.storage.describe())
    }

    fn perform(&mut self, action: Action) -> Option<Event> {
        match action {
            Action::Send { task, msg } => {
                if let Some(slot) = self.tasks.get(task) {
                    send(slot, msg);
                }
                None
            }
            Action::SetIncrementalBase(id) => {
                self.incremental_base.store(id, Ordering::Release);
                None
            }
            Action::WriteMetadata {
                checkpoint,
                path,
                metadata,
            } => {
                let result = encode_metadata(&metadata)
                    .and_then(|bytes| self.storage.put(&path, &bytes))
                    .map_err(|e| e.to_string());
                Some(Event::MetadataWritten { checkpoint, result })
            }
            Action::Delete { checkpoint, prefix } => match self.storage.delete_prefix(&prefix) {
                Ok(()) => None,
                Err(e) => {
                    tracing::warn!(checkpoint, error = %e, "cannot delete an old checkpoint");
                    checkpoint_dir_id(&prefix).map(|_| Event::DeleteFailed { checkpoint })
                }
            },
            Action::Completed {
                stats,
                kind,
                prefix,
            } => {
                self.log_completed(&stats, kind, &prefix);
                if let Ok(mut r) = self.report.lock() {
                    if kind == CheckpointKind::Checkpoint {
                        r.latest = Some(stats.id);
                    }
                    r.completed.push(stats);
                }
                None
            }
            Action::Aborted { checkpoint, reason } => {
                tracing::warn!(job = %self.job_name, checkpoint, reason = %reason, "checkpoint aborted");
                if let Ok(mut r) = self.report.lock() {
                    r.aborted += 1;
                }
                None
            }
            Action::SavepointDone { request, result } => {
                if let Some(reply) = self.replies.remove(&request) {
                    let _ = reply.send(
                        result
                            .map(|prefix| self.location(&prefix))
                            .map_err(StromError::Checkpoint),
                    );
                }
                None
            }
            Action::StoppedWithSavepoint { prefix } => {
                let location = self.location(&prefix);
                if let Ok(mut r) = self.report.lock() {
                    r.stopped_with_savepoint = Some(location);
                }
                None
            }
        }
    }

    fn log_completed(&self, stats: &CheckpointStats, kind: CheckpointKind, prefix: &str) {
        match kind {
            CheckpointKind::Checkpoint => tracing::info!(
                job = %self.job_name,
                checkpoint = stats.id,
                duration_ms = format!("{:.1}", stats.duration_ms),
                state_bytes = stats.state_bytes,
                written_bytes = stats.written_bytes,
                alignment_ms = format!("{:.1}", stats.alignment_ms),
                operators = %stats
                    .operators
                    .iter()
                    .map(|o| format!(
                        "{}: {} B, sync {:.1} ms, async {:.1} ms, align {:.1} ms",
                        o.name, o.state_bytes, o.sync_ms, o.async_ms, o.alignment_ms
                    ))
                    .collect::<Vec<_>>()
                    .join("; "),
                "checkpoint complete"
            ),
            CheckpointKind::Savepoint { .. } => tracing::info!(
                job = %self.job_name,
                savepoint = stats.id,
                location = %self.location(prefix),
                "savepoint complete"
            ),
        }
    }
}

fn send(slot: &TaskSlot, msg: TaskControl) {
    match slot.control.try_send(msg) {
        Ok(()) | Err(TrySendError::Disconnected(_)) => {}
        Err(TrySendError::Full(msg)) => {
            // Completions are cumulative, so a later one covers a dropped one; other
            // messages must arrive: wait briefly.
            if !matches!(msg, TaskControl::Complete(_)) {
                let _ = slot.control.send_timeout(msg, Duration::from_secs(5));
            }
        }
    }
}
