//! Where a camera's video comes from: a file (plain path or `file://` URL) or an RTSP stream.

use std::fmt;
use std::path::{Path, PathBuf};

/// A camera's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A video file; relative paths in config are already joined to the config file's directory.
    File(PathBuf),
    /// An `rtsp://` or `rtsps://` URL, exactly as written (it may hold credentials: do not log it).
    Rtsp(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(path) => write!(f, "{}", path.display()),
            Source::Rtsp(url) => f.write_str(&without_password(url)),
        }
    }
}

/// The URL with the password of its user-info replaced by `***`, and the value of every query
/// parameter that may hold a credential (`user`, `password`, `token`, `key`, … in any case or
/// spelling that contains one of [`CREDENTIAL_KEYS`]), for logs and errors: camera credentials are
/// never printed.
pub fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            format!("{user}:***@{host}")
        }
        None => authority.to_owned(),
    };
    format!("{scheme}://{authority}{}", without_query_credentials(path))
}

/// Words that mark a query parameter as a credential (matched case-insensitively inside its name).
pub const CREDENTIAL_KEYS: &[&str] =
    &["user", "pass", "pwd", "login", "token", "auth", "key", "secret", "sig", "cred", "session"];

/// `path?query#fragment` with the values of credential parameters replaced by `***`.
fn without_query_credentials(path: &str) -> String {
    let Some((before, query)) = path.split_once('?') else { return path.to_owned() };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let params: Vec<String> = query
        .split('&')
        .map(|param| {
            let (name, _) = param.split_once('=').unwrap_or((param, ""));
            let lower = name.to_ascii_lowercase();
            if param.contains('=') && CREDENTIAL_KEYS.iter().any(|k| lower.contains(k)) {
                format!("{name}=***")
            } else {
                param.to_owned()
            }
        })
        .collect();
    let mut out = format!("{before}?{}", params.join("&"));
    if let Some(fragment) = fragment {
        out += "#";
        out += fragment;
    }
    out
}

#[cfg(test)]
mod password_tests {
    use super::without_password;

    #[test]
    fn hides_passwords_only() {
        assert_eq!(
            without_password("rtsp://admin:hunter2@10.0.0.5:554/s1"),
            "rtsp://admin:***@10.0.0.5:554/s1"
        );
        assert_eq!(without_password("rtsp://admin@cam/s1"), "rtsp://admin:***@cam/s1");
        assert_eq!(without_password("rtsp://cam/live@2"), "rtsp://cam/live@2");
        assert_eq!(without_password("rtsp://cam:554"), "rtsp://cam:554");
    }

    #[test]
    fn hides_credentials_in_the_query_string() {
        assert_eq!(
            without_password(
                "rtsp://10.0.0.5:554/cam/realmonitor?channel=1&subtype=0&user=admin&password=hunter2"
            ),
            "rtsp://10.0.0.5:554/cam/realmonitor?channel=1&subtype=0&user=***&password=***"
        );
        assert_eq!(
            without_password("rtsp://cam/live.sdp?UserName=a&PWD=b&Token=c&stream=2#x"),
            "rtsp://cam/live.sdp?UserName=***&PWD=***&Token=***&stream=2#x"
        );
        assert_eq!(without_password("rtsp://cam?authkey=s3cret"), "rtsp://cam?authkey=***");
        assert_eq!(without_password("rtsp://u:p@cam/s?pass=q"), "rtsp://u:***@cam/s?pass=***");
        for url in ["rtsp://cam/s?password=hunter2", "rtsp://cam/s?a=1&usr_pwd=hunter2&b=2"] {
            assert!(!without_password(url).contains("hunter2"), "{url}");
        }
    }
}

impl Source {
    /// Reads a `source` value: a path, a `file://` URL or an `rtsp(s)://` URL.
    ///
    /// Relative paths are joined to `base_dir`. The error is a message for the user.
    pub(super) fn parse(text: &str, base_dir: &Path) -> Result<Source, String> {
        if text.trim().is_empty() {
            return Err("`source` is empty: give a file path, a file:// URL or an rtsp:// URL".into());
        }
        let Some((scheme, rest)) = split_url(text) else {
            return Ok(Source::File(base_dir.join(text)));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "rtsp" | "rtsps" if rest.is_empty() => {
                Err(format!("{text:?} has no host: write rtsp://HOST[:PORT]/PATH"))
            }
            "rtsp" | "rtsps" => Ok(Source::Rtsp(text.to_owned())),
            "file" => file_url_path(rest).map(Source::File),
            _ => Err(format!(
                "unsupported source scheme \"{scheme}://\": use a file path, a file:// URL, \
                 or an rtsp:// or rtsps:// URL"
            )),
        }
    }
}

/// `(scheme, rest)` of `scheme://rest`, or `None` for anything that is not a URL.
///
/// A scheme is a letter then letters, digits, `+`, `-` or `.`; one letter is not enough, so a
/// Windows drive (`C://`) stays a path.
fn split_url(text: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = text.split_once("://")?;
    let mut chars = scheme.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let valid = starts_with_letter
        && scheme.len() > 1
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then_some((scheme, rest))
}

/// The path of a `file://` URL's remainder: `/abs/path` or `localhost/abs/path`, percent-decoded.
fn file_url_path(rest: &str) -> Result<PathBuf, String> {
    let path = rest.strip_prefix("localhost").filter(|p| p.starts_with('/')).unwrap_or(rest);
    if !path.starts_with('/') {
        return Err(format!(
            "\"file://{rest}\" has no absolute path: write file:///absolute/path.mp4 (three slashes), \
             or a plain path, which may be relative to the config file"
        ));
    }
    percent_decode(path).map(PathBuf::from)
}

/// Replaces each `%XX` (two hex digits) by its byte; other text is kept as is.
fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i + 1..i + 3) {
            Some([hi, lo]) if bytes[i] == b'%' => hex_value(*hi).zip(hex_value(*lo)),
            _ => None,
        };
        match escaped {
            Some((hi, lo)) => {
                out.push((hi << 4) | lo);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .map_err(|_| format!("{text:?} is not valid UTF-8 once its %XX escapes are decoded"))
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Source, String> {
        Source::parse(text, Path::new("/etc/obscura"))
    }

    #[test]
    fn paths_are_joined_to_the_config_directory_unless_absolute() {
        assert_eq!(parse("media/a.mp4"), Ok(Source::File("/etc/obscura/media/a.mp4".into())));
        assert_eq!(parse("/srv/a.mp4"), Ok(Source::File("/srv/a.mp4".into())));
    }

    #[test]
    fn file_urls_become_absolute_paths() {
        assert_eq!(parse("file:///srv/a.mp4"), Ok(Source::File("/srv/a.mp4".into())));
        assert_eq!(parse("file://localhost/srv/a.mp4"), Ok(Source::File("/srv/a.mp4".into())));
        assert_eq!(parse("file:///srv/my%20clip%2Emp4"), Ok(Source::File("/srv/my clip.mp4".into())));
        assert_eq!(parse("file:///srv/100%.mp4"), Ok(Source::File("/srv/100%.mp4".into())));
        assert!(parse("file://srv/a.mp4").unwrap_err().contains("file:///absolute/path.mp4"));
        assert!(parse("file:///srv/%ff.mp4").unwrap_err().contains("not valid UTF-8"));
    }

    #[test]
    fn rtsp_urls_are_kept_as_written() {
        let url = "rtsp://user:pw@10.0.0.7:554/stream1";
        assert_eq!(parse(url), Ok(Source::Rtsp(url.into())));
        assert_eq!(parse("RTSPS://cam/x"), Ok(Source::Rtsp("RTSPS://cam/x".into())));
        assert!(parse("rtsp://").unwrap_err().contains("has no host"));
    }

    #[test]
    fn other_schemes_and_empty_sources_are_refused() {
        assert_eq!(
            parse("http://cam/video.mjpg").unwrap_err(),
            "unsupported source scheme \"http://\": use a file path, a file:// URL, or an rtsp:// or rtsps:// URL"
        );
        assert!(parse(" ").unwrap_err().starts_with("`source` is empty"));
    }

    #[test]
    fn displays_the_path_or_url() {
        assert_eq!(Source::File("/srv/a.mp4".into()).to_string(), "/srv/a.mp4");
        assert_eq!(Source::Rtsp("rtsp://cam/1".into()).to_string(), "rtsp://cam/1");
    }
}
