//! Image references with Docker's rules: `busybox` is
//! `docker.io/library/busybox:latest`, a first component with a `.` or `:`
//! (or `localhost`) is a registry, and `@sha256:...` pins a digest.

use std::fmt;
use std::str::FromStr;

use crate::digest::Digest;
use crate::error::{Error, Result};

/// The registry that names without one refer to.
pub const DEFAULT_REGISTRY: &str = "docker.io";
/// The host that serves [`DEFAULT_REGISTRY`]'s API.
pub const DEFAULT_REGISTRY_HOST: &str = "registry-1.docker.io";
/// The tag a reference without tag or digest gets.
pub const DEFAULT_TAG: &str = "latest";

const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// The registry host (with port), `docker.io` by default.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path, `library/busybox` for `busybox`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if the reference has one (a digest-only reference has none).
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The pinned digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// What to ask the registry's manifest endpoint for: the digest when
    /// pinned, else the tag.
    pub fn manifest_ref(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => DEFAULT_TAG.to_string(),
        }
    }

    /// The host to connect to for this reference's registry.
    pub fn registry_host(&self) -> &str {
        if self.registry == DEFAULT_REGISTRY {
            DEFAULT_REGISTRY_HOST
        } else {
            &self.registry
        }
    }

    /// `registry/repository`, the name without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The same name with another tag and no digest.
    pub fn with_tag(&self, tag: &str) -> Result<Reference> {
        check_tag(tag).map_err(|why| Error::InvalidReference(tag.to_string(), why))?;
        Ok(Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        })
    }

    /// The same name pinned to `digest`, without tag.
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            tag: None,
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The short name Docker prints: `busybox` for
    /// `docker.io/library/busybox`, `user/app` for `docker.io/user/app`.
    pub fn familiar_name(&self) -> String {
        if self.registry != DEFAULT_REGISTRY {
            return self.name();
        }
        self.repository
            .strip_prefix("library/")
            .filter(|rest| !rest.contains('/'))
            .unwrap_or(&self.repository)
            .to_string()
    }
}

impl FromStr for Reference {
    type Err = Error;

    fn from_str(s: &str) -> Result<Reference> {
        parse(s).map_err(|why| Error::InvalidReference(s.to_string(), why))
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

fn parse(s: &str) -> std::result::Result<Reference, String> {
    if s.is_empty() {
        return Err("empty reference".into());
    }
    let (rest, digest) = match s.split_once('@') {
        Some((rest, d)) => (rest, Some(d.parse::<Digest>().map_err(|e| e.to_string())?)),
        None => (s, None),
    };
    // A ':' after the last '/' starts the tag; one before it is a port.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(tag) = tag {
        check_tag(tag)?;
    }
    let (registry, repository) = split_registry(name);
    check_domain(&registry)?;
    let repository = match (registry.as_str(), repository.contains('/')) {
        (DEFAULT_REGISTRY, false) => format!("library/{repository}"),
        _ => repository.to_string(),
    };
    for component in repository.split('/') {
        check_component(component)?;
    }
    // The limit applies to the name as stored and printed, after the
    // defaults were added, so that every accepted name can be read back.
    if registry.len() + 1 + repository.len() > MAX_NAME_LEN {
        return Err(format!(
            "name longer than {MAX_NAME_LEN} characters (with its registry and library/)"
        ));
    }
    let tag = match (tag, &digest) {
        (Some(t), _) => Some(t.to_string()),
        (None, Some(_)) => None,
        (None, None) => Some(DEFAULT_TAG.to_string()),
    };
    Ok(Reference {
        registry,
        repository,
        tag,
        digest,
    })
}

fn split_registry(name: &str) -> (String, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            let registry = match first {
                "index.docker.io" | "registry-1.docker.io" => DEFAULT_REGISTRY,
                other => other,
            };
            (registry.to_string(), rest)
        }
        _ => (DEFAULT_REGISTRY.to_string(), name),
    }
}

fn check_domain(domain: &str) -> std::result::Result<(), String> {
    let (host, port) = match domain.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || domain.starts_with('[') => (h, Some(p)),
        _ => (domain, None),
    };
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) || port.len() > 5 {
            return Err(format!("invalid port in registry {domain:?}"));
        }
    }
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    let ipv6_ok = host.starts_with('[')
        && host.ends_with(']')
        && host[1..host.len() - 1]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':');
    if host_ok || ipv6_ok {
        Ok(())
    } else {
        Err(format!("invalid registry {domain:?}"))
    }
}

fn check_component(c: &str) -> std::result::Result<(), String> {
    if c.is_empty() {
        return Err("empty path component".into());
    }
    if c.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err("repository name must be lowercase".into());
    }
    let bytes = c.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return Err(format!(
            "path component {c:?} must start and end with [a-z0-9]"
        ));
    }
    // Separators between alphanumeric runs: one '.', one or two '_', or any '-'s.
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|b| b == b'-');
        if !ok {
            return Err(format!("invalid separator {sep:?} in path component {c:?}"));
        }
    }
    Ok(())
}

fn check_tag(tag: &str) -> std::result::Result<(), String> {
    let bytes = tag.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let ok = !bytes.is_empty()
        && bytes.len() <= MAX_TAG_LEN
        && word(bytes[0])
        && bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid tag {tag:?}: [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}} expected"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Reference {
        s.parse().unwrap()
    }

    #[test]
    fn docker_defaults() {
        assert_eq!(r("busybox").to_string(), "docker.io/library/busybox:latest");
        assert_eq!(r("user/app:1.0").to_string(), "docker.io/user/app:1.0");
        assert_eq!(r("busybox").familiar_name(), "busybox");
        assert_eq!(r("index.docker.io/library/busybox").registry(), "docker.io");
        assert_eq!(r("busybox").registry_host(), DEFAULT_REGISTRY_HOST);
    }

    #[test]
    fn registries_and_ports() {
        let x = r("localhost:5000/a/b:v2");
        assert_eq!(
            (x.registry(), x.repository(), x.tag()),
            ("localhost:5000", "a/b", Some("v2"))
        );
        let y = r("127.0.0.1:5000/busybox");
        assert_eq!(
            (y.registry(), y.repository()),
            ("127.0.0.1:5000", "busybox")
        );
        assert_eq!(r("quay.io/x/y").familiar_name(), "quay.io/x/y");
        assert_eq!(r("localhost/x").registry(), "localhost");
    }

    #[test]
    fn digests() {
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let x = r(&format!("busybox@{d}"));
        assert_eq!(x.tag(), None);
        assert_eq!(x.manifest_ref(), d);
        let y = r(&format!("busybox:1@{d}"));
        assert_eq!(y.tag(), Some("1"));
        assert_eq!(y.manifest_ref(), d);
    }

    #[test]
    fn refuses_malformed() {
        for bad in [
            "",
            "Busybox",
            "busybox:",
            "busybox:-x",
            "a//b",
            "/busybox",
            "busybox/",
            "a..b",
            "a___b",
            "busybox@sha256:abc",
            "bad host:5000/x",
            "localhost:port/x",
            "x:../../etc",
            &format!("a:{}", "t".repeat(129)),
            &"a".repeat(256),
            &"a".repeat(238),
        ] {
            assert!(bad.parse::<Reference>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn separators() {
        for good in ["a.b", "a_b", "a__b", "a---b", "a-b.c_d"] {
            assert!(good.parse::<Reference>().is_ok(), "{good}");
        }
    }
}
