//! The privacy report: a JSON sidecar beside every redacted output (and a line on stderr for
//! `redact`) saying how the output was redacted and how sure obscura is of it. Counts and settings
//! only: no pixels, no boxes, nothing about any one person.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::detect::DetectorSettings;
use crate::pipeline::{AuditCounts, JobReport};
use crate::redact::{Method, Target};
use crate::track::TemporalSettings;

/// How an output was redacted: the settings a report states.
#[derive(Debug, Clone)]
pub struct RedactionSettings {
    pub target: Target,
    pub method: Method,
    pub fixed_masks: usize,
    pub detect_every: u32,
    pub temporal: TemporalSettings,
    pub detector: DetectorSettings,
    /// The audit's face input size and its rate, when there is an audit.
    pub audit: Option<(u32, u32)>,
}

/// The sidecar's content.
#[derive(Debug, Clone, Serialize)]
pub struct PrivacyReport {
    pub obscura: &'static str,
    /// The output's file name (not its folder).
    pub output: String,
    pub frames: u64,
    pub target: String,
    pub method: String,
    pub fixed_masks: usize,
    pub detection: Option<DetectionReport>,
    pub audit: Option<AuditReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DetectionReport {
    /// The cadence and frame counts used, in the stream's frames.
    pub detect_every: u32,
    pub lookahead_frames: u32,
    pub max_staleness_frames: u32,
    /// The stream's declared frame rate, when it declared one.
    pub stream_fps: Option<f64>,
    /// Whether the defaults among the three above were fitted to `stream_fps` (they are stated at
    /// 25 fps; settings written in the config or on the command line are used as they are).
    pub fitted_to_frame_rate: bool,
    pub passes: u64,
    pub failed_passes: u64,
    /// Frames masked from detections (not redacted whole).
    pub frames_masked: u64,
    /// Of those, frames with at least one mask.
    pub frames_with_masks: u64,
    pub masks_per_frame_mean: f64,
    pub masks_per_frame_max: u64,
    pub frames_fail_closed: FailClosed,
    /// The oldest detection any frame was masked from, in frames.
    pub max_staleness_seen: u64,
    /// Frames of a live camera on which a due detection pass was put off because detection was
    /// behind the camera (never past `max_staleness_frames`; masked from the tracks).
    pub frames_detection_put_off: u64,
    /// Tracks that ended and others arriving within reach at a later pass, and tracks that ended near
    /// an edge they were heading for, joined for masking (docs/privacy.md), and the frames
    /// masked along such a bridge: high when people move far between passes (overload).
    pub bridges: u64,
    pub frames_bridged: u64,
    pub models: Models,
}

#[derive(Debug, Clone, Serialize)]
pub struct FailClosed {
    pub detector_error: u64,
    /// The detector's output held NaN or infinite numbers (a numerical fault).
    pub invalid_output: u64,
    pub stale: u64,
    /// Of those, frames left out of the output (`on_fail = "drop"`) rather than redacted whole.
    pub dropped: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Models {
    pub face: String,
    /// The face detector's input long side: the smallest, when it adapts (`face_scale`).
    pub face_input_long_side: u32,
    /// How the face detector's input size was chosen from the faces seen, where faces are the
    /// only masks (`target = "faces"`, neither `face_input` nor `face_tiles` set; docs/models.md,
    /// "Face scale").
    pub face_scale: Option<FaceScaleReport>,
    pub face_threshold: f32,
    pub person: Option<String>,
    pub person_threshold: Option<f32>,
    /// How the person detector saw the frames, when it ran.
    pub person_tiling: Option<PersonTiling>,
    /// Face detector inferences left out because the frame's input to it had not changed since
    /// its latest inference (within the last second of stream time): its faces were used again
    /// (docs/models.md, "Unchanged tiles").
    pub face_inferences_reused: u64,
    pub execution_provider: String,
    pub threads: usize,
}

/// The person detector's tiles: a fixed `person_tiles` grid, or chosen per camera from the sizes
/// of the people seen (docs/models.md, "Scale").
#[derive(Debug, Clone, Serialize)]
pub struct PersonTiling {
    /// `auto`, or the configured grid (e.g. `3x2`).
    pub mode: String,
    /// The grid of the latest pass at the chosen scale (auto; `-` if none).
    pub latest: String,
    /// Passes per scale level (level k: k rows of tiles across the short side, plus the whole
    /// frame), probes included (auto).
    pub passes_by_level: Vec<u64>,
    /// Passes at the highest level to look for people smaller than the chosen level sees (auto).
    pub probe_passes: u64,
    /// Times the chosen level changed (auto).
    pub level_changes: u64,
    /// Tile inferences run, the whole-frame pass not counted (auto).
    pub tiles_run: u64,
    /// Tile inferences left out between probes because nobody was near the tile lately and its
    /// turn (at least every 0.36 s of stream time) had not come; only when the person detector
    /// serves counting and masks nothing (auto; docs/models.md, "Scale").
    pub quiet_tiles_rested: u64,
    /// Of `tiles_run`, tiles whose network input had not changed since their latest inference
    /// (within the last second of stream time): its detections were used again instead of a new
    /// inference (auto; docs/models.md, "Unchanged tiles").
    pub unchanged_tiles_reused: u64,
    /// Whole-frame passes reused likewise (auto).
    pub unchanged_whole_reused: u64,
    /// Boxes that probes' tiles found of people the whole frame had already found surely (score
    /// ≥ 0.5), dropped: a camera that sees its people in the whole frame alone probes with tiles
    /// for smaller people only (auto; docs/models.md, "Scale").
    pub probe_repeats_dropped: u64,
    /// Where tiles look, `[x0, y0, x1, y1]` normalised, when the person detector serves only
    /// counting (around the camera's lines and zones; the whole-frame pass still sees
    /// everything); `None`: every tile.
    pub counting_region: Option<[f32; 4]>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    /// The audit is the same face model as detection's (CenterFace), not an independent one.
    pub model: &'static str,
    /// Its threshold, fixed whatever detection's is.
    pub threshold: f32,
    /// Every how many output frames the audit looked.
    pub every: u32,
    /// The long side the audit's face detector is asked to see frames at: twice detection's
    /// configured input, and at least the largest an adaptive face scale may choose (frames
    /// smaller than that are scaled up, at most 2×).
    pub input_long_side: u32,
    #[serde(flatten)]
    pub counts: AuditCounts,
}

impl PrivacyReport {
    pub fn new(output: &Path, job: &JobReport, settings: &RedactionSettings) -> Self {
        let detection = settings.target.needs_detection().then(|| {
            let plan = &job.plan;
            // The person detector runs for heads and persons, and for counting whatever the target
            // (seen from its passes when its tiles adapt).
            let persons =
                settings.target.masks_persons() || plan.person_scale.passes_by_level.iter().any(|&n| n > 0);
            // The planner's timing once it saw a frame; the settings as stated before that.
            let timing = plan.timing;
            let (every, lookahead, staleness) = if timing.every > 0 {
                (timing.every, timing.lookahead, timing.max_staleness)
            } else {
                (settings.detect_every, settings.temporal.lookahead, settings.temporal.max_staleness)
            };
            let follow = settings.temporal.follow_rate;
            DetectionReport {
                detect_every: every,
                lookahead_frames: lookahead,
                max_staleness_frames: staleness,
                stream_fps: timing.fps(),
                fitted_to_frame_rate: timing.fps().is_some()
                    && (follow.detect_every || follow.lookahead || follow.max_staleness || follow.tracker),
                passes: plan.passes,
                failed_passes: plan.failed_passes,
                frames_masked: plan.masked_frames,
                frames_with_masks: plan.frames_with_masks,
                masks_per_frame_mean: plan.masks as f64 / plan.masked_frames.max(1) as f64,
                masks_per_frame_max: plan.max_masks,
                frames_fail_closed: FailClosed {
                    detector_error: plan.fail_closed_error,
                    invalid_output: plan.fail_closed_invalid,
                    stale: plan.fail_closed_stale,
                    dropped: plan.dropped,
                },
                max_staleness_seen: plan.max_staleness,
                frames_detection_put_off: plan.postponed,
                bridges: plan.bridges,
                frames_bridged: plan.frames_bridged,
                models: Models {
                    face: crate::detect::face::CENTERFACE_FILE.to_owned(),
                    face_input_long_side: settings.detector.faces.input_long_side,
                    face_scale: settings
                        .detector
                        .faces_adapt(settings.target)
                        .then(|| face_scale(settings, &plan.face_scale)),
                    face_threshold: settings.detector.faces.threshold,
                    person: persons.then(|| crate::detect::person::PERSON_MODEL_FILE.to_owned()),
                    person_threshold: persons.then_some(settings.detector.persons.threshold),
                    person_tiling: persons.then(|| person_tiling(settings, &plan.person_scale)),
                    face_inferences_reused: plan.faces_reused,
                    execution_provider: settings.detector.faces.provider.name().to_owned(),
                    threads: settings.detector.faces.threads.intra,
                },
            }
        });
        let audit = settings.audit.map(|(input_long_side, every)| AuditReport {
            model: crate::detect::face::CENTERFACE_FILE,
            threshold: crate::camera::AUDIT_THRESHOLD,
            every: job.audit_every.unwrap_or(every),
            input_long_side,
            counts: job.audit,
        });
        Self {
            obscura: env!("CARGO_PKG_VERSION"),
            output: output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            frames: job.frames,
            target: settings.target.name().to_owned(),
            method: settings.method.name().to_owned(),
            fixed_masks: settings.fixed_masks,
            detection,
            audit,
        }
    }

    /// One line for stderr.
    pub fn summary(&self) -> String {
        let mut line = format!("privacy: {} frames, target {}", self.frames, self.target);
        if let Some(d) = &self.detection {
            line += &format!(
                "; {} detection passes, masks on {} frames ({:.1} per frame, max {}), fail-closed {} \
                 (detector errors {}, invalid detector output {}, stale {}), max staleness {} frames",
                d.passes,
                d.frames_with_masks,
                d.masks_per_frame_mean,
                d.masks_per_frame_max,
                d.frames_fail_closed.detector_error
                    + d.frames_fail_closed.invalid_output
                    + d.frames_fail_closed.stale,
                d.frames_fail_closed.detector_error,
                d.frames_fail_closed.invalid_output,
                d.frames_fail_closed.stale,
                d.max_staleness_seen
            );
        }
        if let Some(a) = &self.audit {
            let c = &a.counts;
            line += &format!(
                "; residual audit (same face model at {} px, twice detection's configured input or more): \
                 {} frames checked, \
                 {} face-like shape(s) inside masks, {} possible miss(es) outside masks in {} frame(s)",
                a.input_long_side,
                c.frames_checked,
                c.faces_in_masks,
                c.faces_outside_masks,
                c.frames_with_faces_outside
            );
            if c.skipped_busy > 0 {
                line += &format!(" ({} frame(s) due skipped while the previous audit ran)", c.skipped_busy);
            }
            if c.faces_outside_masks > 0 && self.target == "faces" {
                line += " (faces too small for the face detector? target heads masks people's heads too)";
            }
        }
        line
    }

    /// Writes the report beside `output` as `NAME.privacy.json` (via a temporary file, so a
    /// reader never sees half of it) and returns its path.
    pub fn write_beside(&self, output: &Path) -> std::io::Result<PathBuf> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        let mut temp = crate::sink::TempOutput::create(&sidecar_path(output))?;
        std::io::Write::write_all(temp.file(), (text + "\n").as_bytes())?;
        temp.commit()
    }
}

/// The face detector's scale choices (see [`Models::face_scale`]).
#[derive(Debug, Clone, Serialize)]
pub struct FaceScaleReport {
    /// The input long side of each level, px, for frames at least that large (a smaller frame is
    /// seen at its own size).
    pub level_inputs: Vec<u32>,
    /// Passes at each level, probes included.
    pub passes_by_level: Vec<u64>,
    /// Passes at the highest level to look for faces smaller than the chosen level sees.
    pub probe_passes: u64,
    /// Times the chosen level changed.
    pub level_changes: u64,
    /// The input long side of the latest pass, px.
    pub latest_input: u32,
}

fn face_scale(
    settings: &RedactionSettings,
    used: &crate::detect::face_scale::FaceScaleUse,
) -> FaceScaleReport {
    use crate::detect::face_scale::{LEVELS, level_input};
    let base = settings.detector.faces.input_long_side;
    FaceScaleReport {
        level_inputs: (0..LEVELS.len()).map(|level| level_input(base, level)).collect(),
        passes_by_level: used.passes_by_level.to_vec(),
        probe_passes: used.probes,
        level_changes: used.changes,
        latest_input: used.latest_input,
    }
}

fn person_tiling(settings: &RedactionSettings, used: &crate::detect::scale::ScaleUse) -> PersonTiling {
    let last = used.passes_by_level.iter().rposition(|&n| n > 0).map_or(0, |i| i + 1);
    let counting_region = settings.detector.persons.region.map(|r| [r.x0, r.y0, r.x1, r.y1]);
    match settings.detector.persons.tiling {
        crate::detect::Tiling::Auto => PersonTiling {
            mode: "auto".to_owned(),
            latest: used.grid_name(),
            passes_by_level: used.passes_by_level[..last].to_vec(),
            probe_passes: used.probes,
            level_changes: used.changes,
            tiles_run: used.tiles_run,
            quiet_tiles_rested: used.tiles_rested,
            unchanged_tiles_reused: used.tiles_reused,
            unchanged_whole_reused: used.whole_reused,
            probe_repeats_dropped: used.probe_repeats,
            counting_region,
        },
        fixed @ (crate::detect::Tiling::Grid { .. } | crate::detect::Tiling::Wide) => PersonTiling {
            mode: match fixed {
                crate::detect::Tiling::Grid { cols, rows } => format!("{cols}x{rows}"),
                _ => "wide".to_owned(),
            },
            latest: String::new(),
            passes_by_level: Vec::new(),
            probe_passes: 0,
            level_changes: 0,
            tiles_run: 0,
            quiet_tiles_rested: 0,
            unchanged_tiles_reused: 0,
            unchanged_whole_reused: 0,
            probe_repeats_dropped: 0,
            counting_region,
        },
    }
}

/// Writes the privacy report beside `output` (before the output itself appears); returns its path.
pub fn write_report(output: &Path, job: &JobReport, settings: &RedactionSettings) -> Result<PathBuf, String> {
    PrivacyReport::new(output, job, settings)
        .write_beside(output)
        .map_err(|err| format!("cannot write the privacy report: {err}"))
}

/// The privacy report's summary line, and where it is.
pub fn report_line(output: &Path, job: &JobReport, settings: &RedactionSettings) -> String {
    let report = PrivacyReport::new(output, job, settings);
    format!("{} → {}", report.summary(), sidecar_path(output).display())
}

/// A job's companion: its privacy report, written before its output appears.
pub fn companion<'d>(output: &Path, settings: &'d RedactionSettings) -> crate::pipeline::Companion<'d> {
    let output = output.to_owned();
    Box::new(move |job: &JobReport| write_report(&output, job, settings))
}

/// Where the report of `output` goes: `out.mp4` → `out.mp4.privacy.json`.
pub fn sidecar_path(output: &Path) -> PathBuf {
    let mut name = output.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".privacy.json");
    output.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sidecar_sits_beside_the_output() {
        assert_eq!(sidecar_path(Path::new("out/a.mp4")), Path::new("out/a.mp4.privacy.json"));
        assert_eq!(sidecar_path(Path::new("b.png")), Path::new("b.png.privacy.json"));
    }
}
