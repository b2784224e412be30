//! Bad input: every one fails, leaves nothing behind, and (for skiff) says what was
//! wrong.

use skiff_e2e::{assert_nothing_left, assert_ok, skip_skiff_checks, text, Bundle, Runtime};
use std::process::Output;

/// Asserts that `out` failed.
fn assert_failed(out: &Output) {
    assert!(
        !out.status.success(),
        "bad input was accepted; stdout: {}",
        text(&out.stdout)
    );
}

/// Unless the binary is not skiff-runtime, asserts that the standard error of
/// `out` mentions every one of `words` (case-insensitively).
fn assert_mentions(out: &Output, words: &[&str]) {
    if skip_skiff_checks() {
        return;
    }
    let stderr = text(&out.stderr).to_lowercase();
    for word in words {
        assert!(
            stderr.contains(&word.to_lowercase()),
            "stderr does not mention {word:?}: {stderr}"
        );
    }
}

/// Creates a container from `bundle` (in cgroup `/skiff-e2e/<id>`), expects the
/// runtime to refuse it, checks that nothing was left behind, and then that the
/// message names each of `words`.
fn create_rejected(name: &str, bundle: Bundle, words: &[&str]) -> Output {
    let rt = Runtime::new();
    let c = rt.container(name);
    let bundle = bundle.cgroups_path(&c.cgroup_path());
    let out = c.create(&bundle);
    assert_failed(&out);
    c.assert_nothing_left(None);
    assert_mentions(&out, words);
    out
}

#[test]
fn syntax_error_names_line_and_column() {
    let bundle = Bundle::new().raw_config("{\n  \"ociVersion\": \"1.0.2\",\n  \"process\": [\n}\n");
    create_rejected("bad-syntax", bundle, &["line", "column"]);
}

#[test]
fn wrong_type_names_the_field() {
    let bundle = Bundle::new().edit(|v| v["hostname"] = 5.into());
    let out = create_rejected("bad-type", bundle, &[]);
    if skip_skiff_checks() {
        return;
    }
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("hostname") || stderr.contains("invalid type"),
        "{stderr}"
    );
}

#[test]
fn unknown_namespace_type_is_named() {
    let bundle = Bundle::new().edit(|v| {
        let ns = v["linux"]["namespaces"].as_array_mut().expect("namespaces");
        ns.push(serde_json::json!({"type": "foo"}));
    });
    create_rejected("bad-ns-type", bundle, &["foo"]);
}

#[test]
fn duplicate_namespace_is_refused() {
    let bundle = Bundle::new().edit(|v| {
        let ns = v["linux"]["namespaces"].as_array_mut().expect("namespaces");
        ns.push(serde_json::json!({"type": "pid"}));
    });
    create_rejected("bad-ns-dup", bundle, &["duplicate"]);
}

#[test]
fn uid_mappings_without_user_namespace_are_refused() {
    // runc ignores the mappings and creates the container.
    if skip_skiff_checks() {
        return;
    }
    let bundle = Bundle::new().edit(|v| {
        v["linux"]["uidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    });
    create_rejected("bad-uidmap", bundle, &["uidMappings"]);
}

#[test]
fn missing_rootfs_is_named() {
    let bundle = Bundle::new();
    let rootfs = bundle.rootfs();
    std::fs::remove_dir_all(&rootfs).expect("remove rootfs");
    create_rejected("bad-rootfs", bundle, &[rootfs.to_str().expect("utf-8")]);
}

#[test]
fn relative_mount_destination_is_named() {
    if skip_skiff_checks() {
        return;
    }
    let bundle = Bundle::new().mount("tmp/x", "tmpfs", "tmpfs", &[]);
    create_rejected("bad-mount-dest", bundle, &["tmp/x"]);
}

#[test]
fn bad_ids_are_refused() {
    let rt = Runtime::new();
    let cgroup_name = format!("t-bad-id-{}", std::process::id());
    let bundle = Bundle::new()
        .args(&["sleep", "100"])
        .cgroups_path(&format!("/skiff-e2e/{cgroup_name}"));
    bundle.write_config();
    let bundle_arg = bundle.path().to_str().expect("utf-8");
    for id in ["", "a/b", "..", "../x"] {
        let out = rt.cli(&["create", "--bundle", bundle_arg, id]);
        assert_failed(&out);
        assert_nothing_left(&rt, &cgroup_name, None);
        assert_mentions(&out, &["id"]);
    }
}

#[test]
fn id_in_use_is_refused() {
    let rt = Runtime::new();
    let c = rt.container("bad-in-use");
    let first = Bundle::new()
        .args(&["sleep", "100"])
        .cgroups_path(&c.cgroup_path());
    let second = Bundle::new().args(&["sleep", "100"]);
    assert_ok(&c.create(&first), "first create");
    let pid = c.pid();
    let out = c.create(&second);
    assert_failed(&out);
    assert_eq!(c.status(), "created", "the first container was disturbed");
    assert_eq!(c.pid(), pid);
    assert_ok(&c.delete(), "delete");
    c.assert_nothing_left(Some(pid));
    assert_mentions(&out, &["already exists"]);
}

#[test]
fn unknown_id_does_not_exist() {
    let rt = Runtime::new();
    let c = rt.container("bad-unknown");
    for out in [c.start(), c.kill("KILL"), c.delete(), c.state_output()] {
        assert_failed(&out);
        c.assert_nothing_left(None);
        assert_mentions(&out, &["does not exist"]);
    }
}

#[test]
fn unknown_signal_is_named() {
    let rt = Runtime::new();
    let c = rt.container("bad-signal");
    let bundle = Bundle::new()
        .args(&["sleep", "100"])
        .cgroups_path(&c.cgroup_path());
    assert_ok(&c.create(&bundle), "create");
    let pid = c.pid();
    let out = c.kill("FOO");
    assert_failed(&out);
    assert_eq!(c.status(), "created", "the container was disturbed");
    assert_ok(&c.delete(), "delete");
    c.assert_nothing_left(Some(pid));
    assert_mentions(&out, &["FOO"]);
}
