//! Byte-range splits of text files, and a fast reader for the lines a split owns.
//!
//! Input paths are files or directories; a directory stands for the regular files directly
//! inside it, sorted by name, skipping hidden files (names starting with `.` or `_`). Each
//! file is cut into byte ranges ([`FileSplit`]s) of at most `split_size` bytes.
//!
//! # Which split owns which line
//!
//! As in Hadoop's `TextInputFormat`, a split `[start, end)` owns every line whose first byte
//! lies in `[start, end)`. A split starting inside a line leaves that partial line to the
//! split before it: its first line starts right after the first `'\n'` at or after byte
//! `start - 1`. A line that starts in a split is read to its end, even past `end`. So every
//! line of the file is read by exactly one split, wherever the cuts fall.
//!
//! Lines end at `'\n'`; a `'\r'` before it (or at the end of a last line without `'\n'`) is
//! stripped. A last line without a trailing newline is a line; an empty file has none.
//!
//! # Positions
//!
//! A split carries its read position (byte offset of the next line and that line's 1-based
//! number), so a reader restarted from a [`FileSplit`] taken by
//! [`LineReader::position`] continues exactly with the next unread line. A split that has
//! not been opened yet has no line number: opening it skips the partial first line and counts
//! the newlines before its first owned line (one fast `memchr` pass over the bytes before
//! it).

use memchr::memchr;
use serde::{Deserialize, Serialize};
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use strom_core::BoxError;

/// The largest split size chosen automatically (64 MiB).
pub const MAX_AUTO_SPLIT_SIZE: u64 = 64 << 20;

/// The smallest split size chosen automatically (1 MiB).
pub const MIN_AUTO_SPLIT_SIZE: u64 = 1 << 20;

/// The size of a [`LineReader`]'s read buffer (256 KiB); it grows for longer lines.
pub const READ_BUFFER_SIZE: usize = 256 << 10;

/// A byte range `[start, end)` of one file and the read position within it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileSplit {
    /// The file.
    pub path: PathBuf,
    /// First byte of the range.
    pub start: u64,
    /// One past the last byte of the range: lines starting before it belong to the split.
    pub end: u64,
    /// Byte offset of the next line to read (equal to `start` before the split is opened).
    pub offset: u64,
    /// 1-based line number of the line starting at `offset`; `None` until the split has been
    /// opened, when `offset` may still lie inside a line owned by the previous split.
    pub line: Option<u64>,
}

impl FileSplit {
    /// A fresh, unread split of `path` covering `[start, end)`.
    pub fn new(path: impl Into<PathBuf>, start: u64, end: u64) -> Self {
        FileSplit {
            path: path.into(),
            start,
            end,
            offset: start,
            line: (start == 0).then_some(1),
        }
    }

    /// Whether every line of the split has been read (as far as the position shows).
    pub fn is_finished(&self) -> bool {
        self.line.is_some() && self.offset >= self.end
    }
}

/// The regular files that `paths` stand for, with their sizes, in order.
///
/// A file path stands for itself; a directory for the regular files directly inside it
/// (sorted by name, skipping names that start with `.` or `_`). A path that does not exist
/// or cannot be read is an error naming it.
pub fn list_files(paths: &[PathBuf]) -> Result<Vec<(PathBuf, u64)>, BoxError> {
    let mut files = Vec::new();
    for path in paths {
        let meta = fs::metadata(path).map_err(|e| io_error("cannot read", path, &e))?;
        if !meta.is_dir() {
            files.push((path.clone(), meta.len()));
            continue;
        }
        let mut entries = Vec::new();
        let dir = fs::read_dir(path).map_err(|e| io_error("cannot list directory", path, &e))?;
        for entry in dir {
            let entry = entry.map_err(|e| io_error("cannot list directory", path, &e))?;
            let name = entry.file_name();
            let hidden = name
                .to_str()
                .is_some_and(|n| n.starts_with('.') || n.starts_with('_'));
            if hidden {
                continue;
            }
            let file = entry.path();
            // Follows symbolic links: a link to a regular file counts as one.
            let meta = fs::metadata(&file).map_err(|e| io_error("cannot read", &file, &e))?;
            if meta.is_file() {
                entries.push((name, file, meta.len()));
            }
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        files.extend(entries.into_iter().map(|(_, file, len)| (file, len)));
    }
    Ok(files)
}

/// The split size used when none is configured: the total input divided by the
/// parallelism, kept between [`MIN_AUTO_SPLIT_SIZE`] and [`MAX_AUTO_SPLIT_SIZE`].
pub fn auto_split_size(total_bytes: u64, parallelism: usize) -> u64 {
    let p = parallelism.max(1) as u64;
    total_bytes
        .div_ceil(p)
        .clamp(MIN_AUTO_SPLIT_SIZE, MAX_AUTO_SPLIT_SIZE)
}

/// Splits per file from which [`plan_splits`] positions the splits itself.
pub const POSITION_WHEN_SPLITS_PER_FILE: usize = 4;

/// Cut the files that `paths` stand for (see [`list_files`]) into splits of `split_size`
/// bytes (the last split of a file may be shorter), or of [`auto_split_size`] when
/// `split_size` is `None`. Empty files get no split. Splits are listed file by file, in
/// byte order.
///
/// Each split not starting at byte 0 must find its first line and count the newlines
/// before it, which means reading the file up to the split. For a file cut into few splits
/// the readers do that when they open them (in parallel). For a file cut into
/// [`POSITION_WHEN_SPLITS_PER_FILE`] splits or more, one reader per split reading the start of
/// the file would read it quadratically often, so this function positions all of them in one
/// sequential pass over the file and they come back with `line` set.
pub fn plan_splits(
    paths: &[PathBuf],
    parallelism: usize,
    split_size: Option<u64>,
) -> Result<Vec<FileSplit>, BoxError> {
    let files = list_files(paths)?;
    let total: u64 = files.iter().map(|(_, len)| len).sum();
    let size = split_size
        .unwrap_or_else(|| auto_split_size(total, parallelism))
        .max(1);
    let mut splits = Vec::new();
    let mut buf = Vec::new();
    for (path, len) in files {
        let first = splits.len();
        let mut start = 0;
        while start < len {
            let end = start.saturating_add(size).min(len);
            splits.push(FileSplit::new(path.clone(), start, end));
            start = end;
        }
        if splits.len() - first >= POSITION_WHEN_SPLITS_PER_FILE {
            position_splits(&mut splits[first..], &mut buf)?;
        }
    }
    Ok(splits)
}

/// Position the unopened splits (`line == None`) among `splits`, all of one file and sorted
/// by `start`: skip each one's partial first line and number its first owned line.
///
/// One sequential pass over the file up to the last split's first line, counting newlines
/// with `memchr`, so positioning all splits of a file costs one read of it (not one read
/// per split). A split that owns no line gets `offset >= end`.
fn position_splits(splits: &mut [FileSplit], buf: &mut Vec<u8>) -> Result<(), BoxError> {
    let Some(first) = splits.iter().find(|s| s.line.is_none()) else {
        return Ok(());
    };
    let path = first.path.clone();
    if buf.is_empty() {
        buf.resize(READ_BUFFER_SIZE, 0);
    }
    let mut file = File::open(&path).map_err(|e| io_error("cannot open", &path, &e))?;
    // The bytes [chunk_start, chunk_start + chunk_len) are in `buf`; `newlines` counts the
    // newlines in [0, scan). After a split found its newline at p, scan = p + 1.
    let (mut chunk_start, mut chunk_len) = (0u64, 0usize);
    let (mut scan, mut newlines) = (0u64, 0u64);
    let mut eof = false;
    for split in splits.iter_mut().filter(|s| s.line.is_none()) {
        if split.start == 0 {
            split.offset = 0;
            split.line = Some(1);
            continue;
        }
        // The first line owned starts after the first newline at or after start - 1.
        let limit = split.start - 1;
        let mut found = scan > limit;
        while !found && !eof {
            let chunk_end = chunk_start + chunk_len as u64;
            if scan >= chunk_end {
                chunk_start = chunk_end;
                chunk_len =
                    read_some(&mut file, buf).map_err(|e| io_error("cannot read", &path, &e))?;
                eof = chunk_len == 0;
                continue;
            }
            let data = &buf[(scan - chunk_start) as usize..chunk_len];
            if scan < limit {
                let upto = usize::try_from(limit - scan)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                newlines += memchr::memchr_iter(b'\n', &data[..upto]).count() as u64;
                scan += upto as u64;
            } else if let Some(i) = memchr(b'\n', data) {
                scan += i as u64 + 1;
                newlines += 1;
                found = true;
            } else {
                scan += data.len() as u64;
            }
        }
        if found {
            split.offset = scan;
        } else {
            // No newline after the split's start: it owns no line.
            split.offset = scan.max(split.end);
        }
        split.line = Some(newlines + 1);
    }
    Ok(())
}

/// An I/O error message naming the path.
pub(crate) fn io_error(what: &str, path: &Path, err: &io::Error) -> BoxError {
    format!("{what} {}: {err}", path.display()).into()
}

/// Reads the lines a [`FileSplit`] owns, with their line numbers.
///
/// Large buffered reads, `memchr` to find newlines, and no allocation per line: each line
/// is lent out as a byte slice into the buffer until the next call.
pub struct LineReader {
    path: PathBuf,
    start: u64,
    end: u64,
    /// Byte offset of the next line.
    offset: u64,
    /// Line number of the next line.
    line: u64,
    file: Option<File>,
    buf: Vec<u8>,
    /// Start of the unread bytes in `buf`.
    pos: usize,
    /// End of the valid bytes in `buf`.
    len: usize,
    eof: bool,
    done: bool,
}

impl std::fmt::Debug for LineReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineReader")
            .field("split", &self.position())
            .finish_non_exhaustive()
    }
}

impl LineReader {
    /// Open `split` for reading, positioned at its next unread line.
    pub fn open(split: FileSplit) -> Result<Self, BoxError> {
        Self::open_with_buffer(split, Vec::new())
    }

    /// Like [`open`](Self::open), reusing `buf` as the read buffer (it is grown to
    /// [`READ_BUFFER_SIZE`] when smaller). See [`into_buffer`](Self::into_buffer).
    pub fn open_with_buffer(split: FileSplit, buf: Vec<u8>) -> Result<Self, BoxError> {
        Self::open_with_capacity(split, buf, READ_BUFFER_SIZE)
    }

    /// Like [`open_with_buffer`](Self::open_with_buffer), with a read buffer of at least
    /// `capacity` bytes (at least 1). Small buffers exercise the refill paths in tests.
    pub fn open_with_capacity(
        split: FileSplit,
        mut buf: Vec<u8>,
        capacity: usize,
    ) -> Result<Self, BoxError> {
        let capacity = capacity.max(1);
        if buf.len() < capacity {
            buf.resize(capacity, 0);
        }
        let mut reader = LineReader {
            path: split.path,
            start: split.start,
            end: split.end,
            offset: split.offset,
            line: split.line.unwrap_or(0),
            file: None,
            buf,
            pos: 0,
            len: 0,
            eof: false,
            done: false,
        };
        if split.line.is_none() {
            reader.find_first_line()?;
        }
        if reader.offset >= reader.end {
            reader.done = true;
            return Ok(reader);
        }
        let mut file =
            File::open(&reader.path).map_err(|e| io_error("cannot open", &reader.path, &e))?;
        if reader.offset > 0 {
            file.seek(SeekFrom::Start(reader.offset))
                .map_err(|e| io_error("cannot seek in", &reader.path, &e))?;
        }
        reader.file = Some(file);
        Ok(reader)
    }

    /// Position a split that starts inside the file: skip the partial line and count the
    /// newlines before the first owned line.
    fn find_first_line(&mut self) -> Result<(), BoxError> {
        let mut split = FileSplit {
            path: std::mem::take(&mut self.path),
            start: self.start,
            end: self.end,
            offset: self.start,
            line: None,
        };
        let positioned = position_splits(std::slice::from_mut(&mut split), &mut self.buf);
        self.path = split.path;
        positioned?;
        self.offset = split.offset;
        self.line = split.line.unwrap_or(1);
        Ok(())
    }

    /// The next line: its 1-based number and its bytes without the line terminator, or
    /// `None` when the split has no more lines.
    pub fn next_line(&mut self) -> Result<Option<(u64, &[u8])>, BoxError> {
        if self.done || self.offset >= self.end {
            self.done = true;
            return Ok(None);
        }
        let mut scanned = self.pos;
        loop {
            if let Some(i) = memchr(b'\n', &self.buf[scanned..self.len]) {
                let newline = scanned + i;
                let begin = self.pos;
                self.pos = newline + 1;
                return Ok(Some(self.take_line(begin, newline, newline + 1 - begin)));
            }
            scanned = self.len;
            if self.eof {
                if self.pos < self.len {
                    let begin = self.pos;
                    let end = self.len;
                    self.pos = end;
                    return Ok(Some(self.take_line(begin, end, end - begin)));
                }
                self.done = true;
                return Ok(None);
            }
            // Refill: keep the partial line, growing the buffer when it fills it.
            if self.pos > 0 {
                self.buf.copy_within(self.pos..self.len, 0);
                self.len -= self.pos;
                scanned -= self.pos;
                self.pos = 0;
            }
            if self.len == self.buf.len() {
                let grown = self.buf.len().saturating_mul(2).max(1);
                self.buf.resize(grown, 0);
            }
            let Some(file) = self.file.as_mut() else {
                self.eof = true;
                continue;
            };
            let n = read_some(file, &mut self.buf[self.len..])
                .map_err(|e| io_error("cannot read", &self.path, &e))?;
            if n == 0 {
                self.eof = true;
            } else {
                self.len += n;
            }
        }
    }

    /// Advance past a line occupying `buf[begin..end]` plus `consumed - (end - begin)`
    /// terminator bytes, and lend it out without a trailing `'\r'`.
    #[inline]
    fn take_line(&mut self, begin: usize, mut end: usize, consumed: usize) -> (u64, &[u8]) {
        let number = self.line;
        self.line += 1;
        self.offset += consumed as u64;
        if end > begin && self.buf[end - 1] == b'\r' {
            end -= 1;
        }
        (number, &self.buf[begin..end])
    }

    /// The split with its current position: resuming from it continues with the next
    /// unread line.
    pub fn position(&self) -> FileSplit {
        FileSplit {
            path: self.path.clone(),
            start: self.start,
            end: self.end,
            offset: self.offset,
            line: Some(self.line),
        }
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the split has no more lines (known once `next_line` returned `None`).
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Close the file and give back the read buffer for reuse.
    pub fn into_buffer(self) -> Vec<u8> {
        self.buf
    }
}

/// One `read` call, retried when interrupted.
fn read_some(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match file.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// The first line of `path` (without its terminator), for headers: empty when the file is
/// empty.
pub fn read_first_line(path: &Path) -> Result<Vec<u8>, BoxError> {
    let mut reader =
        LineReader::open_with_capacity(FileSplit::new(path, 0, 1), Vec::new(), 8 << 10)?;
    Ok(reader
        .next_line()?
        .map(|(_, line)| line.to_vec())
        .unwrap_or_default())
}
