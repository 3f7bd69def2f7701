//! `obscura run`: every camera of a config to the end of its file; a dead camera is reported
//! and the others carry on.

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

[[camera]]
name = "live"
source = "rtsp://admin:hunter2@127.0.0.1:8554/cam"
[camera.redact]
target = "frame"
"##,
            clip = str(&clip)
        ),
    )
    .unwrap();
    let run = obscura(&["run", "--config", str(&config)]);
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(err.contains("camera dead: error:") && err.contains("missing.mp4: no such file"), "{err}");
    assert!(err.contains("camera live: error:") && err.contains("RTSP"), "{err}");
    assert!(!err.contains("hunter2"), "credentials never printed: {err}");
    let expected = timestamps(&clip).len();
    assert!(err.contains(&format!("camera good: {expected} frames")), "{err}");
    // Relative output paths are relative to the config file.
    assert_eq!(files_in(&dir.path().join("out")), ["good.mp4", "good.mp4.privacy.json"]);
    let frames = decode_all(&dir.path().join("out/good.mp4"), "RGB");
    assert_eq!(frames.len(), expected);
    assert!(frames.iter().all(|f| f.data.chunks_exact(3).all(|p| p[0] < 8 && p[1] > 247 && p[2] < 8)));
}
