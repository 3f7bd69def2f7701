//! Tests of reading config files: valid files, and the exact position and wording of every error.

use std::path::{Path, PathBuf};

use super::*;
use crate::detect::{ExecutionProvider, Tiling};

const BASE: &str = "/etc/obscura";

fn parse(text: &str) -> Result<Config, Diagnostics> {
    Config::parse(text, "cam.toml", Path::new(BASE))
}

/// `LINE:COL: message` of every diagnostic, in order.
fn errors(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(config) => panic!("accepted: {config:?}"),
        Err(diagnostics) => {
            diagnostics.items.iter().map(|d| format!("{}:{}: {}", d.line, d.col, d.message)).collect()
        }
    }
}

/// Positions only, for tests about where errors point rather than what they say.
fn positions(text: &str) -> Vec<(usize, usize)> {
    parse(text).unwrap_err().items.iter().map(|d| (d.line, d.col)).collect()
}

fn file(path: &str) -> Source {
    Source::File(PathBuf::from(path))
}

fn point(x: f32, y: f32) -> Point {
    Point::new(x, y)
}

// ---- valid files -------------------------------------------------------------------------------

#[test]
fn minimal_camera_gets_every_default() {
    let text = r#"
[[camera]]
name = "entrance"
source = "media/street.mp4"
[camera.redact]
target = "frame"
"#;
    let config = parse(text).unwrap();
    let expected = CameraConfig {
        lines: Vec::new(),
        zones: Vec::new(),
        start_time_ms: None,
        name: "entrance".into(),
        source: file("/etc/obscura/media/street.mp4"),
        redact: RedactConfig { target: Target::Frame, ..RedactConfig::default() },
        output: OutputConfig::default(),
        rtsp: crate::config::RtspSettings::default(),
        clips: None,
    };
    assert_eq!(
        config,
        Config {
            cameras: vec![expected],
            detector: DetectorSettings::default(),
            redaction_threads: None,
            counts: CountsConfig {
                sqlite: Some("/etc/obscura/counts.sqlite".into()),
                ..CountsConfig::default()
            },
            http_listen: None,
            http_token: None,
        }
    );
    let redact = &config.cameras[0].redact;
    assert_eq!(
        (redact.method, redact.fill_color, redact.masks.len()),
        (Method::Blur, Rgb { r: 0, g: 0, b: 0 }, 0)
    );
    let output = &config.cameras[0].output;
    assert_eq!(output.video, None);
    assert_eq!(output.encoder, EncoderSettings { preset: X264Preset::Veryfast, crf: 23 });
}

#[test]
fn full_file_sets_every_key() {
    let text = r##"
[[camera]]
name = "entrance"
source = "rtsp://192.0.2.10/stream1"
[camera.redact]
target = "none"
method = "fill"
fill_color = "#FF8000"
masks = [[[0.0, 0.0], [0.2, 0], [0.2, 0.1]], [[1, 1], [0.5, 1], [0.5, 0.5], [1, 0.5]]]
[camera.output]
preset = "slow"
crf = 18
[camera.rtsp]
transport = "udp"
user = "viewer"
password_env = "CAM_PASSWORD"
watchdog = "5s"
connect_timeout = "30s"

[[camera]]
name = "Yard_2"
source = "file:///srv/yard%202.mp4"
redact = { target = "frame", method = "pixelate" }
output = { video = "/var/out/yard.mp4", crf = 0 }
"##;
    let config = parse(text).unwrap();
    let entrance = CameraConfig {
        lines: Vec::new(),
        zones: Vec::new(),
        start_time_ms: None,
        name: "entrance".into(),
        source: Source::Rtsp("rtsp://192.0.2.10/stream1".into()),
        redact: RedactConfig {
            target: Target::None,
            method: Method::Fill,
            fill_color: Rgb { r: 255, g: 128, b: 0 },
            masks: vec![
                vec![point(0.0, 0.0), point(0.2, 0.0), point(0.2, 0.1)],
                vec![point(1.0, 1.0), point(0.5, 1.0), point(0.5, 0.5), point(1.0, 0.5)],
            ],
            detect_every: 3,
            temporal: crate::track::TemporalSettings::default(),
            audit_every: 100,
            audit_follows_rate: true,
        },
        output: OutputConfig { video: None, encoder: EncoderSettings { preset: X264Preset::Slow, crf: 18 } },
        rtsp: crate::config::RtspSettings {
            transport: crate::config::Transport::Udp,
            user: Some("viewer".into()),
            password: Some(crate::config::Secret::Env("CAM_PASSWORD".into())),
            watchdog: std::time::Duration::from_secs(5),
            connect_timeout: std::time::Duration::from_secs(30),
        },
        clips: None,
    };
    let yard = CameraConfig {
        lines: Vec::new(),
        zones: Vec::new(),
        start_time_ms: None,
        name: "Yard_2".into(),
        source: file("/srv/yard 2.mp4"),
        redact: RedactConfig { target: Target::Frame, method: Method::Pixelate, ..RedactConfig::default() },
        output: OutputConfig {
            video: Some("/var/out/yard.mp4".into()),
            encoder: EncoderSettings { preset: X264Preset::Veryfast, crf: 0 },
        },
        rtsp: crate::config::RtspSettings::default(),
        clips: None,
    };
    assert_eq!(
        config,
        Config {
            cameras: vec![entrance, yard],
            detector: DetectorSettings::default(),
            redaction_threads: None,
            counts: CountsConfig {
                sqlite: Some("/etc/obscura/counts.sqlite".into()),
                ..CountsConfig::default()
            },
            http_listen: None,
            http_token: None,
        }
    );
}

#[test]
fn relative_paths_are_resolved_against_the_config_directory() {
    let text = r#"
[[camera]]
name = "a"
source = "../media/a.mp4"
redact = { target = "frame" }
output = { video = "out/a.mp4" }
[[camera]]
name = "b"
source = "/abs/b.mp4"
redact = { target = "frame" }
output = { video = "/abs/out/b.mp4" }
"#;
    let config = Config::parse(text, "x.toml", Path::new("conf")).unwrap();
    assert_eq!(config.cameras[0].source, file("conf/../media/a.mp4"));
    assert_eq!(config.cameras[0].output.video, Some("conf/out/a.mp4".into()));
    assert_eq!(config.cameras[1].source, file("/abs/b.mp4"));
    assert_eq!(config.cameras[1].output.video, Some("/abs/out/b.mp4".into()));
}

#[test]
fn file_urls_become_paths() {
    let text = r#"
[[camera]]
name = "a"
source = "file:///abs/path/clip.mp4"
redact = { target = "frame" }
"#;
    assert_eq!(parse(text).unwrap().cameras[0].source, file("/abs/path/clip.mp4"));
}

#[test]
fn example_config_is_valid() {
    let text = include_str!("../../obscura.example.toml");
    let config = Config::parse(text, "obscura.example.toml", Path::new("demo")).unwrap();
    let [street] = config.cameras.as_slice() else { panic!("expected one camera: {config:?}") };
    assert_eq!(street.name, "street");
    assert_eq!(street.source, file("demo/sample_media/street.mp4"));
    assert_eq!((street.redact.target, street.redact.method), (Target::Heads, Method::Blur));
    assert_eq!(street.output.video, Some("demo/out/street.mp4".into()));
    assert_eq!(street.lines.len(), 1);
    assert_eq!(config.counts.jsonl, Some("demo/out/counts.jsonl".into()));
}

#[test]
fn example_config_commented_options_are_valid_too() {
    let mut in_masks = false;
    let uncommented: Vec<&str> = include_str!("../../obscura.example.toml")
        .lines()
        .map(|line| {
            let option = [
                "# fill_color = ",
                "# masks = [",
                "# preset = ",
                "# crf = ",
                "# detect_every = ",
                "# lookahead = ",
                "# max_staleness = ",
                "# on_fail = ",
                "# audit_every = ",
                "# [detector]",
                "# [redaction]",
                "# threads = ",
                "# spin = ",
                "# execution_provider = ",
                "# face_input = ",
                "# face_threshold = ",
                "# face_tiles = ",
                "# person_threshold = ",
                "# person_tiles = ",
                "# bucket = ",
                "# min_count = ",
                "# csv = ",
                "# [counts.mqtt]",
                "# host = ",
                "# port = ",
                "# topic_prefix = ",
                "# discovery = ",
                "# [http]",
                "# listen = ",
                "# name = ",
                "# anchor = ",
                "# [[camera.zone]]",
                "# polygon = ",
            ]
            .iter()
            .any(|o| line.starts_with(o));
            in_masks = (in_masks || line.starts_with("# masks = [")) && line != "# ]";
            if option || in_masks || line == "# ]" { &line[2..] } else { line }
        })
        .collect();
    let text = uncommented.join("\n");
    assert!(text.contains("\nmasks = [\n") && text.contains("\n]\n") && text.contains("\ncrf = "), "{text}");
    let config = Config::parse(&text, "uncommented.toml", Path::new("demo")).unwrap();
    let redact = &config.cameras[0].redact;
    assert_eq!(redact.masks.len(), 2);
    assert_eq!(redact.fill_color, Rgb { r: 0x80, g: 0x80, b: 0x80 });
    assert_eq!(redact.detect_every, 3);
    assert_eq!(config.detector.faces.threads.intra, 2);
    assert_eq!(config.detector.persons.tiling, Tiling::Wide);
    assert_eq!(config.redaction_threads, Some(2));
    let mqtt = config.counts.mqtt.as_ref().unwrap();
    assert_eq!((mqtt.host.as_str(), mqtt.port), ("127.0.0.1", 1883));
    assert_eq!(mqtt.discovery_prefix.as_deref(), Some("homeassistant"));
    assert_eq!(config.counts.sqlite, Some(PathBuf::from("demo/out/counts.sqlite")));
    assert_eq!((config.cameras[0].lines.len(), config.cameras[0].zones.len()), (1, 1));
    assert_eq!(config.http_listen, Some("127.0.0.1:9464".parse().unwrap()));
}

#[test]
fn mqtt_turns_the_sqlite_store_on_for_its_outbox() {
    let text = "[counts]\njsonl = \"c.jsonl\"\n[counts.mqtt]\nhost = \"broker.lan\"\n\n\
                [[camera]]\nname = \"a\"\nsource = \"a.mp4\"\n";
    let counts = parse(text).unwrap().counts;
    assert_eq!(counts.sqlite, Some(PathBuf::from("/etc/obscura/counts.sqlite")));
    let mqtt = counts.mqtt.unwrap();
    assert_eq!(mqtt, crate::config::MqttSettings::new("broker.lan"));
    assert_eq!(
        (mqtt.client_id.as_str(), mqtt.topic_prefix.as_str(), mqtt.port),
        ("obscura", "obscura", 1883)
    );
    let without = parse("[counts]\njsonl = \"c.jsonl\"\n[[camera]]\nname = \"a\"\nsource = \"a.mp4\"\n");
    assert_eq!(without.unwrap().counts.sqlite, None, "without MQTT, JSONL alone is enough");
}

#[test]
fn every_bad_mqtt_setting_is_reported() {
    let text = "[counts.mqtt]\nhost = \"a b\"\nclient_id = \"ob scura\"\ndiscovery_prefix = \"/ha\"\n\
                colour = 1\n\n[[camera]]\nname = \"a\"\nsource = \"a.mp4\"\n";
    let errs = errors(text);
    assert_eq!(errs.len(), 4, "{errs:?}");
    assert!(errs[0].starts_with("2:8: host \"a b\" is not a host name"), "{errs:?}");
    assert!(errs[1].starts_with("3:13: client_id \"ob scura\""), "{errs:?}");
    assert!(errs[2].starts_with("4:20: discovery_prefix \"/ha\" is not a topic prefix"), "{errs:?}");
    assert!(errs[3].starts_with("5:1: unknown key `colour`"), "{errs:?}");
}

#[test]
fn load_reads_the_file_and_resolves_paths_next_to_it() {
    let dir = std::env::temp_dir().join(format!("obscura-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cams.toml");
    std::fs::write(&path, "[[camera]]\nname = \"a\"\nsource = \"a.mp4\"\nredact = { target = \"frame\" }\n")
        .unwrap();
    let config = Config::load(&path);
    let bad_path = dir.join("bad.toml");
    std::fs::write(&bad_path, "[[camera]]\nname = \"a\"\n").unwrap();
    let invalid = Config::load(&bad_path);
    std::fs::remove_dir_all(&dir).unwrap();

    assert_eq!(config.unwrap().cameras[0].source, Source::File(dir.join("a.mp4")));
    let Err(ConfigError::Invalid(diagnostics)) = invalid else { panic!("expected Invalid: {invalid:?}") };
    assert_eq!(diagnostics.file, bad_path.display().to_string());
    assert_eq!(
        diagnostics.to_string(),
        format!(
            "{}:1:1: camera has no `source`: add a file path, a file:// URL or an rtsp:// URL, \
             e.g. source = \"rtsp://192.0.2.10/stream1\"",
            bad_path.display(),
        )
    );
}

#[test]
fn load_names_a_file_it_cannot_read() {
    let path = Path::new("/nonexistent/obscura.toml");
    let err = Config::load(path).unwrap_err();
    let ConfigError::Io { path: reported, source } = &err else { panic!("expected Io: {err:?}") };
    assert_eq!(reported, path);
    assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
    assert_eq!(err.to_string(), format!("cannot read config /nonexistent/obscura.toml: {source}"));
}

// ---- one error at a time -----------------------------------------------------------------------

/// A valid camera taking lines 1-5, so that the line under test is line 6.
const CAMERA: &str = "[[camera]]\nname = \"a\"\nsource = \"a.mp4\"\n[camera.redact]\ntarget = \"frame\"\n";

#[test]
fn unknown_target_lists_the_accepted_ones() {
    let text = "[[camera]]\nname = \"a\"\nsource = \"a.mp4\"\n[camera.redact]\ntarget = \"face\"\n";
    assert_eq!(
        errors(text),
        ["5:10: unknown target \"face\": expected one of frame, faces, heads, persons, none"]
    );
}

#[test]
fn unknown_method_lists_the_accepted_ones() {
    let text = format!("{CAMERA}method = \"smudge\"\n");
    assert_eq!(errors(&text), ["6:10: unknown method \"smudge\": expected one of blur, pixelate, fill"]);
}

#[test]
fn bad_fill_color_is_explained() {
    let text = format!("{CAMERA}fill_color = \"black\"\n");
    assert_eq!(
        errors(&text),
        ["6:14: invalid colour \"black\": expected #RRGGBB with six hexadecimal digits, e.g. \"#000000\""]
    );
}

#[test]
fn every_bad_polygon_point_and_coordinate_is_reported() {
    let text = format!(
        r#"{CAMERA}masks = [
  [[0, 0], [1, 0]],
  [[0, 0], [1, 0, 0], [1, 1]],
  [[0, 0], [1.5, 0], [1, "1"]],
  [[0, 0], [nan, 0], [1, 1], [-0.5, 1]],
  "square",
  [[0, 0], 7, [1, 1]],
  [[0, 0], [1, 0], [1, 1]],
]
"#
    );
    assert_eq!(
        errors(&text),
        [
            "7:3: a mask polygon needs at least 3 points, this one has 2",
            "8:12: a mask point must be [x, y], 2 numbers; this one has 3",
            "9:13: mask coordinate 1.5 is outside 0..1: coordinates are fractions of the frame's width (x) \
             and height (y)",
            "9:26: a mask coordinate must be a number from 0 to 1, found a string",
            "10:13: mask coordinate NaN is not a finite number: use a fraction of the frame from 0 to 1",
            "10:31: mask coordinate -0.5 is outside 0..1: coordinates are fractions of the frame's width (x) \
             and height (y)",
            "11:3: a mask polygon must be an array of [x, y] points, found a string",
            "12:12: a mask point must be an array [x, y], found a number",
        ]
    );
}

#[test]
fn a_polygon_not_wrapped_in_masks_gets_one_hint() {
    let text = format!("{CAMERA}masks = [[0, 0], [1, 0], [1, 1]]\n");
    assert_eq!(
        errors(&text),
        ["6:9: `masks` is an array of polygons and this is a single polygon: wrap it in one more [ ], \
             e.g. masks = [[[0.0, 0.0], [0.5, 0.0], [0.5, 0.5]]]"]
    );
    let text = format!("{CAMERA}masks = \"left half\"\n");
    assert_eq!(
        errors(&text),
        ["6:9: `masks` must be an array of polygons, found a string; e.g. \
             masks = [[[0.0, 0.0], [0.5, 0.0], [0.5, 0.5]]]"]
    );
}

#[test]
fn camera_names_must_be_plain_and_unique() {
    let long = "x".repeat(65);
    let text = format!(
        r#"[[camera]]
name = ""
source = "1.mp4"
redact = {{ target = "frame" }}
[[camera]]
name = "front door"
source = "2.mp4"
redact = {{ target = "frame" }}
[[camera]]
name = "{long}"
source = "3.mp4"
redact = {{ target = "frame" }}
[[camera]]
name = "{}"
source = "4.mp4"
redact = {{ target = "frame" }}
[[camera]]
name = "ok"
source = "5.mp4"
redact = {{ target = "frame" }}
[[camera]]
name = "ok"
source = "6.mp4"
redact = {{ target = "frame" }}
"#,
        "x".repeat(64)
    );
    assert_eq!(
        errors(&text),
        [
            "2:8: camera name is empty: use 1 to 64 letters, digits, '_' or '-'",
            "6:8: camera name \"front door\" contains ' ': use 1 to 64 letters, digits, '_' or '-'",
            "10:8: camera name is 65 characters long: use 1 to 64 letters, digits, '_' or '-'",
            "22:8: duplicate camera name \"ok\", already used on line 18: give each camera its own name",
        ]
    );
}

#[test]
fn sources_must_be_files_or_rtsp() {
    let text = r#"[[camera]]
name = "a"
source = ""
redact = { target = "frame" }
[[camera]]
name = "b"
source = "http://192.0.2.1/video.mjpg"
redact = { target = "frame" }
[[camera]]
name = "c"
source = "rtsps://192.0.2.1/live"
redact = { target = "frame" }
"#;
    assert_eq!(
        errors(text),
        [
            "3:10: `source` is empty: give a file path, a file:// URL or an rtsp:// URL",
            "7:10: unsupported source scheme \"http://\": use a file path, a file:// URL, or an rtsp:// or \
             rtsps:// URL",
        ]
    );
}

#[test]
fn missing_name_and_source_point_at_the_camera_header() {
    let text = "[[camera]]\nname = \"a\"\nsource = \"a.mp4\"\nredact = { target = \"frame\" }\n\n\
                [[camera]]\nredact = { target = \"frame\" }\n";
    assert_eq!(
        errors(text),
        [
            "6:1: camera has no `name`: add one, e.g. name = \"entrance\"",
            "6:1: camera has no `source`: add a file path, a file:// URL or an rtsp:// URL, \
             e.g. source = \"rtsp://192.0.2.10/stream1\"",
        ]
    );
}

#[test]
fn video_must_be_mp4_and_unique() {
    let text = r#"[[camera]]
name = "a"
source = "a.mp4"
redact = { target = "frame" }
output = { video = "out/a.avi" }
[[camera]]
name = "b"
source = "b.mp4"
redact = { target = "frame" }
output = { video = "out/b.mp4" }
[[camera]]
name = "c"
source = "c.mp4"
redact = { target = "frame" }
output = { video = "./out/b.mp4" }
"#;
    assert_eq!(
        errors(text),
        [
            "5:20: `video` \"out/a.avi\" must end in .mp4 or .m4v: the redacted stream is written as MP4",
            "15:20: `video` \"./out/b.mp4\" is already written by the camera on line 10: give each camera its \
             own output file",
        ]
    );
}

#[test]
fn preset_and_crf_are_checked() {
    let text = format!("{CAMERA}[camera.output]\npreset = \"fastest\"\ncrf = 51\n");
    assert_eq!(
        errors(&text),
        [
            "7:10: unknown preset \"fastest\": expected one of ultrafast, superfast, veryfast, faster, fast, \
             medium, slow, slower, veryslow",
            "8:7: crf 51 is out of range: use 0..=50 (lower is better quality and bigger files; the default is 23)",
        ]
    );
    let text = format!("{CAMERA}[camera.output]\ncrf = -1\n");
    assert_eq!(positions(&text), [(7, 7)]);
    let text = format!("{CAMERA}[camera.output]\ncrf = 2.5\n");
    assert_eq!(errors(&text), ["7:7: wrong type for `crf`: expected an integer, found float `2.5`"]);
}

#[test]
fn a_file_without_cameras_is_refused_at_its_start() {
    let message = "no camera: add at least one [[camera]] table with a `name` and a `source`";
    assert_eq!(errors(""), [format!("1:1: {message}")]);
    assert_eq!(errors("# nothing yet\n\n"), [format!("1:1: {message}")]);
    assert_eq!(errors("\ncamera = []\n"), [format!("2:10: {message}")]);
    assert_eq!(parse("").unwrap_err().to_string(), format!("cam.toml:1:1: {message}"));
}

#[test]
fn single_bracket_camera_table_is_explained() {
    assert_eq!(
        errors("[camera]\nname = \"a\"\nsource = \"a.mp4\"\n"),
        ["1:1: write `[[camera]]` (double brackets), not `[camera]`: each camera is one entry of an array \
             of tables"]
    );
}

#[test]
fn every_target_is_accepted() {
    for (name, target) in [("persons", Target::Persons), ("heads", Target::Heads), ("faces", Target::Faces)] {
        let text =
            format!("[[camera]]\nname = \"a\"\nsource = \"a.mp4\"\n[camera.redact]\ntarget = \"{name}\"\n");
        assert_eq!(parse(&text).unwrap().cameras[0].redact.target, target);
    }
}

#[test]
fn the_audit_cadence_follows_the_frame_rate_unless_written() {
    let redact = &parse(CAMERA).unwrap().cameras[0].redact;
    assert_eq!((redact.audit_every, redact.audit_follows_rate), (100, true));
    let text = "[[camera]]\nname = \"a\"\nsource = \"a.mp4\"\n[camera.redact]\naudit_every = 50\n";
    let redact = &parse(text).unwrap().cameras[0].redact;
    assert_eq!((redact.audit_every, redact.audit_follows_rate), (50, false));
}

#[test]
fn temporal_settings_are_read_and_checked_against_detect_every() {
    let text =
        "[[camera]]\nname = \"a\"\nsource = \"a.mp4\"\n[camera.redact]\nlookahead = 20\nmax_staleness = 30\n";
    let temporal = &parse(text).unwrap().cameras[0].redact.temporal;
    assert_eq!((temporal.lookahead, temporal.max_staleness), (20, 30));
    // Written values are frames; what is left out follows the stream's frame rate.
    let follow = crate::track::FollowRate { lookahead: false, max_staleness: false, ..Default::default() };
    assert_eq!(temporal.follow_rate, follow);
    assert_eq!(parse(CAMERA).unwrap().cameras[0].redact.temporal.follow_rate, crate::track::FollowRate::ALL);
    // The default staleness limit follows a long detection gap.
    let text = "[[camera]]\nname = \"a\"\nsource = \"a.mp4\"\n[camera.redact]\ndetect_every = 30\n";
    let redact = parse(text).unwrap().cameras[0].redact.clone();
    assert_eq!(redact.temporal.max_staleness, 29);
    assert!(!redact.temporal.follow_rate.detect_every && redact.temporal.follow_rate.max_staleness);
    let text = "[[camera]]\nname = \"a\"\nsource = \"a.mp4\"\n[camera.redact]\ndetect_every = 10\nmax_staleness = 5\n\
                lookahead = 300\n";
    assert_eq!(
        errors(text),
        [
            "6:17: max_staleness 5 is shorter than the gap between detections (detect_every 10): every frame \
             between detections would be redacted whole; use at least 9",
            "7:13: lookahead 300 is out of range: use 0..=250 (frames held back to mask people before their \
             first detection; default 12)",
        ]
    );
}

#[test]
fn redaction_threads_are_read() {
    assert_eq!(parse(&format!("[redaction]\nthreads = 1\n{CAMERA}")).unwrap().redaction_threads, Some(1));
    assert_eq!(
        errors(&format!("[redaction]\nthreads = 0\n{CAMERA}")),
        [
            "2:11: threads 0 is out of range: use 1..=256 (redaction threads shared by every camera; default: the \
          number of cores)"
        ]
    );
}

#[test]
fn detector_settings_are_read() {
    let text = format!(
        "[detector]\nthreads = 1\nspin = true\nexecution_provider = \"openvino\"\nface_input = 960\nface_threshold = 0.3\n\
         person_threshold = 0.45\nperson_tiles = [3, 2]\nface_tiles = [2, 2]\nreuse_unchanged_tiles = false\n{CAMERA}"
    );
    let d = parse(&text).unwrap().detector;
    assert_eq!(d.faces.threads.intra, 1);
    assert_eq!(d.persons.threads.intra, 1);
    assert!(d.faces.threads.spin && d.persons.threads.spin);
    assert_eq!(d.faces.provider, ExecutionProvider::OpenVino);
    assert_eq!(d.persons.provider, ExecutionProvider::OpenVino);
    assert_eq!(d.faces.input_long_side, 960);
    assert!(!d.faces.adaptive, "a written face_input is used as is");
    assert!(parse(CAMERA).unwrap().detector.faces.adaptive, "unset, faces choose their scale");
    assert_eq!(d.faces.threshold, 0.3);
    assert_eq!(d.persons.threshold, 0.45);
    assert_eq!(d.persons.tiling, Tiling::Grid { cols: 3, rows: 2 });
    assert_eq!(d.faces.tiling, Tiling::Grid { cols: 2, rows: 2 });
    assert!(!d.persons.reuse_unchanged);
    assert!(DetectorSettings::default().persons.reuse_unchanged);
    assert_eq!(parse(CAMERA).unwrap().detector, DetectorSettings::default());
}

#[test]
fn bad_detector_settings_are_each_reported() {
    let text = format!(
        "[detector]\nthreads = 0\nexecution_provider = \"tpu\"\nface_input = 50\nface_threshold = 1.5\n\
         person_threshold = 0.0\nperson_tiles = [2]\n{CAMERA}"
    );
    assert_eq!(
        errors(&text),
        [
            "2:11: threads 0 is out of range: use 1..=256 (inference threads per camera; default: the number of cores)",
            "3:22: unknown execution provider \"tpu\": use one of cpu, cuda, openvino",
            "4:14: face_input 50 is out of range: use 128..=4096 (the long side faces are detected at; default 640)",
            "5:18: face_threshold 1.5 is out of range: use 0.01..=0.99 (lower finds more, with more false masks; \
             default 0.2)",
            "6:20: person_threshold 0 is out of range: use 0.01..=0.99 (lower finds more, with more false masks; \
             default 0.2)",
            "7:16: person_tiles must be [columns, rows], e.g. [2, 1] (or \"auto\", the default, or \"wide\")",
        ]
    );
    let text = format!("[detector]\nperson_tiles = [9, 0]\n{CAMERA}");
    assert_eq!(errors(&text).len(), 2);
}

// ---- phase one: unknown keys and wrong types ---------------------------------------------------

#[test]
fn syntax_error_is_reported_alone_at_its_position() {
    let text = "[[camera]]\nname = \"\"\nsource = \"http://x\"\n[camera.redact]\ntarget = frame\n";
    assert_eq!(
        errors(text),
        ["5:10: invalid TOML: invalid boolean, expected `false`; if this is text, put it in double quotes"]
    );
    let text = "[[camera]]\nname = \"a\"\nname = \"b\"\nsource = 5\n";
    assert_eq!(errors(text), ["3:1: invalid TOML: duplicate key"]);
    let text = "[[camera]]\nname = \"a\"\nmasks = [[0, 1]\n";
    assert_eq!(positions(text), [(3, 16)]);
}

#[test]
fn unknown_table_is_reported_once_with_nothing_inside_it() {
    let text = format!("{CAMERA}[camera.redcat]\ntarget = \"faces\"\nmethod = \"bogus\"\nfoo = 1\n");
    assert_eq!(
        errors(&text),
        [
            "6:9: unknown table `redcat`, expected one of `name`, `source`, `redact`, `output`, `rtsp`, `start_time`, `line`, `zone`, `clips`"
        ]
    );
}

#[test]
fn misplaced_camera_keys_get_a_hint() {
    let text = format!("{CAMERA}\n[output]\nvideo = \"a.mp4\"\n");
    assert_eq!(
        errors(&text),
        [
            "7:2: unknown table `output`, expected one of `detector`, `redaction`, `counts`, `http`, `camera`; camera settings belong after a `[[camera]]` header \
             (e.g. `[camera.redact]`)"
        ]
    );
}

#[test]
fn wrong_types_inside_inline_tables_are_all_reported() {
    let text = "[[camera]]\nname = \"a\"\nsource = \"a.mp4\"\n\
                redact = { target = 5, method = \"smear\", fill_color = true }\n";
    assert_eq!(
        errors(text),
        [
            "4:21: wrong type for `target`: expected a string, found integer `5`",
            "4:33: unknown method \"smear\": expected one of blur, pixelate, fill",
            "4:55: wrong type for `fill_color`: expected a string, found boolean `true`",
        ]
    );
}

#[test]
fn wrong_types_are_named_in_toml_words() {
    let text = "[[camera]]\nname = \"a\"\nsource = \"a.mp4\"\nredact = \"frame\"\n";
    assert_eq!(errors(text), ["4:10: wrong type for `redact`: expected a table, found string \"frame\""]);
    assert_eq!(
        errors("camera = [1]\n"),
        ["1:11: wrong type for `camera`: expected a table, found integer `1`"]
    );
    assert_eq!(
        errors("camera = \"a\"\n"),
        ["1:10: wrong type for `camera`: expected an array, found string \"a\""]
    );
}

#[test]
fn columns_count_characters() {
    let text = "[[camera]]\nname = \"a\"\nsource = \"straße.mp4\"\nredact = { target = \"frame\" }\n\
                output = { video = \"straße.avi\", preset = \"turbo\" }\n";
    assert_eq!(positions(text), [(5, 20), (5, 43)]);
}

#[test]
fn several_mistakes_are_reported_at_once_without_cascades() {
    let text = r##"[[camera]]
name = "entrance"
soruce = "a.mp4"
[camera.redact]
target = "frame"
method = "smear"
fill_color = "#12345"

[[camera]]
name = 7
source = "b.mp4"
[camera.redact]
target = "none"
masks = [[[0, 0], [1.5, 0], [1, 1]]]
[camera.output]
crf = "high"

[[camera]]
name = "entrance"
source = "rtsp://192.0.2.1/live"
[camera.redcat]
target = "frame"
"##;
    let expected = [
        "3:1: unknown key `soruce`, expected one of `name`, `source`, `redact`, `output`, `rtsp`, `start_time`, `line`, `zone`, `clips`",
        "6:10: unknown method \"smear\": expected one of blur, pixelate, fill",
        "7:14: invalid colour \"#12345\": expected #RRGGBB with six hexadecimal digits, e.g. \"#000000\"",
        "10:8: wrong type for `name`: expected a string, found integer `7`",
        "14:20: mask coordinate 1.5 is outside 0..1: coordinates are fractions of the frame's width (x) and \
         height (y)",
        "16:7: wrong type for `crf`: expected an integer, found string \"high\"",
        "19:8: duplicate camera name \"entrance\", already used on line 2: give each camera its own name",
        "21:9: unknown table `redcat`, expected one of `name`, `source`, `redact`, `output`, `rtsp`, `start_time`, `line`, `zone`, `clips`",
    ];
    assert_eq!(errors(text), expected);
    let printed = parse(text).unwrap_err().to_string();
    assert_eq!(printed.lines().count(), expected.len());
    assert!(printed.starts_with("cam.toml:3:1: unknown key `soruce`"), "{printed}");
}

#[test]
fn lines_zones_and_counts_are_read() {
    let text = "[counts]\nbucket = \"1h\"\nstitch = \"5s\"\nmin_count = 3\njsonl = \"data/c.jsonl\"\n\
                [[camera]]\nname = \"a\"\nsource = \"a.mp4\"\nstart_time = 2026-11-22T10:00:00Z\n\
                [[camera.line]]\nname = \"door\"\nfrom = [0.5, 0]\nto = [0.5, 1]\nanchor = \"center\"\n\
                [[camera.zone]]\nname = \"till\"\npolygon = [[0, 0], [0.5, 0], [0.5, 0.5]]\n";
    let config = parse(text).unwrap();
    let camera = &config.cameras[0];
    assert_eq!(camera.lines.len(), 1);
    assert_eq!(camera.lines[0].name(), "door");
    assert_eq!(camera.lines[0].anchor(), crate::track::Anchor::Center);
    assert_eq!(camera.zones[0].polygon().len(), 3);
    assert_eq!(camera.start_time_ms, Some(1_795_341_600_000));
    assert_eq!(config.counts.settings.bucket_ms, 3_600_000);
    assert_eq!(config.counts.settings.stitch_ms, 5_000);
    assert_eq!(config.counts.min_count, 3);
    assert_eq!(config.counts.jsonl, Some(PathBuf::from("/etc/obscura/data/c.jsonl")), "next to the config");
}

#[test]
fn bad_lines_zones_and_counts_are_each_reported() {
    let text = "[counts]\nbucket = \"7m\"\n\
                [[camera]]\nname = \"a\"\nsource = \"a.mp4\"\nstart_time = 2026-11-22T10:00:00\n\
                [[camera.line]]\nname = \"door\"\nfrom = [0.5, 2]\nanchor = \"feet\"\n\
                [[camera.zone]]\nname = \"door\"\npolygon = [[0, 0], [0.5, 0]]\n";
    assert_eq!(
        errors(text),
        [
            "2:10: bucket \"7m\" is not a bucket length: use minutes or hours that divide a day, e.g. \"15m\", \"1h\"",
            "6:14: start_time must be a date and time with its offset, after 1970, e.g. start_time = \
             2026-11-22T10:00:00+01:00",
            "7:1: line has no `to`: add it, e.g. to = [0.5, 0]",
            "9:8: `from` must be [x, y] with x and y between 0 and 1 (fractions of the frame), e.g. [0.5, 0]",
            "10:10: unknown anchor \"feet\": expected \"bottom\" (the feet, default) or \"center\"",
            "12:8: duplicate line or zone name \"door\" in this camera, already used on line 8",
            "13:11: a zone polygon needs at least 3 [x, y] points",
        ]
    );
}

#[test]
fn live_camera_settings_are_checked_with_their_lines() {
    let text = r#"
[http]
listen = "0.0.0.0:9464"

[[camera]]
name = "door"
source = "rtsp://192.0.2.10/s1"
start_time = 2026-11-22T10:00:00Z
[camera.output]
video = "door.mp4"
[camera.rtsp]
transport = "sctp"
password_file = "secret"
watchdog = "0s"

[[camera]]
name = "file"
source = "a.mp4"
[camera.rtsp]
transport = "tcp"
"#;
    let errors = errors(text);
    let expected = [
        "3:10: listen 0.0.0.0:9464: a server on a non-loopback address needs a bearer token",
        "8:14: start_time is for files",
        "10:9: a live camera's video is not written to one endless file",
        "12:13: unknown transport \"sctp\": expected tcp or udp",
        "13:17: a password without `user`",
        "14:12: watchdog \"0s\" is not a duration from 1s to 10m",
        "19:1: [camera.rtsp] is for rtsp:// sources",
    ];
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    for (error, want) in errors.iter().zip(expected) {
        assert!(error.contains(want), "{error:?} should contain {want:?}");
    }
    let token = "[http]\nlisten = \"0.0.0.0:9464\"\ntoken_env = \"OBSCURA_TOKEN\"\n\n[[camera]]\nname = \"a\"\nsource = \"a.mp4\"\n";
    let config = parse(token).unwrap();
    assert_eq!(config.http_token, Some(crate::config::Secret::Env("OBSCURA_TOKEN".into())));
}

#[test]
fn a_bad_stitching_window_is_reported() {
    let text = format!("[counts]\nstitch = \"2m\"\n{CAMERA}");
    assert_eq!(
        errors(&text),
        [
            "2:10: stitch \"2m\" is not a stitching window: use seconds from \"0s\" (off) to \"30s\", e.g. \"2s\""
        ]
    );
}

#[test]
fn person_tiles_take_a_name_or_a_grid() {
    for (value, tiling) in [
        ("\"auto\"", Tiling::Auto),
        ("\"wide\"", Tiling::Wide),
        ("[3, 2]", Tiling::Grid { cols: 3, rows: 2 }),
    ] {
        let config = parse(&format!("[detector]\nperson_tiles = {value}\n{CAMERA}")).unwrap();
        assert_eq!(config.detector.persons.tiling, tiling, "{value}");
    }
    let text = format!("[detector]\nperson_tiles = \"fine\"\n{CAMERA}");
    assert_eq!(
        errors(&text),
        [
            "2:16: person_tiles \"fine\": use \"auto\" (chosen from the people seen, the default), \"wide\" (tiles \
          across wide frames only, constant cost) or [columns, rows]"
        ]
    );
}

// ---- event clips -------------------------------------------------------------------------------

#[test]
fn clips_get_their_defaults_and_every_key() {
    let text = "[[camera]]\nname = \"door\"\nsource = \"rtsp://192.0.2.10/s\"\n\
                [camera.clips]\n\n\
                [[camera]]\nname = \"till\"\nsource = \"rtsp://192.0.2.11/s\"\n\
                [camera.redact]\ntarget = \"none\"\nmasks = [[[0, 0], [0.1, 0], [0.1, 0.1]]]\n\
                [camera.clips]\non = [\"line:entry\", \"zone\"]\npre = \"2s\"\npost = \"10s\"\n\
                max_length = \"30m\"\nmax_age = \"7d\"\nmax_size = \"20GB\"\nmemory = \"64MiB\"\n\
                [[camera.line]]\nname = \"entry\"\nfrom = [0.5, 0]\nto = [0.5, 1]\n\
                [[camera.zone]]\nname = \"queue\"\npolygon = [[0, 0], [1, 0], [1, 1]]\n";
    let config = parse(text).unwrap();
    let door = config.cameras[0].clips.clone().unwrap();
    assert_eq!(door, crate::clips::ClipsConfig::new(PathBuf::from(BASE).join("clips")));
    assert_eq!((door.pre_ms, door.post_ms, door.max_length_ms), (5_000, 5_000, 300_000));
    let till = config.cameras[1].clips.clone().unwrap();
    assert_eq!(
        till.on,
        [crate::clips::ClipTrigger::Line(Some("entry".into())), crate::clips::ClipTrigger::Zone(None)]
    );
    assert_eq!((till.pre_ms, till.post_ms, till.max_length_ms), (2_000, 10_000, 1_800_000));
    assert_eq!(till.retention.max_age_ms, Some(7 * 86_400_000));
    assert_eq!(till.retention.max_bytes, Some(20_000_000_000));
    assert_eq!(till.memory_bytes, 64 << 20);
}

#[test]
fn bad_clips_are_reported_each_at_its_value() {
    let text = "[[camera]]\nname = \"door\"\nsource = \"rtsp://192.0.2.10/s\"\n\
                [camera.redact]\ntarget = \"frame\"\n\
                [camera.clips]\non = [\"people\", \"line:exit\", \"zone\", \"cars\"]\npre = \"2m\"\n\
                post = \"soon\"\nmax_length = \"1s\"\nmax_age = \"10s\"\nmax_size = \"lots\"\nmemory = \"1MB\"\n\
                [[camera.line]]\nname = \"entry\"\nfrom = [0.5, 0]\nto = [0.5, 1]\n\n\
                [[camera]]\nname = \"yard\"\nsource = \"rtsp://192.0.2.11/s\"\n\
                [camera.redact]\ntarget = \"frame\"\n[camera.clips]\ndir = \"elsewhere\"\n\n\
                [[camera]]\nname = \"gate\"\nsource = \"rtsp://192.0.2.12/s\"\n\
                [camera.redact]\ntarget = \"frame\"\n[camera.clips]\n";
    assert_eq!(
        errors(text),
        [
            "7:17: this camera has no line \"exit\" (its lines: entry)",
            "7:30: \"zone\" starts clips on people in a zone, but this camera has no [[camera.zone]]",
            "7:38: \"cars\" is not a clip trigger: use \"people\", \"line\", \"zone\", \"line:NAME\" or \"zone:NAME\"",
            "8:7: pre \"2m\" is not a pre-roll from \"0s\" to \"60s\", e.g. \"5s\"",
            "9:8: post \"soon\" is not a post-roll from \"0s\" to \"10m\", e.g. \"5s\"",
            "10:14: max_length \"1s\" is not a clip length from \"10s\" to \"1h\", e.g. \"5m\"",
            "11:11: max_age \"10s\" is not an age of a minute or more, e.g. \"7d\"",
            "12:12: max_size \"lots\" is not a size of 1MB or more, e.g. \"20GB\"",
            "13:10: memory \"1MB\" is not a buffer size of 8MB or more, e.g. \"256MB\"",
            "25:7: clips go to /etc/obscura/elsewhere here but to /etc/obscura/clips on line 6: every camera's \
             clips share one folder (the API lists them from one index)",
            "32:1: clips on \"people\" need a detector, and target \"frame\" runs none without lines or zones: \
             use target \"faces\", \"heads\" or \"persons\", or add a line or zone",
        ]
    );
}
