//! Shared helpers for the end-to-end tests: start the real `walletd` binary on a free port
//! with a temporary data directory, log in, and make JSON requests.
//!
//! `CARGO_BIN_EXE_walletd` exists only for the tests of the package that defines the binary,
//! so this crate finds it beside its own test executable (`target/<profile>/walletd`); the
//! `walletd-api` package has an integration test of its own so that `cargo test --workspace`
//! always builds the binary first.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

/// Path of the `walletd` binary built by this cargo invocation.
pub fn walletd_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/walletd
    let dir = exe.parent().and_then(Path::parent).expect("target profile directory");
    let bin = dir.join("walletd");
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test --workspace` (it builds the binary)",
        bin.display()
    );
    bin
}

/// A running `walletd`; killed (SIGKILL) when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub data_dir: PathBuf,
    /// Lines the server wrote to stderr, as they come.
    pub log: mpsc::Receiver<String>,
}

impl Server {
    /// Starts `walletd` on 127.0.0.1:0 over `data_dir` and waits for "listening on".
    pub fn start(data_dir: &Path) -> Result<Server, String> {
        Self::start_with(data_dir, &[])
    }

    pub fn start_with(data_dir: &Path, extra_args: &[&str]) -> Result<Server, String> {
        let mut child = Command::new(walletd_binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(extra_args)
            .env("WALLETD_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("WALLETD_JWT_SECRET", "test-secret-test-secret-test-secret!")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn walletd: {e}"))?;
        let stderr = child.stderr.take().expect("piped stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    if let Some(addr) = line.split("listening on ").nth(1) {
                        let addr = addr
                            .split_whitespace()
                            .next()
                            .unwrap_or("")
                            .trim_matches('"')
                            .to_owned();
                        return Ok(Server {
                            child,
                            base: format!("http://{addr}"),
                            data_dir: data_dir.to_owned(),
                            log: rx,
                        });
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    let status = child.wait().ok();
                    return Err(format!("walletd did not start ({status:?}):\n{}", seen.join("\n")));
                }
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// SIGKILL, as a crash.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `walletd` to completion with the given arguments; returns (exit success, stderr).
pub fn run_walletd(args: &[&str]) -> (bool, String) {
    let out = Command::new(walletd_binary())
        .args(args)
        .env("WALLETD_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .output()
        .expect("run walletd");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}
