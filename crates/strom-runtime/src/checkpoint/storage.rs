//! Where checkpoints are written: [`CheckpointStorage`], with a local-directory
//! implementation ([`LocalStorage`]). Object stores (S3 and compatible) implement the same
//! trait (see the `strom-object-store` crate).
//!
//! Paths are relative, `/`-separated (`chk-7/_metadata`). A checkpoint counts only once
//! its `_metadata` object exists, and that object is written last, so a crash mid-write
//! leaves at most an incomplete checkpoint that restore skips.

use std::path::{Path, PathBuf};
use strom_core::{Result, StromError};

/// A flat store of named byte objects.
///
/// Contract: `put` is atomic (a reader sees the whole object or none) and durable when it
/// returns; `get` of a missing object is an error; `list` returns the paths under a prefix
/// (recursively, relative to the storage root, in any order); `delete_prefix` removes every
/// object under a prefix and succeeds if there is none.
pub trait CheckpointStorage: Send + Sync {
    /// Write `bytes` under `path`, replacing any previous object.
    fn put(&self, path: &str, bytes: &[u8]) -> Result<()>;
    /// Write an object produced piece by piece by `write` (as atomic and durable as `put`).
    /// The default collects it in memory; a storage that can stream overrides it.
    fn put_with(
        &self,
        path: &str,
        write: &mut dyn FnMut(&mut dyn std::io::Write) -> Result<()>,
    ) -> Result<()> {
        let mut buf = Vec::new();
        write(&mut buf)?;
        self.put(path, &buf)
    }
    /// Read the object at `path`.
    fn get(&self, path: &str) -> Result<Vec<u8>>;
    /// Whether an object exists at `path`.
    fn exists(&self, path: &str) -> Result<bool>;
    /// The paths of every object under `prefix`.
    fn list(&self, prefix: &str) -> Result<Vec<String>>;
    /// Remove every object under `prefix`.
    fn delete_prefix(&self, prefix: &str) -> Result<()>;
    /// Where this storage points, for logs and errors.
    fn describe(&self) -> String;
}

/// Checkpoints in a directory of the local file system (or a mounted shared one).
#[derive(Clone, Debug)]
pub struct LocalStorage {
    root: PathBuf,
}

impl LocalStorage {
    /// Storage rooted at `root`. The directory is created by the first write, so that
    /// configuring checkpoints (or printing a job's plan) leaves the file system alone;
    /// fails at once when `root`, or the nearest of its ancestors that exists, is not a
    /// directory.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let existing = root.ancestors().find(|p| p.exists());
        if let Some(p) = existing
            && !p.is_dir()
        {
            return Err(StromError::io(
                root.display(),
                std::io::Error::other(format!("{} is not a directory", p.display())),
            ));
        }
        Ok(LocalStorage { root })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, rel: &str) -> PathBuf {
        let mut p = self.root.clone();
        for part in rel.split('/').filter(|s| !s.is_empty()) {
            p.push(part);
        }
        p
    }
}

fn sync_dir(dir: &Path) {
    // Directory fsync makes the rename durable; not every platform supports it.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

impl CheckpointStorage for LocalStorage {
    fn put(&self, path: &str, bytes: &[u8]) -> Result<()> {
        use std::io::Write;
        let target = self.path(path);
        let dir = target
            .parent()
            .ok_or_else(|| StromError::Checkpoint(format!("bad checkpoint path '{path}'")))?;
        std::fs::create_dir_all(dir).map_err(|e| StromError::io(dir.display(), e))?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &target)
        };
        write().map_err(|e| StromError::io(target.display(), e))?;
        sync_dir(dir);
        Ok(())
    }

    fn put_with(
        &self,
        path: &str,
        write: &mut dyn FnMut(&mut dyn std::io::Write) -> Result<()>,
    ) -> Result<()> {
        let target = self.path(path);
        let dir = target
            .parent()
            .ok_or_else(|| StromError::Checkpoint(format!("bad checkpoint path '{path}'")))?;
        std::fs::create_dir_all(dir).map_err(|e| StromError::io(dir.display(), e))?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let file = std::fs::File::create(&tmp).map_err(|e| StromError::io(tmp.display(), e))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        write(&mut out)?;
        let file = out
            .into_inner()
            .map_err(|e| StromError::io(tmp.display(), e.into_error()))?;
        file.sync_all()
            .and_then(|()| std::fs::rename(&tmp, &target))
            .map_err(|e| StromError::io(target.display(), e))?;
        sync_dir(dir);
        Ok(())
    }

    fn get(&self, path: &str) -> Result<Vec<u8>> {
        let p = self.path(path);
        std::fs::read(&p).map_err(|e| StromError::io(p.display(), e))
    }

    fn exists(&self, path: &str) -> Result<bool> {
        Ok(self.path(path).is_file())
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let base = self.path(prefix);
        if !base.exists() {
            return Ok(out);
        }
        let mut stack = vec![base];
        while let Some(dir) = stack.pop() {
            let entries = std::fs::read_dir(&dir).map_err(|e| StromError::io(dir.display(), e))?;
            for entry in entries {
                let entry = entry.map_err(|e| StromError::io(dir.display(), e))?;
                let p = entry.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let Ok(rel) = p.strip_prefix(&self.root) {
                    let rel = rel
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/");
                    // Temporary files of an interrupted `put` are not objects.
                    if !rel.rsplit('/').next().is_some_and(|n| n.starts_with('.')) {
                        out.push(rel);
                    }
                }
            }
        }
        Ok(out)
    }

    fn delete_prefix(&self, prefix: &str) -> Result<()> {
        let p = self.path(prefix);
        let r = if p.is_dir() {
            std::fs::remove_dir_all(&p)
        } else if p.is_file() {
            std::fs::remove_file(&p)
        } else {
            Ok(())
        };
        r.map_err(|e| StromError::io(p.display(), e))
    }

    fn describe(&self) -> String {
        self.root.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn put_get_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalStorage::new(dir.path()).unwrap();
        s.put("chk-1/_metadata", b"m").unwrap();
        s.put("chk-1/op-0.state", b"abc").unwrap();
        s.put("chk-2/op-0.state", b"d").unwrap();
        assert_eq!(s.get("chk-1/op-0.state").unwrap(), b"abc");
        assert!(s.exists("chk-1/_metadata").unwrap());
        let mut l = s.list("").unwrap();
        l.sort();
        assert_eq!(
            l,
            vec!["chk-1/_metadata", "chk-1/op-0.state", "chk-2/op-0.state"]
        );
        s.delete_prefix("chk-1").unwrap();
        assert_eq!(s.list("").unwrap(), vec!["chk-2/op-0.state"]);
        assert!(s.get("chk-1/_metadata").is_err());
        s.delete_prefix("chk-9").unwrap();
    }

    #[test]
    fn the_root_is_made_by_the_first_write_and_must_be_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("a/b");
        let s = LocalStorage::new(&root).unwrap();
        assert!(!root.exists(), "nothing created before a write");
        assert!(s.list("").unwrap().is_empty());
        assert!(!s.exists("chk-1/_metadata").unwrap());
        s.put("chk-1/_metadata", b"m").unwrap();
        assert_eq!(s.list("").unwrap(), vec!["chk-1/_metadata"]);
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let err = LocalStorage::new(file.join("chk")).unwrap_err().to_string();
        assert!(err.contains("is not a directory"), "{err}");
    }
}
