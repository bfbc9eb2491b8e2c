//! The `walletd` binary answers `--help` and refuses unknown flags. (Having an integration test
//! here also makes `cargo test --workspace` build the binary that the root `tests/` crate runs.)

use std::process::Command;

#[test]
fn help_names_the_flags() {
    let out = Command::new(env!("CARGO_BIN_EXE_walletd"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("--listen"), "{text}");
    assert!(text.contains("--data-dir"), "{text}");
}

#[test]
fn unknown_flag_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_walletd"))
        .arg("--no-such-flag")
        .output()
        .unwrap();
    assert!(!out.status.success());
}
