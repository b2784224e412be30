//! `terminal: true` with `--console-socket`: the PTY master arrives over SCM_RIGHTS.

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use skiff_e2e::{assert_ok, text, Bundle, Container, Runtime, DEADLINE};
use std::fs::File;
use std::io::{ErrorKind, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

/// Receives one file descriptor sent with SCM_RIGHTS on `stream`.
fn receive_fd(stream: &UnixStream) -> OwnedFd {
    let mut buf = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .expect("recvmsg on console socket");
    for cmsg in msg.cmsgs().expect("control messages") {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            let fd = *fds.first().expect("one fd");
            // SAFETY: the kernel just installed this descriptor for us; nothing else owns it.
            return unsafe { OwnedFd::from_raw_fd(fd) };
        }
    }
    panic!("no SCM_RIGHTS message on the console socket");
}

/// Creates container `c` with a terminal, accepting the console socket
/// connection while `create` runs; returns the PTY master.
fn create_with_console(c: &Container, bundle: &Bundle) -> File {
    bundle.write_config();
    let bundle_arg = bundle.path().to_str().expect("utf-8");
    with_console(c, bundle, &["create", "--bundle", bundle_arg], &[])
}

/// Runs `COMMAND --console-socket SOCK ID TAIL...` for container `c`, accepting
/// the connection while it runs; returns the PTY master it sent.
fn with_console(c: &Container, bundle: &Bundle, command: &[&str], tail: &[&str]) -> File {
    let socket = bundle.host_dir("console").join("sock");
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket).expect("bind console socket");
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    let sock_arg = socket.to_str().expect("utf-8");
    let mut args = command.to_vec();
    args.extend(["--console-socket", sock_arg, c.id()]);
    args.extend(tail);
    let mut cmd = c.runtime().spawn(c.runtime().command(&args));
    let start = Instant::now();
    let stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if let Ok(Some(status)) = cmd.child.try_wait() {
                    panic!(
                        "{command:?} exited ({status}) without connecting to the console socket"
                    );
                }
                assert!(
                    start.elapsed() < DEADLINE,
                    "no connection on the console socket"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    stream.set_nonblocking(false).expect("blocking stream");
    let master = receive_fd(&stream);
    assert_ok(&cmd.wait(), &format!("{command:?} --console-socket"));
    File::from(master)
}

/// Reads from the PTY master until `want` has been seen, the other side closes, or
/// the deadline passes; returns everything read.
fn read_until(master: &mut File, want: &str) -> String {
    let mut seen = Vec::new();
    let start = Instant::now();
    while !text(&seen).contains(want) && start.elapsed() < DEADLINE {
        let mut fds = [PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        let ready = poll(&mut fds, PollTimeout::from(200u16)).expect("poll pty");
        if ready == 0 {
            continue;
        }
        let mut buf = [0u8; 4096];
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
    text(&seen)
}

#[test]
fn console_socket_carries_a_working_pty() {
    let rt = Runtime::new();
    let bundle = Bundle::new().terminal(true).args(&["sh"]);
    let c = rt.container("console-echo");
    let mut master = create_with_console(&c, &bundle);
    let pid = c.pid();
    assert_ok(&c.start(), "start");
    master
        .write_all(b"echo hello-$((40+2))\n")
        .expect("write to pty");
    let seen = read_until(&mut master, "hello-42");
    assert!(
        seen.contains("hello-42"),
        "no hello-42 from the terminal: {seen:?}"
    );
    master.write_all(b"exit\n").expect("write exit");
    c.wait_status("stopped");
    assert_ok(&c.delete(), "delete");
    c.assert_nothing_left(Some(pid));
}

#[test]
fn tty_is_the_console() {
    let rt = Runtime::new();
    let bundle = Bundle::new().terminal(true).args(&["tty"]);
    let c = rt.container("console-tty");
    let mut master = create_with_console(&c, &bundle);
    assert_ok(&c.start(), "start");
    let seen = read_until(&mut master, "\n");
    let line = seen.trim();
    assert!(
        line == "/dev/pts/0" || line == "/dev/console",
        "tty printed {line:?}"
    );
}

#[test]
fn exec_tty_gets_its_own_pty() {
    let rt = Runtime::new();
    let bundle = Bundle::new().args(&["sleep", "100"]);
    let c = rt.container("exec-tty");
    c.start_running(&bundle);
    let mut master = with_console(
        &c,
        &bundle,
        &["exec", "--tty", "--detach"],
        &["sh", "-c", "tty; echo exec-$((6*7))"],
    );
    let seen = read_until(&mut master, "exec-42");
    assert!(seen.contains("/dev/pts/"), "tty in exec printed {seen:?}");
    assert!(seen.contains("exec-42"), "{seen:?}");
}
