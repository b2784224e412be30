//! The config.json that `spec` writes: the same as runc's, so that tools built
//! on `runc spec` work unchanged.

use serde_json::Value;

use crate::state::OCI_VERSION;

const TEMPLATE: &str = include_str!("default_spec.json");

/// The default spec; with `rootless`, mapped to `uid`/`gid` with a user
/// namespace, no network namespace, /sys bound from the host and no device rules.
pub fn default_spec(rootless: bool, uid: u32, gid: u32) -> Value {
    let mut v: Value = serde_json::from_str(TEMPLATE).expect("the template is valid JSON");
    v["ociVersion"] = Value::String(OCI_VERSION.to_string());
    if rootless {
        make_rootless(&mut v, uid, gid);
    }
    v
}

fn make_rootless(v: &mut Value, uid: u32, gid: u32) {
    for m in v["mounts"].as_array_mut().into_iter().flatten() {
        match m["destination"].as_str() {
            Some("/dev/pts") => {
                if let Some(opts) = m["options"].as_array_mut() {
                    opts.retain(|o| o != "gid=5");
                }
            }
            Some("/sys") => {
                m["type"] = "none".into();
                m["source"] = "/sys".into();
                m["options"] = serde_json::json!(["rbind", "nosuid", "noexec", "nodev", "ro"]);
            }
            _ => {}
        }
    }
    let linux = &mut v["linux"];
    if let Some(obj) = linux.as_object_mut() {
        obj.shift_remove("resources");
        let map = |id| serde_json::json!([{ "containerID": 0, "hostID": id, "size": 1 }]);
        obj.insert("uidMappings".into(), map(uid));
        obj.insert("gidMappings".into(), map(gid));
        obj.shift_remove("namespaces");
        obj.insert(
            "namespaces".into(),
            serde_json::json!([
                {"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "user"}
            ]),
        );
        let rest: Vec<(String, Value)> = ["maskedPaths", "readonlyPaths"]
            .iter()
            .filter_map(|k| obj.shift_remove(*k).map(|v| (k.to_string(), v)))
            .collect();
        obj.extend(rest);
    }
}

/// Print a spec as runc does: tab-indented JSON.
pub fn to_runc_json(v: &Value) -> String {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    serde::Serialize::serialize(v, &mut ser).expect("a Value serialises");
    String::from_utf8(out).expect("JSON is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_as_a_valid_spec() {
        let text = to_runc_json(&default_spec(false, 0, 0));
        let spec = crate::spec::parse(&text).unwrap();
        assert_eq!(spec.hostname().as_deref(), Some("runc"));
        assert!(text.starts_with("{\n\t\"ociVersion\""));
        let rootless = to_runc_json(&default_spec(true, 1000, 1000));
        let spec = crate::spec::parse(&rootless).unwrap();
        assert!(crate::spec::has_namespace(
            &spec,
            oci_spec::runtime::LinuxNamespaceType::User
        ));
    }
}
