//! Terminals: init makes a pseudo-terminal inside the container and sends its
//! master over the console socket (SCM_RIGHTS, as runc does); a foreground
//! `run` or `exec` without a console socket receives it itself and copies
//! between its own terminal and the master.

use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::mount::{mount, MsFlags};
use oci_spec::runtime::Box as ConsoleSize;

use crate::error::{Context, Error, Result};
use crate::fdpass;

nix::ioctl_write_ptr_bad!(set_winsize, libc::TIOCSWINSZ, libc::winsize);

/// Inside the container: make the pty, bind its peer to /dev/console (for init),
/// send the master to `socket`, and make the peer the controlling terminal and stdio.
pub fn setup_pty(socket: RawFd, size: Option<ConsoleSize>, is_console: bool) -> Result<()> {
    let master: OwnedFd = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
        .open("/dev/ptmx")
        .ctx(|| "open /dev/ptmx (is devpts mounted on /dev/pts?)".to_string())?
        .into();
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int that lives across the call.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) } < 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "unlock the pty".to_string());
    }
    // SAFETY: TIOCGPTPEER returns a new descriptor for the peer; flags are plain ints.
    let peer = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY,
        )
    };
    if peer < 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "open the pty peer".to_string());
    }
    // SAFETY: the kernel just returned this descriptor and nothing else owns it.
    let peer = unsafe { OwnedFd::from_raw_fd(peer) };
    if let Some(size) = size {
        let ws = libc::winsize {
            ws_row: size.height() as u16,
            ws_col: size.width() as u16,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a winsize that lives across the call.
        unsafe { set_winsize(peer.as_raw_fd(), &ws) }.ctx(|| "set the console size".to_string())?;
    }
    if is_console {
        bind_console(&peer)?;
    }
    send_fd(socket, &master, "/dev/ptmx")?;
    drop(master);
    nix::unistd::setsid().ctx(|| "setsid".to_string())?;
    // SAFETY: TIOCSCTTY with an integer argument on a terminal we own.
    if unsafe { libc::ioctl(peer.as_raw_fd(), libc::TIOCSCTTY, 0) } < 0 {
        return Err(std::io::Error::last_os_error())
            .ctx(|| "set the controlling terminal".to_string());
    }
    for target in 0..3 {
        nix::unistd::dup2(peer.as_raw_fd(), target).ctx(|| "dup the pty onto stdio".to_string())?;
    }
    Ok(())
}

use std::os::unix::fs::OpenOptionsExt;

fn bind_console(peer: &OwnedFd) -> Result<()> {
    let name = std::fs::read_link(format!("/proc/self/fd/{}", peer.as_raw_fd()))
        .ctx(|| "find the pty's name".to_string())?;
    let console = Path::new("/dev/console");
    if !console.exists() {
        std::fs::File::create(console).ctx(|| "create /dev/console".to_string())?;
    }
    mount(
        Some(&name),
        console,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .ctx(|| format!("bind {} to /dev/console", name.display()))
}

/// Send `fd` over a unix socket with SCM_RIGHTS, with `name` as the payload.
pub fn send_fd(socket: RawFd, fd: &OwnedFd, name: &str) -> Result<()> {
    fdpass::send(socket, name.as_bytes(), fd)
}

/// Receive a descriptor sent with SCM_RIGHTS.
pub fn recv_fd(socket: RawFd) -> Result<OwnedFd> {
    let mut buf = [0u8; 4096];
    fdpass::recv(socket, &mut buf)?
        .1
        .ok_or_else(|| Error::Init("the container sent no pty master".into()))
}

/// Copy the size of our terminal on `from` to the pty `to`.
pub fn copy_winsize(from: impl AsFd, to: impl AsFd) {
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes a winsize into `ws`, which lives across the call.
    if unsafe { libc::ioctl(from.as_fd().as_raw_fd(), libc::TIOCGWINSZ, &mut ws) } == 0 {
        // SAFETY: TIOCSWINSZ reads `ws`.
        unsafe { libc::ioctl(to.as_fd().as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    }
}

/// Our terminal (stdin) in raw mode until dropped, for copying to and from
/// a container's pty.
pub struct RawMode(nix::sys::termios::Termios);

impl RawMode {
    /// Raw mode on stdin; `None` when stdin is not a terminal.
    pub fn enter() -> Option<RawMode> {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        let stdin = std::io::stdin();
        let saved = tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        use nix::sys::termios::{tcsetattr, SetArg};
        let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &self.0);
    }
}
