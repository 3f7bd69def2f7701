//! The web dashboard: a plain page (`web/`: HTML, CSS and JavaScript, no framework, no CDN)
//! built into the binary and served by the same HTTP server as the API, behind the same token.
//!
//! A browser cannot send a bearer header when it loads a page or an image, so `/login` (open,
//! like `/healthz`) takes the token once from a form and sets it as an `HttpOnly`,
//! `SameSite=Strict` cookie; every guarded route accepts that cookie as it accepts the header.
//! On a loopback address without a token nothing is asked.

use std::sync::Arc;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

const INDEX: &str = include_str!("../web/index.html");
const APP_JS: &str = include_str!("../web/app.js");
const APP_CSS: &str = include_str!("../web/app.css");
const LOGIN: &str = include_str!("../web/login.html");

/// The cookie that carries the token (hex-encoded: any token fits a cookie).
const COOKIE: &str = "obscura_token";

/// `GET /`: the dashboard.
pub async fn page() -> Response {
    ([(CONTENT_TYPE, "text/html; charset=utf-8"), (CACHE_CONTROL, "no-cache")], INDEX).into_response()
}

/// `GET /ui/{file}`: the dashboard's script and style.
pub async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "not found\n").into_response(),
    };
    ([(CONTENT_TYPE, kind), (CACHE_CONTROL, "no-cache")], body).into_response()
}

/// `GET /login`: a form asking for the token.
pub async fn login_page() -> Response {
    ([(CONTENT_TYPE, "text/html; charset=utf-8")], LOGIN).into_response()
}

/// `POST /login` (`token=…`, form-encoded): the right token sets the cookie and goes to the
/// dashboard; a wrong one is a 401 and nothing else. Without a token configured, straight on.
pub async fn login(
    axum::extract::State(token): axum::extract::State<Option<Arc<str>>>,
    body: axum::body::Bytes,
) -> Response {
    let Some(token) = token else {
        return (StatusCode::SEE_OTHER, [(LOCATION, "/")]).into_response();
    };
    let given = form_token(&body).unwrap_or_default();
    if !crate::metrics::constant_time_eq(given.trim().as_bytes(), token.as_bytes()) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let cookie = format!("{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/", hex(given.trim().as_bytes()));
    (StatusCode::SEE_OTHER, [(LOCATION, "/".to_owned()), (SET_COOKIE, cookie)]).into_response()
}

/// The token a request's cookie carries, if any.
pub fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('=').map(str::to_owned))
        .and_then(|v| unhex(&v))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<String> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> =
        (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect();
    String::from_utf8(bytes?).ok()
}

/// The sign-in form.
#[derive(serde::Deserialize)]
struct LoginForm {
    token: String,
}

/// The token of an `application/x-www-form-urlencoded` sign-in body.
fn form_token(body: &[u8]) -> Option<String> {
    serde_urlencoded::from_bytes::<LoginForm>(body).ok().map(|form| form.token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_goes_through_the_form_and_the_cookie_unchanged() {
        let token = "s3cret token/+=%é";
        let body = "token=s3cret+token%2F%2B%3D%25%C3%A9";
        assert_eq!(form_token(body.as_bytes()).as_deref(), Some(token));
        let mut headers = HeaderMap::new();
        let cookie = format!("theme=dark; {COOKIE}={}", hex(token.as_bytes()));
        headers.insert(axum::http::header::COOKIE, cookie.parse().unwrap());
        assert_eq!(cookie_token(&headers).as_deref(), Some(token));
        headers.insert(axum::http::header::COOKIE, format!("{COOKIE}=zz").parse().unwrap());
        assert_eq!(cookie_token(&headers), None);
        assert_eq!(form_token(b"other=1"), None);
    }
}
