//! The error that fails a job.

use std::fmt;

/// Any error a user function, source or sink may return; the runtime wraps it in
/// [`StromError::Operator`] with the operator's name and subtask.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Shorthand for results whose error is a [`StromError`].
pub type Result<T, E = StromError> = std::result::Result<T, E>;

/// Why a job could not be built or did not finish.
///
/// Every runtime failure reaches the user as [`StromError::Operator`], which names the
/// operator and subtask where it happened and keeps the cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StromError {
    /// The job graph is misconfigured; the message says what to change.
    #[error("invalid job: {0}")]
    InvalidJob(String),
    /// An operator (user function, source or sink) failed in one of its subtasks.
    #[error("operator '{operator}' (subtask {subtask}) failed: {cause}")]
    Operator {
        /// The operator's name.
        operator: String,
        /// The failing parallel instance.
        subtask: usize,
        /// What went wrong.
        #[source]
        cause: Box<StromError>,
    },
    /// A user function panicked; the payload's message is kept.
    #[error("panic: {0}")]
    Panic(String),
    /// A user function, source or sink returned an error.
    #[error("{0}")]
    User(BoxError),
    /// A malformed input record, with the job set to fail on bad records.
    #[error("bad record at {location}: {message}")]
    BadRecord {
        /// Where the record came from, e.g. `data/in.csv line 17`.
        location: String,
        /// What is wrong with it, naming the field where known.
        message: String,
    },
    /// An I/O error, with the path or endpoint involved.
    #[error("I/O error on {target}: {source}")]
    Io {
        /// The file or endpoint.
        target: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// State could not be snapshotted or restored: names the operator and the state.
    #[error("state '{state}' of operator '{operator}': {message}")]
    State {
        /// The operator (its uid or name).
        operator: String,
        /// The state's name.
        state: String,
        /// What went wrong (e.g. an incompatible type change).
        message: String,
    },
    /// A checkpoint could not be written, found or read.
    #[error("checkpoint error: {0}")]
    Checkpoint(String),
    /// The job was cancelled (Ctrl-C, or another subtask failed first).
    #[error("job cancelled")]
    Cancelled,
    /// A broken invariant inside Strom: a bug to report.
    #[error("internal error: {0}")]
    Internal(String),
}

impl StromError {
    /// Attribute this error to an operator's subtask (unless it already names one).
    pub fn in_operator(self, operator: &str, subtask: usize) -> StromError {
        match self {
            e @ (StromError::Operator { .. } | StromError::Cancelled) => e,
            e => StromError::Operator {
                operator: operator.to_string(),
                subtask,
                cause: Box::new(e),
            },
        }
    }

    /// Turn a user-returned error into a `StromError`, keeping a `StromError` as it is.
    pub fn from_user(e: BoxError) -> StromError {
        match e.downcast::<StromError>() {
            Ok(e) => *e,
            Err(e) => StromError::User(e),
        }
    }

    /// The error at the root of an operator failure.
    pub fn root_cause(&self) -> &StromError {
        match self {
            StromError::Operator { cause, .. } => cause.root_cause(),
            e => e,
        }
    }

    /// An I/O error on a named target.
    pub fn io(target: impl fmt::Display, source: std::io::Error) -> StromError {
        StromError::Io {
            target: target.to_string(),
            source,
        }
    }
}

/// Render a panic payload as text.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}
