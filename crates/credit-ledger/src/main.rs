//! The `credit-ledger` binary; everything is in the library (see `lib.rs`).

/// mimalloc rather than the system allocator: a rebuild allocates and frees a page of events
/// and rows at a time, and glibc's malloc returned that memory to the kernel and faulted it
/// back in page after page (a fifth of a rebuild's profile was allocation, see
/// docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    credit_ledger::main()
}
