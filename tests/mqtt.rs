//! MQTT against a real mosquitto on a free loopback port: store-and-forward through the SQLite
//! outbox, in order, across a broker that is down, killed and restarted, and across restarts of
//! obscura itself.

use std::time::Duration;

use obscura::count::{Closed, LineBucket};
use obscura::sink::mqtt::{Entity, Kind};
use obscura::sink::{CountDb, MqttPublisher, MqttSettings};

use crate::util::mqtt::{Broker, Subscriber, free_port};
use crate::util::{counting_config, obscura, sample, stderr, str};

fn bucket(start_ms: u64, in_count: u64) -> Closed {
    let line = LineBucket {
        camera: "entrance".into(),
        line: "door".into(),
        start_ms,
        end_ms: start_ms + 60_000,
        passes: 100,
        in_count,
        out_count: 1,
    };
    Closed { lines: vec![line], zones: vec![] }
}

fn outbox_rows(db: &std::path::Path) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("SELECT count(*) FROM mqtt_outbox", [], |r| r.get(0)).unwrap()
}

/// Buckets closed while no broker is listening wait in the outbox, past the end of the process
/// that counted them; the next process delivers them first, in order, then its own.
#[test]
fn buckets_wait_in_the_outbox_until_a_broker_takes_them_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("counts.sqlite");
    let port = free_port();
    let mut settings = MqttSettings::new("127.0.0.1");
    settings.port = port;
    settings.discovery_prefix = Some("homeassistant".into());
    let entities = || vec![Entity { camera: "entrance".into(), kind: Kind::Line, name: "door".into() }];

    // No broker: three buckets are stored, and still wait when the publisher gives up.
    let mut db = CountDb::open(&db_path).unwrap().with_outbox("obscura", 0);
    let publisher = MqttPublisher::start(&settings, &db_path, entities()).unwrap();
    for (i, start) in [0, 60_000, 120_000].into_iter().enumerate() {
        db.write(&bucket(start, i as u64)).unwrap();
        publisher.notify();
    }
    assert!(!publisher.connected());
    let gauges = publisher.gauges();
    assert_eq!(publisher.close(Duration::from_millis(600)).unwrap(), 3);
    assert!(gauges.render().ends_with("obscura_mqtt_outbox_messages 3\n"), "{}", gauges.render());
    assert!(gauges.render().contains("obscura_mqtt_connected 0\n"));
    drop(db);

    // The broker is up; the next process sends the old buckets first, then its own.
    let _broker = Broker::start_on(dir.path(), port);
    let subscriber = Subscriber::start(port, "test-outbox", "#");
    let mut db = CountDb::open(&db_path).unwrap().with_outbox("obscura", 0);
    let publisher = MqttPublisher::start(&settings, &db_path, entities()).unwrap();
    let gauges = publisher.gauges();
    let started = std::time::Instant::now();
    while !gauges.render().contains("obscura_mqtt_connected 1\n") {
        assert!(started.elapsed() < Duration::from_secs(10), "{}", gauges.render());
        std::thread::sleep(Duration::from_millis(20));
    }
    db.write(&bucket(180_000, 3)).unwrap();
    publisher.notify();
    assert_eq!(publisher.close(Duration::from_secs(20)).unwrap(), 0, "everything delivered");
    assert_eq!(outbox_rows(&db_path), 0);

    assert!(subscriber.wait_for(Duration::from_secs(10), |r| r.iter().any(|(_, p)| p == "offline")));
    let buckets = subscriber.on(|t| t == "obscura/entrance/line/door");
    let ins: Vec<u64> = buckets
        .iter()
        .map(|(_, p)| serde_json::from_str::<serde_json::Value>(p).unwrap()["in"].as_u64().unwrap())
        .collect();
    assert_eq!(ins, [0, 1, 2, 3], "each bucket once, in the order it closed");
    let status: Vec<String> = subscriber.on(|t| t == "obscura/status").into_iter().map(|(_, p)| p).collect();
    assert_eq!(status, ["online", "offline"], "online while connected, offline after a clean goodbye");
    let discovery = subscriber.on(|t| t.starts_with("homeassistant/sensor/obscura/entrance_line_door_"));
    assert_eq!(discovery.len(), 2, "two sensors: in and out");
    let config: serde_json::Value = serde_json::from_str(&discovery[0].1).unwrap();
    assert_eq!(config["state_topic"], "obscura/entrance/line/door");
}

/// A real `obscura run` counting people on the sample film publishes each closed bucket; the
/// broker is killed (-9) mid-run, a bucket closes while it is down, the broker comes back: every
/// bucket arrives, in order, equal to its JSONL row.
#[test]
fn run_keeps_counting_while_the_broker_is_down_and_delivers_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut broker = Broker::start(dir.path());
    let subscriber = Subscriber::start(broker.port, "test-run", "#");
    // Let the broker save the subscriber's session before it is killed.
    std::thread::sleep(Duration::from_millis(1500));

    let counts = format!(
        "jsonl = \"counts.jsonl\"\n[counts.mqtt]\nhost = \"127.0.0.1\"\nport = {}\ndiscovery = true",
        broker.port
    );
    let config =
        counting_config(dir.path(), "mqtt.toml", &counts, "street", &sample(), "2026-11-22T10:00:50Z");
    let db = dir.path().join("counts.sqlite");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_obscura"))
        .args(["run", "--config", str(&config)])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let topic = |t: &str| t == "obscura/street/line/middle";
    // 60 s of film from 10:00:50: the 10:00 bucket closes 10 s in; the 10:01 bucket is counted while
    // the broker is down and closes at the end.
    assert!(
        subscriber.wait_for(Duration::from_secs(300), |r| r.iter().any(|(t, _)| topic(t))),
        "the first bucket was published"
    );
    // Time for the acknowledgements and the broker's autosave before the kill.
    std::thread::sleep(Duration::from_secs(3));
    broker.kill();
    let started = std::time::Instant::now();
    while !db.exists() || outbox_rows(&db) == 0 {
        assert!(started.elapsed().as_secs() < 300, "no bucket closed while the broker was down");
        assert!(child.try_wait().unwrap().is_none(), "the run ended without storing the bucket");
        std::thread::sleep(Duration::from_millis(100));
    }
    broker.restart();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("every count message delivered"), "{}", stderr(&out));
    assert!(!stderr(&out).contains("MQTT outbox"), "every acknowledged row was deleted: {}", stderr(&out));
    assert_eq!(outbox_rows(&db), 0);

    let jsonl = std::fs::read_to_string(dir.path().join("counts.jsonl")).unwrap();
    let rows: Vec<&str> = jsonl.lines().collect();
    assert_eq!(rows.len(), 2, "{jsonl}");
    assert!(
        subscriber.wait_for(Duration::from_secs(30), |r| r.iter().filter(|(t, _)| topic(t)).count() >= 2)
    );
    let published: Vec<String> = subscriber.on(topic).into_iter().map(|(_, p)| p).collect();
    // QoS 1 is at least once: a broker killed before it saved the subscriber's acknowledgement
    // delivers that message again after its restart (seen once in CI). Repeats of a bucket are
    // allowed; gaps and disorder are not.
    let mut distinct = published.clone();
    distinct.dedup();
    assert_eq!(distinct, rows, "every bucket, in order, as in the JSONL file: {published:#?}");
    let discovery = subscriber.on(|t| t.starts_with("homeassistant/sensor/obscura/street_line_middle_"));
    assert!(discovery.len() >= 2, "in and out sensors, announced on every connection: {discovery:?}");
    assert!(discovery.iter().all(|(_, p)| p.contains(r#""state_topic":"obscura/street/line/middle""#)));
}

/// `check` reports every MQTT setting that is wrong, with its line.
#[test]
fn bad_mqtt_settings_are_reported_with_their_lines() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        format!(
            r#"[counts.mqtt]
port = 70000
topic_prefix = "shop/#"
password_file = "mqtt.pass"

[[camera]]
name = "street"
source = "{}"
"#,
            sample().display()
        ),
    )
    .unwrap();
    let out = obscura(&["check", "--config", str(&config)]);
    assert!(!out.status.success());
    let err = stderr(&out);
    for expected in [
        "bad.toml:1:1: [counts.mqtt] has no `host`",
        "bad.toml:2:8: port 70000 is out of range",
        "bad.toml:3:16: topic_prefix \"shop/#\" is not a topic prefix",
        "bad.toml:4:17: password_file without `username`",
    ] {
        assert!(err.contains(expected), "{expected:?} not in:\n{err}");
    }
}
