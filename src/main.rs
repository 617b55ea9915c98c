//! The `strom` binary: bundled examples, benchmarks and (later) cluster commands.

fn main() -> std::process::ExitCode {
    strom::cli::main()
}
