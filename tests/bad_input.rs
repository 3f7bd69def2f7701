//! Bad input gets one clear line naming the file and the cause, a non-zero exit, and leaves
//! nothing behind.

use std::path::Path;

use crate::util::*;

/// Runs `redact INPUT -o DIR/out.mp4` and checks the failure: exit code, a single stderr line
/// naming `names` and containing `cause`, and an output directory left empty.
fn assert_fails_cleanly(input: &Path, out_dir: &Path, names: &str, cause: &str) {
    let out = out_dir.join("out.mp4");
    let run = obscura(&["redact", str(input), "-o", str(&out), "--target", "frame"]);
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{}: {err}", input.display());
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {err}");
    assert!(lines[0].contains(names), "names {names}: {err}");
    assert!(lines[0].contains(cause), "says {cause:?}: {err}");
    assert_eq!(files_in(out_dir), Vec::<String>::new(), "nothing left behind for {}", input.display());
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let input = dir.path().join("nowhere.mp4");
    assert_fails_cleanly(&input, out.path(), "nowhere.mp4", "no such file");
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let input = dir.path().join("empty.mp4");
    std::fs::write(&input, b"").unwrap();
    assert_fails_cleanly(&input, out.path(), "empty.mp4", "file is empty");
}

#[test]
fn text_file_named_mp4() {
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let input = dir.path().join("notes.mp4");
    std::fs::write(&input, "these are my notes, not a video\n".repeat(20)).unwrap();
    assert_fails_cleanly(&input, out.path(), "notes.mp4", "cannot decode");
}

#[test]
fn truncated_mp4_with_index_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let input = dir.path().join("cut.mp4");
    let bytes = std::fs::read(sample()).unwrap();
    std::fs::write(&input, &bytes[..bytes.len() / 2]).unwrap();
    assert_fails_cleanly(&input, out.path(), "cut.mp4", "cannot decode");
}

#[test]
fn truncated_mp4_with_index_at_the_front() {
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let whole = dir.path().join("faststart.mp4");
    gst_run(&format!(
        "filesrc location={} ! qtdemux ! h264parse ! mp4mux faststart=true ! filesink location={}",
        str(&sample()),
        str(&whole)
    ));
    let bytes = std::fs::read(&whole).unwrap();
    let input = dir.path().join("cut-faststart.mp4");
    std::fs::write(&input, &bytes[..bytes.len() / 2]).unwrap();
    assert_fails_cleanly(&input, out.path(), "cut-faststart.mp4", "truncated");
}

#[test]
fn unwritable_output() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, b"x").unwrap();
    for out in [blocker.join("out.mp4"), Path::new("/proc/obscura-test/out.mp4").to_owned()] {
        let run = obscura(&["redact", str(&sample()), "-o", str(&out), "--target", "frame"]);
        let err = stderr(&run);
        assert_eq!(run.status.code(), Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(str(&out)) && err.contains("cannot create output"), "{err}");
        assert!(!out.exists());
    }
    assert_eq!(files_in(dir.path()), vec!["a-file".to_owned()]);
}

#[test]
fn bad_fill_color() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.mp4");
    for bad in ["#ff00f", "ff00ff", "#gg0000", "magenta"] {
        let run =
            obscura(&["redact", str(&sample()), "-o", str(&out), "--target", "frame", "--fill-color", bad]);
        let err = stderr(&run);
        assert_eq!(run.status.code(), Some(2), "{bad}: {err}");
        let first = err.lines().next().unwrap_or_default();
        assert!(first.contains("--fill-color") && first.contains(bad) && first.contains("#RRGGBB"), "{err}");
    }
    assert_eq!(files_in(dir.path()), Vec::<String>::new());
}

#[test]
fn one_bad_input_does_not_stop_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let good = sample_clip(dir.path(), 10);
    let bad = dir.path().join("bad.mp4");
    std::fs::write(&bad, b"not a video").unwrap();
    let out = dir.path().join("redacted");
    let run = obscura(&["redact", str(&bad), str(&good), "-o", str(&out), "--target", "frame"]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    assert!(stderr(&run).contains("bad.mp4"));
    assert_eq!(
        files_in(&out),
        ["clip10.mp4", "clip10.mp4.privacy.json"],
        "the good input's output and its report, and only them"
    );
}
