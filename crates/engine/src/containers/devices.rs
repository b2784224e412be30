//! `--device HOST[:CONTAINER[:PERMISSIONS]]`: a host device node made in the
//! container and allowed by its device rules.

use std::os::unix::fs::{FileTypeExt, MetadataExt};

use serde_json::{json, Value};

use crate::{Error, Result};

/// Adds each device to `linux.devices` and `linux.resources.devices`.
pub fn add(linux: &mut Value, devices: &[String]) -> Result<()> {
    for spec in devices {
        let (node, rule) = device(spec)?;
        push(&mut linux["devices"], node);
        push(&mut linux["resources"]["devices"], rule);
    }
    Ok(())
}

fn push(list: &mut Value, item: Value) {
    if !list.is_array() {
        *list = json!([]);
    }
    list.as_array_mut().expect("just made an array").push(item);
}

fn device(spec: &str) -> Result<(Value, Value)> {
    let parts: Vec<&str> = spec.split(':').collect();
    let bad = |why: &str| Error::Invalid(format!("invalid --device {spec:?}: {why}"));
    let (host, inside, perms) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, p] if is_perms(p) => (*h, *h, *p),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] => (*h, *c, *p),
        _ => return Err(bad("HOST[:CONTAINER[:PERMISSIONS]] expected")),
    };
    if !is_perms(perms) {
        return Err(bad("permissions are a combination of r, w and m"));
    }
    if !host.starts_with('/') || !inside.starts_with('/') {
        return Err(bad("device paths must be absolute"));
    }
    let meta = std::fs::metadata(host).map_err(|e| bad(&format!("{host}: {e}")))?;
    let kind = match meta.file_type() {
        t if t.is_char_device() => "c",
        t if t.is_block_device() => "b",
        _ => return Err(bad(&format!("{host} is not a device"))),
    };
    let rdev = meta.rdev();
    let (major, minor) = (libc::major(rdev), libc::minor(rdev));
    let node = json!({"path": inside, "type": kind, "major": major, "minor": minor,
                      "fileMode": meta.mode() & 0o7777, "uid": meta.uid(), "gid": meta.gid()});
    let rule =
        json!({"allow": true, "type": kind, "major": major, "minor": minor, "access": perms});
    Ok((node, rule))
}

fn is_perms(s: &str) -> bool {
    !s.is_empty() && s.len() <= 3 && s.chars().all(|c| matches!(c, 'r' | 'w' | 'm'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms_and_refuses_bad_ones() {
        let mut linux = json!({"resources": {"devices": [{"allow": false, "access": "rwm"}]}});
        add(
            &mut linux,
            &["/dev/null:/dev/mynull:rw".into(), "/dev/zero:r".into()],
        )
        .unwrap();
        assert_eq!(linux["devices"][0]["path"], "/dev/mynull");
        assert_eq!(linux["devices"][0]["major"], 1);
        assert_eq!(linux["resources"]["devices"][1]["access"], "rw");
        assert_eq!(linux["devices"][1]["path"], "/dev/zero");
        for bad in [
            "dev/null",
            "/dev/null:/x:q",
            "/etc/passwd",
            "/nonexistent",
            "/a:/b:r:x",
        ] {
            assert!(add(&mut linux, &[bad.into()]).is_err(), "{bad}");
        }
    }
}
