//! Savepoints from the command line, and `--restore`.
//!
//! A job run by the CLI with `--checkpoint-dir DIR` watches `DIR/_requests/`. The command
//! `strom savepoint --checkpoint-dir DIR [--stop]` drops a request file there and waits for
//! the job to answer with the savepoint's location (`DIR/savepoints/savepoint-N`), which
//! `--restore PATH` accepts, at any parallelism.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use strom::StreamEnv;
use strom::core::{Result, StromError};
use strom::runtime::checkpoint::{CheckpointStorage, RestorePoint};

const REQUESTS: &str = "_requests";

/// Stops the request watcher when dropped.
pub struct RequestWatcher {
    stop: Arc<AtomicBool>,
}

impl Drop for RequestWatcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Answer savepoint requests dropped in `checkpoint_dir/_requests` while the job runs.
pub fn serve_requests(env: &StreamEnv, checkpoint_dir: &Path) -> RequestWatcher {
    let stop = Arc::new(AtomicBool::new(false));
    let handle = env.savepoint_handle();
    let dir = checkpoint_dir.join(REQUESTS);
    let flag = Arc::clone(&stop);
    let _ = std::thread::Builder::new()
        .name("savepoint-requests".into())
        .spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for entry in entries.flatten() {
                    let path = entry.path();
                    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                        continue;
                    };
                    let Some(stem) = name.strip_suffix(".request") else {
                        continue;
                    };
                    let stop_job = std::fs::read_to_string(&path).is_ok_and(|s| s.trim() == "stop");
                    let _ = std::fs::remove_file(&path);
                    let answer = handle.trigger_and_wait(stop_job, Duration::from_secs(600));
                    let (ext, text) = match answer {
                        Ok(location) => ("done", location),
                        Err(e) => ("failed", e.to_string()),
                    };
                    let _ = std::fs::write(dir.join(format!("{stem}.{ext}")), text);
                }
            }
        });
    RequestWatcher { stop }
}

/// Ask the job checkpointing into `checkpoint_dir` for a savepoint and wait for its
/// location.
pub fn request(checkpoint_dir: &Path, stop: bool, timeout: Duration) -> Result<String> {
    let dir = checkpoint_dir.join(REQUESTS);
    std::fs::create_dir_all(&dir).map_err(|e| StromError::io(dir.display(), e))?;
    let stem = format!(
        "savepoint-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let tmp = dir.join(format!(".{stem}"));
    std::fs::write(&tmp, if stop { "stop" } else { "savepoint" })
        .map_err(|e| StromError::io(tmp.display(), e))?;
    let req = dir.join(format!("{stem}.request"));
    std::fs::rename(&tmp, &req).map_err(|e| StromError::io(req.display(), e))?;
    let started = Instant::now();
    while started.elapsed() < timeout {
        std::thread::sleep(Duration::from_millis(50));
        for (ext, ok) in [("done", true), ("failed", false)] {
            let answer = dir.join(format!("{stem}.{ext}"));
            if let Ok(text) = std::fs::read_to_string(&answer) {
                let _ = std::fs::remove_file(&answer);
                return if ok {
                    Ok(text)
                } else {
                    Err(StromError::Checkpoint(text))
                };
            }
        }
    }
    let _ = std::fs::remove_file(&req);
    Err(StromError::Checkpoint(format!(
        "no job answered within {timeout:?}; is a job running with --checkpoint-dir {}?",
        checkpoint_dir.display()
    )))
}

/// The storage behind `--checkpoint-dir`: a local directory, or `s3://bucket/prefix`
/// (configured by the usual `AWS_*` environment variables).
pub fn storage_for(dir: &Path) -> Result<Arc<dyn CheckpointStorage>> {
    strom::object_store::storage_from_uri(&dir.to_string_lossy())
}

/// What `--restore SPEC` means: `latest` (the newest intact checkpoint in the checkpoint
/// directory; `None` when there is none yet) or a checkpoint or savepoint path.
pub fn restore_point(spec: &str, checkpoint_dir: Option<&Path>) -> Result<Option<RestorePoint>> {
    if spec == "latest" {
        let dir = checkpoint_dir.ok_or_else(|| {
            StromError::InvalidJob("--restore latest needs --checkpoint-dir".into())
        })?;
        return RestorePoint::latest(storage_for(dir)?);
    }
    if let Some((scheme, rest)) = spec.split_once("://") {
        // An object-store location: a checkpoint `…/chk-N` is read relative to its
        // checkpoint directory (increments refer to older checkpoints), a savepoint by itself.
        let rest = rest.trim_end_matches('/');
        return match rest.rsplit_once('/') {
            Some((parent, last)) if last.starts_with("chk-") => RestorePoint::at(
                storage_for(Path::new(&format!("{scheme}://{parent}")))?,
                last,
            ),
            _ => RestorePoint::at(storage_for(Path::new(spec))?, ""),
        }
        .map(Some);
    }
    RestorePoint::from_path(&PathBuf::from(spec)).map(Some)
}
