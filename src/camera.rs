//! Cameras as a service: a config's `[[camera]]` turned into a running camera (models loaded,
//! counting stage, redaction), each under its own supervisor thread, and the [`Service`] that
//! starts, reloads and stops them.
//!
//! A file camera runs once to the end of its file. A live (RTSP) camera runs until the service
//! stops: each connection is one [`VideoJob`]; when it fails, stalls (the decoder's watchdog) or
//! ends, the supervisor waits (1 s, doubling to 60 s; back to 1 s after a minute of streaming)
//! and connects again. Its counting stage ([`CountStage`], a thread fed by a channel) outlives
//! the connections: a reconnect never closes a bucket early, and while the camera is down the
//! clock closes buckets on time, their `passes` showing the gap. The state (`starting |
//! streaming | backoff | stopped`) is logged once per change (not per retry) and shown in
//! `/metrics` and `/api/cameras`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::clips::{ClipEvents, ClipRecorder, ClipStore};
use crate::config::{CameraConfig, Config, Source};
use crate::count::{Closed, CountStage, Counter, Line, Zone};
use crate::detect::{
    Detector, DetectorSettings, FaceDetector, FaceSettings, FrameDetector, Region, Tiling, models_dir,
};
use crate::metrics::Metrics;
use crate::pipeline::{Audit, Detection, JobReport, NoProgress, Shutdown, VideoJob};
use crate::redact::Redaction;
use crate::report::RedactionSettings;
use crate::sink::CountFiles;
use crate::sink::mqtt::{Entity, Kind};
use crate::source::{RtspInput, VideoDecoder};
use crate::stats::{CameraState, CameraStats};
use crate::track::Counting;

/// The first wait after a live camera fails.
pub const BACKOFF_FIRST: Duration = Duration::from_secs(1);
/// The longest wait between two attempts.
pub const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// Streaming this long resets the wait to [`BACKOFF_FIRST`].
pub const BACKOFF_RESET: Duration = Duration::from_secs(60);

/// What every camera of a service shares.
#[derive(Debug)]
pub struct Shared {
    pub detector: DetectorSettings,
    pub counts: crate::config::CountsConfig,
    pub pool: Arc<rayon::ThreadPool>,
    pub count_files: Option<Arc<Mutex<CountFiles>>>,
    pub metrics: Arc<Metrics>,
    /// The clip library, when any camera records event clips.
    pub clips: Option<Arc<ClipStore>>,
}

impl Shared {
    /// What the cameras of `config` share: the redaction thread pool, the count files and store
    /// (with MQTT when configured) for cameras that count, and the metrics.
    pub fn open(config: &Config) -> Result<Self, String> {
        let pool = match config.redaction_threads.map(crate::redact::pool::with_threads).transpose() {
            Ok(pool) => pool.unwrap_or_else(crate::redact::pool::shared),
            Err(err) => return Err(format!("cannot start the redaction threads: {err}")),
        };
        // With an HTTP server, the dashboard's editor may give a camera its first line: the count
        // files are ready for it.
        let counting = config.cameras.iter().any(CameraConfig::counts_people) || config.http_listen.is_some();
        let entities = config
            .cameras
            .iter()
            .flat_map(|c| {
                let lines = c.lines.iter().map(|l| (Kind::Line, l.name().to_owned()));
                let zones = c.zones.iter().map(|z| (Kind::Zone, z.name().to_owned()));
                lines.chain(zones).map(|(kind, name)| Entity { camera: c.name.clone(), kind, name })
            })
            .collect();
        let count_files = counting
            .then(|| CountFiles::open(&config.counts, entities))
            .transpose()
            .map_err(|err| format!("cannot open a count file: {err}"))?
            .map(|f| Arc::new(Mutex::new(f)));
        let metrics = Metrics::new();
        if let Some(path) = counting.then_some(config.counts.sqlite.as_ref()).flatten() {
            let settings = &config.counts.settings;
            let api =
                crate::counts_api::CountsApi::new(path.clone(), settings.bucket_ms, config.counts.min_count);
            metrics.set_counts_api(api);
        }
        if let Some(gauges) = count_files.as_ref().and_then(|f| f.lock().ok()?.mqtt_gauges()) {
            metrics.add_section(move || gauges.render());
        }
        let clips = config.cameras.iter().find_map(|c| c.clips.as_ref()).map(|clips| {
            // The index lives in the count store when there is one, else beside the clips.
            let db = config.counts.sqlite.clone().unwrap_or_else(|| clips.dir.join("index.sqlite"));
            let metrics = metrics.clone();
            Arc::new(ClipStore::new(clips.dir.clone(), db, move |library| metrics.set_clips(library)))
        });
        Ok(Self {
            detector: config.detector,
            counts: config.counts.clone(),
            pool,
            count_files,
            metrics,
            clips,
        })
    }

    /// Starts the HTTP server of `config`'s `[http]` (with its token), if any; returns the
    /// address it listens on.
    pub fn serve_http(&self, config: &Config) -> Result<Option<std::net::SocketAddr>, String> {
        let Some(addr) = config.http_listen else { return Ok(None) };
        let token = config.http_token.as_ref().map(crate::config::Secret::read).transpose();
        let token = token.map_err(|err| format!("[http] token: {err}"))?;
        self.metrics
            .serve(addr, token)
            .map(Some)
            .map_err(|err| format!("cannot serve metrics on {addr}: {err}"))
    }
}

/// The face input size of the residual audit for `target`: twice detection's configured input
/// (its scale is twice detection's, small frames scaled up), and never below the largest input
/// detection may choose when its face scale adapts (`face_scale.rs`): the audit never looks at a
/// camera more coarsely than detection did.
pub fn audit_side(settings: &DetectorSettings, target: crate::redact::Target) -> u32 {
    use crate::detect::face_scale::{LEVELS, level_input};
    let base = settings.faces.input_long_side;
    let largest = if settings.faces_adapt(target) { level_input(base, LEVELS.len() - 1) } else { base };
    (base * 2).max(largest).min(4096)
}

/// Where the person detector of a camera that counts people with `lines` and `zones` must look:
/// everywhere when `target` masks persons; else (it serves counting only) around the lines and
/// zones ([`crate::detect::counting_region`]). `None`: every tile.
pub fn person_region(target: crate::redact::Target, lines: &[Line], zones: &[Zone]) -> Option<Region> {
    if target.masks_persons() {
        return None;
    }
    let ends = lines.iter().flat_map(|l| [l.from(), l.to()]);
    let corners = zones.iter().flat_map(|z| z.polygon().iter().copied());
    crate::detect::counting_region(ends.chain(corners))
}

/// The residual audit's face threshold: fixed (CenterFace's default), so audits of runs with
/// different detection thresholds count the same way.
pub const AUDIT_THRESHOLD: f32 = 0.2;

/// Loads what a redaction described by `report` needs: the detectors of its target (and the
/// person detector when `counting`), and the residual audit's face detector when `audit_every` >
/// 0, which `report.audit` then names.
pub fn load_models(
    report: &mut RedactionSettings,
    audit_every: u32,
    counting: bool,
) -> anyhow::Result<(Option<Detector>, Option<FaceDetector>)> {
    let settings = &report.detector;
    let detector = if counting || report.target.needs_detection() {
        Some(Detector::load_counting(&models_dir(), report.target, counting, settings)?)
    } else {
        None
    };
    let audit_input = audit_side(settings, report.target);
    let auditor = if report.target.needs_detection() && audit_every > 0 {
        let faces = FaceSettings {
            input_long_side: audit_input,
            tiling: Tiling::Grid { cols: 1, rows: 1 },
            threshold: AUDIT_THRESHOLD,
            max_scale: 2.0,
            reuse_unchanged: false,
            adaptive: false,
            ..settings.faces
        };
        Some(FaceDetector::load(&models_dir(), faces)?)
    } else {
        None
    };
    report.audit = auditor.as_ref().map(|_| (audit_input, audit_every));
    Ok((detector, auditor))
}

/// When a file was created, ms since the epoch (the start time of its counts when the config
/// gives none); the epoch when the file system does not say.
pub fn file_created_ms(path: &Path) -> u64 {
    std::fs::metadata(path)
        .and_then(|m| m.created())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64)
}

/// One line about a finished job.
pub fn describe_report(report: &JobReport) -> String {
    let secs = report.elapsed.as_secs_f64();
    let fps = report.frames as f64 / secs.max(1e-9);
    let place = match &report.output {
        Some(path) => format!("→ {}", path.display()),
        None => "(no output)".to_owned(),
    };
    let early = if report.stopped_early { " (stopped early)" } else { "" };
    let detection = if report.detected_frames() > 0 {
        format!(
            ", detection on {} frames, {} fail-closed",
            report.detected_frames(),
            report.fail_closed_frames()
        )
    } else {
        String::new()
    };
    format!("{} frames in {secs:.1} s ({fps:.1} fps){detection} {place}{early}", report.frames)
}

/// Runs one camera to its end (a file) or until `shutdown` (a live camera, reconnected as
/// needed); returns a summary line.
pub fn run_camera(
    camera: &CameraConfig,
    shared: &Shared,
    stats: &Arc<CameraStats>,
    shutdown: &Shutdown,
) -> anyhow::Result<String> {
    let _span = tracing::info_span!("camera", name = %camera.name).entered();
    let redact = &camera.redact;
    let counts_people = camera.counts_people();
    let mut report_settings = RedactionSettings {
        target: redact.target,
        method: redact.method,
        fixed_masks: redact.masks.len(),
        detect_every: redact.detect_every,
        temporal: redact.temporal.clone(),
        detector: shared.detector,
        audit: None,
    };
    if counts_people {
        report_settings.detector.persons.region = person_region(redact.target, &camera.lines, &camera.zones);
    }
    let (mut detector, mut auditor) = load_models(&mut report_settings, redact.audit_every, counts_people)?;
    let buckets = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let clip_events = camera.clips.as_ref().map(|_| Arc::new(ClipEvents::default()));
    let stage = if counts_people {
        let counter = Counter::new(
            camera.name.clone(),
            camera.lines.clone(),
            camera.zones.clone(),
            &shared.counts.settings,
        )?;
        let sink = closed_sink(shared, buckets.clone(), matches!(camera.source, Source::Rtsp(_)));
        Some(CountStage::start_tapped(counter, sink, clip_events.clone(), Some(stats.clone()))?)
    } else {
        None
    };
    let mut recorder = match (&camera.clips, &shared.clips, clip_events) {
        (Some(config), Some(store), Some(events)) => Some(ClipRecorder::new(
            &camera.name,
            config.clone(),
            store.clone(),
            stats.clone(),
            report_settings.clone(),
            camera.output.encoder.clone(),
            events,
        )),
        _ => None,
    };
    let mut job = |source: Option<Box<dyn crate::source::FrameSource + '_>>, label: &Path, start_ms: u64| {
        let output = camera.output.video.clone();
        let redaction =
            Redaction::new(redact.target, redact.method, redact.fill_color, redact.masks.clone())?
                .with_pool(shared.pool.clone());
        if let Some(recorder) = recorder.as_mut() {
            recorder.begin_stream(start_ms);
        }
        let job = VideoJob {
            input: label.to_owned(),
            source,
            stats: Some(stats.clone()),
            output: output.clone(),
            redaction,
            detection: detector.as_mut().map(|detector| Detection {
                detector: detector as &mut dyn FrameDetector,
                every: redact.detect_every,
                temporal: redact.temporal.clone(),
                counting: stage.as_ref().map(|stage| Counting { start_ms, stage }),
                overloaded: false,
            }),
            audit: auditor.as_mut().map(|detector| Audit {
                detector,
                every: redact.audit_every,
                follow_rate: redact.audit_follows_rate,
            }),
            encoder: camera.output.encoder.clone(),
            companion: output.as_deref().map(|o| crate::report::companion(o, &report_settings)),
            clips: recorder.as_mut(),
        };
        anyhow::Ok(job.run(shutdown, &NoProgress)?)
    };
    let summary = match &camera.source {
        Source::File(path) => {
            set_state(stats, CameraState::Starting, None);
            let start_ms = camera.start_time_ms.unwrap_or_else(|| file_created_ms(path));
            let result = job(None, path, start_ms);
            if let Some(stage) = &stage {
                stage.close();
            }
            set_state(stats, CameraState::Stopped, None);
            let report = result?;
            let mut summary = describe_report(&report);
            if let Some(output) = &report.output {
                summary += &format!("\n  {}", crate::report::report_line(output, &report, &report_settings));
            }
            summary
        }
        Source::Rtsp(url) => {
            let input = RtspInput { url: url.clone(), settings: camera.rtsp.clone() };
            let label = input.label();
            let mut backoff = BACKOFF_FIRST;
            let mut connections = 0u64;
            while !shutdown.is_stopping() {
                set_state(stats, CameraState::Starting, None);
                connections += 1;
                let started = Instant::now();
                let result = VideoDecoder::open_rtsp(&input)
                    .map_err(anyhow::Error::from)
                    .and_then(|decoder| job(Some(Box::new(decoder)), &label, crate::stats::now_ms()));
                if let Some(stage) = &stage {
                    stage.restart();
                }
                if shutdown.is_stopping() {
                    break;
                }
                let why = match result {
                    Ok(_) => "the camera ended the stream".to_owned(),
                    Err(err) => format!("{err:#}"),
                };
                if stats.state() == CameraState::Streaming && started.elapsed() >= BACKOFF_RESET {
                    backoff = BACKOFF_FIRST;
                }
                set_state(
                    stats,
                    CameraState::Backoff,
                    Some(&format!("{why}; reconnecting (first in {} s)", backoff.as_secs())),
                );
                stats.reconnect();
                wait(backoff, shutdown, stage.as_ref());
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
            if let Some(stage) = &stage {
                stage.close();
            }
            set_state(stats, CameraState::Stopped, None);
            format!(
                "{} frames in {connections} connection(s), {} reconnect(s), {} fail-closed",
                stats.frames(),
                stats.reconnects(),
                stats.plan().fail_closed()
            )
        }
    };
    if let Some(recorder) = recorder {
        recorder.close(crate::clips::recorder::FINISH_LIMIT);
    }
    let buckets = buckets.load(std::sync::atomic::Ordering::Relaxed);
    Ok(if counts_people { format!("{summary}, {buckets} count bucket(s) closed") } else { summary })
}

/// Where a camera's closed buckets go: the count files and store, and `/metrics`.
/// A live camera's buckets add to a part stored before a restart (see [`CountFiles::write_live`]).
fn closed_sink(
    shared: &Shared,
    buckets: Arc<std::sync::atomic::AtomicU64>,
    live: bool,
) -> crate::count::ClosedSink {
    let metrics = shared.metrics.clone();
    let min_count = shared.counts.min_count;
    let files = shared.count_files.clone();
    Box::new(move |closed: Closed| {
        buckets.fetch_add(
            (closed.lines.len() + closed.zones.len()) as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
        metrics.record_closed(&closed, min_count);
        if let Some(files) = &files {
            let mut files = files.lock().unwrap_or_else(PoisonError::into_inner);
            let written = if live { files.write_live(&closed) } else { files.write(&closed) };
            if let Err(err) = written {
                tracing::error!(%err, "cannot write counts");
            }
        }
    })
}

/// A camera's lines and zones as the dashboard's editor shows them (the config's keys).
pub fn geometry_json(camera: &CameraConfig) -> serde_json::Value {
    let lines: Vec<_> = camera
        .lines
        .iter()
        .map(|l| {
            serde_json::json!({
                "name": l.name(), "from": [l.from().x, l.from().y], "to": [l.to().x, l.to().y],
                "anchor": l.anchor().name(),
            })
        })
        .collect();
    let zones: Vec<_> = camera
        .zones
        .iter()
        .map(|z| {
            let polygon: Vec<[f32; 2]> = z.polygon().iter().map(|p| [p.x, p.y]).collect();
            serde_json::json!({ "name": z.name(), "polygon": polygon, "anchor": z.anchor().name() })
        })
        .collect();
    serde_json::json!({ "lines": lines, "zones": zones })
}

/// Sets the camera's state, logging the change (once: not per retry while it stays down).
fn set_state(stats: &CameraStats, state: CameraState, why: Option<&str>) {
    let before = stats.set_state(state);
    let camera = &stats.name;
    match (before, state) {
        (a, b) if a == b => {}
        // Retrying a camera that is down: no line per attempt.
        (CameraState::Backoff, CameraState::Starting) | (CameraState::Starting, CameraState::Backoff)
            if stats.reconnects() > 0 =>
        {
            tracing::debug!(camera, state = state.name(), why, "camera state");
        }
        _ => match why {
            Some(why) => {
                tracing::warn!(camera, state = state.name(), "camera {camera}: {}: {why}", state.name())
            }
            None => tracing::info!(camera, state = state.name(), "camera {camera}: {}", state.name()),
        },
    }
}

/// Waits `backoff` (or until the service stops), moving the counting clock on each second so
/// the buckets of a camera that is down close on time.
fn wait(backoff: Duration, shutdown: &Shutdown, stage: Option<&CountStage<crate::track::TrackId>>) {
    let until = Instant::now() + backoff;
    let mut last_tick = Instant::now();
    while Instant::now() < until && !shutdown.is_stopping() {
        std::thread::sleep(Duration::from_millis(50).min(until.saturating_duration_since(Instant::now())));
        if last_tick.elapsed() >= Duration::from_secs(1) {
            last_tick = Instant::now();
            if let Some(stage) = stage {
                stage.tick(crate::stats::now_ms());
            }
        }
    }
    if let Some(stage) = stage {
        stage.tick(crate::stats::now_ms());
    }
}

/// A running camera.
#[derive(Debug)]
struct Running {
    config: CameraConfig,
    stats: Arc<CameraStats>,
    shutdown: Shutdown,
    thread: JoinHandle<anyhow::Result<String>>,
}

impl Running {
    /// Waits for the camera's thread to end; its result.
    fn join(self) -> anyhow::Result<String> {
        self.thread.join().unwrap_or_else(|_| Err(anyhow::anyhow!("camera thread panicked")))
    }
}

/// Every camera of a config, each under its own supervisor thread.
#[derive(Debug)]
pub struct Service {
    shared: Arc<Shared>,
    running: BTreeMap<String, Running>,
    /// Cameras that ended (files done, cameras removed), with their result.
    finished: Vec<(String, anyhow::Result<String>)>,
    /// File cameras that ran to their end, with their config: a reload does not run them again
    /// (their counts are stored already) unless their config changed.
    done: BTreeMap<String, (CameraConfig, Arc<CameraStats>)>,
}

impl Service {
    /// Starts every camera of `config`.
    pub fn start(config: &Config, shared: Arc<Shared>) -> Self {
        let mut service =
            Self { shared, running: BTreeMap::new(), finished: Vec::new(), done: BTreeMap::new() };
        for camera in &config.cameras {
            service.spawn(camera.clone());
        }
        service.publish_stats();
        service
    }

    fn spawn(&mut self, config: CameraConfig) {
        let stats = Arc::new(CameraStats::new(config.name.clone()));
        stats.set_geometry(geometry_json(&config));
        let shutdown = Shutdown::new();
        let shared = self.shared.clone();
        let (camera, thread_stats, thread_shutdown) = (config.clone(), stats.clone(), shutdown.clone());
        let thread = std::thread::Builder::new()
            .name(format!("camera {}", config.name))
            .spawn(move || run_camera(&camera, &shared, &thread_stats, &thread_shutdown));
        match thread {
            Ok(thread) => {
                self.running.insert(config.name.clone(), Running { config, stats, shutdown, thread });
            }
            Err(err) => self
                .finished
                .push((config.name, Err(anyhow::anyhow!("cannot start the camera's thread: {err}")))),
        }
    }

    /// Tells `/metrics` and `/api/cameras` which cameras there are.
    fn publish_stats(&self) {
        let running = self.running.values().map(|r| r.stats.clone());
        let done = self
            .done
            .iter()
            .filter(|(name, _)| !self.running.contains_key(*name))
            .map(|(_, (_, s))| s.clone());
        let mut cameras: Vec<_> = running.chain(done).collect();
        cameras.sort_by(|a, b| a.name.cmp(&b.name));
        self.shared.metrics.set_cameras(cameras);
    }

    /// Applies a new config's cameras: removed ones stop (closing their buckets), new ones start,
    /// changed ones restart. The rest of the config (`[counts]`, `[http]`, `[detector]`) needs a
    /// restart of the process; returns what was done, a line per camera.
    pub fn reload(&mut self, config: &Config) -> Vec<String> {
        let mut done = Vec::new();
        let wanted: BTreeMap<&str, &CameraConfig> =
            config.cameras.iter().map(|c| (c.name.as_str(), c)).collect();
        self.done.retain(|name, _| wanted.contains_key(name.as_str()));
        let names: Vec<String> = self.running.keys().cloned().collect();
        for name in names {
            let changed = match wanted.get(name.as_str()) {
                None => Some("removed"),
                Some(new) if **new != self.running[&name].config => Some("changed"),
                Some(_) => None,
            };
            if let Some(what) = changed {
                let running = self.running.remove(&name).expect("listed above");
                running.shutdown.stop();
                self.finished.push((name.clone(), running.join()));
                done.push(format!("camera {name}: {what}, stopped"));
            }
        }
        for camera in &config.cameras {
            if self.done.get(&camera.name).is_some_and(|(config, _)| config == camera) {
                continue;
            }
            if !self.running.contains_key(&camera.name) {
                self.done.remove(&camera.name);
                self.spawn(camera.clone());
                done.push(format!("camera {}: started", camera.name));
            }
        }
        self.publish_stats();
        done
    }

    /// Collects the cameras that ended by themselves (files at their end).
    pub fn reap(&mut self) {
        let ended: Vec<String> =
            self.running.iter().filter(|(_, r)| r.thread.is_finished()).map(|(n, _)| n.clone()).collect();
        for name in ended {
            let running = self.running.remove(&name).expect("listed above");
            if matches!(running.config.source, Source::File(_)) {
                self.done.insert(name.clone(), (running.config.clone(), running.stats.clone()));
            }
            self.finished.push((name, running.join()));
        }
    }

    /// The results of the cameras that ended since the last call.
    pub fn take_finished(&mut self) -> Vec<(String, anyhow::Result<String>)> {
        std::mem::take(&mut self.finished)
    }

    /// Whether any camera still runs.
    pub fn is_running(&self) -> bool {
        !self.running.is_empty()
    }

    /// Stops every camera (their buckets close, their outputs finish) and waits for them;
    /// returns every camera's result, in the order they ended.
    pub fn stop(mut self) -> Vec<(String, anyhow::Result<String>)> {
        for running in self.running.values() {
            running.shutdown.stop();
        }
        let running = std::mem::take(&mut self.running);
        for (name, running) in running {
            self.finished.push((name, running.join()));
        }
        std::mem::take(&mut self.finished)
    }

    /// Aborts every camera: outputs are deleted.
    pub fn abort(&self) {
        for running in self.running.values() {
            running.shutdown.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::Target;

    #[test]
    fn the_audit_never_looks_more_coarsely_than_detection() {
        let settings = DetectorSettings::default();
        // Adaptive faces may look at up to 1920 px: so does the audit.
        assert_eq!(audit_side(&settings, Target::Faces), 1920);
        // With heads the face detector stays at 640: the audit at twice that.
        assert_eq!(audit_side(&settings, Target::Heads), 1280);
        // A face input written in the config: twice it.
        let fixed = DetectorSettings {
            faces: FaceSettings { input_long_side: 960, adaptive: false, ..FaceSettings::default() },
            ..settings
        };
        assert_eq!(audit_side(&fixed, Target::Faces), 1920);
        let large = DetectorSettings {
            faces: FaceSettings { input_long_side: 2560, adaptive: false, ..FaceSettings::default() },
            ..settings
        };
        assert_eq!(audit_side(&large, Target::Faces), 4096);
    }
}
