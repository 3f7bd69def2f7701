//! The TOML config file: its validated form ([`Config`]) and how a file becomes one.
//!
//! Reading happens in two phases, like ripgrep's low-level → high-level arguments:
//! 1. `recover` deserializes the text into the `raw` structs (serde, `deny_unknown_fields`, every
//!    key optional, spans kept), collecting *every* unknown key and wrong type, not just the first;
//! 2. `validate` checks what the values mean (names, URLs, polygons, ranges...) and builds the
//!    `Config`, again collecting every problem.
//!
//! All problems come back together as [`Diagnostics`], one `FILE:LINE:COL: message` each, sorted by
//! position. A TOML syntax error is reported alone. The reference of every key is `docs/config.md`.

mod diagnostics;
mod encoder;
mod raw;
mod recover;
mod source;
mod validate;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use diagnostics::{Diagnostic, Diagnostics};
pub use encoder::{EncoderSettings, X264Preset};
pub use source::{Source, without_password};

use crate::count::{CountSettings, Line, Zone};
use crate::detect::DetectorSettings;
use crate::geometry::Point;
use crate::redact::color::Rgb;
use crate::redact::policy::{Method, Target};
use crate::track::TemporalSettings;

/// A validated config: every value checked, defaults applied, relative paths resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The cameras, in file order; at least one, with unique names and unique output files.
    pub cameras: Vec<CameraConfig>,
    /// `[detector]`: model settings and inference threads, shared by every camera.
    pub detector: DetectorSettings,
    /// `[counts]`: buckets and count sinks, shared by every camera.
    pub counts: CountsConfig,
    /// `[http] listen`: the address `/metrics`, `/healthz` and `/api/cameras` are served on;
    /// default none (no server). Loopback unless a token is set.
    pub http_listen: Option<std::net::SocketAddr>,
    /// `[http] token_file` / `token_env`: the bearer token every request but `/healthz` must
    /// carry; required when `listen` is not a loopback address.
    pub http_token: Option<Secret>,
    /// `[redaction] threads`: the size of the one redaction thread pool every camera shares;
    /// default (`None`) one thread per core.
    pub redaction_threads: Option<usize>,
}

/// One `[[camera]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraConfig {
    /// Unique label in logs, counts and file names: 1 to 64 of `A-Z a-z 0-9 _ -`. Required.
    pub name: String,
    /// Where the video comes from. Required.
    pub source: Source,
    /// What is hidden and how; `[camera.redact]`.
    pub redact: RedactConfig,
    /// Where the redacted video goes; `[camera.output]`.
    pub output: OutputConfig,
    /// Counting lines, `[[camera.line]]`, and zones, `[[camera.zone]]`; names unique per camera.
    pub lines: Vec<Line>,
    pub zones: Vec<Zone>,
    /// The wall-clock time of the start of a file source (`start_time`, RFC 3339), ms since the
    /// Unix epoch: count buckets are stamped from it. Without it, the file's creation time, else
    /// the epoch. (Live sources are stamped by the clock.)
    pub start_time_ms: Option<u64>,
    /// `[camera.rtsp]`: how a live camera is reached and watched (RTSP sources only).
    pub rtsp: RtspSettings,
    /// `[camera.clips]`: event clips of redacted frames, if the camera records them.
    pub clips: Option<crate::clips::ClipsConfig>,
}

/// A secret kept out of the config file: read from a file (its first line) or an environment
/// variable when it is needed, never printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    File(PathBuf),
    Env(String),
}

impl Secret {
    /// The secret's value; the error names where it was looked for, never the value.
    pub fn read(&self) -> Result<String, String> {
        let value = match self {
            Secret::File(path) => std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the secret file {}: {e}", path.display()))?
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned(),
            Secret::Env(name) => std::env::var(name)
                .map_err(|_| format!("the environment variable {name} holding the secret is not set"))?,
        };
        if value.is_empty() {
            return Err(format!("the secret in {} is empty", self.place()));
        }
        Ok(value)
    }

    /// Where the secret is, for messages.
    pub fn place(&self) -> String {
        match self {
            Secret::File(path) => path.display().to_string(),
            Secret::Env(name) => format!("${name}"),
        }
    }

    /// Why the secret cannot be read now, if it cannot (the file is not there, the variable not
    /// set): not a config error, since a camera whose secret is missing retries until it appears,
    /// but worth saying where the config is checked.
    pub fn missing_now(&self) -> Option<&'static str> {
        match self {
            Secret::File(path) => (!path.is_file()).then_some("no such file now"),
            Secret::Env(name) => std::env::var_os(name).is_none().then_some("not set now"),
        }
    }
}

/// How RTSP is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// Interleaved in the RTSP TCP connection: works through NAT and firewalls, no packet loss.
    #[default]
    Tcp,
    /// RTP over UDP: lower latency on a clean LAN, frames lost with packets.
    Udp,
}

impl std::str::FromStr for Transport {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "tcp" => Ok(Transport::Tcp),
            "udp" => Ok(Transport::Udp),
            _ => Err(format!("unknown transport {s:?}: expected tcp or udp")),
        }
    }
}

/// `[camera.rtsp]`: credentials, transport and the watchdog of a live camera.
#[derive(Debug, Clone, PartialEq)]
pub struct RtspSettings {
    /// `transport`: default `tcp`.
    pub transport: Transport,
    /// `user`: the camera account, when not in the URL.
    pub user: Option<String>,
    /// `password_file` or `password_env`: the account's password, kept out of the config.
    pub password: Option<Secret>,
    /// `watchdog`: a stream that gives no frame for this long is reconnected; default 10 s.
    pub watchdog: std::time::Duration,
    /// `connect_timeout`: how long a connection may take to give its first frame; default 20 s.
    pub connect_timeout: std::time::Duration,
}

impl Default for RtspSettings {
    fn default() -> Self {
        Self {
            transport: Transport::Tcp,
            user: None,
            password: None,
            watchdog: std::time::Duration::from_secs(10),
            connect_timeout: std::time::Duration::from_secs(20),
        }
    }
}

impl CameraConfig {
    /// Whether people are counted on this camera (it has lines or zones).
    pub fn counts_people(&self) -> bool {
        !self.lines.is_empty() || !self.zones.is_empty()
    }
}

/// `[counts]`: how counts are bucketed and where they are written.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CountsConfig {
    pub settings: CountSettings,
    /// Figures below this are published as `"<k"` (0: no floor).
    pub min_count: u64,
    /// The SQLite count store; by default `counts.sqlite` beside the config file when no sink is
    /// configured.
    pub sqlite: Option<PathBuf>,
    /// One JSON object per closed bucket and line or zone, appended.
    pub jsonl: Option<PathBuf>,
    /// The same as CSV rows, appended (a header when the file is new).
    pub csv: Option<PathBuf>,
    /// `[counts.mqtt]`: closed buckets published to a broker through the SQLite store's outbox
    /// (which MQTT therefore turns on).
    pub mqtt: Option<MqttSettings>,
}

/// `[camera.redact]`: what is hidden in every frame, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct RedactConfig {
    /// What is redacted; default `faces`. Wider targets hide more (safer) and show less.
    pub target: Target,
    /// How it is made unrecognisable; default `blur`. `fill` hides shapes too; `blur` keeps the
    /// scene readable.
    pub method: Method,
    /// The colour of `method = "fill"`; default black `#000000`.
    pub fill_color: Rgb,
    /// Fixed privacy polygons, redacted in every frame whatever the target; default none.
    /// Normalised: x from 0 (left) to 1 (right), y from 0 (top) to 1 (bottom); each has ≥ 3 points.
    pub masks: Vec<Vec<Point>>,
    /// Run the detector on every N-th frame (1..=60). Frames between reuse the latest masks: lower
    /// is safer for fast movement, higher saves CPU. Default 3 at 25 fps, fitted to the stream's
    /// frame rate (every 0.12 s, at most 3 frames apart: every frame at 5 fps, every 3rd at 30 fps; see
    /// [`TemporalSettings::at_rate`]); a value written in the config is used as is.
    pub detect_every: u32,
    /// Look-ahead, staleness limit and tracker settings (`lookahead`, `max_staleness`).
    pub temporal: TemporalSettings,
    /// Residual audit of the output: every N-th redacted frame searched again for faces at twice
    /// the detection resolution (0 = off); default 100 at 25 fps (4 s: each audit costs about
    /// four detection passes), fitted to the stream's frame rate; a value written is used as is.
    pub audit_every: u32,
    /// Whether `audit_every` is the default, fitted to the stream's frame rate.
    pub audit_follows_rate: bool,
}

impl RedactConfig {
    /// The largest accepted `detect_every`.
    pub const MAX_DETECT_EVERY: u32 = 60;
    /// `detect_every` when none is written: 3 frames at 25 fps, fitted to the stream's rate.
    pub const DEFAULT_DETECT_EVERY: u32 = 3;
    /// `audit_every` when none is written: 100 frames at 25 fps (4 s), fitted to the stream's rate.
    pub const DEFAULT_AUDIT_EVERY: u32 = 100;
}

impl Default for RedactConfig {
    fn default() -> Self {
        Self {
            target: Target::default(),
            method: Method::default(),
            fill_color: Rgb { r: 0, g: 0, b: 0 },
            masks: Vec::new(),
            detect_every: Self::DEFAULT_DETECT_EVERY,
            temporal: TemporalSettings::default(),
            audit_every: Self::DEFAULT_AUDIT_EVERY,
            audit_follows_rate: true,
        }
    }
}

/// `[camera.output]`: the redacted video file and its encoding.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutputConfig {
    /// The MP4 file the redacted stream is written to, resolved against the config file's
    /// directory; default none (nothing written, e.g. when only counting).
    pub video: Option<PathBuf>,
    /// x264 settings for `video`.
    pub encoder: EncoderSettings,
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read. The message already ends with the cause: print it with `{}`,
    /// not as an error chain (`{:#}`), or the cause shows twice.
    #[error("cannot read config {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// The file was read but is not a valid config; every problem is listed.
    #[error(transparent)]
    Invalid(Diagnostics),
}

impl Config {
    /// Reads and validates a file; `ConfigError::Io` names the file, `ConfigError::Invalid` carries
    /// every diagnostic. Relative paths inside are resolved against the file's directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Io { path: path.to_owned(), source })?;
        let base_dir = path.parent().unwrap_or(Path::new(""));
        Config::parse(&text, &path.display().to_string(), base_dir).map_err(ConfigError::Invalid)
    }

    /// Validates text; `file` is the name printed in diagnostics; relative paths are joined to
    /// `base_dir`.
    pub fn parse(text: &str, file: &str, base_dir: &Path) -> Result<Config, Diagnostics> {
        let mut report = diagnostics::Report::new(text);
        let config = recover::deserialize_all(text, &mut report)
            .map(|(raw, dropped)| validate::config(raw, &dropped, base_dir, &mut report));
        match config {
            Some(config) if report.is_empty() => Ok(config),
            _ => Err(report.finish(file)),
        }
    }
}

/// `[counts.mqtt]`: where and how counts are published.
#[derive(Debug, Clone, PartialEq)]
pub struct MqttSettings {
    /// The broker's host name or address.
    pub host: String,
    /// Default 1883.
    pub port: u16,
    /// Default `obscura`; unique per obscura process on one broker.
    pub client_id: String,
    /// The first level of every topic; default `obscura`.
    pub topic_prefix: String,
    pub username: Option<String>,
    /// A file holding the password (its first line), so the config file holds no secret.
    pub password_file: Option<PathBuf>,
    /// Home Assistant discovery under this prefix (usually `homeassistant`); `None`: off.
    pub discovery_prefix: Option<String>,
}

impl MqttSettings {
    pub fn new(host: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            port: 1883,
            client_id: "obscura".to_owned(),
            topic_prefix: "obscura".to_owned(),
            username: None,
            password_file: None,
            discovery_prefix: None,
        }
    }

    /// `{prefix}/status`: `online` / `offline`, retained.
    pub fn status_topic(&self) -> String {
        format!("{}/status", self.topic_prefix)
    }
}

impl Config {
    /// What a valid config will do, a line per camera and one for the counts: for the operator to
    /// check the meaning, not just the syntax.
    pub fn describe(&self) -> String {
        let config = self;
        let mut text = String::new();
        for camera in &config.cameras {
            let redact = &camera.redact;
            let output =
                camera.output.video.as_ref().map_or("no video".to_owned(), |v| v.display().to_string());
            let masks = match redact.masks.len() {
                0 => String::new(),
                n => format!(" + {n} fixed mask{}", plural(n)),
            };
            let counting = match (camera.lines.len(), camera.zones.len()) {
                (0, 0) => String::new(),
                (l, z) => format!("; counts {l} line{}, {z} zone{}", plural(l), plural(z)),
            };
            let detection = if redact.target.needs_detection() || !counting.is_empty() {
                let every = redact.detect_every;
                if redact.temporal.follow_rate.detect_every {
                    let seconds = f64::from(every) / crate::track::REFERENCE_FPS;
                    format!(
                        ", detection every {seconds:.2} s, at most {every} frame{} apart ({every} at {} fps, \
                         fitted to the stream's rate)",
                        plural(every as usize),
                        crate::track::REFERENCE_FPS
                    )
                } else {
                    format!(", detection every {every} frame{}", plural(every as usize))
                }
            } else {
                String::new()
            };
            let live = match &camera.source {
                Source::Rtsp(_) => {
                    let rtsp = &camera.rtsp;
                    let transport = match rtsp.transport {
                        Transport::Tcp => "tcp",
                        Transport::Udp => "udp",
                    };
                    let password = rtsp
                        .password
                        .as_ref()
                        .map(|p| {
                            let missing =
                                p.missing_now().map(|why| format!(" ({why}: the camera waits for it)"));
                            format!(", password from {}{}", p.place(), missing.unwrap_or_default())
                        })
                        .unwrap_or_default();
                    format!(" (live over {transport}, watchdog {} s{password})", rtsp.watchdog.as_secs())
                }
                Source::File(_) => String::new(),
            };
            let clips = match &camera.clips {
                Some(clips) => {
                    let on: Vec<String> = clips.on.iter().map(|t| t.to_string()).collect();
                    format!(
                        "; clips on {} → {} ({} s before, {} s after)",
                        on.join(", "),
                        clips.dir.display(),
                        clips.pre_ms / 1000,
                        clips.post_ms / 1000
                    )
                }
                None => String::new(),
            };
            text += &format!(
                "  camera {}: {}{live} → {output}; {} {}{masks}{detection}{counting}{clips}\n",
                camera.name,
                camera.source,
                redact.target.name(),
                redact.method.name(),
            );
        }
        if config.cameras.iter().any(CameraConfig::counts_people) {
            let counts = &config.counts;
            let sinks: Vec<String> = [&counts.sqlite, &counts.jsonl, &counts.csv]
                .into_iter()
                .flatten()
                .map(|p| p.display().to_string())
                .chain(
                    counts
                        .mqtt
                        .as_ref()
                        .map(|m| format!("mqtt://{}:{}/{}/…", m.host, m.port, m.topic_prefix)),
                )
                .chain(config.http_listen.map(|a| format!("http://{a}/metrics")))
                .collect();
            text += &format!(
                "  counts: {}-minute buckets → {}\n",
                counts.settings.bucket_ms / 60_000,
                sinks.join(", ")
            );
        }
        text
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
