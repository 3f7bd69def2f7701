//! Redacted frames → H.264 in MP4, through `appsrc ! x264enc ! mp4mux ! filesink`.
//!
//! Only video is written: no audio track, no tags. The input's creation time, GPS, … are never
//! carried over (nothing but frames enters the encoder), and what the muxer adds of its own (the
//! wall-clock creation time, the encoder name) is scrubbed before the file is renamed into place.
//! Frames keep their timestamps. The file is written under a temporary name and renamed into
//! place by [`Mp4Writer::finish`]; dropped unfinished, it is deleted.

use std::path::{Path, PathBuf};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use super::TempOutput;
use crate::config::EncoderSettings;
use crate::frame::Pixels;
use crate::redact::RedactedFrame;

/// How many frames may wait in the appsrc before `write` blocks (back-pressure, nothing dropped).
const APPSRC_MAX_BUFFERS: u64 = 4;
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
        "{path}: the frame size or format changed mid-stream ({from} → {to}), which MP4 output does not support"
    )]
    CapsChanged { path: PathBuf, from: String, to: String },
    #[error("{path}: no frames to write")]
    NoFrames { path: PathBuf },
    #[error("{path}: cannot write a still image into a video")]
    NotVideo { path: PathBuf },
    #[error("{path}: cannot move the finished output into place: {cause}")]
    Commit { path: PathBuf, cause: std::io::Error },
}

/// An MP4 file being written from redacted frames.
#[derive(Debug)]
pub struct Mp4Writer {
    temp: TempOutput,
    settings: EncoderSettings,
    encoder: Option<Encoder>,
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
        Ok(Self { temp, settings: settings.clone(), encoder: None })
    }

    /// The final path of the output.
    pub fn path(&self) -> &Path {
        self.temp.target()
    }

    /// Encodes one redacted frame; blocks while the encoder is busy.
    pub fn write(&mut self, frame: RedactedFrame) -> Result<(), SinkError> {
        let Pixels::Video { buffer, info } = frame.into_pixels() else {
            return Err(SinkError::NotVideo { path: self.path().to_owned() });
        };
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
        if encoder.appsrc.push_buffer(buffer).is_err() {
            return Err(self.encode_error(encoder, "the encoder stopped accepting frames"));
        }
        Ok(())
    }

    /// Drains the encoder, finalises the MP4 and renames it into place.
    pub fn finish(mut self) -> Result<PathBuf, SinkError> {
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
        let _ = encoder.pipeline.set_state(gst::State::Null);
        result.map_err(|reason| SinkError::Encode { path: self.path().to_owned(), reason })?;
        let path = self.path().to_owned();
        super::scrub_mp4_metadata(self.temp.file()).map_err(|e| SinkError::Encode {
            path: path.clone(),
            reason: format!("cannot strip metadata: {e}"),
        })?;
        self.temp.commit().map_err(|cause| SinkError::Commit { path, cause })
    }

    fn start(&self, caps: gst::Caps) -> Result<Encoder, SinkError> {
        let err = |e: &dyn std::fmt::Display| self.pipeline_error(e);
        let pipeline = gst::Pipeline::new();
        let appsrc = gst_app::AppSrc::builder()
            .caps(&caps)
            .format(gst::Format::Time)
            .is_live(false)
            .block(true)
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
        let _ = self.pipeline.set_state(gst::State::Null);
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
