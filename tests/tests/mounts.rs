//! Mounts: the root filesystem, configured mounts, /dev, masked and read-only paths.

use skiff_e2e::{run_bundle, sh_output, text, Bundle, HostDir};
use std::fs;

/// The line of /proc/self/mountinfo (inside) whose mount point is `point`.
fn mountinfo_line<'a>(mountinfo: &'a str, point: &str) -> &'a str {
    mountinfo
        .lines()
        .rfind(|l| l.split(' ').nth(4) == Some(point))
        .unwrap_or_else(|| panic!("{point} is not a mount point:\n{mountinfo}"))
}

/// Per-mount options (field 6) of that line.
fn mount_options(mountinfo: &str, point: &str) -> Vec<String> {
    let line = mountinfo_line(mountinfo, point);
    let opts = line.split(' ').nth(5).expect("mount options field");
    opts.split(',').map(str::to_string).collect()
}

#[test]
fn proc_is_mounted() {
    let out = sh_output("mnt-proc", Bundle::new(), "cat /proc/self/mountinfo");
    let line = mountinfo_line(&out, "/proc");
    assert!(line.contains(" - proc "), "{line}");
}

#[test]
fn tmpfs_options_apply() {
    // 1777 is tmpfs's default mode and not shown in mountinfo, so use another.
    let bundle = Bundle::new().mount("/scratch", "tmpfs", "tmpfs", &["size=1m", "mode=1770"]);
    let out = sh_output(
        "mnt-tmpfs",
        bundle,
        "stat -c %a /scratch; grep ' /scratch ' /proc/self/mountinfo",
    );
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("1770"), "{out}");
    let info = lines.next().expect("mountinfo line");
    assert!(info.contains(" - tmpfs "), "{info}");
    assert!(info.contains("size=1024k"), "{info}");
    assert!(info.contains("mode=1770"), "{info}");
}

#[test]
fn readonly_bind_mount_with_flags() {
    let bundle = Bundle::new();
    let src = bundle.host_dir("ro-src");
    fs::write(src.join("file"), "from host").expect("write file");
    let bundle = bundle.bind(&src, "/data", &["ro", "nosuid", "nodev", "noexec"]);
    let out = run_bundle(
        "mnt-bind-ro",
        &bundle.args(&[
            "sh",
            "-c",
            "cat /data/file; echo; touch /data/new && echo WROTE; cat /proc/self/mountinfo",
        ]),
    );
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("from host"), "{stdout}");
    assert!(
        !stdout.contains("WROTE"),
        "write to a ro bind mount succeeded"
    );
    assert!(!src.join("new").exists());
    let opts = mount_options(&stdout, "/data");
    for want in ["ro", "nosuid", "nodev", "noexec"] {
        assert!(
            opts.iter().any(|o| o == want),
            "{want} missing from {opts:?}"
        );
    }
}

#[test]
fn mount_destination_is_created() {
    let bundle = Bundle::new();
    let src = bundle.host_dir("bind-src");
    fs::write(src.join("marker"), "m").expect("write marker");
    let bundle = bundle.bind(&src, "/not/there/yet", &[]);
    let out = sh_output("mnt-mkdir", bundle, "cat /not/there/yet/marker");
    assert_eq!(out, "m");
}

#[test]
fn dev_has_standard_devices() {
    let out = sh_output(
        "mnt-dev",
        Bundle::new(),
        "for d in null zero full random urandom tty; do stat -c '%n %F %a' /dev/$d; done",
    );
    for dev in ["null", "zero", "full", "random", "urandom", "tty"] {
        let want = format!("/dev/{dev} character special file 666");
        assert!(out.lines().any(|l| l == want), "want `{want}` in\n{out}");
    }
}

#[test]
fn dev_has_pts_ptmx_fd_and_shm() {
    let out = sh_output(
        "mnt-dev-links",
        Bundle::new(),
        "test -d /dev/pts && echo pts; readlink /dev/ptmx; readlink /dev/fd; test -d /dev/shm && echo shm",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, ["pts", "pts/ptmx", "/proc/self/fd", "shm"], "{out}");
}

#[test]
fn readonly_root_rejects_writes() {
    let bundle = Bundle::new().args(&["sh", "-c", "touch /newfile"]);
    let out = run_bundle("mnt-ro-root", &bundle);
    assert!(!out.status.success(), "write to a read-only root succeeded");
    assert!(!bundle.rootfs().join("newfile").exists());
}

#[test]
fn writable_root_accepts_writes() {
    let bundle = Bundle::new()
        .readonly_root(false)
        .args(&["sh", "-c", "echo hi > /newfile"]);
    let out = run_bundle("mnt-rw-root", &bundle);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert_eq!(
        fs::read_to_string(bundle.rootfs().join("newfile"))
            .ok()
            .as_deref(),
        Some("hi\n")
    );
}

#[test]
fn masked_paths_are_empty() {
    let file = ["/proc/kcore", "/proc/timer_list", "/proc/keys"]
        .into_iter()
        .find(|p| fs::metadata(p).is_ok())
        .expect("a masked /proc file that exists on this host");
    let script =
        format!("echo file=$(cat {file} | wc -c); echo firmware=$(ls /sys/firmware | wc -l)");
    let out = sh_output("mnt-masked", Bundle::new(), &script);
    assert!(out.contains("file=0"), "{file} is not empty: {out}");
    assert!(out.contains("firmware=0"), "{out}");
}

#[test]
fn readonly_paths_reject_writes() {
    let out = sh_output(
        "mnt-ro-paths",
        Bundle::new(),
        "echo 1 > /proc/sys/kernel/ns_last_pid && echo WROTE; cat /proc/self/mountinfo",
    );
    assert!(!out.contains("WROTE"), "write to /proc/sys succeeded");
    let opts = mount_options(&out, "/proc/sys");
    assert!(opts.iter().any(|o| o == "ro"), "/proc/sys options {opts:?}");
}

#[test]
fn linux_devices_are_created() {
    let bundle = Bundle::new().edit(|v| {
        v["linux"]["devices"] = serde_json::json!([{
            "path": "/dev/mynull", "type": "c", "major": 1, "minor": 3,
            "fileMode": 438, "uid": 0, "gid": 0
        }]);
    });
    let out = sh_output("mnt-devices", bundle, "stat -c '%F %a %t %T' /dev/mynull");
    assert_eq!(out.trim(), "character special file 666 1 3");
}

#[test]
fn symlink_destination_stays_inside_rootfs() {
    let host = HostDir::new("escape");
    let target = host.path().to_str().expect("utf-8").to_string();
    let bundle = Bundle::new();
    std::os::unix::fs::symlink(&target, bundle.rootfs().join("evil")).expect("symlink");
    let bundle = bundle.mount("/evil", "tmpfs", "tmpfs", &["size=1m"]);
    let out = sh_output(
        "mnt-symlink",
        bundle,
        &format!("touch /evil/marker && grep -c ' {target} .* - tmpfs ' /proc/self/mountinfo"),
    );
    assert_eq!(
        out.trim(),
        "1",
        "the tmpfs is not at {target} inside the rootfs"
    );
    assert!(
        !host.is_mountpoint(),
        "the mount landed on the host's {target}"
    );
    assert!(
        fs::read_dir(host.path())
            .expect("read host dir")
            .next()
            .is_none(),
        "the container wrote into the host's {target}"
    );
}

#[test]
fn tmpcopyup_copies_the_image_contents() {
    let bundle = Bundle::new();
    let etc = bundle.rootfs().join("etc/skiff-copyup");
    std::fs::create_dir_all(&etc).expect("dir in rootfs");
    std::fs::write(etc.join("kept"), "from the image").expect("file in rootfs");
    let bundle = bundle.mount(
        "/etc/skiff-copyup",
        "tmpfs",
        "tmpfs",
        &["tmpcopyup", "mode=755"],
    );
    let out = sh_output(
        "tmpcopyup",
        bundle,
        "cat /etc/skiff-copyup/kept; echo; grep -c ' /etc/skiff-copyup tmpfs' /proc/self/mounts",
    );
    assert_eq!(out.trim(), "from the image\n1");
}

/// Unmounts a mount the test made on the host, even when the test fails.
struct HostMount(std::path::PathBuf);

impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

#[test]
fn recursive_read_only_bind_covers_submounts() {
    let host = HostDir::new("rro");
    let sub = host.path().join("sub");
    fs::create_dir(&sub).expect("sub dir");
    nix::mount::mount(
        Some("tmpfs"),
        &sub,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=1m"),
    )
    .expect("mount a tmpfs below the host dir");
    let _unmount = HostMount(sub);
    let bundle = Bundle::new().bind(host.path(), "/data", &["rbind", "rro"]);
    let out = sh_output(
        "rro",
        bundle,
        "touch /data/x 2>/dev/null && echo top-writable; touch /data/sub/y 2>/dev/null && echo sub-writable; echo done",
    );
    assert!(
        !out.contains("top-writable"),
        "rro left /data writable: {out}"
    );
    assert!(
        !out.contains("sub-writable"),
        "rro left the submount writable: {out}"
    );
    assert!(out.contains("done"), "{out}");
}

#[test]
fn apparmor_and_selinux_labels_are_skipped_where_the_host_lacks_them() {
    // runc refuses instead; skiff follows crun, because engines pass labels by default.
    if skiff_e2e::skip_skiff_checks() {
        return;
    }
    let bundle = Bundle::new().edit(|v| {
        v["process"]["apparmorProfile"] = serde_json::json!("skiff-test-profile");
        v["process"]["selinuxLabel"] = serde_json::json!("system_u:system_r:container_t:s0");
    });
    let lsm = fs::read_to_string("/sys/kernel/security/lsm").unwrap_or_default();
    if lsm.contains("apparmor") || lsm.contains("selinux") {
        return;
    }
    assert_eq!(sh_output("lsm-skip", bundle, "echo ran").trim(), "ran");
}
