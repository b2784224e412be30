//! Just enough of the DNS wire format (RFC 1035) to read a query's
//! question and write an answer to it.

use std::net::IpAddr;

/// Record type A.
pub const TYPE_A: u16 = 1;
/// Record type AAAA.
pub const TYPE_AAAA: u16 = 28;
/// Class IN.
pub const CLASS_IN: u16 = 1;

/// Response codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rcode {
    /// No error.
    NoError = 0,
    /// The query could not be parsed.
    FormErr = 1,
    /// The server failed (no upstream answered).
    ServFail = 2,
    /// The name does not exist.
    NxDomain = 3,
    /// The kind of query is not supported.
    NotImp = 4,
}

/// A parsed query: header fields and the first question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// The query id.
    pub id: u16,
    /// The opcode (0 for a standard query).
    pub opcode: u8,
    /// Whether recursion was desired.
    pub rd: bool,
    /// The question's name, labels joined by dots, without a trailing dot.
    pub name: String,
    /// The question's type.
    pub qtype: u16,
    /// The question's class.
    pub qclass: u16,
    /// Where the question ends in the packet.
    question_end: usize,
}

/// Reads a query. `Err(Some(id))` when the header is readable but the rest
/// is not (answer FORMERR), `Err(None)` when not even that (drop it).
pub fn parse_query(p: &[u8]) -> Result<Query, Option<u16>> {
    if p.len() < 12 {
        return Err(None);
    }
    let id = u16::from_be_bytes([p[0], p[1]]);
    let is_response = p[2] & 0x80 != 0;
    let qdcount = u16::from_be_bytes([p[4], p[5]]);
    if is_response || qdcount != 1 {
        return Err(Some(id));
    }
    let (name, at) = read_name(p, 12).ok_or(Some(id))?;
    let fixed = p.get(at..at + 4).ok_or(Some(id))?;
    Ok(Query {
        id,
        opcode: (p[2] >> 3) & 0x0f,
        rd: p[2] & 1 != 0,
        name,
        qtype: u16::from_be_bytes([fixed[0], fixed[1]]),
        qclass: u16::from_be_bytes([fixed[2], fixed[3]]),
        question_end: at + 4,
    })
}

/// Reads an uncompressed name (queries carry no compression pointers).
fn read_name(p: &[u8], mut at: usize) -> Option<(String, usize)> {
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*p.get(at)?);
        at += 1;
        if len == 0 {
            return Some((labels.join("."), at));
        }
        if len > 63 {
            return None;
        }
        let label = p.get(at..at + len)?;
        labels.push(String::from_utf8_lossy(label).into_owned());
        at += len;
    }
}

/// The answer to `q` (echoing its question) with `rcode` and one answer
/// record per address in `ips`, each with a short TTL because containers
/// come and go.
pub fn response(query: &[u8], q: &Query, rcode: Rcode, ips: &[IpAddr]) -> Vec<u8> {
    let mut out = Vec::with_capacity(q.question_end + ips.len() * 28);
    out.extend_from_slice(&q.id.to_be_bytes());
    out.push(0x80 | (q.opcode << 3) | 0x04 | u8::from(q.rd));
    out.push(0x80 | rcode as u8);
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&(ips.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&query[12..q.question_end]);
    for ip in ips {
        // A pointer to the question's name at offset 12.
        out.extend_from_slice(&[0xc0, 0x0c]);
        let (rtype, data) = match ip {
            IpAddr::V4(v4) => (TYPE_A, v4.octets().to_vec()),
            IpAddr::V6(v6) => (TYPE_AAAA, v6.octets().to_vec()),
        };
        out.extend_from_slice(&rtype.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&5u32.to_be_bytes());
        out.extend_from_slice(&(data.len() as u16).to_be_bytes());
        out.extend_from_slice(&data);
    }
    out
}

/// A FORMERR answer for a packet whose header alone could be read.
pub fn format_error(id: u16) -> Vec<u8> {
    let mut out = id.to_be_bytes().to_vec();
    out.extend_from_slice(&[0x80, 0x80 | Rcode::FormErr as u8, 0, 0, 0, 0, 0, 0, 0, 0]);
    out
}

/// A query for `name` of type `qtype` with id `id`, recursion desired.
pub fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut out = id.to_be_bytes().to_vec();
    out.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_a_query_and_answers_it() {
        let packet = query(0x1234, "web.example", TYPE_A);
        let q = parse_query(&packet).unwrap();
        assert_eq!(
            (q.id, q.name.as_str(), q.qtype, q.qclass),
            (0x1234, "web.example", TYPE_A, CLASS_IN)
        );
        let ip: IpAddr = "10.201.0.2".parse().unwrap();
        let answer = response(&packet, &q, Rcode::NoError, &[ip]);
        assert_eq!(&answer[..2], &[0x12, 0x34]);
        assert_eq!(answer[3] & 0x0f, 0);
        assert_eq!(u16::from_be_bytes([answer[6], answer[7]]), 1);
        assert_eq!(&answer[answer.len() - 4..], &[10, 201, 0, 2]);
    }

    #[test]
    fn refuses_garbage() {
        assert_eq!(parse_query(&[1, 2, 3]), Err(None));
        let mut p = query(7, "a", TYPE_A);
        p.truncate(14);
        assert_eq!(parse_query(&p), Err(Some(7)));
        assert_eq!(format_error(7)[3] & 0x0f, 1);
    }
}
