//! Detection with the real models: faces found and covered on real photos, nothing found where
//! there is nothing, and clear errors when a model is missing or corrupt.

use std::path::Path;
use std::process::Command;

use crate::util::*;

#[test]
fn every_face_of_the_stills_is_covered() {
    let Some(dir) = shared_eval("faces-stills") else { return };
    let run = obscura(&["eval", "faces", "--xml", str(&dir.join("training.xml")), "--json"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(report["faces"], 18, "{report}");
    assert_eq!(report["covered"], 18, "every face ≥ 90% masked: {report:#}");
}

#[test]
fn faces_are_filled_in_a_real_photo_and_the_rest_is_untouched() {
    let Some(dir) = shared_eval("faces-stills") else { return };
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("redacted.png");
    let input = dir.join("2008_001322.jpg");
    let run = obscura(&[
        "redact",
        str(&input),
        "-o",
        str(&out),
        "--target",
        "faces",
        "--method",
        "fill",
        "--fill-color",
        "#ff00ff",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let image = image::open(&out).unwrap().into_rgb8();
    let magenta = |x: u32, y: u32| image.get_pixel(x, y).0 == [255, 0, 255];
    // The three marked faces (dlib boxes of training.xml): their centres are filled.
    for (left, top, size) in [(104, 162, 76), (232, 218, 63), (344, 155, 90)] {
        assert!(magenta(left + size / 2, top + size / 2), "face at ({left},{top}) filled");
    }
    let filled = image.pixels().filter(|p| p.0 == [255, 0, 255]).count() as f64;
    let share = filled / f64::from(image.width() * image.height());
    assert!(share < 0.25, "only faces are filled, not the picture: {share:.2}");
}

#[test]
fn a_blank_frame_gives_no_detection() {
    let dir = tempfile::tempdir().unwrap();
    for (name, value) in [("black.png", 0u8), ("grey.png", 128), ("white.png", 255)] {
        let input = dir.path().join(name);
        image::RgbImage::from_pixel(640, 480, image::Rgb([value; 3])).save(&input).unwrap();
        let frame = obscura::source::load_still(&input).unwrap();
        let mut faces = obscura::detect::FaceDetector::load(
            &obscura::detect::models_dir(),
            obscura::detect::FaceSettings::default(),
        )
        .unwrap();
        assert_eq!(faces.detect(&frame).unwrap(), [], "{name}");
    }
}

#[test]
fn faces_target_runs_on_real_footage() {
    let dir = tempfile::tempdir().unwrap();
    let clip = sample_clip(dir.path(), 30);
    let out = dir.path().join("faces.mp4");
    let run = obscura(&["redact", str(&clip), "-o", str(&out), "--target", "faces", "--detect-every", "2"]);
    let err = stderr(&run);
    assert!(run.status.success(), "{err}");
    let frames = timestamps(&clip).len();
    assert_eq!(timestamps(&out).len(), frames);
    assert!(err.contains(&format!("detection on {} frames, 0 fail-closed", frames.div_ceil(2))), "{err}");
    // The privacy report beside the output says what happened, in counts only.
    assert!(err.contains("privacy: ") && err.contains("residual audit ("), "{err}");
    let sidecar = dir.path().join("faces.mp4.privacy.json");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&sidecar).unwrap()).unwrap();
    assert_eq!(report["frames"], frames as u64, "{report:#}");
    assert_eq!(report["target"], "faces");
    let detection = &report["detection"];
    assert_eq!(detection["passes"], frames.div_ceil(2) as u64, "{report:#}");
    assert_eq!(detection["frames_masked"], frames as u64, "{report:#}");
    assert_eq!(detection["frames_fail_closed"]["detector_error"], 0);
    assert_eq!(detection["max_staleness_seen"], 1, "every 2nd frame detected: at most 1 frame old");
    // A cadence given on the command line is used as given, in frames; the look-ahead beside it
    // is the default, 0.48 s in the stream's frames, rounded up.
    assert_eq!(detection["detect_every"], 2, "{report:#}");
    let fps = detection["stream_fps"].as_f64().unwrap();
    assert_eq!(detection["lookahead_frames"], (0.48 * fps).ceil() as u64, "{report:#}");
    // The audit's default cadence is 4 s too, in the stream's frames (100 at 25 fps).
    let audit_every = (100.0 * fps / 25.0).round() as usize;
    assert_eq!(report["audit"]["every"], audit_every as u64, "{report:#}");
    assert_eq!(report["audit"]["frames_checked"], frames.div_ceil(audit_every) as u64, "{report:#}");
    assert!(
        !report.to_string().contains("rect") && !report.to_string().contains("x0"),
        "no boxes in the report"
    );
}

/// Runs `redact --target TARGET` with the models taken from `models`.
fn redact_with_models(models: &Path, target: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("grey.png");
    image::RgbImage::from_pixel(64, 64, image::Rgb([128; 3])).save(&input).unwrap();
    let out = dir.path().join("out.png");
    let run = Command::new(env!("CARGO_BIN_EXE_obscura"))
        .args(["redact", str(&input), "-o", str(&out), "--target", target])
        .env("OBSCURA_MODELS", models)
        .output()
        .unwrap();
    assert!(!out.exists(), "no output without a detector");
    assert!(!dir.path().join("out.png.privacy.json").exists(), "and no report");
    (run.status.code(), stderr(&run))
}

#[test]
fn missing_or_corrupt_models_are_named_with_the_fix() {
    let real = obscura::detect::models_dir();
    let models = tempfile::tempdir().unwrap();
    // No runtime library at all.
    let (code, err) = redact_with_models(models.path(), "faces");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("libonnxruntime.so.1.31.1") && err.contains("run scripts/setup"), "{err}");
    // The runtime, but no face model.
    std::os::unix::fs::symlink(
        real.join("libonnxruntime.so.1.31.1"),
        models.path().join("libonnxruntime.so.1.31.1"),
    )
    .unwrap();
    let (code, err) = redact_with_models(models.path(), "faces");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("centerface.onnx: model file is missing; run scripts/setup"), "{err}");
    // A corrupt face model.
    std::fs::write(models.path().join("centerface.onnx"), b"\x08\x07this is not a model").unwrap();
    let (code, err) = redact_with_models(models.path(), "faces");
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("centerface.onnx: cannot load the model") && err.contains("run scripts/setup"),
        "{err}"
    );
    // The face model, but no person model, then a corrupt one, then a model that is not it.
    std::fs::remove_file(models.path().join("centerface.onnx")).unwrap();
    std::os::unix::fs::symlink(real.join("centerface.onnx"), models.path().join("centerface.onnx")).unwrap();
    for target in ["heads", "persons"] {
        let (code, err) = redact_with_models(models.path(), target);
        assert_eq!(code, Some(1), "{err}");
        assert!(err.contains("ssdlite-person.onnx: model file is missing; run scripts/setup"), "{err}");
    }
    let person = models.path().join("ssdlite-person.onnx");
    std::fs::write(&person, b"\x08\x07this is not a model").unwrap();
    let (code, err) = redact_with_models(models.path(), "heads");
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("ssdlite-person.onnx: cannot load the model") && err.contains("run scripts/setup"),
        "{err}"
    );
    std::fs::remove_file(&person).unwrap();
    std::os::unix::fs::symlink(real.join("centerface.onnx"), &person).unwrap();
    let (code, err) = redact_with_models(models.path(), "persons");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("ssdlite-person.onnx: cannot load the model (expected input `input`"), "{err}");
}

/// `obscura eval KIND --gt DIR/gt.txt --video DIR/VIDEO ARGS --json` on a ground-truth clip in
/// `dir`, its report parsed.
fn eval_json(kind: &str, dir: &Path, video: &str, args: &[&str]) -> serde_json::Value {
    let (gt, video) = (dir.join("gt.txt"), dir.join(video));
    let mut all = vec!["eval", kind, "--gt", str(&gt), "--video", str(&video)];
    all.extend_from_slice(args);
    all.push("--json");
    let run = obscura(&all);
    assert!(run.status.success(), "{}", stderr(&run));
    serde_json::from_slice(&run.stdout).unwrap()
}

/// Writes `dir/gt.txt`: the ground truth of `eval` with every box scaled by `scale` and moved by
/// `offset` (pixels), as the clip was when placed into a larger canvas.
fn moved_ground_truth(eval: &Path, dir: &Path, (sx, sy): (f64, f64), (ox, oy): (f64, f64)) {
    let gt: String = std::fs::read_to_string(eval.join("gt.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<f64> = l.split(',').map(|v| v.trim().parse().unwrap()).collect();
            let rest: Vec<String> = f[6..].iter().map(f64::to_string).collect();
            let (x, y, w, h) = (f[2] * sx + ox, f[3] * sy + oy, f[4] * sx, f[5] * sy);
            format!("{},{},{x},{y},{w},{h},{}\n", f[0], f[1], rest.join(","))
        })
        .collect();
    std::fs::write(dir.join("gt.txt"), gt).unwrap();
}

/// `obscura eval mot --target heads --json` on a ground-truth clip of `../shared/eval`.
fn head_coverage(clip: &str, video: &str) -> Option<serde_json::Value> {
    Some(eval_json("mot", &shared_eval(clip)?, video, &["--target", "heads"]))
}

/// The accuracy the detection and temporal-safety milestones promise, with default settings
/// (`detect_every = 3`, tracking, look-ahead).
fn assert_heads_covered(report: &serde_json::Value) {
    let rate = report["coverage_rate"].as_f64().unwrap();
    let share = report["mean_mask_share"].as_f64().unwrap();
    assert!(rate >= 0.995, "≥ 99.5% of heads covered, got {:.2}%", 100.0 * rate);
    let longest = report["longest_uncovered"].as_u64().unwrap();
    assert!(longest <= 2, "no head uncovered for more than 2 frames in a row, got {longest}");
    assert!(share < 0.25, "masks under 25% of the frame, got {:.1}%", 100.0 * share);
    assert_eq!(report["fail_closed_frames"], 0, "no detection failed");
}

#[test]
fn heads_are_covered_on_tud_campus() {
    let Some(report) = head_coverage("tud-campus", "TUD-Campus.mp4") else { return };
    assert_eq!(report["frames"], 71);
    assert_heads_covered(&report);
}

#[test]
fn heads_are_covered_on_tud_stadtmitte() {
    let Some(report) = head_coverage("tud-stadtmitte", "TUD-Stadtmitte.mp4") else { return };
    assert_eq!(report["frames"], 179);
    assert_heads_covered(&report);
}

/// `eval mot --hidden`: a region where nobody can be seen (a pillar, a shelf) is left out of the
/// head regions it measures, and a head less than half in sight is not measured at all.
#[test]
fn eval_mot_leaves_hidden_regions_out_of_the_heads_it_measures() {
    let Some(eval) = shared_eval("tud-campus") else { return };
    // The whole frame masked (no detector to run): every head measured is covered.
    let all = eval_json("mot", &eval, "TUD-Campus.mp4", &["--target", "frame"]);
    let left = eval_json("mot", &eval, "TUD-Campus.mp4", &["--target", "frame", "--hidden", "0,0,0.5,1"]);
    let whole = eval_json("mot", &eval, "TUD-Campus.mp4", &["--target", "frame", "--hidden", "1,1,0,0"]);
    let heads = |r: &serde_json::Value| r["heads"].as_u64().unwrap();
    assert_eq!(heads(&whole), 0, "behind a region over the whole frame, no head is in sight");
    assert!(heads(&left) > 0 && heads(&left) < heads(&all), "{} of {} heads", heads(&left), heads(&all));
    assert_eq!(left["covered"], left["heads"]);
    let gt = eval.join("gt.txt");
    let video = eval.join("TUD-Campus.mp4");
    let run = obscura(&["eval", "mot", "--gt", str(&gt), "--video", str(&video), "--hidden", "0.5,0,0.5,1"]);
    assert!(!run.status.success());
    assert!(stderr(&run).contains("empty region"), "{}", stderr(&run));
}

/// `eval mot --detection-cache`: a second run reads every pass back instead of running the
/// detectors (tuning tracking and counting without the CNNs' time), and reports exactly what the
/// first run did.
#[test]
fn a_replayed_eval_reports_what_the_recorded_run_did() {
    let Some(eval) = shared_eval("tud-campus") else { return };
    let cache = tempfile::tempdir().unwrap();
    let args = ["--target", "heads", "--line", "0.66,0,0.66,1", "--detection-cache", str(cache.path())];
    let recorded = eval_json("mot", &eval, "TUD-Campus.mp4", &args);
    let passes = std::fs::read_dir(cache.path()).unwrap().count();
    assert!(passes >= 24, "one record a pass (71 frames, every 3rd), got {passes}");
    let replayed = eval_json("mot", &eval, "TUD-Campus.mp4", &args);
    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), passes, "nothing recorded again");
    assert!(recorded["tiles_per_pass"].is_number(), "the recording ran the person detector");
    assert!(replayed["tiles_per_pass"].is_null(), "the replay did not run it");
    for key in
        ["coverage_rate", "longest_uncovered", "mean_mask_share", "heads", "covered", "lines", "tracks"]
    {
        assert_eq!(recorded[key], replayed[key], "{key}");
    }
}

/// An overloaded live camera has its passes put off up to the staleness limit (0.48 s, 12
/// frames at 25 fps): with passes 13 frames apart a walking person moves further than their own
/// width, their track restarts at every pass, and the frames between are masked by bridging the
/// track that ended to the one born within reach, or to the edge it was heading for
/// (src/track/mod.rs, `Bridge`). Without bridges TUD-Campus had 95.5% of heads covered at this
/// cadence and one person bare for 7 frames; with them, 98.3% and 5.
#[test]
fn heads_stay_covered_with_passes_put_off_to_the_staleness_limit() {
    let Some(eval) = shared_eval("tud-campus") else { return };
    // `--overloaded`: the planner is told, at every frame, that the camera is ahead of detection.
    let report = eval_json("mot", &eval, "TUD-Campus.mp4", &["--target", "heads", "--overloaded"]);
    assert_eq!(report["detect_every"], 3, "the cadence is the default one, its passes put off");
    let rate = report["coverage_rate"].as_f64().unwrap();
    let longest = report["longest_uncovered"].as_u64().unwrap();
    assert!(rate >= 0.98, "≥ 98% of heads covered, got {:.2}%", 100.0 * rate);
    assert!(longest <= 5, "no head uncovered for more than 5 frames in a row, got {longest}");
    assert_eq!(report["fail_closed_frames"], 0, "every frame within the staleness limit");
}

/// Tiles whose network input has not changed since their latest inference take its detections
/// again (src/detect/unchanged.rs): on a still 16:9 view whose people walk in one part of it
/// (TUD-Campus shrunk 2× onto a static picture of its own first frame, as a fixed camera's wide
/// view), some tiles are reused every pass, and heads and counts are exactly what running every
/// tile gives; on a scene that holds still, the face detector's view and the whole frame are
/// reused too.
#[test]
fn unchanged_tiles_are_reused_and_change_nothing() {
    let Some(eval) = shared_eval("tud-campus") else { return };
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("wide.mp4");
    let clip = eval.join("TUD-Campus.mp4");
    let source = str(&clip);
    // The first frame, stretched and still, under the clip shrunk to 320×240 at (600, 300).
    let status = std::process::Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-i", source, "-i", source, "-filter_complex"])
        .arg(
            "[0:v]trim=end_frame=1,scale=1024:576,loop=loop=-1:size=1,setpts=N/25/TB[bg];\
             [1:v]scale=320:240[fg];[bg][fg]overlay=600:300:shortest=1,format=yuv420p",
        )
        .args(["-c:v", "libx264", "-crf", "12", "-preset", "veryfast", "-r", "25", "-an", str(&video)])
        .status()
        .expect("ffmpeg runs");
    assert!(status.success());
    moved_ground_truth(&eval, dir.path(), (0.5, 0.5), (600.0, 300.0));
    let args = ["--target", "heads", "--line", "0.75,0,0.75,1"];
    let reused = eval_json("mot", dir.path(), "wide.mp4", &args);
    let every = eval_json("mot", dir.path(), "wide.mp4", &[&args[..], &["--rerun-unchanged-tiles"]].concat());
    assert_eq!(reused["frames"], 71);
    let per_pass = |r: &serde_json::Value, key: &str| r[key].as_f64().unwrap();
    assert_eq!(per_pass(&every, "tiles_reused_per_pass"), 0.0);
    assert!(
        per_pass(&reused, "tiles_reused_per_pass") >= 1.0,
        "tiles reused a pass: {}",
        reused["tiles_reused_per_pass"]
    );
    assert!(per_pass(&reused, "tiles_per_pass") < per_pass(&every, "tiles_per_pass"));
    // The same heads covered, the same counts; masks the same to within boxes found again on a
    // nearly identical input (the people standing still in the picture behind are masked too).
    for key in ["coverage_rate", "longest_uncovered", "tiling", "lines"] {
        assert_eq!(reused[key], every[key], "{key}");
    }
    let (a, b) = (per_pass(&reused, "mean_mask_share"), per_pass(&every, "mean_mask_share"));
    assert!((a - b).abs() < 0.01 * b, "masked {a} against {b}");
    assert!(per_pass(&reused, "coverage_rate") >= 0.995, "{}", reused["coverage_rate"]);
    assert!(reused["longest_uncovered"].as_u64().unwrap() <= 2, "{}", reused["longest_uncovered"]);
    eprintln!(
        "tiles a pass: {} run + {} reused, against {} run; masked {a:.4} against {b:.4}",
        reused["tiles_per_pass"], reused["tiles_reused_per_pass"], every["tiles_per_pass"]
    );

    // A scene that holds still for 3 s (the clip's first frame), then moves: the face detector's
    // view of it and the person detector's whole-frame pass are reused while it is still, and the
    // redaction is the same as with every inference run.
    let still = dir.path().join("still.mp4");
    let status = std::process::Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-i", source, "-filter_complex"])
        .arg(
            "[0:v]split[a][b];[a]trim=end_frame=1,loop=loop=74:size=1,setpts=N/25/TB[still];\
             [b]setpts=PTS-STARTPTS[moving];[still][moving]concat=n=2:v=1:a=0,format=yuv420p",
        )
        .args(["-c:v", "libx264", "-crf", "23", "-preset", "veryfast", "-r", "25", "-an", str(&still)])
        .status()
        .expect("ffmpeg runs");
    assert!(status.success());
    let report = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let mut args = vec!["redact", str(&still), "-o", str(&out), "--target", "heads"];
        args.extend_from_slice(extra);
        let run = obscura(&args);
        assert!(run.status.success(), "{}", stderr(&run));
        let text = std::fs::read(dir.path().join(format!("{name}.privacy.json"))).unwrap();
        serde_json::from_slice::<serde_json::Value>(&text).unwrap()["detection"].clone()
    };
    let (reused, every) = (report("reused.mp4", &[]), report("every.mp4", &["--rerun-unchanged-tiles"]));
    for key in ["passes", "frames_with_masks"] {
        assert_eq!(reused[key], every[key], "{key}");
    }
    // The masks the same to within weak person boxes (below the threshold: they only continue
    // tracks), which come and go between a reused inference and one run again on a nearly
    // identical input, and with them which track a later detection continues.
    let (a, b) = (per_pass(&reused, "masks_per_frame_mean"), per_pass(&every, "masks_per_frame_mean"));
    assert!((a - b).abs() <= 0.01 * b, "masks a frame {a} against {b}");
    let (a, b) = (per_pass(&reused, "masks_per_frame_max"), per_pass(&every, "masks_per_frame_max"));
    assert!((a - b).abs() <= 1.0, "most masks in a frame {a} against {b}");
    // 25 passes over the still part: all but the first, and one a second, reuse.
    let faces = reused["models"]["face_inferences_reused"].as_u64().unwrap();
    let whole = reused["models"]["person_tiling"]["unchanged_whole_reused"].as_u64().unwrap();
    assert!(faces >= 18 && whole >= 18, "reused: faces {faces}, whole frame {whole}: {reused:#}");
    assert_eq!(every["models"]["face_inferences_reused"], 0);
}

#[test]
fn a_blank_frame_has_no_person() {
    let mut persons =
        obscura::detect::PersonDetector::load(&obscura::detect::models_dir(), Default::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (name, value) in [("black.png", 0u8), ("grey.png", 128), ("white.png", 255)] {
        let input = dir.path().join(name);
        image::RgbImage::from_pixel(1280, 720, image::Rgb([value; 3])).save(&input).unwrap();
        let frame = obscura::source::load_still(&input).unwrap();
        assert_eq!(persons.detect(&frame).unwrap(), [], "{name}");
    }
}

#[test]
fn heads_and_persons_targets_run_on_real_footage() {
    let dir = tempfile::tempdir().unwrap();
    let clip = sample_clip(dir.path(), 12);
    let frames = timestamps(&clip).len();
    for target in ["heads", "persons"] {
        let out = dir.path().join(format!("{target}.mp4"));
        let run = obscura(&["redact", str(&clip), "-o", str(&out), "--target", target]);
        let err = stderr(&run);
        assert!(run.status.success(), "{err}");
        assert_eq!(timestamps(&out).len(), frames, "{target}");
        // The default cadence is 0.12 s in the stream's frames (3 at 25 fps), at most 3 frames
        // apart, look-ahead 0.48 s rounded up. (The demuxer declares this short clip's rate from
        // its mean frame duration.)
        let sidecar = dir.path().join(format!("{target}.mp4.privacy.json"));
        let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&sidecar).unwrap()).unwrap();
        let detection = &report["detection"];
        let fps = detection["stream_fps"].as_f64().unwrap();
        assert!((20.0..=30.0).contains(&fps), "{report:#}");
        let every = ((0.12 * fps).round() as usize).clamp(1, 3);
        assert_eq!(detection["detect_every"], every, "{report:#}");
        assert_eq!(detection["lookahead_frames"], (0.48 * fps).ceil() as u64, "{report:#}");
        assert_eq!(detection["fitted_to_frame_rate"], true, "{report:#}");
        let passes = frames.div_ceil(every);
        assert!(err.contains(&format!("detection on {passes} frames, 0 fail-closed")), "{err}");
    }
}

/// `obscura eval counts` on a ground-truth clip: obscura's in/out for a vertical, a horizontal
/// and a diagonal line through the middle, each within ±1 of the ground truth's; and a zone over
/// the right half, counted in the same run next to the truth's.
fn counts_within_one(clip: &str, video: &str) {
    let Some(dir) = shared_eval(clip) else { return };
    let lines = ["--line", "0.5,0,0.5,1", "--line", "0,0.5,1,0.5", "--line", "0,0,1,1"];
    let zone = ["--zone", "0.5,0,1,0,1,1,0.5,1"];
    let report = eval_json("counts", &dir, video, &[&lines[..], &zone[..]].concat());
    let [zone] = report["zones"].as_array().unwrap().as_slice() else { panic!("one zone: {report:#}") };
    let (truth, ours) = (&zone["truth"], &zone["obscura"]);
    // The truth takes every annotated frame, obscura every detection pass (every 3rd frame).
    let frames = report["frames"].as_u64().unwrap();
    assert_eq!(truth["passes"].as_u64(), Some(frames), "{zone:#}");
    assert_eq!(ours["passes"].as_u64(), Some(frames.div_ceil(3)), "{zone:#}");
    // People walk through the right half of both clips: some inside at any time, most of them
    // found; every visit timed, none longer than the clip.
    let (mean, found) = (truth["occupancy_mean"].as_f64().unwrap(), ours["occupancy_mean"].as_f64().unwrap());
    assert!(mean > 1.0 && found > 0.5 * mean && found < 1.5 * mean, "{zone:#}");
    let clip_ms = frames as f64 * 40.0;
    for who in [truth, ours] {
        let visits = who["visits"].as_u64().unwrap();
        assert!(visits >= 1, "{zone:#}");
        assert!((0.0..=clip_ms).contains(&who["dwell_mean_ms"].as_f64().unwrap()), "{zone:#}");
    }
    let lines = report["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 3);
    let truth: u64 =
        lines.iter().map(|l| l["truth_in"].as_u64().unwrap() + l["truth_out"].as_u64().unwrap()).sum();
    assert!(truth > 0, "the clip has crossings to count: {report:#}");
    for line in lines {
        for dir in ["in", "out"] {
            let ours = line[format!("obscura_{dir}")].as_i64().unwrap();
            let theirs = line[format!("truth_{dir}")].as_i64().unwrap();
            assert!((ours - theirs).abs() <= 1, "{dir} within ±1 of the truth: {line}");
        }
    }
}

#[test]
fn line_counts_match_the_ground_truth_on_tud_campus() {
    counts_within_one("tud-campus", "TUD-Campus.mp4");
}

#[test]
fn line_counts_match_the_ground_truth_on_tud_stadtmitte() {
    counts_within_one("tud-stadtmitte", "TUD-Stadtmitte.mp4");
}

/// `obscura run` with a counting line writes its buckets to JSONL and CSV, stamped from the
/// camera's `start_time`, with the same totals `eval counts` reports.
#[test]
fn run_counts_a_line_into_jsonl_and_csv() {
    let Some(eval) = shared_eval("tud-campus") else { return };
    let video = eval.join("TUD-Campus.mp4");
    let dir = tempfile::tempdir().unwrap();
    let counts = "jsonl = \"data/counts.jsonl\"\ncsv = \"data/counts.csv\"";
    let config =
        counting_config(dir.path(), "counts.toml", counts, "campus", &video, "2026-11-22T10:00:30+01:00");
    let run = obscura(&["run", "--config", str(&config)]);
    let err = stderr(&run);
    assert!(run.status.success(), "{err}");
    let text = std::fs::read_to_string(dir.path().join("data/counts.jsonl")).unwrap();
    let rows: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 1, "71 frames fit in one 1-minute bucket: {text}");
    assert_eq!(rows[0]["camera"], "campus");
    assert_eq!(rows[0]["line"], "middle");
    assert_eq!(rows[0]["start"], "2026-11-22T09:00:00Z", "the bucket of 09:00:30 UTC");
    assert_eq!(rows[0]["end"], "2026-11-22T09:01:00Z");
    let csv = std::fs::read_to_string(dir.path().join("data/counts.csv")).unwrap();
    let mut csv_lines = csv.lines();
    assert_eq!(csv_lines.next(), Some(obscura::sink::CSV_HEADER));
    let fields: Vec<&str> = csv_lines.next().unwrap().split(',').collect();
    assert_eq!(fields[..5], ["campus", "line", "middle", "2026-11-22T09:00:00Z", "2026-11-22T09:01:00Z"]);
    assert_eq!(fields[6], rows[0]["in"].to_string());
    assert_eq!(fields[7], rows[0]["out"].to_string());
    // The same totals as eval counts (with the config's fixed person tiles).
    let report =
        eval_json("counts", &eval, "TUD-Campus.mp4", &["--line", "0.5,0,0.5,1", "--person-tiles", "2x1"]);
    assert_eq!(rows[0]["in"], report["lines"][0]["obscura_in"], "{report}");
    assert_eq!(rows[0]["out"], report["lines"][0]["obscura_out"], "{report}");
    assert!(rows[0]["out"].as_u64().unwrap() > 0, "people cross the middle line: {text}");
}

/// TUD-Campus (from `eval`) through the ffmpeg video filter `filter`, as `dir/name` (H.264, crf 12).
fn campus_view(eval: &Path, dir: &Path, name: &str, filter: &str) -> std::path::PathBuf {
    let video = dir.join(name);
    let status = std::process::Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-i", str(&eval.join("TUD-Campus.mp4"))])
        .args(["-vf", filter, "-c:v", "libx264", "-crf", "12", "-preset", "veryfast"])
        .args(["-pix_fmt", "yuv420p", "-an", str(&video)])
        .status()
        .expect("ffmpeg runs");
    assert!(status.success());
    video
}

/// The privacy report of `obscura redact VIDEO --target heads`, written into `dir`.
fn heads_privacy_report(video: &Path, dir: &Path) -> serde_json::Value {
    let out = dir.join("out.mp4");
    let run = obscura(&["redact", str(video), "-o", str(&out), "--target", "heads"]);
    assert!(run.status.success(), "{}", stderr(&run));
    serde_json::from_slice(&std::fs::read(dir.join("out.mp4.privacy.json")).unwrap()).unwrap()
}

/// The stress condition of `scripts/stress-set` with the smallest people: TUD-Campus shrunk 3×
/// into a 768×576 canvas (people ~35–80 px tall), built here with ffmpeg from `../shared/eval`,
/// its ground truth transformed alike. The person detector must choose finer tiles by itself
/// (it saw the whole frame only before, and covered 99.2% of heads with a 3-frame exposure), and
/// cover the heads as on the original clip; the privacy report and `eval` say which tiles.
#[test]
fn small_people_in_a_large_frame_get_finer_tiles_and_stay_covered() {
    let Some(eval) = shared_eval("tud-campus") else { return };
    let dir = tempfile::tempdir().unwrap();
    // 640×480 → 214×160 at (166, 250) over a flat grey canvas.
    let video =
        campus_view(&eval, dir.path(), "small.mp4", "scale=214:160,pad=768:576:166:250:color=0x505050");
    moved_ground_truth(&eval, dir.path(), (214.0 / 640.0, 160.0 / 480.0), (166.0, 250.0));
    let report = eval_json("mot", dir.path(), "small.mp4", &["--target", "heads", "--line", "0.4,0,0.4,1"]);
    assert_eq!(report["frames"], 71);
    let tiling = report["tiling"].as_str().unwrap();
    assert_ne!(tiling, "1x1", "small people: finer tiles than the whole frame");
    assert_heads_covered(&report);
    assert!(report["processing_fps"].as_f64().unwrap() > 0.0);
    assert_eq!(report["lines"].as_array().unwrap().len(), 1);
    // Counting while redacting faces: person boxes mask nothing, so the tiles over the empty
    // canvas around the shrunk picture rest between their turns.
    let heads_tiles = report["tiles_per_pass"].as_f64().unwrap();
    let faces = eval_json("mot", dir.path(), "small.mp4", &["--target", "faces", "--line", "0.4,0,0.4,1"]);
    let faces_tiles = faces["tiles_per_pass"].as_f64().unwrap();
    assert!(
        faces_tiles < 0.8 * heads_tiles,
        "{faces_tiles} tiles a pass counting, {heads_tiles} masking heads"
    );
    assert_eq!(faces["lines"].as_array().unwrap().len(), 1);

    // The privacy report of a redaction states the tiles.
    let privacy = heads_privacy_report(&video, dir.path());
    let tiles = &privacy["detection"]["models"]["person_tiling"];
    assert_eq!(tiles["mode"], "auto", "{privacy:#}");
    assert_eq!(tiles["latest"], tiling, "{privacy:#}");
    assert!(tiles["probe_passes"].as_u64().unwrap() >= 3, "{privacy:#}");
    // Person boxes are masks here: every tile runs every pass.
    assert!(tiles["tiles_run"].as_u64().unwrap() > 0, "{privacy:#}");
    assert_eq!(tiles["quiet_tiles_rested"], 0, "{privacy:#}");
    let by_level = tiles["passes_by_level"].as_array().unwrap();
    assert_eq!(by_level.iter().map(|n| n.as_u64().unwrap()).sum::<u64>(), 24, "{privacy:#}");
}

/// The stress set's close view: TUD-Campus enlarged 2× and cut to its central 960×960 (people
/// 300–960 px tall, walking in and out at the sides, as a doorway camera sees them). The person
/// detector sees such people in the whole frame alone (level 1); its probes' finer tiles see them
/// again in parts (upper bodies, legs) and from other tiles, and those repeats are dropped
/// (before, each started a track masked as lost for a second: 27.2% of the frame masked on
/// average, over the quarter the targets allow).
#[test]
fn a_close_view_is_seen_whole_and_its_probes_add_no_repeats() {
    let Some(eval) = shared_eval("tud-campus") else { return };
    let dir = tempfile::tempdir().unwrap();
    let video =
        campus_view(&eval, dir.path(), "close.mp4", "scale=1280:960:flags=bicubic,crop=960:960:160:0");
    moved_ground_truth(&eval, dir.path(), (2.0, 2.0), (-160.0, 0.0));
    let report = eval_json("mot", dir.path(), "close.mp4", &["--target", "heads"]);
    assert_eq!(report["frames"], 71);
    assert_eq!(report["tiling"], "1x1", "{report}");
    assert_heads_covered(&report);

    let privacy = heads_privacy_report(&video, dir.path());
    let tiles = &privacy["detection"]["models"]["person_tiling"];
    assert_eq!(tiles["latest"], "1x1", "{privacy:#}");
    assert!(tiles["probe_passes"].as_u64().unwrap() >= 3, "{privacy:#}");
    assert!(tiles["probe_repeats_dropped"].as_u64().unwrap() > 0, "{privacy:#}");
}

/// Where [`stills_in_a_1080p_frame`] places each photo's top-left corner.
const IN_1080P: (u32, u32) = (700, 350);

/// The faces-stills photos placed at their own size in a 1920×1080 frame (faces 37–53 px), with
/// their boxes moved alike: `(folder, xml)`.
fn stills_in_a_1080p_frame(dir: &Path, out: &Path) -> std::path::PathBuf {
    let (dx, dy) = IN_1080P;
    let xml = std::fs::read_to_string(dir.join("training.xml")).unwrap();
    let mut moved = String::new();
    for line in xml.lines() {
        let line = if line.contains("<image ") {
            let file = line.split("file='").nth(1).unwrap().split('\'').next().unwrap();
            let photo = image::open(dir.join(file)).unwrap().into_rgb8();
            let mut canvas = image::RgbImage::from_pixel(1920, 1080, image::Rgb([128; 3]));
            image::imageops::overlay(&mut canvas, &photo, i64::from(dx), i64::from(dy));
            canvas.save(out.join(file).with_extension("png")).unwrap();
            format!(
                "  <image file='{}' width='1920' height='1080'>",
                Path::new(file).with_extension("png").display()
            )
        } else if line.contains("<box ") {
            let value = |key: &str| -> u32 {
                line.split(&format!("{key}='")).nth(1).unwrap().split('\'').next().unwrap().parse().unwrap()
            };
            format!(
                "    <box top='{}' left='{}' width='{}' height='{}'/>",
                value("top") + dy,
                value("left") + dx,
                value("width"),
                value("height")
            )
        } else {
            line.to_owned()
        };
        moved.push_str(&line);
        moved.push('\n');
    }
    let path = out.join("training.xml");
    std::fs::write(&path, moved).unwrap();
    path
}

#[test]
fn small_faces_in_a_large_frame_are_found_at_the_scale_they_need() {
    let Some(dir) = shared_eval("faces-stills") else { return };
    let out = tempfile::tempdir().unwrap();
    let xml = stills_in_a_1080p_frame(&dir, out.path());
    let covered = |extra: &[&str]| {
        let mut args = vec!["eval", "faces", "--xml", str(&xml), "--json"];
        args.extend_from_slice(extra);
        let run = obscura(&args);
        assert!(run.status.success(), "{}", stderr(&run));
        let report: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
        assert_eq!(report["faces"], 18, "{report}");
        report["covered"].as_u64().unwrap()
    };
    // Seen at the default 640 px, a third of their size, faces of 37 px are lost; the detector
    // that chooses its scale from the faces it finds sees them all.
    let fixed = covered(&["--face-input", "640"]);
    assert!(fixed < 18, "the fixed 640 px input misses some ({fixed}/18): else this test shows nothing");
    // Fed in the channel order the model was trained on (RGB): with BGR the same input covered 13.
    assert!(fixed >= 15, "RGB input at 640 px: {fixed}/18");
    assert_eq!(covered(&[]), 18, "every face found at the scale it needs");
}

#[test]
fn a_1080p_video_of_small_faces_is_watched_at_the_scale_its_faces_need() {
    let Some(dir) = shared_eval("faces-stills") else { return };
    let out = tempfile::tempdir().unwrap();
    stills_in_a_1080p_frame(&dir, out.path());
    // Seven faces of 37–45 px in a 1080p frame, held for 2 s at 25 fps.
    let video = out.path().join("small-faces.mp4");
    let still = out.path().join("2007_007763.png");
    ffmpeg(&[
        "-loop",
        "1",
        "-i",
        str(&still),
        "-t",
        "2",
        "-r",
        "25",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        str(&video),
    ]);
    let redacted = out.path().join("redacted.mp4");
    let run = obscura(&[
        "redact",
        str(&video),
        "-o",
        str(&redacted),
        "--target",
        "faces",
        "--method",
        "fill",
        "--fill-color",
        "#ff00ff",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("redacted.mp4.privacy.json")).unwrap())
            .unwrap();
    let scale = &report["detection"]["models"]["face_scale"];
    // 37 px faces are 18.5 px at a 960 px input (≥ 18): the level the probes choose.
    assert_eq!(scale["latest_input"], 960, "{scale:#}");
    assert!(scale["probe_passes"].as_u64().unwrap() >= 3, "{scale:#}");
    let (w, _, frames) = ffmpeg_frames_rgb(&redacted);
    let last = frames.last().unwrap();
    let magenta = |x: usize, y: usize| {
        let i = (y * w + x) * 3;
        last[i] > 200 && last[i + 1] < 80 && last[i + 2] > 200
    };
    // Every face's centre is filled in the last frame (found between probes, at the chosen level).
    for (left, top, size) in [
        (194, 90, 37),
        (158, 114, 37),
        (381, 89, 45),
        (94, 198, 37),
        (178, 214, 37),
        (294, 86, 37),
        (309, 233, 45),
    ] {
        let (x, y) = (IN_1080P.0 as usize + left + size / 2, IN_1080P.1 as usize + top + size / 2);
        assert!(magenta(x, y), "face at ({left},{top}) of the photo filled");
    }
}
