//! Word count: flat_map, key_by and a rolling sum, printed as `word,count` at the end.
//!
//! `cargo run --release --example wordcount -- [FILE…]`

use strom::prelude::*;

fn main() -> Result<(), BoxError> {
    let texts: Vec<String> = match std::env::args().skip(1).collect::<Vec<_>>() {
        files if !files.is_empty() => files
            .iter()
            .map(std::fs::read_to_string)
            .collect::<Result<_, _>>()?,
        _ => vec!["the quick brown fox jumps over the lazy dog the end".to_string()],
    };
    let env = StreamEnv::new().with_parallelism(2);
    let counts = env
        .from_collection(texts)
        .flat_map(|text: String, out: &mut Collector<(String, u64)>| {
            for word in text.split_whitespace() {
                out.collect((word.to_lowercase(), 1));
            }
        })
        .key_by(|(word, _)| word.clone())
        .sum(|t: &mut (String, u64)| &mut t.1)
        .collect();
    let result = env.execute("wordcount")?;
    // The rolling sum emits every intermediate count; keep the final one per word.
    let mut totals = std::collections::BTreeMap::new();
    for (word, n) in counts.take() {
        let e = totals.entry(word).or_insert(0);
        *e = n.max(*e);
    }
    for (word, n) in totals {
        println!("{word},{n}");
    }
    eprintln!("done in {:?}", result.wall_time);
    Ok(())
}
