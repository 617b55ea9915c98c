//! The job behind `strom example wordcount`: words of text files (or a built-in text),
//! counted per word with a keyed rolling sum; the totals are printed when it ends.

use super::Job;
use std::path::PathBuf;
use strom::connectors::collect::CollectHandle;
use strom::prelude::*;

/// The text counted when no input is given.
pub const BUILTIN_TEXT: &str = "To be, or not to be, that is the question:
Whether 'tis nobler in the mind to suffer
The slings and arrows of outrageous fortune,
Or to take arms against a sea of troubles
And by opposing end them. To die: to sleep;
No more; and by a sleep to say we end
The heart-ache and the thousand natural shocks
That flesh is heir to, 'tis a consummation
Devoutly to be wish'd. To die, to sleep;";

/// Everything the job takes.
#[derive(Clone, Debug)]
pub struct WordcountConfig {
    /// Text files to read (empty: [`BUILTIN_TEXT`]).
    pub input: Vec<PathBuf>,
    /// Parallelism of every operator.
    pub parallelism: usize,
}

/// Build the job (nothing runs; the input files are read now). The handle gets every
/// running count `(word, count)` once the job ran.
pub fn build(cfg: &WordcountConfig) -> Result<(Job, CollectHandle<(String, u64)>), StromError> {
    let env = StreamEnv::new().with_parallelism(cfg.parallelism);
    let text: Vec<String> = if cfg.input.is_empty() {
        BUILTIN_TEXT.lines().map(str::to_string).collect()
    } else {
        let mut lines = Vec::new();
        for path in &cfg.input {
            let t = std::fs::read_to_string(path).map_err(|e| StromError::io(path.display(), e))?;
            lines.extend(t.lines().map(str::to_string));
        }
        lines
    };
    let counts = env
        .from_collection(text)
        .flat_map(|line: String, out: &mut Collector<(String, u64)>| {
            for w in line
                .split(|c: char| !c.is_alphanumeric() && c != '\'')
                .filter(|w| !w.is_empty())
            {
                out.collect((w.to_lowercase(), 1));
            }
        })
        .key_by(|(w, _)| w.clone())
        .sum(|t: &mut (String, u64)| &mut t.1)
        .collect();
    Ok((Job::new(env, "wordcount"), counts))
}

/// The final count of every word from the running counts, most frequent first (ties by
/// word).
pub fn totals(counts: Vec<(String, u64)>) -> Vec<(String, u64)> {
    let mut totals = std::collections::BTreeMap::new();
    for (w, c) in counts {
        let e = totals.entry(w).or_insert(0);
        *e = c.max(*e);
    }
    let mut by_count: Vec<_> = totals.into_iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    by_count
}

/// Build and run the job; returns its result and the totals.
pub fn run(cfg: &WordcountConfig) -> Result<(strom::JobResult, Vec<(String, u64)>), StromError> {
    let (job, counts) = build(cfg)?;
    let result = job.execute()?;
    Ok((result, totals(counts.take())))
}
