//! Opening a netlink socket inside another network namespace.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

use super::Netlink;
use crate::error::{Error, Result};

impl Netlink {
    /// A socket in the network namespace at `path` (`/proc/PID/ns/net` or a
    /// bind-mounted namespace file such as `/run/netns/NAME`).
    ///
    /// A helper thread joins the namespace, opens the socket and exits; the
    /// socket stays bound to that namespace, and the calling thread's own
    /// namespace never changes.
    pub fn in_netns(path: &Path) -> Result<Netlink> {
        let ns = File::open(path).map_err(|e| Error::io("opening network namespace", path, e))?;
        let path = path.to_owned();
        std::thread::spawn(move || {
            // SAFETY: setns on an open namespace fd; CLONE_NEWNET moves only
            // this helper thread, which exits right after opening the socket.
            if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                let err = std::io::Error::last_os_error();
                return Err(Error::io("joining network namespace", path, err));
            }
            Netlink::new()
        })
        .join()
        .map_err(|_| Error::Other("the netns helper thread panicked".into()))?
    }
}
