//! Whether skiff's table exists, asked of the kernel over nfnetlink: one
//! `NFT_MSG_GETTABLE` request on a netfilter netlink socket, where `nft
//! list table` would cost a process and a full cache load on every start.

use netlink_sys::{protocols::NETLINK_NETFILTER, Socket, SocketAddr};

use crate::error::{Error, Result};

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFT_MSG_NEWTABLE: u16 = 0;
const NFT_MSG_GETTABLE: u16 = 1;
const NFPROTO_INET: u8 = 1;
const NFTA_TABLE_NAME: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const HEADER_LEN: usize = 16;

/// Whether table `inet <name>` exists.
pub fn table_exists(name: &str) -> Result<bool> {
    let what = format!("looking up nftables table inet {name}");
    let mut socket = Socket::new(NETLINK_NETFILTER).map_err(|e| Error::netlink(&what, e))?;
    socket.bind_auto().map_err(|e| Error::netlink(&what, e))?;
    socket
        .connect(&SocketAddr::new(0, 0))
        .map_err(|e| Error::netlink(&what, e))?;
    socket
        .send(&request(name), 0)
        .map_err(|e| Error::netlink(&what, e))?;
    loop {
        let (buf, _) = socket
            .recv_from_full()
            .map_err(|e| Error::netlink(&what, e))?;
        if let Some(answer) = answer(&buf).map_err(|e| Error::netlink(&what, e))? {
            return Ok(answer);
        }
    }
}

/// The request: a netlink header, the nfnetlink header (family inet,
/// version 0, resource 0) and the table's name as a NUL-terminated string
/// attribute, padded to four bytes.
fn request(name: &str) -> Vec<u8> {
    let attr_len = 4 + name.len() + 1;
    let total = HEADER_LEN + 4 + attr_len.next_multiple_of(4);
    let mut msg = Vec::with_capacity(total);
    msg.extend_from_slice(&(total as u32).to_ne_bytes());
    msg.extend_from_slice(&(NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETTABLE).to_ne_bytes());
    msg.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&[NFPROTO_INET, 0, 0, 0]);
    msg.extend_from_slice(&(attr_len as u16).to_ne_bytes());
    msg.extend_from_slice(&NFTA_TABLE_NAME.to_ne_bytes());
    msg.extend_from_slice(name.as_bytes());
    msg.resize(total, 0);
    msg
}

/// Reads the kernel's messages in `buf`: the table (it exists), an error
/// `ENOENT` (it does not), another error, or nothing decisive yet.
fn answer(buf: &[u8]) -> std::io::Result<Option<bool>> {
    let mut offset = 0;
    while offset + HEADER_LEN <= buf.len() {
        let field = |at: usize| {
            buf[offset + at..offset + at + 4]
                .try_into()
                .expect("4 bytes")
        };
        let len = u32::from_ne_bytes(field(0)) as usize;
        let kind = u16::from_ne_bytes(field(4)[..2].try_into().expect("2 bytes"));
        if len < HEADER_LEN || offset + len > buf.len() {
            return Err(std::io::Error::other("truncated netlink answer"));
        }
        if kind == NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWTABLE {
            return Ok(Some(true));
        }
        if kind == NLMSG_ERROR && len >= HEADER_LEN + 4 {
            match -i32::from_ne_bytes(field(HEADER_LEN)) {
                0 => return Ok(Some(false)),
                libc::ENOENT => return Ok(Some(false)),
                code => return Err(std::io::Error::from_raw_os_error(code)),
            }
        }
        offset += len.next_multiple_of(4);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_padded_and_names_the_table() {
        let msg = request("skiff");
        assert_eq!(msg.len(), 16 + 4 + 12);
        assert_eq!(u32::from_ne_bytes(msg[..4].try_into().unwrap()), 32);
        assert_eq!(&msg[24..30], b"skiff\0");
    }

    #[test]
    fn answers_are_read() {
        let mut found = request("t");
        found[4..6].copy_from_slice(&(10u16 << 8).to_ne_bytes());
        assert_eq!(answer(&found).unwrap(), Some(true));
        let mut missing = vec![0u8; 36];
        missing[..4].copy_from_slice(&36u32.to_ne_bytes());
        missing[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        missing[16..20].copy_from_slice(&(-libc::ENOENT).to_ne_bytes());
        assert_eq!(answer(&missing).unwrap(), Some(false));
        missing[16..20].copy_from_slice(&(-libc::EPERM).to_ne_bytes());
        assert!(answer(&missing).is_err());
        assert!(answer(&missing[..20]).is_err());
    }
}
