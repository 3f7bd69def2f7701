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

/// A video is always written as MP4: an output named otherwise is refused before any work, never
/// an MP4 written under another format's name.
#[test]
fn a_video_output_must_be_named_mp4() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["out.avi", "out.mkv", "out.png", "out"] {
        let out = dir.path().join(name);
        let run = obscura(&["redact", str(&sample()), "-o", str(&out), "--target", "frame"]);
        let err = stderr(&run);
        assert_eq!(run.status.code(), Some(2), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(str(&out)) && err.contains(".mp4 extension"), "{err}");
    }
    assert_eq!(files_in(dir.path()), Vec::<String>::new());
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

/// The privacy report is written before the output appears: when it cannot be written, the
/// output is not left without it.
#[test]
fn no_output_without_its_privacy_report() {
    let dir = tempfile::tempdir().unwrap();
    let clip = sample_clip(dir.path(), 10);
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    // A directory where the report would go: writing the report fails.
    std::fs::create_dir(out_dir.join("out.mp4.privacy.json")).unwrap();
    let out = out_dir.join("out.mp4");
    let run = obscura(&["redact", str(&clip), "-o", str(&out), "--target", "frame"]);
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(err.contains("privacy report") && err.contains("out.mp4"), "{err}");
    assert_eq!(
        files_in(&out_dir),
        ["out.mp4.privacy.json"],
        "no video without its report, no temporary file"
    );
    // Same for a still.
    let png = dir.path().join("still.png");
    ffmpeg(&["-i", str(&clip), "-frames:v", "1", str(&png)]);
    std::fs::create_dir(out_dir.join("s.png.privacy.json")).unwrap();
    let run = obscura(&["redact", str(&png), "-o", str(&out_dir.join("s.png")), "--target", "frame"]);
    assert_eq!(run.status.code(), Some(1), "{}", stderr(&run));
    assert_eq!(files_in(&out_dir), ["out.mp4.privacy.json", "s.png.privacy.json"]);
}

/// A run killed outright (SIGKILL) cannot remove its temporary file; the next write in that
/// folder sweeps it.
#[test]
fn a_killed_runs_temporary_file_is_swept_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("killed.mp4");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_obscura"))
        .args(["redact", str(&sample()), "-o", str(&out), "--target", "frame", "--preset", "slow"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !files_in(dir.path()).iter().any(|f| f.ends_with(".part")) {
        assert!(started.elapsed().as_secs() < 60, "the run made its temporary file");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let left = files_in(dir.path());
    assert!(left.len() == 1 && left[0].starts_with(".killed.mp4.") && left[0].ends_with(".part"), "{left:?}");
    let other = tempfile::tempdir().unwrap();
    let clip = sample_clip(other.path(), 5);
    let run = obscura(&["redact", str(&clip), "-o", str(&dir.path().join("next.mp4")), "--target", "frame"]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(files_in(dir.path()), ["next.mp4", "next.mp4.privacy.json"], "the dead run's file was swept");
}
