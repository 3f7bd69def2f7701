//! Phase two: `RawConfig` → `Config`, checking what the values mean and reporting every problem
//! at the offending value (or at the table header when a key is missing).

use std::collections::HashMap;
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use toml::Spanned;

use super::diagnostics::Report;
use super::raw::{
    RawCamera, RawClips, RawConfig, RawCounts, RawDetector, RawLine, RawMaskNode, RawMqtt, RawOutput,
    RawRedact, RawRtsp, RawZone,
};
use super::recover::Dropped;
use super::{
    CameraConfig, Config, CountsConfig, EncoderSettings, MqttSettings, OutputConfig, RedactConfig,
    RtspSettings, Secret, Source, Transport,
};
use crate::count::{Line, Zone};
use crate::detect::{DetectorSettings, ExecutionProvider, Threads, Tiling};
use crate::geometry::Anchor;
use crate::geometry::Point;
use crate::redact::color::Rgb;
use crate::redact::policy::{Method, Target};

/// Checks `raw`, reporting every problem into `report`; the `Config` is only meaningful when
/// `report` stayed empty.
pub(super) fn config(raw: RawConfig, dropped: &Dropped, base_dir: &Path, report: &mut Report<'_>) -> Config {
    let mut validator = Validator {
        report,
        dropped,
        base_dir,
        names: HashMap::new(),
        videos: HashMap::new(),
        clips_dir: None,
    };
    validator.config(raw)
}

const NO_CAMERA: &str = "no camera: add at least one [[camera]] table with a `name` and a `source`";

const EXAMPLE_MASK: &str = "masks = [[[0.0, 0.0], [0.5, 0.0], [0.5, 0.5]]]";

struct Validator<'a, 't> {
    report: &'a mut Report<'t>,
    dropped: &'a Dropped,
    base_dir: &'a Path,
    /// Camera names seen so far, with the offset of their value.
    names: HashMap<String, usize>,
    /// Output videos seen so far (resolved), with the offset of their value.
    videos: HashMap<PathBuf, usize>,
    /// The clips folder of the first camera with clips, and where it was given.
    clips_dir: Option<(PathBuf, usize)>,
}

impl Validator<'_, '_> {
    fn config(&mut self, raw: RawConfig) -> Config {
        let cameras = match raw.camera {
            Some(list) if list.get_ref().is_empty() => {
                self.report.error(list.span().start, NO_CAMERA);
                Vec::new()
            }
            Some(list) => list.into_inner(),
            None => {
                if !self.dropped.any_in("") {
                    self.report.error(0, NO_CAMERA);
                }
                Vec::new()
            }
        };
        let detector = self.detector(raw.detector.map(Spanned::into_inner).unwrap_or_default());
        // `filter_map` visits every camera, so each one's problems are reported.
        let cameras = cameras.into_iter().enumerate().filter_map(|(i, c)| self.camera(i, c)).collect();
        let redaction_threads = raw.redaction.and_then(|r| r.into_inner().threads).and_then(|t| {
            self.int_in(
                t,
                "threads",
                1,
                256,
                "redaction threads shared by every camera; default: the number of cores",
            )
            .map(|n| n as usize)
        });
        let counts = self.counts(raw.counts.map(Spanned::into_inner).unwrap_or_default());
        let http = raw.http.map(Spanned::into_inner).unwrap_or_default();
        let http_token = self.secret(http.token_file, http.token_env, "token");
        let has_token = http_token.is_some();
        let http_listen = http.listen.and_then(|l| {
            let at = l.span().start;
            match l.get_ref().parse::<std::net::SocketAddr>() {
                Ok(addr) if addr.ip().is_loopback() || has_token => Some(addr),
                Ok(addr) => {
                    self.report.error(
                        at,
                        format!(
                            "listen {addr}: a server on a non-loopback address needs a bearer token: add \
                             token_file or token_env, or listen on 127.0.0.1"
                        ),
                    );
                    None
                }
                Err(_) => {
                    self.report.error(
                        at,
                        format!("listen {:?} is not an address:port, e.g. \"127.0.0.1:9464\"", l.get_ref()),
                    );
                    None
                }
            }
        });
        Config {
            cameras,
            detector: detector.unwrap_or_default(),
            redaction_threads,
            counts: counts.unwrap_or_default(),
            http_listen,
            http_token,
        }
    }

    fn detector(&mut self, raw: RawDetector) -> Option<DetectorSettings> {
        let mut settings = DetectorSettings::default();
        let mut ok = true;
        if let Some(threads) = raw.threads {
            match self.int_in(
                threads,
                "threads",
                1,
                256,
                "inference threads per camera; default: the number of cores",
            ) {
                Some(n) => {
                    let threads = Threads { intra: n as usize, ..settings.faces.threads };
                    settings.faces.threads = threads;
                    settings.persons.threads = threads;
                }
                None => ok = false,
            }
        }
        if let Some(reuse) = raw.reuse_unchanged_tiles {
            settings.persons.reuse_unchanged = *reuse.get_ref();
            settings.faces.reuse_unchanged = *reuse.get_ref();
        }
        if let Some(spin) = raw.spin {
            settings.faces.threads.spin = *spin.get_ref();
            settings.persons.threads.spin = *spin.get_ref();
        }
        if let Some(provider) = raw.execution_provider {
            match self.parse_value::<ExecutionProvider>(provider) {
                Some(p) => {
                    settings.faces.provider = p;
                    settings.persons.provider = p;
                }
                None => ok = false,
            }
        }
        if let Some(side) = raw.face_input {
            match self.int_in(
                side,
                "face_input",
                128,
                4096,
                "the long side faces are detected at; default 640",
            ) {
                Some(n) => {
                    settings.faces.input_long_side = n;
                    settings.faces.adaptive = false;
                }
                None => ok = false,
            }
        }
        if let Some(t) = raw.face_threshold {
            match self.score(t, "face_threshold", settings.faces.threshold) {
                Some(t) => settings.faces.threshold = t,
                None => ok = false,
            }
        }
        if let Some(t) = raw.person_threshold {
            match self.score(t, "person_threshold", settings.persons.threshold) {
                Some(t) => settings.persons.threshold = t,
                None => ok = false,
            }
        }
        if let Some(tiles) = raw.face_tiles {
            match self.tiles(tiles, "face_tiles", "default [1, 1]: the whole frame only") {
                Some(tiling) => settings.faces.tiling = tiling,
                None => ok = false,
            }
        }
        if let Some(tiles) = raw.person_tiles {
            let at = tiles.span();
            let grid = |items: &[toml::Value]| -> Option<Vec<Spanned<i64>>> {
                items.iter().map(|v| v.as_integer().map(|n| Spanned::new(at.clone(), n))).collect()
            };
            let tiling = match tiles.into_inner() {
                toml::Value::String(name) if name == "auto" => Some(Tiling::Auto),
                toml::Value::String(name) if name == "wide" => Some(Tiling::Wide),
                toml::Value::String(name) => {
                    self.report.error(
                        at.start,
                        format!(
                            "person_tiles {name:?}: use \"auto\" (chosen from the people seen, the default), \"wide\" \
                             (tiles across wide frames only, constant cost) or [columns, rows]"
                        ),
                    );
                    None
                }
                toml::Value::Array(items) => match grid(&items) {
                    Some(grid) => self.tiles(
                        Spanned::new(at, grid),
                        "person_tiles",
                        "or \"auto\", the default, or \"wide\"",
                    ),
                    None => {
                        self.report.error(
                            at.start,
                            "person_tiles must be [columns, rows] of whole numbers, \"auto\" or \"wide\"",
                        );
                        None
                    }
                },
                _ => {
                    self.report.error(at.start, "person_tiles must be [columns, rows], \"auto\" or \"wide\"");
                    None
                }
            };
            match tiling {
                Some(tiling) => settings.persons.tiling = tiling,
                None => ok = false,
            }
        }
        ok.then_some(settings)
    }

    fn int_in(&mut self, raw: Spanned<i64>, key: &str, min: u32, max: u32, what: &str) -> Option<u32> {
        let n = *raw.get_ref();
        let valid = u32::try_from(n).ok().filter(|n| (min..=max).contains(n));
        if valid.is_none() {
            self.report
                .error(raw.span().start, format!("{key} {n} is out of range: use {min}..={max} ({what})"));
        }
        valid
    }

    fn score(&mut self, raw: Spanned<f64>, key: &str, default: f32) -> Option<f32> {
        let t = *raw.get_ref();
        if !(0.01..=0.99).contains(&t) {
            self.report.error(
                raw.span().start,
                format!(
                    "{key} {t} is out of range: use 0.01..=0.99 (lower finds more, with more false \
                     masks; default {default})"
                ),
            );
            return None;
        }
        Some(t as f32)
    }

    fn tiles(&mut self, raw: Spanned<Vec<Spanned<i64>>>, key: &str, default: &str) -> Option<Tiling> {
        let at = raw.span().start;
        let items = raw.into_inner();
        let [cols, rows] = items.as_slice() else {
            self.report.error(at, format!("{key} must be [columns, rows], e.g. [2, 1] ({default})"));
            return None;
        };
        let what = "tiles across the frame, each seen at the detector's input size";
        let cols = self.int_in(cols.clone(), &format!("{key} columns"), 1, 8, what);
        let rows = self.int_in(rows.clone(), &format!("{key} rows"), 1, 8, what);
        Some(Tiling::Grid { cols: cols?, rows: rows? })
    }

    fn camera(&mut self, index: usize, raw: Spanned<RawCamera>) -> Option<CameraConfig> {
        let header = raw.span().start;
        let table = format!("camera[{index}]");
        let raw = raw.into_inner();
        let quiet = self.dropped.any_in(&table);

        let name = match raw.name {
            Some(name) => self.name(name),
            None => self.missing(header, quiet, "camera has no `name`: add one, e.g. name = \"entrance\""),
        };
        let source = match raw.source {
            Some(source) => self.source(source),
            None => self.missing(
                header,
                quiet,
                "camera has no `source`: add a file path, a file:// URL or an rtsp:// URL, \
                 e.g. source = \"rtsp://192.0.2.10/stream1\"",
            ),
        };
        let redact = match raw.redact {
            Some(redact) => {
                let quiet = self.dropped.any_in(&format!("{table}.redact"));
                self.redact(redact.span().start, redact.into_inner(), quiet)
            }
            None => self.redact(header, RawRedact::default(), quiet),
        };
        let raw_video_at =
            raw.output.as_ref().and_then(|o| o.get_ref().video.as_ref().map(|v| v.span().start));
        let start_time_at = raw.start_time.as_ref().map(|t| t.span().start);
        let output = self.output(raw.output.map(Spanned::into_inner).unwrap_or_default());
        let mut names = HashMap::new();
        let lines: Vec<Option<Line>> =
            raw.line.unwrap_or_default().into_iter().map(|l| self.line(l, &mut names)).collect();
        let zones: Vec<Option<Zone>> =
            raw.zone.unwrap_or_default().into_iter().map(|z| self.zone(z, &mut names)).collect();
        let start_time_ms = match raw.start_time {
            Some(t) => match crate::clock::from_toml(t.get_ref()) {
                Some(ms) => Some(Some(ms)),
                None => {
                    self.report.error(
                        t.span().start,
                        "start_time must be a date and time with its offset, after 1970, e.g. \
                         start_time = 2026-11-22T10:00:00+01:00",
                    );
                    None
                }
            },
            None => Some(None),
        };
        let live = matches!(source, Some(Source::Rtsp(_)));
        let rtsp = match raw.rtsp {
            Some(rtsp) if matches!(source, Some(Source::File(_))) => {
                self.report.error(
                    rtsp.span().start,
                    "[camera.rtsp] is for rtsp:// sources; this camera reads a file",
                );
                None
            }
            Some(rtsp) => self.rtsp(rtsp.into_inner()),
            None => Some(RtspSettings::default()),
        };
        let clips_at = raw.clips.as_ref().map(|c| c.span().start);
        let clips = match raw.clips {
            Some(clips) => {
                let at = clips.span().start;
                let line_names: Vec<&str> = lines.iter().flatten().map(Line::name).collect();
                let zone_names: Vec<&str> = zones.iter().flatten().map(Zone::name).collect();
                self.clips(at, clips.into_inner(), &line_names, &zone_names).map(Some)
            }
            None => Some(None),
        };
        if let (Some(Some(clips)), Some(redact)) = (&clips, &redact) {
            let counting = lines.iter().any(Option::is_some) || zones.iter().any(Option::is_some);
            if clips.on.contains(&crate::clips::ClipTrigger::People)
                && !redact.target.needs_detection()
                && !counting
            {
                self.report.error(
                    clips_at.unwrap_or(header),
                    format!(
                        "clips on \"people\" need a detector, and target {:?} runs none without lines or zones: \
                         use target \"faces\", \"heads\" or \"persons\", or add a line or zone",
                        redact.target.name()
                    ),
                );
            }
        }
        if live {
            if let Some(video) = &raw_video_at {
                self.report.error(
                    *video,
                    "a live camera's video is not written to one endless file: leave out `video` (frames are \
                     redacted for counting; event clips of redacted frames come with [camera.clips])",
                );
            }
            if let Some(at) = start_time_at {
                self.report
                    .error(at, "start_time is for files: a live camera's counts are stamped by the clock");
            }
        }
        Some(CameraConfig {
            name: name?,
            source: source?,
            redact: redact?,
            output: output?,
            lines: lines.into_iter().collect::<Option<_>>()?,
            zones: zones.into_iter().collect::<Option<_>>()?,
            start_time_ms: start_time_ms?,
            rtsp: rtsp?,
            clips: clips?,
        })
    }

    /// `[camera.clips]` (at `header`), whose line and zone triggers must name the camera's own.
    fn clips(
        &mut self,
        header: usize,
        raw: RawClips,
        lines: &[&str],
        zones: &[&str],
    ) -> Option<crate::clips::ClipsConfig> {
        use crate::clips::{ClipTrigger, ClipsConfig};
        let mut ok = true;
        let (dir, dir_at) = match raw.dir {
            Some(d) if d.get_ref().trim().is_empty() => {
                self.report
                    .error(d.span().start, "dir is empty: give the clips folder, e.g. dir = \"clips\"");
                return None;
            }
            Some(d) => (self.base_dir.join(d.get_ref()), d.span().start),
            None => (self.base_dir.join("clips"), header),
        };
        match &self.clips_dir {
            Some((first, first_at)) if *first != dir => {
                let line = self.report.line_of(*first_at);
                self.report.error(
                    dir_at,
                    format!(
                        "clips go to {} here but to {} on line {line}: every camera's clips share one folder \
                         (the API lists them from one index)",
                        dir.display(),
                        first.display()
                    ),
                );
                ok = false;
            }
            Some(_) => {}
            None => self.clips_dir = Some((dir.clone(), dir_at)),
        }
        let mut config = ClipsConfig::new(dir);
        if let Some(on) = raw.on {
            let at = on.span().start;
            let items = on.into_inner();
            if items.is_empty() {
                self.report.error(at, "on is empty: name what starts a clip, e.g. on = [\"people\"]");
                ok = false;
            }
            let mut triggers = Vec::new();
            for item in items {
                let at = item.span().start;
                let text = item.get_ref();
                let Some(trigger) = ClipTrigger::parse(text) else {
                    self.report.error(
                        at,
                        format!(
                            "{text:?} is not a clip trigger: use \"people\", \"line\", \"zone\", \"line:NAME\" or \"zone:NAME\""
                        ),
                    );
                    ok = false;
                    continue;
                };
                let problem = match &trigger {
                    ClipTrigger::People => None,
                    ClipTrigger::Line(None) if lines.is_empty() => Some(
                        "\"line\" starts clips on line crossings, but this camera has no [[camera.line]]"
                            .to_owned(),
                    ),
                    ClipTrigger::Zone(None) if zones.is_empty() => Some(
                        "\"zone\" starts clips on people in a zone, but this camera has no [[camera.zone]]"
                            .to_owned(),
                    ),
                    ClipTrigger::Line(Some(name)) if !lines.contains(&name.as_str()) => {
                        Some(format!("this camera has no line {name:?} (its lines: {})", lines.join(", ")))
                    }
                    ClipTrigger::Zone(Some(name)) if !zones.contains(&name.as_str()) => {
                        Some(format!("this camera has no zone {name:?} (its zones: {})", zones.join(", ")))
                    }
                    _ => None,
                };
                match problem {
                    Some(problem) => {
                        self.report.error(at, problem);
                        ok = false;
                    }
                    None => triggers.push(trigger),
                }
            }
            config.on = triggers;
        }
        let mut duration =
            |raw: Option<Spanned<String>>, key: &str, range: (u64, u64), hint: &str, into: &mut u64| {
                if let Some(d) = raw {
                    let units = ["s", "m", "min", "h", "d"];
                    match crate::clock::parse_duration_ms(d.get_ref(), &units)
                        .filter(|ms| (range.0..=range.1).contains(ms))
                    {
                        Some(ms) => *into = ms,
                        None => {
                            self.report
                                .error(d.span().start, format!("{key} {:?} is not {hint}", d.get_ref()));
                            ok = false;
                        }
                    }
                }
            };
        duration(
            raw.pre,
            "pre",
            (0, 60_000),
            "a pre-roll from \"0s\" to \"60s\", e.g. \"5s\"",
            &mut config.pre_ms,
        );
        duration(
            raw.post,
            "post",
            (0, 600_000),
            "a post-roll from \"0s\" to \"10m\", e.g. \"5s\"",
            &mut config.post_ms,
        );
        duration(
            raw.max_length,
            "max_length",
            (10_000, 3_600_000),
            "a clip length from \"10s\" to \"1h\", e.g. \"5m\"",
            &mut config.max_length_ms,
        );
        let mut max_age = 0;
        duration(
            raw.max_age,
            "max_age",
            (60_000, u64::MAX),
            "an age of a minute or more, e.g. \"7d\"",
            &mut max_age,
        );
        config.retention.max_age_ms = (max_age > 0).then_some(max_age);
        let mut size = |raw: Option<Spanned<String>>, key: &str, min: u64, hint: &str| -> Option<u64> {
            let d = raw?;
            match parse_bytes(d.get_ref()).filter(|&b| b >= min) {
                Some(b) => Some(b),
                None => {
                    self.report.error(d.span().start, format!("{key} {:?} is not {hint}", d.get_ref()));
                    ok = false;
                    None
                }
            }
        };
        config.retention.max_bytes =
            size(raw.max_size, "max_size", 1_000_000, "a size of 1MB or more, e.g. \"20GB\"");
        if let Some(memory) =
            size(raw.memory, "memory", 8_000_000, "a buffer size of 8MB or more, e.g. \"256MB\"")
        {
            config.memory_bytes = memory;
        }
        ok.then_some(config)
    }

    fn rtsp(&mut self, raw: RawRtsp) -> Option<RtspSettings> {
        let mut settings = RtspSettings::default();
        let mut ok = true;
        if let Some(t) = raw.transport {
            match self.parse_value::<Transport>(t) {
                Some(t) => settings.transport = t,
                None => ok = false,
            }
        }
        settings.user = raw.user.map(Spanned::into_inner);
        let has_secret = raw.password_file.is_some() || raw.password_env.is_some();
        let secret_at = raw.password_file.as_ref().or(raw.password_env.as_ref()).map(|s| s.span().start);
        settings.password = self.secret(raw.password_file, raw.password_env, "password");
        if has_secret && settings.password.is_none() {
            ok = false;
        }
        if settings.password.is_some() && settings.user.is_none() {
            self.report.error(
                secret_at.unwrap_or_default(),
                "a password without `user`: add the camera account the password belongs to",
            );
            ok = false;
        }
        let mut duration = |raw: Option<Spanned<String>>, key: &str, into: &mut std::time::Duration| {
            if let Some(d) = raw {
                match parse_duration_ms(d.get_ref()).filter(|&ms| (1000..=600_000).contains(&ms)) {
                    Some(ms) => *into = std::time::Duration::from_millis(ms),
                    None => {
                        self.report.error(
                            d.span().start,
                            format!("{key} {:?} is not a duration from 1s to 10m, e.g. \"10s\"", d.get_ref()),
                        );
                        ok = false;
                    }
                }
            }
        };
        duration(raw.watchdog, "watchdog", &mut settings.watchdog);
        duration(raw.connect_timeout, "connect_timeout", &mut settings.connect_timeout);
        ok.then_some(settings)
    }

    /// A secret named by `NAME_file` (a path, relative to the config) or `NAME_env` (a variable
    /// name); both at once is an error.
    fn secret(
        &mut self,
        file: Option<Spanned<String>>,
        env: Option<Spanned<String>>,
        what: &str,
    ) -> Option<Secret> {
        match (file, env) {
            (Some(_), Some(env)) => {
                self.report
                    .error(env.span().start, format!("{what}_file and {what}_env both given: keep one"));
                None
            }
            (Some(file), None) if file.get_ref().trim().is_empty() => {
                self.report
                    .error(file.span().start, format!("{what}_file is empty: give the path of the file"));
                None
            }
            (Some(file), None) => Some(Secret::File(self.base_dir.join(file.into_inner()))),
            (None, Some(env)) => {
                let name = env.get_ref();
                let valid = !name.is_empty()
                    && !name.starts_with(|c: char| c.is_ascii_digit())
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if valid {
                    Some(Secret::Env(env.into_inner()))
                } else {
                    self.report.error(
                        env.span().start,
                        format!(
                            "{what}_env {name:?} is not an environment variable name, e.g. \"OBSCURA_TOKEN\""
                        ),
                    );
                    None
                }
            }
            (None, None) => None,
        }
    }

    fn anchor(&mut self, raw: Option<Spanned<String>>) -> Option<Anchor> {
        match raw {
            None => Some(Anchor::BottomCenter),
            Some(a) => {
                let anchor = Anchor::from_name(a.get_ref());
                if anchor.is_none() {
                    self.report.error(
                        a.span().start,
                        format!(
                            "unknown anchor {:?}: expected \"bottom\" (the feet, default) or \"center\"",
                            a.get_ref()
                        ),
                    );
                }
                anchor
            }
        }
    }

    /// A normalised `[x, y]` point of a line or zone.
    fn norm_point(&mut self, at: usize, xy: &[f64], what: &str) -> Option<crate::geometry::Point> {
        match xy {
            [x, y] if (0.0..=1.0).contains(x) && (0.0..=1.0).contains(y) => {
                Some(crate::geometry::Point::new(*x as f32, *y as f32))
            }
            _ => {
                self.report.error(
                    at,
                    format!("{what} must be [x, y] with x and y between 0 and 1 (fractions of the frame), e.g. [0.5, 0]"),
                );
                None
            }
        }
    }

    /// A line or zone name, unique within its camera.
    fn count_name(
        &mut self,
        header: usize,
        raw: Option<Spanned<String>>,
        kind: &str,
        names: &mut HashMap<String, usize>,
    ) -> Option<String> {
        let Some(raw) = raw else {
            self.report.error(header, format!("{kind} has no `name`: add one, e.g. name = \"door\""));
            return None;
        };
        let at = raw.span().start;
        let name = raw.into_inner();
        if let Err(message) = check_name(&format!("{kind} name"), &name) {
            self.report.error(at, message);
            return None;
        }
        if let Some(&first) = names.get(&name) {
            let line = self.report.line_of(first);
            self.report.error(
                at,
                format!("duplicate line or zone name {name:?} in this camera, already used on line {line}"),
            );
            return None;
        }
        names.insert(name.clone(), at);
        Some(name)
    }

    fn line(&mut self, raw: Spanned<RawLine>, names: &mut HashMap<String, usize>) -> Option<Line> {
        let header = raw.span().start;
        let raw = raw.into_inner();
        let name = self.count_name(header, raw.name, "line", names);
        let end = |this: &mut Self, value: Option<Spanned<Vec<f64>>>, key: &str| match value {
            Some(v) => this.norm_point(v.span().start, v.get_ref(), &format!("`{key}`")),
            None => {
                this.report.error(header, format!("line has no `{key}`: add it, e.g. {key} = [0.5, 0]"));
                None
            }
        };
        let from = end(self, raw.from, "from");
        let to = end(self, raw.to, "to");
        let anchor = self.anchor(raw.anchor);
        let (name, from, to, anchor) = (name?, from?, to?, anchor?);
        Line::new(name, from, to, anchor).map_err(|e| self.report.error(header, e.to_string())).ok()
    }

    fn zone(&mut self, raw: Spanned<RawZone>, names: &mut HashMap<String, usize>) -> Option<Zone> {
        let header = raw.span().start;
        let raw = raw.into_inner();
        let name = self.count_name(header, raw.name, "zone", names);
        let polygon = match raw.polygon {
            Some(p) => {
                let at = p.span().start;
                let points: Vec<Option<crate::geometry::Point>> =
                    p.get_ref().iter().map(|xy| self.norm_point(at, xy, "each zone point")).collect();
                let points: Option<Vec<_>> = points.into_iter().collect();
                match points {
                    Some(points) if points.len() >= 3 => Some(points),
                    Some(_) => {
                        self.report.error(at, "a zone polygon needs at least 3 [x, y] points");
                        None
                    }
                    None => None,
                }
            }
            None => {
                self.report.error(
                    header,
                    "zone has no `polygon`: add one, e.g. polygon = [[0, 0], [0.5, 0], [0.5, 1]]",
                );
                None
            }
        };
        let anchor = self.anchor(raw.anchor);
        let (name, polygon, anchor) = (name?, polygon?, anchor?);
        Zone::new(name, polygon, anchor).map_err(|e| self.report.error(header, e.to_string())).ok()
    }

    fn counts(&mut self, raw: RawCounts) -> Option<CountsConfig> {
        let mut counts = CountsConfig::default();
        let mut ok = true;
        if let Some(bucket) = raw.bucket {
            match parse_duration_ms(bucket.get_ref()) {
                Some(ms) if (60_000..=86_400_000).contains(&ms) && 86_400_000 % ms == 0 => {
                    counts.settings.bucket_ms = ms
                }
                _ => {
                    self.report.error(
                        bucket.span().start,
                        format!(
                            "bucket {:?} is not a bucket length: use minutes or hours that divide a day, e.g. \"15m\", \"1h\"",
                            bucket.get_ref()
                        ),
                    );
                    ok = false;
                }
            }
        }
        if let Some(stitch) = raw.stitch {
            match parse_duration_ms(stitch.get_ref()) {
                Some(ms) if ms <= 30_000 => counts.settings.stitch_ms = ms,
                _ => {
                    self.report.error(
                        stitch.span().start,
                        format!(
                            "stitch {:?} is not a stitching window: use seconds from \"0s\" (off) to \"30s\", e.g. \"2s\"",
                            stitch.get_ref()
                        ),
                    );
                    ok = false;
                }
            }
        }
        if let Some(k) = raw.min_count {
            match self.int_in(
                k,
                "min_count",
                0,
                1000,
                "counts below it are published as \"<k\"; 0 = no floor",
            ) {
                Some(k) => counts.min_count = u64::from(k),
                None => ok = false,
            }
        }
        counts.jsonl = raw.jsonl.map(|p| self.base_dir.join(p.into_inner()));
        counts.csv = raw.csv.map(|p| self.base_dir.join(p.into_inner()));
        let mqtt = raw.mqtt.is_some();
        if let Some(m) = raw.mqtt {
            let at = m.span().start;
            match self.mqtt(at, m.into_inner()) {
                Some(settings) => counts.mqtt = Some(settings),
                None => ok = false,
            }
        }
        counts.sqlite = match raw.sqlite {
            Some(p) => Some(self.base_dir.join(p.into_inner())),
            // The embedded default, when nothing else is configured; MQTT's outbox lives in it.
            None if mqtt || (counts.jsonl.is_none() && counts.csv.is_none()) => {
                Some(self.base_dir.join("counts.sqlite"))
            }
            None => None,
        };
        ok.then_some(counts)
    }

    fn mqtt(&mut self, header: usize, raw: RawMqtt) -> Option<MqttSettings> {
        let quiet = self.dropped.any_in("counts.mqtt");
        let mut ok = true;
        let host = match raw.host {
            Some(h) if h.get_ref().trim().is_empty() || h.get_ref().contains(['/', ' ']) => {
                self.report.error(
                    h.span().start,
                    format!("host {:?} is not a host name or address, e.g. \"127.0.0.1\"", h.get_ref()),
                );
                None
            }
            Some(h) => Some(h.into_inner()),
            None => self.missing(
                header,
                quiet,
                "[counts.mqtt] has no `host`: add the broker's address, e.g. host = \"127.0.0.1\"",
            ),
        };
        let mut settings = MqttSettings::new(host.clone().unwrap_or_default());
        if let Some(port) = raw.port {
            match self.int_in(port, "port", 1, 65535, "the broker's TCP port; default 1883") {
                Some(p) => settings.port = p as u16,
                None => ok = false,
            }
        }
        if let Some(id) = raw.client_id {
            match check_name("client_id", id.get_ref()) {
                Ok(()) => settings.client_id = id.into_inner(),
                Err(message) => {
                    self.report
                        .error(id.span().start, format!("{message} (unique per obscura on the broker)"));
                    ok = false;
                }
            }
        }
        let mut topic = |raw: Option<Spanned<String>>, key: &str, into: &mut String| {
            if let Some(t) = raw {
                let text = t.get_ref();
                let bad = text.is_empty()
                    || text.starts_with('/')
                    || text.ends_with('/')
                    || text.contains("//")
                    || text.contains(['+', '#', '\0']);
                if bad {
                    self.report.error(
                        t.span().start,
                        format!(
                            "{key} {text:?} is not a topic prefix: use levels without wildcards or empty levels, e.g. \"site/obscura\""
                        ),
                    );
                    ok = false;
                } else {
                    *into = t.into_inner();
                }
            }
        };
        topic(raw.topic_prefix, "topic_prefix", &mut settings.topic_prefix);
        let mut discovery_prefix = "homeassistant".to_owned();
        topic(raw.discovery_prefix, "discovery_prefix", &mut discovery_prefix);
        if raw.discovery.is_some_and(|d| *d.get_ref()) {
            settings.discovery_prefix = Some(discovery_prefix);
        }
        settings.username = raw.username.map(Spanned::into_inner);
        if let Some(file) = raw.password_file {
            if settings.username.is_none() {
                self.report.error(
                    file.span().start,
                    "password_file without `username`: add the user name the password belongs to",
                );
                ok = false;
            }
            settings.password_file = Some(self.base_dir.join(file.into_inner()));
        }
        (ok && host.is_some()).then_some(settings)
    }

    /// Reports a missing required key at its table's header, unless phase one dropped a key of
    /// that table (`quiet`), which may be the one meant.
    fn missing<T>(&mut self, header: usize, quiet: bool, message: &str) -> Option<T> {
        if !quiet {
            self.report.error(header, message);
        }
        None
    }

    fn name(&mut self, raw: Spanned<String>) -> Option<String> {
        let at = raw.span().start;
        let name = raw.into_inner();
        if let Err(message) = check_name("camera name", &name) {
            self.report.error(at, message);
            return None;
        }
        if let Some(&first) = self.names.get(&name) {
            let line = self.report.line_of(first);
            self.report.error(
                at,
                format!("duplicate camera name {name:?}, already used on line {line}: give each camera its own name"),
            );
            return None;
        }
        self.names.insert(name.clone(), at);
        Some(name)
    }

    fn source(&mut self, raw: Spanned<String>) -> Option<Source> {
        let at = raw.span().start;
        Source::parse(raw.get_ref(), self.base_dir).map_err(|message| self.report.error(at, message)).ok()
    }

    /// `at` is where a defaulted `target` is blamed: the `[camera.redact]` header, or the
    /// `[[camera]]` header when there is none.
    fn redact(&mut self, at: usize, raw: RawRedact, quiet: bool) -> Option<RedactConfig> {
        let defaults = RedactConfig::default();
        let target_at = raw.target.as_ref().map_or(at, |t| t.span().start);
        let target = match raw.target {
            Some(target) => self.parse_value(target),
            None => Some(defaults.target),
        };
        let method = raw.method.map_or(Some(defaults.method), |m| self.parse_value::<Method>(m));
        let fill_color = raw.fill_color.map_or(Some(defaults.fill_color), |c| self.parse_value::<Rgb>(c));
        let masks = raw.masks.map_or(Some(defaults.masks), |m| self.masks(m));
        if !quiet && target == Some(Target::None) && masks.as_ref().is_some_and(Vec::is_empty) {
            self.report.error(
                target_at,
                "target \"none\" with no masks would pass every frame unredacted: add `masks`, or use \
                 target = \"frame\""
                    .to_owned(),
            );
        }
        let every_written = raw.detect_every.is_some();
        let detect_every = raw.detect_every.map_or(Some(defaults.detect_every), |n| self.detect_every(n));
        let mut temporal = defaults.temporal.clone();
        // By default a frame may be as stale as the gap between detections makes it.
        temporal.max_staleness = temporal.max_staleness.max(detect_every.unwrap_or(1).saturating_sub(1));
        // Settings left at their defaults follow the stream's frame rate; those written are frames.
        temporal.follow_rate.detect_every = !every_written;
        temporal.follow_rate.lookahead = raw.lookahead.is_none();
        temporal.follow_rate.max_staleness = raw.max_staleness.is_none();
        let mut temporal_ok = true;
        if let Some(n) = raw.lookahead {
            let what = "frames held back to mask people before their first detection; default 12";
            match self.int_in(n, "lookahead", 0, 250, what) {
                Some(n) => temporal.lookahead = n,
                None => temporal_ok = false,
            }
        }
        if let Some(on_fail) = raw.on_fail {
            match self.parse_value(on_fail) {
                Some(on_fail) => temporal.on_fail = on_fail,
                None => temporal_ok = false,
            }
        }
        if let Some(n) = raw.max_staleness {
            let at = n.span().start;
            let what = "frames a detection may be old before frames are redacted whole; default 12, or detect_every - 1 if more";
            match self.int_in(n, "max_staleness", 0, 250, what) {
                Some(n) if detect_every.is_some_and(|every| n + 1 < every) => {
                    let every = detect_every.unwrap_or(1);
                    self.report.error(
                        at,
                        format!(
                            "max_staleness {n} is shorter than the gap between detections (detect_every \
                             {every}): every frame between detections would be redacted whole; use at least {}",
                            every - 1
                        ),
                    );
                    temporal_ok = false;
                }
                Some(n) => temporal.max_staleness = n,
                None => temporal_ok = false,
            }
        }
        let audit_follows_rate = raw.audit_every.is_none();
        let audit_every = match raw.audit_every {
            Some(n) => self.int_in(
                n,
                "audit_every",
                0,
                100_000,
                "every N-th output frame searched again for faces; 0 = off",
            ),
            None => Some(defaults.audit_every),
        };
        Some(RedactConfig {
            target: target?,
            method: method?,
            fill_color: fill_color?,
            masks: masks?,
            detect_every: detect_every?,
            temporal: temporal_ok.then_some(temporal)?,
            audit_every: audit_every?,
            audit_follows_rate,
        })
    }

    /// Parses a string value with `FromStr`, reporting its error message at the value.
    fn parse_value<T>(&mut self, raw: Spanned<String>) -> Option<T>
    where
        T: FromStr,
        T::Err: Display,
    {
        raw.get_ref().parse().map_err(|err: T::Err| self.report.error(raw.span().start, err.to_string())).ok()
    }

    fn masks(&mut self, raw: Spanned<RawMaskNode>) -> Option<Vec<Vec<Point>>> {
        let at = raw.span().start;
        let polygons = match raw.into_inner() {
            RawMaskNode::Array(polygons) => polygons,
            other => {
                let found = other.kind();
                self.report.error(
                    at,
                    format!("`masks` must be an array of polygons, found {found}; e.g. {EXAMPLE_MASK}"),
                );
                return None;
            }
        };
        if is_one_bare_polygon(&polygons) {
            self.report.error(
                at,
                format!(
                    "`masks` is an array of polygons and this is a single polygon: wrap it in one more \
                     [ ], e.g. {EXAMPLE_MASK}"
                ),
            );
            return None;
        }
        let polygons: Vec<_> = polygons.into_iter().map(|p| self.polygon(p)).collect();
        polygons.into_iter().collect()
    }

    fn polygon(&mut self, raw: Spanned<RawMaskNode>) -> Option<Vec<Point>> {
        let at = raw.span().start;
        let points = match raw.into_inner() {
            RawMaskNode::Array(points) => points,
            other => {
                let found = other.kind();
                self.report
                    .error(at, format!("a mask polygon must be an array of [x, y] points, found {found}"));
                return None;
            }
        };
        let count = points.len();
        let points: Vec<_> = points.into_iter().map(|p| self.point(p)).collect();
        if count < 3 {
            self.report.error(at, format!("a mask polygon needs at least 3 points, this one has {count}"));
            return None;
        }
        points.into_iter().collect()
    }

    fn point(&mut self, raw: Spanned<RawMaskNode>) -> Option<Point> {
        let at = raw.span().start;
        let coordinates = match raw.into_inner() {
            RawMaskNode::Array(coordinates) => coordinates,
            other => {
                let found = other.kind();
                self.report.error(at, format!("a mask point must be an array [x, y], found {found}"));
                return None;
            }
        };
        match <[_; 2]>::try_from(coordinates) {
            Ok([x, y]) => {
                let (x, y) = (self.coordinate(x), self.coordinate(y));
                Some(Point::new(x? as f32, y? as f32))
            }
            Err(coordinates) => {
                let count = coordinates.len();
                self.report
                    .error(at, format!("a mask point must be [x, y], 2 numbers; this one has {count}"));
                None
            }
        }
    }

    fn coordinate(&mut self, raw: Spanned<RawMaskNode>) -> Option<f64> {
        let at = raw.span().start;
        let message = match raw.into_inner() {
            RawMaskNode::Number(v) if (0.0..=1.0).contains(&v) => return Some(v),
            RawMaskNode::Number(v) if !v.is_finite() => {
                format!("mask coordinate {v} is not a finite number: use a fraction of the frame from 0 to 1")
            }
            RawMaskNode::Number(v) => format!(
                "mask coordinate {v} is outside 0..1: coordinates are fractions of the frame's width (x) \
                 and height (y)"
            ),
            other => format!("a mask coordinate must be a number from 0 to 1, found {}", other.kind()),
        };
        self.report.error(at, message);
        None
    }

    fn output(&mut self, raw: RawOutput) -> Option<OutputConfig> {
        let defaults = EncoderSettings::default();
        let video = raw.video.map_or(Some(None), |v| self.video(v).map(Some));
        let preset = raw.preset.map_or(Some(defaults.preset), |p| self.parse_value(p));
        let crf = raw.crf.map_or(Some(defaults.crf), |c| self.crf(c));
        Some(OutputConfig { video: video?, encoder: EncoderSettings { preset: preset?, crf: crf? } })
    }

    fn video(&mut self, raw: Spanned<String>) -> Option<PathBuf> {
        let at = raw.span().start;
        let video = raw.into_inner();
        if !crate::sink::is_mp4_name(std::path::Path::new(&video)) {
            self.report.error(
                at,
                format!("`video` {video:?} must end in .mp4 or .m4v: the redacted stream is written as MP4"),
            );
            return None;
        }
        let path = self.base_dir.join(&video);
        if let Some(&first) = self.videos.get(&path) {
            let line = self.report.line_of(first);
            self.report.error(
                at,
                format!(
                    "`video` {video:?} is already written by the camera on line {line}: give each camera \
                     its own output file"
                ),
            );
            return None;
        }
        self.videos.insert(path.clone(), at);
        Some(path)
    }

    fn detect_every(&mut self, raw: Spanned<i64>) -> Option<u32> {
        let n = *raw.get_ref();
        let valid = u32::try_from(n).ok().filter(|n| (1..=RedactConfig::MAX_DETECT_EVERY).contains(n));
        if valid.is_none() {
            self.report.error(
                raw.span().start,
                format!(
                    "detect_every {n} is out of range: use 1..={} (1 = detect on every frame)",
                    RedactConfig::MAX_DETECT_EVERY
                ),
            );
        }
        valid
    }

    fn crf(&mut self, raw: Spanned<i64>) -> Option<u8> {
        let crf = *raw.get_ref();
        let valid = u8::try_from(crf).ok().filter(|&c| c <= EncoderSettings::MAX_CRF);
        if valid.is_none() {
            self.report.error(
                raw.span().start,
                format!(
                    "crf {crf} is out of range: use 0..={} (lower is better quality and bigger files; \
                     the default is {})",
                    EncoderSettings::MAX_CRF,
                    EncoderSettings::default().crf
                ),
            );
        }
        valid
    }
}

/// `"15m"`, `"1h"`, `"30s"` as milliseconds (config durations: no days).
fn parse_duration_ms(text: &str) -> Option<u64> {
    crate::clock::parse_duration_ms(text, &["s", "m", "min", "h"])
}

/// `"20GB"`, `"512MB"`, `"1.5GiB"` as bytes (KB, MB, GB, TB: powers of 1000; KiB, MiB, GiB, TiB:
/// of 1024).
fn parse_bytes(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(split);
    let n: f64 = number.parse().ok()?;
    let scale: u64 = match unit.trim() {
        "B" => 1,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        _ => return None,
    };
    let bytes = n * scale as f64;
    (bytes.is_finite() && bytes >= 0.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// Names label logs, counts, output files and MQTT topics, so they are kept short and plain;
/// `what` names the key in the message ("camera name", "line name", "client_id").
fn check_name(what: &str, name: &str) -> Result<(), String> {
    const RULE: &str = "use 1 to 64 letters, digits, '_' or '-'";
    if name.is_empty() {
        return Err(format!("{what} is empty: {RULE}"));
    }
    if let Some(c) = name.chars().find(|&c| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')) {
        return Err(format!("{what} {name:?} contains {c:?}: {RULE}"));
    }
    if name.len() > 64 {
        return Err(format!("{what} is {} characters long: {RULE}", name.len()));
    }
    Ok(())
}

/// Whether `masks` holds points rather than polygons: `[[x, y], [x, y], ...]`, one bracket short.
fn is_one_bare_polygon(polygons: &[Spanned<RawMaskNode>]) -> bool {
    let is_point = |node: &Spanned<RawMaskNode>| match node.get_ref() {
        RawMaskNode::Array(items) => {
            !items.is_empty() && items.iter().all(|i| matches!(i.get_ref(), RawMaskNode::Number(_)))
        }
        _ => false,
    };
    !polygons.is_empty() && polygons.iter().all(is_point)
}
