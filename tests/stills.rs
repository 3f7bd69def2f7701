//! Still images: JPEG/PNG in, redacted image out in the format of the output's extension.

use crate::util::*;

/// A real frame of the sample film as a still image (`ext`: "png" or "jpg").
fn still(dir: &std::path::Path, ext: &str) -> std::path::PathBuf {
    let path = dir.join(format!("still.{ext}"));
    let encoder = if ext == "png" { "pngenc" } else { "jpegenc" };
    gst_run(&format!(
        "filesrc location={} ! qtdemux ! h264parse ! avdec_h264 ! identity eos-after=30 ! videoconvert ! \
         {encoder} snapshot=false ! multifilesink location={} max-files=1",
        str(&sample()),
        str(&path)
    ));
    path
}

fn rgb(path: &std::path::Path) -> image::RgbImage {
    image::open(path).unwrap().into_rgb8()
}

#[test]
fn fill_png_to_png_is_exact_and_masks_touch_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let input = still(dir.path(), "png");
    let out = dir.path().join("out.png");
    let run = obscura(&[
        "redact",
        str(&input),
        "-o",
        str(&out),
        "--target",
        "none",
        "--method",
        "fill",
        "--fill-color",
        "#ff00ff",
        "--mask",
        "0,0 0.5,0 0.5,0.5 0,0.5",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let (a, b) = (rgb(&input), rgb(&out));
    assert_eq!(a.dimensions(), b.dimensions());
    let (w, h) = a.dimensions();
    for (x, y, px) in b.enumerate_pixels() {
        if x < w / 2 && y < h / 2 {
            assert_eq!(px.0, [255, 0, 255], "({x},{y}) inside the mask");
        } else {
            assert_eq!(px, a.get_pixel(x, y), "({x},{y}) outside the mask");
        }
    }
}

#[test]
fn jpeg_in_png_out_and_whole_frame_blur() {
    let dir = tempfile::tempdir().unwrap();
    let input = still(dir.path(), "jpg");
    for (out, format) in [("out.png", image::ImageFormat::Png), ("out.jpeg", image::ImageFormat::Jpeg)] {
        let out = dir.path().join(out);
        let run = obscura(&["redact", str(&input), "-o", str(&out), "--target", "frame", "--method", "blur"]);
        assert!(run.status.success(), "{}", stderr(&run));
        assert_eq!(image::ImageFormat::from_path(&out).unwrap(), format);
        let bytes = std::fs::read(&out).unwrap();
        assert_eq!(image::guess_format(&bytes).unwrap(), format, "{} is really {format:?}", out.display());
        assert!(!bytes.windows(4).any(|w| w == b"Exif"), "no EXIF");
        let (a, b) = (rgb(&input), rgb(&out));
        let detail = |img: &image::RgbImage| {
            let mut sum = 0u64;
            for y in 0..img.height() {
                for x in 0..img.width() - 1 {
                    sum += u64::from(img.get_pixel(x, y).0[1].abs_diff(img.get_pixel(x + 1, y).0[1]));
                }
            }
            sum as f64 / f64::from(img.width() * img.height())
        };
        assert!(detail(&b) < 0.1 * detail(&a), "{}: blurred whole", out.display());
    }
}
