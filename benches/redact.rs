//! Redaction on 1920×1080 and 3840×2160 I420 frames: whole-frame blur, pixelate and fill, and ten
//! face-size masks, against a `memcpy` of the same bytes as the floor. The blur also runs on the scalar
//! reference path, to show what the vector path brings. `benches/peers/opencv_blur.py` runs this bench
//! and OpenCV side by side and prints the ratios.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use obscura::geometry::{Rect, Shape};
use obscura::redact::simd::Simd;
use obscura::redact::{PlaneMut, Redactor, Style};

/// Frame sizes and the names of their groups.
const SIZES: [(&str, usize, usize); 2] =
    [("redact_1080p_i420", 1920, 1080), ("redact_2160p_i420", 3840, 2160)];

/// An I420 frame with texture (so blur does real work), planes packed with no padding.
fn frame(width: usize, height: usize) -> Vec<u8> {
    let len = width * height * 3 / 2;
    (0..len).map(|i| ((i * 7919) % 251) as u8).collect()
}

fn planes(data: &mut [u8], width: usize, height: usize) -> [PlaneMut<'_>; 3] {
    let (y, uv) = data.split_at_mut(width * height);
    let (u, v) = uv.split_at_mut(width * height / 4);
    let plane = |data, width, height, sub| PlaneMut {
        data,
        stride: width,
        width,
        height,
        channels: 1,
        sub_x: sub,
        sub_y: sub,
    };
    [plane(y, width, height, 1), plane(u, width / 2, height / 2, 2), plane(v, width / 2, height / 2, 2)]
}

/// Ten face-size ellipses: 80×100 at 1080p, scaled with the frame (the same faces, filmed sharper).
fn faces(width: usize) -> Vec<Shape> {
    let s = width as f32 / 1920.0;
    (0..10)
        .map(|i| {
            let (x, y) = (s * (100.0 + 170.0 * i as f32), s * (200.0 + 60.0 * (i % 4) as f32));
            Shape::Ellipse(Rect::new(x, y, x + 80.0 * s, y + 100.0 * s))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    for (group_name, width, height) in SIZES {
        let mut group = c.benchmark_group(group_name);
        group.throughput(Throughput::Bytes((width * height * 3 / 2) as u64));
        let source = frame(width, height);
        let mut data = source.clone();
        group.bench_function("memcpy", |b| b.iter(|| data.copy_from_slice(std::hint::black_box(&source))));

        let whole = [Shape::Rect(Rect::new(0.0, 0.0, width as f32, height as f32))];
        let faces = faces(width);
        let mut redactor = Redactor::new();
        let mut scalar = Redactor::new().with_simd(Simd::scalar());
        let styles = [
            ("blur", Style::Blur),
            ("pixelate", Style::Pixelate),
            ("fill", Style::Fill([[16; 4], [128; 4], [128; 4]])),
        ];
        for (name, style) in &styles {
            for (masks, shapes) in [("whole_frame", &whole[..]), ("10_faces", &faces[..])] {
                group.bench_function(BenchmarkId::new(*name, masks), |b| {
                    // Redacting in place again and again: the cost does not depend on the content.
                    b.iter(|| {
                        redactor.apply(&mut planes(&mut data, width, height), width, height, shapes, style)
                    })
                });
                if *name == "blur" {
                    group.bench_function(BenchmarkId::new("blur_scalar", masks), |b| {
                        b.iter(|| {
                            scalar.apply(&mut planes(&mut data, width, height), width, height, shapes, style)
                        })
                    });
                }
            }
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
