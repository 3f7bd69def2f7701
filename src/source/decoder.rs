//! Decoding a video file with GStreamer into frames in the decoder's own I420/NV12 buffers.
//!
//! `filesrc ! decodebin ! videoconvert ! deinterlace ! videoflip ! appsink(I420|NV12)`:
//! `deinterlace` makes interlaced video progressive (top fields, the same frame rate) and passes
//! progressive video through untouched; `videoconvert` is a
//! pass-through when the decoder already gives I420 or NV12 (the common case), so frames are the
//! decoder's own buffers. `videoflip` turns frames upright as a player shows them when the
//! container says the video is rotated (a phone's `rotate`/display-matrix tag, read as the
//! stream's `image-orientation`); without such a tag it is a pass-through too. Detection, masks
//! and the output (which carries no rotation tag) then all see what a viewer of the input sees.
//! Non-video streams (audio, subtitles) are not decoded and go to a `fakesink`. The appsink is
//! bounded and blocks when full: a file is never decoded faster than it is consumed. A live
//! camera (`rtspsrc` inside `uridecodebin`) goes through the same elements.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;

use super::{SourceError, check_input_file};
use crate::frame::Frame;

/// How many decoded frames the appsink may hold before the decoder waits.
const APPSINK_MAX_BUFFERS: u32 = 2;

/// Streams whose caps start with one of these are never decoded (obscura emits video only).
const NOT_DECODED: &[&str] =
    &["audio/", "text/", "subpicture/", "subtitle/", "closedcaption/", "application/x-subtitle"];

/// What one call to [`VideoDecoder::pull`] gave.
#[derive(Debug)]
pub enum Decoded {
    /// The next frame.
    Frame(Frame),
    /// Nothing within the timeout; call again (lets the caller check for shutdown).
    Pending,
    /// The stream ended cleanly.
    End,
}

/// What is known of the video stream once decoding has started.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoStreamInfo {
    pub width: u32,
    pub height: u32,
    /// Frames per second, if the stream declares it.
    pub fps: Option<f64>,
    /// Declared duration of the container, if known.
    pub duration: Option<gst::ClockTime>,
}

impl VideoStreamInfo {
    /// The expected number of frames, from duration and rate, when both are known.
    pub fn expected_frames(&self) -> Option<u64> {
        let (duration, fps) = (self.duration?, self.fps?);
        Some((duration.seconds_f64() * fps).round() as u64)
    }
}

/// A running decode of one video file.
#[derive(Debug)]
pub struct VideoDecoder {
    /// The file, or the camera's URL without credentials (a label for errors).
    path: PathBuf,
    /// Texts never to show in an error (the URL as written, the password): replaced by `***`.
    secrets: Vec<String>,
    live: bool,
    watchdog: Watchdog,
    pipeline: gst::Pipeline,
    appsink: gst_app::AppSink,
    bus: gst::Bus,
    video_linked: Arc<AtomicBool>,
    no_more_pads: Arc<AtomicBool>,
    info: Option<gst_video::VideoInfo>,
    caps: Option<gst::Caps>,
    frames: u64,
    decoded_end: Option<gst::ClockTime>,
    /// Since when no frame has come (`None` right after one).
    waiting_since: Option<Instant>,
}

/// How long a source may give nothing (no frame, no end, no error) before it is reported: a
/// file is then damaged (a demuxer's error can be lost inside decodebin, seen on truncated MP4s
/// about 1 run in 40 under load, leaving a pipeline that waits forever); a camera has stalled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Watchdog {
    /// Before the first frame (connecting, prerolling).
    first_frame: Duration,
    /// After a frame.
    between_frames: Duration,
}

impl Watchdog {
    const FILE: Watchdog =
        Watchdog { first_frame: Duration::from_secs(20), between_frames: Duration::from_secs(20) };
}

/// A live camera's stream: its URL (credentials may be in it: never print it; see
/// [`RtspInput::label`]) and how to reach and watch it.
#[derive(Clone)]
pub struct RtspInput {
    pub url: String,
    pub settings: crate::config::RtspSettings,
}

impl RtspInput {
    /// The URL without credentials, for logs and errors.
    pub fn label(&self) -> PathBuf {
        PathBuf::from(crate::config::without_password(&self.url))
    }
}

impl std::fmt::Debug for RtspInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RtspInput").field("url", &self.label()).field("settings", &self.settings).finish()
    }
}

impl VideoDecoder {
    /// Starts decoding `path`. Fails at once on a missing, unreadable or empty file; problems of
    /// the content are reported by [`pull`](Self::pull).
    ///
    /// A folder is read as an image sequence ([`ImageSequence`]).
    pub fn open(path: &Path) -> Result<Self, SourceError> {
        crate::gst_init().map_err(|reason| SourceError::Pipeline { path: path.to_owned(), reason })?;
        let sequence = if path.is_dir() { Some(ImageSequence::find(path)?) } else { None };
        if sequence.is_none() {
            check_input_file(path)?;
        }
        let setup = |e: &dyn std::fmt::Display| SourceError::Pipeline {
            path: path.to_owned(),
            reason: e.to_string(),
        };
        let filesrc = match &sequence {
            Some(seq) => gst::ElementFactory::make("multifilesrc")
                .property("location", seq.pattern.as_str())
                .property("start-index", seq.first as i32)
                .property("stop-index", seq.last as i32)
                .property("caps", &seq.caps)
                .build(),
            None => gst::ElementFactory::make("filesrc")
                .property("location", path.to_string_lossy().as_ref())
                .build(),
        }
        .map_err(|e| setup(&e))?;
        let decodebin = gst::ElementFactory::make("decodebin").build().map_err(|e| setup(&e))?;
        Self::start(path.to_owned(), Vec::new(), Some(filesrc), decodebin, Watchdog::FILE)
    }

    /// Connects to a live RTSP camera (`rtspsrc` inside `uridecodebin`; H.264, H.265 and whatever
    /// else GStreamer decodes). Errors name the URL without its credentials. The stream is watched:
    /// no first frame within `connect_timeout`, or no frame for `watchdog`, is an error.
    pub fn open_rtsp(input: &RtspInput) -> Result<Self, SourceError> {
        let label = input.label();
        crate::gst_init().map_err(|reason| SourceError::Pipeline { path: label.clone(), reason })?;
        let setup =
            |e: &dyn std::fmt::Display| SourceError::Pipeline { path: label.clone(), reason: e.to_string() };
        let password = match (&input.settings.user, &input.settings.password) {
            (Some(_), Some(secret)) => Some(secret.read().map_err(|e| setup(&e))?),
            _ => None,
        };
        let decodebin = gst::ElementFactory::make("uridecodebin")
            .property("uri", input.url.as_str())
            .build()
            .map_err(|e| setup(&e))?;
        let settings = input.settings.clone();
        let credentials = settings.user.clone().zip(password.clone());
        decodebin.connect("source-setup", false, move |args| {
            let source = args[1].get::<gst::Element>().ok()?;
            if source.find_property("protocols").is_some() {
                let protocols = match settings.transport {
                    crate::config::Transport::Tcp => "tcp",
                    crate::config::Transport::Udp => "udp",
                };
                source.set_property_from_str("protocols", protocols);
                source.set_property("latency", 200u32);
                // No data for this long ends the session with an error (the watchdog is ours too).
                let timeout_us = settings.watchdog.as_micros() as u64;
                source.set_property("tcp-timeout", timeout_us);
                source.set_property("timeout", timeout_us);
                if let Some((user, password)) = &credentials {
                    source.set_property("user-id", user.as_str());
                    source.set_property("user-pw", password.as_str());
                }
            }
            None
        });
        let watchdog =
            Watchdog { first_frame: input.settings.connect_timeout, between_frames: input.settings.watchdog };
        let secrets = std::iter::once(input.url.clone()).chain(password).collect();
        let mut decoder = Self::start(label, secrets, None, decodebin, watchdog)?;
        decoder.live = true;
        Ok(decoder)
    }

    fn start(
        path: PathBuf,
        secrets: Vec<String>,
        filesrc: Option<gst::Element>,
        decodebin: gst::Element,
        watchdog: Watchdog,
    ) -> Result<Self, SourceError> {
        let setup =
            |e: &dyn std::fmt::Display| SourceError::Pipeline { path: path.clone(), reason: e.to_string() };

        let pipeline = gst::Pipeline::new();
        let convert = gst::ElementFactory::make("videoconvert").build().map_err(|e| setup(&e))?;
        // Interlaced video (analog cameras behind a DVR's encoder, broadcast 1080i) is made
        // progressive at its own frame rate: detection sees people whole instead of combed, and the
        // output is progressive. A pass-through for progressive video.
        let deinterlace = gst::ElementFactory::make("deinterlace")
            .property_from_str("fields", "top")
            .build()
            .map_err(|e| setup(&e))?;
        let upright = gst::ElementFactory::make("videoflip")
            .property_from_str("video-direction", "auto")
            .build()
            .map_err(|e| setup(&e))?;
        // GStreamer 1.22's videoflip starts out of pass-through and copies every upright frame
        // into a new buffer (3 MB of memcpy per 1080p frame); later versions start in
        // pass-through. It leaves pass-through by itself when a rotation tag arrives.
        if let Some(transform) = upright.downcast_ref::<gstreamer_base::BaseTransform>() {
            gstreamer_base::prelude::BaseTransformExt::set_passthrough(transform, true);
        }
        let caps =
            gst::Caps::builder("video/x-raw").field("format", gst::List::new(["I420", "NV12"])).build();
        let appsink = gst_app::AppSink::builder()
            .caps(&caps)
            .max_buffers(APPSINK_MAX_BUFFERS)
            .drop(false)
            .sync(false)
            .enable_last_sample(false)
            .build();
        pipeline
            .add_many([&decodebin, &convert, &deinterlace, &upright, appsink.upcast_ref()])
            .map_err(|e| setup(&e))?;
        if let Some(filesrc) = &filesrc {
            pipeline.add(filesrc).map_err(|e| setup(&e))?;
            filesrc.link(&decodebin).map_err(|e| setup(&e))?;
        }
        gst::Element::link_many([&convert, &deinterlace, &upright, appsink.upcast_ref()])
            .map_err(|e| setup(&e))?;

        // Stop auto-plugging at anything that is not video: it is never decoded.
        decodebin.connect("autoplug-continue", false, |args| {
            let caps = args[2].get::<gst::Caps>().ok()?;
            let skip = caps.structure(0).is_some_and(|s| {
                let name = s.name().as_str();
                NOT_DECODED.iter().any(|prefix| name.starts_with(prefix))
                    || (name == "application/x-rtp" && s.get::<&str>("media").is_ok_and(|m| m != "video"))
            });
            Some((!skip).to_value())
        });
        let video_linked = Arc::new(AtomicBool::new(false));
        let no_more_pads = Arc::new(AtomicBool::new(false));
        let pipeline_weak = pipeline.downgrade();
        let convert_weak = convert.downgrade();
        let linked = video_linked.clone();
        decodebin.connect_pad_added(move |_, pad| {
            let (Some(pipeline), Some(convert)) = (pipeline_weak.upgrade(), convert_weak.upgrade()) else {
                return;
            };
            let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
            let is_raw_video = caps.structure(0).is_some_and(|s| s.name() == "video/x-raw");
            let sink_pad = convert.static_pad("sink");
            if is_raw_video
                && !linked.load(Ordering::SeqCst)
                && let Some(sink_pad) = sink_pad
                && pad.link(&sink_pad).is_ok()
            {
                linked.store(true, Ordering::SeqCst);
                return;
            }
            // Everything else (audio, subtitles, a second video stream) is discarded undecoded.
            if let Ok(fakesink) =
                gst::ElementFactory::make("fakesink").property("sync", false).property("async", false).build()
                && pipeline.add(&fakesink).is_ok()
            {
                let _ = fakesink.sync_state_with_parent();
                if let Some(sink) = fakesink.static_pad("sink") {
                    let _ = pad.link(&sink);
                }
            }
        });
        let done = no_more_pads.clone();
        decodebin.connect_no_more_pads(move |_| done.store(true, Ordering::SeqCst));

        let bus = pipeline.bus().ok_or_else(|| setup(&"pipeline has no bus"))?;
        let decoder = Self {
            path,
            secrets,
            live: false,
            watchdog,
            pipeline,
            appsink,
            bus,
            video_linked,
            no_more_pads,
            info: None,
            caps: None,
            frames: 0,
            decoded_end: None,
            waiting_since: None,
        };
        if decoder.pipeline.set_state(gst::State::Playing).is_err() {
            return Err(decoder
                .error_from_bus()
                .unwrap_or_else(|| decoder.decode_error("cannot start decoding")));
        }
        Ok(decoder)
    }

    /// The input file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Frames decoded so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// What is known of the stream, once the first frame has been decoded.
    pub fn stream_info(&self) -> Option<VideoStreamInfo> {
        let info = self.info.as_ref()?;
        let fps = info.fps();
        let fps =
            (fps.numer() > 0 && fps.denom() > 0).then(|| f64::from(fps.numer()) / f64::from(fps.denom()));
        Some(VideoStreamInfo {
            width: info.width(),
            height: info.height(),
            fps,
            duration: self.pipeline.query_duration::<gst::ClockTime>(),
        })
    }

    /// Waits up to `timeout` for the next frame.
    pub fn pull(&mut self, timeout: Duration) -> Result<Decoded, SourceError> {
        let timeout = gst::ClockTime::from_nseconds(timeout.as_nanos() as u64);
        match self.appsink.try_pull_sample(timeout) {
            Some(sample) => {
                self.waiting_since = None;
                self.frame_from_sample(sample).map(Decoded::Frame)
            }
            None if self.appsink.is_eos() => self.finish(),
            None => {
                if let Some(err) = self.error_from_bus() {
                    return Err(err);
                }
                if self.no_more_pads.load(Ordering::SeqCst) && !self.video_linked.load(Ordering::SeqCst) {
                    return Err(SourceError::NoVideo { path: self.path.clone() });
                }
                let waiting = *self.waiting_since.get_or_insert_with(Instant::now);
                let limit =
                    if self.frames == 0 { self.watchdog.first_frame } else { self.watchdog.between_frames };
                if waiting.elapsed() >= limit {
                    let why = match (self.live, self.frames) {
                        (false, _) => "the file is probably damaged",
                        (true, 0) => "the camera accepted the connection but sends no video",
                        (true, _) => "the camera stopped sending",
                    };
                    return Err(SourceError::Stalled {
                        path: self.path.clone(),
                        what: if self.live { "stalled" } else { "cannot decode" },
                        seconds: limit.as_secs_f64(),
                        frames: self.frames,
                        why,
                    });
                }
                Ok(Decoded::Pending)
            }
        }
    }

    fn frame_from_sample(&mut self, sample: gst::Sample) -> Result<Frame, SourceError> {
        let caps = sample.caps_owned().ok_or_else(|| self.decode_error("decoded frame without caps"))?;
        if self.caps.as_ref() != Some(&caps) {
            let info = gst_video::VideoInfo::from_caps(&with_matrix(&caps))
                .map_err(|e| self.decode_error(&e.to_string()))?;
            self.info = Some(info);
            self.caps = Some(caps);
        }
        let segment = sample.segment().and_then(|s| s.downcast_ref::<gst::ClockTime>().cloned());
        let mut buffer = sample.buffer_owned().ok_or_else(|| self.decode_error("sample without buffer"))?;
        drop(sample);
        // Timestamps in stream time: what a player shows, edit lists (e.g. the B-frame delay of an
        // MP4) applied. This is what the output keeps.
        if let (Some(segment), Some(pts)) = (segment, buffer.pts()) {
            let stream_pts = segment.to_stream_time(pts);
            if stream_pts != Some(pts) {
                buffer.make_mut().set_pts(stream_pts);
            }
        }
        let info = self.info.clone().ok_or_else(|| self.decode_error("no video format"))?;
        if let Some(pts) = buffer.pts() {
            let end = pts + buffer.duration().unwrap_or(gst::ClockTime::ZERO);
            self.decoded_end = Some(self.decoded_end.map_or(end, |e| e.max(end)));
        }
        let frame = Frame::from_video(buffer, info, self.frames);
        self.frames += 1;
        Ok(frame)
    }

    /// End of stream: an error that raced the EOS wins; a stream that stops well short of its
    /// declared duration is reported as truncated rather than passed as complete.
    fn finish(&mut self) -> Result<Decoded, SourceError> {
        if let Some(err) = self.error_from_bus() {
            return Err(err);
        }
        if self.frames == 0 {
            return Err(SourceError::NoVideo { path: self.path.clone() });
        }
        // A camera's stream may declare a range (a server replaying a recording): its end is not a
        // truncation, just the end of this connection.
        let declared = if self.live { None } else { self.pipeline.query_duration::<gst::ClockTime>() };
        if let (Some(declared), Some(decoded)) = (declared, self.decoded_end) {
            let (declared, decoded) = (declared.seconds_f64(), decoded.seconds_f64());
            let missing = declared - decoded;
            if missing > 1.0 && missing > 0.05 * declared {
                return Err(SourceError::Truncated { path: self.path.clone(), decoded, declared });
            }
        }
        Ok(Decoded::End)
    }

    fn error_from_bus(&self) -> Option<SourceError> {
        while let Some(msg) = self.bus.pop_filtered(&[gst::MessageType::Error]) {
            if let gst::MessageView::Error(err) = msg.view() {
                return Some(self.decode_error(&describe_gst_error(err)));
            }
        }
        None
    }

    fn decode_error(&self, reason: &str) -> SourceError {
        let mut reason = reason.to_owned();
        for secret in self.secrets.iter().filter(|s| s.len() >= 3) {
            reason = reason.replace(secret.as_str(), "***");
        }
        SourceError::Decode { path: self.path.clone(), reason }
    }

    /// Whether this is a live source (a camera): it never ends by itself, and frames that cannot
    /// be taken in time are dropped rather than waited for.
    pub fn is_live(&self) -> bool {
        self.live
    }
}

impl Drop for VideoDecoder {
    fn drop(&mut self) {
        crate::stop_pipeline(&self.pipeline, crate::PIPELINE_STOP_LIMIT, "decoder");
    }
}

/// A folder of numbered still frames read as one video: MOTChallenge's layout (`img1/000001.jpg`,
/// … beside a `seqinfo.ini` giving `frameRate=`), or the frames in the folder itself with the
/// `seqinfo.ini` there. Frames must be JPEG or PNG, named by their number at one width, with none
/// missing; the frame rate must be stated (every time-based setting depends on it).
#[derive(Debug, Clone)]
pub struct ImageSequence {
    /// `multifilesrc`'s location: the frames' folder and `%0Nd.ext`.
    pattern: String,
    first: u32,
    last: u32,
    caps: gst::Caps,
}

impl ImageSequence {
    /// The sequence in folder `path`.
    pub fn find(path: &Path) -> Result<Self, SourceError> {
        let bad = |reason: String| SourceError::NotASequence { path: path.to_owned(), reason };
        let img1 = path.join("img1");
        let frames_dir = if img1.is_dir() { img1 } else { path.to_owned() };
        let entries = std::fs::read_dir(&frames_dir)
            .map_err(|cause| SourceError::Unreadable { path: frames_dir.clone(), cause })?;
        // (number, digits, extension) of each numbered JPEG or PNG.
        let mut frames: Vec<(u32, usize, String)> = entries
            .filter_map(|entry| {
                let name = entry.ok()?.file_name().into_string().ok()?;
                let (stem, ext) = name.rsplit_once('.')?;
                if !super::is_still_extension(ext) || !stem.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                Some((stem.parse().ok()?, stem.len(), ext.to_owned()))
            })
            .collect();
        frames.sort();
        let (Some(head), Some(tail)) = (frames.first().cloned(), frames.last().cloned()) else {
            return Err(bad(format!(
                "{} holds no numbered .jpg or .png frames (000001.jpg, …)",
                frames_dir.display()
            )));
        };
        if frames.iter().any(|(_, digits, ext)| (digits, ext) != (&head.1, &head.2)) {
            return Err(bad("its frames' names differ in width or extension".into()));
        }
        let expected = (tail.0 - head.0 + 1) as usize;
        if frames.len() != expected {
            return Err(bad(format!(
                "frames {} to {} have {} missing",
                head.0,
                tail.0,
                expected - frames.len()
            )));
        }
        let info = path.join("seqinfo.ini");
        let rate = std::fs::read_to_string(&info)
            .ok()
            .and_then(|text| {
                text.lines()
                    .filter_map(|line| line.split_once('='))
                    .find(|(key, _)| key.trim().eq_ignore_ascii_case("frameRate"))
                    .and_then(|(_, value)| value.trim().parse::<f64>().ok())
            })
            .filter(|fps| (1.0..=240.0).contains(fps))
            .ok_or_else(|| {
                bad(format!(
                    "{} gives no frame rate: write frameRate=N there (MOTChallenge's seqinfo.ini)",
                    info.display()
                ))
            })?;
        let media = if head.2.eq_ignore_ascii_case("png") { "image/png" } else { "image/jpeg" };
        let rate = gst::Fraction::approximate_f64(rate)
            .ok_or_else(|| bad("its frame rate is not a number".into()))?;
        let caps = gst::Caps::builder(media).field("framerate", rate).build();
        let pattern = frames_dir.join(format!("%0{}d.{}", head.1, head.2)).to_string_lossy().into_owned();
        Ok(Self { pattern, first: head.0, last: tail.0, caps })
    }
}

/// `caps` with the colour matrix filled in where its colorimetry names a range but no matrix
/// (`1:0:0:0`: full range, the rest unknown), as H.264 and H.265 streams that set the full-range
/// flag without a colour description do (many IP cameras; ffmpeg's `yuvj420p`). GStreamer 1.22
/// reads a YUV colorimetry without a matrix as invalid and puts its default in its place, which is
/// *limited* range: full-range samples would then be converted as if limited (the detectors'
/// input too contrasted, shadows crushed to black, fill colours and the output's range flag
/// wrong). The matrix filled in is GStreamer's default for the size (BT.709 from 720 lines up,
/// else BT.601), the range the stream's own.
fn with_matrix(caps: &gst::Caps) -> std::borrow::Cow<'_, gst::Caps> {
    let stated = caps.structure(0).and_then(|s| {
        Some((s.get::<&str>("colorimetry").ok()?.parse::<gst_video::VideoColorimetry>().ok()?, s))
    });
    let Some((colorimetry, s)) = stated else { return std::borrow::Cow::Borrowed(caps) };
    if colorimetry.matrix() != gst_video::VideoColorMatrix::Unknown
        || colorimetry.range() == gst_video::VideoColorRange::Unknown
    {
        return std::borrow::Cow::Borrowed(caps);
    }
    let matrix = match s.get::<i32>("height") {
        Ok(height) if height >= 720 => gst_video::VideoColorMatrix::Bt709,
        _ => gst_video::VideoColorMatrix::Bt601,
    };
    let filled = gst_video::VideoColorimetry::new(
        colorimetry.range(),
        matrix,
        colorimetry.transfer(),
        colorimetry.primaries(),
    );
    let mut caps = caps.clone();
    if let Some(s) = caps.make_mut().structure_mut(0) {
        s.set("colorimetry", filled.to_string());
    }
    std::borrow::Cow::Owned(caps)
}

/// One line from a GStreamer error: its message, plus the detail when the message alone says
/// too little (a missing plug-in names the format in the detail).
pub(crate) fn describe_gst_error(err: &gst::message::Error) -> String {
    let message = err.error().to_string();
    let message = message.trim_end_matches('.').to_owned();
    match err.debug() {
        Some(debug)
            if message.contains("missing a plug-in") || message.contains("Internal data stream error") =>
        {
            let detail = debug.lines().last().unwrap_or_default().trim().to_owned();
            format!("{message} ({detail})")
        }
        _ => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The caps of a decoded 640-wide I420 stream `height` lines high stating `colorimetry`.
    fn caps(colorimetry: &str, height: i32) -> gst::Caps {
        crate::gst_init().unwrap();
        gst::Caps::builder("video/x-raw")
            .field("format", "I420")
            .field("width", 640)
            .field("height", height)
            .field("framerate", gst::Fraction::new(25, 1))
            .field("colorimetry", colorimetry)
            .build()
    }

    fn info(colorimetry: &str, height: i32) -> gst_video::VideoInfo {
        gst_video::VideoInfo::from_caps(&with_matrix(&caps(colorimetry, height))).unwrap()
    }

    #[test]
    fn a_full_range_stream_without_a_matrix_stays_full_range() {
        // What an H.264 stream with the full-range flag and no colour description decodes to.
        let sd = info("1:0:0:0", 360);
        assert_eq!(sd.colorimetry().range(), gst_video::VideoColorRange::Range0_255);
        assert_eq!(sd.colorimetry().matrix(), gst_video::VideoColorMatrix::Bt601);
        let hd = info("1:0:0:0", 1080);
        assert_eq!(hd.colorimetry().range(), gst_video::VideoColorRange::Range0_255);
        assert_eq!(hd.colorimetry().matrix(), gst_video::VideoColorMatrix::Bt709);
        // GStreamer alone would have taken it for limited range.
        let unfilled = gst_video::VideoInfo::from_caps(&caps("1:0:0:0", 360)).unwrap();
        assert_eq!(unfilled.colorimetry().range(), gst_video::VideoColorRange::Range16_235);
    }

    #[test]
    fn a_stated_matrix_or_an_unknown_range_is_left_as_it_is() {
        let limited = info("bt709", 360);
        assert_eq!(limited.colorimetry().range(), gst_video::VideoColorRange::Range16_235);
        assert_eq!(limited.colorimetry().matrix(), gst_video::VideoColorMatrix::Bt709);
        let full_601 = info("1:4:0:0", 1080);
        assert_eq!(full_601.colorimetry().matrix(), gst_video::VideoColorMatrix::Bt601);
        // Nothing known: GStreamer's default for the size, limited range.
        assert_eq!(info("0:0:0:0", 360).colorimetry().range(), gst_video::VideoColorRange::Range16_235);
    }
}
