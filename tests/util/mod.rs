//! Shared test helpers: running the binary, making inputs with GStreamer, decoding outputs
//! independently of obscura's own code.

#![allow(dead_code)]

pub mod live;
pub mod mqtt;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video::prelude::*;

/// The checkout the tests run in: `CARGO_MANIFEST_DIR` as cargo sets it when it runs them, else
/// as it was when they were compiled. Cargo does not rebuild a test for a checkout that moved: with
/// the shared target directory (scripts/env.sh), a test compiled in another clone of the same
/// sources would otherwise read that clone's files, or fail where it is gone.
pub fn root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
}

/// The bundled sample film (1906 street scene, 640×360, 1799 frames, with an audio track).
pub fn sample() -> PathBuf {
    let path = root().join("sample_media/street.mp4");
    assert!(path.exists(), "{} is missing: run scripts/setup", path.display());
    path
}

pub fn obscura(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_obscura")).args(args).output().expect("obscura runs")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Writes `DIR/FILE`: a config whose one camera, `camera`, counts people crossing a vertical
/// line through the middle (`middle`) of `source` in 1-minute buckets from `start_time` (a TOML
/// date-time), redacting whole frames; `counts` adds keys (and tables after) to `[counts]`. The
/// person tiles are fixed (`[2, 1]`): these tests are about counting and its sinks, and adaptive
/// tiling on the sample's small people detects at a quarter of the rate in a debug build.
pub fn counting_config(
    dir: &Path,
    file: &str,
    counts: &str,
    camera: &str,
    source: &Path,
    start_time: &str,
) -> PathBuf {
    let config = dir.join(file);
    let text = format!(
        "[detector]\nperson_tiles = [2, 1]\n[counts]\nbucket = \"1m\"\n{counts}\n\n[[camera]]\nname = \"{camera}\"\nsource = \"{}\"\n\
         start_time = {start_time}\n[camera.redact]\ntarget = \"frame\"\n\
         [[camera.line]]\nname = \"middle\"\nfrom = [0.5, 0.0]\nto = [0.5, 1.0]\n",
        source.display()
    );
    std::fs::write(&config, text).unwrap();
    config
}

/// Runs a `gst-launch`-style pipeline to EOS, panicking with the bus error if it fails.
pub fn gst_run(description: &str) {
    gst::init().unwrap();
    let pipeline = gst::parse::launch(description).unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let bus = pipeline.bus().unwrap();
    let msg = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(120),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("pipeline finished in time");
    pipeline.set_state(gst::State::Null).unwrap();
    if let gst::MessageView::Error(err) = msg.view() {
        panic!("{description}: {} ({:?})", err.error(), err.debug());
    }
}

/// About the first `frames` frames of the sample (a couple more may slip past the cut), re-encoded
/// losslessly into a new MP4: keeps the tests short while still on real footage.
pub fn sample_clip(dir: &Path, frames: u32) -> PathBuf {
    let out = dir.join(format!("clip{frames}.mp4"));
    gst_run(&format!(
        "filesrc location={} ! qtdemux ! h264parse ! avdec_h264 ! identity eos-after={frames} ! \
         videoconvert ! video/x-raw,format=I420 ! x264enc speed-preset=ultrafast pass=qual quantizer=0 ! \
         mp4mux ! filesink location={}",
        str(&sample()),
        str(&out)
    ));
    out
}

/// One decoded frame, planes tightly packed, with its timestamp in stream time.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub pts: Option<gst::ClockTime>,
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

impl Decoded {
    pub fn y(&self, x: usize, y: usize) -> u8 {
        self.data[y * self.width + x]
    }

    /// Chroma planes (U, V) of the chroma sample at (cx, cy).
    pub fn uv(&self, cx: usize, cy: usize) -> (u8, u8) {
        let (cw, ch) = (self.width.div_ceil(2), self.height.div_ceil(2));
        let u = self.width * self.height;
        (self.data[u + cy * cw + cx], self.data[u + cw * ch + cy * cw + cx])
    }
}

/// Decodes every frame of `path` with GStreamer (decodebin), independent of obscura, handing
/// each to `visit` (frames are not kept: a long clip would not fit in memory).
pub fn decode_each(path: &Path, format: &str, mut visit: impl FnMut(Decoded)) {
    gst::init().unwrap();
    let pipeline = gst::parse::launch(&format!(
        "filesrc location={} ! decodebin ! videoconvert ! video/x-raw,format={format} ! appsink name=sink sync=false",
        str(path)
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let sink = pipeline.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    while let Ok(sample) = sink.pull_sample() {
        let info = gstreamer_video::VideoInfo::from_caps(sample.caps().unwrap()).unwrap();
        let buffer = sample.buffer().unwrap();
        let segment = sample.segment().unwrap().downcast_ref::<gst::ClockTime>().unwrap();
        let pts = buffer.pts().and_then(|pts| segment.to_stream_time(pts));
        let frame = gstreamer_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).unwrap();
        let mut data = Vec::new();
        for plane in 0..frame.n_planes() {
            let stride = frame.plane_stride()[plane as usize] as usize;
            let comp = frame.format_info().component(plane)[0] as u32;
            let (w, h) = (frame.comp_width(comp) as usize, frame.comp_height(comp) as usize);
            let row_bytes = w * frame.format_info().pixel_stride()[comp as usize] as usize;
            let bytes = frame.plane_data(plane).unwrap();
            for row in 0..h {
                data.extend_from_slice(&bytes[row * stride..row * stride + row_bytes]);
            }
        }
        visit(Decoded { pts, width: info.width() as usize, height: info.height() as usize, data });
    }
    let error = pipeline.bus().unwrap().pop_filtered(&[gst::MessageType::Error]);
    pipeline.set_state(gst::State::Null).unwrap();
    if let Some(msg) = error
        && let gst::MessageView::Error(err) = msg.view()
    {
        panic!("decoding {}: {}", path.display(), err.error());
    }
}

/// Every frame of `path`, decoded as `format` (short clips only).
pub fn decode_all(path: &Path, format: &str) -> Vec<Decoded> {
    let mut frames = Vec::new();
    decode_each(path, format, |f| frames.push(f));
    frames
}

/// The presentation timestamps of every frame of `path`.
pub fn timestamps(path: &Path) -> Vec<Option<gst::ClockTime>> {
    let mut pts = Vec::new();
    decode_each(path, "GRAY8", |f| pts.push(f.pts));
    pts
}

/// `ffprobe` JSON of streams and tags.
pub fn probe(path: &Path) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=codec_type:stream_tags:format_tags", "-of", "json"])
        .arg(path)
        .output()
        .expect("ffprobe runs (installed by scripts/setup)");
    assert!(out.status.success(), "ffprobe {}: {}", path.display(), stderr(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// Every file in `dir` (names), to prove nothing was left behind.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Runs obscura with `args`, failing the test (and killing it) if it has not ended within
/// `limit`: for inputs that once hung it. Stderr goes to a file, so a chatty run cannot block.
pub fn obscura_within(args: &[&str], limit: std::time::Duration) -> (std::process::ExitStatus, String) {
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_obscura"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(log.reopen().unwrap())
        .spawn()
        .expect("obscura runs");
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, std::fs::read_to_string(log.path()).unwrap_or_default());
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "obscura {args:?} still running after {} s (hung): {}",
                limit.as_secs(),
                std::fs::read_to_string(log.path()).unwrap_or_default()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Runs `ffmpeg -v error -y ARGS`, panicking with its message if it fails.
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg runs (installed by scripts/setup)");
    assert!(out.status.success(), "ffmpeg {args:?}: {}", stderr(&out));
}

/// Every frame of `path` as ffmpeg decodes it (applying a rotation tag, as players do), RGB,
/// with its size: an independent reference for what a viewer sees.
pub fn ffmpeg_frames_rgb(path: &Path) -> (usize, usize, Vec<Vec<u8>>) {
    let probe = probe_video(path, "frame=width,height", &["-read_intervals", "%+#1"]);
    let dims = probe.lines().next().unwrap_or_default().to_owned();
    let mut fields = dims.split(',').map(|v| v.trim().parse::<usize>());
    let (mut w, mut h) = match (fields.next(), fields.next()) {
        (Some(Ok(w)), Some(Ok(h))) => (w, h),
        _ => panic!("ffprobe gave no frame size for {}: {dims:?}", path.display()),
    };
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    // ffprobe gives the coded size; ffmpeg's output is turned upright.
    if rotation(path) % 180 != 0 {
        std::mem::swap(&mut w, &mut h);
    }
    let frames = out.stdout.chunks_exact(w * h * 3).map(<[u8]>::to_vec).collect();
    (w, h, frames)
}

/// The rotation a player applies to `path`'s video, degrees (0 when untagged).
pub fn rotation(path: &Path) -> i64 {
    probe_video(path, "stream_side_data=rotation", &[]).trim().parse().unwrap_or(0)
}

/// One field of the first video stream of `path` as ffprobe says it (`color_range`,
/// `field_order`, ...), trimmed.
pub fn video_stream_field(path: &Path, field: &str) -> String {
    probe_video(path, &format!("stream={field}"), &[]).trim().to_owned()
}

/// `ffprobe`'s `entries` of the first video stream of `path`, as CSV without headers.
fn probe_video(path: &Path, entries: &str, extra: &[&str]) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", entries, "-of", "csv=p=0"])
        .args(extra)
        .arg(path)
        .output()
        .expect("ffprobe runs (installed by scripts/setup)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Says that the running test is skipped, and why, where the person running the suite sees it:
/// the harness hides what a passing test prints with `println!`/`eprintln!`, but not what is
/// written to the stderr handle itself. Under CI (`CI` set) it fails the test instead: CI must
/// have everything.
pub fn skip(reason: &str) {
    use std::io::Write;
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    assert!(std::env::var_os("CI").is_none(), "{test}: {reason}; CI must run it");
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {reason}");
}

/// `../shared/eval`, the evaluation data beside the repository. Required in CI; elsewhere a test
/// that needs it says so and skips.
pub fn shared_eval(what: &str) -> Option<PathBuf> {
    let dir = root().join("../shared/eval").join(what);
    if dir.exists() {
        return Some(dir);
    }
    skip(&format!("{} is not present (evaluation data lives beside the repository)", dir.display()));
    None
}
