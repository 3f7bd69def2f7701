//! Redaction on a 1920×1080 I420 frame: whole-frame blur, pixelate and fill, and ten face-size
//! masks, against a `memcpy` of the same bytes as the floor. (The full hot-path bench suite and
//! the OpenCV comparison come with the SIMD milestone.)

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use obscura::geometry::{Rect, Shape};
use obscura::redact::{PlaneMut, Redactor, Style};

const W: usize = 1920;
const H: usize = 1080;

/// An I420 frame with texture (so blur does real work), planes packed with no padding.
fn frame() -> Vec<u8> {
    let len = W * H * 3 / 2;
    (0..len).map(|i| ((i * 7919) % 251) as u8).collect()
}

fn planes(data: &mut [u8]) -> Vec<PlaneMut<'_>> {
    let (y, uv) = data.split_at_mut(W * H);
    let (u, v) = uv.split_at_mut(W * H / 4);
    let plane = |data, width, height, sub| PlaneMut {
        data,
        stride: width,
        width,
        height,
        channels: 1,
        sub_x: sub,
        sub_y: sub,
    };
    vec![plane(y, W, H, 1), plane(u, W / 2, H / 2, 2), plane(v, W / 2, H / 2, 2)]
}

fn faces() -> Vec<Shape> {
    (0..10)
        .map(|i| {
            let (x, y) = (100.0 + 170.0 * i as f32, 200.0 + 60.0 * (i % 4) as f32);
            Shape::Ellipse(Rect::new(x, y, x + 80.0, y + 100.0))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("redact_1080p_i420");
    group.throughput(Throughput::Bytes((W * H * 3 / 2) as u64));
    let source = frame();
    let mut data = source.clone();
    group.bench_function("memcpy", |b| b.iter(|| data.copy_from_slice(std::hint::black_box(&source))));

    let whole = [Shape::Rect(Rect::new(0.0, 0.0, W as f32, H as f32))];
    let faces = faces();
    let mut redactor = Redactor::new();
    let styles = [
        ("blur", Style::Blur),
        ("pixelate", Style::Pixelate),
        ("fill", Style::Fill([[16; 4], [128; 4], [128; 4]])),
    ];
    for (name, style) in &styles {
        for (masks, shapes) in [("whole_frame", &whole[..]), ("10_faces", &faces[..])] {
            group.bench_function(BenchmarkId::new(*name, masks), |b| {
                // Redacting in place again and again: the cost does not depend on the content.
                b.iter(|| redactor.apply(&mut planes(&mut data), W, H, shapes, style))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
