//! MQTT: closed count buckets published to a broker, store-and-forward.
//!
//! Every closed bucket becomes one message, written to the SQLite store's outbox table in the
//! same transaction as the bucket itself (see [`CountDb`](super::CountDb)). A publisher thread
//! sends the outbox in order (QoS 1) and deletes a row only when the broker has acknowledged it.
//! While the broker is down, messages wait in the outbox, across restarts of obscura too, and are
//! delivered in order when it returns: at least once (a message whose acknowledgement was lost is
//! sent again; its camera, name and start identify it).
//!
//! Topics: `{prefix}/{camera}/line/{line}` and `{prefix}/{camera}/zone/{zone}`, retained, so the
//! latest closed bucket is each one's state; `{prefix}/status` is `online` while connected and
//! `offline` after (retained, also the last will). Optional Home Assistant discovery publishes a
//! sensor per figure. Payloads are the JSONL rows: counts only, under the `min_count` floor.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, ConnectReturnCode, Event, LastWill, MqttOptions, Outgoing, Packet, QoS};
use rusqlite::{Connection, params};
use serde_json::json;

use super::rows::{line_json, zone_json};
use crate::count::Closed;

pub use crate::config::MqttSettings;

/// The retained status message `online` or `offline` of `settings`.
fn status(settings: &MqttSettings, payload: &str) -> Message {
    Message { topic: settings.status_topic(), payload: payload.to_owned(), retain: true }
}

/// What a topic counts: a line or a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Line,
    Zone,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Line => "line",
            Kind::Zone => "zone",
        }
    }
}

/// A camera's line or zone: one state topic, and its sensors for discovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    pub camera: String,
    pub kind: Kind,
    pub name: String,
}

/// `{prefix}/{camera}/{line|zone}/{name}`. Camera, line and zone names are plain (letters,
/// digits, `_`, `-`), so they are always valid topic levels.
pub fn topic(prefix: &str, camera: &str, kind: Kind, name: &str) -> String {
    format!("{prefix}/{camera}/{}/{name}", kind.as_str())
}

/// One message: topic, payload, retained.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub topic: String,
    pub payload: String,
    pub retain: bool,
}

/// The messages of a closed set of buckets, in order: each line's, then each zone's.
pub fn bucket_messages(closed: &Closed, prefix: &str, min_count: u64) -> Vec<Message> {
    let lines = closed.lines.iter().map(|b| Message {
        topic: topic(prefix, &b.camera, Kind::Line, &b.line),
        payload: line_json(b, min_count).to_string(),
        retain: true,
    });
    let zones = closed.zones.iter().map(|b| Message {
        topic: topic(prefix, &b.camera, Kind::Zone, &b.zone),
        payload: zone_json(b, min_count).to_string(),
        retain: true,
    });
    lines.chain(zones).collect()
}

/// Home Assistant discovery: one retained sensor config per figure of every line (`in`, `out`)
/// and zone (`entries`, `occupancy_max`), each reading its state topic. A figure under the
/// `min_count` floor (`"<k"`) shows as unknown.
pub fn discovery_messages(settings: &MqttSettings, entities: &[Entity]) -> Vec<Message> {
    let Some(discovery) = &settings.discovery_prefix else { return Vec::new() };
    let mut messages = Vec::new();
    for entity in entities {
        let fields: &[(&str, &str)] = match entity.kind {
            Kind::Line => &[("in", "in"), ("out", "out")],
            Kind::Zone => &[("entries", "entries"), ("occupancy_max", "occupancy max")],
        };
        for (field, label) in fields {
            let object = format!("{}_{}_{}_{}", entity.camera, entity.kind.as_str(), entity.name, field);
            let unique_id = format!("{}_{object}", settings.client_id);
            let config = json!({
                "name": format!("{} {label}", entity.name),
                "unique_id": unique_id,
                // (`object_id` before Home Assistant 2025.10; removed in 2026.4.)
                "default_entity_id": format!("sensor.obscura_{object}"),
                "state_topic": topic(&settings.topic_prefix, &entity.camera, entity.kind, &entity.name),
                // `in` is a Jinja keyword: subscript, not attribute.
                "value_template": format!(
                    "{{{{ value_json['{field}'] if value_json['{field}'] is number else None }}}}"
                ),
                "unit_of_measurement": "people",
                "state_class": "measurement",
                "icon": "mdi:account-group",
                "availability_topic": settings.status_topic(),
                "device": {
                    "identifiers": [format!("{}_{}", settings.client_id, entity.camera)],
                    "name": format!("obscura {}", entity.camera),
                    "manufacturer": "obscura",
                    "model": "people counter",
                    "sw_version": env!("CARGO_PKG_VERSION"),
                },
            });
            messages.push(Message {
                topic: format!("{discovery}/sensor/{}/{object}/config", settings.client_id),
                payload: config.to_string(),
                retain: true,
            });
        }
    }
    messages
}

/// How many messages may wait for their acknowledgement at once.
const WINDOW: usize = 16;
/// Reconnection waits double from the first to the last.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(250), Duration::from_secs(3));
/// The outbox is looked at this often even without a wake-up.
const TICK: Duration = Duration::from_secs(1);

/// Why the publisher could not start; the message names the file or setting.
#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    #[error("MQTT password_file {}: {source}", path.display())]
    Password { path: PathBuf, source: std::io::Error },
    #[error("MQTT outbox {}: {source}", path.display())]
    Outbox { path: PathBuf, source: rusqlite::Error },
    #[error("cannot start the MQTT publisher: {0}")]
    Start(std::io::Error),
}

#[derive(Debug, Default)]
struct Shared {
    wake: tokio::sync::Notify,
    /// Set by `close`: deliver what is left until then, then stop.
    deadline: Mutex<Option<Instant>>,
    connected: AtomicBool,
}

impl Shared {
    fn deadline(&self) -> Option<Instant> {
        *self.deadline.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `close` was called.
    fn stopping(&self) -> bool {
        self.deadline().is_some()
    }

    fn past_deadline(&self) -> bool {
        self.deadline().is_some_and(|d| Instant::now() >= d)
    }
}

/// The publisher: a task on the process's async runtime that sends the outbox of a count store to the broker, in order.
#[derive(Debug)]
pub struct MqttPublisher {
    shared: Arc<Shared>,
    outbox: PathBuf,
    /// The publishing task, on the process's async runtime.
    task: Option<tokio::task::JoinHandle<()>>,
}

impl MqttPublisher {
    /// Starts publishing the outbox of the SQLite store at `outbox` (opened by
    /// [`CountDb`](super::CountDb) with the outbox on) to the broker of `settings`, with discovery
    /// for `entities`. Returns at once: a broker that is down is retried in the background.
    pub fn start(settings: &MqttSettings, outbox: &Path, entities: Vec<Entity>) -> Result<Self, MqttError> {
        let password = settings
            .password_file
            .as_ref()
            .map(|path| {
                std::fs::read_to_string(path)
                    .map(|text| text.lines().next().unwrap_or_default().to_owned())
                    .map_err(|source| MqttError::Password { path: path.clone(), source })
            })
            .transpose()?;
        let conn = open_outbox(outbox)?;
        let shared = Arc::new(Shared::default());
        let session = Session {
            settings: settings.clone(),
            password,
            discovery: discovery_messages(settings, &entities),
            conn: Mutex::new(conn),
            outbox: outbox.to_owned(),
            shared: shared.clone(),
        };
        let runtime = crate::runtime::runtime().map_err(|e| MqttError::Start(std::io::Error::other(e)))?;
        let task = runtime.spawn(session.run());
        Ok(Self { shared, outbox: outbox.to_owned(), task: Some(task) })
    }

    /// New rows are in the outbox: send them now rather than at the next tick.
    pub fn notify(&self) {
        self.shared.wake.notify_one();
    }

    /// Whether the broker is connected now.
    pub fn connected(&self) -> bool {
        self.shared.connected.load(Ordering::Relaxed)
    }

    /// The publisher's state for `/metrics`, rendered at each scrape.
    pub fn gauges(&self) -> MqttGauges {
        MqttGauges { shared: self.shared.clone(), outbox: self.outbox.clone() }
    }

    /// Delivers what is left in the outbox for up to `drain` (reconnecting if need be), then
    /// stops; returns how many messages still wait in the outbox for the next run.
    pub fn close(mut self, drain: Duration) -> Result<u64, MqttError> {
        self.stop(drain);
        waiting_in(&self.outbox)
    }

    fn stop(&mut self, drain: Duration) {
        if let Some(task) = self.task.take() {
            *self.shared.deadline.lock().unwrap_or_else(PoisonError::into_inner) =
                Some(Instant::now() + drain);
            self.shared.wake.notify_one();
            if let Ok(runtime) = crate::runtime::runtime() {
                let _ = runtime.block_on(task);
            }
        }
    }
}

impl Drop for MqttPublisher {
    fn drop(&mut self) {
        self.stop(Duration::ZERO);
    }
}

/// Whether the broker is connected, and how many messages wait in the outbox: what an operator
/// alerts on.
#[derive(Debug, Clone)]
pub struct MqttGauges {
    shared: Arc<Shared>,
    outbox: PathBuf,
}

impl MqttGauges {
    /// Prometheus text: `obscura_mqtt_connected` (0 or 1) and `obscura_mqtt_outbox_messages`
    /// (left out when the store cannot be read).
    pub fn render(&self) -> String {
        let connected = u8::from(self.shared.connected.load(Ordering::Relaxed));
        let mut text = format!(
            "# HELP obscura_mqtt_connected Whether the MQTT broker is connected.\n\
             # TYPE obscura_mqtt_connected gauge\nobscura_mqtt_connected {connected}\n"
        );
        if let Ok(waiting) = waiting_in(&self.outbox) {
            text += &format!(
                "# HELP obscura_mqtt_outbox_messages Count messages waiting for the MQTT broker.\n\
                 # TYPE obscura_mqtt_outbox_messages gauge\nobscura_mqtt_outbox_messages {waiting}\n"
            );
        }
        text
    }
}

fn open_outbox(path: &Path) -> Result<Connection, MqttError> {
    let err = |source| MqttError::Outbox { path: path.to_owned(), source };
    let conn = Connection::open(path).map_err(err)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(err)?;
    Ok(conn)
}

fn pending(conn: &Connection) -> rusqlite::Result<u64> {
    conn.query_row("SELECT count(*) FROM mqtt_outbox", [], |r| r.get::<_, i64>(0)).map(|n| n as u64)
}

/// How many messages wait in the outbox of the store at `path`, read through a connection of
/// its own.
fn waiting_in(path: &Path) -> Result<u64, MqttError> {
    pending(&open_outbox(path)?).map_err(|source| MqttError::Outbox { path: path.to_owned(), source })
}

/// One outbox row.
struct Row {
    id: i64,
    message: Message,
}

fn rows_after(conn: &Connection, after: i64, limit: usize) -> rusqlite::Result<Vec<Row>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, topic, payload, retain FROM mqtt_outbox WHERE id > ?1 ORDER BY id LIMIT ?2",
    )?;
    stmt.query_map(params![after, limit as i64], |r| {
        Ok(Row {
            id: r.get(0)?,
            message: Message { topic: r.get(1)?, payload: r.get(2)?, retain: r.get(3)? },
        })
    })?
    .collect()
}

/// The event loop's events, as its task forwards them.
type Events = tokio::sync::mpsc::UnboundedReceiver<Result<Event, rumqttc::ConnectionError>>;

/// Why a connection ended.
#[derive(Debug)]
enum Ended {
    /// Everything was delivered after `close`.
    Drained,
    /// `close`'s deadline passed first.
    OutOfTime,
    /// The broker is unreachable, refused us, or the connection broke.
    Broken(String),
}

struct Session {
    settings: MqttSettings,
    password: Option<String>,
    discovery: Vec<Message>,
    /// Behind a mutex (never held across an await) so the session can run on any worker.
    conn: Mutex<Connection>,
    outbox: PathBuf,
    shared: Arc<Shared>,
}

impl Session {
    fn db(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn run(self) {
        let broker = format!("{}:{}", self.settings.host, self.settings.port);
        let mut wait = BACKOFF.0;
        // Whether this outage was reported: once per outage, not once per try.
        let mut reported = false;
        loop {
            let ended = self.connection().await;
            // Whether this connection got as far as the broker's acceptance.
            let connected = self.shared.connected.swap(false, Ordering::Relaxed);
            if connected {
                wait = BACKOFF.0;
                reported = false;
            }
            match ended {
                Ended::Drained | Ended::OutOfTime => return,
                Ended::Broken(why) => {
                    if !reported {
                        let waiting = pending(&self.db()).unwrap_or(0);
                        tracing::warn!(
                            "MQTT broker {broker}: {why}; counts wait in the outbox ({waiting} message(s)) and are \
                             sent when it is back"
                        );
                        reported = true;
                    }
                }
            }
            if self.shared.past_deadline() {
                return;
            }
            // Until the next try; new rows or `close` cut the wait short.
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.shared.wake.notified() => {}
            }
            wait = (wait * 2).min(BACKOFF.1);
        }
    }

    fn options(&self) -> MqttOptions {
        let s = &self.settings;
        let mut options = MqttOptions::new(&s.client_id, &s.host, s.port);
        options.set_keep_alive(Duration::from_secs(30));
        // The outbox is the session: a new connection starts clean and resends what is unacked.
        options.set_clean_session(true);
        options.set_last_will(LastWill::new(s.status_topic(), "offline", QoS::AtLeastOnce, true));
        if let Some(user) = &s.username {
            options.set_credentials(user, self.password.clone().unwrap_or_default());
        }
        options
    }

    /// One connection, from connecting to its end.
    async fn connection(&self) -> Ended {
        let (client, mut eventloop) = AsyncClient::new(self.options(), WINDOW * 2);
        let mut network = eventloop.network_options();
        network.set_connection_timeout(5);
        eventloop.set_network_options(network);
        // The event loop runs as its own task (its `poll` is not cancellation-safe); events
        // come through a channel.
        let (events, mut incoming) = tokio::sync::mpsc::unbounded_channel();
        let poller = tokio::spawn(async move {
            loop {
                let event = eventloop.poll().await;
                let failed = event.is_err();
                if events.send(event).is_err() || failed {
                    return;
                }
            }
        });
        let ended = self.converse(&client, &mut incoming).await;
        poller.abort();
        ended
    }

    async fn converse(&self, client: &AsyncClient, incoming: &mut Events) -> Ended {
        let broken = |e: &dyn std::fmt::Display| Ended::Broken(e.to_string());
        // Wait for the broker's answer.
        loop {
            let event = tokio::select! {
                event = incoming.recv() => match event {
                    Some(event) => Some(event),
                    None => return Ended::Broken("the connection ended".into()),
                },
                () = self.shared.wake.notified() => None,
                () = tokio::time::sleep(TICK) => None,
            };
            let Some(event) = event else {
                if self.shared.past_deadline() {
                    return Ended::OutOfTime;
                }
                continue;
            };
            match event {
                Ok(Event::Incoming(Packet::ConnAck(ack))) if ack.code == ConnectReturnCode::Success => break,
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    return Ended::Broken(format!("the broker refused the connection ({:?})", ack.code));
                }
                Ok(_) => {}
                Err(e) => return broken(&e),
            }
        }
        self.shared.connected.store(true, Ordering::Relaxed);
        tracing::info!("MQTT connected to {}:{}", self.settings.host, self.settings.port);

        // Sent, in order, waiting for their packet id: an outbox row id, or None (status,
        // discovery). Then, by packet id, waiting for the broker's acknowledgement.
        let mut sent: VecDeque<Option<i64>> = VecDeque::new();
        let mut unacked: HashMap<u16, Option<i64>> = HashMap::new();
        let online = status(&self.settings, "online");
        for message in std::iter::once(&online).chain(&self.discovery) {
            if let Err(e) = publish(client, message).await {
                return broken(&e);
            }
            sent.push_back(None);
        }
        // The highest outbox id handed to the client on this connection.
        let mut last = 0i64;
        let mut outbox_empty = false;
        loop {
            // Keep the window full, in id order.
            let room = WINDOW.saturating_sub(sent.len() + unacked.len());
            if room > 0 {
                let rows = rows_after(&self.db(), last, room);
                match rows {
                    Ok(rows) => {
                        outbox_empty = rows.is_empty();
                        for row in rows {
                            if let Err(e) = publish(client, &row.message).await {
                                return broken(&e);
                            }
                            sent.push_back(Some(row.id));
                            last = row.id;
                        }
                    }
                    Err(e) => tracing::error!("MQTT outbox {}: {e}", self.outbox.display()),
                }
            }
            let idle = outbox_empty && sent.is_empty() && unacked.is_empty();
            if idle && self.shared.stopping() {
                self.sign_off(client, incoming).await;
                return Ended::Drained;
            }
            if self.shared.past_deadline() {
                return Ended::OutOfTime;
            }
            let event = tokio::select! {
                event = incoming.recv() => event,
                () = self.shared.wake.notified() => continue,
                () = tokio::time::sleep(TICK) => continue,
            };
            match event {
                Some(Ok(Event::Outgoing(Outgoing::Publish(pkid)))) => {
                    let id = sent.pop_front().flatten();
                    unacked.insert(pkid, id);
                }
                Some(Ok(Event::Incoming(Packet::PubAck(ack)))) => {
                    // A row that cannot be deleted is sent again later: at least once.
                    if let Some(Some(id)) = unacked.remove(&ack.pkid)
                        && let Err(e) = self.db().execute("DELETE FROM mqtt_outbox WHERE id = ?1", [id])
                    {
                        tracing::error!("MQTT outbox {}: {e}", self.outbox.display());
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return broken(&e),
                None => return Ended::Broken("the connection ended".into()),
            }
        }
    }

    /// A clean goodbye: `offline` (acknowledged, or up to a second), then DISCONNECT.
    async fn sign_off(&self, client: &AsyncClient, incoming: &mut Events) {
        if publish(client, &status(&self.settings, "offline")).await.is_err() {
            return;
        }
        let acked = async {
            while let Some(Ok(event)) = incoming.recv().await {
                if let Event::Incoming(Packet::PubAck(_)) = event {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), acked).await;
        let _ = client.disconnect().await;
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while let Some(Ok(event)) = incoming.recv().await {
                if let Event::Outgoing(Outgoing::Disconnect) = event {
                    return;
                }
            }
        })
        .await;
    }
}

async fn publish(client: &AsyncClient, message: &Message) -> Result<(), rumqttc::ClientError> {
    client
        .publish(&message.topic, QoS::AtLeastOnce, message.retain, message.payload.as_bytes().to_vec())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::count::{LineBucket, ZoneBucket};

    #[test]
    fn buckets_become_retained_messages_on_their_topics_with_the_jsonl_rows() {
        let closed = Closed {
            lines: vec![LineBucket {
                camera: "entrance".into(),
                line: "door".into(),
                start_ms: 1_795_860_000_000,
                end_ms: 1_795_860_900_000,
                passes: 300,
                in_count: 12,
                out_count: 2,
            }],
            zones: vec![ZoneBucket {
                camera: "entrance".into(),
                zone: "till".into(),
                start_ms: 0,
                end_ms: 60_000,
                passes: 0,
                entries: 0,
                occupancy_min: None,
                occupancy_max: None,
                occupancy_mean: None,
                dwell: vec![],
            }],
        };
        let messages = bucket_messages(&closed, "shop", 3);
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].topic, "shop/entrance/line/door");
        assert_eq!(
            messages[0].payload,
            r#"{"camera":"entrance","end":"2026-11-28T10:15:00Z","in":12,"line":"door","out":"<3","passes":300,"start":"2026-11-28T10:00:00Z"}"#
        );
        assert_eq!(messages[1].topic, "shop/entrance/zone/till");
        assert!(messages.iter().all(|m| m.retain));
        let zone: serde_json::Value = serde_json::from_str(&messages[1].payload).unwrap();
        assert_eq!(zone["entries"], "<3");
        assert_eq!(zone["occupancy_max"], serde_json::Value::Null);
    }

    #[test]
    fn discovery_describes_a_sensor_per_figure_reading_the_state_topic() {
        let mut settings = MqttSettings::new("127.0.0.1");
        assert!(discovery_messages(&settings, &[]).is_empty());
        let entities = [
            Entity { camera: "entrance".into(), kind: Kind::Line, name: "door".into() },
            Entity { camera: "entrance".into(), kind: Kind::Zone, name: "till".into() },
        ];
        assert!(discovery_messages(&settings, &entities).is_empty(), "off by default");
        settings.discovery_prefix = Some("homeassistant".into());
        let messages = discovery_messages(&settings, &entities);
        let topics: Vec<&str> = messages.iter().map(|m| m.topic.as_str()).collect();
        assert_eq!(
            topics,
            [
                "homeassistant/sensor/obscura/entrance_line_door_in/config",
                "homeassistant/sensor/obscura/entrance_line_door_out/config",
                "homeassistant/sensor/obscura/entrance_zone_till_entries/config",
                "homeassistant/sensor/obscura/entrance_zone_till_occupancy_max/config",
            ]
        );
        let door_in: serde_json::Value = serde_json::from_str(&messages[0].payload).unwrap();
        assert_eq!(door_in["state_topic"], "obscura/entrance/line/door");
        assert_eq!(door_in["availability_topic"], "obscura/status");
        assert_eq!(door_in["unique_id"], "obscura_entrance_line_door_in");
        assert_eq!(door_in["default_entity_id"], "sensor.obscura_entrance_line_door_in");
        assert!(door_in.get("object_id").is_none(), "deprecated by Home Assistant");
        assert_eq!(
            door_in["value_template"],
            "{{ value_json['in'] if value_json['in'] is number else None }}"
        );
        assert!(messages.iter().all(|m| m.retain));
    }

    #[test]
    fn a_missing_password_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = MqttSettings::new("127.0.0.1");
        settings.username = Some("obscura".into());
        settings.password_file = Some(dir.path().join("mqtt.pass"));
        let err =
            MqttPublisher::start(&settings, &dir.path().join("c.sqlite"), vec![]).unwrap_err().to_string();
        assert!(err.contains("password_file") && err.contains("mqtt.pass"), "{err}");
    }
}
