//! User namespaces: id mappings, root inside, ownership outside.

use skiff_e2e::{run_bundle, sh_output, text, Bundle};
use std::fs;
use std::os::unix::fs::{chown, MetadataExt};

const HOST_ID: u32 = 100_000;
const SIZE: u32 = 65_536;

/// A bundle with a user namespace mapping 0 to [`HOST_ID`] for [`SIZE`] ids,
/// its rootfs owned by the mapped root.
fn mapped_bundle() -> Bundle {
    let mapping = serde_json::json!([{"containerID": 0, "hostID": HOST_ID, "size": SIZE}]);
    Bundle::new()
        .namespace("user", None)
        .edit(|v| {
            v["linux"]["uidMappings"] = mapping.clone();
            v["linux"]["gidMappings"] = mapping;
        })
        .chown_rootfs(HOST_ID, HOST_ID)
}

#[test]
fn uid_map_is_written() {
    let out = sh_output(
        "userns-map",
        mapped_bundle(),
        "cat /proc/self/uid_map /proc/self/gid_map",
    );
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let want = vec!["0".to_string(), HOST_ID.to_string(), SIZE.to_string()];
    assert_eq!(rows.len(), 2, "{out}");
    for row in rows {
        assert_eq!(row, want, "{out}");
    }
}

#[test]
fn process_is_root_inside() {
    assert_eq!(
        sh_output("userns-root", mapped_bundle(), "id -u; id -g"),
        "0\n0\n"
    );
}

#[test]
fn files_are_owned_by_mapped_id_on_host() {
    let bundle = mapped_bundle();
    let shared = bundle.host_dir("shared");
    chown(&shared, Some(HOST_ID), Some(HOST_ID)).expect("chown shared dir");
    let bundle = bundle
        .bind(&shared, "/shared", &[])
        .args(&["touch", "/shared/made"]);
    let out = run_bundle("userns-owner", &bundle);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let meta = fs::metadata(shared.join("made")).expect("file made inside");
    assert_eq!((meta.uid(), meta.gid()), (HOST_ID, HOST_ID));
}
