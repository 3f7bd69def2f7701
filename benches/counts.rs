//! Count sinks: storing one closed set of buckets in SQLite (the bucket rows and their MQTT
//! outbox rows in one transaction, `synchronous = FULL`), and draining a backlog of outbox
//! messages to a real mosquitto on loopback (QoS 1, in order), as after a broker outage. The
//! MQTT group is skipped when mosquitto is not installed (`scripts/setup` installs it).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use obscura::count::{Closed, LineBucket};
use obscura::sink::{CountDb, MqttPublisher, MqttSettings};

/// Messages in the backlog each drain measurement delivers.
const BACKLOG: u64 = 2000;

/// One line's bucket starting at `start_ms`.
fn closed(start_ms: u64) -> Closed {
    let line = LineBucket {
        camera: "entrance".into(),
        line: "door".into(),
        start_ms,
        end_ms: start_ms + 60_000,
        passes: 300,
        in_count: start_ms % 17,
        out_count: start_ms % 5,
    };
    Closed { lines: vec![line], zones: vec![] }
}

/// mosquitto on a free loopback port, killed on drop. Not the tests' broker
/// (`tests/util/mqtt.rs`): that one saves its state every second for the kill -9 test, which
/// would be measured too (about 25% slower drains).
struct Broker(Child, u16);

impl Broker {
    fn start(dir: &Path) -> Option<Self> {
        let mosquitto =
            ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"].into_iter().find(|p| Path::new(p).exists())?;
        let port = std::net::TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
        let config = dir.join("mosquitto.conf");
        std::fs::write(&config, format!("listener {port} 127.0.0.1\nallow_anonymous true\n")).ok()?;
        let child = Command::new(mosquitto)
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let broker = Broker(child, port);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(10) {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(broker)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("counts.sqlite");
    let mut db = CountDb::open(&db_path).unwrap().with_outbox("obscura", 0);

    let mut group = c.benchmark_group("count_store");
    let mut start_ms = 0;
    group.bench_function("closed_set_with_outbox", |b| {
        b.iter(|| {
            start_ms += 60_000;
            db.write(&closed(start_ms)).unwrap();
        })
    });
    group.finish();

    let Some(broker) = Broker::start(dir.path()) else {
        eprintln!("mqtt: mosquitto is not installed (scripts/setup installs it); skipped");
        return;
    };
    let mut settings = MqttSettings::new("127.0.0.1");
    settings.port = broker.1;
    let mut group = c.benchmark_group("mqtt");
    group.sample_size(10).throughput(Throughput::Elements(BACKLOG));
    group.bench_function("drain_backlog", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                // Empty the outbox (what the store group left), then a backlog of BACKLOG.
                MqttPublisher::start(&settings, &db_path, vec![])
                    .unwrap()
                    .close(Duration::from_secs(60))
                    .unwrap();
                for _ in 0..BACKLOG {
                    start_ms += 60_000;
                    db.write(&closed(start_ms)).unwrap();
                }
                let started = Instant::now();
                let publisher = MqttPublisher::start(&settings, &db_path, vec![]).unwrap();
                assert_eq!(publisher.close(Duration::from_secs(60)).unwrap(), 0, "the backlog was delivered");
                total += started.elapsed();
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
