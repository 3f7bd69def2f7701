//! The OpenAPI 3.0 description of the HTTP API, served at `/api/openapi.json`. Kept beside the
//! routes it describes (`crate::metrics`) and checked against them by the tests.

use serde_json::{Value, json};

/// The OpenAPI document.
pub fn document() -> Value {
    let text = |description: &str| json!({"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}});
    let name = json!({"type": "string", "minLength": 1, "maxLength": 64});
    let time = json!({"type": "string", "description": "RFC 3339 with an offset (2026-11-22T10:00:00Z), a date (midnight UTC) or ms since 1970"});
    let published =
        json!({"oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": "^<[0-9]+$"}]});
    let published_number =
        json!({"oneOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": "^<[0-9]+$"}]});
    let clip_id = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}});
    let query = |param: &str, schema: Value, description: &str| json!({"name": param, "in": "query", "required": false, "schema": schema, "description": description});
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "obscura",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Redacted video and aggregate people counts from IP cameras. Every route but /healthz needs `Authorization: Bearer TOKEN` when a token is configured (401 otherwise). Nothing here identifies a person: counts are closed buckets floored at min_count, snapshots are redacted frames."
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Camera": {
                    "type": "object",
                    "required": ["name", "state", "fps", "frames", "reconnects", "frames_dropped", "frames_fail_closed"],
                    "properties": {
                        "name": {"type": "string"},
                        "state": {"type": "string", "enum": ["starting", "streaming", "backoff", "stopped"]},
                        "fps": {"type": "number"},
                        "last_frame_age_s": {"type": "number", "nullable": true},
                        "frames": {"type": "integer"},
                        "reconnects": {"type": "integer"},
                        "frames_dropped": {"type": "integer"},
                        "frames_fail_closed": {"type": "integer"},
                        "clips": {"type": "integer"},
                        "clip_errors": {"type": "integer"},
                        "clips_failing": {"type": "boolean"},
                        "detection_ms": {"type": "number"},
                        "frames_dropped_by_reason": {"type": "object", "additionalProperties": {"type": "integer"}},
                        "frames_fail_closed_by_reason": {"type": "object", "additionalProperties": {"type": "integer"}},
                        "privacy": {"type": "object", "additionalProperties": {"type": "integer"}},
                        "geometry": {"type": "object", "description": "the camera's lines and zones, as PUT /api/cameras/{name}/geometry takes them"},
                        "counts": {"type": "object", "nullable": true, "description": "with since: {since, lines: [{name, in, out}], zones: [{name, entries, occupancy}]}, floored"}
                    }
                },
                "Point": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2, "description": "[x, y], fractions of the frame"},
                "LineBucket": {
                    "type": "object",
                    "required": ["camera", "line", "start", "end", "passes", "in", "out"],
                    "properties": {
                        "camera": {"type": "string"}, "line": {"type": "string"},
                        "start": {"type": "string", "format": "date-time"}, "end": {"type": "string", "format": "date-time"},
                        "passes": {"type": "integer"}, "in": published.clone(), "out": published.clone()
                    }
                },
                "ZoneBucket": {
                    "type": "object",
                    "required": ["camera", "zone", "start", "end", "passes", "entries"],
                    "properties": {
                        "camera": {"type": "string"}, "zone": {"type": "string"},
                        "start": {"type": "string", "format": "date-time"}, "end": {"type": "string", "format": "date-time"},
                        "passes": {"type": "integer"}, "entries": published.clone(),
                        "occupancy_max": {"nullable": true, "oneOf": [{"type": "integer"}, {"type": "string"}]},
                        "occupancy_mean": published_number
                    }
                },
                "Counts": {
                    "type": "object",
                    "required": ["bucket_s", "min_count", "lines", "zones"],
                    "properties": {
                        "bucket_s": {"type": "integer"}, "min_count": {"type": "integer"},
                        "lines": {"type": "array", "items": {"$ref": "#/components/schemas/LineBucket"}},
                        "zones": {"type": "array", "items": {"$ref": "#/components/schemas/ZoneBucket"}}
                    }
                }
            }
        },
        "security": [{"bearer": []}],
        "paths": {
            "/healthz": {"get": {
                "summary": "Liveness: ok while the process runs (never needs a token)",
                "security": [],
                "responses": {"200": text("ok")}
            }},
            "/metrics": {"get": {
                "summary": "Prometheus text: per camera state, frames, drops, fail-closed frames, detection time; counts as closed buckets",
                "responses": {"200": text("Prometheus exposition format"), "401": text("no or wrong token")}
            }},
            "/api/openapi.json": {"get": {
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.0", "content": {"application/json": {"schema": {"type": "object"}}}}}
            }},
            "/api/cameras": {"get": {
                "summary": "Each camera's state, frame rate, last frame age, reconnects, drops and fail-closed frames",
                "parameters": [
                    query("since", time.clone(), "with it, each counting camera's counts since then (stored buckets that started since, and the open one), floored, and the people in each zone now")
                ],
                "responses": {
                    "200": {"description": "the cameras", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"cameras": {"type": "array", "items": {"$ref": "#/components/schemas/Camera"}}}
                    }}}},
                    "400": text("a bad since"),
                    "401": text("no or wrong token")
                }
            }},
            "/api/cameras/{name}/geometry": {"put": {
                "summary": "Replace the camera's lines and zones in the config file (comments kept) and reload it",
                "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string"}}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "additionalProperties": false, "properties": {
                        "lines": {"type": "array", "items": {"type": "object", "required": ["name", "from", "to"], "additionalProperties": false, "properties": {
                            "name": {"type": "string"}, "from": {"$ref": "#/components/schemas/Point"}, "to": {"$ref": "#/components/schemas/Point"},
                            "anchor": {"type": "string", "enum": ["bottom", "center"]}}}},
                        "zones": {"type": "array", "items": {"type": "object", "required": ["name", "polygon"], "additionalProperties": false, "properties": {
                            "name": {"type": "string"}, "polygon": {"type": "array", "items": {"$ref": "#/components/schemas/Point"}},
                            "anchor": {"type": "string", "enum": ["bottom", "center"]}}}}
                    }
                }}}},
                "responses": {
                    "200": {"description": "saved; the service reloads", "content": {"application/json": {"schema": {"type": "object"}}}},
                    "400": text("the config would not be valid: every reason, one per line"),
                    "401": text("no or wrong token"),
                    "404": text("no such camera, or no config file"),
                    "503": text("the config file cannot be read or written")
                }
            }},
            "/api/counts": {"get": {
                "summary": "Closed count buckets from the SQLite store, rolled up and floored at min_count",
                "parameters": [
                    query("camera", name.clone(), "only this camera"),
                    query("line", name.clone(), "only this line (and no zones unless zone is given)"),
                    query("zone", name.clone(), "only this zone (and no lines unless line is given)"),
                    query("from", time.clone(), "buckets starting at or after this time"),
                    query("to", time.clone(), "buckets starting before this time"),
                    query("bucket", json!({"type": "string", "pattern": "^[0-9]+(m|min|h|d)$"}), "roll up to this length: a multiple of the stored bucket that divides a day or is whole days, at most 31d"),
                    query("format", json!({"type": "string", "enum": ["json", "csv"]}), "json (default) or csv; Accept: text/csv also gives CSV")
                ],
                "responses": {
                    "200": {"description": "the buckets", "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Counts"}},
                        "text/csv": {"schema": {"type": "string"}}
                    }},
                    "400": text("a bad query, with the reason"),
                    "401": text("no or wrong token"),
                    "404": text("no count store"),
                    "503": text("the count store cannot be read")
                }
            }},
            "/api/clips": {"get": {
                "summary": "Event clips (redacted MP4s) overlapping from..to, oldest first",
                "parameters": [
                    query("camera", name.clone(), "only this camera"),
                    query("from", time.clone(), "clips ending at or after this time"),
                    query("to", time, "clips starting before this time")
                ],
                "responses": {
                    "200": {"description": "the clips", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"clips": {"type": "array", "items": {"type": "object", "properties": {
                            "id": {"type": "integer"}, "camera": {"type": "string"},
                            "start": {"type": "string", "format": "date-time"}, "end": {"type": "string", "format": "date-time"},
                            "size": {"type": "integer"}, "reason": {"type": "string", "enum": ["people", "zone", "line"]},
                            "file": {"type": "string"}, "url": {"type": "string"}
                        }}}}
                    }}}},
                    "400": text("a bad query, with the reason"),
                    "401": text("no or wrong token"),
                    "404": text("no camera records clips"),
                    "503": text("the clip index cannot be read")
                }
            }},
            "/api/clips/{id}/thumbnail.jpg": {"get": {
                "summary": "The JPEG of the redacted frame that opened the clip",
                "parameters": [clip_id.clone()],
                "responses": {
                    "200": {"description": "a redacted frame", "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}},
                    "400": text("not a clip id"),
                    "401": text("no or wrong token"),
                    "404": text("no such clip, no thumbnail, or no camera records clips"),
                    "503": text("the clip library cannot be read")
                }
            }},
            "/api/clips/{id}": {
                "get": {
                    "summary": "A clip's MP4; honours Range: bytes=… (206 Partial Content), so a browser can seek",
                    "parameters": [clip_id.clone()],
                    "responses": {
                        "200": {"description": "the clip", "content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}}},
                        "206": {"description": "the byte range asked for", "content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}}},
                        "400": text("not a clip id"),
                        "401": text("no or wrong token"),
                        "404": text("no such clip"),
                        "416": {"description": "the range is beyond the file"},
                        "503": text("the clip index cannot be read")
                    }
                },
                "delete": {
                    "summary": "Deletes a clip, its privacy report and its index row",
                    "parameters": [clip_id.clone()],
                    "responses": {
                        "204": {"description": "deleted"},
                        "400": text("not a clip id"),
                        "401": text("no or wrong token"),
                        "404": text("no such clip"),
                        "503": text("the clip index cannot be read")
                    }
                }
            },
            "/api/cameras/{name}/snapshot.jpg": {"get": {
                "summary": "The camera's latest redacted frame as a JPEG, renewed at most once a second",
                "parameters": [
                    {"name": "name", "in": "path", "required": true, "schema": {"type": "string"}},
                    query("h", json!({"type": "integer", "minimum": 16, "maximum": 2160}), "height in pixels (default 360; at most the preview's 720 or the frame's own)"),
                    query("t", json!({"type": "string"}), "ignored: a page that polls the snapshot changes it to ask again")
                ],
                "responses": {
                    "200": {"description": "a redacted frame", "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}},
                    "400": text("a bad h"),
                    "401": text("no or wrong token"),
                    "404": text("no such camera, or no frame yet")
                }
            }}
        }
    })
}
