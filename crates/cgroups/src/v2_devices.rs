//! Device rules on cgroup v2, which has no `devices.allow`: the OCI rules
//! become an eBPF program of type `BPF_PROG_TYPE_CGROUP_DEVICE` attached to
//! the cgroup directory. The kernel runs it on every open or mknod of a
//! device node with `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major;
//! u32 minor; }`, `access_type` being `(access << 16) | type`; the request
//! goes through when the program returns 1.
//!
//! The semantics are those of the v1 devices controller: the rules apply in
//! order and the last one matching a request decides; a request matches a
//! rule when the type matches (or the rule's is `a`), every requested access
//! is in the rule's, and the numbers match (a missing one matches any). With
//! no matching rule the request is denied, so an empty list denies everything.
//!
//! The program, after reading the context into r2 (type), r3 (access),
//! r4 (major) and r5 (minor), tests the rules last to first. Each rule is a
//! block of `if r != value goto <next rule>` tests ending in
//! `r0 = allow; exit`; after the blocks comes `r0 = 0; exit`. A rule that
//! tests nothing ends the program: what follows it could never run, and the
//! verifier refuses unreachable instructions.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::bpf::{self, Insn, Reg};
use crate::{Error, Result};

/// `BPF_DEVCG_DEV_BLOCK` and `BPF_DEVCG_DEV_CHAR`, the type in the context.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
/// `BPF_DEVCG_ACC_MKNOD`, `_READ` and `_WRITE`, the access in the context.
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;
const ACC_ALL: i32 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// One OCI rule as the program tests it; `None` matches anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rule {
    allow: bool,
    kind: Option<i32>,
    major: Option<i32>,
    minor: Option<i32>,
    access: i32,
}

impl Rule {
    /// Checks and converts an OCI rule: type `p` and access letters outside
    /// `rwm` are invalid; a negative number is a wildcard, as in v1's `*`.
    fn from_oci(rule: &LinuxDeviceCgroup) -> Result<Self> {
        let kind = match rule.typ().unwrap_or_default() {
            LinuxDeviceType::A => None,
            LinuxDeviceType::B => Some(DEV_BLOCK),
            LinuxDeviceType::C | LinuxDeviceType::U => Some(DEV_CHAR),
            LinuxDeviceType::P => {
                return Err(Error::Invalid(
                    "device cgroup rules cannot name FIFOs (type p)".into(),
                ))
            }
        };
        let number = |n: Option<i64>, what: &str| match n {
            Some(n) if n >= 0 => i32::try_from(n).map(Some).map_err(|_| {
                Error::Invalid(format!("device cgroup rule {what} {n} is out of range"))
            }),
            _ => Ok(None),
        };
        let letters = rule.access().as_deref().unwrap_or("rwm");
        let bits = letters.chars().map(|letter| match letter {
            'r' => Some(ACC_READ),
            'w' => Some(ACC_WRITE),
            'm' => Some(ACC_MKNOD),
            _ => None,
        });
        let access = match bits.collect::<Option<Vec<_>>>() {
            Some(bits) if (1..=3).contains(&bits.len()) => bits.into_iter().fold(0, |a, b| a | b),
            _ => {
                return Err(Error::Invalid(format!(
                    "device cgroup access {letters:?} must be letters from \"rwm\""
                )))
            }
        };
        Ok(Self {
            allow: rule.allow(),
            kind,
            major: number(rule.major(), "major")?,
            minor: number(rule.minor(), "minor")?,
            access,
        })
    }

    /// The rule's block, and whether it tests anything at all.
    fn block(&self) -> (Vec<Insn>, bool) {
        let mut block = Vec::new();
        let mut skips = Vec::new();
        // Goes on to the next rule unless `reg == value`.
        let mut unless = |block: &mut Vec<Insn>, reg, value| {
            skips.push(block.len());
            block.push(Insn::jne(reg, value, 0));
        };
        if let Some(kind) = self.kind {
            unless(&mut block, Reg::R2, kind);
        }
        if self.access != ACC_ALL {
            // Requested bits outside the rule's access make it not match.
            block.push(Insn::mov_reg(Reg::R1, Reg::R3));
            block.push(Insn::and(Reg::R1, !self.access & ACC_ALL));
            unless(&mut block, Reg::R1, 0);
        }
        if let Some(major) = self.major {
            unless(&mut block, Reg::R4, major);
        }
        if let Some(minor) = self.minor {
            unless(&mut block, Reg::R5, minor);
        }
        block.push(Insn::mov(Reg::R0, i32::from(self.allow)));
        block.push(Insn::exit());
        for &at in &skips {
            // Blocks are at most eight instructions long.
            block[at].off = (block.len() - at - 1) as i16;
        }
        (block, !skips.is_empty())
    }
}

/// The device program for `rules` (see the module documentation).
fn program(rules: &[Rule]) -> Vec<Insn> {
    let mut program = vec![
        Insn::load_word(Reg::R2, Reg::R1, 0),
        Insn::and(Reg::R2, 0xffff),
        Insn::load_word(Reg::R3, Reg::R1, 0),
        Insn::rsh(Reg::R3, 16),
        Insn::load_word(Reg::R4, Reg::R1, 4),
        Insn::load_word(Reg::R5, Reg::R1, 8),
    ];
    for rule in rules.iter().rev() {
        let (block, conditional) = rule.block();
        program.extend(block);
        if !conditional {
            return program;
        }
    }
    program.extend([Insn::mov(Reg::R0, 0), Insn::exit()]);
    program
}

/// A step of [`apply`], for its error messages.
#[derive(Debug, Clone, Copy)]
enum Step {
    Load,
    List,
    Attach,
    Detach,
}

impl Step {
    fn doing(self) -> &'static str {
        match self {
            Step::Load => "load the BPF device program",
            Step::List => "list the attached BPF device programs",
            Step::Attach => "attach the BPF device program",
            Step::Detach => "detach the previous BPF device program",
        }
    }

    /// Refusals (EPERM) and missing kernel support (EINVAL, ENOSYS) are
    /// [`Error::Unsupported`], naming what is needed; anything else is I/O.
    fn error(self, dir: &Path, source: io::Error) -> Error {
        let needs = match (self, source.raw_os_error()) {
            (Step::Load, Some(libc::EPERM)) => "CAP_BPF or CAP_SYS_ADMIN",
            (Step::List, Some(libc::EPERM)) => "CAP_NET_ADMIN",
            (Step::Attach, Some(libc::EPERM)) => {
                "CAP_NET_ADMIN, and no device program attached to the cgroup without BPF_F_ALLOW_MULTI"
            }
            (Step::Detach, Some(libc::EPERM)) => "CAP_SYS_ADMIN",
            (_, Some(libc::EINVAL | libc::ENOSYS)) => {
                "a kernel with BPF_PROG_TYPE_CGROUP_DEVICE programs \
                 (Linux 4.15 or later built with CONFIG_BPF_SYSCALL and CONFIG_CGROUP_BPF)"
            }
            _ => {
                return Error::Io {
                    op: self.doing(),
                    path: dir.to_path_buf(),
                    source,
                }
            }
        };
        Error::Unsupported(format!(
            "cgroup v2 device rules need {needs}: could not {} for {}: {source}",
            self.doing(),
            dir.display()
        ))
    }
}

/// Loads `insns`; when the kernel refuses the program itself, the error
/// carries the verifier's log.
fn load(dir: &Path, insns: &[Insn]) -> Result<std::os::fd::OwnedFd> {
    let source = match bpf::load_device_program(insns, None) {
        Ok(fd) => return Ok(fd),
        Err(e) => e,
    };
    if matches!(source.raw_os_error(), Some(libc::EINVAL | libc::EACCES)) {
        let mut log = vec![0u8; 64 * 1024];
        if bpf::load_device_program(insns, Some(&mut log)).is_err() {
            let text = String::from_utf8_lossy(&log);
            let text = text.trim_end_matches('\0').trim();
            if !text.is_empty() {
                return Err(Error::Io {
                    op: Step::Load.doing(),
                    path: dir.to_path_buf(),
                    source: io::Error::new(source.kind(), format!("{source}; verifier: {text}")),
                });
            }
        }
    }
    Err(Step::Load.error(dir, source))
}

/// Replaces the device programs attached to the cgroup directory `dir` with
/// one enforcing `rules`. The new program is attached before the old ones are
/// detached, so the cgroup is never without one (while both are attached a
/// request needs both to allow it).
pub(crate) fn apply(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<()> {
    let rules = rules
        .iter()
        .map(Rule::from_oci)
        .collect::<Result<Vec<_>>>()?;
    let prog = load(dir, &program(&rules))?;
    let cgroup = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(dir)
        .map_err(|source| Error::Io {
            op: "open",
            path: dir.to_path_buf(),
            source,
        })?;
    let old = bpf::device_programs(&cgroup).map_err(|e| Step::List.error(dir, e))?;
    bpf::attach_device_program(&cgroup, &prog).map_err(|e| Step::Attach.error(dir, e))?;
    for id in old {
        // A program that went away meanwhile (ENOENT) needs no detaching.
        let detached =
            bpf::program_by_id(id).and_then(|old| bpf::detach_device_program(&cgroup, &old));
        match detached {
            Err(e) if e.raw_os_error() != Some(libc::ENOENT) => {
                return Err(Step::Detach.error(dir, e))
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceCgroupBuilder;
    use Reg::*;

    fn oci(
        allow: bool,
        typ: LinuxDeviceType,
        major: Option<i64>,
        minor: Option<i64>,
        access: &str,
    ) -> LinuxDeviceCgroup {
        let mut rule = LinuxDeviceCgroupBuilder::default()
            .allow(allow)
            .typ(typ)
            .access(access)
            .build()
            .unwrap();
        rule.set_major(major);
        rule.set_minor(minor);
        rule
    }

    fn rules(list: &[LinuxDeviceCgroup]) -> Vec<Rule> {
        list.iter()
            .map(|r| Rule::from_oci(r).expect("valid rule"))
            .collect()
    }

    const PROLOGUE: [Insn; 6] = [
        Insn::load_word(R2, R1, 0),
        Insn::and(R2, 0xffff),
        Insn::load_word(R3, R1, 0),
        Insn::rsh(R3, 16),
        Insn::load_word(R4, R1, 4),
        Insn::load_word(R5, R1, 8),
    ];

    /// The reference semantics: the last matching rule decides, else deny.
    fn decide(rules: &[Rule], kind: i32, access: i32, major: i32, minor: i32) -> bool {
        rules
            .iter()
            .rev()
            .find(|r| {
                r.kind.is_none_or(|k| k == kind)
                    && access & r.access == access
                    && r.major.is_none_or(|m| m == major)
                    && r.minor.is_none_or(|m| m == minor)
            })
            .is_some_and(|r| r.allow)
    }

    /// Runs a device program the way the kernel would, on one context.
    fn run(program: &[Insn], ctx: [u32; 3]) -> u64 {
        let mut reg = [0u64; 11];
        let mut pc = 0;
        loop {
            let insn = program[pc];
            pc += 1;
            let imm = i64::from(insn.imm) as u64;
            let (dst, src) = (insn.dst(), insn.src());
            match insn.code {
                0x61 => {
                    assert_eq!(src, 1, "loads only from the context");
                    reg[dst] = u64::from(ctx[insn.off as usize / 4]);
                }
                0x57 => reg[dst] &= imm,
                0x77 => reg[dst] >>= imm,
                0xb7 => reg[dst] = imm,
                0xbf => reg[dst] = reg[src],
                0x55 if reg[dst] != imm => pc = pc.checked_add_signed(insn.off.into()).unwrap(),
                0x55 => {}
                0x95 => return reg[0],
                code => panic!("unexpected opcode {code:#x}"),
            }
        }
    }

    /// Every instruction is reached by some path and no jump leaves the program.
    fn assert_well_formed(program: &[Insn]) {
        let mut reached = vec![false; program.len()];
        reached[0] = true;
        for (pc, insn) in program.iter().enumerate() {
            if !reached[pc] {
                panic!("instruction {pc} is unreachable: {program:?}");
            }
            if insn.code == 0x55 {
                let target = pc + 1 + usize::try_from(insn.off).unwrap();
                reached[target] = true;
            }
            if insn.code != 0x95 && pc + 1 < program.len() {
                reached[pc + 1] = true;
            }
        }
        assert_eq!(program.last().unwrap().code, 0x95, "ends in exit");
    }

    #[test]
    fn one_rule_program_encoding() {
        let program = program(&rules(&[oci(
            true,
            LinuxDeviceType::C,
            Some(1),
            Some(3),
            "rw",
        )]));
        let mut expected = PROLOGUE.to_vec();
        expected.extend([
            Insn::jne(R2, 2, 7),
            Insn::mov_reg(R1, R3),
            Insn::and(R1, 1),
            Insn::jne(R1, 0, 4),
            Insn::jne(R4, 1, 3),
            Insn::jne(R5, 3, 2),
            Insn::mov(R0, 1),
            Insn::exit(),
            Insn::mov(R0, 0),
            Insn::exit(),
        ]);
        assert_eq!(program, expected);
        // The same, byte for byte (code, dst | src << 4, off, imm).
        let raw: Vec<_> = program[6..]
            .iter()
            .map(|i| (i.code, i.regs, i.off, i.imm))
            .collect();
        if cfg!(target_endian = "little") {
            assert_eq!(
                raw,
                [
                    (0x55, 0x02, 7, 2),
                    (0xbf, 0x31, 0, 0),
                    (0x57, 0x01, 0, 1),
                    (0x55, 0x01, 4, 0),
                    (0x55, 0x04, 3, 1),
                    (0x55, 0x05, 2, 3),
                    (0xb7, 0x00, 0, 1),
                    (0x95, 0x00, 0, 0),
                    (0xb7, 0x00, 0, 0),
                    (0x95, 0x00, 0, 0),
                ]
            );
        }
    }

    #[test]
    fn a_rule_testing_nothing_ends_the_program() {
        let list = [
            oci(false, LinuxDeviceType::A, None, None, "rwm"),
            oci(true, LinuxDeviceType::C, None, None, "m"),
        ];
        let mut expected = PROLOGUE.to_vec();
        expected.extend([
            Insn::jne(R2, 2, 5),
            Insn::mov_reg(R1, R3),
            Insn::and(R1, 6),
            Insn::jne(R1, 0, 2),
            Insn::mov(R0, 1),
            Insn::exit(),
            Insn::mov(R0, 0),
            Insn::exit(),
        ]);
        assert_eq!(program(&rules(&list)), expected);

        let mut deny_all = PROLOGUE.to_vec();
        deny_all.extend([Insn::mov(R0, 0), Insn::exit()]);
        assert_eq!(program(&[]), deny_all);
    }

    #[test]
    fn programs_decide_like_the_rules() {
        use LinuxDeviceType::{A, B, C, U};
        let lists = [
            vec![],
            // What the runtime asks for: deny all, then the usual devices.
            vec![
                oci(false, A, None, None, "rwm"),
                oci(true, C, None, None, "m"),
                oci(true, B, None, None, "m"),
                oci(true, C, Some(1), Some(3), "rwm"),
                oci(true, C, Some(1), Some(5), "rwm"),
                oci(true, C, Some(136), None, "rwm"),
                oci(true, U, Some(5), Some(1), "rw"),
            ],
            // Later rules override earlier ones, in both directions.
            vec![
                oci(true, A, None, None, "rwm"),
                oci(false, C, Some(1), None, "w"),
                oci(true, C, Some(1), Some(5), "rw"),
                oci(false, B, Some(8), Some(-1), "rwm"),
                oci(false, A, None, Some(7), "r"),
            ],
            vec![oci(true, A, Some(1), None, "r")],
        ];
        for list in &lists {
            let rules = rules(list);
            let program = program(&rules);
            assert_well_formed(&program);
            for kind in [DEV_BLOCK, DEV_CHAR] {
                for access in 1..=ACC_ALL {
                    for major in [0, 1, 5, 8, 136, 4095] {
                        for minor in [0, 1, 3, 5, 7, 9] {
                            let ctx = [(access << 16 | kind) as u32, major as u32, minor as u32];
                            let want = decide(&rules, kind, access, major, minor);
                            assert_eq!(run(&program, ctx), u64::from(want), "{rules:?} on {ctx:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn decisions_for_a_container_list() {
        let rules = rules(&[
            oci(false, LinuxDeviceType::A, None, None, "rwm"),
            oci(true, LinuxDeviceType::C, Some(1), Some(3), "rwm"),
            oci(true, LinuxDeviceType::C, Some(1), Some(5), "r"),
        ]);
        let program = program(&rules);
        let allowed = |kind, access, major, minor| {
            let ctx = [(access << 16 | kind) as u32, major, minor];
            run(&program, ctx) == 1
        };
        let (r, w, m) = (ACC_READ, ACC_WRITE, ACC_MKNOD);
        assert!(allowed(DEV_CHAR, r | w, 1, 3), "/dev/null read-write");
        assert!(allowed(DEV_CHAR, m, 1, 3), "mknod /dev/null");
        assert!(allowed(DEV_CHAR, r, 1, 5), "/dev/zero read");
        assert!(!allowed(DEV_CHAR, w, 1, 5), "/dev/zero write");
        assert!(!allowed(DEV_CHAR, r | w, 1, 5), "/dev/zero read-write");
        assert!(!allowed(DEV_CHAR, r, 1, 7), "/dev/full read");
        assert!(!allowed(DEV_BLOCK, r, 1, 3), "block 1:3");
    }

    #[test]
    fn refusals_and_old_kernels_are_unsupported() {
        let dir = Path::new("/sys/fs/cgroup/ctr");
        let errno = io::Error::from_raw_os_error;
        let text = |e: Error| match e {
            Error::Unsupported(text) => text,
            other => panic!("not unsupported: {other:?}"),
        };
        let load = text(Step::Load.error(dir, errno(libc::EPERM)));
        assert!(
            load.contains("CAP_BPF") && load.contains("/sys/fs/cgroup/ctr"),
            "{load}"
        );
        let old = text(Step::Attach.error(dir, errno(libc::EINVAL)));
        assert!(old.contains("BPF_PROG_TYPE_CGROUP_DEVICE"), "{old}");
        assert!(matches!(
            Step::Detach.error(dir, errno(libc::EBADF)),
            Error::Io { .. }
        ));
    }

    #[test]
    fn oci_rules_are_checked() {
        let rule = Rule::from_oci(&oci(true, LinuxDeviceType::U, Some(-1), Some(4), "mr")).unwrap();
        assert_eq!(
            rule,
            Rule {
                allow: true,
                kind: Some(DEV_CHAR),
                major: None,
                minor: Some(4),
                access: ACC_MKNOD | ACC_READ,
            }
        );
        let defaults = Rule::from_oci(&LinuxDeviceCgroup::default()).unwrap();
        assert_eq!((defaults.kind, defaults.access), (None, ACC_ALL));
        for bad in [
            oci(true, LinuxDeviceType::P, None, None, "rwm"),
            oci(true, LinuxDeviceType::C, None, None, "rx"),
            oci(true, LinuxDeviceType::C, None, None, ""),
            oci(true, LinuxDeviceType::C, Some(1 << 31), None, "r"),
        ] {
            assert!(
                matches!(Rule::from_oci(&bad), Err(Error::Invalid(_))),
                "{bad:?}"
            );
        }
    }
}
