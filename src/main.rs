//! The `obscura` command line: `redact`, `run`, `check`. Exit codes: 0 success, 1 a job failed,
//! 2 bad usage or configuration, 130 interrupted.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use obscura::camera::{Service, Shared, describe_report, load_models};
use obscura::config::{Config, ConfigError, EncoderSettings, RedactConfig, X264Preset};
use obscura::detect::{
    Detector, DetectorSettings, ExecutionProvider, FaceDetector, FrameDetector, Tiling,
    cache::CachedDetector, models_dir,
};
use obscura::geometry::{Point, Rect, Shape};
use obscura::pipeline::{
    Audit, AuditCounts, Detection, JobReport, Progress, Shutdown, VideoJob, output_name_in,
};
use obscura::redact::{FrameRegions, Method, Redaction, Rgb, Target};
use obscura::report::RedactionSettings;
use obscura::track::PlanCounts;
use obscura::track::{FollowRate, OnFail, TemporalSettings};

const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_INTERRUPTED: u8 = 130;

/// Privacy-first video redaction and anonymous people counting for IP cameras.
///
/// obscura turns camera footage into redacted video (faces, heads, people or whole frames
/// blurred, pixelated or filled before any frame leaves the process) and aggregate counts.
/// Nothing else leaves: no raw frame, no face crop, no per-person record.
#[derive(Debug, Parser)]
#[command(name = "obscura", version, max_term_width = 100)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Redact video files or images and write the redacted copies.
    ///
    /// Videos (any container and codec GStreamer can decode) become H.264 MP4 files with the same
    /// frames and timestamps, and with no audio and no metadata. Images (JPEG, PNG) become images
    /// in the format of the output's extension, without EXIF. Outputs appear only when complete.
    ///
    /// Examples:
    ///   obscura redact in.mp4 -o out.mp4 --target frame --method pixelate
    ///   obscura redact a.mp4 b.mkv photo.jpg -o redacted/ --target frame
    ///   obscura redact in.mp4 -o out.mp4 --target none --mask "0,0 0.3,0 0.3,0.2 0,0.2"
    #[command(verbatim_doc_comment)]
    Redact(RedactArgs),
    /// Run every [[camera]] of a config file until its source ends (files) or Ctrl-C.
    ///
    /// Ctrl-C stops the sources and finishes the outputs with what was decoded; a second Ctrl-C
    /// aborts and deletes unfinished outputs.
    Run {
        /// The TOML config file (see docs/config.md and obscura.example.toml).
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Measure redaction against ground truth, on your own footage or the evaluation sets.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Validate a config file: prints every problem as FILE:LINE:COL: message; exit 2 if any.
    Check {
        /// The TOML config file to validate.
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum EvalCommand {
    /// Line crossings counted by the pipeline next to the ground truth's (MOTChallenge gt.txt),
    /// both counted by the same rule (anchor, segment crossing, hysteresis).
    ///
    /// Example: obscura eval counts --gt gt.txt --video clip.mp4 --line 0.5,0,0.5,1 --line 0,0.5,1,0.5
    #[command(verbatim_doc_comment)]
    Counts(CountArgs),
    /// Face coverage on still images with faces marked in a dlib XML file: a face counts as
    /// covered when at least 90% of its box is masked. Prints a table, or JSON with --json.
    ///
    /// Example: obscura eval faces --xml faces/training.xml --images faces/
    Faces {
        /// dlib image-metadata XML (<image file=…><box top= left= width= height=/>).
        #[arg(long, value_name = "FILE")]
        xml: PathBuf,
        /// The folder the XML's image file names are relative to (default: the XML's folder).
        #[arg(long, value_name = "DIR")]
        images: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        detector: DetectorArgs,
    },
    /// Head coverage on a video with MOTChallenge ground truth (gt.txt): runs the pipeline and
    /// measures, frame by frame, how much of each person's head region (top 15% of the box,
    /// central half of its width) the masks cover; a head counts as covered when at least 90% of
    /// its region is masked. Prints a table per track (coverage, longest run of uncovered
    /// frames) and the share of the frame masked, or JSON with --json.
    ///
    /// Example: obscura eval mot --gt tud-campus/gt.txt --video tud-campus/TUD-Campus.mp4 --target heads
    #[command(verbatim_doc_comment)]
    Mot {
        /// MOTChallenge ground truth: frame,id,left,top,width,height,conf,... (frames from 1).
        #[arg(long, value_name = "FILE")]
        gt: PathBuf,
        /// The video the ground truth belongs to.
        #[arg(long, value_name = "FILE")]
        video: PathBuf,
        /// What the pipeline redacts.
        #[arg(long, value_enum, default_value_t = Target::Heads)]
        target: Target,
        /// Run the detector on every N-th frame (1..=60), as in redact (default: every 0.12 s).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=60))]
        detect_every: Option<u32>,
        /// Look-ahead in frames, as in redact (default: 0.48 s).
        #[arg(long, value_name = "FRAMES", value_parser = clap::value_parser!(u32).range(0..=250))]
        lookahead: Option<u32>,
        /// Also count the crossings of a line "x0,y0,x1,y1" (normalised; as in eval counts) in the
        /// same run, next to the ground truth's. Repeat for several.
        #[arg(long = "line", value_name = "X0,Y0,X1,Y1")]
        lines: Vec<String>,
        /// Also count a zone "x0,y0,x1,y1,x2,y2,..." (a polygon, normalised; as in eval counts):
        /// entries, people inside and dwell, next to the ground truth's. Repeat for several.
        #[arg(long = "zone", value_name = "X0,Y0,X1,Y1,X2,Y2,...")]
        zones: Vec<String>,
        /// The point of a person that crosses: bottom (the feet, default) or center.
        #[arg(long, default_value = "bottom")]
        anchor: String,
        /// How long a lost track may be continued by a new one for counting, ms (0: off).
        #[arg(long, value_name = "MS", default_value_t = obscura::count::CountSettings::default().stitch_ms)]
        stitch_ms: u64,
        /// Run as an overloaded live camera would: every detection pass put off to the staleness
        /// limit (0.48 s), the frames between masked from the tracks. Measures the masks under
        /// overload, the same on every run.
        #[arg(long)]
        overloaded: bool,
        /// A rectangle "x0,y0,x1,y1" (normalised) where nobody can be seen: a pillar or a shelf
        /// standing in front of people. Head pixels there are left out of the coverage measure,
        /// and a head less than half in sight is not measured. Repeat for several.
        #[arg(long = "hidden", value_name = "X0,Y0,X1,Y1")]
        hidden: Vec<String>,
        /// Development: record what the detectors find at each pass in DIR, and on a later run over
        /// the same video with the same detector settings read it back instead of running the models
        /// (for tuning tracking and counting; boxes and scores only). After changing the detectors'
        /// code or models, start from an empty DIR.
        #[arg(long, value_name = "DIR")]
        detection_cache: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        detector: DetectorArgs,
    },
}

/// The arguments of `eval counts`.
#[derive(Debug, clap::Args)]
struct CountArgs {
    /// MOTChallenge ground truth: frame,id,left,top,width,height,conf,... (frames from 1).
    #[arg(long, value_name = "FILE")]
    gt: PathBuf,
    /// The video the ground truth belongs to.
    #[arg(long, value_name = "FILE")]
    video: PathBuf,
    /// A counting line "x0,y0,x1,y1" in normalised coordinates (from, then to; crossing to the
    /// right-hand side of the direction from → to, as seen on the image, is "in"). Repeat for several.
    #[arg(long = "line", value_name = "X0,Y0,X1,Y1", required_unless_present = "zones")]
    lines: Vec<String>,
    /// A counting zone "x0,y0,x1,y1,x2,y2,..." (a polygon's points, normalised, 3 or more):
    /// entries, people inside (mean and most at once) and the mean dwell time of a visit, next to
    /// the ground truth's. Repeat for several.
    #[arg(long = "zone", value_name = "X0,Y0,X1,Y1,X2,Y2,...")]
    zones: Vec<String>,
    /// The point of a person that crosses: bottom (the feet, default) or center.
    #[arg(long, default_value = "bottom")]
    anchor: String,
    /// How long a lost track may be continued by a new one for counting, ms (0: off).
    #[arg(long, value_name = "MS", default_value_t = obscura::count::CountSettings::default().stitch_ms)]
    stitch_ms: u64,
    /// Run the detector on every N-th frame (1..=60), as in redact (default: every 0.12 s).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=60))]
    detect_every: Option<u32>,
    /// Development: record what the detectors find at each pass in DIR, and on a later run over
    /// the same video with the same detector settings read it back instead of running the models
    /// (for tuning tracking and counting; boxes and scores only). After changing the detectors'
    /// code or models, start from an empty DIR.
    #[arg(long, value_name = "DIR")]
    detection_cache: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    detector: DetectorArgs,
}

/// Detector settings on the command line; defaults as in the config file's [detector] table.
#[derive(Debug, Clone, clap::Args)]
struct DetectorArgs {
    /// Inference threads (default: the number of cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    threads: Option<u32>,
    /// Let idle inference threads spin waiting for work: detection is faster (on 2 cores, 1080p
    /// faces 27 instead of 32 ms), but the spinning takes CPU from decoding and encoding.
    #[arg(long)]
    spin: bool,
    /// Where inference runs: cpu, or cuda / openvino with an ONNX Runtime library built with them
    /// (set OBSCURA_ONNXRUNTIME to its path).
    #[arg(long, value_name = "PROVIDER", default_value = "cpu")]
    execution_provider: ExecutionProvider,
    /// The long side, in pixels, frames are scaled down to for face detection (never up);
    /// raise it to find smaller faces at more CPU cost. Default 640; with --target faces, 640 to
    /// 1920 chosen from the sizes of the faces seen (given here: fixed).
    #[arg(long, value_name = "PX", value_parser = clap::value_parser!(u32).range(128..=4096))]
    face_input: Option<u32>,
    /// Minimum face score (0.01..0.99): lower finds more faces, with more false masks.
    #[arg(long, value_name = "SCORE", default_value_t = 0.2, value_parser = parse_score)]
    face_threshold: f32,
    /// Tiles for small faces in large frames, as COLSxROWS: each tile is seen at --face-input
    /// beside one pass over the whole frame (1x1: the whole frame only).
    #[arg(long, value_name = "COLSxROWS", default_value = "1x1", value_parser = parse_tiles)]
    face_tiles: Tiling,
    /// Minimum person score (0.01..0.99), for --target heads and persons.
    #[arg(long, value_name = "SCORE", default_value_t = 0.2, value_parser = parse_score)]
    person_threshold: f32,
    /// Tiles for the person detector, as COLSxROWS (plus one pass over the whole frame); "auto":
    /// chosen per camera from the sizes of the people seen (docs/models.md); "wide": square-ish
    /// tiles across wide frames only, at constant cost.
    #[arg(long, value_name = "COLSxROWS", default_value = "auto", value_parser = parse_tiles)]
    person_tiles: Tiling,
    /// Run every inference at every pass (person tiles, the whole frame, the face detector's
    /// view), also those whose input has not changed since their latest one (by default those
    /// take its detections again: docs/models.md, "Unchanged tiles").
    #[arg(long)]
    rerun_unchanged_tiles: bool,
}

fn parse_tiles(s: &str) -> Result<Tiling, String> {
    match s {
        "auto" => return Ok(Tiling::Auto),
        "wide" => return Ok(Tiling::Wide),
        _ => {}
    }
    let bad = || format!("{s:?} is not COLSxROWS (e.g. 2x1, each 1..8), auto or wide");
    let (c, r) = s.split_once('x').ok_or_else(bad)?;
    let n = |v: &str| v.parse::<u32>().ok().filter(|n| (1..=8).contains(n)).ok_or_else(bad);
    Ok(Tiling::Grid { cols: n(c)?, rows: n(r)? })
}

impl DetectorArgs {
    fn settings(&self) -> DetectorSettings {
        let mut settings = DetectorSettings::default();
        if let Some(n) = self.threads {
            settings.faces.threads.intra = n as usize;
            settings.persons.threads.intra = n as usize;
        }
        settings.faces.threads.spin = self.spin;
        settings.persons.threads.spin = self.spin;
        settings.faces.provider = self.execution_provider;
        settings.persons.provider = self.execution_provider;
        if let Some(side) = self.face_input {
            settings.faces.input_long_side = side;
            settings.faces.adaptive = false;
        }
        settings.faces.threshold = self.face_threshold;
        settings.persons.threshold = self.person_threshold;
        settings.faces.tiling = self.face_tiles;
        settings.persons.tiling = self.person_tiles;
        settings.persons.reuse_unchanged = !self.rerun_unchanged_tiles;
        settings.faces.reuse_unchanged = !self.rerun_unchanged_tiles;
        settings
    }
}

fn parse_score(s: &str) -> Result<f32, String> {
    s.parse::<f32>()
        .ok()
        .filter(|t| (0.01..=0.99).contains(t))
        .ok_or_else(|| format!("{s:?} is not a score between 0.01 and 0.99"))
}

#[derive(Debug, clap::Args)]
struct RedactArgs {
    /// Input videos or images.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// Output file; with several inputs (or an existing directory), a directory in which each
    /// output keeps its input's file name (videos get the .mp4 extension).
    #[arg(short, long, value_name = "OUTPUT")]
    output: PathBuf,
    /// What to redact: the whole frame, detected faces/heads/persons, or none (masks only).
    #[arg(long, value_enum, default_value_t = Target::Faces)]
    target: Target,
    /// How to redact.
    #[arg(long, value_enum, default_value_t = Method::Blur)]
    method: Method,
    /// Colour for --method fill, as #RRGGBB.
    #[arg(long, value_name = "#RRGGBB", default_value = "#000000")]
    fill_color: Rgb,
    /// A fixed privacy mask: a polygon of ≥ 3 "x,y" points in normalised 0..1 frame coordinates
    /// (x right, y down), e.g. "0,0 0.3,0 0.3,0.2". Repeat for several. Always redacted, whatever
    /// the target.
    #[arg(long = "mask", value_name = "POLYGON", value_parser = parse_polygon)]
    masks: Vec<Vec<Point>>,
    /// Run the detector on every N-th frame (1..=60); frames between reuse the latest masks.
    /// Default: every 0.12 s in the video's frames, at most 3 apart (3 at 25 and 30 fps, 1 at 5 fps).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=60))]
    detect_every: Option<u32>,
    /// Frames held back so that a person first detected at frame f is also masked on the frames
    /// before f (back along their track). The output is that much later. Default: 0.48 s in the
    /// video's frames (12 at 25 fps).
    #[arg(long, value_name = "FRAMES", value_parser = clap::value_parser!(u32).range(0..=250))]
    lookahead: Option<u32>,
    /// Frames redacted whole when their latest successful detection is older than this
    /// (default 0.48 s in the video's frames, 12 at 25 fps, or the gap between detections if more).
    #[arg(long, value_name = "FRAMES", value_parser = clap::value_parser!(u32).range(0..=250))]
    max_staleness: Option<u32>,
    /// What happens to a frame whose detection failed or is too old: redact (the whole frame) or
    /// drop (left out of the output).
    #[arg(long, value_name = "redact|drop", default_value = "redact")]
    on_fail: OnFail,
    /// Residual audit: every N-th redacted frame is searched again for faces by the same face
    /// model at twice detection's scale (small frames scaled up; with adaptive faces, never below
    /// the largest scale detection may choose) and a fixed threshold; what it
    /// still finds is counted in the privacy report (OUTPUT.privacy.json), inside the masks apart
    /// from outside them (possible misses). 0 turns it off. Default: every 4 s, in the video's
    /// frames (100 at 25 fps)
    #[arg(long, value_name = "N")]
    audit_every: Option<u32>,
    #[command(flatten)]
    detector: DetectorArgs,
    /// x264 speed preset of the output: faster presets use less CPU for bigger files.
    #[arg(long, value_enum, default_value_t = X264Preset::Veryfast)]
    preset: X264Preset,
    /// x264 constant quality (0..=50): lower is better and bigger.
    #[arg(long, default_value_t = 23, value_parser = clap::value_parser!(u8).range(0..=50))]
    crf: u8,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match cli.command {
        Command::Check { config } => check(&config),
        Command::Run { config } => run(&config),
        Command::Redact(args) => redact(args),
        Command::Eval(EvalCommand::Faces { xml, images, json, detector }) => {
            eval_faces(&xml, images.as_deref(), json, &detector)
        }
        Command::Eval(EvalCommand::Counts(args)) => eval_counts(&args),
        Command::Eval(EvalCommand::Mot {
            gt,
            video,
            target,
            detect_every,
            lookahead,
            lines,
            zones,
            anchor,
            stitch_ms,
            overloaded,
            hidden,
            detection_cache,
            json,
            detector,
        }) => {
            let (temporal, detect_every) = temporal_from_args(detect_every, lookahead, None, OnFail::Redact);
            let eval = VideoEval {
                gt: &gt,
                video: &video,
                target,
                every: detect_every,
                temporal,
                lines: &lines,
                zones: &zones,
                anchor: &anchor,
                stitch_ms,
                overloaded,
                hidden: &hidden,
                detection_cache: detection_cache.as_deref(),
                detector: &detector,
            };
            print_report(eval.run(), json)
        }
    }
}

fn eval_faces(xml: &Path, images: Option<&Path>, json: bool, args: &DetectorArgs) -> ExitCode {
    let run = || -> anyhow::Result<obscura::eval::FaceReport> {
        let truth = obscura::eval::read_dlib_xml(xml)?;
        let dir =
            images.map(Path::to_owned).unwrap_or_else(|| xml.parent().unwrap_or(Path::new(".")).to_owned());
        // Measured as `redact --target faces` would run (face_scale.rs where it applies).
        let settings = args.settings();
        let adaptive = settings.faces_adapt(obscura::redact::Target::Faces);
        let mut detector =
            FaceDetector::load(&models_dir(), obscura::detect::FaceSettings { adaptive, ..settings.faces })?;
        Ok(obscura::eval::faces(&truth, &dir, &mut detector)?)
    };
    print_report(run(), json)
}

/// One pipeline run over a video with MOTChallenge ground truth: head coverage, and the
/// crossings of `lines` counted from the person tracks next to the ground truth's.
struct VideoEval<'a> {
    gt: &'a Path,
    video: &'a Path,
    target: Target,
    every: u32,
    temporal: TemporalSettings,
    lines: &'a [String],
    zones: &'a [String],
    anchor: &'a str,
    stitch_ms: u64,
    /// Every pass put off as on an overloaded live camera ([`Detection::overloaded`]).
    overloaded: bool,
    /// Regions where nobody can be seen, left out of the head regions ("x0,y0,x1,y1").
    hidden: &'a [String],
    /// Where detection passes are recorded and replayed from ([`CachedDetector`]).
    detection_cache: Option<&'a Path>,
    detector: &'a DetectorArgs,
}

impl VideoEval<'_> {
    fn run(&self) -> anyhow::Result<obscura::eval::mot::MotReport> {
        use obscura::count::{Counter, Line, Totals, Zone, track_totals};
        use obscura::eval::counts::{LineRow, ZoneRow, eval_settings, parse_anchor, parse_line, parse_zone};
        let anchor = parse_anchor(self.anchor).map_err(anyhow::Error::msg)?;
        let mut lines = Vec::new();
        for (i, text) in self.lines.iter().enumerate() {
            let (from, to) = parse_line(text).map_err(anyhow::Error::msg)?;
            lines.push(Line::new(format!("line{}", i + 1), from, to, anchor)?);
        }
        let mut zones = Vec::new();
        for (i, text) in self.zones.iter().enumerate() {
            let polygon = parse_zone(text).map_err(anyhow::Error::msg)?;
            zones.push(Zone::new(format!("zone{}", i + 1), polygon, anchor)?);
        }
        let truth = obscura::eval::mot::read_mot_gt(self.gt)?;
        let hidden = self
            .hidden
            .iter()
            .map(|text| obscura::eval::mot::parse_region(text))
            .collect::<Result<Vec<_>, _>>()
            .map_err(anyhow::Error::msg)?;
        let mut coverage = obscura::eval::mot::MotCoverage::new(truth.clone()).with_hidden(hidden);
        let counting = !lines.is_empty() || !zones.is_empty();
        let mut settings = self.detector.settings();
        // As a camera: counting without masking persons looks for people around the lines and
        // zones only.
        if counting {
            settings.persons.region = obscura::camera::person_region(self.target, &lines, &zones);
        }
        let mut detector = if self.target.needs_detection() || counting {
            Some(Detector::load_counting(&models_dir(), self.target, counting, &settings)?)
        } else {
            None
        };
        // The video and everything that changes what the detectors find or which frames they
        // see name the replay's records; the trackers' settings do not (`replay_seed`).
        let (mut cached, mut plain) = (None, None);
        match (detector.as_mut(), self.detection_cache) {
            (Some(inner), Some(dir)) => {
                let file = std::fs::metadata(self.video)?;
                let seed = format!(
                    "{:?} {} {:?} | {settings:?} {:?} counting {counting} | every {} {} overloaded {}",
                    std::fs::canonicalize(self.video)?,
                    file.len(),
                    file.modified().ok(),
                    self.target,
                    self.every,
                    obscura::eval::replay_seed(&self.temporal),
                    self.overloaded,
                );
                let with = CachedDetector::new(inner, dir, &seed);
                cached = Some(with.with_context(|| format!("detection cache {}", dir.display()))?);
            }
            (inner, _) => plain = inner,
        }
        let detector: Option<&mut dyn FrameDetector> = match (&mut cached, plain) {
            (Some(cached), _) => Some(cached),
            (None, plain) => plain.map(|d| d as &mut dyn FrameDetector),
        };
        let count_settings = eval_settings(self.stitch_ms);
        let closed = Arc::new(Mutex::new(Vec::new()));
        let into = closed.clone();
        // A counting stage only when there are lines or zones to count.
        let stage = counting
            .then(|| {
                anyhow::Ok(obscura::count::CountStage::start(
                    Counter::new("eval", lines.clone(), zones.clone(), &count_settings)?,
                    Box::new(move |c| into.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(c)),
                )?)
            })
            .transpose()?;
        let shutdown = Shutdown::new();
        on_interrupt(&shutdown, Shutdown::abort);
        let progress = ProgressDisplay::new(self.video);
        let job = VideoJob {
            input: self.video.to_owned(),
            source: None,
            stats: None,
            output: None,
            redaction: Redaction::new(self.target, Method::Fill, Rgb { r: 0, g: 0, b: 0 }, Vec::new())?,
            detection: detector.map(|detector| Detection {
                detector,
                every: self.every,
                temporal: self.temporal.clone(),
                counting: stage.as_ref().map(|stage| obscura::track::Counting { start_ms: 0, stage }),
                overloaded: self.overloaded,
            }),
            audit: None,
            encoder: EncoderSettings::default(),
            companion: None,
            clips: None,
        };
        let mut size = (0u32, 0u32);
        // Each frame's stream time, ms, by index: the ground truth's zone visits are timed by it.
        let mut times: Vec<u64> = Vec::new();
        // `frame` redacts every frame whole, as a mask over it (no detection runs).
        let whole_frame = self.target == Target::Frame;
        let mut observe = |frame: &obscura::frame::Frame, regions: &FrameRegions| {
            size = frame.size();
            let index = frame.meta().index as usize;
            if times.len() <= index {
                times.resize(index + 1, times.last().copied().unwrap_or(0));
            }
            if let Some(pts) = frame.meta().pts {
                times[index] = pts.mseconds();
            }
            let whole;
            let regions = if whole_frame {
                let (w, h) = (size.0 as f32, size.1 as f32);
                whole = FrameRegions::Detected(Arc::from([Shape::Rect(Rect::new(0.0, 0.0, w, h))]));
                &whole
            } else {
                regions
            };
            coverage.observe(frame.meta().index, size.0, size.1, regions);
        };
        let started = std::time::Instant::now();
        let result = job.run_observed(&shutdown, &progress, Some(&mut observe));
        let seconds = started.elapsed().as_secs_f64();
        progress.bar.finish_and_clear();
        let job = result?;
        if let (Some(pass), Some(dir)) =
            (cached.as_ref().and_then(CachedDetector::diverged), self.detection_cache)
        {
            bail!(
                "detection cache {}: pass {pass} of this run was not recorded though the passes \
                 before it were (a recording cut short?): its detections from there on are not a \
                 run's; empty the folder or use another",
                dir.display()
            );
        }
        if let Some(stage) = &stage {
            stage.close();
        }
        // The cadence used: the given one, or the default fitted to the video's frame rate.
        let every = if job.plan.timing.every > 0 { job.plan.timing.every } else { self.every };
        let mut report = coverage.report(self.video, self.target.name(), every);
        report.processing_fps = report.frames as f64 / seconds.max(1e-9);
        let scale = &job.plan.person_scale;
        report.tiling = scale.level.gt(&0).then(|| scale.grid_name());
        let passes: u64 = scale.passes_by_level.iter().sum();
        let per_pass = |n: u64| (passes > 0).then(|| n as f64 / passes as f64);
        report.tiles_per_pass = per_pass(scale.tiles_run - scale.tiles_reused);
        report.tiles_reused_per_pass = per_pass(scale.tiles_reused);
        report.anchor = counting.then(|| self.anchor.to_owned());
        if counting {
            let line_names: Vec<String> = lines.iter().map(|line| line.name().to_owned()).collect();
            let zone_names: Vec<String> = zones.iter().map(|zone| zone.name().to_owned()).collect();
            let closed =
                std::mem::take(&mut *closed.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
            let ours = Totals::of_closed(&line_names, &zone_names, &closed);
            // Every frame, at its own time (a time never before the one of the frame before).
            let mut time_ms = 0;
            let per_frame = (0..report.frames).map(|i| {
                time_ms = times.get(i as usize).copied().unwrap_or(time_ms).max(time_ms);
                (time_ms, truth.get(&i).into_iter().flatten().map(|b| (b.id, b.rect)).collect::<Vec<_>>())
            });
            let truth_settings = obscura::count::CountSettings { stitch_ms: 0, ..count_settings };
            let theirs = track_totals(&lines, &zones, &truth_settings, size.0, size.1, per_frame)?;
            report.zones = zones
                .iter()
                .zip(ours.zones.into_iter().zip(theirs.zones))
                .map(|(zone, (obscura, truth))| ZoneRow {
                    zone: zone.name().to_owned(),
                    polygon: zone.polygon().iter().map(|p| [p.x, p.y]).collect(),
                    truth,
                    obscura,
                })
                .collect();
            report.lines = lines
                .iter()
                .zip(ours.lines.iter().zip(&theirs.lines))
                .map(|(line, (o, t))| LineRow {
                    line: line.name().to_owned(),
                    from: [line.from().x, line.from().y],
                    to: [line.to().x, line.to().y],
                    truth_in: t.in_count,
                    truth_out: t.out_count,
                    obscura_in: o.in_count,
                    obscura_out: o.out_count,
                })
                .collect();
        }
        Ok(report)
    }
}

fn eval_counts(args: &CountArgs) -> ExitCode {
    use obscura::eval::counts::CountReport;
    let (temporal, every) = temporal_from_args(args.detect_every, None, None, OnFail::Redact);
    let eval = VideoEval {
        gt: &args.gt,
        video: &args.video,
        target: Target::Heads,
        every,
        temporal,
        lines: &args.lines,
        zones: &args.zones,
        anchor: &args.anchor,
        stitch_ms: args.stitch_ms,
        overloaded: false,
        hidden: &[],
        detection_cache: args.detection_cache.as_deref(),
        detector: &args.detector,
    };
    let report = eval.run().map(|mot| CountReport {
        video: args.video.clone(),
        frames: mot.frames,
        anchor: args.anchor.clone(),
        detect_every: mot.detect_every,
        lines: mot.lines,
        zones: mot.zones,
    });
    print_report(report, args.json)
}

fn print_report<R: serde::Serialize + std::fmt::Display>(report: anyhow::Result<R>, json: bool) -> ExitCode {
    match report {
        Ok(report) if json => match serde_json::to_string_pretty(&report) {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("obscura eval: {err}");
                ExitCode::from(EXIT_FAILED)
            }
        },
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("obscura eval: {err:#}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
}

fn check(path: &Path) -> ExitCode {
    match Config::load(path) {
        Ok(config) => {
            println!(
                "{}: ok ({} camera{})",
                path.display(),
                config.cameras.len(),
                plural(config.cameras.len())
            );
            print!("{}", config.describe());
            ExitCode::SUCCESS
        }
        Err(err) => config_failure(&err),
    }
}

fn config_failure(err: &ConfigError) -> ExitCode {
    eprintln!("{err}");
    ExitCode::from(EXIT_USAGE)
}

/// Installs the handler of SIGINT (Ctrl-C) and SIGTERM: the first does `first`, the second
/// aborts, the third exits at once. (SIGHUP is `run`'s: it reloads the config.)
fn on_interrupt(shutdown: &Shutdown, first: fn(&Shutdown)) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let shutdown = shutdown.clone();
    let signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]);
    let spawned = signals.and_then(|mut signals| {
        std::thread::Builder::new().name("signals".into()).spawn(move || {
            for (presses, _) in signals.forever().enumerate() {
                match presses {
                    0 => {
                        eprintln!("obscura: interrupted; stopping (press Ctrl-C again to abort)");
                        first(&shutdown);
                    }
                    1 => shutdown.abort(),
                    _ => std::process::exit(i32::from(EXIT_INTERRUPTED)),
                }
            }
        })
    });
    if let Err(err) = spawned {
        tracing::warn!(%err, "cannot install the SIGINT/SIGTERM handler");
    }
}

/// How long `run` keeps trying to deliver waiting MQTT messages after its cameras end.
const MQTT_DRAIN: std::time::Duration = std::time::Duration::from_secs(10);

fn run(path: &Path) -> ExitCode {
    let config = match Config::load(path) {
        Ok(config) => config,
        Err(err) => return config_failure(&err),
    };
    let shared = match Shared::open(&config) {
        Ok(shared) => Arc::new(shared),
        Err(err) => {
            eprintln!("obscura run: {err}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    match shared.serve_http(&config) {
        Ok(Some(bound)) => eprintln!("obscura: metrics at http://{bound}/metrics"),
        Ok(None) => {}
        Err(err) => {
            eprintln!("obscura run: {err}");
            return ExitCode::from(EXIT_FAILED);
        }
    }
    let shutdown = Shutdown::new();
    on_interrupt(&shutdown, Shutdown::stop);
    let reload = Arc::new(AtomicBool::new(false));
    if let Err(err) = signal_hook::flag::register(signal_hook::consts::SIGHUP, reload.clone()) {
        tracing::warn!(%err, "cannot install the SIGHUP handler: no config reload");
    }
    // The dashboard's line and zone editor rewrites this file and reloads it as SIGHUP does.
    shared.metrics.set_editor(obscura::editor::ConfigEditor::new(path.to_owned(), reload.clone()));
    let count_files = shared.count_files.clone();
    let mut service = Service::start(&config, shared);
    let mut running = config.clone();
    let mut failed = false;
    let mut report = |results: Vec<(String, anyhow::Result<String>)>| {
        for (name, result) in results {
            match result {
                Ok(summary) => eprintln!("camera {name}: {summary}"),
                Err(err) => {
                    failed = true;
                    eprintln!("camera {name}: error: {err:#}");
                }
            }
        }
    };
    loop {
        if shutdown.is_aborted() {
            service.abort();
        }
        if shutdown.is_stopping() {
            break;
        }
        if reload.swap(false, Ordering::SeqCst) {
            match Config::load(path) {
                Ok(new) => {
                    for line in service.reload(&new) {
                        eprintln!("obscura: reload: {line}");
                    }
                    if (&new.counts, new.http_listen, &new.detector)
                        != (&running.counts, running.http_listen, &running.detector)
                    {
                        eprintln!(
                            "obscura: reload: [counts], [http] and [detector] changes take effect at the next start"
                        );
                    }
                    running = new;
                }
                Err(err) => eprintln!("obscura: reload refused, the running config is kept:\n{err}"),
            }
        }
        service.reap();
        report(service.take_finished());
        if !service.is_running() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    report(service.stop());
    if let Some(files) = count_files.and_then(|f| Arc::try_unwrap(f).ok()) {
        let files = files.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        match files.close(MQTT_DRAIN) {
            Ok(Some(0)) => eprintln!("mqtt: every count message delivered"),
            Ok(Some(waiting)) => eprintln!(
                "mqtt: {waiting} count message(s) wait in the outbox of {}; the next run sends them",
                config.counts.sqlite.as_deref().unwrap_or(Path::new("the count store")).display()
            ),
            Ok(None) => {}
            Err(err) => eprintln!("mqtt: {err}"),
        }
    }
    exit_code(failed, &shutdown)
}

fn redact(args: RedactArgs) -> ExitCode {
    if let Err(err) = check_redact_args(&args) {
        eprintln!("obscura redact: {err:#}");
        return ExitCode::from(EXIT_USAGE);
    }
    let outputs = match plan_outputs(&args.inputs, &args.output) {
        Ok(outputs) => outputs,
        Err(err) => {
            eprintln!("obscura redact: {err:#}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let shutdown = Shutdown::new();
    on_interrupt(&shutdown, Shutdown::abort);
    let settings = EncoderSettings { preset: args.preset, crf: args.crf };
    let mut report_settings = RedactionSettings {
        target: args.target,
        method: args.method,
        fixed_masks: args.masks.len(),
        detect_every: args.detect_every(),
        temporal: args.temporal(),
        detector: args.detector.settings(),
        audit: None,
    };
    // Loaded once for every input.
    let (mut detector, mut auditor) = match load_models(&mut report_settings, args.audit_every(), false) {
        Ok(loaded) => loaded,
        Err(err) => {
            eprintln!("obscura redact: {err:#}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let mut failed = false;
    for (input, output) in args.inputs.iter().zip(outputs) {
        if shutdown.is_stopping() {
            break;
        }
        let redaction = match Redaction::new(args.target, args.method, args.fill_color, args.masks.clone()) {
            Ok(redaction) => redaction,
            Err(err) => {
                eprintln!("obscura redact: {err}");
                return ExitCode::from(EXIT_USAGE);
            }
        };
        let detection = detector.as_mut().map(|detector| Detection {
            detector: detector as &mut dyn FrameDetector,
            every: args.detect_every(),
            temporal: args.temporal(),
            counting: None,
            overloaded: false,
        });
        let audit = auditor.as_mut().map(|detector| Audit {
            detector,
            every: args.audit_every(),
            follow_rate: args.audit_every.is_none(),
        });
        let done =
            redact_one(input, &output, redaction, detection, audit, &settings, &report_settings, &shutdown);
        match done {
            Ok(job) => {
                eprintln!("{}: {}", input.display(), describe_report(&job));
                eprintln!(
                    "{}: {}",
                    input.display(),
                    obscura::report::report_line(&output, &job, &report_settings)
                );
            }
            Err(err) => {
                failed = true;
                eprintln!("obscura redact: {err:#}");
            }
        }
    }
    exit_code(failed, &shutdown)
}

fn exit_code(failed: bool, shutdown: &Shutdown) -> ExitCode {
    if shutdown.is_aborted() {
        ExitCode::from(EXIT_INTERRUPTED)
    } else if failed {
        ExitCode::from(EXIT_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// Temporal settings and cadence from command-line options: the options given are frames, used
/// as they are; those left out are the defaults and follow the video's frame rate.
fn temporal_from_args(
    every: Option<u32>,
    lookahead: Option<u32>,
    max_staleness: Option<u32>,
    on_fail: OnFail,
) -> (TemporalSettings, u32) {
    let default = TemporalSettings::default();
    let detect_every = every.unwrap_or(RedactConfig::DEFAULT_DETECT_EVERY);
    let temporal = TemporalSettings {
        lookahead: lookahead.unwrap_or(default.lookahead),
        max_staleness: max_staleness.unwrap_or(default.max_staleness.max(detect_every.saturating_sub(1))),
        on_fail,
        follow_rate: FollowRate {
            detect_every: every.is_none(),
            lookahead: lookahead.is_none(),
            max_staleness: max_staleness.is_none(),
            tracker: true,
        },
        ..default
    };
    (temporal, detect_every)
}

impl RedactArgs {
    fn detect_every(&self) -> u32 {
        self.detect_every.unwrap_or(RedactConfig::DEFAULT_DETECT_EVERY)
    }

    /// The audit's cadence: as given, else the default (fitted to each video's rate).
    fn audit_every(&self) -> u32 {
        self.audit_every.unwrap_or(RedactConfig::DEFAULT_AUDIT_EVERY)
    }

    fn temporal(&self) -> TemporalSettings {
        temporal_from_args(self.detect_every, self.lookahead, self.max_staleness, self.on_fail).0
    }
}

fn check_redact_args(args: &RedactArgs) -> anyhow::Result<()> {
    if let (Some(stale), Some(every)) = (args.max_staleness, args.detect_every)
        && stale + 1 < every
    {
        bail!(
            "--max-staleness {stale} is shorter than the gap between detections (--detect-every {every}): \
             every frame between detections would be redacted whole; use at least {}",
            every - 1
        );
    }
    if args.target == Target::None && args.masks.is_empty() {
        bail!("--target none redacts only the --mask regions: give at least one --mask");
    }
    Ok(())
}

fn is_still(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(obscura::source::is_still_extension)
}

/// The output path of each input: `-o` itself for one input, else a file in the `-o` directory.
fn plan_outputs(inputs: &[PathBuf], output: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let outputs: Vec<PathBuf> = if inputs.len() == 1 && !output.is_dir() {
        vec![output.to_owned()]
    } else {
        if output.exists() && !output.is_dir() {
            bail!("{}: with several inputs, -o must be a directory", output.display());
        }
        inputs.iter().map(|input| output_name_in(output, input, !is_still(input))).collect()
    };
    let mut seen = std::collections::HashSet::new();
    for (input, out) in inputs.iter().zip(&outputs) {
        if !is_still(input) && !obscura::sink::is_mp4_name(out) {
            bail!(
                "{}: a video is written as H.264 MP4: give the output the .mp4 extension ({})",
                out.display(),
                out.extension().map_or("it has none".to_owned(), |e| format!("not .{}", e.to_string_lossy()))
            );
        }
        if !seen.insert(out.clone()) {
            bail!("{}: two inputs would be written to the same output {}", input.display(), out.display());
        }
        if let (Ok(a), Ok(b)) = (input.canonicalize(), out.canonicalize())
            && a == b
        {
            bail!("{}: the output would overwrite its input", out.display());
        }
    }
    Ok(outputs)
}

#[allow(clippy::too_many_arguments)]
fn redact_one<'d>(
    input: &Path,
    output: &Path,
    redaction: Redaction,
    detection: Option<Detection<'d>>,
    audit: Option<Audit<'d>>,
    settings: &EncoderSettings,
    report: &'d RedactionSettings,
    shutdown: &Shutdown,
) -> anyhow::Result<JobReport> {
    if is_still(input) {
        return redact_still(input, output, redaction, detection, audit, report);
    }
    let progress = ProgressDisplay::new(input);
    let job = VideoJob {
        input: input.to_owned(),
        source: None,
        stats: None,
        output: Some(output.to_owned()),
        redaction,
        detection,
        audit,
        encoder: settings.clone(),
        companion: Some(obscura::report::companion(output, report)),
        clips: None,
    };
    let result = job.run(shutdown, &progress);
    progress.bar.finish_and_clear();
    Ok(result?)
}

/// One still image: detect, redact, audit, save.
fn redact_still(
    input: &Path,
    output: &Path,
    mut redaction: Redaction,
    detection: Option<Detection<'_>>,
    audit: Option<Audit<'_>>,
    settings: &RedactionSettings,
) -> anyhow::Result<JobReport> {
    let started = std::time::Instant::now();
    let context = || input.display().to_string();
    let frame = obscura::source::load_still(input)?;
    let mut plan = PlanCounts::default();
    let regions = match detection {
        None => FrameRegions::None,
        Some(detection) => {
            plan.passes = 1;
            plan.masked_frames = 1;
            let found = detection.detector.detect(&frame).with_context(context)?;
            let masks = found.masks(detection.detector.target());
            plan.masks = masks.len() as u64;
            plan.max_masks = plan.masks;
            plan.frames_with_masks = u64::from(!masks.is_empty());
            FrameRegions::Detected(masks.into())
        }
    };
    let redacted = redaction.apply(frame, &regions).with_context(context)?;
    let mut audited = AuditCounts::default();
    if let Some(mut audit) = audit {
        obscura::pipeline::audit_frame(&mut audit, &redaction, &regions, &redacted, &mut audited);
    }
    let job = JobReport {
        frames: 1,
        output: Some(output.to_owned()),
        stopped_early: false,
        plan,
        audit: audited,
        audit_every: None,
        elapsed: started.elapsed(),
    };
    // The report first: the image never appears without it.
    let report = obscura::report::write_report(output, &job, settings)
        .map_err(|e| anyhow::anyhow!("{}: {e}", output.display()))?;
    if let Err(err) = obscura::source::save_still(redacted, output) {
        let _ = std::fs::remove_file(&report);
        return Err(err.into());
    }
    Ok(job)
}

/// A progress bar on stderr, drawn only when stderr is a terminal.
struct ProgressDisplay {
    bar: ProgressBar,
}

impl ProgressDisplay {
    fn new(input: &Path) -> Self {
        let bar = if std::io::stderr().is_terminal() { ProgressBar::new(0) } else { ProgressBar::hidden() };
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} frames {per_sec} eta {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(input.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default());
        Self { bar }
    }
}

impl Progress for ProgressDisplay {
    fn set_total(&self, frames: u64) {
        self.bar.set_length(frames);
    }

    fn tick(&self) {
        self.bar.inc(1);
    }
}

/// Parses a polygon "x,y x,y x,y" of normalised points.
fn parse_polygon(s: &str) -> Result<Vec<Point>, String> {
    let points = s
        .split_whitespace()
        .map(|pair| {
            let (x, y) = pair.split_once(',').ok_or_else(|| format!("{pair:?} is not an \"x,y\" point"))?;
            let coord = |v: &str| {
                v.trim()
                    .parse::<f32>()
                    .ok()
                    .filter(|c| (0.0..=1.0).contains(c))
                    .ok_or_else(|| format!("{v:?} in {pair:?} is not a number between 0 and 1"))
            };
            Ok(Point::new(coord(x)?, coord(y)?))
        })
        .collect::<Result<Vec<_>, String>>()?;
    if points.len() < 3 {
        return Err(format!("a mask needs at least 3 points, got {}", points.len()));
    }
    Ok(points)
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
