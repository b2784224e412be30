//! `--security-opt seccomp=...`: Docker's default profile, none
//! (`unconfined`, or `--privileged`), or a profile file in Docker's format
//! (whose `includes`/`excludes` by capability are applied here) or the
//! OCI's.

use serde_json::{json, Value};

use super::record::ContainerConfig;
use super::spec::{capabilities, default_seccomp};
use crate::{Error, Result};

/// The `linux.seccomp` for the container, or `None` for no filter.
pub fn for_container(c: &ContainerConfig) -> Result<Option<Value>> {
    let caps = capabilities(c)?;
    match c.seccomp.as_str() {
        "unconfined" => Ok(None),
        "" if c.privileged => Ok(None),
        "" => Ok(Some(default_seccomp(&caps))),
        path => {
            let bytes = std::fs::read(path)
                .map_err(|e| Error::Invalid(format!("seccomp profile {path}: {e}")))?;
            let profile: Value = serde_json::from_slice(&bytes)
                .map_err(|e| Error::Invalid(format!("seccomp profile {path}: {e}")))?;
            Ok(Some(convert(&profile, &caps).map_err(|why| {
                Error::Invalid(format!("seccomp profile {path}: {why}"))
            })?))
        }
    }
}

/// A Docker-format profile as an OCI `linux.seccomp`.
fn convert(profile: &Value, caps: &[String]) -> std::result::Result<Value, String> {
    let obj = profile.as_object().ok_or("not a JSON object")?;
    let default = obj
        .get("defaultAction")
        .and_then(Value::as_str)
        .ok_or("no defaultAction")?;
    let mut out = json!({"defaultAction": default});
    if let Some(errno) = obj.get("defaultErrnoRet") {
        out["defaultErrnoRet"] = errno.clone();
    }
    let arches: Vec<Value> = match (obj.get("architectures"), obj.get("archMap")) {
        (Some(a), _) => a.as_array().cloned().ok_or("architectures is not a list")?,
        (None, Some(map)) => map
            .as_array()
            .ok_or("archMap is not a list")?
            .iter()
            .flat_map(|m| {
                let mut v = vec![m["architecture"].clone()];
                v.extend(
                    m["subArchitectures"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default(),
                );
                v
            })
            .collect(),
        (None, None) => Vec::new(),
    };
    out["architectures"] = json!(arches);
    let mut syscalls = Vec::new();
    for rule in obj
        .get("syscalls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if !applies(rule, caps) {
            continue;
        }
        let mut r = rule.clone();
        if let Some(m) = r.as_object_mut() {
            m.shift_remove("includes");
            m.shift_remove("excludes");
            m.shift_remove("comment");
            if let Some(name) = m.shift_remove("name") {
                m.insert("names".into(), json!([name]));
            }
        }
        syscalls.push(r);
    }
    out["syscalls"] = json!(syscalls);
    Ok(out)
}

fn applies(rule: &Value, caps: &[String]) -> bool {
    let has_all = |list: &Value| {
        list.as_array()
            .into_iter()
            .flatten()
            .all(|c| c.as_str().is_some_and(|c| caps.iter().any(|x| x == c)))
    };
    let has_any = |list: &Value| {
        list.as_array()
            .into_iter()
            .flatten()
            .any(|c| c.as_str().is_some_and(|c| caps.iter().any(|x| x == c)))
    };
    let arch_ok = |v: &Value| {
        v.as_array().is_none_or(|a| {
            a.iter()
                .any(|x| x == std::env::consts::ARCH || x == "amd64")
        })
    };
    let inc = &rule["includes"];
    let exc = &rule["excludes"];
    has_all(&inc["caps"]) && arch_ok(&inc["arches"]) && !has_any(&exc["caps"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_profiles_convert_with_capability_rules() {
        let profile = json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
            "syscalls": [
                {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
                {"name": "chown", "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_CHOWN"]}},
            ]
        });
        let out = convert(&profile, &["CAP_CHOWN".into()]).unwrap();
        assert_eq!(
            out["architectures"],
            json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"])
        );
        assert_eq!(out["syscalls"].as_array().unwrap().len(), 1);
        let admin = convert(&profile, &["CAP_SYS_ADMIN".into()]).unwrap();
        assert_eq!(admin["syscalls"].as_array().unwrap().len(), 3);
        assert_eq!(admin["syscalls"][2]["names"], json!(["chown"]));
        assert!(convert(&json!([]), &[]).is_err());
        assert!(convert(&json!({"syscalls": []}), &[]).is_err());
    }
}
