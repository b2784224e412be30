//! Registry authentication: parsing `WWW-Authenticate` challenges, Docker's
//! token protocol (a GET on the challenge's realm, anonymous or with Basic
//! credentials) and the cache of `Authorization` values per registry and
//! scope.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Deserialize;
use ureq::http::Method;

use super::credentials::Credentials;
use super::errors::{status_error, Subject};
use super::transport::{percent_encode, read_small, Payload, Transport};
use crate::error::{Error, Result};

/// How long a token lives when the token server does not say (the token
/// spec's default).
const DEFAULT_TOKEN_LIFETIME: u64 = 60;
/// Tokens are dropped this long before they expire, so that none expires
/// between the cache and the registry.
const EXPIRY_MARGIN: Duration = Duration::from_secs(5);

/// One challenge of a `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme, lower-cased: `bearer`, `basic`.
    pub scheme: String,
    /// Its parameters, names lower-cased: `realm`, `service`, `scope`.
    pub params: BTreeMap<String, String>,
}

impl Challenge {
    /// A parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// Parses a `WWW-Authenticate` header into its challenges (RFC 7235:
/// `scheme name=value, name="quoted", other-scheme ...`).
pub fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut p = Cursor { s: header, i: 0 };
    let mut out = Vec::new();
    loop {
        p.skip(|c| c == ',' || c.is_whitespace());
        let scheme = p.token();
        if scheme.is_empty() {
            // Nothing parsable left (or a stray character): stop here.
            break;
        }
        let mut params = BTreeMap::new();
        while let Some((name, value)) = p.param() {
            params.insert(name.to_ascii_lowercase(), value);
        }
        out.push(Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params,
        });
    }
    out
}

struct Cursor<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.i..]
    }

    fn skip(&mut self, f: impl Fn(char) -> bool) {
        let n = self.rest().find(|c| !f(c)).unwrap_or(self.rest().len());
        self.i += n;
    }

    fn token(&mut self) -> &'a str {
        let rest = self.rest();
        let n = rest
            .find(|c: char| c.is_whitespace() || matches!(c, ',' | '=' | '"'))
            .unwrap_or(rest.len());
        self.i += n;
        &rest[..n]
    }

    /// `name=value` followed by an optional comma; `None` (and the cursor
    /// back where it was) when what follows is the next challenge's scheme.
    fn param(&mut self) -> Option<(String, String)> {
        let start = self.i;
        self.skip(char::is_whitespace);
        let name = self.token();
        self.skip(char::is_whitespace);
        if name.is_empty() || !self.rest().starts_with('=') {
            self.i = start;
            return None;
        }
        self.i += 1;
        self.skip(char::is_whitespace);
        let value = if self.rest().starts_with('"') {
            self.quoted()
        } else {
            self.token().to_string()
        };
        self.skip(char::is_whitespace);
        if self.rest().starts_with(',') {
            self.i += 1;
        }
        Some((name.to_string(), value))
    }

    fn quoted(&mut self) -> String {
        let mut value = String::new();
        let mut chars = self.rest()[1..].char_indices();
        while let Some((at, c)) = chars.next() {
            match c {
                '"' => {
                    self.i += at + 2;
                    return value;
                }
                '\\' => value.extend(chars.next().map(|(_, c)| c)),
                c => value.push(c),
            }
        }
        self.i = self.s.len();
        value
    }
}

/// The `Authorization` header for a Basic challenge.
pub(crate) fn basic_header(creds: &Credentials) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", creds.user, creds.password))
    )
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// A bearer token: the `Authorization` value and how long it may be used.
pub(crate) struct Token {
    pub(crate) header: String,
    pub(crate) lifetime: Duration,
}

/// Asks the token server of a Bearer `challenge` for a token for `scope`
/// (none for a login check), with `creds` or anonymously.
pub(crate) fn fetch_token(
    transport: &Transport,
    registry: &str,
    challenge: &Challenge,
    scope: Option<&str>,
    creds: Option<&Credentials>,
) -> Result<Token> {
    let realm = challenge.param("realm").ok_or_else(|| {
        Error::Other(format!(
            "registry {registry} asks for a bearer token but names no realm"
        ))
    })?;
    let url = token_url(realm, challenge.param("service"), scope, creds);
    let basic = creds.map(basic_header);
    let headers: Vec<(&str, &str)> = basic
        .iter()
        .map(|b| ("Authorization", b.as_str()))
        .collect();
    let mut response = transport.send(Method::GET, &url, &headers, Payload::Empty)?;
    let body = read_small(&mut response, &url)?;
    let status = response.status().as_u16();
    if !response.status().is_success() {
        return Err(status_error(status, &body, &url, registry, Subject::Other));
    }
    let parsed: TokenResponse = serde_json::from_slice(&body)
        .map_err(|e| Error::Other(format!("malformed token response from {url}: {e}")))?;
    let token = parsed
        .token
        .or(parsed.access_token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::Other(format!("token response from {url} has no token")))?;
    let lifetime = Duration::from_secs(parsed.expires_in.unwrap_or(DEFAULT_TOKEN_LIFETIME));
    Ok(Token {
        header: format!("Bearer {token}"),
        lifetime,
    })
}

fn token_url(
    realm: &str,
    service: Option<&str>,
    scope: Option<&str>,
    creds: Option<&Credentials>,
) -> String {
    let mut query: Vec<String> = Vec::new();
    if let Some(service) = service {
        query.push(format!("service={}", percent_encode(service)));
    }
    if let Some(scope) = scope {
        query.push(format!("scope={}", percent_encode(scope)));
    }
    if let Some(creds) = creds {
        query.push(format!("account={}", percent_encode(&creds.user)));
    }
    if query.is_empty() {
        return realm.to_string();
    }
    let joiner = if realm.contains('?') { '&' } else { '?' };
    format!("{realm}{joiner}{}", query.join("&"))
}

struct Cached {
    header: String,
    until: Option<Instant>,
}

/// `Authorization` values per (registry, scope), shared by every clone of
/// a client and every thread that fetches for it.
#[derive(Default)]
pub(crate) struct TokenCache {
    entries: Mutex<HashMap<(String, String), Cached>>,
}

impl TokenCache {
    /// The cached value for `registry` and `scope`, unless it has expired.
    pub(crate) fn get(&self, registry: &str, scope: &str) -> Option<String> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let key = (registry.to_string(), scope.to_string());
        match entries.get(&key) {
            Some(Cached { until: Some(t), .. }) if Instant::now() >= *t => {
                entries.remove(&key);
                None
            }
            Some(c) => Some(c.header.clone()),
            None => None,
        }
    }

    /// Remembers `header` for `registry` and `scope`, for `lifetime` (for
    /// ever when `None`, as for Basic credentials).
    pub(crate) fn put(
        &self,
        registry: &str,
        scope: &str,
        header: String,
        lifetime: Option<Duration>,
    ) {
        let until = lifetime.map(|l| Instant::now() + l.saturating_sub(EXPIRY_MARGIN));
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.insert(
            (registry.to_string(), scope.to_string()),
            Cached { header, until },
        );
    }

    /// Forgets everything cached for `registry` (after login or logout).
    pub(crate) fn forget(&self, registry: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|(r, _), _| r != registry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(c: &Challenge) -> Vec<(&str, &str)> {
        c.params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn docker_hub_bearer() {
        let h = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#;
        let c = parse_challenges(h);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, "bearer");
        assert_eq!(
            params(&c[0]),
            [
                ("realm", "https://auth.docker.io/token"),
                ("scope", "repository:library/busybox:pull"),
                ("service", "registry.docker.io"),
            ]
        );
    }

    #[test]
    fn several_challenges_spaces_escapes_and_tokens() {
        let h = r#"Basic realm="Registry \"Realm\"", BEARER Realm = https://a/t , Service=x,error="invalid_token", Negotiate"#;
        let c = parse_challenges(h);
        assert_eq!(c.len(), 3, "{c:?}");
        assert_eq!(c[0].scheme, "basic");
        assert_eq!(c[0].param("realm"), Some(r#"Registry "Realm""#));
        assert_eq!(c[1].scheme, "bearer");
        assert_eq!(c[1].param("realm"), Some("https://a/t"));
        assert_eq!(c[1].param("service"), Some("x"));
        assert_eq!(c[1].param("error"), Some("invalid_token"));
        assert_eq!(c[2].scheme, "negotiate");
        assert!(c[2].params.is_empty());
    }

    #[test]
    fn odd_headers_do_not_panic() {
        for h in [
            "",
            ",,,",
            "Bearer",
            "Bearer realm=\"unterminated",
            "=x",
            "Basic ,realm",
        ] {
            let _ = parse_challenges(h);
        }
        assert_eq!(
            parse_challenges("Bearer realm=\"unterminated")[0].param("realm"),
            Some("unterminated")
        );
    }

    #[test]
    fn token_urls() {
        let creds = Credentials {
            user: "a b".into(),
            password: "p".into(),
        };
        assert_eq!(
            token_url(
                "https://a/token",
                Some("reg"),
                Some("repository:x/y:pull,push"),
                Some(&creds)
            ),
            "https://a/token?service=reg&scope=repository%3Ax%2Fy%3Apull%2Cpush&account=a%20b"
        );
        assert_eq!(
            token_url("https://a/t?x=1", None, Some("s"), None),
            "https://a/t?x=1&scope=s"
        );
        assert_eq!(token_url("https://a/t", None, None, None), "https://a/t");
    }

    #[test]
    fn cache_expires_and_forgets() {
        let cache = TokenCache::default();
        cache.put("r", "s", "Bearer a".into(), Some(Duration::from_secs(1)));
        assert_eq!(
            cache.get("r", "s"),
            None,
            "a token within the margin is dropped"
        );
        cache.put("r", "s", "Bearer b".into(), Some(Duration::from_secs(600)));
        cache.put("r", "t", "Basic c".into(), None);
        cache.put("q", "s", "Basic d".into(), None);
        assert_eq!(cache.get("r", "s").as_deref(), Some("Bearer b"));
        cache.forget("r");
        assert_eq!(cache.get("r", "t"), None);
        assert_eq!(cache.get("q", "s").as_deref(), Some("Basic d"));
    }
}
