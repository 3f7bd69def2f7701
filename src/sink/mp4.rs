//! Redacted frames → H.264 in MP4, through `appsrc ! x264enc ! mp4mux ! filesink`.
//!
//! Only video is written: no audio track, no tags. The input's creation time, GPS, … are never
//! carried over (nothing but frames enters the encoder), and what the muxer adds of its own (the
//! wall-clock creation time, the encoder name) is scrubbed before the file is renamed into place.
//! Frames keep their timestamps. The file is written under a temporary name and renamed into
//! place by [`Mp4Writer::finish`]; dropped unfinished, it is deleted.
//!
//! What enters the encoder is the redacted pixels and nothing else: each frame goes in as a new
//! buffer that shares the pixel memory of the redacted one and carries only its timestamps and a
//! `GstVideoMeta` made here (the plane layout). Every other `GstMeta` the decoder attached
//! (closed captions, which x264enc would write back as SEI; regions of interest; timecodes; …) is
//! left behind, as are the decoder's caps (rebuilt from width, height, format, rate, aspect and
//! colorimetry).
//!
//! H.264 in 4:2:0 needs an even width and height: a frame with an odd one is cropped by its last
//! column or row (no copy: the encoder is told the smaller size over the same planes).
//!
//! The encoder is never waited on without a deadline: a write waits at most
//! [`ENCODER_STALL_LIMIT`] for the encoder to take a frame, and any error the encoder posts ends
//! the job at the next write; either way the file is deleted.

use std::path::{Path, PathBuf};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;

use super::TempOutput;
use crate::config::EncoderSettings;
use crate::frame::Pixels;
use crate::redact::RedactedFrame;

/// Whether `path` is named as an MP4 file (`.mp4` or `.m4v`, any case): the only container
/// video outputs are written in, so any other name would mislead.
pub fn is_mp4_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| ["mp4", "m4v"].iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// How many frames may wait in the appsrc before `write` waits (back-pressure, nothing dropped).
const APPSRC_MAX_BUFFERS: u64 = 4;
/// How long `write` waits for the encoder to take a frame before the job fails: far above the
/// slowest real encode of one frame (a 4K frame at x264's slowest preset takes seconds), far
/// below "forever".
pub const ENCODER_STALL_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);
/// How often a waiting `write` looks at the encoder's bus.
const WAIT_STEP: gst::ClockTime = gst::ClockTime::from_mseconds(5);
/// How long `finish` waits for the encoder to drain.
const DRAIN_TIMEOUT: gst::ClockTime = gst::ClockTime::from_seconds(120);

/// Why an output could not be written. Every variant names the output file.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("{path}: cannot create output: {cause}")]
    Create { path: PathBuf, cause: std::io::Error },
    #[error("{path}: cannot set up the encoder: {reason}")]
    Pipeline { path: PathBuf, reason: String },
    #[error("{path}: encoding failed: {reason}")]
    Encode { path: PathBuf, reason: String },
    #[error(
        "{path}: the encoder took no frame for {} s (after {frames} frames): it is stuck; stopped, no output written",
        limit.as_secs_f64()
    )]
    Stalled { path: PathBuf, frames: u64, limit: std::time::Duration },
    #[error("{path}: a {width}x{height} frame is too small to encode as H.264 (at least 2x2)")]
    TooSmall { path: PathBuf, width: u32, height: u32 },
    #[error(
        "{path}: the frame size or format changed mid-stream ({from} → {to}), which MP4 output does not support"
    )]
    CapsChanged { path: PathBuf, from: String, to: String },
    #[error("{path}: no frames to write")]
    NoFrames { path: PathBuf },
    #[error("{path}: cannot write a still image into a video")]
    NotVideo { path: PathBuf },
    #[error("{path}: {reason}; the output was not written without it")]
    Companion { path: PathBuf, reason: String },
    #[error("{path}: cannot move the finished output into place: {cause}")]
    Commit { path: PathBuf, cause: std::io::Error },
}

/// An MP4 file being written from redacted frames.
#[derive(Debug)]
pub struct Mp4Writer {
    temp: TempOutput,
    settings: EncoderSettings,
    encoder: Option<Encoder>,
    frames: u64,
    stall_limit: std::time::Duration,
    /// Timestamps start at zero (the first frame's subtracted from every frame), for a clip cut
    /// from the middle of a stream; `None` keeps the stream's own timestamps.
    rebase: Option<Option<gst::ClockTime>>,
}

#[derive(Debug)]
struct Encoder {
    pipeline: gst::Pipeline,
    appsrc: gst_app::AppSrc,
    bus: gst::Bus,
    caps: gst::Caps,
}

impl Mp4Writer {
    /// Prepares `path`: creates its temporary file now, so an unwritable place fails before any
    /// decoding starts. The encoder starts with the first frame (it needs the frame format).
    pub fn create(path: &Path, settings: &EncoderSettings) -> Result<Self, SinkError> {
        crate::gst_init().map_err(|reason| SinkError::Pipeline { path: path.to_owned(), reason })?;
        let temp =
            TempOutput::create(path).map_err(|cause| SinkError::Create { path: path.to_owned(), cause })?;
        Ok(Self {
            temp,
            settings: settings.clone(),
            encoder: None,
            frames: 0,
            stall_limit: ENCODER_STALL_LIMIT,
            rebase: None,
        })
    }

    /// Makes the file's timestamps start at zero: the first frame's timestamp is subtracted from
    /// every frame's (a clip cut from the middle of a stream plays from 0:00).
    pub fn starting_at_zero(mut self) -> Self {
        self.rebase = Some(None);
        self
    }

    /// Renames the finished file into `path` instead, in the same folder.
    pub fn set_path(&mut self, path: PathBuf) {
        self.temp.set_target(path);
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The final path of the output.
    pub fn path(&self) -> &Path {
        self.temp.target()
    }

    /// Encodes one redacted frame; waits while the encoder is busy, at most the stall limit.
    pub fn write(&mut self, frame: RedactedFrame) -> Result<(), SinkError> {
        let Pixels::Video { buffer, info } = frame.into_pixels() else {
            return Err(SinkError::NotVideo { path: self.path().to_owned() });
        };
        let (mut buffer, info) = self.encodable(&buffer, &info)?;
        if let Some(base) = self.rebase.as_mut() {
            let first = *base.get_or_insert(buffer.pts().unwrap_or(gst::ClockTime::ZERO));
            let out = buffer.make_mut();
            out.set_pts(out.pts().map(|pts| pts.saturating_sub(first)));
        }
        let caps = info.to_caps().map_err(|e| self.pipeline_error(&e))?;
        if self.encoder.is_none() {
            self.encoder = Some(self.start(caps.clone())?);
        }
        let encoder = self.encoder.as_ref().expect("started above");
        if encoder.caps != caps {
            return Err(SinkError::CapsChanged {
                path: self.path().to_owned(),
                from: describe_caps(&encoder.caps),
                to: describe_caps(&caps),
            });
        }
        self.wait_for_room(encoder)?;
        if encoder.appsrc.push_buffer(buffer).is_err() {
            return Err(self.encode_error(encoder, "the encoder stopped accepting frames"));
        }
        self.frames += 1;
        Ok(())
    }

    /// Waits until the encoder's input has room for a frame: fails on the encoder's error, or
    /// when it takes nothing for the stall limit.
    fn wait_for_room(&self, encoder: &Encoder) -> Result<(), SinkError> {
        let started = std::time::Instant::now();
        loop {
            if let Some(err) = encoder.bus.pop_filtered(&[gst::MessageType::Error]) {
                return Err(self.bus_error(&err));
            }
            if encoder.appsrc.current_level_buffers() < APPSRC_MAX_BUFFERS {
                return Ok(());
            }
            if started.elapsed() >= self.stall_limit {
                return Err(SinkError::Stalled {
                    path: self.path().to_owned(),
                    frames: self.frames,
                    limit: self.stall_limit,
                });
            }
            // Sleeps on the bus: an error wakes it at once.
            if let Some(err) = encoder.bus.timed_pop_filtered(WAIT_STEP, &[gst::MessageType::Error]) {
                return Err(self.bus_error(&err));
            }
        }
    }

    /// What goes to the encoder for a redacted buffer: a new buffer over the same pixel memory
    /// with the timestamps and the plane layout only (no other meta), and its format, cropped to
    /// an even width and height.
    fn encodable(
        &self,
        buffer: &gst::Buffer,
        info: &gst_video::VideoInfo,
    ) -> Result<(gst::Buffer, gst_video::VideoInfo), SinkError> {
        let (width, height) = (info.width() & !1, info.height() & !1);
        if width == 0 || height == 0 {
            return Err(SinkError::TooSmall {
                path: self.path().to_owned(),
                width: info.width(),
                height: info.height(),
            });
        }
        let out_info = gst_video::VideoInfo::builder(info.format(), width, height)
            .fps(info.fps())
            .par(info.par())
            .colorimetry(&info.colorimetry())
            .chroma_site(info.chroma_site())
            .interlace_mode(info.interlace_mode())
            .build()
            .map_err(|e| self.pipeline_error(&e))?;
        // The planes as the decoder laid them out (its own meta when it has one).
        let (offsets, strides) = match buffer.meta::<gst_video::VideoMeta>() {
            Some(meta) => (meta.offset().to_vec(), meta.stride().to_vec()),
            None => (info.offset().to_vec(), info.stride().to_vec()),
        };
        let mut out =
            buffer.copy_region(gst::BufferCopyFlags::MEMORY, ..).map_err(|e| self.pipeline_error(&e))?;
        {
            let out = out.get_mut().expect("a new buffer is writable");
            out.set_pts(buffer.pts());
            out.set_duration(buffer.duration());
            gst_video::VideoMeta::add_full(
                out,
                gst_video::VideoFrameFlags::empty(),
                info.format(),
                width,
                height,
                &offsets,
                &strides,
            )
            .map_err(|e| self.pipeline_error(&e))?;
        }
        Ok((out, out_info))
    }

    /// Drains the encoder, finalises the MP4 and renames it into place.
    pub fn finish(self) -> Result<PathBuf, SinkError> {
        self.finish_with(|| Ok(None))
    }

    /// [`finish`](Self::finish), writing a companion file (the privacy report) after the MP4 is
    /// complete and before it is renamed into place: the output never appears without it. If
    /// `companion` fails, no output is left; if the rename fails, the file it wrote (the path it
    /// returns) is removed.
    pub fn finish_with(
        mut self,
        companion: impl FnOnce() -> Result<Option<PathBuf>, String>,
    ) -> Result<PathBuf, SinkError> {
        let encoder =
            self.encoder.take().ok_or_else(|| SinkError::NoFrames { path: self.path().to_owned() })?;
        let _ = encoder.appsrc.end_of_stream();
        let msg =
            encoder.bus.timed_pop_filtered(DRAIN_TIMEOUT, &[gst::MessageType::Eos, gst::MessageType::Error]);
        let result = match msg.as_ref().map(|m| m.view()) {
            Some(gst::MessageView::Eos(_)) => Ok(()),
            Some(gst::MessageView::Error(err)) => Err(crate::source::describe_gst_error(err)),
            _ => Err(format!("the encoder did not finish within {} s", DRAIN_TIMEOUT.seconds())),
        };
        crate::stop_pipeline(&encoder.pipeline, crate::PIPELINE_STOP_LIMIT, "encoder");
        result.map_err(|reason| SinkError::Encode { path: self.path().to_owned(), reason })?;
        let path = self.path().to_owned();
        super::scrub_mp4_metadata(self.temp.file()).map_err(|e| SinkError::Encode {
            path: path.clone(),
            reason: format!("cannot strip metadata: {e}"),
        })?;
        let written = companion().map_err(|reason| SinkError::Companion { path: path.clone(), reason })?;
        self.temp.commit().map_err(|cause| {
            if let Some(file) = &written {
                let _ = std::fs::remove_file(file);
            }
            SinkError::Commit { path, cause }
        })
    }

    fn start(&self, caps: gst::Caps) -> Result<Encoder, SinkError> {
        let err = |e: &dyn std::fmt::Display| self.pipeline_error(e);
        let pipeline = gst::Pipeline::new();
        // Not blocking: `write` waits for room itself, with a deadline.
        let appsrc = gst_app::AppSrc::builder()
            .caps(&caps)
            .format(gst::Format::Time)
            .is_live(false)
            .block(false)
            .build();
        appsrc.set_property("max-buffers", APPSRC_MAX_BUFFERS);
        appsrc.set_property("max-bytes", 0u64);
        let x264 = gst::ElementFactory::make("x264enc").build().map_err(|e| err(&e))?;
        x264.set_property_from_str("speed-preset", self.settings.preset.name());
        x264.set_property_from_str("pass", "qual");
        x264.set_property("quantizer", u32::from(self.settings.crf));
        // No B-frames: frames leave in presentation order, so the MP4 keeps the input's exact
        // timestamps (with reordering, mp4mux shifts them by the reorder delay).
        x264.set_property("bframes", 0u32);
        let mux = gst::ElementFactory::make("mp4mux").build().map_err(|e| err(&e))?;
        let filesink = gst::ElementFactory::make("filesink")
            .property("location", self.temp.path().to_string_lossy().as_ref())
            .build()
            .map_err(|e| err(&e))?;
        pipeline.add_many([appsrc.upcast_ref(), &x264, &mux, &filesink]).map_err(|e| err(&e))?;
        gst::Element::link_many([appsrc.upcast_ref(), &x264, &mux, &filesink]).map_err(|e| err(&e))?;
        let bus = pipeline.bus().ok_or_else(|| err(&"pipeline has no bus"))?;
        let encoder = Encoder { pipeline, appsrc, bus, caps };
        if encoder.pipeline.set_state(gst::State::Playing).is_err() {
            return Err(self.encode_error(&encoder, "cannot start the encoder"));
        }
        Ok(encoder)
    }

    fn pipeline_error(&self, e: &dyn std::fmt::Display) -> SinkError {
        SinkError::Pipeline { path: self.path().to_owned(), reason: e.to_string() }
    }

    fn bus_error(&self, msg: &gst::Message) -> SinkError {
        let reason = match msg.view() {
            gst::MessageView::Error(err) => crate::source::describe_gst_error(err),
            _ => "the encoder failed".to_owned(),
        };
        SinkError::Encode { path: self.path().to_owned(), reason }
    }

    /// The encoder's own error from its bus when there is one, else `fallback`.
    fn encode_error(&self, encoder: &Encoder, fallback: &str) -> SinkError {
        let reason = encoder
            .bus
            .pop_filtered(&[gst::MessageType::Error])
            .and_then(|msg| match msg.view() {
                gst::MessageView::Error(err) => Some(crate::source::describe_gst_error(err)),
                _ => None,
            })
            .unwrap_or_else(|| fallback.to_owned());
        SinkError::Encode { path: self.path().to_owned(), reason }
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        crate::stop_pipeline(&self.pipeline, crate::PIPELINE_STOP_LIMIT, "encoder");
    }
}

fn describe_caps(caps: &gst::Caps) -> String {
    caps.structure(0)
        .map(|s| {
            let get = |f: &str| s.get::<i32>(f).map(|v| v.to_string()).unwrap_or_else(|_| "?".into());
            let format = s.get::<&str>("format").unwrap_or("?");
            format!("{}x{} {format}", get("width"), get("height"))
        })
        .unwrap_or_else(|| caps.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::Frame;
    use crate::redact::{FrameRegions, Method, Redaction, Rgb, Target};

    /// A mid-grey I420 frame of `width`×`height` (odd sizes included, with the decoder's usual
    /// rounded-up chroma), stamped `index`/25 s, carrying a CEA-708 caption meta.
    fn captioned_frame(width: u32, height: u32, index: u64) -> Frame {
        let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, width, height)
            .fps(gst::Fraction::new(25, 1))
            .build()
            .unwrap();
        let mut buffer = gst::Buffer::from_mut_slice(vec![128u8; info.size()]);
        {
            let buffer = buffer.get_mut().unwrap();
            buffer.set_pts(gst::ClockTime::from_mseconds(40 * index));
            buffer.set_duration(gst::ClockTime::from_mseconds(40));
            // One CEA-708 cc_data triplet: a CEA-608 "caption" byte pair in field 1.
            gst_video::VideoCaptionMeta::add(
                buffer,
                gst_video::VideoCaptionType::Cea708Raw,
                &[0xfc, 0x94, 0x20],
            );
        }
        Frame::from_video(buffer, info, index)
    }

    fn redaction() -> Redaction {
        let corner = vec![
            crate::geometry::Point::new(0.0, 0.0),
            crate::geometry::Point::new(0.1, 0.0),
            crate::geometry::Point::new(0.0, 0.1),
        ];
        Redaction::new(Target::None, Method::Fill, Rgb { r: 0, g: 0, b: 0 }, vec![corner]).unwrap()
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn mp4_names_are_mp4_and_m4v_in_any_case() {
        for name in ["out.mp4", "a/b.M4V", "clip.Mp4"] {
            assert!(is_mp4_name(Path::new(name)), "{name}");
        }
        for name in ["out.avi", "out.mp4.part", "out", "out.png", ".mp4"] {
            assert!(!is_mp4_name(Path::new(name)), "{name}");
        }
    }

    #[test]
    fn no_buffer_meta_reaches_the_encoder() {
        crate::gst_init().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.mp4");
        let mut writer = Mp4Writer::create(&path, &EncoderSettings::default()).unwrap();
        let mut redaction = redaction();
        for i in 0..30 {
            writer.write(redaction.apply(captioned_frame(64, 48, i), &FrameRegions::None).unwrap()).unwrap();
        }
        writer.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        // ATSC A/53 captions go into H.264 as SEI user data tagged "GA94".
        assert!(!contains(&bytes, b"GA94"), "closed captions were carried into the output");

        // Control: the same frames pushed straight into x264enc do carry their captions, so the
        // check above can fail.
        let control = dir.path().join("control.mp4");
        let pipeline = gst::parse::launch(&format!(
            "appsrc name=src format=time ! x264enc ! mp4mux ! filesink location={}",
            control.display()
        ))
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        let src = pipeline.by_name("src").unwrap().downcast::<gst_app::AppSrc>().unwrap();
        let frame = captioned_frame(64, 48, 0);
        let crate::frame::Pixels::Video { info, .. } = &frame.pixels else { unreachable!() };
        src.set_caps(Some(&info.to_caps().unwrap()));
        pipeline.set_state(gst::State::Playing).unwrap();
        for i in 0..30 {
            let crate::frame::Pixels::Video { buffer, .. } = captioned_frame(64, 48, i).pixels else {
                unreachable!()
            };
            src.push_buffer(buffer).unwrap();
        }
        src.end_of_stream().unwrap();
        let bus = pipeline.bus().unwrap();
        let msg = bus.timed_pop_filtered(
            gst::ClockTime::from_seconds(30),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        );
        assert!(matches!(msg.as_ref().map(|m| m.view()), Some(gst::MessageView::Eos(_))), "{msg:?}");
        pipeline.set_state(gst::State::Null).unwrap();
        assert!(contains(&std::fs::read(&control).unwrap(), b"GA94"), "x264enc writes captions it is given");
    }

    #[test]
    fn odd_sized_frames_are_cropped_to_even_and_encoded() {
        crate::gst_init().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("odd.mp4");
        let mut writer = Mp4Writer::create(&path, &EncoderSettings::default()).unwrap();
        writer.stall_limit = std::time::Duration::from_secs(10);
        let mut redaction = redaction();
        for i in 0..20 {
            writer.write(redaction.apply(captioned_frame(65, 37, i), &FrameRegions::None).unwrap()).unwrap();
        }
        writer.finish().unwrap();
        let out = std::process::Command::new("ffprobe")
            .args([
                "-v",
                "error",
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=width,height,nb_frames",
                "-of",
                "csv=p=0",
            ])
            .arg(&path)
            .output()
            .expect("ffprobe runs (installed by scripts/setup)");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "64,36,20");
    }

    #[test]
    fn a_stalled_encoder_ends_the_write_with_an_error_and_no_output() {
        crate::gst_init().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stalled.mp4");
        let mut writer = Mp4Writer::create(&path, &EncoderSettings::default()).unwrap();
        writer.stall_limit = std::time::Duration::from_millis(500);
        let mut redaction = redaction();
        let started = std::time::Instant::now();
        let mut result = Ok(());
        for i in 0..400 {
            result = writer.write(redaction.apply(captioned_frame(64, 48, i), &FrameRegions::None).unwrap());
            if i == 0 {
                // The encoder stops taking frames: a paused pipeline prerolls one buffer in the
                // file sink and then holds every element upstream of it.
                writer.encoder.as_ref().unwrap().pipeline.set_state(gst::State::Paused).unwrap();
            }
            if result.is_err() {
                break;
            }
        }
        let err = result.expect_err("the writer noticed the stall");
        assert!(matches!(err, SinkError::Stalled { .. }), "{err}");
        assert!(err.to_string().contains("took no frame for 0.5 s"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        drop(writer);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(left.is_empty(), "nothing left behind: {left:?}");
    }
}
