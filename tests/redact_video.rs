//! `obscura redact` on real footage: whole-frame fill, fixed masks, streams and metadata, frames
//! and timestamps, Ctrl-C.

use std::process::Command;
use std::time::Duration;

use crate::util::*;

fn assert_same_timestamps(input: &std::path::Path, output: &std::path::Path) {
    let (a, b) = (timestamps(input), timestamps(output));
    assert_eq!(a.len(), b.len(), "frame count of {} vs {}", input.display(), output.display());
    for (i, (a, b)) in a.iter().zip(&b).enumerate() {
        let (a, b) = (a.expect("input pts").nseconds() as i64, b.expect("output pts").nseconds() as i64);
        assert!((a - b).abs() <= 1_000_000, "frame {i}: pts {a} ns in, {b} ns out");
    }
}

#[test]
fn fill_makes_every_pixel_of_every_frame_magenta() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("magenta.mp4");
    let run = obscura(&[
        "redact",
        str(&sample()),
        "-o",
        str(&out),
        "--target",
        "frame",
        "--method",
        "fill",
        "--fill-color",
        "#ff00ff",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let mut frames = 0;
    decode_each(&out, "RGB", |frame| {
        frames += 1;
        for (i, px) in frame.data.chunks_exact(3).enumerate() {
            let far = |v: u8, want: u8| v.abs_diff(want) > 6;
            assert!(
                !(far(px[0], 255) || far(px[1], 0) || far(px[2], 255)),
                "frame {frames}, pixel {i}: {px:?} is not magenta"
            );
        }
    });
    assert_eq!(frames, 1799, "the sample's frame count");
    assert_same_timestamps(&sample(), &out);
    let probe = probe(&out);
    assert!(!probe.contains("\"audio\""), "the sample's audio track was dropped: {probe}");
}

/// An input with an audio track and metadata tags, in `container` ("mp4" or "mkv").
fn tagged_input_with_audio(dir: &std::path::Path, container: &str) -> std::path::PathBuf {
    let path = dir.join(format!("tagged.{container}"));
    let (mux, audio) = match container {
        "mp4" => ("mp4mux", "avenc_aac"),
        _ => ("matroskamux", "opusenc"),
    };
    gst_run(&format!(
        "videotestsrc num-buffers=45 pattern=ball ! video/x-raw,width=320,height=240,framerate=15/1 ! \
         x264enc ! taginject tags=\"title=secret-title,comment=secret-comment,\
         geo-location-latitude=52.5,geo-location-longitude=13.4\" ! {mux} name=m ! filesink location={} \
         audiotestsrc num-buffers=100 ! audioconvert ! audioresample ! {audio} ! m.",
        str(&path)
    ));
    assert!(probe(&path).contains("\"audio\""), "the test input has audio");
    path
}

#[test]
fn output_has_no_audio_and_no_metadata() {
    let dir = tempfile::tempdir().unwrap();
    for container in ["mp4", "mkv"] {
        let input = tagged_input_with_audio(dir.path(), container);
        let out = dir.path().join(format!("out-{container}.mp4"));
        let run =
            obscura(&["redact", str(&input), "-o", str(&out), "--target", "frame", "--method", "pixelate"]);
        assert!(run.status.success(), "{container}: {}", stderr(&run));
        let probe = probe(&out);
        assert_eq!(probe.matches("\"codec_type\"").count(), 1, "{container}: one stream only: {probe}");
        assert!(probe.contains("\"video\""), "{probe}");
        for leak in ["secret", "creation_time", "encoder", "location", "title", "comment"] {
            assert!(!probe.contains(leak), "{container}: output carries {leak:?}: {probe}");
        }
        let bytes = std::fs::read(&out).unwrap();
        assert!(!bytes.windows(6).any(|w| w == b"secret"), "{container}: tag text in the file");
        assert_same_timestamps(&input, &out);
    }
}

/// Two fixed masks: a rectangle and a triangle, as `--mask` polygons and as pixel tests.
const RECT: &str = "0.1,0.1 0.5,0.1 0.5,0.6 0.1,0.6";
const TRIANGLE: &str = "0.6,0.2 0.9,0.5 0.6,0.8";

fn inside_masks(x: f32, y: f32, w: f32, h: f32) -> bool {
    let (x, y) = (x / w, y / h);
    let in_rect = (0.1..0.5).contains(&x) && (0.1..0.6).contains(&y);
    // Triangle (0.6,0.2) (0.9,0.5) (0.6,0.8): right of x=0.6, under the top edge, above the bottom.
    let in_triangle = x >= 0.6 && y - 0.2 >= x - 0.6 && 0.8 - y >= x - 0.6;
    in_rect || in_triangle
}

/// Classifies the full-resolution pixels of a frame: surely outside (no mask within `margin` px),
/// surely inside (the whole `margin` neighbourhood masked), or at an edge.
fn classify(w: usize, h: usize, margin: usize) -> (Vec<bool>, Vec<bool>) {
    let mut outside = vec![true; w * h];
    let mut inside = vec![true; w * h];
    for y in 0..h {
        for x in 0..w {
            let m = margin as isize;
            for dy in -m..=m {
                for dx in -m..=m {
                    let (sx, sy) = (x as isize + dx, y as isize + dy);
                    let hit = sx >= 0
                        && sy >= 0
                        && (sx as usize) < w
                        && (sy as usize) < h
                        && inside_masks(sx as f32 + 0.5, sy as f32 + 0.5, w as f32, h as f32);
                    outside[y * w + x] &= !hit;
                    inside[y * w + x] &= hit;
                }
            }
        }
    }
    (outside, inside)
}

/// Mean absolute difference of horizontally adjacent luma pixels among `mask`ed ones: detail.
fn detail(frame: &Decoded, mask: &[bool]) -> f64 {
    let (mut sum, mut n) = (0u64, 0u64);
    for y in 0..frame.height {
        for x in 0..frame.width - 1 {
            if mask[y * frame.width + x] && mask[y * frame.width + x + 1] {
                sum += u64::from(frame.y(x, y).abs_diff(frame.y(x + 1, y)));
                n += 1;
            }
        }
    }
    sum as f64 / n.max(1) as f64
}

/// Fraction of horizontally adjacent masked luma pairs that are equal: 1.0 for flat blocks.
fn flatness(frame: &Decoded, mask: &[bool]) -> f64 {
    let (mut equal, mut n) = (0u64, 0u64);
    for y in 0..frame.height {
        for x in 0..frame.width - 1 {
            if mask[y * frame.width + x] && mask[y * frame.width + x + 1] {
                equal += u64::from(frame.y(x, y) == frame.y(x + 1, y));
                n += 1;
            }
        }
    }
    equal as f64 / n.max(1) as f64
}

#[test]
fn fixed_masks_change_their_regions_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let input = sample_clip(dir.path(), 20);
    let original = decode_all(&input, "I420");
    assert!(original.len() >= 20);
    let (w, h) = (original[0].width, original[0].height);
    let (outside, inside) = classify(w, h, 2);
    for method in ["blur", "pixelate"] {
        let out = dir.path().join(format!("{method}.mp4"));
        let run = obscura(&[
            "redact",
            str(&input),
            "-o",
            str(&out),
            "--target",
            "none",
            "--method",
            method,
            "--mask",
            RECT,
            "--mask",
            TRIANGLE,
            "--crf",
            "0",
        ]);
        assert!(run.status.success(), "{method}: {}", stderr(&run));
        let redacted = decode_all(&out, "I420");
        assert_eq!(redacted.len(), original.len(), "{method}: frame count");
        for (i, (a, b)) in original.iter().zip(&redacted).enumerate() {
            // Outside every mask: untouched (the output is lossless, --crf 0).
            for (p, _) in outside.iter().enumerate().filter(|(_, o)| **o) {
                let (x, y) = (p % w, p / w);
                assert!(a.y(x, y) == b.y(x, y), "{method} frame {i}: luma ({x},{y}) changed");
            }
            for (cx, cy) in (0..h / 2).flat_map(|cy| (0..w / 2).map(move |cx| (cx, cy))) {
                let covered = [(0, 0), (1, 0), (0, 1), (1, 1)]
                    .iter()
                    .all(|(dx, dy)| outside[(2 * cy + dy) * w + 2 * cx + dx]);
                if covered {
                    assert!(a.uv(cx, cy) == b.uv(cx, cy), "{method} frame {i}: chroma ({cx},{cy}) changed");
                }
            }
            // Inside: the detail is gone.
            let (before, after) = (detail(a, &inside), detail(b, &inside));
            assert!(before > 2.0, "the footage has detail in the masks ({before})");
            match method {
                "blur" => assert!(after < 0.2 * before, "blur frame {i}: detail {before:.2} → {after:.2}"),
                _ => assert!(flatness(b, &inside) > 0.9, "pixelate frame {i}: not flat blocks"),
            }
        }
    }
}

#[test]
fn ctrl_c_aborts_and_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("interrupted.mp4");
    let mut child = Command::new(env!("CARGO_BIN_EXE_obscura"))
        .args(["redact", str(&sample()), "-o", str(&out), "--target", "frame", "--preset", "slow"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let kill = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "exit code after Ctrl-C");
    assert_eq!(files_in(dir.path()), Vec::<String>::new(), "nothing left behind");
}

/// A 641×361 FFV1 Matroska file (odd width and height, which H.264 4:2:0 cannot take) once hung
/// `redact` forever in the encoder's preroll. Now the frames are cropped to 640×360 and encoded.
#[test]
fn odd_sized_video_is_cropped_to_even_and_never_hangs() {
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("odd.mkv");
    ffmpeg(&["-i", str(&sample()), "-t", "3", "-an", "-vf", "scale=641:361", "-c:v", "ffv1", str(&odd)]);
    let out = dir.path().join("out.mp4");
    let (status, err) = obscura_within(&["redact", str(&odd), "-o", str(&out)], Duration::from_secs(300));
    assert!(status.success(), "{err}");
    let frames = decode_all(&out, "I420");
    assert_eq!(frames.len(), timestamps(&odd).len(), "every frame written");
    assert!(frames.iter().all(|f| (f.width, f.height) == (640, 360)), "cropped by one column and row");
    assert_same_timestamps(&odd, &out);
}

/// The first `frames` frames of the sample re-encoded by ffmpeg with `encode` (codec options),
/// as `name` in `dir`.
fn sample_encoded(dir: &std::path::Path, name: &str, frames: u32, encode: &[&str]) -> std::path::PathBuf {
    let (out, input, frames) = (dir.join(name), sample(), frames.to_string());
    let mut args = vec!["-i", str(&input), "-frames:v", &frames, "-an"];
    args.extend_from_slice(encode);
    args.push(str(&out));
    ffmpeg(&args);
    out
}

/// `input` redacted with only a small fixed mask in the top-left corner, to `out`.
fn redact_corner(input: &std::path::Path, out: &std::path::Path) {
    let mask = "0,0 0.1,0 0.1,0.1";
    let (status, err) = obscura_within(
        &["redact", str(input), "-o", str(out), "--target", "none", "--mask", mask],
        Duration::from_secs(120),
    );
    assert!(status.success(), "{err}");
}

/// A full-range H.264 stream that states no colour matrix (the full-range flag alone, as many IP
/// cameras and ffmpeg's `yuvj420p` write it): its levels are kept, and the output says full range,
/// so a player shows what the camera sent (GStreamer alone takes such a stream for limited range).
#[test]
fn full_range_video_without_a_colour_matrix_keeps_its_levels() {
    let dir = tempfile::tempdir().unwrap();
    let encode = ["-vf", "scale=out_range=full", "-c:v", "libx264", "-pix_fmt", "yuvj420p"];
    let full = sample_encoded(dir.path(), "full.mp4", 10, &encode);
    let out = dir.path().join("out.mp4");
    redact_corner(&full, &out);
    assert_eq!(video_stream_field(&out, "color_range"), "pc", "the output's range flag");
    // What a viewer sees, away from the mask: the same picture up to the re-encoding's noise
    // (read as limited range, every level would be stretched: ~8 levels off on average).
    let ((w, h, before), (_, _, after)) = (ffmpeg_frames_rgb(&full), ffmpeg_frames_rgb(&out));
    assert_eq!(before.len(), after.len());
    for (i, (a, b)) in before.iter().zip(&after).enumerate() {
        let (mut sum, mut n) = (0u64, 0u64);
        for y in h / 2..h {
            for x in w / 2..w {
                let k = 3 * (y * w + x);
                for c in 0..3 {
                    sum += u64::from(a[k + c].abs_diff(b[k + c]));
                    n += 1;
                }
            }
        }
        let mean = sum as f64 / n as f64;
        assert!(mean < 4.0, "frame {i}: levels {mean:.1} off on average");
    }
}

/// Interlaced video (an analog camera behind a DVR's encoder): made progressive at its own frame
/// rate, every frame and timestamp kept. (Passed through, its fields came out in the wrong order:
/// written bottom field first from a top-field-first input.)
#[test]
fn interlaced_video_is_written_progressive_frame_for_frame() {
    let dir = tempfile::tempdir().unwrap();
    let encode = ["-c:v", "libx264", "-flags", "+ilme+ildct", "-top", "1"];
    let interlaced = sample_encoded(dir.path(), "interlaced.mp4", 20, &encode);
    assert_eq!(video_stream_field(&interlaced, "field_order"), "tt", "the input is interlaced, top first");
    let out = dir.path().join("out.mp4");
    redact_corner(&interlaced, &out);
    assert_eq!(video_stream_field(&out, "field_order"), "progressive");
    assert_same_timestamps(&interlaced, &out);
}

/// A MOTChallenge sequence folder (`img1/000001.jpg`… and `seqinfo.ini`) is read as one video at
/// its stated frame rate, every frame written; a folder with a frame missing is refused, naming
/// the gap, with nothing written.
#[test]
fn an_image_sequence_folder_is_read_as_a_video() {
    let dir = tempfile::tempdir().unwrap();
    let seq = dir.path().join("SEQ-01");
    std::fs::create_dir_all(seq.join("img1")).unwrap();
    let frames = seq.join("img1/%06d.jpg");
    ffmpeg(&["-i", str(&sample()), "-frames:v", "12", "-start_number", "1", str(&frames)]);
    std::fs::write(seq.join("seqinfo.ini"), "[Sequence]\nname=SEQ-01\nimDir=img1\nframeRate=7\n").unwrap();
    let out = dir.path().join("out.mp4");
    redact_corner(&seq, &out);
    assert_eq!(video_stream_field(&out, "avg_frame_rate"), "7/1");
    assert_eq!(timestamps(&out).len(), 12, "every frame written");
    std::fs::remove_file(seq.join("img1/000005.jpg")).unwrap();
    let gap = dir.path().join("gap.mp4");
    let run = obscura(&["redact", str(&seq), "-o", str(&gap), "--target", "frame"]);
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{err}");
    assert!(err.contains("frames 1 to 12 have 1 missing"), "{err}");
    assert!(!gap.exists());
}

/// A phone video stored sideways with a rotation tag: the output is upright as a player shows
/// the input (and carries no tag), and a mask given in the viewer's coordinates lands where the
/// viewer sees it.
#[test]
fn rotated_video_is_written_upright_with_masks_where_the_viewer_sees_them() {
    let dir = tempfile::tempdir().unwrap();
    let clip = sample_clip(dir.path(), 20);
    let rotated = dir.path().join("rotated.mp4");
    ffmpeg(&["-i", str(&clip), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(&rotated)]);
    assert_ne!(rotation(&rotated), 0, "the input carries a rotation");
    let (w, h, viewed) = ffmpeg_frames_rgb(&rotated);
    assert_eq!((w, h), (360, 640), "a player shows it upright, portrait");
    let out = dir.path().join("out.mp4");
    let quadrant = "0,0 0.5,0 0.5,0.5 0,0.5";
    let run = obscura(&[
        "redact",
        str(&rotated),
        "-o",
        str(&out),
        "--target",
        "none",
        "--method",
        "fill",
        "--fill-color",
        "#ff00ff",
        "--mask",
        quadrant,
        "--crf",
        "12",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    assert_eq!(rotation(&out), 0, "no rotation tag on the output");
    let frames = decode_all(&out, "RGB");
    assert_eq!(frames.len(), viewed.len());
    for (i, (ours, theirs)) in frames.iter().zip(&viewed).enumerate() {
        assert_eq!((ours.width, ours.height), (w, h), "frame {i} upright");
        let (mut diff, mut n) = (0u64, 0u64);
        for y in 0..h {
            for x in 0..w {
                let p = &ours.data[3 * (y * w + x)..3 * (y * w + x) + 3];
                let (mx, my) = (x as f32 + 0.5, y as f32 + 0.5);
                if mx < 0.5 * w as f32 - 2.0 && my < 0.5 * h as f32 - 2.0 {
                    assert!(p[0] > 230 && p[1] < 30 && p[2] > 230, "frame {i} ({x},{y}) in the mask: {p:?}");
                } else if mx > 0.5 * w as f32 + 2.0 || my > 0.5 * h as f32 + 2.0 {
                    let q = &theirs[3 * (y * w + x)..3 * (y * w + x) + 3];
                    diff += p.iter().zip(q).map(|(a, b)| u64::from(a.abs_diff(*b))).sum::<u64>();
                    n += 3;
                }
            }
        }
        let mean = diff as f64 / n as f64;
        assert!(
            mean < 6.0,
            "frame {i}: outside the mask the output is the upright input (mean diff {mean:.1})"
        );
    }
}
