//! `labelhook serve` start-up seen from outside: what it writes to a pipe, and settings
//! that must stop it instead of being worked around.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn serve(dir: &tempfile::TempDir, env: &[(&str, &str)]) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_labelhook"));
    command
        .args(["serve", "--bind", "127.0.0.1:0", "--db"])
        .arg(format!("sqlite://{}/labelhook.db", dir.path().display()))
        .env("LABELHOOK_ADMIN_TOKEN", "test-admin-token-0123456789")
        .env_remove("LABELHOOK_LOG_FORMAT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    command.spawn().expect("start labelhook")
}

/// Waits (with a deadline) for the process to end and returns its status.
fn exit_status(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("labelhook serve still runs after {within:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn logs_written_to_a_pipe_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = serve(&dir, &[("LABELHOOK_LOG", "info")]);
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Read the log until the server says it listens (an INFO line: coloured on a terminal).
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l.contains("listening")) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => lines.push(line),
            Err(_) => {
                let _ = child.kill();
                panic!("no `listening` log line within 60 s; got {lines:?}");
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = lines.join("\n");
    assert!(log.contains("INFO"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "ANSI escape codes in piped logs: {log:?}"
    );
}

#[test]
fn an_invalid_delivery_proxy_stops_start_up_with_a_clear_message() {
    // A scheme reqwest (without SOCKS) cannot use, and a URL that does not parse.
    for proxy in ["socks5://proxy.internal:1080", "http://not a host:3128"] {
        let dir = tempfile::tempdir().unwrap();
        let mut child = serve(&dir, &[("LABELHOOK_DELIVERY_PROXY", proxy)]);
        let status = exit_status(&mut child, Duration::from_secs(60));
        let mut stdout = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert!(!status.success(), "{status:?}\n{stdout}\n{stderr}");
        assert!(
            stderr.contains(&format!(
                "LABELHOOK_DELIVERY_PROXY={proxy:?} is not a valid proxy URL"
            )),
            "{stderr}"
        );
        assert!(!stdout.contains("listening on"), "{stdout}");
    }
}

#[test]
fn a_valid_delivery_proxy_starts() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = serve(
        &dir,
        &[("LABELHOOK_DELIVERY_PROXY", "http://127.0.0.1:3128")],
    );
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("listening on") => break,
            Ok(_) => {}
            Err(_) => {
                let _ = child.kill();
                panic!("a valid proxy setting did not start the server within 60 s");
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}
