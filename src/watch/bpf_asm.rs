//! A tiny BPF assembler: the few instructions and helpers portscope's tracepoint programs use.
//!
//! The programs are a few dozen instructions each, assembled here so that no clang or BPF
//! toolchain is needed on the host. `struct bpf_insn` is { code: u8, dst:4 src:4, off: i16,
//! imm: i32 }, packed into one u64 in memory order (little-endian hosts).
// Instruction fields are fixed-width (i16 offsets, i32 immediates): values are packed and
// reinterpreted bit for bit on purpose.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]
#![allow(dead_code)]

pub const R0: u8 = 0;
pub const R1: u8 = 1;
pub const R2: u8 = 2;
pub const R3: u8 = 3;
pub const R4: u8 = 4;
pub const R5: u8 = 5;
pub const R6: u8 = 6;
pub const R7: u8 = 7;
pub const R8: u8 = 8;
pub const R9: u8 = 9;
pub const R10: u8 = 10;

pub fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> u64 {
    u64::from(code)
        | (u64::from(dst & 0xf) << 8)
        | (u64::from(src & 0xf) << 12)
        | (u64::from(off as u16) << 16)
        | (u64::from(imm as u32) << 32)
}

pub fn mov_reg(dst: u8, src: u8) -> u64 {
    insn(0xbf, dst, src, 0, 0) // ALU64 | MOV | X
}
pub fn mov_imm(dst: u8, imm: i32) -> u64 {
    insn(0xb7, dst, 0, 0, imm) // ALU64 | MOV | K
}
pub fn mov32_imm(dst: u8, imm: i32) -> u64 {
    insn(0xb4, dst, 0, 0, imm) // ALU | MOV | K: zero-extends
}
pub fn add_imm(dst: u8, imm: i32) -> u64 {
    insn(0x07, dst, 0, 0, imm)
}
pub fn ldx_dw(dst: u8, src: u8, off: i16) -> u64 {
    insn(0x79, dst, src, off, 0)
}
pub fn ldx_h(dst: u8, src: u8, off: i16) -> u64 {
    insn(0x69, dst, src, off, 0)
}
pub fn stx_dw(dst: u8, off: i16, src: u8) -> u64 {
    insn(0x7b, dst, src, off, 0)
}
pub fn st_dw(dst: u8, off: i16, imm: i32) -> u64 {
    insn(0x7a, dst, 0, off, imm)
}
pub fn jeq_imm(dst: u8, imm: i32, off: i16) -> u64 {
    insn(0x15, dst, 0, off, imm)
}
pub fn jne_imm(dst: u8, imm: i32, off: i16) -> u64 {
    insn(0x55, dst, 0, off, imm)
}
pub fn jlt_imm(dst: u8, imm: i32, off: i16) -> u64 {
    insn(0xa5, dst, 0, off, imm)
}
pub fn ja(off: i16) -> u64 {
    insn(0x05, 0, 0, off, 0)
}
pub fn call(helper: i32) -> u64 {
    insn(0x85, 0, 0, 0, helper)
}
pub fn exit() -> u64 {
    insn(0x95, 0, 0, 0, 0)
}
/// `dst = map` (a 16-byte ld_imm64 with BPF_PSEUDO_MAP_FD).
pub fn ld_map(dst: u8, map_fd: i32) -> [u64; 2] {
    [insn(0x18, dst, 1, 0, map_fd), 0]
}

pub const HELPER_GET_PID_TGID: i32 = 14;
pub const HELPER_GET_UID_GID: i32 = 15;
pub const HELPER_GET_COMM: i32 = 16;
pub const HELPER_PERF_EVENT_OUTPUT: i32 = 25;
pub const HELPER_PROBE_READ_USER: i32 = 112;

pub const HELPER_MAP_LOOKUP: i32 = 1;
pub const HELPER_MAP_UPDATE: i32 = 2;
pub const HELPER_MAP_DELETE: i32 = 3;

pub fn ldx_w(dst: u8, src: u8, off: i16) -> u64 {
    insn(0x61, dst, src, off, 0) // zero-extends
}
pub fn stx_w(dst: u8, off: i16, src: u8) -> u64 {
    insn(0x63, dst, src, off, 0)
}
pub fn st_w(dst: u8, off: i16, imm: i32) -> u64 {
    insn(0x62, dst, 0, off, imm)
}
pub fn lsh_imm(dst: u8, imm: i32) -> u64 {
    insn(0x67, dst, 0, 0, imm)
}
pub fn rsh_imm(dst: u8, imm: i32) -> u64 {
    insn(0x77, dst, 0, 0, imm) // logical
}
pub fn or_reg(dst: u8, src: u8) -> u64 {
    insn(0x4f, dst, src, 0, 0)
}
pub fn and_reg(dst: u8, src: u8) -> u64 {
    insn(0x5f, dst, src, 0, 0)
}
/// `dst ^= imm`, imm sign-extended: `xor_imm(r, -1)` is a bitwise not.
pub fn xor_imm(dst: u8, imm: i32) -> u64 {
    insn(0xa7, dst, 0, 0, imm)
}
/// `*(u64 *)(dst + off) += src`, atomically (BPF_STX | BPF_DW | BPF_ATOMIC, BPF_ADD).
pub fn atomic_add_dw(dst: u8, off: i16, src: u8) -> u64 {
    insn(0xdb, dst, src, off, 0)
}

/// A jump target in an [`Asm`] program.
#[derive(Debug, Clone, Copy)]
pub struct Label(usize);

/// Builds a program with forward and backward jumps to labels, patched by [`Asm::finish`].
#[derive(Debug, Default)]
pub struct Asm {
    code: Vec<u64>,
    fixups: Vec<(usize, Label)>,
    labels: Vec<Option<usize>>,
}

impl Asm {
    pub fn new() -> Asm {
        Asm::default()
    }
    pub fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }
    /// The next instruction is `l`.
    pub fn bind(&mut self, l: Label) {
        self.labels[l.0] = Some(self.code.len());
    }
    pub fn op(&mut self, i: u64) -> &mut Asm {
        self.code.push(i);
        self
    }
    pub fn ops(&mut self, is: impl IntoIterator<Item = u64>) -> &mut Asm {
        self.code.extend(is);
        self
    }
    fn jump(&mut self, code: u8, dst: u8, imm: i32, to: Label) -> &mut Asm {
        self.fixups.push((self.code.len(), to));
        self.op(insn(code, dst, 0, 0, imm))
    }
    pub fn jeq(&mut self, dst: u8, imm: i32, to: Label) -> &mut Asm {
        self.jump(0x15, dst, imm, to)
    }
    pub fn jne(&mut self, dst: u8, imm: i32, to: Label) -> &mut Asm {
        self.jump(0x55, dst, imm, to)
    }
    /// Signed `dst < imm`.
    pub fn jslt(&mut self, dst: u8, imm: i32, to: Label) -> &mut Asm {
        self.jump(0xc5, dst, imm, to)
    }
    pub fn goto(&mut self, to: Label) -> &mut Asm {
        self.jump(0x05, 0, 0, to)
    }
    /// The instructions, every jump patched. Panics only on a label never bound: a bug in the
    /// program text, caught by its unit test.
    pub fn finish(mut self) -> Vec<u64> {
        for (at, l) in std::mem::take(&mut self.fixups) {
            let to = self.labels[l.0].unwrap_or_else(|| panic!("BPF label {} never bound", l.0));
            let off = (to as i64 - at as i64 - 1) as i16;
            let i = self.code[at];
            self.code[at] = (i & !(0xffff << 16)) | (u64::from(off as u16) << 16);
        }
        self.code
    }
}

/// What every program returns. A tracepoint program's result decides whether the event goes on
/// to the perf events opened on the same tracepoint: 0 drops it for all of them (the kernel's
/// perf_syscall_exit does so), which would blind `perf trace`, another tool, or portscope's own
/// plain tracepoint rings (`watch --binds` reads sys_exit_bind that way) while a recorder runs.
pub const PASS: i32 = 1;
