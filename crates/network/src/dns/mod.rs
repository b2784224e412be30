//! A small DNS responder for one network: it answers A and AAAA queries
//! for the names of the network's containers from the records file the
//! store maintains (re-read whenever it changes), and forwards every other
//! query to the upstream servers.
//!
//! Answers: the addresses for a known name (NOERROR with no records for a
//! type it has no address of); an upstream's answer, verbatim but for the
//! id, for anything else; NXDOMAIN for an unknown name when there is no
//! upstream to ask; SERVFAIL when no upstream answered; FORMERR for a
//! query it cannot read; NOTIMP for anything but a standard query.

mod forward;
pub mod message;
pub mod records;

use std::net::{SocketAddr, UdpSocket};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use crate::error::{Error, Result};
use message::{parse_query, response, Query, Rcode, CLASS_IN, TYPE_A, TYPE_AAAA};
use records::Records;

/// At most this many forwarded queries wait for upstreams at once; more
/// get SERVFAIL rather than an unbounded number of threads.
const MAX_IN_FLIGHT: usize = 64;

/// Upstream DNS servers from a resolv.conf's text (port 53), leaving out
/// loopback ones, which would be the responder itself or a host-only
/// resolver the containers cannot reach either.
pub fn upstreams_from_resolv_conf(text: &str) -> Vec<SocketAddr> {
    crate::etc_files::nameservers(text)
        .into_iter()
        .filter(|ip| !ip.is_loopback())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// Serves network `network`'s names on `listen` (UDP) until an I/O error
/// on the socket; names are looked up as given and also with the suffix
/// `.<network>` removed.
pub fn serve(
    network: &str,
    listen: SocketAddr,
    records_path: &Path,
    upstreams: Vec<SocketAddr>,
) -> Result<()> {
    let socket = UdpSocket::bind(listen)
        .map_err(|e| Error::Other(format!("binding DNS on {listen}: {e}")))?;
    let mut server = Server {
        suffix: format!(".{}", network.to_ascii_lowercase()),
        records_path: records_path.to_owned(),
        records: Records::default(),
        loaded: None,
        upstreams: Arc::new(upstreams),
        in_flight: Arc::new(AtomicUsize::new(0)),
    };
    let mut buf = [0u8; 4096];
    loop {
        let (n, peer) = socket
            .recv_from(&mut buf)
            .map_err(|e| Error::Other(format!("DNS on {listen}: {e}")))?;
        server.handle(&socket, &buf[..n], peer);
    }
}

struct Server {
    suffix: String,
    records_path: PathBuf,
    records: Records,
    loaded: Option<(SystemTime, u64, u64)>,
    upstreams: Arc<Vec<SocketAddr>>,
    in_flight: Arc<AtomicUsize>,
}

impl Server {
    fn handle(&mut self, socket: &UdpSocket, packet: &[u8], peer: SocketAddr) {
        let q = match parse_query(packet) {
            Ok(q) => q,
            Err(Some(id)) => {
                let _ = socket.send_to(&message::format_error(id), peer);
                return;
            }
            Err(None) => return,
        };
        if q.opcode != 0 {
            let _ = socket.send_to(&response(packet, &q, Rcode::NotImp, &[]), peer);
            return;
        }
        self.reload();
        if let Some(ips) = self.local(&q) {
            let _ = socket.send_to(&response(packet, &q, Rcode::NoError, &ips), peer);
            return;
        }
        self.forward(socket, packet, &q, peer);
    }

    /// The local answer, if the name is a container's: its addresses of the
    /// asked type (possibly none).
    fn local(&self, q: &Query) -> Option<Vec<std::net::IpAddr>> {
        let lower = q.name.to_ascii_lowercase();
        let short = lower.strip_suffix(&self.suffix).unwrap_or(&lower);
        let ips = self.records.lookup(short)?;
        let wanted = |ip: &std::net::IpAddr| match q.qtype {
            TYPE_A => ip.is_ipv4(),
            TYPE_AAAA => ip.is_ipv6(),
            _ => false,
        };
        let class_ok = q.qclass == CLASS_IN;
        Some(
            ips.into_iter()
                .filter(|ip| class_ok && wanted(ip))
                .collect(),
        )
    }

    /// Re-reads the records file when it changed: its modification time,
    /// inode or size. Every change renames a new file into place, so the
    /// inode tells apart two changes within one tick of the clock that
    /// stamps modification times. A file that cannot be read keeps the
    /// last good records.
    fn reload(&mut self) {
        let version = std::fs::metadata(&self.records_path)
            .and_then(|m| Ok((m.modified()?, m.ino(), m.len())))
            .ok();
        if version == self.loaded && version.is_some() {
            return;
        }
        if let Ok(records) = Records::load(&self.records_path) {
            self.records = records;
            self.loaded = version;
        }
    }

    fn forward(&self, socket: &UdpSocket, packet: &[u8], q: &Query, peer: SocketAddr) {
        if self.upstreams.is_empty() {
            let _ = socket.send_to(&response(packet, q, Rcode::NxDomain, &[]), peer);
            return;
        }
        let busy = self.in_flight.fetch_add(1, Ordering::SeqCst) >= MAX_IN_FLIGHT;
        let reply_socket = socket.try_clone();
        let (Ok(reply_socket), false) = (reply_socket, busy) else {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            let _ = socket.send_to(&response(packet, q, Rcode::ServFail, &[]), peer);
            return;
        };
        let (packet, q, upstreams, in_flight) = (
            packet.to_vec(),
            q.clone(),
            self.upstreams.clone(),
            self.in_flight.clone(),
        );
        // A thread per forwarded query, so a slow upstream never holds up
        // the answers for the network's own names.
        std::thread::spawn(move || {
            let answer = forward::ask(&upstreams, &packet, q.id)
                .unwrap_or_else(|| response(&packet, &q, Rcode::ServFail, &[]));
            let _ = reply_socket.send_to(&answer, peer);
            in_flight.fetch_sub(1, Ordering::SeqCst);
        });
    }
}
