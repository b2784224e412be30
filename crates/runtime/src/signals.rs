//! Signal names and numbers as `kill` accepts them: `TERM`, `SIGTERM`, `15`.

use nix::sys::signal::Signal;

use crate::error::{Error, Result};

/// The signals a foreground `run` or `exec` passes on to the container's
/// process (SIGWINCH resizes its terminal instead).
pub const FORWARDED: [Signal; 7] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// Parse a signal given by name (with or without `SIG`, any case) or number.
pub fn parse(s: &str) -> Result<Signal> {
    let bad = || Error::Usage(format!("unknown signal {s:?}"));
    if let Ok(n) = s.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| bad());
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>().map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse("KILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse("SIGTERM").unwrap(), Signal::SIGTERM);
        assert_eq!(parse("hup").unwrap(), Signal::SIGHUP);
        assert_eq!(parse("9").unwrap(), Signal::SIGKILL);
        assert!(parse("FOO").is_err());
        assert!(parse("99").is_err());
    }
}
