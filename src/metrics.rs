//! Prometheus metrics, served as text at `GET /metrics` by a small HTTP server on a loopback
//! address: aggregate counts only, never anything about one person.
//!
//! The count figures move only when a time bucket closes (see docs/privacy.md §4): a scraper
//! polling every second learns nothing finer than the bucket (at least a minute), exactly what
//! the JSONL, CSV, SQLite and MQTT outputs give. Under the `min_count` floor:
//! * the crossing and entry counters advance in steps of at least `min_count`: a closed bucket's
//!   count is held back until, with the buckets after it, it reaches the floor (the counters lag
//!   the truth by less than `min_count`);
//! * the occupancy gauge (the most people inside at once during the latest closed bucket) is left
//!   out while it is under the floor, as `"<k"` is in the files.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::http::StatusCode;

use crate::count::Closed;

/// The figures `/metrics` shows, updated when count buckets close.
#[derive(Debug, Default)]
pub struct Metrics {
    state: Mutex<State>,
    sections: Mutex<Sections>,
    cameras: Mutex<Vec<Arc<crate::stats::CameraStats>>>,
    /// `GET /api/counts`, when there is a count store.
    counts_api: std::sync::OnceLock<Arc<crate::counts_api::CountsApi>>,
    /// `/api/clips`, when there is a clip library.
    clips: std::sync::OnceLock<Arc<Mutex<crate::clips::ClipLibrary>>>,
    /// `PUT /api/cameras/{name}/geometry`, when the service runs from a config file.
    editor: std::sync::OnceLock<Arc<crate::editor::ConfigEditor>>,
}

/// Text rendered by other parts at each scrape (e.g. the MQTT publisher's state).
#[derive(Default)]
struct Sections(Vec<Box<dyn Fn() -> String + Send + Sync>>);

impl std::fmt::Debug for Sections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} section(s)", self.0.len())
    }
}

/// A counter released in steps of at least the floor.
#[derive(Debug, Default, Clone, Copy)]
struct Floored {
    /// What `/metrics` shows.
    shown: u64,
    /// Counted in closed buckets, not shown yet (under the floor).
    held: u64,
}

impl Floored {
    fn add(&mut self, value: u64, min_count: u64) {
        self.held += value;
        if self.held >= min_count.max(1) {
            self.shown += self.held;
            self.held = 0;
        }
    }
}

#[derive(Debug, Default)]
struct State {
    /// (camera, line) → crossings in, out, in closed buckets since the process started.
    crossings: BTreeMap<(String, String), [Floored; 2]>,
    /// (camera, zone) → entries in closed buckets since the process started.
    entries: BTreeMap<(String, String), Floored>,
    /// (camera, zone) → the most people inside at once in the latest closed bucket; `None` when
    /// under the floor or the bucket had no pass.
    occupancy: BTreeMap<(String, String), Option<u64>>,
    /// camera → end of its latest closed bucket, ms since the epoch.
    bucket_end: BTreeMap<String, u64>,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Serves `/api/clips` from this clip library (the first call wins).
    pub fn set_clips(&self, library: Arc<Mutex<crate::clips::ClipLibrary>>) {
        let _ = self.clips.set(library);
    }

    /// Lets the dashboard's editor rewrite the config through `editor` (the first call wins).
    pub fn set_editor(&self, editor: crate::editor::ConfigEditor) {
        let _ = self.editor.set(Arc::new(editor));
    }

    /// Serves `GET /api/counts` from this count store (the first call wins).
    pub fn set_counts_api(&self, api: crate::counts_api::CountsApi) {
        let _ = self.counts_api.set(Arc::new(api));
    }

    /// The cameras whose live figures are shown.
    pub fn set_cameras(&self, cameras: Vec<Arc<crate::stats::CameraStats>>) {
        *self.cameras.lock().unwrap_or_else(PoisonError::into_inner) = cameras;
    }

    /// What `/api/cameras` says: each camera's state and figures.
    pub fn cameras_json(&self) -> String {
        self.cameras_json_since(None)
    }

    /// [`Metrics::cameras_json`], each camera with its counts since `since_ms` when given
    /// (the stored buckets that started since, plus the open bucket if it did), floored at
    /// `min_count`, and the people in each zone now.
    pub fn cameras_json_since(&self, since_ms: Option<u64>) -> String {
        let cameras = self.cameras.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let api = self.counts_api.get().cloned();
        let min_count = api.as_ref().map_or(0, |a| a.min_count());
        let floor = |v: u64| -> serde_json::Value {
            if v < min_count { serde_json::json!(format!("<{min_count}")) } else { serde_json::json!(v) }
        };
        let entries: Vec<serde_json::Value> = cameras
            .iter()
            .map(|c| {
                let mut entry = serde_json::to_value(c.snapshot()).unwrap_or_default();
                let plan = c.plan();
                let extra = serde_json::json!({
                    "detection_ms": (c.detection_mean_ms() * 10.0).round() / 10.0,
                    "frames_dropped_by_reason": crate::stats::DropReason::ALL
                        .iter()
                        .map(|&r| (r.name().to_owned(), serde_json::json!(c.dropped_by(r))))
                        .collect::<serde_json::Map<_, _>>(),
                    "frames_fail_closed_by_reason": {
                        "detector_error": plan.fail_closed_error,
                        "invalid_output": plan.fail_closed_invalid,
                        "stale": plan.fail_closed_stale,
                    },
                    "privacy": {
                        "detection_passes": plan.passes,
                        "failed_passes": plan.failed_passes,
                        "frames_with_masks": plan.frames_with_masks,
                        "max_masks": plan.max_masks,
                        "max_staleness_frames": plan.max_staleness,
                        // Detection's cadence at the stream's frame rate, and the frames whose
                        // pass was put off because detection was behind the camera.
                        "detect_every": plan.timing.every,
                        "frames_detection_put_off": plan.postponed,
                        // Frames masked along a bridge between broken tracks (docs/privacy.md).
                        "frames_bridged": plan.frames_bridged,
                    },
                    "geometry": c.geometry(),
                    "counts": since_ms.map(|since| camera_counts(c, api.as_deref(), since, &floor)),
                });
                if let (Some(entry), serde_json::Value::Object(extra)) = (entry.as_object_mut(), extra) {
                    entry.extend(extra);
                }
                entry
            })
            .collect();
        serde_json::to_string_pretty(&serde_json::json!({ "cameras": entries })).unwrap_or_default() + "\n"
    }

    /// Takes the buckets a camera just closed, with the privacy floor `min_count` (0: none).
    pub fn record_closed(&self, closed: &Closed, min_count: u64) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        for bucket in &closed.lines {
            let key = (bucket.camera.clone(), bucket.line.clone());
            let [inn, out] = state.crossings.entry(key).or_default();
            inn.add(bucket.in_count, min_count);
            out.add(bucket.out_count, min_count);
            let end = state.bucket_end.entry(bucket.camera.clone()).or_default();
            *end = (*end).max(bucket.end_ms);
        }
        for bucket in &closed.zones {
            let key = (bucket.camera.clone(), bucket.zone.clone());
            state.entries.entry(key.clone()).or_default().add(bucket.entries, min_count);
            let max = bucket.occupancy_max.filter(|&max| max >= min_count);
            state.occupancy.insert(key, max);
            let end = state.bucket_end.entry(bucket.camera.clone()).or_default();
            *end = (*end).max(bucket.end_ms);
        }
    }

    /// Adds text rendered at every scrape, after the counts: complete metric families (HELP,
    /// TYPE, samples) with names of their own.
    pub fn add_section(&self, render: impl Fn() -> String + Send + Sync + 'static) {
        self.sections.lock().unwrap_or_else(PoisonError::into_inner).0.push(Box::new(render));
    }

    /// The Prometheus text exposition format.
    pub fn render(&self) -> String {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut text = String::from(
            "# HELP obscura_line_crossings_total People crossing a counting line, by direction, in closed \
             count buckets (advances when a bucket closes, in steps of at least min_count).\n\
             # TYPE obscura_line_crossings_total counter\n",
        );
        for ((camera, line), [inn, out]) in &state.crossings {
            for (direction, value) in [("in", inn.shown), ("out", out.shown)] {
                text += &format!(
                    "obscura_line_crossings_total{{camera=\"{}\",line=\"{}\",direction=\"{direction}\"}} {value}\n",
                    escape(camera),
                    escape(line)
                );
            }
        }
        text += "# HELP obscura_zone_entries_total People entering a zone, in closed count buckets (advances \
                 when a bucket closes, in steps of at least min_count).\n\
                 # TYPE obscura_zone_entries_total counter\n";
        for ((camera, zone), entries) in &state.entries {
            text += &format!(
                "obscura_zone_entries_total{{camera=\"{}\",zone=\"{}\"}} {}\n",
                escape(camera),
                escape(zone),
                entries.shown
            );
        }
        text += "# HELP obscura_zone_occupancy_max The most people inside a zone at once during the latest \
                 closed count bucket (absent under min_count).\n\
                 # TYPE obscura_zone_occupancy_max gauge\n";
        for ((camera, zone), value) in &state.occupancy {
            if let Some(value) = value {
                text += &format!(
                    "obscura_zone_occupancy_max{{camera=\"{}\",zone=\"{}\"}} {value}\n",
                    escape(camera),
                    escape(zone)
                );
            }
        }
        text += "# HELP obscura_counts_bucket_end_seconds End of the latest closed count bucket of a camera \
                 (the time the count figures are up to), seconds since the epoch.\n\
                 # TYPE obscura_counts_bucket_end_seconds gauge\n";
        for (camera, end_ms) in &state.bucket_end {
            text += &format!(
                "obscura_counts_bucket_end_seconds{{camera=\"{}\"}} {}\n",
                escape(camera),
                end_ms / 1000
            );
        }
        drop(state);
        let cameras = self.cameras.lock().unwrap_or_else(PoisonError::into_inner).clone();
        if !cameras.is_empty() {
            let mut families: [String; crate::stats::FAMILIES.len()] = Default::default();
            for camera in &cameras {
                camera.render_into(&mut families);
            }
            for ((name, kind, help), samples) in crate::stats::FAMILIES.iter().zip(families) {
                text += &format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{samples}");
            }
        }
        for section in &self.sections.lock().unwrap_or_else(PoisonError::into_inner).0 {
            text += &section();
        }
        text
    }

    /// Serves `GET /metrics`, `GET /healthz` and `GET /api/cameras` on `addr` (axum, on the
    /// process's async runtime), for as long as the process runs. Without a `token`, only
    /// loopback addresses are accepted; with one, every request but `/healthz` must carry
    /// `Authorization: Bearer TOKEN` (compared in constant time), or gets 401 and nothing else.
    pub fn serve(self: &Arc<Self>, addr: SocketAddr, token: Option<String>) -> std::io::Result<SocketAddr> {
        if !addr.ip().is_loopback() && token.is_none() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "{addr}: without a token the server listens on a loopback address only (127.0.0.1 or ::1)"
                ),
            ));
        }
        // Bound here, so a busy port is an error of this call, not of a task later.
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let bound = listener.local_addr()?;
        let runtime = crate::runtime::runtime().map_err(std::io::Error::other)?;
        let _context = runtime.enter();
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let app = router(Arc::clone(self), token.map(Arc::from));
        runtime.spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                tracing::error!(%err, "the HTTP server stopped");
            }
        });
        Ok(bound)
    }
}

/// A camera's counts since `since` (stored buckets plus the open one), floored with `floor`, and
/// the people in each zone now; `null` for a camera that does not count.
fn camera_counts(
    camera: &crate::stats::CameraStats,
    api: Option<&crate::counts_api::CountsApi>,
    since: u64,
    floor: &dyn Fn(u64) -> serde_json::Value,
) -> serde_json::Value {
    let live = camera.live();
    let geometry = camera.geometry();
    let names = |key: &str| -> Vec<String> {
        geometry[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["name"].as_str().map(str::to_owned))
            .collect()
    };
    let (line_names, zone_names) = (names("lines"), names("zones"));
    if line_names.is_empty() && zone_names.is_empty() {
        return serde_json::Value::Null;
    }
    let (stored_lines, stored_zones) = match api.map(|api| api.totals_since(&camera.name, since)) {
        Some(Ok(totals)) => totals,
        Some(Err(err)) => {
            tracing::warn!(%err, "cannot read today's counts");
            Default::default()
        }
        None => Default::default(),
    };
    let open = live.as_ref().filter(|l| l.bucket_start_ms >= since);
    let lines: Vec<_> = line_names
        .iter()
        .map(|name| {
            let stored = stored_lines.iter().find(|l| &l.0 == name).map_or((0, 0), |l| (l.1, l.2));
            let now = open.and_then(|o| o.lines.iter().find(|l| &l.0 == name)).map_or((0, 0), |l| (l.1, l.2));
            serde_json::json!({ "name": name, "in": floor(stored.0 + now.0), "out": floor(stored.1 + now.1) })
        })
        .collect();
    let zones: Vec<_> = zone_names
        .iter()
        .map(|name| {
            let stored = stored_zones.iter().find(|z| &z.0 == name).map_or(0, |z| z.1);
            let now = live.as_ref().and_then(|o| o.zones.iter().find(|z| &z.0 == name));
            let entries =
                stored + open.and_then(|o| o.zones.iter().find(|z| &z.0 == name)).map_or(0, |z| z.1);
            serde_json::json!({
                "name": name, "entries": floor(entries), "occupancy": floor(now.map_or(0, |z| z.2)),
            })
        })
        .collect();
    serde_json::json!({ "since": crate::clock::rfc3339(since), "lines": lines, "zones": zones })
}

/// The routes: `/healthz` open to all; the rest behind the token, when there is one.
fn router(metrics: Arc<Metrics>, token: Option<Arc<str>>) -> axum::Router {
    use axum::http::header::CONTENT_TYPE;
    use axum::routing::get;
    let guarded = axum::Router::new()
        .route(
            "/metrics",
            get(|axum::extract::State(m): axum::extract::State<Arc<Metrics>>| async move {
                ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], m.render())
            }),
        )
        .route("/api/cameras", get(cameras))
        .route(
            "/api/openapi.json",
            get(|| async { ([(CONTENT_TYPE, "application/json")], crate::openapi::document().to_string()) }),
        )
        .route("/api/counts", get(counts))
        .route("/api/cameras/{name}/snapshot.jpg", get(snapshot))
        .route("/api/clips", get(clips_list))
        .route("/api/clips/{id}", get(clip_file).delete(clip_delete))
        .route("/api/clips/{id}/thumbnail.jpg", get(clip_thumbnail))
        .route("/api/cameras/{name}/geometry", axum::routing::put(put_geometry))
        .route("/", get(crate::dashboard::page))
        .route("/ui/{file}", get(crate::dashboard::asset))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found: see /api/openapi.json\n") })
        .layer(axum::middleware::from_fn_with_state(token.clone(), require_token))
        .with_state(metrics);
    let login = axum::Router::new()
        .route("/login", get(crate::dashboard::login_page).post(crate::dashboard::login))
        .with_state(token);
    axum::Router::new().route("/healthz", get(|| async { "ok\n" })).merge(login).merge(guarded)
}

/// `PUT /api/cameras/{name}/geometry`: the camera's lines and zones (JSON, as in `/api/cameras`),
/// written into the config file (comments kept) and reloaded; 400 with every reason when the
/// config would not be valid, nothing written.
async fn put_geometry(
    axum::extract::State(m): axum::extract::State<Arc<Metrics>>,
    axum::extract::Path(name): axum::extract::Path<String>,
    body: Result<axum::Json<crate::editor::Geometry>, axum::extract::rejection::JsonRejection>,
) -> Reply {
    use axum::response::IntoResponse;
    let geometry = match body {
        Ok(axum::Json(geometry)) => geometry,
        Err(rejection) => return text_reply(StatusCode::BAD_REQUEST, rejection.body_text()),
    };
    let Some(editor) = m.editor.get().cloned() else {
        return text_reply(StatusCode::NOT_FOUND, "no config file to edit".to_owned());
    };
    let edited = tokio::task::spawn_blocking(move || editor.set_geometry(&name, &geometry)).await;
    match edited {
        Ok(Ok(())) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            "{\"saved\": true, \"reloading\": true}\n",
        )
            .into_response(),
        Ok(Err(err @ crate::editor::EditError::NoCamera(_))) => {
            text_reply(StatusCode::NOT_FOUND, err.to_string())
        }
        Ok(Err(err @ crate::editor::EditError::Refused(_))) => {
            text_reply(StatusCode::BAD_REQUEST, err.to_string())
        }
        Ok(Err(err)) => text_reply(StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
        Err(err) => text_reply(StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
    }
}

/// `GET /api/clips/{id}/thumbnail.jpg`: the JPEG of the redacted frame that opened the clip.
async fn clip_thumbnail(
    axum::extract::State(m): axum::extract::State<Arc<Metrics>>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Reply {
    use axum::response::IntoResponse;
    let id = match clip_id(&id) {
        Ok(id) => id,
        Err((status, text)) => return text_reply(status, text),
    };
    let result = with_clips(&m, move |library| {
        let path = clip_path(library, id)?;
        std::fs::read(crate::clips::thumbnail_path(&path))
            .map_err(|_| (StatusCode::NOT_FOUND, "this clip has no thumbnail".to_owned()))
    })
    .await;
    match result {
        Ok(jpeg) => ([(axum::http::header::CONTENT_TYPE, "image/jpeg")], jpeg).into_response(),
        Err(reply) => reply,
    }
}

/// The query of `GET /api/cameras`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CamerasParams {
    since: Option<String>,
}

/// `GET /api/cameras?since=`: every camera's state and figures; with `since`, its counts since
/// then (e.g. the viewer's midnight).
async fn cameras(
    axum::extract::State(m): axum::extract::State<Arc<Metrics>>,
    query: Result<axum::extract::Query<CamerasParams>, axum::extract::rejection::QueryRejection>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let params = match query {
        Ok(axum::extract::Query(params)) => params,
        Err(rejection) => return text_reply(StatusCode::BAD_REQUEST, rejection.body_text()),
    };
    let since = match params.since.as_deref().map(|t| crate::counts_api::parse_time("since", t)).transpose() {
        Ok(since) => since,
        Err(reason) => return text_reply(StatusCode::BAD_REQUEST, reason),
    };
    let body = tokio::task::spawn_blocking(move || m.cameras_json_since(since)).await.unwrap_or_default();
    ([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The query of `GET /api/clips`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ClipsParams {
    camera: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

type Reply = axum::response::Response;

fn text_reply(status: StatusCode, text: String) -> Reply {
    use axum::response::IntoResponse;
    (status, text + "\n").into_response()
}

/// Runs `f` on the clip library on a blocking thread; 404 without a library.
async fn with_clips<T: Send + 'static>(
    m: &Metrics,
    f: impl FnOnce(&crate::clips::ClipLibrary) -> Result<T, Fail> + Send + 'static,
) -> Result<T, Reply> {
    let Some(library) = m.clips.get().cloned() else {
        return Err(text_reply(StatusCode::NOT_FOUND, "no clips: no camera records clips".to_owned()));
    };
    let run = move || f(&library.lock().unwrap_or_else(PoisonError::into_inner));
    match tokio::task::spawn_blocking(run).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err((status, text))) => Err(text_reply(status, text)),
        Err(err) => Err(text_reply(StatusCode::SERVICE_UNAVAILABLE, err.to_string())),
    }
}

/// A status and its reason, from the blocking side.
type Fail = (StatusCode, String);

fn unavailable(err: crate::clips::ClipError) -> Fail {
    (StatusCode::SERVICE_UNAVAILABLE, err.to_string())
}

/// A clip id from the path, or a 400 saying it is none.
fn clip_id(text: &str) -> Result<i64, Fail> {
    text.parse().map_err(|_| (StatusCode::BAD_REQUEST, format!("{text:?} is not a clip id")))
}

/// The file of clip `id`, or a 404.
fn clip_path(library: &crate::clips::ClipLibrary, id: i64) -> Result<std::path::PathBuf, Fail> {
    match library.get(id).map_err(unavailable)? {
        Some((_, path)) => Ok(path),
        None => Err((StatusCode::NOT_FOUND, "no such clip".to_owned())),
    }
}

/// `GET /api/clips?camera=&from=&to=`: the clips overlapping the range, oldest first.
async fn clips_list(
    axum::extract::State(m): axum::extract::State<Arc<Metrics>>,
    query: Result<axum::extract::Query<ClipsParams>, axum::extract::rejection::QueryRejection>,
) -> Reply {
    use axum::http::header::CONTENT_TYPE;
    use axum::response::IntoResponse;
    let params = match query {
        Ok(axum::extract::Query(params)) => params,
        Err(rejection) => return text_reply(StatusCode::BAD_REQUEST, rejection.body_text()),
    };
    let time = |key: &str, value: &Option<String>| {
        value.as_deref().map(|t| crate::counts_api::parse_time(key, t)).transpose()
    };
    let (from, to) = match (time("from", &params.from), time("to", &params.to)) {
        (Ok(from), Ok(to)) => (from, to),
        (Err(reason), _) | (_, Err(reason)) => return text_reply(StatusCode::BAD_REQUEST, reason),
    };
    let camera = params.camera;
    let listed =
        with_clips(&m, move |library| library.list(camera.as_deref(), from, to).map_err(unavailable)).await;
    match listed {
        Ok(clips) => {
            let rows: Vec<serde_json::Value> = clips
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "id": c.id, "camera": c.camera, "start": crate::clock::rfc3339(c.start_ms),
                        "end": crate::clock::rfc3339(c.end_ms), "size": c.size, "reason": c.reason,
                        "file": c.file, "url": format!("/api/clips/{}", c.id),
                    })
                })
                .collect();
            ([(CONTENT_TYPE, "application/json")], serde_json::json!({ "clips": rows }).to_string())
                .into_response()
        }
        Err(reply) => reply,
    }
}

/// `GET /api/clips/{id}`: the clip's MP4, whole or the byte range asked for (`Range: bytes=…`,
/// so a browser can seek).
async fn clip_file(
    axum::extract::State(m): axum::extract::State<Arc<Metrics>>,
    axum::extract::Path(id): axum::extract::Path<String>,
    headers: axum::http::HeaderMap,
) -> Reply {
    use axum::http::header::{ACCEPT_RANGES, CONTENT_RANGE, CONTENT_TYPE, RANGE};
    use axum::response::IntoResponse;
    let id = match clip_id(&id) {
        Ok(id) => id,
        Err((status, text)) => return text_reply(status, text),
    };
    let range = headers.get(RANGE).map(|v| v.to_str().unwrap_or("").to_owned());
    let result = with_clips(&m, move |library| {
        let path = clip_path(library, id)?;
        let bytes = std::fs::read(&path).map_err(|err| (StatusCode::NOT_FOUND, err.to_string()))?;
        Ok(bytes)
    })
    .await;
    let bytes = match result {
        Ok(bytes) => bytes,
        Err(reply) => return reply,
    };
    let len = bytes.len() as u64;
    match range.as_deref().map(|r| byte_range(r, len)) {
        None => ([(CONTENT_TYPE, "video/mp4"), (ACCEPT_RANGES, "bytes")], bytes).into_response(),
        Some(Some((start, end))) => (
            StatusCode::PARTIAL_CONTENT,
            [
                (CONTENT_TYPE, "video/mp4".to_owned()),
                (ACCEPT_RANGES, "bytes".to_owned()),
                (CONTENT_RANGE, format!("bytes {start}-{end}/{len}")),
            ],
            bytes[start as usize..=end as usize].to_vec(),
        )
            .into_response(),
        Some(None) => {
            (StatusCode::RANGE_NOT_SATISFIABLE, [(CONTENT_RANGE, format!("bytes */{len}"))]).into_response()
        }
    }
}

/// `DELETE /api/clips/{id}`: the clip, its report and its index row.
async fn clip_delete(
    axum::extract::State(m): axum::extract::State<Arc<Metrics>>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Reply {
    use axum::response::IntoResponse;
    let id = match clip_id(&id) {
        Ok(id) => id,
        Err((status, text)) => return text_reply(status, text),
    };
    let deleted = with_clips(&m, move |library| library.delete(id).map_err(unavailable)).await;
    match deleted {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => text_reply(StatusCode::NOT_FOUND, "no such clip".to_owned()),
        Err(reply) => reply,
    }
}

/// The first byte range of a `Range: bytes=…` header over `len` bytes, inclusive; `None` when it
/// cannot be satisfied (or is not a byte range).
fn byte_range(header: &str, len: u64) -> Option<(u64, u64)> {
    let spec = header.trim().strip_prefix("bytes=")?.split(',').next()?.trim();
    let (first, last) = spec.split_once('-')?;
    let (start, end) = match (first.trim(), last.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().ok()?;
            (len.checked_sub(n.min(len))?, len.checked_sub(1)?)
        }
        (first, "") => (first.parse().ok()?, len.checked_sub(1)?),
        (first, last) => (first.parse().ok()?, last.parse::<u64>().ok()?.min(len.checked_sub(1)?)),
    };
    (start <= end && end < len).then_some((start, end))
}

/// The query of `GET /api/cameras/{name}/snapshot.jpg`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotParams {
    /// Height of the JPEG, pixels (16..=2160; never more than the preview's own).
    h: Option<u32>,
    /// Ignored: a page that polls the snapshot changes it to ask again.
    #[allow(dead_code)]
    t: Option<String>,
}

/// `GET /api/cameras/{name}/snapshot.jpg`: the camera's latest redacted frame as a JPEG (a
/// [`crate::redact::preview::Preview`], made from a `RedactedFrame` only), renewed at most once a
/// second; 404 for an unknown camera or before its first frame, 400 for a bad `h`.
async fn snapshot(
    axum::extract::State(m): axum::extract::State<Arc<Metrics>>,
    axum::extract::Path(name): axum::extract::Path<String>,
    query: Result<axum::extract::Query<SnapshotParams>, axum::extract::rejection::QueryRejection>,
) -> axum::response::Response {
    use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
    use axum::response::IntoResponse;
    let params = match query {
        Ok(axum::extract::Query(params)) => params,
        Err(rejection) => {
            return (StatusCode::BAD_REQUEST, format!("{}\n", rejection.body_text())).into_response();
        }
    };
    let height = params.h.unwrap_or(360);
    if !(16..=2160).contains(&height) {
        return (StatusCode::BAD_REQUEST, format!("h = {height}: a height from 16 to 2160 pixels\n"))
            .into_response();
    }
    let camera =
        m.cameras.lock().unwrap_or_else(PoisonError::into_inner).iter().find(|c| c.name == name).cloned();
    let Some(camera) = camera else {
        return (StatusCode::NOT_FOUND, "no such camera\n").into_response();
    };
    let Some((_, preview)) = camera.preview() else {
        return (StatusCode::NOT_FOUND, "no frame from this camera yet\n").into_response();
    };
    match tokio::task::spawn_blocking(move || preview.jpeg(height)).await {
        Ok(Ok(jpeg)) => ([(CONTENT_TYPE, "image/jpeg"), (CACHE_CONTROL, "no-store")], jpeg.as_ref().clone())
            .into_response(),
        Ok(Err(err)) => (StatusCode::SERVICE_UNAVAILABLE, format!("{err}\n")).into_response(),
        Err(err) => (StatusCode::SERVICE_UNAVAILABLE, format!("{err}\n")).into_response(),
    }
}

/// `GET /api/counts`: the store's buckets (see [`crate::counts_api`]); 400 with the reason for a
/// bad query, 404 without a store.
async fn counts(
    axum::extract::State(m): axum::extract::State<Arc<Metrics>>,
    headers: axum::http::HeaderMap,
    query: Result<
        axum::extract::Query<crate::counts_api::CountsParams>,
        axum::extract::rejection::QueryRejection,
    >,
) -> axum::response::Response {
    use crate::counts_api::{QueryError, to_csv};
    use axum::http::header::{ACCEPT, CONTENT_TYPE};
    use axum::response::IntoResponse;
    let params = match query {
        Ok(axum::extract::Query(params)) => params,
        Err(rejection) => {
            return (StatusCode::BAD_REQUEST, format!("{}\n", rejection.body_text())).into_response();
        }
    };
    let Some(api) = m.counts_api.get().cloned() else {
        return (StatusCode::NOT_FOUND, "no count store: no camera counts, or [counts] has no sqlite\n")
            .into_response();
    };
    let accept_csv =
        headers.get(ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/csv"));
    let csv = params.format.as_deref() == Some("csv") || (params.format.is_none() && accept_csv);
    match tokio::task::spawn_blocking(move || api.query(&params)).await {
        Ok(Ok(counts)) if csv => {
            ([(CONTENT_TYPE, "text/csv; charset=utf-8")], to_csv(&counts)).into_response()
        }
        Ok(Ok(counts)) => match serde_json::to_string(&counts) {
            Ok(text) => ([(CONTENT_TYPE, "application/json")], text).into_response(),
            Err(err) => (StatusCode::SERVICE_UNAVAILABLE, format!("{err}\n")).into_response(),
        },
        Ok(Err(QueryError::Bad(reason))) => (StatusCode::BAD_REQUEST, format!("{reason}\n")).into_response(),
        Ok(Err(err @ QueryError::Store(_))) => {
            tracing::warn!(%err, "GET /api/counts");
            (StatusCode::SERVICE_UNAVAILABLE, format!("{err}\n")).into_response()
        }
        Err(err) => (StatusCode::SERVICE_UNAVAILABLE, format!("{err}\n")).into_response(),
    }
}

/// Lets a request through when no token is set or it carries the right one; else 401, nothing
/// else said.
async fn require_token(
    axum::extract::State(token): axum::extract::State<Option<Arc<str>>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Some(token) = &token {
        let given = request
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|v| v.trim().to_owned())
            // The dashboard in a browser: the cookie `/login` set.
            .or_else(|| crate::dashboard::cookie_token(request.headers()));
        if !given.is_some_and(|given| constant_time_eq(given.as_bytes(), token.as_bytes())) {
            return (StatusCode::UNAUTHORIZED, [(axum::http::header::WWW_AUTHENTICATE, "Bearer")])
                .into_response();
        }
    }
    next.run(request).await
}

/// Compares two byte strings in time that depends on their lengths only.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for (i, &x) in a.iter().enumerate() {
        diff |= x ^ b.get(i % b.len().max(1)).copied().unwrap_or(0);
    }
    diff == 0
}

/// Label values escaped as Prometheus wants (backslash, quote, newline).
pub(crate) fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `METHOD path` with extra header lines on a server at `addr`: status, headers, body.
    fn http(addr: SocketAddr, method: &str, path: &str, headers: &str) -> (u16, String, Vec<u8>) {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        write!(stream, "{method} {path} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n").unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&response[..split]).into_owned();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, head, response[split + 4..].to_vec())
    }

    #[test]
    fn clips_are_listed_served_with_ranges_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("clips");
        std::fs::create_dir_all(&folder).unwrap();
        let t0 = 1_795_341_600_000u64;
        let content: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let name = crate::clips::clip_name("door", t0, t0 + 60_000, "people");
        std::fs::write(folder.join(&name), &content).unwrap();
        std::fs::write(folder.join(crate::clips::clip_name("yard", t0, t0 + 60_000, "line")), b"x").unwrap();
        let metrics = Metrics::new();
        let library = crate::clips::ClipLibrary::open(&folder, &dir.path().join("c.sqlite")).unwrap();
        metrics.set_clips(Arc::new(Mutex::new(library)));
        let addr = metrics.serve("127.0.0.1:0".parse().unwrap(), None).unwrap();

        let (status, _, body) = http(addr, "GET", "/api/clips?camera=door", "");
        assert_eq!(status, 200);
        let list: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let clips = list["clips"].as_array().unwrap();
        assert_eq!(clips.len(), 1, "{list}");
        assert_eq!(clips[0]["start"], "2026-11-22T10:00:00Z");
        assert_eq!(clips[0]["size"], 1000);
        let url = clips[0]["url"].as_str().unwrap().to_owned();

        let (status, head, body) = http(addr, "GET", &url, "");
        assert_eq!((status, body.as_slice()), (200, content.as_slice()));
        assert!(head.to_ascii_lowercase().contains("accept-ranges: bytes"), "{head}");
        for (range, from, to) in [
            ("bytes=10-19", 10, 19),
            ("bytes=990-", 990, 999),
            ("bytes=-5", 995, 999),
            ("bytes=0-5000", 0, 999),
        ] {
            let (status, head, body) = http(addr, "GET", &url, &format!("Range: {range}\r\n"));
            assert_eq!(status, 206, "{range}");
            assert!(head.contains(&format!("bytes {from}-{to}/1000")), "{range}: {head}");
            assert_eq!(body, content[from..=to], "{range}");
        }
        let (status, head, _) = http(addr, "GET", &url, "Range: bytes=1000-\r\n");
        assert_eq!(status, 416);
        assert!(head.contains("bytes */1000"), "{head}");
        assert_eq!(http(addr, "GET", "/api/clips/abc", "").0, 400);
        assert_eq!(http(addr, "GET", "/api/clips?from=soon", "").0, 400);
        assert_eq!(http(addr, "GET", "/api/clips?colour=red", "").0, 400);

        assert_eq!(http(addr, "DELETE", &url, "").0, 204);
        assert_eq!(http(addr, "GET", &url, "").0, 404);
        assert_eq!(http(addr, "DELETE", &url, "").0, 404);
        assert!(!folder.join(&name).exists(), "the file is gone");
        let (_, _, body) = http(addr, "GET", "/api/clips", "");
        let list: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(list["clips"].as_array().unwrap().len(), 1, "the other camera's clip stays");
    }
    use crate::count::{LineBucket, ZoneBucket};
    use std::io::{Read, Write};
    use std::net::TcpStream;

    #[test]
    fn sections_follow_the_counts() {
        let metrics = Metrics::new();
        metrics.add_section(|| "# TYPE obscura_up gauge\nobscura_up 1\n".to_owned());
        let text = metrics.render();
        assert!(
            text.ends_with(
                "obscura_counts_bucket_end_seconds gauge\n# TYPE obscura_up gauge\nobscura_up 1\n"
            ),
            "{text}"
        );
    }

    fn line(start_ms: u64, inn: u64, out: u64) -> LineBucket {
        LineBucket {
            camera: "entrance".into(),
            line: "door".into(),
            start_ms,
            end_ms: start_ms + 60_000,
            passes: 100,
            in_count: inn,
            out_count: out,
        }
    }

    fn zone(start_ms: u64, entries: u64, max: Option<u64>) -> ZoneBucket {
        ZoneBucket {
            camera: "entrance".into(),
            zone: "till".into(),
            start_ms,
            end_ms: start_ms + 60_000,
            passes: 100,
            entries,
            occupancy_min: max.map(|_| 0),
            occupancy_max: max,
            occupancy_mean: max.map(|m| m as f64 / 2.0),
            dwell: Vec::new(),
        }
    }

    fn sample(text: &str, series: &str) -> Option<u64> {
        text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn counters_move_only_by_closed_buckets_and_in_steps_of_the_floor() {
        let metrics = Metrics::new();
        let door_in = "obscura_line_crossings_total{camera=\"entrance\",line=\"door\",direction=\"in\"}";
        let door_out = "obscura_line_crossings_total{camera=\"entrance\",line=\"door\",direction=\"out\"}";
        let entries = "obscura_zone_entries_total{camera=\"entrance\",zone=\"till\"}";
        let occupancy = "obscura_zone_occupancy_max{camera=\"entrance\",zone=\"till\"}";
        assert_eq!(sample(&metrics.render(), door_in), None, "nothing before a bucket closes");
        // min_count 3: one person in the first bucket is held back.
        metrics.record_closed(&Closed { lines: vec![line(0, 1, 4)], zones: vec![zone(0, 1, Some(2))] }, 3);
        let text = metrics.render();
        assert_eq!((sample(&text, door_in), sample(&text, door_out)), (Some(0), Some(4)));
        assert_eq!((sample(&text, entries), sample(&text, occupancy)), (Some(0), None));
        assert_eq!(sample(&text, "obscura_counts_bucket_end_seconds{camera=\"entrance\"}"), Some(60));
        // Two more: the held one is released with them, in one step of 3.
        metrics.record_closed(
            &Closed { lines: vec![line(60_000, 2, 0)], zones: vec![zone(60_000, 5, Some(3))] },
            3,
        );
        let text = metrics.render();
        assert_eq!((sample(&text, door_in), sample(&text, door_out)), (Some(3), Some(4)));
        assert_eq!((sample(&text, entries), sample(&text, occupancy)), (Some(6), Some(3)));
        // Without a floor every closed bucket shows at once.
        let open = Metrics::new();
        open.record_closed(&Closed { lines: vec![line(0, 1, 0)], zones: vec![] }, 0);
        assert_eq!(sample(&open.render(), door_in), Some(1));
    }

    #[test]
    fn serves_the_figures_over_http_on_loopback_only() {
        let metrics = Metrics::new();
        metrics.record_closed(&Closed { lines: vec![line(0, 12, 9)], zones: vec![zone(0, 4, Some(3))] }, 0);
        let addr = metrics.serve("127.0.0.1:0".parse().unwrap(), None).unwrap();
        let mut stream = TcpStream::connect(addr).unwrap();
        write!(stream, "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(response.contains(
            "obscura_line_crossings_total{camera=\"entrance\",line=\"door\",direction=\"in\"} 12\n"
        ));
        assert!(response.contains(
            "obscura_line_crossings_total{camera=\"entrance\",line=\"door\",direction=\"out\"} 9\n"
        ));
        assert!(response.contains("obscura_zone_occupancy_max{camera=\"entrance\",zone=\"till\"} 3\n"));
        assert!(metrics.serve("0.0.0.0:0".parse().unwrap(), None).is_err(), "loopback only without a token");
    }

    fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> String {
        let mut stream = TcpStream::connect(addr).unwrap();
        let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n").unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    }

    #[test]
    fn a_token_guards_everything_but_healthz() {
        let metrics = Metrics::new();
        let addr = metrics.serve("127.0.0.1:0".parse().unwrap(), Some("s3cret-token".into())).unwrap();
        assert!(get(addr, "/healthz", None).starts_with("HTTP/1.1 200 OK"));
        for path in ["/metrics", "/api/cameras", "/nowhere"] {
            for token in [None, Some("wrong"), Some("s3cret-tokenX"), Some("")] {
                let response = get(addr, path, token);
                assert!(response.starts_with("HTTP/1.1 401 Unauthorized"), "{path} {token:?}: {response}");
                assert!(
                    response.ends_with("\r\n\r\n") && response.contains("content-length: 0"),
                    "nothing else said: {response}"
                );
            }
        }
        assert!(get(addr, "/metrics", Some("s3cret-token")).starts_with("HTTP/1.1 200 OK"));
        let cameras = get(addr, "/api/cameras", Some("s3cret-token"));
        assert!(cameras.contains("application/json") && cameras.contains("\"cameras\": []"), "{cameras}");
        assert!(
            constant_time_eq(b"abc", b"abc")
                && !constant_time_eq(b"abc", b"abd")
                && !constant_time_eq(b"ab", b"abc")
        );
        // The dashboard: the page is guarded too; /login takes the token once and sets a cookie
        // that opens every route as the header does.
        assert!(get(addr, "/", None).starts_with("HTTP/1.1 401"));
        assert!(get(addr, "/login", None).starts_with("HTTP/1.1 200 OK"), "the sign-in form is open");
        let post = |body: &str| {
            let mut stream = TcpStream::connect(addr).unwrap();
            write!(
                stream,
                "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).unwrap();
            response
        };
        assert!(post("token=wrong").starts_with("HTTP/1.1 401"));
        let signed_in = post("token=s3cret-token");
        assert!(signed_in.starts_with("HTTP/1.1 303"), "{signed_in}");
        let cookie = signed_in
            .lines()
            .find_map(|l| l.strip_prefix("set-cookie: "))
            .and_then(|c| c.split(';').next())
            .unwrap()
            .to_owned();
        assert!(signed_in.contains("HttpOnly") && signed_in.contains("SameSite=Strict"), "{signed_in}");
        let with_cookie = |path: &str, cookie: &str| {
            let mut stream = TcpStream::connect(addr).unwrap();
            write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).unwrap();
            response
        };
        for path in ["/", "/api/cameras", "/ui/app.js"] {
            assert!(with_cookie(path, &cookie).starts_with("HTTP/1.1 200 OK"), "{path} with the cookie");
        }
        assert!(with_cookie("/api/cameras", "obscura_token=77726f6e67").starts_with("HTTP/1.1 401"), "wrong");
    }
}
