//! The `credit-ledger` binary; everything is in the library (see `lib.rs`).

fn main() -> std::process::ExitCode {
    credit_ledger::main()
}
