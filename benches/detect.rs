//! Detection on one real 1920×1080 I420 frame, the whole path per frame (fused scale + YUV→RGB
//! preprocessing, inference, decoding, NMS): the face detector at its default input (640 long
//! side) and at full resolution (what deface does by default), the person detector with its
//! automatic tiling, and `heads` (both). `benches/peers/detect.sh` runs deface's own code path on
//! the same frame and prints the ratios.
//!
//! The frame is the first of the bundled sample film scaled to 1080p by ffmpeg (run
//! `scripts/setup` first). Threads: ONNX Runtime's intra-op threads = the machine's cores.

use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use obscura::detect::preprocess::{InputBuffer, InputLayout};
use obscura::detect::tiling::tiles;
use obscura::detect::{
    Detector, DetectorSettings, FaceDetector, FaceSettings, PersonDetector, PersonSettings, Threads, Tiling,
    models_dir,
};
use obscura::frame::Frame;
use obscura::redact::Target;
use obscura::source::{Decoded, VideoDecoder};

/// The first frame of the sample film at 1920×1080, decoded by the project's own decoder.
fn frame_1080p() -> Frame {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sample = root.join("sample_media/street.mp4");
    assert!(sample.exists(), "{} is missing: run scripts/setup", sample.display());
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("frame-1080p.mp4");
    let status = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-ss", "20", "-i"])
        .arg(&sample)
        .args([
            "-frames:v",
            "1",
            "-an",
            "-vf",
            "scale=1920:1080:flags=bicubic",
            "-c:v",
            "libx264",
            "-crf",
            "16",
        ])
        .arg(&clip)
        .status()
        .expect("ffmpeg runs");
    assert!(status.success(), "ffmpeg made the 1080p frame");
    let mut decoder = VideoDecoder::open(&clip).unwrap();
    loop {
        match decoder.pull(Duration::from_secs(5)).unwrap() {
            Decoded::Frame(frame) => return frame,
            Decoded::Pending => {}
            Decoded::End => panic!("no frame decoded"),
        }
    }
}

fn bench(c: &mut Criterion) {
    let frame = frame_1080p();
    assert_eq!(frame.size(), (1920, 1080));
    let models = models_dir();
    let mut group = c.benchmark_group("detect_1080p");
    group.sample_size(10).measurement_time(Duration::from_secs(8)).warm_up_time(Duration::from_secs(2));

    let mut faces = FaceDetector::load(&models, FaceSettings::default()).unwrap();
    group.bench_function("faces_640", |b| b.iter(|| faces.detect(&frame).unwrap()));
    let full = FaceSettings { input_long_side: 1920, ..FaceSettings::default() };
    let mut faces_full = FaceDetector::load(&models, full).unwrap();
    group.bench_function("faces_1920", |b| b.iter(|| faces_full.detect(&frame).unwrap()));
    let mut persons = PersonDetector::load(&models, Default::default()).unwrap();
    group.bench_function("persons_auto", |b| b.iter(|| persons.detect(&frame).unwrap()));
    let mut heads = Detector::load(&models, Target::Heads, &DetectorSettings::default()).unwrap();
    group.bench_function("heads", |b| b.iter(|| heads.regions(&frame).unwrap()));

    // With ONNX Runtime's idle threads spinning, as Python's onnxruntime does by default (obscura
    // does not by default: spinning takes the cores decoding and encoding need).
    let spin = Threads { spin: true, ..Threads::default() };
    let mut faces_spin =
        FaceDetector::load(&models, FaceSettings { threads: spin, ..FaceSettings::default() }).unwrap();
    group.bench_function("faces_640_spin", |b| b.iter(|| faces_spin.detect(&frame).unwrap()));
    let mut persons_spin =
        PersonDetector::load(&models, PersonSettings { threads: spin, ..PersonSettings::default() }).unwrap();
    group.bench_function("persons_auto_spin", |b| b.iter(|| persons_spin.detect(&frame).unwrap()));

    // One intra-op thread: no thread pool to wake.
    let one = Threads { intra: 1, spin: false };
    let mut faces_one =
        FaceDetector::load(&models, FaceSettings { threads: one, ..FaceSettings::default() }).unwrap();
    group.bench_function("faces_640_1thread", |b| b.iter(|| faces_one.detect(&frame).unwrap()));
    let mut persons_one =
        PersonDetector::load(&models, PersonSettings { threads: one, ..PersonSettings::default() }).unwrap();
    group.bench_function("persons_auto_1thread", |b| b.iter(|| persons_one.detect(&frame).unwrap()));

    // Preprocessing alone: the fused scale + YUV→RGB of the three person tiles, and of the face input.
    let (w, h) = frame.size();
    let layouts: Vec<InputLayout> = tiles(w, h, Tiling::Auto)
        .into_iter()
        .map(|crop| InputLayout { net_w: 300, net_h: 300, content_w: 300, content_h: 300, crop: Some(crop) })
        .collect();
    let mut input = InputBuffer::new();
    group.bench_function("preprocess_person_tiles", |b| {
        b.iter(|| {
            for layout in &layouts {
                input.fill(&frame, layout).unwrap();
            }
        })
    });
    let face = InputLayout { net_w: 640, net_h: 384, content_w: 640, content_h: 360, crop: None };
    let mut input = InputBuffer::new();
    group.bench_function("preprocess_face_640", |b| b.iter(|| input.fill(&frame, &face).unwrap()));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
