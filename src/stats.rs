//! The live figures of a camera, shared by its stages and its supervisor and read by `/metrics`
//! and `/api/cameras`: its state, frames decoded, dropped and failed closed by reason,
//! reconnects, frame rate and detection times. Counts of frames and events only: nothing about
//! any person.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::track::PlanCounts;

/// Where a camera is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CameraState {
    /// Connecting or opening, until the first frame.
    Starting,
    /// Frames are flowing.
    Streaming,
    /// Failed, stalled or ended; waiting to try again.
    Backoff,
    /// Ended for good (a file at its end, a camera removed, the service stopping).
    Stopped,
}

impl CameraState {
    pub fn name(self) -> &'static str {
        match self {
            CameraState::Starting => "starting",
            CameraState::Streaming => "streaming",
            CameraState::Backoff => "backoff",
            CameraState::Stopped => "stopped",
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            1 => CameraState::Streaming,
            2 => CameraState::Backoff,
            3 => CameraState::Stopped,
            _ => CameraState::Starting,
        }
    }
}

/// Why a frame was dropped before redaction (it is dropped whole, never passed on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// A live camera's frames came faster than detection and redaction took them: a new frame
    /// found the queue full and was dropped so latency stays bounded.
    QueueFull,
}

impl DropReason {
    pub const ALL: [DropReason; 1] = [DropReason::QueueFull];

    pub fn name(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
        }
    }
}

/// A counting camera's open bucket as it stands, for the dashboard: its start, each line's
/// `(name, in, out)`, each zone's `(name, entries, people inside now)`. Aggregates only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveCounts {
    pub bucket_start_ms: u64,
    pub lines: Vec<(String, u64, u64)>,
    pub zones: Vec<(String, u64, u64)>,
}

/// Upper bounds of the detection time histogram, seconds.
pub const DETECTION_BUCKETS: [f64; 10] = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0];

/// One camera's live figures. Cheap to update from any stage.
#[derive(Debug)]
pub struct CameraStats {
    pub name: String,
    state: AtomicU8,
    frames: AtomicU64,
    reconnects: AtomicU64,
    dropped: [AtomicU64; DropReason::ALL.len()],
    /// Wall-clock ms of the latest decoded frame (0: none yet).
    last_frame_ms: AtomicU64,
    /// Arrival times of the latest frames, for the frame rate.
    recent: Mutex<VecDeque<Instant>>,
    /// Plan counts of the jobs that ended, and of the running one.
    plans: Mutex<(PlanCounts, PlanCounts)>,
    detection: Mutex<Histogram>,
    /// The latest redacted preview and when it was taken (at most one a second).
    preview: Mutex<Option<(Instant, std::sync::Arc<crate::redact::preview::Preview>)>>,
    /// Event clips written, clips lost to an error, frames left out of clips (their encoder fell
    /// behind), and whether clips are stopped by an error now (1) or not (0).
    clips: AtomicU64,
    clip_errors: AtomicU64,
    clip_frames_dropped: AtomicU64,
    clips_failing: AtomicU8,
    /// The open count bucket (counting cameras), renewed at each counting pass.
    live: Mutex<Option<LiveCounts>>,
    /// The camera's lines and zones as configured (JSON, for the dashboard's editor).
    geometry: Mutex<serde_json::Value>,
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; DETECTION_BUCKETS.len() + 1],
    sum: f64,
}

/// What `/api/cameras` says of a camera.
#[derive(Debug, Clone, Serialize)]
pub struct CameraSnapshot {
    pub name: String,
    pub state: CameraState,
    /// Frames per second over the latest frames (0 when none came for a while).
    pub fps: f64,
    /// Seconds since the latest frame; `None` before the first.
    pub last_frame_age_s: Option<f64>,
    pub frames: u64,
    pub reconnects: u64,
    pub frames_dropped: u64,
    pub frames_fail_closed: u64,
    /// Event clips written, clips lost to an error, and whether clips are stopped by an error.
    pub clips: u64,
    pub clip_errors: u64,
    pub clips_failing: bool,
}

const RATE_WINDOW: usize = 50;

impl CameraStats {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            state: AtomicU8::new(0),
            frames: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            dropped: Default::default(),
            last_frame_ms: AtomicU64::new(0),
            recent: Mutex::new(VecDeque::with_capacity(RATE_WINDOW)),
            plans: Mutex::new(Default::default()),
            detection: Mutex::new(Histogram::default()),
            preview: Mutex::new(None),
            clips: AtomicU64::new(0),
            clip_errors: AtomicU64::new(0),
            clip_frames_dropped: AtomicU64::new(0),
            clips_failing: AtomicU8::new(0),
            live: Mutex::new(None),
            geometry: Mutex::new(serde_json::json!({"lines": [], "zones": []})),
        }
    }

    /// The open count bucket as it stands now (`None`: no bucket is open).
    pub fn set_live(&self, live: Option<LiveCounts>) {
        *self.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = live;
    }

    pub fn live(&self) -> Option<LiveCounts> {
        self.live.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The camera's lines and zones (`{"lines": [...], "zones": [...]}`).
    pub fn set_geometry(&self, geometry: serde_json::Value) {
        *self.geometry.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = geometry;
    }

    pub fn geometry(&self) -> serde_json::Value {
        self.geometry.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Mean time of a detection pass, ms (0 before the first).
    pub fn detection_mean_ms(&self) -> f64 {
        let h = self.detection.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let n: u64 = h.counts.iter().sum();
        if n == 0 { 0.0 } else { h.sum / n as f64 * 1000.0 }
    }

    /// An event clip was written; clips work (again).
    pub fn clip_written(&self) {
        self.clips.fetch_add(1, Ordering::Relaxed);
        self.clips_failing.store(0, Ordering::Relaxed);
    }

    /// An event clip could not be written (or the clips folder cannot be used): clips stop until
    /// one is written again. Returns whether clips were working until now.
    pub fn clip_failed(&self) -> bool {
        self.clip_errors.fetch_add(1, Ordering::Relaxed);
        self.clips_failing.swap(1, Ordering::Relaxed) == 0
    }

    /// A frame was left out of an open clip.
    pub fn clip_frame_dropped(&self) {
        self.clip_frames_dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// (clips written, clip errors, frames left out of clips, failing now).
    pub fn clip_counts(&self) -> (u64, u64, u64, bool) {
        (
            self.clips.load(Ordering::Relaxed),
            self.clip_errors.load(Ordering::Relaxed),
            self.clip_frames_dropped.load(Ordering::Relaxed),
            self.clips_failing.load(Ordering::Relaxed) == 1,
        )
    }

    /// Offers a redacted frame for the snapshot: taken (scaled down) if the latest preview is a
    /// second old or more.
    pub fn offer_preview(&self, frame: &crate::redact::RedactedFrame) {
        const EVERY: Duration = Duration::from_secs(1);
        let due = {
            let latest = self.preview.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            latest.as_ref().is_none_or(|(at, _)| at.elapsed() >= EVERY)
        };
        if !due {
            return;
        }
        match frame.preview(crate::redact::preview::PREVIEW_MAX_HEIGHT) {
            Ok(preview) => {
                let mut latest = self.preview.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                *latest = Some((Instant::now(), std::sync::Arc::new(preview)));
            }
            Err(err) => tracing::debug!(camera = %self.name, %err, "no snapshot preview"),
        }
    }

    /// The latest redacted preview, and its age.
    pub fn preview(&self) -> Option<(Duration, std::sync::Arc<crate::redact::preview::Preview>)> {
        let latest = self.preview.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        latest.as_ref().map(|(at, p)| (at.elapsed(), p.clone()))
    }

    pub fn state(&self) -> CameraState {
        CameraState::from_u8(self.state.load(Ordering::Relaxed))
    }

    /// Sets the state; returns the one before.
    pub fn set_state(&self, state: CameraState) -> CameraState {
        CameraState::from_u8(self.state.swap(state as u8, Ordering::Relaxed))
    }

    /// One frame decoded. The first of a connection makes the camera `streaming`.
    pub fn frame(&self) {
        let starting = CameraState::Starting as u8;
        if self.state.load(Ordering::Relaxed) == starting
            && self
                .state
                .compare_exchange(
                    starting,
                    CameraState::Streaming as u8,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            let camera = &self.name;
            tracing::info!(camera, state = "streaming", "camera {camera}: streaming");
        }
        self.frames.fetch_add(1, Ordering::Relaxed);
        self.last_frame_ms.store(now_ms(), Ordering::Relaxed);
        let mut recent = self.recent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if recent.len() == RATE_WINDOW {
            recent.pop_front();
        }
        recent.push_back(Instant::now());
    }

    pub fn dropped(&self, reason: DropReason) {
        self.dropped[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn reconnect(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    /// A new job (connection, file) starts: the last one's plan counts are kept.
    pub fn start_job(&self) {
        let mut plans = self.plans.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (done, current) = &mut *plans;
        done.add(current);
        *current = PlanCounts::default();
    }

    /// The running job's plan counts so far.
    pub fn set_plan(&self, counts: &PlanCounts) {
        self.plans.lock().unwrap_or_else(std::sync::PoisonError::into_inner).1 = *counts;
    }

    /// Plan counts over every job.
    pub fn plan(&self) -> PlanCounts {
        let plans = self.plans.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut total = plans.0;
        total.add(&plans.1);
        total
    }

    /// One detection pass took `took`.
    pub fn detection(&self, took: Duration) {
        let secs = took.as_secs_f64();
        let mut h = self.detection.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let bucket = DETECTION_BUCKETS.iter().position(|&b| secs <= b).unwrap_or(DETECTION_BUCKETS.len());
        h.counts[bucket] += 1;
        h.sum += secs;
    }

    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }

    pub fn reconnects(&self) -> u64 {
        self.reconnects.load(Ordering::Relaxed)
    }

    pub fn dropped_by(&self, reason: DropReason) -> u64 {
        self.dropped[reason as usize].load(Ordering::Relaxed)
    }

    pub fn snapshot(&self) -> CameraSnapshot {
        let (clips, clip_errors, _, clips_failing) = self.clip_counts();
        let last = self.last_frame_ms.load(Ordering::Relaxed);
        let age = (last > 0).then(|| now_ms().saturating_sub(last) as f64 / 1000.0);
        let fps = {
            let recent = self.recent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match (recent.front(), recent.back()) {
                (Some(first), Some(_)) if recent.len() > 1 && first.elapsed() < Duration::from_secs(10) => {
                    let span = first.elapsed().as_secs_f64();
                    if span > 0.0 { (recent.len() - 1) as f64 / span } else { 0.0 }
                }
                _ => 0.0,
            }
        };
        CameraSnapshot {
            name: self.name.clone(),
            state: self.state(),
            fps: (fps * 10.0).round() / 10.0,
            last_frame_age_s: age,
            frames: self.frames(),
            reconnects: self.reconnects(),
            frames_dropped: DropReason::ALL.iter().map(|&r| self.dropped_by(r)).sum(),
            frames_fail_closed: self.plan().fail_closed(),
            clips,
            clip_errors,
            clips_failing,
        }
    }

    /// This camera's samples in the Prometheus text format, appended to `families` (one text per
    /// metric family, so cameras' samples group under one HELP/TYPE).
    pub fn render_into(&self, families: &mut [String; FAMILIES.len()]) {
        let camera = format!("camera=\"{}\"", crate::metrics::escape(&self.name));
        let state = self.state();
        families[0] +=
            &format!("obscura_camera_up{{{camera}}} {}\n", u8::from(state == CameraState::Streaming));
        for s in [CameraState::Starting, CameraState::Streaming, CameraState::Backoff, CameraState::Stopped] {
            families[1] += &format!(
                "obscura_camera_state{{{camera},state=\"{}\"}} {}\n",
                s.name(),
                u8::from(s == state)
            );
        }
        families[2] += &format!("obscura_camera_frames_total{{{camera}}} {}\n", self.frames());
        families[3] += &format!("obscura_camera_reconnects_total{{{camera}}} {}\n", self.reconnects());
        for reason in DropReason::ALL {
            families[4] += &format!(
                "obscura_camera_frames_dropped_total{{{camera},reason=\"{}\"}} {}\n",
                reason.name(),
                self.dropped_by(reason)
            );
        }
        let plan = self.plan();
        for (reason, value) in [
            ("detector_error", plan.fail_closed_error),
            ("invalid_output", plan.fail_closed_invalid),
            ("stale", plan.fail_closed_stale),
        ] {
            families[5] +=
                &format!("obscura_camera_frames_fail_closed_total{{{camera},reason=\"{reason}\"}} {value}\n");
        }
        let h = self.detection.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let mut cumulative = 0;
        for (i, bound) in DETECTION_BUCKETS.iter().enumerate() {
            cumulative += h.counts[i];
            families[6] +=
                &format!("obscura_detection_seconds_bucket{{{camera},le=\"{bound}\"}} {cumulative}\n");
        }
        cumulative += h.counts[DETECTION_BUCKETS.len()];
        families[6] += &format!("obscura_detection_seconds_bucket{{{camera},le=\"+Inf\"}} {cumulative}\n");
        families[6] += &format!("obscura_detection_seconds_sum{{{camera}}} {:.6}\n", h.sum);
        families[6] += &format!("obscura_detection_seconds_count{{{camera}}} {cumulative}\n");
        let (clips, errors, dropped, failing) = self.clip_counts();
        families[7] += &format!("obscura_clips_total{{{camera}}} {clips}\n");
        families[8] += &format!("obscura_clip_errors_total{{{camera}}} {errors}\n");
        families[9] += &format!("obscura_clip_frames_dropped_total{{{camera}}} {dropped}\n");
        families[10] += &format!("obscura_clips_failing{{{camera}}} {}\n", u8::from(failing));
    }
}

/// HELP and TYPE lines of the families [`CameraStats::render_into`] fills, in order.
pub const FAMILIES: [(&str, &str, &str); 11] = [
    ("obscura_camera_up", "gauge", "1 while the camera is streaming, else 0."),
    ("obscura_camera_state", "gauge", "The camera's state: 1 for the current one."),
    ("obscura_camera_frames_total", "counter", "Frames decoded."),
    (
        "obscura_camera_reconnects_total",
        "counter",
        "Times the camera was restarted after a failure, stall or end.",
    ),
    ("obscura_camera_frames_dropped_total", "counter", "Frames dropped whole before redaction, by reason."),
    ("obscura_camera_frames_fail_closed_total", "counter", "Frames redacted whole (or left out), by reason."),
    ("obscura_detection_seconds", "histogram", "Time of one detection pass."),
    ("obscura_clips_total", "counter", "Event clips written."),
    (
        "obscura_clip_errors_total",
        "counter",
        "Event clips lost, or clip starts refused, by a disk or encoder error.",
    ),
    (
        "obscura_clip_frames_dropped_total",
        "counter",
        "Frames left out of an event clip because its encoder fell behind.",
    ),
    (
        "obscura_clips_failing",
        "gauge",
        "1 while event clips are stopped by an error (counting goes on), else 0.",
    ),
];

/// Wall-clock ms since the epoch.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_the_camera_label() {
        let stats = CameraStats::new("door");
        stats.set_state(CameraState::Streaming);
        stats.frame();
        stats.frame();
        stats.reconnect();
        stats.dropped(DropReason::QueueFull);
        stats.set_plan(&PlanCounts { fail_closed_stale: 4, ..PlanCounts::default() });
        stats.start_job();
        stats.set_plan(&PlanCounts { fail_closed_stale: 1, fail_closed_error: 2, ..PlanCounts::default() });
        stats.detection(Duration::from_millis(30));
        assert!(stats.clip_failed(), "the first failure is news");
        assert!(!stats.clip_failed());
        let mut families: [String; FAMILIES.len()] = Default::default();
        stats.render_into(&mut families);
        let text = families.concat();
        for line in [
            "obscura_camera_up{camera=\"door\"} 1",
            "obscura_camera_state{camera=\"door\",state=\"backoff\"} 0",
            "obscura_camera_frames_total{camera=\"door\"} 2",
            "obscura_camera_reconnects_total{camera=\"door\"} 1",
            "obscura_camera_frames_dropped_total{camera=\"door\",reason=\"queue_full\"} 1",
            "obscura_camera_frames_fail_closed_total{camera=\"door\",reason=\"stale\"} 5",
            "obscura_camera_frames_fail_closed_total{camera=\"door\",reason=\"detector_error\"} 2",
            "obscura_detection_seconds_bucket{camera=\"door\",le=\"0.02\"} 0",
            "obscura_detection_seconds_bucket{camera=\"door\",le=\"0.05\"} 1",
            "obscura_detection_seconds_count{camera=\"door\"} 1",
            "obscura_clip_errors_total{camera=\"door\"} 2",
            "obscura_clips_failing{camera=\"door\"} 1",
        ] {
            assert!(text.contains(&format!("{line}\n")), "{line} in\n{text}");
        }
        let snapshot = stats.snapshot();
        assert_eq!((snapshot.frames, snapshot.frames_dropped, snapshot.frames_fail_closed), (2, 1, 7));
        assert!(snapshot.last_frame_age_s.is_some_and(|a| a < 5.0));
    }
}
