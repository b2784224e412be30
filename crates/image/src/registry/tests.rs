//! The client against a scripted registry on 127.0.0.1: Docker's token
//! protocol (anonymous and with credentials, cached per scope), login with a
//! token server, and blob redirects that must not carry the token along.
//! Debian's registry only speaks Basic, so the end-to-end tests cannot
//! cover these.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::{Client, ClientOptions};
use crate::error::Error;
use crate::manifest::{Descriptor, OCI_LAYER_TAR, OCI_MANIFEST};
use crate::{Digest, Reference};

/// A request as the fake registry saw it.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    headers: HashMap<String, String>,
}

impl Seen {
    fn auth(&self) -> Option<&str> {
        self.headers.get("authorization").map(String::as_str)
    }
}

/// A status, extra headers and a body.
type Reply = (u16, Vec<(String, String)>, Vec<u8>);
type Handler = dyn Fn(&Seen, u16) -> Reply + Send + Sync;

/// An HTTP/1.1 server that answers each request with `handler` (given the
/// request and its own port) and records what it saw; stopped on drop.
struct Fake {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Fake {
    fn start(handler: impl Fn(&Seen, u16) -> Reply + Send + Sync + 'static) -> Fake {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    serve(stream, port, &*handler, &seen2);
                }
            }
        });
        Fake {
            port,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn seen(&self, path_prefix: &str) -> Vec<Seen> {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .filter(|s| s.path.starts_with(path_prefix))
            .cloned()
            .collect()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, port: u16, handler: &Handler, seen: &Mutex<Vec<Seen>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() || line.is_empty() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let request = Seen { path, headers };
    seen.lock().unwrap().push(request.clone());
    let (status, extra, body) = handler(&request, port);
    let mut out = stream;
    let mut head = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(&body);
}

const MANIFEST: &[u8] = br#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0},"layers":[]}"#;

/// A registry behind a token server at `/token` that hands `good-token` to
/// anyone, or only to `user:pass` when `need_creds`.
fn token_registry(need_creds: bool) -> Fake {
    Fake::start(move |req, port| {
        let challenge =
            format!(r#"Bearer realm="http://127.0.0.1:{port}/token",service="fake-registry""#);
        let unauthorized = (
            401,
            vec![("WWW-Authenticate".to_string(), challenge)],
            br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#.to_vec(),
        );
        if req.path.starts_with("/token") {
            let basic = format!("Basic {}", base64_of("user:pass"));
            if need_creds && req.auth() != Some(basic.as_str()) {
                return (401, vec![], b"bad credentials".to_vec());
            }
            return (
                200,
                vec![],
                br#"{"token":"good-token","expires_in":300}"#.to_vec(),
            );
        }
        if req.auth() != Some("Bearer good-token") {
            return unauthorized;
        }
        match req.path.as_str() {
            "/v2/" => (200, vec![], b"{}".to_vec()),
            p if p.starts_with("/v2/app/manifests/") => (
                200,
                vec![("Content-Type".to_string(), OCI_MANIFEST.to_string())],
                MANIFEST.to_vec(),
            ),
            _ => (404, vec![], Vec::new()),
        }
    })
}

fn base64_of(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn client(dir: &std::path::Path) -> Client {
    Client::new(ClientOptions {
        auth_file: Some(dir.join("auth.json")),
        registries_conf: Some(dir.join("registries.json")),
        ..ClientOptions::default()
    })
    .unwrap()
}

fn reference(fake: &Fake, name: &str) -> Reference {
    format!("127.0.0.1:{}/{name}", fake.port).parse().unwrap()
}

#[test]
fn anonymous_token_is_fetched_once_per_scope() {
    let fake = token_registry(false);
    let dir = tempfile::tempdir().unwrap();
    let client = client(dir.path());
    let r = reference(&fake, "app:1");
    for _ in 0..3 {
        let m = client.fetch_manifest(&r).unwrap();
        assert_eq!(m.bytes, MANIFEST);
        assert_eq!(m.media_type, OCI_MANIFEST);
    }
    let tokens = fake.seen("/token");
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert_eq!(
        tokens[0].path,
        "/token?service=fake-registry&scope=repository%3Aapp%3Apull"
    );
    assert_eq!(tokens[0].auth(), None);
    // A clone shares the cache.
    client.clone().fetch_manifest(&r).unwrap();
    assert_eq!(fake.seen("/token").len(), 1);
}

#[test]
fn token_with_stored_credentials_and_bearer_login() {
    let fake = token_registry(true);
    let dir = tempfile::tempdir().unwrap();
    let client = client(dir.path());
    let r = reference(&fake, "app:1");
    let registry = format!("127.0.0.1:{}", fake.port);
    let err = client.fetch_manifest(&r).unwrap_err();
    assert!(matches!(err, Error::AuthRequired { .. }), "{err}");

    let err = client.login(&registry, "user", "nope").unwrap_err();
    assert!(err.to_string().contains("login to"), "{err}");
    client.login(&registry, "user", "pass").unwrap();
    let login_token = fake.seen("/token").pop().unwrap();
    assert_eq!(
        login_token.path,
        "/token?service=fake-registry&account=user"
    );

    client.fetch_manifest(&r).unwrap();
    let last = fake.seen("/token").pop().unwrap();
    assert!(
        last.path.contains("scope=repository%3Aapp%3Apull"),
        "{last:?}"
    );
    assert!(last.auth().unwrap().starts_with("Basic "));
}

#[test]
fn blob_redirects_drop_the_token() {
    let data = b"layer bytes".to_vec();
    let digest = Digest::sha256_of(&data);
    let (blob_path, served) = (format!("/v2/app/blobs/{digest}"), data.clone());
    let fake = Fake::start(move |req, port| {
        let challenge = format!(r#"Bearer realm="http://127.0.0.1:{port}/token""#);
        match req.path.as_str() {
            p if p.starts_with("/token") => (200, vec![], br#"{"access_token":"t"}"#.to_vec()),
            "/storage/blob" => (200, vec![], served.clone()),
            p if p == blob_path && req.auth() == Some("Bearer t") => (
                307,
                vec![(
                    "Location".to_string(),
                    format!("http://localhost:{port}/storage/blob"),
                )],
                Vec::new(),
            ),
            _ => (
                401,
                vec![("WWW-Authenticate".to_string(), challenge)],
                Vec::new(),
            ),
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let desc = Descriptor {
        media_type: OCI_LAYER_TAR.into(),
        digest,
        size: data.len() as u64,
        platform: None,
        annotations: Default::default(),
        urls: Vec::new(),
    };
    let mut out = Vec::new();
    client(dir.path())
        .fetch_blob(&reference(&fake, "app:1"), &desc, &mut out)
        .unwrap();
    assert_eq!(out, data);
    let storage = fake.seen("/storage");
    assert_eq!(storage.len(), 1);
    assert_eq!(storage[0].auth(), None, "the token went to storage");
}
