//! The `strom` binary: bundled examples, benchmarks and (later) cluster commands.

/// mimalloc: fast cross-thread frees (batches are allocated by one task and freed by
/// another), where glibc's arenas serialise on a lock.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    strom_cli::cli::main()
}
