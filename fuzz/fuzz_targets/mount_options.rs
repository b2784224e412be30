//! A mount's `options` -> `mount_options::parse`. The input is the option
//! list, one option per line. Besides not panicking, the result must hold
//! what the parser promises: later options win, a flag is never both set and
//! cleared, unknown names go to the filesystem as data in their order.

#![no_main]

use libfuzzer_sys::fuzz_target;
use nix::mount::MsFlags;
use skiff_runtime::mount_options::{self, attr};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let options: Vec<String> = text.split('\n').map(str::to_owned).collect();
    let o = mount_options::parse(&options);

    assert!(
        (o.flags & o.cleared).is_empty(),
        "flags both set and cleared: {o:?}"
    );
    assert_eq!(
        o.attr_set & o.attr_clr & !attr::ATIME,
        0,
        "attributes both set and cleared: {o:?}"
    );
    let atime = o.attr_set & attr::ATIME;
    assert!(
        atime == attr::RELATIME || atime == attr::NOATIME || atime == attr::STRICTATIME,
        "more than one access-time mode: {o:?}"
    );
    if atime != 0 {
        assert_eq!(o.attr_clr & attr::ATIME, attr::ATIME, "{o:?}");
    }
    assert!(!o.recursive || o.bind, "rbind without bind: {o:?}");
    assert!(
        !o.flags.contains(MsFlags::MS_BIND),
        "bind is not a flag: {o:?}"
    );

    // Data entries are input options, in input order.
    let mut rest = options.iter();
    for d in &o.data {
        assert!(
            rest.any(|opt| opt == d),
            "data {d:?} not from the input in order: {o:?}"
        );
    }

    // Deterministic, and the last of ro/rw wins.
    assert_eq!(mount_options::parse(&options), o);
    let mut ro = options.clone();
    ro.push("ro".into());
    assert!(mount_options::parse(&ro).flags.contains(MsFlags::MS_RDONLY));
    ro.push("rw".into());
    assert!(!mount_options::parse(&ro).flags.contains(MsFlags::MS_RDONLY));
});
