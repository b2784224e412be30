//! Checks of a profile's fields against each other, before libseccomp sees it.

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSyscall};

use crate::error::{Error, Result};

/// System calls init makes between loading the filter and handing the notify
/// descriptor over: notifying on them would stop init before any agent could
/// answer.
const NOT_NOTIFIABLE: [&str; 2] = ["write", "sendmsg"];

/// Longest path a unix socket address holds (`sun_path` less its NUL).
const MAX_SOCKET_PATH: usize = 107;

/// Check what libseccomp would not: the default action, the listener fields
/// and every rule's names.
pub(super) fn check(s: &LinuxSeccomp) -> Result<()> {
    if s.default_action() == LinuxSeccompAction::ScmpActNotify {
        return Err(Error::Spec(
            "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action \
             (the runtime's own system calls would wait for the agent)"
                .into(),
        ));
    }
    check_listener(s)?;
    for (i, sc) in s.syscalls().iter().flatten().enumerate() {
        check_syscall(&format!("linux.seccomp.syscalls[{i}]"), sc)?;
    }
    Ok(())
}

fn check_listener(s: &LinuxSeccomp) -> Result<()> {
    let first_notify = s
        .syscalls()
        .iter()
        .flatten()
        .position(|sc| sc.action() == LinuxSeccompAction::ScmpActNotify);
    match (s.listener_path(), first_notify) {
        (None, Some(i)) => Err(Error::Spec(format!(
            "linux.seccomp.syscalls[{i}].action: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath"
        ))),
        (None, None) if s.listener_metadata().is_some() => Err(Error::Spec(
            "linux.seccomp.listenerMetadata: set without linux.seccomp.listenerPath".into(),
        )),
        (Some(p), _) if p.as_os_str().is_empty() => {
            Err(Error::Spec("linux.seccomp.listenerPath: empty path".into()))
        }
        (Some(p), _) if p.as_os_str().len() > MAX_SOCKET_PATH => Err(Error::Spec(format!(
            "linux.seccomp.listenerPath: {} is longer than a unix socket address \
             ({MAX_SOCKET_PATH} bytes)",
            p.display()
        ))),
        _ => Ok(()),
    }
}

fn check_syscall(field: &str, sc: &LinuxSyscall) -> Result<()> {
    if sc.names().is_empty() {
        return Err(Error::Spec(format!(
            "{field}.names: must name at least one system call"
        )));
    }
    for (j, name) in sc.names().iter().enumerate() {
        if name.is_empty() {
            return Err(Error::Spec(format!("{field}.names[{j}]: empty name")));
        }
        if sc.action() == LinuxSeccompAction::ScmpActNotify
            && NOT_NOTIFIABLE.contains(&name.as_str())
        {
            return Err(Error::Spec(format!(
                "{field}.action: SCMP_ACT_NOTIFY cannot be used for {name}: \
                 the runtime needs it to hand the listener to the agent"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(json: &str) -> LinuxSeccomp {
        serde_json::from_str(json).expect("profile parses")
    }

    fn message(json: &str) -> String {
        check(&profile(json)).unwrap_err().to_string()
    }

    #[test]
    fn notify_needs_a_listener() {
        let msg = message(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
                {"names":["mkdir"],"action":"SCMP_ACT_ERRNO"},
                {"names":["getpid"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        );
        assert!(msg.contains("linux.seccomp.syscalls[1].action"), "{msg}");
        assert!(msg.contains("listenerPath"), "{msg}");
    }

    #[test]
    fn notify_is_no_default_action() {
        let msg = message(r#"{"defaultAction":"SCMP_ACT_NOTIFY","listenerPath":"/x"}"#);
        assert!(msg.contains("linux.seccomp.defaultAction"), "{msg}");
    }

    #[test]
    fn notify_on_write_is_refused() {
        let msg = message(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock",
                "syscalls":[{"names":["read","write"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        );
        assert!(msg.contains("syscalls[0].action"), "{msg}");
        assert!(msg.contains("write"), "{msg}");
    }

    #[test]
    fn metadata_needs_a_listener() {
        let msg = message(r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerMetadata":"m"}"#);
        assert!(msg.contains("linux.seccomp.listenerMetadata"), "{msg}");
    }

    #[test]
    fn listener_path_must_fit_a_socket_address() {
        let long = format!("/{}", "a".repeat(MAX_SOCKET_PATH));
        let msg = message(&format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"{long}"}}"#
        ));
        assert!(msg.contains("linux.seccomp.listenerPath"), "{msg}");
        let msg = message(r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":""}"#);
        assert!(msg.contains("empty"), "{msg}");
    }

    #[test]
    fn names_must_be_given() {
        let msg = message(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
                {"names":["getpid"],"action":"SCMP_ACT_ERRNO"},
                {"names":[],"action":"SCMP_ACT_ERRNO"}]}"#,
        );
        assert!(msg.contains("linux.seccomp.syscalls[1].names"), "{msg}");
        let msg = message(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
                {"names":["getpid",""],"action":"SCMP_ACT_ERRNO"}]}"#,
        );
        assert!(msg.contains("linux.seccomp.syscalls[0].names[1]"), "{msg}");
    }

    #[test]
    fn good_profile_passes() {
        let p = profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","listenerPath":"/run/agent.sock",
                "listenerMetadata":"m","syscalls":[
                {"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"},
                {"names":["read","write"],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        check(&p).unwrap();
    }
}
