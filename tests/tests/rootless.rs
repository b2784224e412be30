//! The runtime run by an ordinary user ("rootless"): each test makes a user of its
//! own with `useradd`, gives it a busybox bundle whose config is what `spec
//! --rootless` writes when that user runs it, and drives the runtime as that user
//! through `setpriv`. The user, its home, its state and its processes are removed
//! afterwards, even when the test fails.

use serde_json::{json, Value};
use skiff_e2e::{
    assert_ok, pid_alive, reap_children, runtime_binary, skip_skiff_checks, text, wait_until,
    Bundle, Runtime, User,
};
use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::{lchown, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

/// What the runtime's tests do as their user.
trait RuntimeUser {
    /// The runtime under test run as this user (with `XDG_RUNTIME_DIR`).
    fn runtime<S: AsRef<OsStr>>(&self, rt: &Runtime, args: &[S]) -> Output;
    /// A busybox bundle the user owns, its config.json written by `spec
    /// --rootless` run as the user, then made non-interactive.
    fn bundle(&self, rt: &Runtime) -> Bundle;
}

impl RuntimeUser for User {
    fn runtime<S: AsRef<OsStr>>(&self, rt: &Runtime, args: &[S]) -> Output {
        rt.output(self.command(true, &runtime_binary(), args))
    }

    fn bundle(&self, rt: &Runtime) -> Bundle {
        let bundle = Bundle::new().chown_rootfs(self.uid, self.gid);
        lchown(bundle.path(), Some(self.uid), Some(self.gid)).expect("chown bundle");
        let dir = bundle.path().to_str().expect("utf-8").to_string();
        assert_ok(
            &self.runtime(rt, &["spec", "--rootless", "--bundle", &dir]),
            "spec --rootless",
        );
        let path = bundle.path().join("config.json");
        let spec: Value = serde_json::from_str(&fs::read_to_string(&path).expect("config.json"))
            .expect("spec --rootless writes JSON");
        assert_eq!(
            fs::metadata(&path).expect("stat config.json").uid(),
            self.uid
        );
        fs::remove_file(&path).expect("remove config.json");
        bundle.edit(|v| {
            *v = spec;
            v["process"]["terminal"] = json!(false);
        })
    }
}

/// A container of the test user; dropping it runs `delete --force` as the user.
struct Ctr<'a> {
    user: &'a User,
    rt: &'a Runtime,
    id: String,
}

impl<'a> Ctr<'a> {
    fn new(user: &'a User, rt: &'a Runtime, name: &str) -> Self {
        Ctr {
            user,
            rt,
            id: format!("rl-{name}-{}", std::process::id()),
        }
    }

    /// `VERB --bundle B ID` as the user, after writing the bundle's config.
    fn lifecycle(&self, verb: &str, bundle: &Bundle) -> Output {
        bundle.write_config();
        let dir = bundle.path().to_str().expect("utf-8");
        self.user
            .runtime(self.rt, &[verb, "--bundle", dir, self.id.as_str()])
    }

    /// `VERB [args...] ID` as the user.
    fn cmd(&self, verb: &str, args: &[&str]) -> Output {
        let mut all = vec![verb];
        all.extend_from_slice(args);
        all.push(&self.id);
        self.user.runtime(self.rt, &all)
    }

    fn state(&self) -> Value {
        let out = self.cmd("state", &[]);
        assert_ok(&out, "state");
        serde_json::from_slice(&out.stdout).expect("state is JSON")
    }
}

impl Drop for Ctr<'_> {
    fn drop(&mut self) {
        let _ = self.cmd("delete", &["--force"]);
        reap_children();
    }
}

/// The name of the binary under test's state directory in `XDG_RUNTIME_DIR`.
fn state_dir_name() -> String {
    let bin = runtime_binary();
    bin.file_name()
        .and_then(|n| n.to_str())
        .expect("a runtime binary name")
        .to_string()
}

/// Runs `bundle` as `user`, which must succeed; returns the words of each
/// line it printed.
fn run_words(user: &User, rt: &Runtime, name: &str, bundle: &Bundle) -> Vec<Vec<String>> {
    let out = Ctr::new(user, rt, name).lifecycle("run", bundle);
    assert_ok(&out, "run");
    text(&out.stdout)
        .lines()
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

/// A created container of `user` whose process is `sleep 1000`, with its bundle.
fn created<'a>(user: &'a User, rt: &'a Runtime, name: &str) -> (Bundle, Ctr<'a>) {
    let bundle = user.bundle(rt).args(&["sleep", "1000"]);
    let ctr = Ctr::new(user, rt, name);
    assert_ok(&ctr.lifecycle("create", &bundle), "create");
    (bundle, ctr)
}

#[test]
fn spec_rootless_maps_the_callers_own_ids() {
    let (user, rt) = (User::new("spec"), Runtime::new());
    let bundle = user.bundle(&rt);
    let v = bundle.config();
    let own = |id: u32| json!([{"containerID": 0, "hostID": id, "size": 1}]);
    assert_eq!(v["linux"]["uidMappings"], own(user.uid));
    assert_eq!(v["linux"]["gidMappings"], own(user.gid));
    let kinds: Vec<&str> = v["linux"]["namespaces"]
        .as_array()
        .expect("namespaces")
        .iter()
        .filter_map(|n| n["type"].as_str())
        .collect();
    assert!(kinds.contains(&"user"), "{kinds:?}");
    assert!(!kinds.contains(&"network"), "{kinds:?}");
    assert!(v["linux"]["resources"].is_null(), "{}", v["linux"]);
}

#[test]
fn run_is_root_inside_and_mapped_to_the_user() {
    let (user, rt) = (User::new("run"), Runtime::new());
    let bundle = user.bundle(&rt).args(&[
        "sh",
        "-c",
        "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map",
    ]);
    let lines = run_words(&user, &rt, "run", &bundle);
    let map = |id: u32| vec!["0".to_string(), id.to_string(), "1".to_string()];
    assert_eq!(
        lines,
        vec![
            vec!["0".to_string()],
            vec!["0".to_string()],
            map(user.uid),
            map(user.gid)
        ]
    );
    let root = user.xdg_runtime_dir().join(state_dir_name());
    let meta = fs::metadata(&root).expect("the state root is in XDG_RUNTIME_DIR");
    assert_eq!(meta.uid(), user.uid);
}

#[test]
fn lifecycle_and_exec() {
    let (user, rt) = (User::new("life"), Runtime::new());
    let (_bundle, ctr) = created(&user, &rt, "life");
    let state = ctr.state();
    assert_eq!(state["status"], "created");
    let dir = user.xdg_runtime_dir().join(state_dir_name()).join(&ctr.id);
    assert!(dir.is_dir(), "no state directory {}", dir.display());
    assert_ok(&ctr.cmd("start", &[]), "start");
    assert_eq!(ctr.state()["status"], "running");
    let pid = i32::try_from(state["pid"].as_i64().expect("pid")).expect("pid fits i32");
    let meta = fs::metadata(format!("/proc/{pid}")).expect("init runs");
    assert_eq!(meta.uid(), user.uid, "init runs as the user on the host");
    let out = ctr.cmd("exec", &[]);
    assert!(!out.status.success(), "exec without a command must fail");
    let out = user.runtime(
        &rt,
        &["exec", ctr.id.as_str(), "sh", "-c", "id -u; echo $$"],
    );
    assert_ok(&out, "exec");
    let got: Vec<String> = text(&out.stdout).lines().map(String::from).collect();
    assert_eq!(got.first().map(String::as_str), Some("0"), "{got:?}");
    assert_ne!(got.get(1).map(String::as_str), Some("1"), "{got:?}");
    assert_ok(
        &user.runtime(&rt, &["kill", ctr.id.as_str(), "KILL"]),
        "kill",
    );
    wait_until("init to die", || {
        reap_children();
        !pid_alive(pid)
    });
    assert_eq!(ctr.state()["status"], "stopped");
    assert_ok(&ctr.cmd("delete", &[]), "delete");
    assert!(!dir.exists(), "delete left {}", dir.display());
}

#[test]
fn a_file_written_to_a_bind_mount_belongs_to_the_user() {
    let (user, rt) = (User::new("bind"), Runtime::new());
    let bundle = user.bundle(&rt);
    let shared = bundle.host_dir("shared");
    lchown(&shared, Some(user.uid), Some(user.gid)).expect("chown shared");
    fs::set_permissions(&shared, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod shared");
    let bundle = bundle
        .bind(&shared, "/shared", &["rw"])
        .args(&["touch", "/shared/made"]);
    let ctr = Ctr::new(&user, &rt, "bind");
    assert_ok(&ctr.lifecycle("run", &bundle), "run");
    let meta = fs::metadata(shared.join("made")).expect("the file made inside");
    assert_eq!((meta.uid(), meta.gid()), (user.uid, user.gid));
}

#[test]
fn state_falls_back_to_tmp_without_a_runtime_dir() {
    if skip_skiff_checks() {
        return;
    }
    let (user, rt) = (User::new("tmp"), Runtime::new());
    assert!(!Path::new(&format!("/run/user/{}", user.uid)).exists());
    let bundle = user.bundle(&rt).args(&["true"]);
    bundle.write_config();
    let id = format!("rl-tmp-{}", std::process::id());
    let dir = bundle.path().to_str().expect("utf-8");
    let out = rt.output(user.command(
        false,
        &runtime_binary(),
        &["create", "--bundle", dir, id.as_str()],
    ));
    assert_ok(&out, "create");
    let root = PathBuf::from(format!("/tmp/skiff-runtime-{}", user.uid));
    let meta = fs::symlink_metadata(&root).expect("the fallback state root");
    assert_eq!((meta.uid(), meta.mode() & 0o7777), (user.uid, 0o1700));
    assert!(root.join(&id).join("state.json").is_file());
    let out = rt.output(user.command(
        false,
        &runtime_binary(),
        &["delete", "--force", id.as_str()],
    ));
    assert_ok(&out, "delete --force");
    assert!(!root.join(&id).exists());
}

#[test]
fn a_state_root_of_someone_else_is_refused() {
    if skip_skiff_checks() {
        return;
    }
    let (user, rt) = (User::new("own"), Runtime::new());
    let root = PathBuf::from(format!("/tmp/skiff-runtime-{}", user.uid));
    fs::create_dir(&root).expect("mkdir a root-owned state root");
    let bundle = user.bundle(&rt).args(&["true"]);
    bundle.write_config();
    let dir = bundle.path().to_str().expect("utf-8");
    let out = rt.output(user.command(
        false,
        &runtime_binary(),
        &["run", "--bundle", dir, "rl-own"],
    ));
    assert!(!out.status.success(), "a state root owned by root was used");
    let err = text(&out.stderr);
    assert!(err.contains(&root.display().to_string()), "{err}");
    assert!(err.contains("--root"), "{err}");
}

#[test]
fn subordinate_ids_are_mapped_with_newuidmap() {
    let (user, rt) = (User::new("sub"), Runtime::new());
    let (subuid, subgid) = (
        user.subordinate("/etc/subuid").0,
        user.subordinate("/etc/subgid").0,
    );
    let maps = |own: u32, start: u32| {
        json!([{"containerID": 0, "hostID": own, "size": 1},
               {"containerID": 1, "hostID": start, "size": 65536}])
    };
    let bundle = user
        .bundle(&rt)
        .edit(|v| {
            v["linux"]["uidMappings"] = maps(user.uid, subuid);
            v["linux"]["gidMappings"] = maps(user.gid, subgid);
        })
        .user(1000, 1000)
        .edit(|v| v["root"]["readonly"] = json!(false))
        .args(&["sh", "-c", "cat /proc/self/uid_map; touch /tmp/f"]);
    let rows = run_words(&user, &rt, "sub", &bundle);
    let row = |c: u32, h: u32, n: u32| vec![c.to_string(), h.to_string(), n.to_string()];
    assert_eq!(rows, vec![row(0, user.uid, 1), row(1, subuid, 65536)]);
    let meta = fs::metadata(bundle.rootfs().join("tmp/f")).expect("stat f");
    assert_eq!(
        (meta.uid(), meta.gid()),
        (subuid + 999, subgid + 999),
        "id 1000 inside is the 1000th subordinate id outside"
    );
}

/// Runs `bundle` as `user`, which must fail and leave no process and no state
/// behind; returns what the runtime said.
fn refused(user: &User, rt: &Runtime, name: &str, bundle: &Bundle) -> String {
    let ctr = Ctr::new(user, rt, name);
    let out = ctr.lifecycle("run", bundle);
    assert!(!out.status.success(), "{name}: the run succeeded");
    user.wait_for_no_processes();
    let root = user.xdg_runtime_dir().join(state_dir_name());
    let left: Vec<_> = fs::read_dir(&root)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "{name}: left {left:?} in {}",
        root.display()
    );
    text(&out.stderr)
}

#[test]
fn a_mapping_of_ids_the_user_does_not_own_is_refused() {
    let (user, rt) = (User::new("deny"), Runtime::new());
    let bundle = user
        .bundle(&rt)
        .edit(|v| v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 1}]))
        .args(&["true"]);
    let err = refused(&user, &rt, "deny", &bundle);
    if skip_skiff_checks() {
        return;
    }
    assert!(
        err.contains("linux.uidMappings") && err.contains("newuidmap") && err.contains("0 0 1"),
        "{err}"
    );
}

#[test]
fn a_spec_without_a_user_namespace_is_refused() {
    let (user, rt) = (User::new("nouserns"), Runtime::new());
    let bundle = user
        .bundle(&rt)
        .edit(|v| {
            let linux = v["linux"].as_object_mut().expect("linux");
            linux.remove("uidMappings");
            linux.remove("gidMappings");
        })
        .remove_namespace("user")
        .args(&["true"]);
    let err = refused(&user, &rt, "nouserns", &bundle);
    if skip_skiff_checks() {
        return;
    }
    assert!(
        err.contains("user namespace") && err.contains("--rootless"),
        "{err}"
    );
}

#[test]
fn limits_without_a_cgroup_are_refused() {
    if skip_skiff_checks() {
        return;
    }
    let (user, rt) = (User::new("limit"), Runtime::new());
    let bundle = user
        .bundle(&rt)
        .edit(|v| v["linux"]["resources"] = json!({"pids": {"limit": 10}}))
        .args(&["true"]);
    let err = refused(&user, &rt, "limit", &bundle);
    assert!(
        err.contains("linux.resources") && err.contains("cgroup"),
        "{err}"
    );
    let bundle = bundle.edit(|v| {
        v["linux"]["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}],
                                          "memory": {"limit": 0}})
    });
    let ctr = Ctr::new(&user, &rt, "limit");
    assert_ok(
        &ctr.lifecycle("run", &bundle),
        "run with device rules and no limits",
    );
}

/// The mounts of a spec made for root: sysfs (which a user namespace without
/// a network namespace of its own may not mount: /sys is bound instead), and
/// devpts with gid=5, a group not mapped here (skiff mounts it without the
/// option). runc 1.1 does neither (it fails on the sysfs mount and refuses
/// gid=5), so under runc the two entries are first made as `spec --rootless`
/// makes them.
#[test]
fn the_mounts_of_a_root_spec_work_in_a_user_namespace() {
    let (user, rt) = (User::new("mnt"), Runtime::new());
    let bundle = user.bundle(&rt);
    let mut mounts = Bundle::new().config()["mounts"].clone();
    if skip_skiff_checks() {
        let rootless = bundle.config()["mounts"]
            .as_array()
            .expect("mounts")
            .clone();
        for m in mounts.as_array_mut().expect("mounts") {
            let dest = m["destination"].clone();
            if dest == "/sys" || dest == "/dev/pts" {
                *m = rootless
                    .iter()
                    .find(|r| r["destination"] == dest)
                    .expect("spec --rootless has the mount")
                    .clone();
            }
        }
    }
    let bundle = bundle.edit(|v| v["mounts"] = mounts).args(&[
        "sh",
        "-c",
        "echo x > /dev/null && head -c1 /dev/zero | wc -c && \
             grep -c ' /sys sysfs ro,' /proc/self/mounts && \
             grep -c ' /dev/pts devpts ' /proc/self/mounts",
    ]);
    let ctr = Ctr::new(&user, &rt, "mnt");
    let out = ctr.lifecycle("run", &bundle);
    assert_ok(&out, "run");
    assert_eq!(text(&out.stdout), "1\n1\n1\n");
}

/// Without a cgroup, `ps` and `kill --all` find the container's processes
/// through its pid namespace, and `pause` says it needs a cgroup. (runc 1.1
/// fails `kill --all` without a cgroup: under runc, init is killed, which ends
/// its pid namespace.)
#[test]
fn kill_all_and_ps_without_a_cgroup() {
    let (user, rt) = (User::new("all"), Runtime::new());
    let (_bundle, ctr) = created(&user, &rt, "all");
    assert_ok(&ctr.cmd("start", &[]), "start");
    let id = ctr.id.as_str();
    let out = user.runtime(&rt, &["exec", "--detach", id, "sleep", "2000"]);
    assert_ok(&out, "exec --detach");
    wait_until("two processes of the user", || user.processes().len() == 2);
    if !skip_skiff_checks() {
        let out = user.runtime(&rt, &["ps", "--format", "json", id]);
        assert_ok(&out, "ps");
        let mut pids: Vec<i32> = serde_json::from_slice(&out.stdout).expect("ps JSON");
        pids.sort_unstable();
        let mut want = user.processes();
        want.sort_unstable();
        assert_eq!(pids, want);
        let out = user.runtime(&rt, &["pause", id]);
        assert!(!out.status.success(), "paused without a cgroup");
        assert!(
            text(&out.stderr).contains("needs a cgroup"),
            "{}",
            text(&out.stderr)
        );
    }
    let kill: &[&str] = match skip_skiff_checks() {
        true => &["kill", id, "KILL"],
        false => &["kill", "--all", id, "KILL"],
    };
    assert_ok(&user.runtime(&rt, kill), "kill");
    user.wait_for_no_processes();
    assert_ok(&ctr.cmd("delete", &[]), "delete");
}

/// A cgroup of the test's on every hierarchy the host has, owned by the test
/// user: a delegated subtree (what systemd gives a user on cgroup v2). Dropping
/// it kills what is left in it and removes it.
struct Delegated {
    dirs: Vec<PathBuf>,
    name: String,
}

impl Delegated {
    fn new(user: &User) -> Delegated {
        let name = format!("skiff-e2e-rootless-{}", std::process::id());
        let info = fs::read_to_string("/proc/self/mountinfo").expect("read mountinfo");
        let dirs: Vec<PathBuf> = info
            .lines()
            .filter_map(|l| {
                let (left, right) = l.split_once(" - ")?;
                let fstype = right.split_whitespace().next()?;
                let mount = left.split_whitespace().nth(4)?;
                matches!(fstype, "cgroup" | "cgroup2").then(|| Path::new(mount).join(&name))
            })
            .collect();
        let made = Delegated { dirs, name };
        for dir in &made.dirs {
            fs::create_dir(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
            for f in ["cpuset.cpus", "cpuset.mems"] {
                // A v1 cpuset takes no process before it has cpus and mems.
                if let Ok(v) = fs::read_to_string(dir.parent().expect("a mount").join(f)) {
                    fs::write(dir.join(f), v).expect("copy the parent's cpuset");
                }
            }
            lchown(dir, Some(user.uid), Some(user.gid)).expect("chown the cgroup");
            for f in fs::read_dir(dir).expect("read the cgroup") {
                let f = f.expect("a cgroup file").path();
                lchown(&f, Some(user.uid), Some(user.gid)).expect("chown a cgroup file");
            }
        }
        made
    }

    /// The `cgroup.procs` file of each of its directories.
    fn procs(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.join("cgroup.procs")).collect()
    }
}

impl Drop for Delegated {
    fn drop(&mut self) {
        fn remove(dir: &Path) {
            for sub in fs::read_dir(dir).into_iter().flatten().flatten() {
                if sub.path().is_dir() {
                    remove(&sub.path());
                }
            }
            for _ in 0..200 {
                let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
                for pid in procs.lines().filter_map(|p| p.parse::<i32>().ok()) {
                    // SAFETY: kill(2) with plain integers, on the test's own processes.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
                reap_children();
                if fs::remove_dir(dir).is_ok() || !dir.exists() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            eprintln!("could not remove the cgroup {}", dir.display());
        }
        for dir in &self.dirs {
            remove(dir);
        }
    }
}

/// Where the user may write the cgroup tree, the container gets its cgroup:
/// limits are applied, and pause works.
#[test]
fn a_delegated_cgroup_is_used() {
    let (user, rt) = (User::new("deleg"), Runtime::new());
    let delegated = Delegated::new(&user);
    let bundle = user
        .bundle(&rt)
        .cgroups_path(&format!("/{}/ctr", delegated.name))
        .edit(|v| v["linux"]["resources"] = json!({"pids": {"limit": 20}}))
        .args(&["sleep", "1000"]);
    bundle.write_config();
    let id = format!("rl-deleg-{}", std::process::id());
    let procs = delegated.procs();
    let runtime = |args: &[&str]| rt.output(user.command_in(&procs, true, &runtime_binary(), args));
    let dir = bundle.path().to_str().expect("utf-8");
    assert_ok(&runtime(&["create", "--bundle", dir, &id]), "create");
    let pids_dir = delegated
        .dirs
        .iter()
        .find(|d| d.parent().is_some_and(|p| p.ends_with("pids")))
        .expect("a pids hierarchy")
        .join("ctr");
    let max = fs::read_to_string(pids_dir.join("pids.max")).expect("pids.max of the container");
    assert_eq!(max.trim(), "20");
    let init = fs::read_to_string(pids_dir.join("cgroup.procs")).expect("cgroup.procs");
    assert_eq!(init.lines().count(), 1, "{init}");
    assert_ok(&runtime(&["start", &id]), "start");
    assert_ok(&runtime(&["pause", &id]), "pause");
    assert_ok(&runtime(&["resume", &id]), "resume");
    assert_ok(&runtime(&["delete", "--force", &id]), "delete --force");
    assert!(!pids_dir.exists(), "delete left {}", pids_dir.display());
}

#[test]
fn a_root_overlay_is_served_by_the_mount_program_it_names() {
    if skip_skiff_checks() {
        return;
    }
    let (user, rt) = (User::new("fovl"), Runtime::new());
    let bundle = user.bundle(&rt);
    let dir = |name: &str| {
        let path = bundle.path().join(name);
        fs::create_dir(&path).expect("mkdir");
        lchown(&path, Some(user.uid), Some(user.gid)).expect("chown");
        path.display().to_string()
    };
    let (upper, work) = (dir("upper"), dir("work"));
    let lower = bundle.path().join("rootfs").display().to_string();
    let with_program = |program: &str| {
        let options = [
            format!("lowerdir={lower}"),
            format!("upperdir={upper}"),
            format!("workdir={work}"),
            "userxattr".to_string(),
        ];
        let program = program.to_string();
        move |v: &mut Value| {
            let mounts = v["mounts"].as_array_mut().expect("mounts");
            mounts.insert(
                0,
                json!({"destination": "/", "type": "overlay", "source": "overlay", "options": options}),
            );
            v["annotations"] = json!({"org.skiff.overlay.mount_program": program});
            v["root"]["readonly"] = json!(false);
        }
    };
    let bundle = bundle.edit(with_program("/usr/bin/fuse-overlayfs")).args(&[
        "sh",
        "-c",
        "awk '$5 == \"/\" { sub(/.* - /, \"\"); print $1 }' /proc/self/mountinfo; echo > /made",
    ]);
    let lines = run_words(&user, &rt, "fovl", &bundle);
    assert_eq!(lines, vec![vec!["fuse.fuse-overlayfs".to_string()]]);
    let made = fs::metadata(Path::new(&upper).join("made")).expect("the file in upper");
    assert_eq!((made.uid(), made.gid()), (user.uid, user.gid));
    wait_until("fuse-overlayfs to end", || {
        reap_children();
        user.processes_named("fuse-overlayfs").is_empty()
    });
    let bundle = bundle.edit(with_program("/nonexistent/fuse-overlayfs"));
    let err = refused(&user, &rt, "fovb", &bundle);
    assert!(
        err.contains("annotation org.skiff.overlay.mount_program")
            && err.contains("/nonexistent/fuse-overlayfs")
            && err.contains("Debian package fuse-overlayfs"),
        "{err}"
    );
}
