//! Still images (JPEG, PNG) in and out, through the `image` crate: no EXIF or other metadata is
//! ever written.

use std::path::Path;

use super::{SourceError, check_input_file};
use crate::frame::{Frame, Pixels, StillImage};
use crate::redact::RedactedFrame;

/// Decodes a JPEG or PNG into a frame (RGB, or RGBA when the image has transparency), turned
/// upright as a viewer shows it: an EXIF `Orientation` (phone photos are often stored sideways
/// with a tag saying how to turn them) is applied to the pixels, so detection sees, masks land on
/// and the output (written without EXIF) shows what the viewer of the input saw.
/// Whether a file extension is one of a still image obscura reads and writes (JPEG, PNG), in
/// any case.
pub fn is_still_extension(ext: &str) -> bool {
    ["jpg", "jpeg", "png"].iter().any(|e| ext.eq_ignore_ascii_case(e))
}

pub fn load_still(path: &Path) -> Result<Frame, SourceError> {
    use image::ImageDecoder;
    check_input_file(path)?;
    let bad = |e: image::ImageError| SourceError::Image { path: path.to_owned(), reason: e.to_string() };
    let mut decoder = image::ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(|cause| SourceError::Unreadable { path: path.to_owned(), cause })?
        .into_decoder()
        .map_err(bad)?;
    // An unreadable EXIF block is not an orientation: the image is taken as stored.
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = image::DynamicImage::from_decoder(decoder).map_err(bad)?;
    image.apply_orientation(orientation);
    let still = if image.color().has_alpha() {
        let rgba = image.into_rgba8();
        StillImage { width: rgba.width(), height: rgba.height(), channels: 4, data: rgba.into_raw() }
    } else {
        let rgb = image.into_rgb8();
        StillImage { width: rgb.width(), height: rgb.height(), channels: 3, data: rgb.into_raw() }
    };
    Ok(Frame::from_still(still))
}

/// Why a redacted still could not be written.
#[derive(Debug, thiserror::Error)]
pub enum StillWriteError {
    #[error("{path}: cannot write image: {reason}")]
    Write { path: std::path::PathBuf, reason: String },
    #[error("{path}: output extension must be .jpg, .jpeg or .png for an image input")]
    Format { path: std::path::PathBuf },
    #[error("internal: a video frame was handed to the still-image writer")]
    NotStill,
}

/// Writes a redacted still to `path` (format from its extension) via a temporary file beside it,
/// renamed into place only when complete.
pub fn save_still(frame: RedactedFrame, path: &Path) -> Result<(), StillWriteError> {
    let format = image::ImageFormat::from_path(path)
        .ok()
        .filter(|f| matches!(f, image::ImageFormat::Jpeg | image::ImageFormat::Png))
        .ok_or_else(|| StillWriteError::Format { path: path.to_owned() })?;
    let Pixels::Still(still) = frame.into_pixels() else {
        return Err(StillWriteError::NotStill);
    };
    let write_err = |reason: String| StillWriteError::Write { path: path.to_owned(), reason };
    let (data, color) = match (still.channels, format) {
        // JPEG has no alpha channel: drop it.
        (4, image::ImageFormat::Jpeg) => {
            let rgba = image::RgbaImage::from_raw(still.width, still.height, still.data)
                .ok_or_else(|| write_err("image buffer size mismatch".into()))?;
            (image::DynamicImage::ImageRgba8(rgba).into_rgb8().into_raw(), image::ExtendedColorType::Rgb8)
        }
        (4, _) => (still.data, image::ExtendedColorType::Rgba8),
        _ => (still.data, image::ExtendedColorType::Rgb8),
    };
    let mut temp = crate::sink::TempOutput::create(path).map_err(|e| write_err(e.to_string()))?;
    let mut writer = std::io::BufWriter::new(temp.file());
    image::write_buffer_with_format(&mut writer, &data, still.width, still.height, color, format)
        .map_err(|e| write_err(e.to_string()))?;
    std::io::Write::flush(&mut writer).map_err(|e| write_err(e.to_string()))?;
    drop(writer);
    temp.commit().map_err(|e| write_err(e.to_string()))?;
    Ok(())
}
