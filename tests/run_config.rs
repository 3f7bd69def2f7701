//! `obscura run` with files: every camera of a config to the end of its file; a dead camera is
//! reported and the others carry on. (Live cameras: `tests/live.rs`.)

use crate::util::*;

#[test]
fn runs_every_camera_and_reports_a_dead_one() {
    let dir = tempfile::tempdir().unwrap();
    let clip = sample_clip(dir.path(), 15);
    let config = dir.path().join("obscura.toml");
    std::fs::write(
        &config,
        format!(
            r##"[[camera]]
name = "good"
source = "{clip}"
[camera.redact]
target = "frame"
method = "fill"
fill_color = "#00ff00"
[camera.output]
video = "out/good.mp4"

[[camera]]
name = "dead"
source = "missing.mp4"
[camera.redact]
target = "frame"
[camera.output]
video = "out/dead.mp4"
"##,
            clip = str(&clip)
        ),
    )
    .unwrap();
    let run = obscura(&["run", "--config", str(&config)]);
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(err.contains("camera dead: error:") && err.contains("missing.mp4: no such file"), "{err}");
    // Live cameras are checked like files, and their credentials are never printed.
    let live = dir.path().join("live.toml");
    let cameras = std::fs::read_to_string(&config).unwrap()
        + "\n[[camera]]\nname = \"live\"\nsource = \"rtsp://admin:hunter2@127.0.0.1:8554/cam\"\n\
           [camera.rtsp]\nuser = \"viewer\"\npassword_env = \"CAM_PASSWORD\"\n\
           \n[[camera]]\nname = \"query\"\nsource = \"rtsp://127.0.0.1:8554/cam?channel=1&user=admin&password=swordfish\"\n";
    std::fs::write(&live, cameras).unwrap();
    // A secret that is not there yet is not an error (the camera waits for it), but is said.
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_obscura"))
        .args(["check", "--config", str(&live)])
        .env_remove("CAM_PASSWORD")
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&check.stdout).into_owned() + &stderr(&check);
    assert!(check.status.success(), "{printed}");
    assert!(
        printed.contains(
            "rtsp://admin:***@127.0.0.1:8554/cam (live over tcp, watchdog 10 s, password from $CAM_PASSWORD \
             (not set now: the camera waits for it))"
        ),
        "{printed}"
    );
    assert!(printed.contains("?channel=1&user=***&password=***"), "{printed}");
    assert!(
        !printed.contains("hunter2") && !printed.contains("swordfish"),
        "credentials never printed: {printed}"
    );
    let expected = timestamps(&clip).len();
    assert!(err.contains(&format!("camera good: {expected} frames")), "{err}");
    // Relative output paths are relative to the config file.
    assert_eq!(files_in(&dir.path().join("out")), ["good.mp4", "good.mp4.privacy.json"]);
    let frames = decode_all(&dir.path().join("out/good.mp4"), "RGB");
    assert_eq!(frames.len(), expected);
    assert!(frames.iter().all(|f| f.data.chunks_exact(3).all(|p| p[0] < 8 && p[1] > 247 && p[2] < 8)));
}

/// The rows of the count store: (camera, line, start_ms, in, out).
fn stored_counts(db: &std::path::Path) -> Vec<(String, String, i64, i64, i64)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT camera, line, start_ms, in_count, out_count FROM line_buckets ORDER BY start_ms")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// The sample film counted from 10:00:40 into `NAME.sqlite`, plus `extra` keys or tables.
fn street_counts(dir: &std::path::Path, name: &str, extra: &str) -> std::path::PathBuf {
    let counts = format!("sqlite = \"{name}.sqlite\"\n{extra}");
    counting_config(dir, &format!("{name}.toml"), &counts, "street", &sample(), "2026-11-22T10:00:40Z")
}

/// kill -9 of a real `obscura run` mid-stream, then a restart: every bucket closed before the
/// kill is kept, and nothing is counted twice (the same rows as an uninterrupted run).
#[test]
fn counts_survive_kill_9_and_a_restart_without_doubling() {
    let dir = tempfile::tempdir().unwrap();
    let clean = street_counts(dir.path(), "clean", "");
    let run = obscura(&["run", "--config", str(&clean)]);
    assert!(run.status.success(), "{}", stderr(&run));
    let expected = stored_counts(&dir.path().join("clean.sqlite"));
    assert_eq!(expected.len(), 2, "60 s from 10:00:40: the 10:00 and 10:01 buckets: {expected:?}");

    let killed = street_counts(dir.path(), "killed", "");
    let db = dir.path().join("killed.sqlite");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_obscura"))
        .args(["run", "--config", str(&killed)])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the first bucket (10:00–10:01, closed 20 s into the stream) is stored.
    let started = std::time::Instant::now();
    while !db.exists() || stored_counts(&db).is_empty() {
        assert!(started.elapsed().as_secs() < 300, "the first bucket was never stored");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let after_kill = stored_counts(&db);
    assert_eq!(after_kill, expected[..1], "the closed bucket survived the kill, the open one was lost");

    let run = obscura(&["run", "--config", str(&killed)]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(stored_counts(&db), expected, "after the restart: every bucket once, as in a clean run");
}

/// `GET /metrics` of a real `obscura run`, scraped over HTTP every 50 ms while it counts, parsed
/// as Prometheus text: the crossing counters only ever show sums of closed buckets (what the
/// count store holds at the end), never a single crossing before its bucket closes.
#[test]
fn metrics_show_closed_buckets_only() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // Buckets close 40 s into the film (with crossings in it) and at its end.
    let counts = format!("sqlite = \"metrics.sqlite\"\n[http]\nlisten = \"127.0.0.1:{port}\"");
    let config =
        counting_config(dir.path(), "metrics.toml", &counts, "street", &sample(), "2026-11-22T10:00:20Z");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_obscura"))
        .args(["run", "--config", str(&config)])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let scrape = || -> Option<String> {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        write!(stream, "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).ok()?;
        Some(response)
    };
    let started = std::time::Instant::now();
    // Every (in, out) the counters showed, in order, and the series names seen.
    let mut seen: Vec<(u64, u64)> = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    let mut scrapes = 0;
    while child.try_wait().unwrap().is_none() {
        assert!(started.elapsed().as_secs() < 600, "the run ended in time");
        if let Some(response) = scrape() {
            assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
            scrapes += 1;
            let body = response.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
            let values: Vec<(String, u64)> = body
                .lines()
                .filter(|l| l.starts_with("obscura_line_crossings_total{"))
                .map(|l| {
                    let (labels, value) = l.rsplit_once(' ').unwrap();
                    (labels.to_owned(), value.parse().unwrap())
                })
                .collect();
            if let [(l_in, v_in), (l_out, v_out)] = &values[..] {
                labels = vec![l_in.clone(), l_out.clone()];
                if seen.last() != Some(&(*v_in, *v_out)) {
                    seen.push((*v_in, *v_out));
                }
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(child.wait().unwrap().success());
    assert_eq!(
        labels,
        [
            "obscura_line_crossings_total{camera=\"street\",line=\"middle\",direction=\"in\"}",
            "obscura_line_crossings_total{camera=\"street\",line=\"middle\",direction=\"out\"}",
        ]
    );
    // The sums of the first n closed buckets, n = 0, 1, …: the only values the counters may show.
    let rows = stored_counts(&dir.path().join("metrics.sqlite"));
    let mut sums = vec![(0u64, 0u64)];
    for (_, _, _, inn, out) in &rows {
        let (a, b) = *sums.last().unwrap();
        sums.push((a + *inn as u64, b + *out as u64));
    }
    let total = *sums.last().unwrap();
    assert!(total.0 + total.1 >= 3, "the film has crossings to hide: {rows:?}");
    assert!(
        seen.iter().any(|&(a, b)| a + b > 0),
        "a closed bucket showed up on /metrics ({scrapes} scrapes)"
    );
    for value in &seen {
        assert!(
            sums.contains(value),
            "/metrics showed {value:?}, which is no sum of closed buckets {sums:?}"
        );
    }
}
