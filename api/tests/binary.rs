//! The `walletd` binary answers `--help` and refuses unknown flags and values out of range. (Having an integration test
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

#[test]
fn a_coordinator_count_out_of_range_is_refused_with_the_reason() {
    for bad in ["0", "257", "many"] {
        let out = Command::new(env!("CARGO_BIN_EXE_walletd"))
            .args(["--coordinators", bad])
            .output()
            .unwrap();
        assert!(!out.status.success(), "--coordinators {bad} accepted");
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(text.contains("--coordinators"), "{text}");
    }
}

/// A plain HTTP/1.1 GET; answers the status line and the body.
fn http_get(addr: &str, path: &str) -> std::io::Result<(String, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    stream.read_to_string(&mut text)?;
    let status = text.lines().next().unwrap_or_default().to_owned();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

#[test]
fn serves_on_a_free_port_and_locks_its_data_dir() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::fs::PermissionsExt;
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut child = Command::new(env!("CARGO_BIN_EXE_walletd"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .env("WALLETD_ADMIN_PASSWORD", "admin-password-1")
        .env_remove("WALLETD_JWT_SECRET")
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("walletd exited before listening").unwrap();
        if let Some((_, rest)) = line.split_once("listening on ") {
            break rest.trim().to_owned();
        }
    };
    // Keep reading the log so that walletd never blocks on a full pipe.
    let log = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());

    let deadline = Instant::now() + Duration::from_secs(20);
    let health = loop {
        let answer = http_get(&addr, "/health").unwrap();
        if answer.0.contains("200") || Instant::now() > deadline {
            break answer;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(health.0.contains("200"), "{health:?}");
    assert_eq!(health.1, r#"{"status":"ok"}"#);

    let second = Command::new(env!("CARGO_BIN_EXE_walletd"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!second.status.success());
    let text = String::from_utf8_lossy(&second.stderr);
    assert!(
        text.contains("another walletd is already using data directory"),
        "{text}"
    );

    let mode = std::fs::metadata(data.join("jwt-secret")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    let log = log.join().unwrap().join("\n");
    assert!(status.success(), "{status:?}\n{log}");
    assert!(log.contains("recovery took"), "{log}");
}
