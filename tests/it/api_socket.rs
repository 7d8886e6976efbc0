//! The real `wfplan serve` over a real socket on 127.0.0.1 with an ephemeral port, driven
//! by the clients planners use: curl and a Python script. Also what a server killed
//! mid-run leaves behind.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::common::*;

/// A running server, stopped when dropped.
struct Served {
    child: Child,
    base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(db: &Path) -> Served {
    serve_with(db, &[])
}

fn serve_with(db: &Path, flags: &[&str]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wfplan"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .args(flags)
        .arg("--db")
        .arg(db)
        .arg("--rules")
        .arg(repo().join("rules"))
        .arg("--scenarios")
        .arg(repo().join("scenarios"))
        .env_remove("WFPLAN_API_KEYS")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    Served { child, base }
}

fn curl(args: &[&str]) -> (u16, String) {
    let output = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    let (body, status) = text.rsplit_once('\n').unwrap();
    (status.trim().parse().unwrap_or(0), body.to_string())
}

fn post_json(url: &str, body: &str) -> (u16, String) {
    curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        body,
        url,
    ])
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn curl_and_python_clients_over_a_real_socket() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&dir.path().join("wfplan.duckdb"));
    let (status, body) = curl(&[&format!("{}/health", server.base)]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["status"], "ok");

    let (status, body) = post_json(
        &format!("{}/runs", server.base),
        r#"{"scenario": "baseline", "detail": "staff_group"}"#,
    );
    assert_eq!(status, 200, "{body}");
    let run = json(&body);
    assert_eq!(run["status"], "succeeded");
    let (status, body) = curl(&[&format!(
        "{}/runs/{}/results?format=csv&group_by=staff_group",
        server.base, run["id"]
    )]);
    assert_eq!(status, 200);
    assert!(
        body.starts_with("scenario,period,staff_group,fte"),
        "{body}"
    );

    let (status, body) = post_json(&format!("{}/runs", server.base), "{");
    assert_eq!(status, 400);
    assert!(json(&body)["code"].is_string());

    let output = Command::new("python3")
        .arg(repo().join("tests/clients/run_scenario.py"))
        .arg(&server.base)
        .arg("faculty-plan")
        .output()
        .expect("python3 runs");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(printed.starts_with("faculty-plan: run "), "{printed}");
}

#[test]
fn the_server_refuses_to_listen_beyond_loopback_without_keys() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_wfplan"))
        .args(["serve", "--bind", "0.0.0.0:0", "--db"])
        .arg(dir.path().join("w.duckdb"))
        .env_remove("WFPLAN_API_KEYS")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("without API keys"));
}

#[test]
fn serve_refuses_limits_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    for flag in ["--sync-runs", "--background-runs"] {
        let output = Command::new(env!("CARGO_BIN_EXE_wfplan"))
            .args(["serve", "--bind", "127.0.0.1:0", flag, "0", "--db"])
            .arg(dir.path().join("w.duckdb"))
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{flag}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("{flag} must be at least 1")),
            "{stderr}"
        );
    }
}

#[test]
fn an_idle_server_folds_the_database_log_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("wfplan.duckdb");
    let server = serve_with(&db, &["--idle-checkpoint-ms", "100"]);
    let log = dir.path().join("wfplan.duckdb.wal");
    let log_bytes = || std::fs::metadata(&log).map_or(0, |m| m.len());
    // Segment-level runs until the log passes the 16 MiB the server waits for.
    let mut runs = 0;
    let mut last = Value::Null;
    while log_bytes() < 17 * 1024 * 1024 {
        let (status, text) = post_json(
            &format!("{}/runs", server.base),
            r#"{"scenario": "baseline", "detail": "segment"}"#,
        );
        assert_eq!(status, 200, "{text}");
        last = json(&text)["id"].clone();
        runs += 1;
        assert!(runs < 100, "the log stays at {} bytes", log_bytes());
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while log_bytes() >= 16 * 1024 * 1024 {
        assert!(
            Instant::now() < deadline,
            "still {} bytes of log after 20 s idle",
            log_bytes()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, text) = curl(&[&format!("{}/runs/{last}/results?metrics=fte", server.base)]);
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        json(&text)["rows"].as_array().map(Vec::len),
        Some(5),
        "{text}"
    );
}

#[test]
fn a_server_killed_mid_run_leaves_no_partial_results() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("wfplan.duckdb");
    let server = serve(&db);
    let values: Vec<String> = (0..200).map(|i| format!("{}", i as f64 / 1000.0)).collect();
    let body = format!(
        r#"{{"scenario_document": {{"name": "sweep", "start": "2025-04", "months": 600,
            "interventions": [{{"kind": "wellbeing", "sickness_reduction": 0.01}}],
            "sweep": {{"interventions.0.sickness_reduction": [{}]}}}}, "detail": "total"}}"#,
        values.join(",")
    );
    let (status, text) = post_json(&format!("{}/runs", server.base), &body);
    assert_eq!(status, 202, "{text}");
    let id = json(&text)["id"].as_i64().unwrap();
    // Wait until some scenarios have finished, then kill the server outright.
    let started = Instant::now();
    loop {
        let (_, text) = curl(&[&format!("{}/runs/{id}", server.base)]);
        if json(&text)["done"].as_u64().unwrap_or(0) >= 2 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no progress: {text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(server);

    let server = serve(&db);
    let (_, text) = curl(&[&format!("{}/runs/{id}", server.base)]);
    let run = json(&text);
    assert_ne!(run["status"], "running", "{run}");
    let scenarios = run["scenarios"].as_array().unwrap();
    let succeeded = scenarios
        .iter()
        .filter(|s| s["status"] == "succeeded")
        .count();
    let interrupted = scenarios
        .iter()
        .filter(|s| {
            s["status"] == "failed" && s["error"].as_str().unwrap_or("").contains("interrupted")
        })
        .count();
    assert!(
        succeeded >= 2 && interrupted > 0,
        "{succeeded} succeeded, {interrupted} interrupted"
    );
    assert_eq!(succeeded + interrupted, 200);
    // Results exist for exactly the runs that succeeded: 600 months of totals each.
    let (_, text) = curl(&[&format!(
        "{}/runs/{id}/results?period=month&metrics=fte",
        server.base
    )]);
    let rows = json(&text)["rows"].as_array().unwrap().len();
    assert_eq!(rows, succeeded * 600);
}

/// The server is a function of a listener and a shutdown signal: a test binds port 0,
/// serves on it in-process, talks to it over the socket, and stops it when it likes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_runs_on_a_given_listener_until_a_given_shutdown() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let options = wfplan::api::ServeOptions {
        db: dir.path().join("wfplan.duckdb"),
        rules: Some(repo().join("rules")),
        scenarios: Some(repo().join("scenarios")),
        keys: Default::default(),
        limits: Default::default(),
    };
    let state = wfplan::api::open_state(&options).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(wfplan::api::run(listener, state, options.keys, async {
        let _ = stopped.await;
    }));

    let mut socket = tokio::net::TcpStream::connect(address).await.unwrap();
    socket
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"status\":\"ok\""), "{answer}");

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops when told")
        .unwrap()
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(address).await.is_err(),
        "nothing listens after shutdown"
    );
}

/// The server's peak resident memory (`VmHWM`), in kilobytes.
fn peak_memory_kb(server: &Served) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM in /proc/PID/status")
}

/// A large results answer (300,000 rows, about 240 MB of JSON) is sent as it is read:
/// the server's memory grows by no more than DuckDB's limit and a few batches, less than
/// the answer (it once built the whole answer first, several times its size), a client reading slowly holds no lock (a run made
/// meanwhile succeeds at once), and the answer read to its end is whole and right.
#[test]
fn a_large_results_answer_streams_in_bounded_memory_without_holding_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("wfplan.duckdb");
    let segments = 5_000;
    Test::new()
        .args(["generate", "--segments", &segments.to_string(), "--out"])
        .arg(dir.path())
        .run();
    Test::new()
        .args(["import", "--db"])
        .arg(&db)
        .arg(dir.path().join("workforce.csv"))
        .run();
    Test::new()
        .args(["run", "--quiet", "--db"])
        .arg(&db)
        .arg(repo().join("scenarios/baseline.toml"))
        .run();
    let batch: i64 = duckdb::Connection::open(&db)
        .unwrap()
        .query_row("SELECT max(batch_id) FROM runs", [], |r| r.get(0))
        .unwrap();
    let server = serve_with(&db, &["--duckdb-memory-mb", "256"]);
    let before = peak_memory_kb(&server);

    // The request by hand, so that the test reads as slowly as it likes.
    use std::io::{Read, Write};
    let address = server.base.trim_start_matches("http://");
    let mut socket = std::net::TcpStream::connect(address).unwrap();
    write!(
        socket,
        "GET /runs/{batch}/results?group_by=org,system,staff_group,band&period=month HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut first = vec![0; 64 * 1024];
    let mut read = 0;
    while !first[..read].windows(4).any(|w| w == b"\r\n\r\n") || read < 1024 {
        let n = socket.read(&mut first[read..]).unwrap();
        assert!(n > 0, "{}", String::from_utf8_lossy(&first[..read]));
        read += n;
    }
    let head = String::from_utf8_lossy(&first[..read]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    // While the answer waits on this client, runs are made and stored.
    let started = Instant::now();
    let (status, text) = post_json(
        &format!("{}/runs", server.base),
        r#"{"scenario": "baseline", "detail": "total", "dataset": "default"}"#,
    );
    assert_eq!(status, 200, "{text}");
    assert!(started.elapsed() < Duration::from_secs(10), "{text}");

    std::thread::sleep(Duration::from_millis(500));
    let mut rest = Vec::new();
    socket.read_to_end(&mut rest).unwrap();
    let mut answer = first[..read].to_vec();
    answer.extend(rest);
    let size = answer.len() as u64;
    let peak_growth = peak_memory_kb(&server).saturating_sub(before);

    // The body, de-chunked, is the whole answer.
    let text = String::from_utf8(answer).unwrap();
    let (headers, chunked) = text.split_once("\r\n\r\n").unwrap();
    assert!(
        headers
            .to_lowercase()
            .contains("transfer-encoding: chunked"),
        "{headers}"
    );
    let mut body = String::new();
    let mut remaining = chunked;
    loop {
        let (length, after) = remaining.split_once("\r\n").unwrap();
        let length = usize::from_str_radix(length.trim(), 16).unwrap();
        if length == 0 {
            break;
        }
        body.push_str(&after[..length]);
        remaining = &after[length + 2..];
    }
    let results = json(&body);
    assert_eq!(results["run"], batch);
    assert_eq!(results["complete"], true);
    let rows = results["rows"].as_array().unwrap();
    assert_eq!(rows.len(), segments * 60, "a row per segment and month");
    assert!(rows[0]["figures"]["fte"].as_f64().unwrap() > 0.0);
    assert_eq!(rows[0]["keys"].as_object().unwrap().len(), 4);
    eprintln!("results answer: {size} bytes; server peak memory grew by {peak_growth} kB");
    // DuckDB's grouping may take up to its limit (256 MB here); the rest is a few
    // batches. Built whole, the answer took several times its size.
    assert!(
        peak_growth < 256 * 1024 + 64 * 1024 && peak_growth * 1024 < size,
        "the server's peak memory grew by {peak_growth} kB for an answer of {size} bytes"
    );
}
