//! Count sinks: the SQLite store, and plain files (JSON Lines and CSV, appended one closed bucket
//! per line or zone). Counts only: camera, line or zone name, interval, figures (the files under
//! the `min_count` floor).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::counts_db::{CountDb, CountDbError};
use super::mqtt::{Entity, MqttError, MqttPublisher};
use super::rows::{line_json, zone_json};
use crate::clock::rfc3339;
use crate::config::CountsConfig;
use crate::count::{Closed, Published};

/// The CSV columns; zones leave `in`/`out` empty, lines the zone columns (dwell times are in the
/// JSONL sink only).
pub const CSV_HEADER: &str =
    "camera,kind,name,start,end,passes,in,out,entries,occupancy_min,occupancy_max,occupancy_mean";

/// Writes closed buckets to the configured sinks: the SQLite store first (durable, with the MQTT
/// outbox), then the JSONL and CSV files (appended); the MQTT publisher sends the outbox.
#[derive(Debug)]
pub struct CountFiles {
    db: Option<CountDb>,
    mqtt: Option<MqttPublisher>,
    jsonl: Option<(PathBuf, File)>,
    csv: Option<(PathBuf, File)>,
    min_count: u64,
}

/// Why a count file could not be opened or written; the message names the file.
#[derive(Debug, thiserror::Error)]
pub enum CountFileError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Db(#[from] CountDbError),
    #[error(transparent)]
    Mqtt(#[from] MqttError),
    #[error("MQTT needs the SQLite store ([counts] sqlite) for its outbox")]
    NoStore,
}

fn open_append(path: &Path) -> Result<File, CountFileError> {
    let err = |source| CountFileError::Io { path: path.to_owned(), source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    OpenOptions::new().create(true).append(true).open(path).map_err(err)
}

impl CountFiles {
    /// Opens (creating, appending) the files of `config`; a new CSV file gets its header. With
    /// MQTT, starts its publisher, announcing `entities` (every camera's lines and zones) to
    /// Home Assistant when discovery is on.
    pub fn open(config: &CountsConfig, entities: Vec<Entity>) -> Result<Self, CountFileError> {
        let jsonl = config
            .jsonl
            .as_ref()
            .map(|p| Ok::<_, CountFileError>((p.clone(), open_append(p)?)))
            .transpose()?;
        let csv = match &config.csv {
            Some(path) => {
                let mut file = open_append(path)?;
                let empty = file.metadata().map(|m| m.len() == 0).unwrap_or(false);
                if empty {
                    writeln!(file, "{CSV_HEADER}")
                        .map_err(|source| CountFileError::Io { path: path.clone(), source })?;
                }
                Some((path.clone(), file))
            }
            None => None,
        };
        let db = config.sqlite.as_deref().map(CountDb::open).transpose()?;
        // MQTT's messages wait in the store's outbox. Validation gives MQTT a store; a hand-built
        // config may not have one.
        let db = match &config.mqtt {
            Some(settings) => {
                Some(db.ok_or(CountFileError::NoStore)?.with_outbox(&settings.topic_prefix, config.min_count))
            }
            None => db,
        };
        let mqtt = config
            .mqtt
            .as_ref()
            .zip(db.as_ref())
            .map(|(settings, store)| MqttPublisher::start(settings, store.path(), entities))
            .transpose()?;
        Ok(Self { db, mqtt, jsonl, csv, min_count: config.min_count })
    }

    pub fn is_empty(&self) -> bool {
        self.db.is_none() && self.jsonl.is_none() && self.csv.is_none()
    }

    /// The MQTT publisher's gauges for `/metrics`, when MQTT is on.
    pub fn mqtt_gauges(&self) -> Option<super::mqtt::MqttGauges> {
        self.mqtt.as_ref().map(MqttPublisher::gauges)
    }

    /// Stops the MQTT publisher after delivering what it can within `drain`; returns how many
    /// messages still wait in the outbox (sent by the next run), or `None` without MQTT.
    pub fn close(self, drain: std::time::Duration) -> Result<Option<u64>, CountFileError> {
        match self.mqtt {
            Some(mqtt) => Ok(Some(mqtt.close(drain)?)),
            None => Ok(None),
        }
    }

    /// Appends every bucket of `closed`, each file written in one call and flushed.
    pub fn write(&mut self, closed: &Closed) -> Result<(), CountFileError> {
        self.write_with(closed, false)
    }

    /// [`CountFiles::write`] for a live camera: the store adds each bucket to a part of it stored
    /// before (the camera restarted mid-bucket) instead of replacing it, and MQTT publishes the
    /// sum. JSONL and CSV, logs of what closed, get the part as a row of its own.
    pub fn write_live(&mut self, closed: &Closed) -> Result<(), CountFileError> {
        self.write_with(closed, true)
    }

    fn write_with(&mut self, closed: &Closed, live: bool) -> Result<(), CountFileError> {
        let k = self.min_count;
        if let Some(db) = self.db.as_mut() {
            if live {
                db.write_merging(closed)?;
            } else {
                db.write(closed)?;
            }
            if let Some(mqtt) = &self.mqtt {
                mqtt.notify();
            }
        }
        if let Some((path, file)) = self.jsonl.as_mut() {
            let mut text = String::new();
            for b in &closed.lines {
                text += &format!("{}\n", line_json(b, k));
            }
            for b in &closed.zones {
                text += &format!("{}\n", zone_json(b, k));
            }
            file.write_all(text.as_bytes())
                .and_then(|()| file.flush())
                .map_err(|source| CountFileError::Io { path: path.clone(), source })?;
        }
        if let Some((path, file)) = self.csv.as_mut() {
            let mut text = String::new();
            let cell = |v: Option<String>| v.unwrap_or_default();
            for b in &closed.lines {
                let p = b.published(k);
                text += &format!(
                    "{},line,{},{},{},{},{},{},,,,\n",
                    csv_field(&p.camera),
                    csv_field(&p.line),
                    rfc3339(p.start_ms),
                    rfc3339(p.end_ms),
                    p.passes,
                    published(&p.in_count),
                    published(&p.out_count)
                );
            }
            for b in &closed.zones {
                let p = b.published(k);
                text += &format!(
                    "{},zone,{},{},{},{},,,{},{},{},{}\n",
                    csv_field(&p.camera),
                    csv_field(&p.zone),
                    rfc3339(p.start_ms),
                    rfc3339(p.end_ms),
                    p.passes,
                    published(&p.entries),
                    cell(p.occupancy_min.as_ref().map(published)),
                    cell(p.occupancy_max.as_ref().map(published)),
                    cell(p.occupancy_mean.as_ref().map(|m| match m {
                        Published::Count(v) => format!("{v:.2}"),
                        Published::Below(k) => format!("<{k}"),
                    })),
                );
            }
            file.write_all(text.as_bytes())
                .and_then(|()| file.flush())
                .map_err(|source| CountFileError::Io { path: path.clone(), source })?;
        }
        Ok(())
    }
}

fn published(p: &Published) -> String {
    match p {
        Published::Count(v) => v.to_string(),
        Published::Below(k) => format!("<{k}"),
    }
}

/// Names are plain (letters, digits, `_`, `-`), so quoting is never needed; kept for safety.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}
