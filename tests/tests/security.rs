//! Regression tests for the escapes that runc, crun and youki have fixed: each
//! attempts the attack and shows that it fails.

use skiff_e2e::{assert_ok, runtime_binary, sh_output, text, Bundle, HostDir, Runtime};
use std::fs;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

fn sleeper() -> Bundle {
    Bundle::new().args(&["sleep", "100"])
}

/// CVE-2019-5736: a container process that holds /proc/PID/exe of a runtime
/// process must not be able to write through it to the runtime on the host.
#[test]
fn runtime_binary_cannot_be_overwritten_through_proc_exe() {
    let copy_dir = tempfile::tempdir().expect("tempdir");
    let copy = copy_dir
        .path()
        .join(runtime_binary().file_name().expect("name"));
    fs::copy(runtime_binary(), &copy).expect("copy the runtime");
    let before = fs::read(&copy).expect("read copy");
    let rt = Runtime::with_binary(&copy);
    let c = rt.container("cve-2019-5736");
    let bundle = sleeper();
    assert_ok(&c.create(&bundle), "create");
    let held = fs::File::options()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open(format!("/proc/{}/exe", c.pid()))
        .expect("open /proc/PID/exe of init");
    assert_ok(&c.start(), "start");
    let reopened = fs::File::options()
        .write(true)
        .open(format!("/proc/self/fd/{}", held.as_raw_fd()));
    if let Ok(mut f) = reopened {
        let _ = f.write_all(b"#!/bin/sh\necho pwned\n");
    }
    assert!(
        fs::read(&copy).expect("read copy") == before,
        "the runtime binary was overwritten"
    );
}

use std::os::unix::fs::OpenOptionsExt;

/// CVE-2024-21626: no descriptor of the runtime's may serve as the process's cwd.
#[test]
fn cwd_through_a_leaked_descriptor_is_refused() {
    for fd in 3..10 {
        let rt = Runtime::new();
        let c = rt.container(&format!("cve-2024-21626-{fd}"));
        let bundle = Bundle::new().cwd(&format!("/proc/self/fd/{fd}")).args(&[
            "sh",
            "-c",
            "pwd; ls .. | head -3",
        ]);
        let out = c.run(&bundle);
        if out.status.success() {
            let pwd = text(&out.stdout);
            assert!(
                !pwd.contains("unreachable"),
                "cwd escaped the root through fd {fd}: {pwd}"
            );
        }
        c.assert_nothing_left(None);
    }
}

/// Only 0, 1 and 2 reach the process when nothing is preserved.
#[test]
fn no_runtime_descriptor_reaches_the_container() {
    let out = sh_output("fds", Bundle::new(), "ls /proc/self/fd");
    let fds: Vec<&str> = out.split_whitespace().collect();
    assert!(fds.len() <= 4, "descriptors inside: {fds:?}");
    for fd in ["0", "1", "2"] {
        assert!(fds.contains(&fd), "{fd} missing: {fds:?}");
    }
}

/// CVE-2021-30465 and CVE-2023-27561: masked and read-only paths that are
/// symlinks out of the rootfs are resolved inside it.
#[test]
fn masked_and_readonly_symlinks_stay_inside() {
    let host = HostDir::new("masked-target");
    fs::write(host.path().join("secret"), "host data").expect("host file");
    let bundle = Bundle::new();
    std::os::unix::fs::symlink(host.path(), bundle.rootfs().join("masked-link")).expect("symlink");
    std::os::unix::fs::symlink(host.path(), bundle.rootfs().join("ro-link")).expect("symlink");
    let bundle = bundle.edit(|v| {
        v["linux"]["maskedPaths"] = serde_json::json!(["/masked-link"]);
        v["linux"]["readonlyPaths"] = serde_json::json!(["/ro-link"]);
    });
    let out = Runtime::new()
        .container("masked-symlink")
        .run(&bundle.args(&["true"]));
    let _ = out;
    assert!(
        !host.is_mountpoint(),
        "a mount landed on the host directory"
    );
    assert_eq!(
        fs::read_to_string(host.path().join("secret")).unwrap(),
        "host data"
    );
}

/// A /dev in the image that is a symlink out of the rootfs gets nothing on the host.
#[test]
fn dev_symlink_out_of_the_rootfs_is_contained() {
    let host = HostDir::new("dev-target");
    let bundle = Bundle::new();
    fs::remove_dir(bundle.rootfs().join("dev")).expect("remove dev");
    std::os::unix::fs::symlink(host.path(), bundle.rootfs().join("dev")).expect("symlink /dev");
    let out = Runtime::new().container("dev-symlink").run(&bundle.args(&[
        "sh",
        "-c",
        "test -c /dev/null",
    ]));
    assert_ok(&out, "run with /dev a symlink");
    assert!(
        !host.is_mountpoint(),
        "/dev was mounted on the host directory"
    );
    let entries: Vec<_> = fs::read_dir(host.path()).unwrap().collect();
    assert!(
        entries.is_empty(),
        "devices were made on the host: {entries:?}"
    );
}

/// Init is not dumpable before it execs: in a user namespace its /proc files
/// stay owned by the host's root rather than by the container's root.
#[test]
fn init_is_not_dumpable_before_exec() {
    let mapping = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    let bundle = sleeper()
        .namespace("user", None)
        .edit(|v| {
            v["linux"]["uidMappings"] = mapping.clone();
            v["linux"]["gidMappings"] = mapping;
        })
        .chown_rootfs(100000, 100000);
    let rt = Runtime::new();
    let c = rt.container("dumpable");
    assert_ok(&c.create(&bundle), "create");
    let meta = fs::metadata(format!("/proc/{}/environ", c.pid())).expect("stat environ");
    assert_eq!(
        meta.uid(),
        0,
        "init's /proc files belong to the container's root"
    );
    assert_ok(&c.start(), "start");
}

/// CVE-2022-29162: `exec --cap` never adds to the inheritable set.
#[test]
fn exec_cap_leaves_inheritable_empty() {
    let rt = Runtime::new();
    let c = rt.container("exec-cap");
    let bundle = sleeper();
    c.start_running(&bundle);
    let out = c.exec_with(&["--cap", "CAP_SYS_ADMIN"], &["cat", "/proc/self/status"]);
    assert_ok(&out, "exec --cap");
    let status = text(&out.stdout);
    assert!(status.contains("CapInh:\t0000000000000000"), "{status}");
    let eff = status
        .lines()
        .find(|l| l.starts_with("CapEff"))
        .unwrap_or_default();
    let mask = u64::from_str_radix(eff.split_whitespace().nth(1).unwrap_or("0"), 16).unwrap();
    assert!(
        mask & (1 << 21) != 0,
        "CAP_SYS_ADMIN not effective: {status}"
    );
}

/// noNewPrivileges: a setuid-root binary gives a non-root user nothing. The
/// probe is a static C program (busybox drops set-user-id rights by itself).
#[test]
fn no_new_privileges_defeats_setuid() {
    let src = tempfile::tempdir().expect("tempdir");
    let probe = compile_probe(
        src.path(),
        "euid",
        "#include <stdio.h>\n#include <unistd.h>\nint main(void){printf(\"%d\\n\", (int)geteuid());return 0;}\n",
    );
    let euid = |nnp: bool| {
        let bundle = Bundle::new();
        let suid = bundle.rootfs().join("bin/euid");
        fs::copy(&probe, &suid).expect("copy probe");
        fs::set_permissions(&suid, fs::Permissions::from_mode(0o4755)).expect("setuid bit");
        let bundle = bundle
            .user(65534, 65534)
            .edit(|v| v["process"]["noNewPrivileges"] = serde_json::json!(nnp));
        sh_output(&format!("nnp-{nnp}"), bundle, "/bin/euid")
            .trim()
            .to_string()
    };
    assert_eq!(
        euid(false),
        "0",
        "the setuid bit should work without noNewPrivileges"
    );
    assert_eq!(
        euid(true),
        "65534",
        "noNewPrivileges let a setuid binary gain root"
    );
}

/// A static C program built for the test (busybox cannot make every system call).
fn compile_probe(dir: &std::path::Path, name: &str, source: &str) -> std::path::PathBuf {
    let c_file = dir.join(format!("{name}.c"));
    fs::write(&c_file, source).expect("write probe source");
    let out_file = dir.join(name);
    let cc = std::process::Command::new("gcc")
        .args(["-static", "-O1", "-o"])
        .arg(&out_file)
        .arg(&c_file)
        .output()
        .expect("run gcc");
    assert_ok(&cc, "gcc -static");
    out_file
}

const CLONE3_PROBE: &str = "#include <errno.h>\n#include <stdio.h>\n#include <unistd.h>\n#include <sys/syscall.h>\n\
int main(void){long r=syscall(435, 0, 0); printf(\"%ld %d\\n\", r, r < 0 ? errno : 0); return 0;}\n";

/// Docker's defaults: with the default profile, mount is refused even to a
/// process holding CAP_SYS_ADMIN, clone3 answers ENOSYS, and a profile made
/// for CAP_SYS_ADMIN lets mount through.
#[test]
fn default_seccomp_profile_is_equal_in_effect() {
    use skiff_runtime::security_defaults as d;
    let dir = tempfile::tempdir().expect("tempdir");
    let probe = compile_probe(dir.path(), "clone3", CLONE3_PROBE);
    let run = |name: &str, profile_caps: &[&str]| {
        let bundle = Bundle::new();
        fs::copy(&probe, bundle.rootfs().join("bin/clone3")).expect("copy probe");
        let mut caps: Vec<&str> = d::CAPABILITIES.to_vec();
        caps.push("CAP_SYS_ADMIN");
        let profile = serde_json::to_value(d::seccomp(profile_caps)).unwrap();
        let bundle = bundle.capabilities(&caps).edit(|v| {
            v["linux"]["seccomp"] = profile;
            v["linux"]["maskedPaths"] = serde_json::json!(d::MASKED_PATHS);
            v["linux"]["readonlyPaths"] = serde_json::json!(d::READONLY_PATHS);
            v["process"]["noNewPrivileges"] = serde_json::json!(false);
        });
        sh_output(
            name,
            bundle,
            "mount -t tmpfs none /tmp 2>&1; echo mount=$?; /bin/clone3",
        )
    };
    let plain = run("seccomp-default", &d::CAPABILITIES);
    assert!(
        !plain.contains("mount=0"),
        "mount got through the default profile: {plain}"
    );
    assert!(
        plain.contains("permission denied") || plain.contains("not permitted"),
        "{plain}"
    );
    assert!(
        plain.trim_end().ends_with("-1 38"),
        "clone3 did not answer ENOSYS: {plain}"
    );
    let mut admin: Vec<&str> = d::CAPABILITIES.to_vec();
    admin.push("CAP_SYS_ADMIN");
    let with_admin = run("seccomp-admin", &admin);
    assert!(with_admin.contains("mount=0"), "{with_admin}");
    assert!(!with_admin.trim_end().ends_with("-1 38"), "{with_admin}");
}
