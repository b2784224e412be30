//! HTTP for the registry client: one synchronous `ureq` agent shared by all
//! threads, statuses returned rather than turned into errors (the client
//! needs to see 401s and error bodies), connection failures named by URL.

use std::io::Read;
use std::time::Duration;

use ureq::config::RedirectAuthHeaders;
use ureq::http::{Method, Request, Response};
use ureq::{Agent, Body, SendBody};

use crate::error::{Error, Result};

/// The most of a manifest, token or error body the client reads into memory.
pub(crate) const SMALL_BODY_LIMIT: u64 = 8 << 20;

/// What a request sends.
pub(crate) enum Payload<'a> {
    /// Nothing (GET, HEAD).
    Empty,
    /// A document held in memory, which can be sent again; `b""` for a
    /// POST without body, which gets `Content-Length: 0`.
    Bytes(&'a [u8]),
    /// A stream of exactly this many bytes, which can be sent only once.
    Stream(&'a mut dyn Read, u64),
}

impl<'a> Payload<'a> {
    /// The same payload to send a second time (after authenticating);
    /// `None` for a stream, which is gone once sent.
    pub(crate) fn replay(&self) -> Option<Payload<'a>> {
        match self {
            Payload::Empty => Some(Payload::Empty),
            Payload::Bytes(b) => Some(Payload::Bytes(b)),
            Payload::Stream(..) => None,
        }
    }
}

/// The HTTP agent.
#[derive(Clone)]
pub(crate) struct Transport {
    agent: Agent,
}

impl Transport {
    /// An agent that names itself `user_agent`.
    pub(crate) fn new(user_agent: &str) -> Transport {
        let config = Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(user_agent)
            .timeout_connect(Some(Duration::from_secs(30)))
            // A stalled download fails instead of hanging a pull for ever.
            .timeout_per_read(Some(Duration::from_secs(120)))
            // Blob redirects go to storage that rejects a registry's token.
            .redirect_auth_headers(RedirectAuthHeaders::SameHost)
            .build();
        Transport {
            agent: config.new_agent(),
        }
    }

    /// Sends one request; an error only when no response arrived at all.
    pub(crate) fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        payload: Payload<'_>,
    ) -> Result<Response<Body>> {
        let mut builder = Request::builder().method(method).uri(url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let unreachable = |e: ureq::Error| Error::RegistryUnreachable {
            url: url.to_string(),
            reason: e.to_string(),
        };
        let bad = |e: ureq::http::Error| Error::Other(format!("bad request for {url}: {e}"));
        match payload {
            Payload::Empty => self.agent.run(builder.body(SendBody::none()).map_err(bad)?),
            Payload::Bytes(bytes) => self.agent.run(builder.body(bytes).map_err(bad)?),
            Payload::Stream(reader, size) => {
                let builder = builder.header("Content-Length", size);
                self.agent
                    .run(builder.body(SendBody::from_reader(reader)).map_err(bad)?)
            }
        }
        .map_err(unreachable)
    }
}

/// A response header as text, if present and printable.
pub(crate) fn header(response: &Response<Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Reads a small body (a manifest, a token, an error) whole.
pub(crate) fn read_small(response: &mut Response<Body>, url: &str) -> Result<Vec<u8>> {
    response
        .body_mut()
        .with_config()
        .limit(SMALL_BODY_LIMIT)
        .read_to_vec()
        .map_err(|e| Error::Other(format!("reading the response from {url}: {e}")))
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
