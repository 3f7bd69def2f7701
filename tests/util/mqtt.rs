//! A real mosquitto broker on a free loopback port (installed by `scripts/setup`), and a
//! subscriber that records what it receives.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A mosquitto process with its config and persistence in a folder of the test's; killed on drop.
pub struct Broker {
    pub port: u16,
    config: PathBuf,
    child: Option<Child>,
}

/// Debian's mosquitto binary, when installed.
pub fn mosquitto() -> Option<&'static str> {
    ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"].into_iter().find(|p| Path::new(p).exists())
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Broker {
    /// Starts mosquitto on a free 127.0.0.1 port, persisting its state into `dir` every second
    /// (so a persistent subscriber's session survives a kill -9).
    pub fn start(dir: &Path) -> Self {
        Self::start_on(dir, free_port())
    }

    pub fn start_on(dir: &Path, port: u16) -> Self {
        let config = dir.join("mosquitto.conf");
        std::fs::write(
            &config,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\n\
                 autosave_interval 1\nuser root\nlog_dest stderr\n",
                dir.display()
            ),
        )
        .unwrap();
        let mut broker = Self { port, config, child: None };
        broker.restart();
        broker
    }

    /// kill -9.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Starts it again on the same port, and waits until it accepts connections.
    pub fn restart(&mut self) {
        assert!(self.child.is_none());
        let mosquitto = mosquitto().expect("mosquitto is not installed: run scripts/setup");
        let child = Command::new(mosquitto)
            .args(["-c", self.config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "mosquitto did not start on {}", self.port);
            let exited = self.child.as_mut().unwrap().try_wait().unwrap();
            assert!(exited.is_none(), "mosquitto exited: {exited:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A subscriber with a persistent session (clean session off, QoS 1): it keeps reconnecting, and
/// the broker keeps what is published for it while it is away.
pub struct Subscriber {
    pub received: Arc<Mutex<Vec<(String, String)>>>,
    client: rumqttc::Client,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Subscriber {
    /// Connects, subscribes to `filter` and returns once the broker has confirmed it.
    pub fn start(port: u16, id: &str, filter: &str) -> Self {
        let mut options = rumqttc::MqttOptions::new(id, "127.0.0.1", port);
        options.set_clean_session(false);
        options.set_keep_alive(Duration::from_secs(5));
        let (client, mut connection) = rumqttc::Client::new(options, 16);
        client.subscribe(filter, rumqttc::QoS::AtLeastOnce).unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let (subscribed, confirmed) = std::sync::mpsc::channel();
        let log = received.clone();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            for event in connection.iter() {
                if stopped.load(std::sync::atomic::Ordering::Relaxed) {
                    return;
                }
                match event {
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p))) => {
                        let payload = String::from_utf8_lossy(&p.payload).into_owned();
                        log.lock().unwrap().push((p.topic, payload));
                    }
                    Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) => {
                        let _ = subscribed.send(());
                    }
                    Ok(_) => {}
                    Err(rumqttc::ConnectionError::RequestsDone) => return,
                    // The broker is down: try again shortly.
                    Err(_) => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        });
        confirmed.recv_timeout(Duration::from_secs(10)).expect("the subscription was confirmed");
        Self { received, client, stop }
    }

    /// What arrived on topics for which `keep` holds, in order.
    pub fn on(&self, keep: impl Fn(&str) -> bool) -> Vec<(String, String)> {
        self.received.lock().unwrap().iter().filter(|(t, _)| keep(t)).cloned().collect()
    }

    /// Waits up to `limit` until `done` holds for what arrived.
    pub fn wait_for(&self, limit: Duration, done: impl Fn(&[(String, String)]) -> bool) -> bool {
        let started = Instant::now();
        while started.elapsed() < limit {
            if done(&self.received.lock().unwrap()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = self.client.disconnect();
    }
}
