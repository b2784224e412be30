//! MAC addresses: parsing `aa:bb:cc:dd:ee:ff` and making random ones.

use crate::error::{Error, Result};

/// Parses `aa:bb:cc:dd:ee:ff`; refuses multicast addresses, which no
/// interface may have.
pub fn parse(s: &str) -> Result<[u8; 6]> {
    let bad = || {
        Error::Invalid(format!(
            "invalid MAC address {s:?}: expected aa:bb:cc:dd:ee:ff"
        ))
    };
    let mut out = [0u8; 6];
    let mut parts = s.split(':');
    for byte in &mut out {
        let part = parts.next().filter(|p| p.len() == 2).ok_or_else(bad)?;
        *byte = u8::from_str_radix(part, 16).map_err(|_| bad())?;
    }
    if parts.next().is_some() {
        return Err(bad());
    }
    if out[0] & 1 == 1 {
        return Err(Error::Invalid(format!(
            "invalid MAC address {s:?}: a multicast address"
        )));
    }
    Ok(out)
}

/// Formats as `aa:bb:cc:dd:ee:ff`.
pub fn format(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A random, locally administered unicast address.
pub fn random() -> [u8; 6] {
    let r = crate::fsutil::random_bytes();
    [(r[0] & 0xfe) | 0x02, r[1], r[2], r[3], r[4], r[5]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses() {
        assert_eq!(
            format(parse("02:42:ac:11:00:02").unwrap()),
            "02:42:ac:11:00:02"
        );
        for bad in [
            "02:42:ac:11:00",
            "02:42:ac:11:00:02:03",
            "zz:42:ac:11:00:02",
            "01:00:5e:00:00:01",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let m = random();
        assert_eq!(m[0] & 3, 2);
    }
}
