//! The engine's commands on a container's insides and on skiff as a whole:
//! top, stats, cp (both ways, running and stopped, symlink escapes), export,
//! update, system df and prune, info, version, completion; and bad input.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use serde_json::Value;
use skiff_e2e::{cgroup_limit, eventually, Skiff};

/// Removes its containers (`rm -f`) when the test ends, even by panic.
struct Containers<'a> {
    skiff: &'a Skiff,
    names: Vec<String>,
}

impl<'a> Containers<'a> {
    fn new(skiff: &'a Skiff) -> Self {
        Containers {
            skiff,
            names: Vec::new(),
        }
    }

    /// `run -d --name NAME FLAGS... busybox sh -c SCRIPT`, once it runs.
    fn detached(&mut self, name: &str, flags: &[&str], script: &str) {
        let mut args = vec!["run", "-d", "--name", name];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "sh", "-c", script]);
        self.names.push(name.to_string());
        self.skiff.run(&args).ok();
    }

    /// `run --name NAME busybox sh -c SCRIPT` in the foreground.
    fn ran(&mut self, name: &str, script: &str) {
        self.names.push(name.to_string());
        self.skiff
            .run(&["run", "--name", name, "busybox", "sh", "-c", script])
            .ok();
    }
}

impl Drop for Containers<'_> {
    fn drop(&mut self) {
        for name in &self.names {
            self.skiff.run(&["rm", "-f", name]);
        }
    }
}

fn inspect(skiff: &Skiff, name: &str) -> Value {
    let ran = skiff.run(&["inspect", name]);
    ran.ok();
    serde_json::from_str::<Value>(&ran.stdout).expect("JSON")[0].clone()
}

fn exec(skiff: &Skiff, name: &str, script: &str) -> String {
    let ran = skiff.run(&["exec", name, "sh", "-c", script]);
    ran.ok();
    ran.stdout
}

/// Waits until `path` exists in running container `name`.
fn wait_for_file(skiff: &Skiff, name: &str, path: &str) {
    eventually(path, || {
        skiff.run(&["exec", name, "test", "-e", path]).code == Some(0)
    });
}

fn path_arg(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

#[test]
fn top_shows_the_containers_processes() {
    let skiff = Skiff::with_busybox();
    let mut c = Containers::new(&skiff);
    c.detached("topped", &[], "sleep 1234 & sleep 600");
    eventually("both sleeps run", || {
        skiff.run(&["top", "topped"]).stdout.contains("sleep 1234")
    });
    let top = skiff.run(&["top", "topped"]);
    top.ok().stdout_has("PID").stdout_has("sleep 600");
    assert!(top.stdout.lines().count() >= 3, "{}", top.stdout);
    skiff.run(&["stop", "-t", "0", "topped"]).ok();
    let stopped = skiff.run(&["top", "topped"]);
    stopped.expect_code(125);
    assert!(stopped.stderr.contains("not running"), "{}", stopped.stderr);
}

#[test]
fn stats_shows_the_memory_limit() {
    let skiff = Skiff::with_busybox();
    let mut c = Containers::new(&skiff);
    c.detached("measured", &["--memory", "32m"], "sleep 600");
    let named = skiff.run(&["stats", "--no-stream", "measured"]);
    named
        .ok()
        .stdout_has("MEM USAGE / LIMIT")
        .stdout_has("measured")
        .stdout_has("/ 32MiB")
        .stdout_has("--");
    skiff
        .run(&["stats", "--no-stream"])
        .ok()
        .stdout_has("measured");
}

/// Copies in and out of container `name`, into host directory `host`,
/// with files and directories named after `tag`; checks the host side.
fn copy_both_ways(skiff: &Skiff, name: &str, host: &Path, tag: &str) {
    fs::create_dir_all(host).unwrap();
    let out = host.join("f");
    skiff
        .run(&["cp", &format!("{name}:/data/sub/f"), path_arg(&out)])
        .ok();
    assert_eq!(fs::read_to_string(&out).unwrap(), "inside\n");
    assert_eq!(fs::metadata(&out).unwrap().mode() & 0o777, 0o640);
    // Into an existing directory: the directory goes inside it.
    skiff
        .run(&["cp", &format!("{name}:/data"), path_arg(host)])
        .ok();
    let link = host.join("data/sub/link");
    assert_eq!(fs::read_link(&link).unwrap(), Path::new("f"));
    assert_eq!(
        fs::read_to_string(host.join("data/sub/f")).unwrap(),
        "inside\n"
    );
    let file = host.join(format!("{tag}-file"));
    fs::write(&file, format!("{tag} file\n")).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o751)).unwrap();
    skiff
        .run(&["cp", path_arg(&file), &format!("{name}:/data/")])
        .ok();
    let dir = host.join(format!("{tag}-dir"));
    fs::create_dir_all(dir.join("deep")).unwrap();
    fs::write(dir.join("deep/g"), "deep\n").unwrap();
    // To a new name: the directory becomes it.
    skiff
        .run(&["cp", path_arg(&dir), &format!("{name}:/data/{tag}-copy")])
        .ok();
}

fn check_copied_in(skiff: &Skiff, name: &str, tag: &str) {
    let seen = exec(
        skiff,
        name,
        &format!("cat /data/{tag}-file /data/{tag}-copy/deep/g; stat -c %a:%u /data/{tag}-file"),
    );
    assert_eq!(seen, format!("{tag} file\ndeep\n751:0\n"));
}

#[test]
fn cp_both_ways_running_and_stopped() {
    let skiff = Skiff::with_busybox();
    let mut c = Containers::new(&skiff);
    let script = "mkdir -p /data/sub; echo inside > /data/sub/f; chmod 640 /data/sub/f; \
                  ln -sf f /data/sub/link; sleep 600";
    c.detached("copier", &[], script);
    wait_for_file(&skiff, "copier", "/data/sub/link");
    copy_both_ways(&skiff, "copier", &skiff.dir().join("running"), "hot");
    check_copied_in(&skiff, "copier", "hot");

    skiff.run(&["stop", "-t", "0", "copier"]).ok();
    copy_both_ways(&skiff, "copier", &skiff.dir().join("stopped"), "cold");
    let id = inspect(&skiff, "copier")["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&id),
        "the stopped container's root was unmounted"
    );
    skiff.run(&["start", "copier"]).ok();
    wait_for_file(&skiff, "copier", "/data/sub/link");
    check_copied_in(&skiff, "copier", "cold");

    // -a keeps owners; without it what is copied in belongs to root.
    let owned = skiff.dir().join("owned");
    fs::write(&owned, "mine\n").unwrap();
    std::os::unix::fs::chown(&owned, Some(1234), Some(5678)).unwrap();
    skiff
        .run(&["cp", "-a", path_arg(&owned), "copier:/tmp/kept"])
        .ok();
    skiff
        .run(&["cp", path_arg(&owned), "copier:/tmp/root"])
        .ok();
    let owners = exec(&skiff, "copier", "stat -c %u:%g /tmp/kept /tmp/root");
    assert_eq!(owners, "1234:5678\n0:0\n");
}

#[test]
fn cp_cannot_escape_through_symlinks() {
    let skiff = Skiff::with_busybox();
    let mut c = Containers::new(&skiff);
    let script = "ln -s /etc /esc; ln -s /etc/passwd /pw; ln -s ../../../../.. /up; sleep 600";
    c.detached("escaper", &[], script);
    wait_for_file(&skiff, "escaper", "/up");
    let host_passwd = fs::read_to_string("/etc/passwd").unwrap();
    let out = skiff.dir().join("out");
    fs::create_dir(&out).unwrap();

    // Reading: links resolve inside the container's root.
    skiff
        .run(&["cp", "escaper:/esc/passwd", path_arg(&out.join("p"))])
        .ok();
    let read = fs::read_to_string(out.join("p")).unwrap();
    assert!(read.contains("nobody:x:65534"), "{read}");
    assert_ne!(read, host_passwd);
    skiff
        .run(&["cp", "escaper:/up/etc/passwd", path_arg(&out.join("u"))])
        .ok();
    assert_eq!(fs::read_to_string(out.join("u")).unwrap(), read);
    // The last name is a link: it is copied as a link, not read through.
    skiff
        .run(&["cp", "escaper:/pw", path_arg(&out.join("pw"))])
        .ok();
    assert_eq!(
        fs::read_link(out.join("pw")).unwrap(),
        Path::new("/etc/passwd")
    );

    // Writing: through a link on the way, into the container's /etc.
    let unique = format!("skiff-e2e-cp-{}", std::process::id());
    let file = skiff.dir().join("payload");
    fs::write(&file, "payload\n").unwrap();
    for dest in [format!("/esc/{unique}"), format!("/up/etc/{unique}-up")] {
        skiff
            .run(&["cp", path_arg(&file), &format!("escaper:{dest}")])
            .ok();
    }
    skiff
        .run(&[
            "cp",
            path_arg(&file),
            &format!("escaper:../../../tmp/{unique}"),
        ])
        .ok();
    for host in [
        format!("/etc/{unique}"),
        format!("/etc/{unique}-up"),
        format!("/tmp/{unique}"),
    ] {
        assert!(!Path::new(&host).exists(), "{host} was written on the host");
    }
    let inside = exec(
        &skiff,
        "escaper",
        &format!("cat /etc/{unique} /etc/{unique}-up /tmp/{unique}"),
    );
    assert_eq!(inside, "payload\n".repeat(3));
    // A link at the destination name is replaced, not written through.
    skiff.run(&["cp", path_arg(&file), "escaper:/pw"]).ok();
    assert_eq!(
        exec(&skiff, "escaper", "cat /pw; test -L /pw || echo file"),
        "payload\nfile\n"
    );
    assert!(exec(&skiff, "escaper", "cat /etc/passwd").contains("nobody:x:65534"));
    assert_eq!(fs::read_to_string("/etc/passwd").unwrap(), host_passwd);
    // A directory over a link is refused rather than followed.
    let dir = skiff.dir().join("dir");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join(&unique), "x").unwrap();
    let refused = skiff.run(&["cp", path_arg(&dir), "escaper:/esc"]);
    refused.expect_code(125);
    assert!(
        refused.stderr.contains("non-directory"),
        "{}",
        refused.stderr
    );
    assert!(!Path::new("/etc").join(&unique).exists());
}

#[test]
fn cp_bad_input() {
    let skiff = Skiff::with_busybox();
    let mut c = Containers::new(&skiff);
    c.ran("target", "true");
    let file = skiff.dir().join("file");
    fs::write(&file, "x").unwrap();
    let out = skiff.dir().display().to_string();
    skiff.expect_failures(&[
        (vec!["cp", "a", "b"], "one side must be in a container"),
        (vec!["cp", "target:/x", "target:/y"], "between containers"),
        (vec!["cp", "target:", &out], "give a path after target:"),
        (
            vec!["cp", "target:/missing", &out],
            "no such file or directory",
        ),
        (
            vec!["cp", "/no/such/file", "target:/tmp"],
            "no such file or directory",
        ),
        (
            vec!["cp", path_arg(&file), "target:/no/such/dir/"],
            "no such directory",
        ),
        (
            vec!["cp", path_arg(&file), "target:/no/such/name"],
            "no such directory",
        ),
        (vec!["cp", "nosuch:/etc", &out], "no such container"),
    ]);
}

#[test]
fn export_writes_the_merged_root() {
    let skiff = Skiff::with_busybox();
    let mut c = Containers::new(&skiff);
    c.ran("exported", "echo written > /made-here; rm /etc/group");
    let file = skiff.dir().join("export.tar");
    skiff
        .run(&["export", "-o", path_arg(&file), "exported"])
        .ok();
    let mut archive = tar::Archive::new(fs::File::open(&file).unwrap());
    let mut names = Vec::new();
    let mut made = String::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().display().to_string();
        if path == "made-here" {
            std::io::Read::read_to_string(&mut entry, &mut made).unwrap();
        }
        names.push(path);
    }
    assert!(names.iter().any(|n| n == "bin/busybox"), "{names:?}");
    assert!(names.iter().all(|n| !n.contains(".wh.")), "{names:?}");
    assert!(!names.iter().any(|n| n == "etc/group"), "{names:?}");
    assert_eq!(made, "written\n");
    // On standard output, when it is not a terminal.
    let piped = skiff.run(&["export", "exported"]);
    piped.ok();
    assert!(piped.stdout.contains("made-here"));
    let terminal = skiff.run_on_terminal(&["export", "exported"]);
    assert_eq!(terminal.code, Some(125), "{terminal:?}");
    assert!(terminal.stdout.contains("terminal"), "{}", terminal.stdout);
    skiff.expect_failures(&[(vec!["export", "nosuch"], "no such container")]);
}

#[test]
fn update_changes_a_running_container() {
    let skiff = Skiff::with_busybox();
    let mut c = Containers::new(&skiff);
    c.detached("updated", &["--memory", "32m"], "sleep 600");
    let pid = inspect(&skiff, "updated")["State"]["Pid"].as_i64().unwrap() as i32;
    assert_eq!(cgroup_limit(pid, "memory"), (32u64 << 20).to_string());
    skiff
        .run(&[
            "update",
            "--memory",
            "64m",
            "--pids-limit",
            "50",
            "--restart",
            "on-failure:2",
            "updated",
        ])
        .ok()
        .stdout_has("updated");
    assert_eq!(cgroup_limit(pid, "memory"), (64u64 << 20).to_string());
    assert_eq!(cgroup_limit(pid, "pids"), "50");
    let host = &inspect(&skiff, "updated")["HostConfig"];
    assert_eq!(host["Memory"], 64 << 20);
    assert_eq!(host["PidsLimit"], 50);
    assert_eq!(host["RestartPolicy"]["Name"], "on-failure");
    // The next start keeps them.
    skiff.run(&["restart", "-t", "0", "updated"]).ok();
    let pid = inspect(&skiff, "updated")["State"]["Pid"].as_i64().unwrap() as i32;
    assert_eq!(cgroup_limit(pid, "memory"), (64u64 << 20).to_string());
    skiff.expect_failures(&[
        (
            vec!["update", "--memory", "64m", "nosuch"],
            "no such container",
        ),
        (vec!["update", "updated"], "nothing to update"),
        (
            vec!["update", "--memory", "lots", "updated"],
            "invalid size",
        ),
        (
            vec!["update", "--restart", "sometimes", "updated"],
            "invalid --restart",
        ),
    ]);
}

#[test]
fn system_df_and_prune() {
    let skiff = Skiff::with_busybox();
    let mut c = Containers::new(&skiff);
    c.ran("stopped", "echo data > /data");
    c.detached("running", &[], "sleep 600");
    // A second image with no name: dangling.
    let layer = skiff.dir().join("other");
    fs::create_dir(&layer).unwrap();
    fs::write(layer.join("file"), "other image\n").unwrap();
    let tar = skiff.dir().join("other.tar");
    skiff_e2e::tar_dir(&layer, &tar);
    skiff.run(&["import", path_arg(&tar)]).ok();
    skiff.run(&["volume", "create", "unused"]).ok();

    let df = skiff.run(&["system", "df"]);
    df.ok().stdout_has("RECLAIMABLE");
    let row = |kind: &str| -> Vec<String> {
        let line = df.stdout.lines().find(|l| l.starts_with(kind)).unwrap();
        line[kind.len()..]
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(row("Images")[..2], ["2", "1"], "{}", df.stdout);
    assert_eq!(row("Containers")[..2], ["2", "1"], "{}", df.stdout);
    assert_eq!(row("Local Volumes")[..2], ["1", "0"], "{}", df.stdout);

    let pruned = skiff.run(&["system", "prune", "-f"]);
    pruned
        .ok()
        .stdout_has("Deleted Containers:")
        .stdout_has("Deleted Images:")
        .stdout_has("Total reclaimed space:");
    assert_eq!(skiff.run(&["ps", "-aq"]).stdout.lines().count(), 1);
    assert_eq!(skiff.run(&["images", "-q"]).stdout.lines().count(), 1);
    skiff.run(&["volume", "ls", "-q"]).ok().stdout_has("unused");
    skiff
        .run(&["system", "prune", "-f", "--volumes"])
        .ok()
        .stdout_has("Deleted Volumes:");
    assert_eq!(skiff.run(&["volume", "ls", "-q"]).stdout.trim(), "");
    skiff.run(&["inspect", "running"]).ok();
    // -a removes every image no container uses; the one in use keeps its name.
    skiff.run(&["system", "prune", "-f", "-a"]).ok();
    skiff.run(&["images"]).ok().stdout_has("busybox");
}

#[test]
fn info_version_and_completion() {
    let skiff = Skiff::with_busybox();
    let info = skiff.run(&["info"]);
    info.ok()
        .stdout_has("Images: 1")
        .stdout_has("Running: 0")
        .stdout_has("Cgroup Version: ")
        .stdout_has("Kernel Version: ");
    skiff.run(&["system", "info"]).ok().stdout_has("Root Dir:");
    skiff
        .run(&["version"])
        .ok()
        .stdout_has("OCI runtime spec: 1.")
        .stdout_has(env!("CARGO_PKG_VERSION"));
    for shell in ["bash", "zsh", "fish"] {
        skiff
            .run(&["completion", shell])
            .ok()
            .stdout_has("skiff")
            .stdout_has("export");
    }
    skiff.expect_failures(&[(vec!["completion", "cmd.exe"], "invalid value")]);
}
