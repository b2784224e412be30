//! Links, addresses and routes over rtnetlink, synchronously: one request,
//! one answer, on a socket of the calling process — or of a network
//! namespace, for a socket opened by [`Netlink::in_netns`].
//!
//! A netlink socket belongs to the network namespace it was created in, for
//! its whole life. So to act inside a container's namespace, a short-lived
//! thread joins that namespace (`setns(CLONE_NEWNET)` changes only the
//! calling thread), creates the socket there and hands it back before it
//! exits; the caller's own threads never change namespace.

mod addr;
mod link;
mod netns;

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use crate::error::{Error, Result};

pub use link::{LinkInfo, VethSpec};

/// A synchronous rtnetlink socket.
pub struct Netlink {
    socket: Socket,
    seq: u32,
}

impl Netlink {
    /// A socket in the calling thread's network namespace.
    pub fn new() -> Result<Netlink> {
        let mut socket =
            Socket::new(NETLINK_ROUTE).map_err(|e| Error::netlink("opening a socket", e))?;
        socket
            .bind_auto()
            .map_err(|e| Error::netlink("binding the socket", e))?;
        socket
            .connect(&SocketAddr::new(0, 0))
            .map_err(|e| Error::netlink("connecting the socket", e))?;
        Ok(Netlink { socket, seq: 0 })
    }

    fn send(&mut self, msg: RouteNetlinkMessage, flags: u16, what: &str) -> Result<u32> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut buf = vec![0; packet.buffer_len()];
        packet.serialize(&mut buf);
        self.socket
            .send(&buf, 0)
            .map_err(|e| Error::netlink(what, e))?;
        Ok(self.seq)
    }

    /// Sends a request that changes something and waits for the kernel's
    /// acknowledgement; a refusal becomes an error naming `what`.
    fn request(&mut self, msg: RouteNetlinkMessage, flags: u16, what: &str) -> Result<()> {
        let seq = self.send(msg, flags | NLM_F_ACK, what)?;
        self.receive(seq, what, |_| {})
    }

    /// Sends a dump request and collects every answer until the kernel says
    /// it is done.
    fn dump(&mut self, msg: RouteNetlinkMessage, what: &str) -> Result<Vec<RouteNetlinkMessage>> {
        let seq = self.send(msg, NLM_F_DUMP, what)?;
        let mut out = Vec::new();
        self.receive(seq, what, |m| out.push(m))?;
        Ok(out)
    }

    /// Reads answers to request `seq` until an acknowledgement, an error or
    /// the end of a dump; each data message goes to `each`.
    fn receive(
        &mut self,
        seq: u32,
        what: &str,
        mut each: impl FnMut(RouteNetlinkMessage),
    ) -> Result<()> {
        let mut done = false;
        while !done {
            let (buf, _) = self
                .socket
                .recv_from_full()
                .map_err(|e| Error::netlink(what, e))?;
            let mut offset = 0;
            while offset < buf.len() {
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&buf[offset..])
                    .map_err(|e| Error::Other(format!("netlink: {what}: bad answer: {e}")))?;
                let len = msg.header.length as usize;
                if len == 0 {
                    break;
                }
                offset += (len + 3) & !3;
                if msg.header.sequence_number != seq {
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::Error(e) => {
                        if let Some(code) = e.code {
                            let err = std::io::Error::from_raw_os_error(-code.get());
                            return Err(Error::netlink(what, err));
                        }
                        done = true;
                    }
                    NetlinkPayload::Done(_) => done = true,
                    NetlinkPayload::InnerMessage(m) => each(m),
                    _ => {}
                }
            }
        }
        Ok(())
    }
}
