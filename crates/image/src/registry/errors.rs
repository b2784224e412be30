//! Turning a registry's error responses into errors that say what happened:
//! the distribution spec's `{"errors": [{"code", "message"}]}` bodies, 401
//! and 403 as a hint to log in, 404 on a manifest as "manifest unknown".

use serde::Deserialize;

use crate::error::Error;

/// What a failed request was after, which decides what a 404 means.
pub(crate) enum Subject<'a> {
    /// A manifest, named `registry/repository:tag` (or `@digest`).
    Manifest(&'a str),
    /// Anything else.
    Other,
}

#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    errors: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// The message of an error body: `CODE: message` for each entry of a
/// distribution error document, else the start of the text, else the
/// status's reason.
pub(crate) fn error_message(status: u16, body: &[u8]) -> String {
    if let Ok(doc) = serde_json::from_slice::<Body>(body) {
        let parts: Vec<String> = doc
            .errors
            .iter()
            .map(|e| match (e.code.is_empty(), e.message.is_empty()) {
                (false, false) => format!("{}: {}", e.code, e.message),
                (false, true) => e.code.clone(),
                _ => e.message.clone(),
            })
            .filter(|s| !s.is_empty())
            .collect();
        if !parts.is_empty() {
            return parts.join("; ");
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if !text.is_empty() && !text.starts_with('<') {
        return text.chars().take(200).collect();
    }
    ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("error")
        .to_string()
}

/// The error for a response with a non-success `status`.
pub(crate) fn status_error(
    status: u16,
    body: &[u8],
    url: &str,
    registry: &str,
    subject: Subject<'_>,
) -> Error {
    let message = error_message(status, body);
    match (status, subject) {
        (401 | 403, _) => Error::AuthRequired {
            registry: registry.to_string(),
            detail: message,
        },
        (404, Subject::Manifest(name)) => Error::ManifestUnknown(name.to_string()),
        _ => Error::Registry {
            url: url.to_string(),
            status,
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distribution_error_bodies() {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}},{"code":"NAME_UNKNOWN","message":""}]}"#;
        assert_eq!(
            error_message(404, body),
            "MANIFEST_UNKNOWN: manifest unknown; NAME_UNKNOWN"
        );
        assert_eq!(error_message(500, b"  disk full\n"), "disk full");
        assert_eq!(
            error_message(502, b"<html>bad gateway</html>"),
            "Bad Gateway"
        );
        assert_eq!(error_message(503, b""), "Service Unavailable");
        assert_eq!(error_message(400, br#"{"errors":[]}"#), r#"{"errors":[]}"#);
    }

    #[test]
    fn statuses_become_specific_errors() {
        let url = "http://127.0.0.1:5000/v2/a/manifests/b";
        let e = status_error(401, b"", url, "127.0.0.1:5000", Subject::Other);
        assert_eq!(
            e.to_string(),
            "authentication required: run skiff login 127.0.0.1:5000 (Unauthorized)"
        );
        let e = status_error(404, b"", url, "r", Subject::Manifest("r/a:b"));
        assert_eq!(e.to_string(), "manifest unknown: r/a:b");
        let e = status_error(404, b"", url, "r", Subject::Other);
        assert!(matches!(e, Error::Registry { status: 404, .. }), "{e}");
        let e = status_error(
            500,
            br#"{"errors":[{"code":"UNKNOWN","message":"boom"}]}"#,
            url,
            "r",
            Subject::Other,
        );
        assert_eq!(
            e.to_string(),
            format!("registry error from {url}: HTTP 500: UNKNOWN: boom")
        );
    }
}
