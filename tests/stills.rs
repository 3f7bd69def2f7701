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

/// `jpeg` with an EXIF block saying how to turn it for display (`orientation`, 1–8), inserted
/// right after the start-of-image marker.
fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = b"II*\0".to_vec();
    tiff.extend_from_slice(&8u32.to_le_bytes()); // the first IFD follows the header
    tiff.extend_from_slice(&1u16.to_le_bytes()); // one entry:
    tiff.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation,
    tiff.extend_from_slice(&3u16.to_le_bytes()); // SHORT,
    tiff.extend_from_slice(&1u32.to_le_bytes()); // one value,
    tiff.extend_from_slice(&orientation.to_le_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&(app1.len() as u16 + 2).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// A phone photo stored sideways with an EXIF Orientation tag: detection and masks work on the
/// picture as a viewer sees it, and the output (without EXIF) shows it that way.
#[test]
fn exif_orientation_is_applied_before_masking_and_in_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let upright = rgb(&still(dir.path(), "png"));
    // Stored turned a quarter counter-clockwise; Orientation 6 says "turn 90° clockwise to view".
    let stored = image::imageops::rotate270(&upright);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95).encode_image(&stored).unwrap();
    let input = dir.path().join("phone.jpg");
    std::fs::write(&input, with_exif_orientation(&jpeg, 6)).unwrap();
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
    let got = rgb(&out);
    assert_eq!(got.dimensions(), upright.dimensions(), "written upright");
    let (w, h) = got.dimensions();
    let (mut diff, mut n) = (0u64, 0u64);
    for (x, y, p) in got.enumerate_pixels() {
        if x < w / 2 - 1 && y < h / 2 - 1 {
            assert_eq!(p.0, [255, 0, 255], "({x},{y}) is in the viewer's top-left quarter");
        } else if x > w / 2 + 1 || y > h / 2 + 1 {
            let q = upright.get_pixel(x, y);
            diff += p.0.iter().zip(q.0).map(|(a, b)| u64::from(a.abs_diff(b))).sum::<u64>();
            n += 3;
        }
    }
    let mean = diff as f64 / n as f64;
    assert!(mean < 4.0, "outside the mask the output is the picture as viewed (mean diff {mean:.1})");
}
