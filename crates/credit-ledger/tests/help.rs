//! Every command answers `--help` with examples. Living in this package, this test also makes
//! every workspace test build produce the `credit-ledger` binary that the root suite's
//! `tests/cli.rs` runs.

use std::process::Command;

#[test]
fn every_command_has_help_with_examples() {
    let commands: &[&[&str]] = &[
        &[],
        &["serve"],
        &["demo", "generate"],
        &["demo", "load"],
        &["import"],
        &["export"],
        &["verify"],
        &["rebuild"],
        &["checkpoint"],
        &["key", "show"],
        &["principal", "add"],
        &["principal", "list"],
        &["principal", "revoke"],
        &["token", "issue"],
        &["token", "revoke"],
    ];
    for command in commands {
        let output = Command::new(env!("CARGO_BIN_EXE_credit-ledger"))
            .args(*command)
            .arg("--help")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{command:?}: {text}");
        assert!(text.contains("Examples:"), "{command:?} --help has no examples:\n{text}");
    }
}
