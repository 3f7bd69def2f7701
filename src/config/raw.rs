//! Phase one's shapes: the config file as written, with spans, before any semantic check.
//!
//! Every key is optional here, even required ones: a key that phase one had to drop (wrong type)
//! must not come back as a "missing key" error. Phase two (`validate`) checks presence and meaning.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub detector: Option<Spanned<RawDetector>>,
    pub redaction: Option<Spanned<RawRedaction>>,
    pub counts: Option<Spanned<RawCounts>>,
    pub http: Option<Spanned<RawHttp>>,
    pub camera: Option<Spanned<Vec<Spanned<RawCamera>>>>,
}

/// `[redaction]`; its span is the header.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRedaction {
    pub threads: Option<Spanned<i64>>,
}

/// `[detector]`; its span is the header.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDetector {
    pub threads: Option<Spanned<i64>>,
    pub spin: Option<Spanned<bool>>,
    pub execution_provider: Option<Spanned<String>>,
    pub face_input: Option<Spanned<i64>>,
    pub face_threshold: Option<Spanned<f64>>,
    pub face_tiles: Option<Spanned<Vec<Spanned<i64>>>>,
    pub person_threshold: Option<Spanned<f64>>,
    /// A name (`"auto"`, `"wide"`) or `[columns, rows]`.
    pub person_tiles: Option<Spanned<toml::Value>>,
    pub reuse_unchanged_tiles: Option<Spanned<bool>>,
}

/// One `[[camera]]` table; its span is the `[[camera]]` header.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCamera {
    pub name: Option<Spanned<String>>,
    pub source: Option<Spanned<String>>,
    pub redact: Option<Spanned<RawRedact>>,
    pub output: Option<Spanned<RawOutput>>,
    pub rtsp: Option<Spanned<RawRtsp>>,
    pub start_time: Option<Spanned<toml::value::Datetime>>,
    pub line: Option<Vec<Spanned<RawLine>>>,
    pub zone: Option<Vec<Spanned<RawZone>>>,
    pub clips: Option<Spanned<RawClips>>,
}

/// `[camera.clips]`; its span is the header.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawClips {
    pub dir: Option<Spanned<String>>,
    pub on: Option<Spanned<Vec<Spanned<String>>>>,
    pub pre: Option<Spanned<String>>,
    pub post: Option<Spanned<String>>,
    pub max_length: Option<Spanned<String>>,
    pub max_age: Option<Spanned<String>>,
    pub max_size: Option<Spanned<String>>,
    pub memory: Option<Spanned<String>>,
}

/// `[camera.rtsp]`; its span is the header.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRtsp {
    pub transport: Option<Spanned<String>>,
    pub user: Option<Spanned<String>>,
    pub password_file: Option<Spanned<String>>,
    pub password_env: Option<Spanned<String>>,
    pub watchdog: Option<Spanned<String>>,
    pub connect_timeout: Option<Spanned<String>>,
}

/// One `[[camera.line]]`; its span is the header.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLine {
    pub name: Option<Spanned<String>>,
    pub from: Option<Spanned<Vec<f64>>>,
    pub to: Option<Spanned<Vec<f64>>>,
    pub anchor: Option<Spanned<String>>,
}

/// One `[[camera.zone]]`; its span is the header.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawZone {
    pub name: Option<Spanned<String>>,
    pub polygon: Option<Spanned<Vec<Vec<f64>>>>,
    pub anchor: Option<Spanned<String>>,
}

/// `[http]`; its span is the header.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp {
    pub listen: Option<Spanned<String>>,
    pub token_file: Option<Spanned<String>>,
    pub token_env: Option<Spanned<String>>,
}

/// `[counts]`; its span is the header.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCounts {
    pub bucket: Option<Spanned<String>>,
    pub stitch: Option<Spanned<String>>,
    pub min_count: Option<Spanned<i64>>,
    pub sqlite: Option<Spanned<String>>,
    pub jsonl: Option<Spanned<String>>,
    pub csv: Option<Spanned<String>>,
    pub mqtt: Option<Spanned<RawMqtt>>,
}

/// `[counts.mqtt]`; its span is the header.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMqtt {
    pub host: Option<Spanned<String>>,
    pub port: Option<Spanned<i64>>,
    pub client_id: Option<Spanned<String>>,
    pub topic_prefix: Option<Spanned<String>>,
    pub username: Option<Spanned<String>>,
    pub password_file: Option<Spanned<String>>,
    pub discovery: Option<Spanned<bool>>,
    pub discovery_prefix: Option<Spanned<String>>,
}

/// `[camera.redact]`; its span is the header.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRedact {
    pub target: Option<Spanned<String>>,
    pub method: Option<Spanned<String>>,
    pub fill_color: Option<Spanned<String>>,
    pub masks: Option<Spanned<RawMaskNode>>,
    pub detect_every: Option<Spanned<i64>>,
    pub lookahead: Option<Spanned<i64>>,
    pub on_fail: Option<Spanned<String>>,
    pub audit_every: Option<Spanned<i64>>,
    pub max_staleness: Option<Spanned<i64>>,
}

/// `[camera.output]`; its span is the header.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutput {
    pub video: Option<Spanned<String>>,
    pub preset: Option<Spanned<String>>,
    pub crf: Option<Spanned<i64>>,
}

/// Any value inside `masks`, kept with spans at every depth.
///
/// Accepting anything here lets phase two report every bad polygon, point and coordinate with its
/// own position, instead of serde stopping at the first and dropping the whole `masks`.
#[derive(Debug)]
pub(super) enum RawMaskNode {
    /// An integer or a float.
    Number(f64),
    Array(Vec<Spanned<RawMaskNode>>),
    /// Anything else, by kind ("a string"), for the error message.
    Other(&'static str),
}

impl RawMaskNode {
    /// What the user wrote, for "found ..." in messages.
    pub(super) fn kind(&self) -> &'static str {
        match self {
            RawMaskNode::Number(_) => "a number",
            RawMaskNode::Array(_) => "an array",
            RawMaskNode::Other(kind) => kind,
        }
    }
}

impl<'de> Deserialize<'de> for RawMaskNode {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(MaskNodeVisitor)
    }
}

struct MaskNodeVisitor;

impl<'de> Visitor<'de> for MaskNodeVisitor {
    type Value = RawMaskNode;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number or an array")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(RawMaskNode::Other("a boolean"))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(RawMaskNode::Number(v as f64))
    }

    fn visit_i128<E>(self, v: i128) -> Result<Self::Value, E> {
        Ok(RawMaskNode::Number(v as f64))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(RawMaskNode::Number(v as f64))
    }

    fn visit_u128<E>(self, v: u128) -> Result<Self::Value, E> {
        Ok(RawMaskNode::Number(v as f64))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(RawMaskNode::Number(v))
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(RawMaskNode::Other("a string"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<RawMaskNode>>()? {
            items.push(item);
        }
        Ok(RawMaskNode::Array(items))
    }

    /// Tables, and dates (which toml hands over as a map).
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(RawMaskNode::Other("a table or date"))
    }
}
