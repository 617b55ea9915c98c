//! Exactly-once part files for the file sinks: the two-phase commit of Flink's `FileSink`.
//!
//! With checkpointing on, a file sink's path is a **directory** of part files. Each sink
//! subtask writes its records to an *in-progress* file whose name starts with `.` (hidden:
//! the file sources and most tools skip it):
//!
//! ```text
//! .part-<subtask>-<n>.<ext>.inprogress     being written, or pre-committed
//! part-<subtask>-<n>.<ext>                 committed: visible, never written again
//! ```
//!
//! `<n>` is a per-subtask counter written with at least five digits (`part-0-00003.csv`), so
//! that the names of one subtask sort in the order they were written. Without an extension
//! the name has no trailing dot.
//!
//! The life of a part file:
//!
//! 1. **Write.** The first record after a checkpoint opens a new in-progress file (nothing is
//!    created while no record arrives).
//! 2. **Pre-commit** at a checkpoint barrier (`snapshot_state`): the file is flushed,
//!    `fsync`ed and closed, and recorded as *pending* for that checkpoint in the sink's list
//!    state [`PENDING_FILES_STATE`] (even split), one [`PendingFile`] per file. Every pending
//!    file not yet committed is recorded again in each later checkpoint.
//! 3. **Commit** when the checkpoint is complete (`notify_checkpoint_complete(id)`): every
//!    pending file of a checkpoint `<= id` is renamed to its final name. The commit is
//!    idempotent: when the in-progress file is gone and the final file exists, it was
//!    committed already.
//! 4. **Recovery** (`initialize_state`): the pending files in the restored state belong to a
//!    completed checkpoint, so they are committed right away (a rescaled subtask may get
//!    pending files of other old subtasks: it commits them all). The part counter continues
//!    after the highest `n` restored for the subtask.
//!
//! Records written after the last completed checkpoint of a failed attempt stay in hidden
//! in-progress files, which are never committed and never reused: opening a part file skips
//! every `n` whose in-progress or final name exists (the in-progress file is created with
//! `O_EXCL`), so a name never overwrites a committed part file, however many restores
//! happened. Stale in-progress files are left on disk (delete them once no restore can need
//! them); readers ignore them.
//!
//! At the end of a bounded input (`finish`) the open file is closed and stays pending: the
//! final checkpoint's `snapshot_state` records it and its completion commits it. A file that
//! received nothing is deleted instead of being committed.

use super::split::io_error;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use strom_core::BoxError;
use strom_core::checkpoint::{CheckpointId, RestoredState, SnapshotContext, StateSnapshot};
use strom_core::operator_state::Redistribution;

/// The name of the list state (even split) in which a file sink keeps its pending files.
pub const PENDING_FILES_STATE: &str = "pending-part-files";

/// The suffix of in-progress part files.
pub const IN_PROGRESS_SUFFIX: &str = ".inprogress";

/// A pre-committed part file: one element of the list state [`PENDING_FILES_STATE`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingFile {
    /// The checkpoint whose completion commits the file.
    pub checkpoint_id: CheckpointId,
    /// The hidden in-progress file holding the records.
    pub in_progress: PathBuf,
    /// The visible name it gets when committed.
    pub final_path: PathBuf,
}

/// The committed name of part `part` of `subtask`: `part-<subtask>-<part:05>.<extension>`
/// (no dot when `extension` is empty).
pub fn part_file_name(subtask: usize, part: u64, extension: &str) -> String {
    if extension.is_empty() {
        format!("part-{subtask}-{part:05}")
    } else {
        format!("part-{subtask}-{part:05}.{extension}")
    }
}

/// The in-progress name of part `part` of `subtask`: `.` + the committed name +
/// [`IN_PROGRESS_SUFFIX`].
pub fn in_progress_file_name(subtask: usize, part: u64, extension: &str) -> String {
    format!(
        ".{}{IN_PROGRESS_SUFFIX}",
        part_file_name(subtask, part, extension)
    )
}

/// The part number in a committed name of `subtask`'s part file, if `name` is one.
fn part_number(name: &str, subtask: usize) -> Option<u64> {
    let rest = name.strip_prefix(&format!("part-{subtask}-"))?;
    let digits = rest.split('.').next()?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Commit `file`: rename it to its final name. Idempotent: a file whose in-progress name is
/// gone and whose final name exists was committed already. A final file is never
/// overwritten.
pub fn commit(file: &PendingFile) -> Result<(), BoxError> {
    let PendingFile {
        in_progress,
        final_path,
        ..
    } = file;
    match fs::symlink_metadata(in_progress) {
        Ok(_) => {
            if exists(final_path)? {
                return Err(format!(
                    "cannot commit {}: {} already exists (a committed part file is never \
                     overwritten)",
                    in_progress.display(),
                    final_path.display()
                )
                .into());
            }
            fs::rename(in_progress, final_path).map_err(|e| -> BoxError {
                format!(
                    "cannot commit {} as {}: {e}",
                    in_progress.display(),
                    final_path.display()
                )
                .into()
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if exists(final_path)? {
                Ok(())
            } else {
                Err(format!(
                    "cannot commit {}: neither it nor {} exists (was the output deleted?)",
                    in_progress.display(),
                    final_path.display()
                )
                .into())
            }
        }
        Err(e) => Err(io_error("cannot read", in_progress, &e)),
    }
}

/// Whether `path` exists (as anything, a dangling link included).
fn exists(path: &Path) -> Result<bool, BoxError> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_error("cannot read", path, &e)),
    }
}

/// Make the entries of `dir` (created, renamed files) durable.
fn sync_dir(dir: &Path) -> Result<(), BoxError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_error("cannot sync directory", dir, &e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Sync the directories holding `paths`.
fn sync_parents<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Result<(), BoxError> {
    let parents: BTreeSet<&Path> = paths
        .into_iter()
        .filter_map(Path::parent)
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .collect();
    for dir in parents {
        sync_dir(dir)?;
    }
    Ok(())
}

/// The names of one part file.
#[derive(Clone, Debug)]
struct PartName {
    in_progress: PathBuf,
    final_path: PathBuf,
}

/// The two-phase-commit bookkeeping of one file sink subtask with checkpointing on: which
/// part file is open, which are closed and waiting for a checkpoint, which are pending.
#[derive(Debug)]
pub(crate) struct PartFiles {
    dir: PathBuf,
    subtask: usize,
    extension: String,
    /// The next part number to try.
    next_part: u64,
    /// The open in-progress file.
    current: Option<PartName>,
    /// Closed files not yet recorded by a checkpoint (closed by `finish`).
    closed: Vec<PartName>,
    /// Pre-committed files, in checkpoint order.
    pending: Vec<PendingFile>,
}

impl PartFiles {
    /// The part files of `subtask` in `dir` (created now, with its parents).
    pub(crate) fn create(dir: &Path, subtask: usize, extension: &str) -> Result<Self, BoxError> {
        fs::create_dir_all(dir).map_err(|e| -> BoxError {
            format!(
                "cannot create directory {} (with checkpointing the sink's path is a directory \
                 of part files): {e}",
                dir.display()
            )
            .into()
        })?;
        Ok(PartFiles {
            dir: dir.to_path_buf(),
            subtask,
            extension: extension.to_owned(),
            next_part: 0,
            current: None,
            closed: Vec::new(),
            pending: Vec::new(),
        })
    }

    /// The open in-progress file, if any.
    pub(crate) fn current(&self) -> Option<&Path> {
        self.current.as_ref().map(|n| n.in_progress.as_path())
    }

    /// The pending (pre-committed, uncommitted) files.
    pub(crate) fn pending(&self) -> &[PendingFile] {
        &self.pending
    }

    /// Create the next in-progress file (a name whose in-progress and final files do not
    /// exist) and make it the current one.
    pub(crate) fn open_next(&mut self) -> Result<File, BoxError> {
        loop {
            let part = self.next_part;
            self.next_part = part
                .checked_add(1)
                .ok_or("the part file counter overflowed")?;
            let in_progress =
                self.dir
                    .join(in_progress_file_name(self.subtask, part, &self.extension));
            let final_path = self
                .dir
                .join(part_file_name(self.subtask, part, &self.extension));
            // O_EXCL first, then the final name: a concurrent commit renames in-progress to
            // final atomically, so one of the two checks sees it.
            let file = match OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&in_progress)
            {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_error("cannot create", &in_progress, &e)),
            };
            if exists(&final_path)? {
                drop(file);
                fs::remove_file(&in_progress)
                    .map_err(|e| io_error("cannot remove", &in_progress, &e))?;
                continue;
            }
            self.current = Some(PartName {
                in_progress,
                final_path,
            });
            return Ok(file);
        }
    }

    /// The current file's writer was flushed and gave back `file`: make it durable and close
    /// it, to be recorded by the next checkpoint (deleted instead when it is empty).
    pub(crate) fn close_current(&mut self, file: File) -> Result<(), BoxError> {
        let Some(name) = self.current.take() else {
            return Ok(());
        };
        let path = &name.in_progress;
        let len = file
            .metadata()
            .map_err(|e| io_error("cannot read", path, &e))?
            .len();
        if len == 0 {
            drop(file);
            return fs::remove_file(path).map_err(|e| io_error("cannot remove", path, &e));
        }
        file.sync_all()
            .map_err(|e| io_error("cannot sync", path, &e))?;
        drop(file);
        self.closed.push(name);
        Ok(())
    }

    /// Pre-commit (the current file must be closed): the closed files become pending for
    /// checkpoint `ctx.checkpoint_id`, and every pending file goes into `out`.
    pub(crate) fn snapshot(
        &mut self,
        ctx: &SnapshotContext,
        out: &mut StateSnapshot,
    ) -> Result<(), BoxError> {
        if !self.closed.is_empty() {
            sync_dir(&self.dir)?;
        }
        self.pending
            .extend(self.closed.drain(..).map(|name| PendingFile {
                checkpoint_id: ctx.checkpoint_id,
                in_progress: name.in_progress,
                final_path: name.final_path,
            }));
        out.list(
            PENDING_FILES_STATE,
            Redistribution::EvenSplit,
            &self.pending,
        )?;
        Ok(())
    }

    /// Commit every pending file of a checkpoint `<= id`.
    pub(crate) fn commit_up_to(&mut self, id: CheckpointId) -> Result<(), BoxError> {
        let mut committed = Vec::new();
        let mut result = Ok(());
        let mut kept = Vec::with_capacity(self.pending.len());
        for file in self.pending.drain(..) {
            if file.checkpoint_id <= id && result.is_ok() {
                match commit(&file) {
                    Ok(()) => committed.push(file.final_path),
                    Err(e) => {
                        result = Err(e);
                        kept.push(file);
                    }
                }
            } else {
                kept.push(file);
            }
        }
        self.pending = kept;
        result?;
        sync_parents(committed.iter().map(PathBuf::as_path))
    }

    /// Restore: commit every pending file of `state` (they belong to a completed
    /// checkpoint) and continue the part counter after the highest one restored.
    pub(crate) fn restore(&mut self, state: &RestoredState) -> Result<(), BoxError> {
        let restored: Vec<PendingFile> = state.list(PENDING_FILES_STATE)?;
        for file in &restored {
            commit(file)?;
            let own = file
                .final_path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| part_number(n, self.subtask));
            if let Some(n) = own {
                self.next_part = self.next_part.max(n.saturating_add(1));
            }
        }
        sync_parents(restored.iter().map(|f| f.final_path.as_path()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(part_file_name(0, 3, "csv"), "part-0-00003.csv");
        assert_eq!(part_file_name(12, 123_456, ""), "part-12-123456");
        assert_eq!(
            in_progress_file_name(1, 7, "jsonl"),
            ".part-1-00007.jsonl.inprogress"
        );
        assert_eq!(part_number("part-0-00003.csv", 0), Some(3));
        assert_eq!(part_number("part-12-123456", 12), Some(123_456));
        assert_eq!(part_number("part-1-00003.csv", 0), None);
        assert_eq!(part_number("part-0-.csv", 0), None);
        assert_eq!(part_number("part-0-0x1.csv", 0), None);
    }
}
