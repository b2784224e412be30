//! Just enough eBPF for cgroup v2 device programs: the instructions
//! [`crate::v2_devices`] emits, and the bpf(2) commands that load a
//! `BPF_PROG_TYPE_CGROUP_DEVICE` program and attach, list and detach such
//! programs on a cgroup directory. Layouts follow the kernel's
//! `include/uapi/linux/bpf.h`; each attribute struct is the prefix of
//! `union bpf_attr` that its command reads, and its size is passed along (the
//! kernel zeroes the rest).

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// `BPF_PROG_TYPE_CGROUP_DEVICE` in `enum bpf_prog_type`.
const PROG_TYPE_CGROUP_DEVICE: u32 = 15;
/// `BPF_CGROUP_DEVICE` in `enum bpf_attach_type`.
const ATTACH_CGROUP_DEVICE: u32 = 6;
/// `BPF_F_ALLOW_MULTI`: several programs on one cgroup, all of which must allow.
const F_ALLOW_MULTI: u32 = 2;
/// The kernel's limit on programs attached to one cgroup for one attach type
/// (`BPF_CGROUP_MAX_PROGS`), so a query never needs a bigger buffer.
const MAX_PROGS: usize = 64;

// bpf(2) commands, from `enum bpf_cmd`.
const CMD_PROG_LOAD: libc::c_long = 5;
const CMD_PROG_ATTACH: libc::c_long = 8;
const CMD_PROG_DETACH: libc::c_long = 9;
const CMD_PROG_GET_FD_BY_ID: libc::c_long = 13;
const CMD_PROG_QUERY: libc::c_long = 16;

// Instruction classes, operations and operand sources.
const CLASS_LDX: u8 = 0x01;
const CLASS_JMP: u8 = 0x05;
const CLASS_ALU64: u8 = 0x07;
const SIZE_W: u8 = 0x00;
const MODE_MEM: u8 = 0x60;
const OP_AND: u8 = 0x50;
const OP_RSH: u8 = 0x70;
const OP_MOV: u8 = 0xb0;
const OP_JNE: u8 = 0x50;
const OP_EXIT: u8 = 0x90;
const SRC_K: u8 = 0x00;
const SRC_X: u8 = 0x08;

/// The registers device programs use. On entry `R1` points at the context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Reg {
    R0 = 0,
    R1,
    R2,
    R3,
    R4,
    R5,
}

/// One eBPF instruction, `struct bpf_insn`: the registers share a byte,
/// `dst_reg:4` then `src_reg:4` as C bit-fields lay them out.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Insn {
    /// Class, operation and operand source.
    pub(crate) code: u8,
    /// Destination and source registers.
    pub(crate) regs: u8,
    /// Memory offset, or how many instructions a jump skips.
    pub(crate) off: i16,
    /// The immediate operand.
    pub(crate) imm: i32,
}

impl Insn {
    const fn new(code: u8, dst: Reg, src: Reg, off: i16, imm: i32) -> Self {
        let (dst, src) = (dst as u8, src as u8);
        let regs = if cfg!(target_endian = "little") {
            src << 4 | dst
        } else {
            dst << 4 | src
        };
        Self {
            code,
            regs,
            off,
            imm,
        }
    }

    /// `dst = *(u32 *)(src + off)`.
    pub(crate) const fn load_word(dst: Reg, src: Reg, off: i16) -> Self {
        Self::new(CLASS_LDX | MODE_MEM | SIZE_W, dst, src, off, 0)
    }

    /// `dst &= imm` (64-bit, `imm` sign-extended).
    pub(crate) const fn and(dst: Reg, imm: i32) -> Self {
        Self::new(CLASS_ALU64 | OP_AND | SRC_K, dst, Reg::R0, 0, imm)
    }

    /// `dst >>= imm` (64-bit, logical).
    pub(crate) const fn rsh(dst: Reg, imm: i32) -> Self {
        Self::new(CLASS_ALU64 | OP_RSH | SRC_K, dst, Reg::R0, 0, imm)
    }

    /// `dst = imm` (64-bit, sign-extended).
    pub(crate) const fn mov(dst: Reg, imm: i32) -> Self {
        Self::new(CLASS_ALU64 | OP_MOV | SRC_K, dst, Reg::R0, 0, imm)
    }

    /// `dst = src` (64-bit).
    pub(crate) const fn mov_reg(dst: Reg, src: Reg) -> Self {
        Self::new(CLASS_ALU64 | OP_MOV | SRC_X, dst, src, 0, 0)
    }

    /// `if dst != imm goto +off` (64-bit compare, `imm` sign-extended).
    pub(crate) const fn jne(dst: Reg, imm: i32, off: i16) -> Self {
        Self::new(CLASS_JMP | OP_JNE | SRC_K, dst, Reg::R0, off, imm)
    }

    /// `return r0`.
    pub(crate) const fn exit() -> Self {
        Self::new(CLASS_JMP | OP_EXIT, Reg::R0, Reg::R0, 0, 0)
    }

    /// The destination register number (for the tests' interpreter).
    #[cfg(test)]
    pub(crate) fn dst(&self) -> usize {
        usize::from(if cfg!(target_endian = "little") {
            self.regs & 0xf
        } else {
            self.regs >> 4
        })
    }

    /// The source register number (for the tests' interpreter).
    #[cfg(test)]
    pub(crate) fn src(&self) -> usize {
        usize::from(if cfg!(target_endian = "little") {
            self.regs >> 4
        } else {
            self.regs & 0xf
        })
    }
}

/// `union bpf_attr` for BPF_PROG_LOAD, up to `prog_name`.
#[repr(C)]
struct LoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
}

/// `union bpf_attr` for BPF_PROG_ATTACH and BPF_PROG_DETACH.
#[repr(C)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// `union bpf_attr` for BPF_PROG_QUERY, up to `prog_cnt` (the padding after
/// it is spelt out so every byte handed to the kernel is initialised).
#[repr(C)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    pad: u32,
}

/// `union bpf_attr` for BPF_PROG_GET_FD_BY_ID.
#[repr(C)]
struct GetFdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// The attribute structs above: `repr(C)`, no implicit padding, laid out as
/// the kernel reads them.
trait Attr {}
impl Attr for LoadAttr {}
impl Attr for AttachAttr {}
impl Attr for QueryAttr {}
impl Attr for GetFdAttr {}

/// bpf(2): the command's result (a new fd for some commands) or the error.
fn bpf<A: Attr>(cmd: libc::c_long, attr: &mut A) -> io::Result<libc::c_long> {
    let size = std::mem::size_of::<A>() as libc::c_uint;
    // SAFETY: `attr` is a live, fully initialised repr(C) prefix of `union
    // bpf_attr` for `cmd`, `size` bytes long; the kernel reads and writes at
    // most `size` bytes of it. Pointers inside it are checked by the callers
    // to outlive the call.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut A, size) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Takes ownership of the fd a bpf(2) command returned.
fn owned_fd(ret: libc::c_long) -> io::Result<OwnedFd> {
    let fd = i32::try_from(ret).map_err(|_| io::Error::other("bpf(2) returned a bad fd"))?;
    // SAFETY: the kernel just returned `fd` as a new descriptor (close-on-exec)
    // that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn fd_u32(fd: &impl AsRawFd) -> u32 {
    // Open descriptors are never negative.
    fd.as_raw_fd() as u32
}

/// Loads `insns` as a `BPF_PROG_TYPE_CGROUP_DEVICE` program named
/// `skiff_devices`. With `log`, the verifier writes its messages there (the
/// program calls no GPL-only helper, so the license string is not checked).
pub(crate) fn load_device_program(insns: &[Insn], log: Option<&mut [u8]>) -> io::Result<OwnedFd> {
    const LICENSE: &[u8] = b"Apache-2.0\0";
    let mut name = [0u8; 16];
    name[..13].copy_from_slice(b"skiff_devices");
    let (log_level, log_size, log_buf) = match log {
        Some(buf) => (
            1,
            u32::try_from(buf.len()).unwrap_or(u32::MAX),
            buf.as_mut_ptr() as u64,
        ),
        None => (0, 0, 0),
    };
    let mut attr = LoadAttr {
        prog_type: PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: u32::try_from(insns.len()).map_err(|_| io::Error::other("program too long"))?,
        insns: insns.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        log_level,
        log_size,
        log_buf,
        kern_version: 0,
        prog_flags: 0,
        prog_name: name,
    };
    owned_fd(bpf(CMD_PROG_LOAD, &mut attr)?)
}

/// Attaches the device program `prog` to the cgroup directory `cgroup`
/// beside any already there (`BPF_F_ALLOW_MULTI`).
pub(crate) fn attach_device_program(cgroup: &File, prog: &OwnedFd) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: fd_u32(cgroup),
        attach_bpf_fd: fd_u32(prog),
        attach_type: ATTACH_CGROUP_DEVICE,
        attach_flags: F_ALLOW_MULTI,
        replace_bpf_fd: 0,
    };
    bpf(CMD_PROG_ATTACH, &mut attr).map(drop)
}

/// Detaches the device program `prog` from the cgroup directory `cgroup`.
pub(crate) fn detach_device_program(cgroup: &File, prog: &OwnedFd) -> io::Result<()> {
    let mut attr = AttachAttr {
        target_fd: fd_u32(cgroup),
        attach_bpf_fd: fd_u32(prog),
        attach_type: ATTACH_CGROUP_DEVICE,
        attach_flags: 0,
        replace_bpf_fd: 0,
    };
    bpf(CMD_PROG_DETACH, &mut attr).map(drop)
}

/// Ids of the device programs attached to the cgroup directory `cgroup`
/// itself (not those inherited from its ancestors).
pub(crate) fn device_programs(cgroup: &File) -> io::Result<Vec<u32>> {
    let mut ids = [0u32; MAX_PROGS];
    let mut attr = QueryAttr {
        target_fd: fd_u32(cgroup),
        attach_type: ATTACH_CGROUP_DEVICE,
        query_flags: 0,
        attach_flags: 0,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: MAX_PROGS as u32,
        pad: 0,
    };
    bpf(CMD_PROG_QUERY, &mut attr)?;
    let count = (attr.prog_cnt as usize).min(MAX_PROGS);
    Ok(ids[..count].to_vec())
}

/// A new fd for the loaded program with id `id`.
pub(crate) fn program_by_id(id: u32) -> io::Result<OwnedFd> {
    let mut attr = GetFdAttr {
        prog_id: id,
        next_id: 0,
        open_flags: 0,
    };
    owned_fd(bpf(CMD_PROG_GET_FD_BY_ID, &mut attr)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(insn: Insn) -> (u8, u8, i16, i32) {
        (insn.code, insn.regs, insn.off, insn.imm)
    }

    #[test]
    fn layouts_match_the_kernel() {
        assert_eq!(std::mem::size_of::<Insn>(), 8);
        assert_eq!(std::mem::size_of::<LoadAttr>(), 64);
        assert_eq!(std::mem::size_of::<AttachAttr>(), 20);
        assert_eq!(std::mem::size_of::<QueryAttr>(), 32);
        assert_eq!(std::mem::size_of::<GetFdAttr>(), 12);
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn instruction_encoding() {
        use Reg::*;
        assert_eq!(raw(Insn::load_word(R4, R1, 4)), (0x61, 0x14, 4, 0));
        assert_eq!(raw(Insn::and(R2, 0xffff)), (0x57, 0x02, 0, 0xffff));
        assert_eq!(raw(Insn::rsh(R3, 16)), (0x77, 0x03, 0, 16));
        assert_eq!(raw(Insn::mov(R0, 1)), (0xb7, 0x00, 0, 1));
        assert_eq!(raw(Insn::mov_reg(R1, R3)), (0xbf, 0x31, 0, 0));
        assert_eq!(raw(Insn::jne(R5, 3, 2)), (0x55, 0x05, 2, 3));
        assert_eq!(raw(Insn::exit()), (0x95, 0x00, 0, 0));
        let insn = Insn::mov_reg(R1, R3);
        assert_eq!((insn.dst(), insn.src()), (1, 3));
    }
}
