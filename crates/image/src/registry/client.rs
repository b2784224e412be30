//! The registry client: the distribution spec's manifest and blob
//! endpoints, with authentication done on the first 401 and remembered.

use std::io::{Read, Write};
use std::sync::Arc;

use serde::Deserialize;
use ureq::http::{Method, Response};
use ureq::Body;

use super::auth::{basic_header, fetch_token, parse_challenges, Challenge, TokenCache};
use super::config::{use_plain_http, RegistriesConfig};
use super::credentials::{normalize_registry, CredentialStore, Credentials};
use super::errors::{status_error, Subject};
use super::stream::{copy_verified, VerifyingReader};
use super::transport::{header, percent_encode, read_small, Payload, Transport};
use super::{ClientOptions, FetchedManifest};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::manifest::{Descriptor, ACCEPTED_MANIFESTS, OCI_INDEX, OCI_MANIFEST};
use crate::reference::{Reference, DEFAULT_REGISTRY, DEFAULT_REGISTRY_HOST};

/// A registry client. Clones share one connection pool and one token cache,
/// and may be used from several threads at once.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    tls_verify: bool,
    config: RegistriesConfig,
    credentials: CredentialStore,
    tokens: TokenCache,
}

/// Where a request goes and with which rights.
struct Target<'a> {
    /// The registry's name (`docker.io`, `127.0.0.1:5000`): the key for
    /// credentials and tokens.
    registry: &'a str,
    /// `scheme://host[:port]`.
    base: String,
    /// The token scope: `repository:NAME:pull` or `...:pull,push`.
    scope: String,
}

impl Client {
    /// A client with `opts`; reads the registries configuration now, the
    /// credentials file when a registry asks for credentials.
    pub fn new(opts: ClientOptions) -> Result<Client> {
        let config = RegistriesConfig::load(opts.registries_conf.as_deref())?;
        Ok(Client {
            inner: Arc::new(Inner {
                transport: Transport::new(&opts.user_agent),
                tls_verify: opts.tls_verify,
                config,
                credentials: CredentialStore::new(opts.auth_file.as_deref()),
                tokens: TokenCache::default(),
            }),
        })
    }

    /// GETs the manifest (or index) for `r.manifest_ref()`, accepting every
    /// type in [`ACCEPTED_MANIFESTS`]; verifies it against `r.digest()` when
    /// pinned (and against the registry's `Docker-Content-Digest`).
    pub fn fetch_manifest(&self, r: &Reference) -> Result<FetchedManifest> {
        let target = self.target(r, false);
        let url = format!(
            "{}/v2/{}/manifests/{}",
            target.base,
            r.repository(),
            r.manifest_ref()
        );
        let accept = ACCEPTED_MANIFESTS.join(", ");
        let response = self.send(
            &target,
            Method::GET,
            &url,
            &[("Accept", &accept)],
            Payload::Empty,
        )?;
        let name = manifest_name(r);
        let mut response = check(response, &url, &target, Subject::Manifest(&name))?;
        let bytes = read_small(&mut response, &url)?;
        if let Some(pinned) = r.digest() {
            pinned.verify(&bytes)?;
        }
        if let Some(said) =
            header(&response, "Docker-Content-Digest").and_then(|h| h.parse::<Digest>().ok())
        {
            said.verify(&bytes)?;
        }
        let media_type = media_type_of(header(&response, "Content-Type").as_deref(), &bytes);
        Ok(FetchedManifest {
            digest: Digest::sha256_of(&bytes),
            bytes,
            media_type,
        })
    }

    /// Fetches the manifest `d` of `r`'s repository (an index entry).
    pub fn fetch_manifest_digest(&self, r: &Reference, d: &Digest) -> Result<FetchedManifest> {
        self.fetch_manifest(&r.with_digest(d.clone()))
    }

    /// Streams the blob `desc` of `r`'s repository into `out`, following
    /// redirects, verifying size and digest as it streams; the byte count.
    pub fn fetch_blob(&self, r: &Reference, desc: &Descriptor, out: &mut dyn Write) -> Result<u64> {
        let target = self.target(r, false);
        let url = blob_url(&target, r, &desc.digest);
        let response = self.send(&target, Method::GET, &url, &[], Payload::Empty)?;
        let mut response = check(response, &url, &target, Subject::Other)?;
        let mut reader = response.body_mut().as_reader();
        copy_verified(&mut reader, desc, out, &url)
    }

    /// Whether `r`'s repository has the blob `d`.
    pub fn blob_exists(&self, r: &Reference, d: &Digest) -> Result<bool> {
        self.head_blob(&self.target(r, false), r, d)
    }

    /// Uploads `size` bytes of `data` as the blob `d` (POST an upload, PUT
    /// it with `?digest=`), unless the repository has it already.
    pub fn push_blob(
        &self,
        r: &Reference,
        d: &Digest,
        size: u64,
        data: &mut dyn Read,
    ) -> Result<()> {
        let target = self.target(r, true);
        if self.head_blob(&target, r, d)? {
            return Ok(());
        }
        // The POST also authenticates for push, so that the PUT, whose
        // stream cannot be sent twice, goes out with a token.
        let start = format!("{}/v2/{}/blobs/uploads/", target.base, r.repository());
        let response = self.send(&target, Method::POST, &start, &[], Payload::Bytes(b""))?;
        let response = check(response, &start, &target, Subject::Other)?;
        let location = header(&response, "Location")
            .ok_or_else(|| Error::Other(format!("registry gave no upload location for {start}")))?;
        let url = upload_url(&target.base, &location, d);
        let mut reader = VerifyingReader::new(data, size, d);
        let content_type = [("Content-Type", "application/octet-stream")];
        let sent = self.send(
            &target,
            Method::PUT,
            &url,
            &content_type,
            Payload::Stream(&mut reader, size),
        );
        reader.check(d)?;
        check(sent?, &url, &target, Subject::Other).map(drop)
    }

    /// PUTs a manifest under `r`'s tag (or digest); its digest.
    pub fn push_manifest(&self, r: &Reference, bytes: &[u8], media_type: &str) -> Result<Digest> {
        if let Some(pinned) = r.digest() {
            pinned.verify(bytes)?;
        }
        let target = self.target(r, true);
        let url = format!(
            "{}/v2/{}/manifests/{}",
            target.base,
            r.repository(),
            r.manifest_ref()
        );
        let headers = [("Content-Type", media_type)];
        let response = self.send(&target, Method::PUT, &url, &headers, Payload::Bytes(bytes))?;
        check(response, &url, &target, Subject::Other)?;
        Ok(Digest::sha256_of(bytes))
    }

    /// Checks `user` and `password` against `registry`'s `/v2/` (with the
    /// token dance where the registry asks for it) and stores them.
    pub fn login(&self, registry: &str, user: &str, password: &str) -> Result<()> {
        let registry = normalize_registry(registry);
        let creds = Credentials {
            user: user.to_string(),
            password: password.to_string(),
        };
        let url = format!("{}/v2/", self.base_url(&registry));
        let transport = &self.inner.transport;
        let mut response = transport.send(Method::GET, &url, &[], Payload::Empty)?;
        if response.status() == 401 {
            let auth = self.login_header(&registry, &response, &creds)?;
            response = transport.send(
                Method::GET,
                &url,
                &[("Authorization", &auth)],
                Payload::Empty,
            )?;
        }
        let status = response.status().as_u16();
        if !response.status().is_success() {
            let body = read_small(&mut response, &url).unwrap_or_default();
            return Err(
                match status_error(status, &body, &url, &registry, Subject::Other) {
                    Error::AuthRequired { detail, .. } => login_failed(&registry, &detail),
                    other => other,
                },
            );
        }
        self.inner.tokens.forget(&registry);
        self.inner.credentials.store(&registry, &creds)
    }

    /// Removes the stored credentials for `registry`; an error if there
    /// were none.
    pub fn logout(&self, registry: &str) -> Result<()> {
        let registry = normalize_registry(registry);
        self.inner.tokens.forget(&registry);
        if self.inner.credentials.remove(&registry)? {
            return Ok(());
        }
        Err(Error::Other(format!(
            "not logged in to {registry}: no credentials for it in {}",
            self.inner.credentials.path().display()
        )))
    }

    fn login_header(
        &self,
        registry: &str,
        response: &Response<Body>,
        creds: &Credentials,
    ) -> Result<String> {
        match pick_challenge(response) {
            Some(c) if c.scheme == "bearer" => {
                fetch_token(&self.inner.transport, registry, &c, None, Some(creds))
                    .map(|t| t.header)
                    .map_err(|e| match e {
                        Error::AuthRequired { detail, .. } => login_failed(registry, &detail),
                        other => other,
                    })
            }
            Some(c) if c.scheme == "basic" => Ok(basic_header(creds)),
            _ => Err(no_challenge(registry)),
        }
    }

    fn head_blob(&self, target: &Target<'_>, r: &Reference, d: &Digest) -> Result<bool> {
        let url = blob_url(target, r, d);
        let response = self.send(target, Method::HEAD, &url, &[], Payload::Empty)?;
        if response.status() == 404 {
            return Ok(false);
        }
        check(response, &url, target, Subject::Other).map(|_| true)
    }

    fn target<'a>(&self, r: &'a Reference, push: bool) -> Target<'a> {
        let rights = if push { "pull,push" } else { "pull" };
        Target {
            registry: r.registry(),
            base: self.base_url(r.registry()),
            scope: format!("repository:{}:{rights}", r.repository()),
        }
    }

    fn base_url(&self, registry: &str) -> String {
        let scheme = if use_plain_http(registry, self.inner.tls_verify, &self.inner.config) {
            "http"
        } else {
            "https"
        };
        let host = if registry == DEFAULT_REGISTRY {
            DEFAULT_REGISTRY_HOST
        } else {
            registry
        };
        format!("{scheme}://{host}")
    }

    /// Sends a request with the cached authorization for the target; on a
    /// 401 authenticates as the challenge asks and, if the payload can be
    /// sent again, retries once.
    fn send(
        &self,
        target: &Target<'_>,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        payload: Payload<'_>,
    ) -> Result<Response<Body>> {
        let again = payload.replay();
        let cached = self.inner.tokens.get(target.registry, &target.scope);
        let response = self.send_with(method.clone(), url, headers, cached.as_deref(), payload)?;
        let Some(payload) = again.filter(|_| response.status() == 401) else {
            return Ok(response);
        };
        let auth = self.authenticate(target, &response)?;
        self.send_with(method, url, headers, Some(&auth), payload)
    }

    fn send_with(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        auth: Option<&str>,
        payload: Payload<'_>,
    ) -> Result<Response<Body>> {
        let mut all = headers.to_vec();
        all.extend(auth.map(|a| ("Authorization", a)));
        self.inner.transport.send(method, url, &all, payload)
    }

    /// The `Authorization` value a 401's challenge asks for, with the
    /// stored credentials if there are any; cached for the target.
    fn authenticate(&self, target: &Target<'_>, response: &Response<Body>) -> Result<String> {
        let creds = self.inner.credentials.get(target.registry)?;
        let (header, lifetime) = match pick_challenge(response) {
            Some(c) if c.scheme == "bearer" => {
                let token = fetch_token(
                    &self.inner.transport,
                    target.registry,
                    &c,
                    Some(&target.scope),
                    creds.as_ref(),
                )?;
                (token.header, Some(token.lifetime))
            }
            Some(c) if c.scheme == "basic" => {
                let creds = creds.ok_or_else(|| Error::AuthRequired {
                    registry: target.registry.to_string(),
                    detail: "the registry asks for a user name and password".into(),
                })?;
                (basic_header(&creds), None)
            }
            _ => return Err(no_challenge(target.registry)),
        };
        self.inner
            .tokens
            .put(target.registry, &target.scope, header.clone(), lifetime);
        Ok(header)
    }
}

/// The challenge to answer: Bearer where offered, else Basic.
fn pick_challenge(response: &Response<Body>) -> Option<Challenge> {
    let challenges: Vec<Challenge> = response
        .headers()
        .get_all("WWW-Authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(parse_challenges)
        .collect();
    ["bearer", "basic"]
        .iter()
        .find_map(|s| challenges.iter().find(|c| c.scheme == *s).cloned())
}

fn no_challenge(registry: &str) -> Error {
    Error::AuthRequired {
        registry: registry.to_string(),
        detail: "401 without a Basic or Bearer challenge".into(),
    }
}

fn login_failed(registry: &str, detail: &str) -> Error {
    Error::Other(format!(
        "login to {registry} failed: wrong user name or password ({detail})"
    ))
}

/// The response if it succeeded, else the error its status and body mean.
fn check(
    mut response: Response<Body>,
    url: &str,
    target: &Target<'_>,
    subject: Subject<'_>,
) -> Result<Response<Body>> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status().as_u16();
    let body = read_small(&mut response, url).unwrap_or_default();
    Err(status_error(status, &body, url, target.registry, subject))
}

fn blob_url(target: &Target<'_>, r: &Reference, d: &Digest) -> String {
    format!("{}/v2/{}/blobs/{d}", target.base, r.repository())
}

/// The URL to PUT an upload to: the registry's `Location` (absolute, or a
/// path on the registry) with `digest=` added to its query.
fn upload_url(base: &str, location: &str, d: &Digest) -> String {
    let absolute = if location.starts_with("http://") || location.starts_with("https://") {
        location.to_string()
    } else if location.starts_with('/') {
        format!("{base}{location}")
    } else {
        format!("{base}/{location}")
    };
    let joiner = if absolute.contains('?') { '&' } else { '?' };
    format!(
        "{absolute}{joiner}digest={}",
        percent_encode(&d.to_string())
    )
}

/// `registry/repository:tag`, or `@digest` when pinned: how errors name a
/// manifest.
fn manifest_name(r: &Reference) -> String {
    match r.digest() {
        Some(d) => format!("{}@{d}", r.name()),
        None => format!("{}:{}", r.name(), r.manifest_ref()),
    }
}

/// The manifest's media type: the Content-Type when it names a manifest
/// type, else the document's `mediaType`, else what its shape says.
fn media_type_of(content_type: Option<&str>, bytes: &[u8]) -> String {
    let content_type = content_type.map(|c| c.split(';').next().unwrap_or(c).trim());
    if let Some(t) = content_type.filter(|t| ACCEPTED_MANIFESTS.contains(t)) {
        return t.to_string();
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
    }
    match serde_json::from_slice::<Probe>(bytes) {
        Ok(Probe {
            media_type: Some(t),
            ..
        }) => t,
        Ok(Probe {
            manifests: Some(_), ..
        }) => OCI_INDEX.to_string(),
        _ => OCI_MANIFEST.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::DOCKER_MANIFEST;

    #[test]
    fn client_is_shareable_across_threads() {
        fn shareable<T: Clone + Send + Sync>() {}
        shareable::<Client>();
    }

    #[test]
    fn upload_urls() {
        let d = Digest::sha256_of(b"");
        let q = format!("digest=sha256%3A{}", d.hex());
        assert_eq!(
            upload_url("http://r:1", "/v2/a/blobs/uploads/u?_state=x", &d),
            format!("http://r:1/v2/a/blobs/uploads/u?_state=x&{q}")
        );
        assert_eq!(
            upload_url("http://r:1", "https://s3/u", &d),
            format!("https://s3/u?{q}")
        );
    }

    #[test]
    fn media_types() {
        assert_eq!(
            media_type_of(Some(&format!("{DOCKER_MANIFEST}; charset=utf-8")), b"{}"),
            DOCKER_MANIFEST
        );
        let doc = format!(r#"{{"mediaType":"{DOCKER_MANIFEST}"}}"#);
        assert_eq!(
            media_type_of(Some("application/json"), doc.as_bytes()),
            DOCKER_MANIFEST
        );
        assert_eq!(media_type_of(None, br#"{"manifests":[]}"#), OCI_INDEX);
        assert_eq!(media_type_of(None, br#"{"layers":[]}"#), OCI_MANIFEST);
    }

    #[test]
    fn schemes_and_hosts() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("registries.json");
        std::fs::write(&conf, r#"{"insecure": ["reg.lan:5000"]}"#).unwrap();
        let client = Client::new(ClientOptions {
            registries_conf: Some(conf),
            auth_file: Some(dir.path().join("auth.json")),
            ..ClientOptions::default()
        })
        .unwrap();
        assert_eq!(client.base_url("docker.io"), "https://registry-1.docker.io");
        assert_eq!(client.base_url("reg.lan:5000"), "http://reg.lan:5000");
        assert_eq!(client.base_url("localhost:5000"), "http://localhost:5000");
        assert_eq!(client.base_url("quay.io"), "https://quay.io");
    }
}
