//! Asking upstream servers.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::Duration;

/// How long one upstream gets to answer.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Sends `query` to each upstream in turn, under a fresh random id, and
/// returns the first answer with the caller's id `id` put back; `None`
/// when none answered.
pub fn ask(upstreams: &[SocketAddr], query: &[u8], id: u16) -> Option<Vec<u8>> {
    upstreams.iter().find_map(|up| ask_one(*up, query, id))
}

fn ask_one(upstream: SocketAddr, query: &[u8], id: u16) -> Option<Vec<u8>> {
    let local: SocketAddr = match upstream {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).ok()?;
    socket.connect(upstream).ok()?;
    socket.set_read_timeout(Some(TIMEOUT)).ok()?;
    let r = crate::fsutil::random_bytes();
    let ours = [r[0], r[1]];
    let mut packet = query.to_vec();
    packet[..2].copy_from_slice(&ours);
    socket.send(&packet).ok()?;
    let mut buf = [0u8; 4096];
    loop {
        let n = socket.recv(&mut buf).ok()?;
        // A connected socket only hears from the upstream; a stale or
        // forged answer with another id is skipped.
        if n >= 12 && buf[..2] == ours {
            let mut answer = buf[..n].to_vec();
            answer[..2].copy_from_slice(&id.to_be_bytes());
            return Some(answer);
        }
    }
}
