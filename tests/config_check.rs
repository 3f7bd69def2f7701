//! `obscura check`: a valid config exits 0; a bad one lists every problem as FILE:LINE:COL and
//! exits 2.

use crate::util::*;

#[test]
fn the_example_config_is_valid() {
    let root = root();
    let example = root.join("obscura.example.toml");
    let run = obscura(&["check", "--config", str(&example)]);
    assert!(run.status.success(), "{}", stderr(&run));
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(out.contains("ok (1 camera)"), "{out}");
    // What it will do, in words: the camera's input, output, redaction and counting, the sinks.
    let root = root.display();
    let camera = format!(
        "  camera street: {root}/sample_media/street.mp4 → {root}/out/street.mp4; heads blur, detection every 0.12 s, \
         at most 3 frames apart (3 at 25 fps, fitted to the stream's rate); counts 1 line, 0 zones\n"
    );
    assert!(out.contains(&camera), "{out}");
    let counts = format!("  counts: 15-minute buckets → {root}/out/counts.sqlite, {root}/out/counts.jsonl\n");
    assert!(out.contains(&counts), "{out}");
}

#[test]
fn check_says_where_counts_go_mqtt_and_metrics_included() {
    let dir = tempfile::tempdir().unwrap();
    let counts = "[counts.mqtt]\nhost = \"127.0.0.1\"\n[http]\nlisten = \"127.0.0.1:9464\"";
    let config = counting_config(dir.path(), "c.toml", counts, "door", &sample(), "2026-11-22T10:00:00Z");
    let run = obscura(&["check", "--config", str(&config)]);
    assert!(run.status.success(), "{}", stderr(&run));
    let out = String::from_utf8_lossy(&run.stdout);
    // The default cadence is a time, fitted to each stream's frame rate, at most 3 frames.
    let every = "; frame blur, detection every 0.12 s, at most 3 frames apart (3 at 25 fps, fitted to the \
                 stream's rate); counts";
    assert!(out.contains(every), "{out}");
    let sqlite = dir.path().join("counts.sqlite");
    let expected = format!(
        "  counts: 1-minute buckets → {}, mqtt://127.0.0.1:1883/obscura/…, http://127.0.0.1:9464/metrics\n",
        sqlite.display()
    );
    assert!(out.contains(&expected), "{out}");
}

#[test]
fn every_mistake_is_reported_with_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        r##"[[camera]]
name = "door"
source = "door.mp4"
[camera.redact]
target = "frame"
metod = "blur"
fill_color = "#12345"

[[camera]]
name = "door"
source = "http://example.invalid/cam"
[camera.redact]
target = "none"
masks = [[[0, 0], [1.5, 0], [1, 1]]]
[camera.output]
video = "out/door.avi"
crf = 99
"##,
    )
    .unwrap();
    let run = obscura(&["check", "--config", str(&path)]);
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(2), "{err}");
    let positions: Vec<&str> = err
        .lines()
        .map(|l| {
            l.strip_prefix(str(&path)).expect("each line starts with the file").split(' ').next().unwrap()
        })
        .collect();
    assert_eq!(positions, [":6:1:", ":7:14:", ":10:8:", ":11:10:", ":14:20:", ":16:9:", ":17:7:"], "{err}");
    for words in ["metod", "#12345", "duplicate camera name", "http", "1.5", ".mp4", "99"] {
        assert!(err.contains(words), "mentions {words}: {err}");
    }
}

#[test]
fn a_missing_config_file_is_named() {
    let run = obscura(&["check", "--config", "/nonexistent/obscura.toml"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(stderr(&run).contains("/nonexistent/obscura.toml"), "{}", stderr(&run));
}
