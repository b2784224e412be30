//! The engine run by an ordinary user ("rootless"): each test makes a user of
//! its own with `useradd` (which gives it 65536 subordinate uids and gids),
//! and drives `skiff` as that user through `setpriv`, with its store in its
//! home (`~/.local/share/skiff`) and its run state in its `XDG_RUNTIME_DIR`.
//! The user, its home, its subordinate ranges and its processes are removed
//! afterwards, even when the test fails.

use std::fs;
use std::os::unix::fs::{chown, FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use skiff_e2e::registry::Registry;
use skiff_e2e::{
    account_tool, assert_ok, busybox_rootfs, cgroup_dirs, free_port, http_get, run, skiff_binary,
    tar_dir, text, wait_http, Input, Ran, Skiff, User, INDEX_PAGE,
};

/// `skiff args...` as `user`, with `env` added to its clean environment.
fn skiff_as(user: &User, env: &[(&str, &str)], args: &[&str]) -> Ran {
    let mut cmd = user.command(true, &skiff_binary(), args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd, Input::Null)
}

/// `skiff args...` as `user`, which must succeed; its stdout.
#[track_caller]
fn ok(user: &User, args: &[&str]) -> String {
    let ran = skiff_as(user, &[], args);
    ran.ok();
    ran.stdout
}

/// The user's store and run state, where the engine puts them by default.
fn store(user: &User) -> PathBuf {
    user.home.join(".local/share/skiff")
}

/// A busybox root filesystem tarball in the user's home, whose `/var/www`
/// belongs to uid and gid 1000; imported as `busybox`.
fn import_busybox(user: &User) {
    let scratch = tempfile::tempdir().expect("temp dir");
    let rootfs = busybox_rootfs(scratch.path());
    let tar = user.home.join("rootfs.tar");
    tar_dir(&rootfs, &tar);
    // tar_dir writes every owner as 0: add an entry of uid 1000.
    let www = scratch.path().join("www");
    fs::create_dir_all(www.join("var/www")).expect("mkdir www");
    chown(www.join("var/www"), Some(1000), Some(1000)).expect("chown www");
    let out = Command::new("tar")
        .args(["--numeric-owner", "-C"])
        .arg(&www)
        .arg("-rf")
        .arg(&tar)
        .arg("./var/www")
        .output()
        .expect("tar -r");
    assert_ok(&out, "tar -r");
    chown(&tar, Some(user.uid), Some(user.gid)).expect("chown rootfs.tar");
    ok(user, &["import", tar.to_str().expect("utf-8"), "busybox"]);
}

/// Host mounts whose mount point is under the user's home.
fn mounts_under(dir: &Path) -> Vec<String> {
    let table = fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    let dir = dir.to_str().expect("utf-8");
    table
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(4)
                .is_some_and(|m| m.starts_with(dir))
        })
        .map(String::from)
        .collect()
}

/// Files the user owns in the host-wide places skiff uses as root.
fn files_outside(user: &User) -> Vec<String> {
    let out = Command::new("find")
        .args(["/run", "/var/lib", "/tmp", "/dev/shm", "-xdev", "-uid"])
        .arg(user.uid.to_string())
        .output()
        .expect("find");
    text(&out.stdout).lines().map(String::from).collect()
}

/// Asserts that the user has no mount under its home, no file in the
/// host-wide places, and no slirp4netns socket or pid file.
#[track_caller]
fn assert_left_nothing(user: &User) {
    assert!(mounts_under(&user.home).is_empty());
    let outside = files_outside(user);
    assert!(outside.is_empty(), "{outside:?}");
    let dir = user.xdg_runtime_dir().join("skiff/slirp4netns");
    let slirp: Vec<PathBuf> = fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(slirp.is_empty(), "{slirp:?}");
}

#[test]
fn import_and_run_as_root_inside_the_users_namespace() {
    let user = User::new("eng");
    let (subuid, count) = user.subordinate("/etc/subuid");
    let (subgid, _) = user.subordinate("/etc/subgid");
    import_busybox(&user);
    // Layer files are owned by the ids they have inside, as the host sees them.
    let layers = store(&user).join("image/layers");
    let layer = fs::read_dir(&layers)
        .expect("layers")
        .flatten()
        .find(|e| e.path().is_dir())
        .expect("one layer")
        .path();
    let meta = |p: &Path| fs::metadata(p).expect("stat");
    let www = meta(&layer.join("diff/var/www"));
    assert_eq!((www.uid(), www.gid()), (subuid + 999, subgid + 999));
    let bin = meta(&layer.join("diff/bin/busybox"));
    assert_eq!((bin.uid(), bin.gid()), (user.uid, user.gid));

    let id = ok(&user, &["run", "--rm", "busybox", "id"]);
    assert!(id.starts_with("uid=0(root) gid=0(root)"), "{id}");
    let map = ok(
        &user,
        &["run", "--rm", "busybox", "cat", "/proc/self/uid_map"],
    );
    let rows: Vec<Vec<&str>> = map
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let (uid, sub, n) = (user.uid.to_string(), subuid.to_string(), count.to_string());
    assert_eq!(rows, vec![vec!["0", &uid, "1"], vec!["1", &sub, &n]]);

    // A file written to a bind-mounted directory belongs to the user, or to
    // the subordinate id that the container's uid 1000 is.
    let data = user.home.join("data");
    fs::create_dir(&data).expect("mkdir data");
    chown(&data, Some(user.uid), Some(user.gid)).expect("chown data");
    let bind = format!("{}:/data", data.display());
    let script = "echo hi > /data/f && mkdir /data/d && chown 1000:1000 /data/d";
    ok(
        &user,
        &["run", "--rm", "-v", &bind, "busybox", "sh", "-c", script],
    );
    let f = meta(&data.join("f"));
    assert_eq!((f.uid(), f.gid()), (user.uid, user.gid));
    let d = meta(&data.join("d"));
    assert_eq!((d.uid(), d.gid()), (subuid + 999, subgid + 999));

    // --network none: only lo; the default (slirp4netns) lo and tap0;
    // host sees the host's links.
    let links = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["run", "--rm"];
        all.extend_from_slice(args);
        all.extend(["busybox", "ls", "/sys/class/net"]);
        let mut names: Vec<String> = ok(&user, &all)
            .split_whitespace()
            .map(String::from)
            .collect();
        names.sort();
        names
    };
    assert_eq!(links(&["--network", "none"]), ["lo"]);
    assert_eq!(links(&[]), ["lo", "tap0"]);
    let mut host: Vec<String> = fs::read_dir("/sys/class/net")
        .expect("host links")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    host.sort();
    let seen = links(&["--network", "host"]);
    assert!(
        seen.contains(&"lo".to_string()) && seen.len() > 1,
        "{seen:?}"
    );
    assert!(
        seen.iter().all(|l| host.contains(l)),
        "{seen:?} vs {host:?}"
    );

    // Removing the image removes layers whose files belong to subordinate ids.
    ok(&user, &["rmi", "busybox"]);
    assert_eq!(fs::read_dir(&layers).expect("layers").count(), 0);
    assert!(user.xdg_runtime_dir().join("skiff").is_dir());
    assert_left_nothing(&user);
}

#[test]
fn detached_logs_exec_stop_and_rm() {
    let user = User::new("det");
    import_busybox(&user);
    let script = "echo started; trap 'exit 3' TERM; while true; do sleep 0.1; done";
    let id = ok(
        &user,
        &["run", "-d", "--name", "web", "busybox", "sh", "-c", script],
    );
    let id = id.trim();
    skiff_e2e::wait_until("the container's output", || {
        skiff_as(&user, &[], &["logs", "web"])
            .stdout
            .contains("started")
    });
    let ps = ok(&user, &["ps"]);
    assert!(ps.contains("web") && ps.contains("Up"), "{ps}");
    let inside = ok(&user, &["exec", "web", "id"]);
    assert!(inside.starts_with("uid=0(root)"), "{inside}");
    let nobody = ok(&user, &["exec", "-u", "nobody", "web", "id", "-u"]);
    assert_eq!(nobody.trim(), "65534");
    // No cgroup was made for it, and its root is mounted only in its own
    // mount namespace.
    assert!(cgroup_dirs(id).is_empty(), "{:?}", cgroup_dirs(id));
    assert!(mounts_under(&user.home).is_empty());

    ok(&user, &["stop", "web"]);
    let state = ok(
        &user,
        &[
            "inspect",
            "--format",
            "{{.State.Status}} {{.State.ExitCode}}",
            "web",
        ],
    );
    assert_eq!(state.trim(), "exited 3");
    ok(&user, &["rm", "web"]);
    assert!(ok(&user, &["ps", "-aq"]).trim().is_empty());
    let containers = store(&user).join("containers");
    let left: Vec<_> = fs::read_dir(&containers)
        .expect("containers")
        .flatten()
        .filter(|e| e.file_name() != "names")
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert_left_nothing(&user);
}

#[test]
fn pull_from_a_local_registry() {
    let registry = Registry::start();
    let root = Skiff::with_busybox();
    let name = format!("{}/rootless/busybox:1", registry.addr());
    root.run(&["tag", "busybox", &name]).ok();
    root.run(&["push", &name]).ok();
    let user = User::new("pull");
    ok(&user, &["pull", &name]);
    let id = ok(&user, &["run", "--rm", &name, "id", "-u"]);
    assert_eq!(id.trim(), "0");
}

/// Runs `skiff import` as `user` with `env`: it must fail, say `want`, and
/// leave no store behind.
#[track_caller]
fn refused(user: &User, env: &[(&str, &str)], want: &[&str]) {
    let tar = user.home.join("none.tar");
    let ran = skiff_as(user, env, &["import", tar.to_str().expect("utf-8"), "x"]);
    assert_eq!(ran.code, Some(125), "{}", ran.stderr);
    for w in want {
        assert!(ran.stderr.contains(w), "stderr lacks {w:?}: {}", ran.stderr);
    }
    assert!(!store(user).exists(), "a store was made");
    assert!(!user.xdg_runtime_dir().join("skiff").exists());
}

#[test]
fn what_a_user_lacks_is_named_with_the_fix() {
    let user = User::new("bad");
    refused(
        &user,
        &[("SKIFF_NEWUIDMAP", "/nonexistent/newuidmap")],
        &["newuidmap is not installed", "uidmap"],
    );
    let (start, count) = user.subordinate("/etc/subuid");
    let range = |from: u32, n: u32| format!("{from}-{}", from + n - 1);
    let usermod = |args: &[&str]| {
        let mut all = args.to_vec();
        all.push(&user.name);
        assert_ok(&account_tool("usermod", &all), "usermod");
    };
    usermod(&["--del-subuids", &range(start, count)]);
    refused(
        &user,
        &[],
        &[
            "no subordinate uids in /etc/subuid",
            "usermod --add-subuids",
        ],
    );
    usermod(&["--add-subuids", &range(start, 1000)]);
    refused(&user, &[], &["1000 subordinate uids", "too few", "65536"]);
    // With its range back, what an ordinary user's containers cannot have
    // is refused before anything is recorded.
    usermod(&["--del-subuids", &range(start, 1000)]);
    usermod(&["--add-subuids", &range(start, count)]);
    import_busybox(&user);
    for (flags, want) in [
        (["--network", "bridge"], "bridge networks need root"),
        (["--runtime", "/usr/sbin/runc"], "skiff's own runtime"),
    ] {
        let mut args = vec!["create"];
        args.extend(flags);
        args.extend(["busybox", "true"]);
        let ran = skiff_as(&user, &[], &args);
        assert_eq!(ran.code, Some(125), "{args:?}");
        assert!(ran.stderr.contains(want), "{args:?}: {}", ran.stderr);
    }
    assert!(ok(&user, &["ps", "-aq"]).trim().is_empty());
    let ran = skiff_as(&user, &[], &["network", "create", "mine"]);
    assert!(
        ran.stderr.contains("bridge networks need root"),
        "{}",
        ran.stderr
    );
    assert!(ok(&user, &["network", "ls", "-q"]).trim().is_empty());
}

/// The test user's slirp4netns processes.
fn slirp_processes(user: &User) -> Vec<i32> {
    user.processes_named("slirp4netns")
}

/// The parent of process `pid`.
fn parent(pid: i32) -> i32 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    stat[stat.rfind(')').expect("comm") + 2..]
        .split_whitespace()
        .nth(1)
        .expect("ppid")
        .parse()
        .expect("a number")
}

#[test]
fn slirp4netns_gives_a_network_of_its_own_and_published_ports() {
    let user = User::new("net");
    import_busybox(&user);
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    let args = ["run", "-d", "--name", "web", "-p", &publish, "busybox"];
    let mut args = args.to_vec();
    args.extend(["httpd", "-f", "-p", "80", "-h", "/var/www"]);
    ok(&user, &args);
    // The host's loopback reaches busybox httpd in the container.
    let page = wait_http(port, "/", INDEX_PAGE);
    assert!(page.starts_with("HTTP/1."), "{page}");
    // Its own namespace: tap0 with slirp4netns's address and a default route
    // through it, and slirp4netns's DNS forwarder first in resolv.conf.
    let addr = ok(&user, &["exec", "web", "ip", "-4", "addr", "show", "tap0"]);
    assert!(addr.contains("inet 10.0.2.100/24"), "{addr}");
    let routes = ok(&user, &["exec", "web", "ip", "route"]);
    assert!(
        routes
            .lines()
            .any(|l| l.starts_with("default via 10.0.2.2 dev tap0")),
        "{routes}"
    );
    let resolv = ok(&user, &["exec", "web", "cat", "/etc/resolv.conf"]);
    assert_eq!(
        resolv.lines().next(),
        Some("nameserver 10.0.2.3"),
        "{resolv}"
    );
    // The host's loopback is closed to it: 10.0.2.2 is the host, but
    // 127.0.0.1:PORT there (its own published port) does not answer.
    let get = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 10.0.2.2 {port}");
    let ran = skiff_as(&user, &[], &["exec", "web", "sh", "-c", &get]);
    assert_ne!(ran.code, Some(0), "{}", ran.stdout);
    assert!(ran.stderr.contains("unreachable"), "{}", ran.stderr);
    let ports = ok(&user, &["port", "web"]);
    assert_eq!(ports.trim(), format!("80/tcp -> 127.0.0.1:{port}"));
    let network = ok(
        &user,
        &["inspect", "--format", "{{.HostConfig.NetworkMode}}", "web"],
    );
    assert_eq!(network.trim(), "slirp4netns");
    // One slirp4netns, a child of the container's monitor.
    let slirps = slirp_processes(&user);
    assert_eq!(slirps.len(), 1, "{slirps:?}");
    let init: i32 = ok(&user, &["inspect", "--format", "{{.State.Pid}}", "web"])
        .trim()
        .parse()
        .expect("a pid");
    assert_eq!(
        parent(slirps[0]),
        parent(init),
        "slirp4netns and init share the monitor"
    );

    ok(&user, &["rm", "-f", "web"]);
    skiff_e2e::wait_until("slirp4netns to end", || slirp_processes(&user).is_empty());
    assert!(http_get(port, "/").is_none_or(|r| r.is_empty()));
    assert_left_nothing(&user);
}

#[test]
fn bad_published_ports_are_refused_with_nothing_left() {
    let user = User::new("port");
    import_busybox(&user);
    for (spec, want) in [
        ("80:80:80", "invalid port spec"),
        ("127.0.0.1:0x:80", "not a port number"),
        ("[::1]:8080:80", "IPv4 host addresses only"),
    ] {
        let ran = skiff_as(&user, &[], &["create", "-p", spec, "busybox", "true"]);
        assert_eq!(ran.code, Some(125), "{spec}: {}", ran.stderr);
        assert!(ran.stderr.contains(want), "{spec}: {}", ran.stderr);
    }
    let ran = skiff_as(
        &user,
        &[("SKIFF_SLIRP4NETNS", "/nonexistent/slirp4netns")],
        &["create", "busybox", "true"],
    );
    assert_eq!(ran.code, Some(125), "{}", ran.stderr);
    assert!(ran.stderr.contains("SKIFF_SLIRP4NETNS"), "{}", ran.stderr);
    assert!(ok(&user, &["ps", "-aq"]).trim().is_empty());

    // A host port something else listens on: the start fails, saying so,
    // and leaves no slirp4netns, socket or pid file.
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = held.local_addr().expect("addr").port();
    let publish = format!("127.0.0.1:{port}:80");
    let ran = skiff_as(
        &user,
        &[],
        &[
            "run", "-d", "--name", "busy", "-p", &publish, "busybox", "sleep", "60",
        ],
    );
    assert_eq!(ran.code, Some(125), "{}", ran.stderr);
    assert!(
        ran.stderr.contains(&format!(
            "127.0.0.1:{port}/tcp is already in use on the host"
        )),
        "{}",
        ran.stderr
    );
    assert!(slirp_processes(&user).is_empty());
    assert_left_nothing(&user);
    let state = ok(&user, &["inspect", "--format", "{{.State.Status}}", "busy"]);
    assert_eq!(state.trim(), "exited");
    ok(&user, &["rm", "busy"]);
    assert!(ok(&user, &["ps", "-aq"]).trim().is_empty());
    assert_left_nothing(&user);
}

/// The storage option that has fuse-overlayfs mount containers' roots.
const FUSE: &str = "overlay.mount_program=/usr/bin/fuse-overlayfs";

/// The test user's fuse-overlayfs processes.
fn fuse_processes(user: &User) -> Vec<i32> {
    user.processes_named("fuse-overlayfs")
}

/// Which namespace of `kind` (`pid`, `mnt`, `user`) process `pid` is in.
fn namespace(pid: &str, kind: &str) -> PathBuf {
    fs::read_link(format!("/proc/{pid}/ns/{kind}")).expect("a namespace link")
}

/// Container `name`'s init pid, as `inspect` has it.
fn init_pid(user: &User, env: &[(&str, &str)], name: &str) -> i32 {
    let ran = skiff_as(user, env, &["inspect", "--format", "{{.State.Pid}}", name]);
    ran.stdout.trim().parse().expect("a pid")
}

#[test]
fn fuse_overlayfs_mounts_the_root_when_asked() {
    let user = User::new("fuse");
    let (subuid, _) = user.subordinate("/etc/subuid");
    let (subgid, _) = user.subordinate("/etc/subgid");
    import_busybox(&user);
    let root_mount = "id -u; awk '$5 == \"/\"' /proc/self/mountinfo";
    let out = ok(
        &user,
        &[
            "--storage-opt",
            FUSE,
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            root_mount,
        ],
    );
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("0"), "{out}");
    let root = lines.next().unwrap_or_default();
    assert!(
        root.contains(" - fuse.fuse-overlayfs fuse-overlayfs "),
        "{out}"
    );
    skiff_e2e::wait_until("fuse-overlayfs to end", || fuse_processes(&user).is_empty());

    // What the container writes to its root lands in its upper directory,
    // owned by the host ids its owners map to.
    let write = "echo hi > /by-root && touch /by-1000 && chown 1000:1000 /by-1000 && rm /bin/true";
    let args = ["--storage-opt", FUSE, "run", "--name", "wr", "busybox"];
    let mut args = args.to_vec();
    args.extend(["sh", "-c", write]);
    ok(&user, &args);
    let id = ok(&user, &["inspect", "--format", "{{.Id}}", "wr"]);
    let upper = store(&user)
        .join("containers")
        .join(id.trim())
        .join("upper");
    let meta = |name: &str| fs::symlink_metadata(upper.join(name)).expect("stat in upper");
    assert_eq!(
        fs::read_to_string(upper.join("by-root")).expect("by-root"),
        "hi\n"
    );
    let by_root = meta("by-root");
    assert_eq!((by_root.uid(), by_root.gid()), (user.uid, user.gid));
    let by_1000 = meta("by-1000");
    assert_eq!((by_1000.uid(), by_1000.gid()), (subuid + 999, subgid + 999));
    // The removed file is hidden by an overlay whiteout, a device 0/0.
    let whiteout = meta("bin/true");
    assert!(whiteout.file_type().is_char_device() && whiteout.rdev() == 0);
    ok(&user, &["rm", "wr"]);
    assert!(!upper.exists());
    skiff_e2e::wait_until("fuse-overlayfs to end", || fuse_processes(&user).is_empty());
    assert_left_nothing(&user);
}

#[test]
fn fuse_overlayfs_serves_a_detached_container_from_outside_it() {
    let user = User::new("fusd");
    import_busybox(&user);
    let env = [("SKIFF_STORAGE_OPT", FUSE)];
    let script = "trap 'exit 3' TERM; while true; do sleep 0.1; done";
    let args = ["run", "-d", "--name", "bg", "busybox", "sh", "-c", script];
    skiff_as(&user, &env, &args).ok();
    let daemons = fuse_processes(&user);
    assert_eq!(daemons.len(), 1, "{daemons:?}");
    let daemon = daemons[0].to_string();
    let init = init_pid(&user, &env, "bg");
    // Adopted by the container's monitor; in the container's user
    // namespace, but in the host's pid and mount namespaces, so the
    // container neither sees it nor keeps it alive.
    assert_eq!(parent(daemons[0]), parent(init));
    let init = init.to_string();
    assert_eq!(namespace(&daemon, "user"), namespace(&init, "user"));
    assert_eq!(namespace(&daemon, "pid"), namespace("self", "pid"));
    assert_eq!(namespace(&daemon, "mnt"), namespace("self", "mnt"));
    assert_ne!(namespace(&init, "mnt"), namespace("self", "mnt"));
    let ps = skiff_as(&user, &env, &["exec", "bg", "ps", "-o", "comm"]);
    assert!(!ps.stdout.contains("fuse"), "{}", ps.stdout);
    let inside = skiff_as(&user, &env, &["exec", "bg", "id"]);
    assert!(
        inside.stdout.starts_with("uid=0(root)"),
        "{}",
        inside.stderr
    );
    let nobody = skiff_as(&user, &env, &["exec", "-u", "nobody", "bg", "id", "-u"]);
    assert_eq!(nobody.stdout.trim(), "65534", "{}", nobody.stderr);
    // The mount is the container's alone.
    assert!(mounts_under(&user.home).is_empty());

    skiff_as(&user, &env, &["stop", "bg"]).ok();
    let state = ok(
        &user,
        &[
            "inspect",
            "--format",
            "{{.State.Status}} {{.State.ExitCode}}",
            "bg",
        ],
    );
    assert_eq!(state.trim(), "exited 3");
    skiff_e2e::wait_until("fuse-overlayfs to end with the container", || {
        !Path::new(&format!("/proc/{daemon}")).exists()
    });
    // A restart gets a daemon of its own, which `rm -f` ends as well.
    skiff_as(&user, &env, &["start", "bg"]).ok();
    assert_eq!(fuse_processes(&user).len(), 1);
    skiff_as(&user, &env, &["rm", "-f", "bg"]).ok();
    skiff_e2e::wait_until("fuse-overlayfs to end", || fuse_processes(&user).is_empty());
    assert!(ok(&user, &["ps", "-aq"]).trim().is_empty());
    assert_left_nothing(&user);
}

#[test]
fn a_bad_mount_program_is_refused_with_nothing_made() {
    let user = User::new("fusb");
    for (option, want) in [
        (
            "overlay.mount_program=/nonexistent/fuse-overlayfs",
            "mount program /nonexistent/fuse-overlayfs: No such file or directory",
        ),
        (
            "overlay.mount_program=/etc/passwd",
            "mount program /etc/passwd: not an executable file",
        ),
        (
            "overlay.size=1g",
            "--storage-opt overlay.size=1g: unknown storage option",
        ),
    ] {
        let ran = skiff_as(&user, &[], &["--storage-opt", option, "ps"]);
        assert_eq!(ran.code, Some(125), "{option}: {}", ran.stderr);
        assert!(ran.stderr.contains(want), "{option}: {}", ran.stderr);
        assert!(!store(&user).exists(), "{option}: a store was made");
    }
    let ran = skiff_as(
        &user,
        &[],
        &["--storage-opt", "overlay.mount_program=/etc", "ps"],
    );
    assert!(
        ran.stderr.contains("Debian package fuse-overlayfs"),
        "{}",
        ran.stderr
    );
    // A program that fails to serve the root fails the run, and leaves no
    // process, mount or container behind.
    import_busybox(&user);
    let ran = skiff_as(
        &user,
        &[],
        &[
            "--storage-opt",
            "overlay.mount_program=/bin/false",
            "run",
            "--rm",
            "busybox",
            "true",
        ],
    );
    assert_eq!(ran.code, Some(125), "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("mount program /bin/false for the root filesystem failed"),
        "{}",
        ran.stderr
    );
    assert!(ok(&user, &["ps", "-aq"]).trim().is_empty());
    // So does `cp` into a stopped container, whose root the program would
    // serve in a helper's namespaces.
    ok(&user, &["create", "--name", "idle", "busybox", "true"]);
    let ran = skiff_as(
        &user,
        &[("SKIFF_STORAGE_OPT", "overlay.mount_program=/bin/false")],
        &["cp", "/etc/hostname", "idle:/hostname"],
    );
    assert_eq!(ran.code, Some(125), "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("mount program /bin/false for the root filesystem failed"),
        "{}",
        ran.stderr
    );
    ok(&user, &["rm", "idle"]);
    assert!(fuse_processes(&user).is_empty());
    assert_left_nothing(&user);
}

/// The names in the tar archive at `path`.
fn tar_names(path: &Path) -> Vec<String> {
    let out = Command::new("tar")
        .arg("-tf")
        .arg(path)
        .output()
        .expect("tar -t");
    assert_ok(&out, "tar -t");
    text(&out.stdout).lines().map(String::from).collect()
}

#[test]
fn cp_and_export_reach_a_users_container_stopped_or_running() {
    let user = User::new("cpx");
    import_busybox(&user);
    let file = |name: &str, data: &str| {
        let path = user.home.join(name);
        fs::write(&path, data).expect("write a host file");
        chown(&path, Some(user.uid), Some(user.gid)).expect("chown a host file");
        path.display().to_string()
    };
    let into = file("into", "from the host\n");
    let into_running = file("into-running", "while it runs\n");
    let home = user.home.display().to_string();
    for (name, env) in [
        ("native", None),
        ("fused", Some(("SKIFF_STORAGE_OPT", FUSE))),
    ] {
        let env: Vec<(&str, &str)> = env.into_iter().collect();
        let skiff = |args: &[&str]| {
            let ran = skiff_as(&user, &env, args);
            ran.ok();
            ran.stdout
        };
        let script = "cat /in; while true; do sleep 0.1; done";
        skiff(&["create", "--name", name, "busybox", "sh", "-c", script]);
        // Stopped (never started): its root is mounted in a helper's namespaces.
        skiff(&["cp", &into, &format!("{name}:/in")]);
        let passwd = format!("{home}/{name}-passwd");
        skiff(&["cp", &format!("{name}:/etc/passwd"), &passwd]);
        assert!(fs::read_to_string(&passwd)
            .expect("copied out")
            .starts_with("root:"));
        let stopped = user.home.join(format!("{name}-stopped.tar"));
        skiff(&["export", "-o", stopped.to_str().expect("utf-8"), name]);
        let names = tar_names(&stopped);
        assert!(
            names.iter().any(|n| n.trim_start_matches("./") == "in"),
            "{names:?}"
        );
        assert!(
            names.iter().any(|n| n.ends_with("bin/busybox")),
            "{names:?}"
        );
        let id = skiff(&["inspect", "--format", "{{.Id}}", name]);
        let upper = store(&user)
            .join("containers")
            .join(id.trim())
            .join("upper");
        let copied = fs::metadata(upper.join("in")).expect("the copy in the upper directory");
        assert_eq!((copied.uid(), copied.gid()), (user.uid, user.gid));
        assert!(mounts_under(&user.home).is_empty());

        // Running: through its own user namespace.
        skiff(&["start", name]);
        skiff_e2e::wait_until("the container's output", || {
            skiff_as(&user, &env, &["logs", name])
                .stdout
                .contains("from the host")
        });
        skiff(&["cp", &into_running, &format!("{name}:/in2")]);
        assert_eq!(skiff(&["exec", name, "cat", "/in2"]), "while it runs\n");
        let back = format!("{home}/{name}-in");
        skiff(&["cp", &format!("{name}:/in"), &back]);
        assert_eq!(
            fs::read_to_string(&back).expect("copied back"),
            "from the host\n"
        );
        let running = user.home.join(format!("{name}-running.tar"));
        skiff(&["export", "-o", running.to_str().expect("utf-8"), name]);
        let names = tar_names(&running);
        assert!(
            names.iter().any(|n| n.trim_start_matches("./") == "in2"),
            "{names:?}"
        );
        let missing = skiff_as(&user, &env, &["cp", &format!("{name}:/nowhere"), &back]);
        assert_eq!(missing.code, Some(125));
        assert!(
            missing.stderr.contains("no such file"),
            "{}",
            missing.stderr
        );
        skiff(&["rm", "-f", name]);
    }
    skiff_e2e::wait_until("fuse-overlayfs to end", || fuse_processes(&user).is_empty());
    assert_left_nothing(&user);
}
