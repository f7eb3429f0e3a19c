//! The recorder's four BPF programs. Only refused calls ever reach userspace:
//!
//! * on `sys_enter_bind` / `sys_enter_connect`: an IPv4 or IPv6 address is copied from the
//!   caller's memory, with pid and fd, into `pending[tid]` (no output);
//! * on `sys_exit_bind` / `sys_exit_connect`: `pending[tid]` is taken; when the result is one of
//!   the refusals asked for, the caller's comm and uid and the socket's options (as far as they
//!   were seen) are added and the record goes to the perf ring with the result. A successful
//!   call costs two map operations and nothing in userspace;
//! * on `sys_enter_setsockopt`: SO_REUSEADDR, SO_REUSEPORT, IPV6_V6ONLY, IP(V6)_FREEBIND and
//!   IP_BIND_ADDRESS_NO_PORT as the caller sets them, kept per (tgid, fd) in an LRU map. The
//!   tracepoints carry no socket, and without BTF offsets a program cannot read `struct sock`:
//!   following the caller's own setsockopt() calls is how the options are known in the caller's
//!   context, at the moment of the call;
//! * on `sys_exit_socket`: a new socket's (tgid, fd) is marked "created while recording", so its
//!   options read as "not set" rather than "unknown". A socket made before the recorder started
//!   (or inherited, or duplicated) has no entry and its options are reported as unknown.
//!
//! A failed `pending` insert (the map full: more calls in flight than it holds) is counted in
//! `missed`, which userspace reports as lost: a refusal is recorded or counted, never dropped
//! silently.
// BPF programs: record offsets and jump distances are small constants packed into the
// instructions' fixed-width fields on purpose.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

use crate::watch::bpf_asm::*;

/// The record in `pending` and in the ring (bytes).
pub const REC_LEN: i32 = 96;
pub const OFF_PID_TGID: usize = 0;
pub const OFF_FD: usize = 8;
pub const OFF_SOCKADDR: usize = 16;
pub const OFF_COMM: usize = 48;
pub const OFF_UID_GID: usize = 64;
pub const OFF_OPTS: usize = 72;
pub const OFF_RET: usize = 80;
pub const OFF_CALL: usize = 88;
const SOCKADDR_MAX: i32 = 28;

/// Bits of the options word: each option has a "seen" bit (2k) and a "set to non-zero" bit
/// (2k+1); `CREATED` marks a socket made while the recorder ran.
pub const OPT_REUSEADDR: u32 = 0;
pub const OPT_REUSEPORT: u32 = 1;
pub const OPT_V6ONLY: u32 = 2;
pub const OPT_FREEBIND: u32 = 3;
pub const OPT_BIND_ADDRESS_NO_PORT: u32 = 4;
pub const CREATED: u64 = 1 << 62;
/// Bits 56..59 of the options word: the socket's type as socket() was asked for it
/// (SOCK_STREAM 1, SOCK_DGRAM 2), so the protocol is known even once the socket is closed.
pub const TYPE_SHIFT: u32 = 56;

/// `(level, optname, option)` pairs the setsockopt program follows.
const WATCHED_OPTIONS: [(i32, i32, u32); 6] = [
    (1, 2, OPT_REUSEADDR),             // SOL_SOCKET, SO_REUSEADDR
    (1, 15, OPT_REUSEPORT),            // SOL_SOCKET, SO_REUSEPORT
    (41, 26, OPT_V6ONLY),              // IPPROTO_IPV6, IPV6_V6ONLY
    (41, 78, OPT_FREEBIND),            // IPPROTO_IPV6, IPV6_FREEBIND
    (0, 15, OPT_FREEBIND),             // IPPROTO_IP, IP_FREEBIND
    (0, 24, OPT_BIND_ADDRESS_NO_PORT), // IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT
];

/// The maps the programs share (fds, as ld_map wants them).
#[derive(Debug, Clone, Copy)]
pub struct Maps {
    pub pending: i32,
    pub options: i32,
    pub ring: i32,
    pub missed: i32,
    /// socket() calls in flight: tid -> type, from entry to exit.
    pub kinds: i32,
}

/// Field offsets in a `sys_enter_bind`/`sys_enter_connect` record.
#[derive(Debug, Clone, Copy)]
pub struct EnterFields {
    pub fd: i16,
    pub addr: i16,
    pub addrlen: i16,
}

/// Field offsets in a `sys_enter_setsockopt` record.
#[derive(Debug, Clone, Copy)]
pub struct SetsockoptFields {
    pub fd: i16,
    pub level: i16,
    pub optname: i16,
    pub optval: i16,
}

/// `key = (pid_tgid & !0xffffffff) | (fd & 0xffffffff)` into `dst`, from pid_tgid in `r0` and the
/// fd in `fd`; both clobbered.
fn options_key(a: &mut Asm, dst: u8, fd: u8) {
    a.ops([
        rsh_imm(R0, 32),
        lsh_imm(R0, 32),
        lsh_imm(fd, 32),
        rsh_imm(fd, 32),
        or_reg(R0, fd),
        mov_reg(dst, R0),
    ]);
}

/// The entering side of bind() (`which` 0) or connect() (`which` 1).
pub fn enter(f: EnterFields, which: i32, m: Maps) -> Vec<u64> {
    const BASE: i16 = -(REC_LEN as i16); // the record at r10-96
    const KEY_TID: i16 = BASE - 16;
    let at = |off: usize| BASE + off as i16;
    let mut a = Asm::new();
    let out = a.label();
    let family_ok = a.label();
    a.op(mov_reg(R6, R1));
    for k in 0..(REC_LEN / 8) as i16 {
        a.op(st_dw(R10, BASE + 8 * k, 0));
    }
    let short = a.label();
    a.ops([ldx_dw(R2, R6, f.addrlen)]);
    // size = min(addrlen, 28): the verifier must see the bound.
    a.op(jlt_imm(R2, SOCKADDR_MAX + 1, 1));
    a.op(mov_imm(R2, SOCKADDR_MAX));
    a.bind(short);
    a.ops([
        ldx_dw(R3, R6, f.addr),
        mov_reg(R1, R10),
        add_imm(R1, i32::from(at(OFF_SOCKADDR))),
        call(HELPER_PROBE_READ_USER),
    ]);
    a.jne(R0, 0, out);
    a.op(ldx_h(R1, R10, at(OFF_SOCKADDR)));
    a.jeq(R1, 2, family_ok); // AF_INET
    a.jeq(R1, 10, family_ok); // AF_INET6
    a.goto(out); // AF_UNIX, AF_UNSPEC (a disconnect), ...: not a port
    a.bind(family_ok);
    a.ops([
        call(HELPER_GET_PID_TGID),
        mov_reg(R7, R0),
        stx_dw(R10, at(OFF_PID_TGID), R0),
        ldx_dw(R1, R6, f.fd),
        stx_dw(R10, at(OFF_FD), R1),
    ]);
    a.ops([st_dw(R10, at(OFF_CALL), which), stx_w(R10, KEY_TID, R7)]);
    a.ops(ld_map(R1, m.pending));
    a.ops([
        mov_reg(R2, R10),
        add_imm(R2, i32::from(KEY_TID)),
        mov_reg(R3, R10),
        add_imm(R3, i32::from(BASE)),
        mov_imm(R4, 0), // BPF_ANY: a stale entry of a dead thread with this tid is replaced
        call(HELPER_MAP_UPDATE),
    ]);
    a.jeq(R0, 0, out);
    count_missed(&mut a, m.missed, KEY_TID, out);
    a.bind(out);
    a.ops([mov_imm(R0, PASS), exit()]);
    a.finish()
}

/// `missed[0] += 1`; uses the stack slot `key`.
fn count_missed(a: &mut Asm, missed: i32, key: i16, out: Label) {
    a.op(st_w(R10, key, 0));
    a.ops(ld_map(R1, missed));
    a.ops([
        mov_reg(R2, R10),
        add_imm(R2, i32::from(key)),
        call(HELPER_MAP_LOOKUP),
    ]);
    a.jeq(R0, 0, out);
    a.ops([mov_imm(R1, 1), atomic_add_dw(R0, 0, R1)]);
}

/// The returning side: `ret` is the offset of the result; `refusals` the errnos recorded.
pub fn exit_side(ret: i16, refusals: &[i32], m: Maps) -> Vec<u64> {
    let mut a = Asm::new();
    let out = a.label();
    let hit = a.label();
    let forget = a.label();
    a.ops([
        mov_reg(R6, R1),
        ldx_dw(R7, R6, ret),
        call(HELPER_GET_PID_TGID),
        stx_w(R10, -8, R0),
    ]);
    a.ops(ld_map(R1, m.pending));
    a.ops([mov_reg(R2, R10), add_imm(R2, -8), call(HELPER_MAP_LOOKUP)]);
    a.jeq(R0, 0, out);
    a.op(mov_reg(R8, R0));
    for &e in refusals {
        a.jeq(R7, -e, hit);
    }
    a.goto(forget);
    a.bind(hit);
    // What only a refusal needs is read here, not on every call's entry: the caller's name
    // and uid, and the socket's options (keyed by tgid and fd).
    let no_options = a.label();
    a.ops([
        stx_dw(R8, OFF_RET as i16, R7),
        mov_reg(R1, R8),
        add_imm(R1, OFF_COMM as i32),
        mov_imm(R2, 16),
        call(HELPER_GET_COMM),
        call(HELPER_GET_UID_GID),
        stx_dw(R8, OFF_UID_GID as i16, R0),
        call(HELPER_GET_PID_TGID),
        ldx_dw(R1, R8, OFF_FD as i16),
    ]);
    options_key(&mut a, R2, R1);
    a.op(stx_dw(R10, -16, R2));
    a.ops(ld_map(R1, m.options));
    a.ops([mov_reg(R2, R10), add_imm(R2, -16), call(HELPER_MAP_LOOKUP)]);
    a.jeq(R0, 0, no_options);
    a.ops([ldx_dw(R1, R0, 0), stx_dw(R8, OFF_OPTS as i16, R1)]);
    a.bind(no_options);
    a.op(mov_reg(R1, R6));
    a.ops(ld_map(R2, m.ring));
    a.ops([
        mov32_imm(R3, -1), // BPF_F_CURRENT_CPU
        mov_reg(R4, R8),
        mov_imm(R5, REC_LEN),
        call(HELPER_PERF_EVENT_OUTPUT),
    ]);
    a.bind(forget);
    a.ops(ld_map(R1, m.pending));
    a.ops([mov_reg(R2, R10), add_imm(R2, -8), call(HELPER_MAP_DELETE)]);
    a.bind(out);
    a.ops([mov_imm(R0, PASS), exit()]);
    a.finish()
}

/// Follows the options that decide bind conflicts, as the caller sets them.
pub fn setsockopt(f: SetsockoptFields, m: Maps) -> Vec<u64> {
    let mut a = Asm::new();
    let out = a.label();
    let chosen = a.label();
    let have = a.label();
    let store = a.label();
    a.ops([
        mov_reg(R6, R1),
        ldx_dw(R7, R6, f.level),
        ldx_dw(R8, R6, f.optname),
    ]);
    for (level, name, opt) in WATCHED_OPTIONS {
        let next = a.label();
        a.jne(R7, level, next);
        a.jne(R8, name, next);
        a.op(mov_imm(R9, 1 << (2 * opt)));
        a.goto(chosen);
        a.bind(next);
    }
    a.goto(out);
    a.bind(chosen);
    a.ops([
        st_dw(R10, -8, 0),
        mov_reg(R1, R10),
        add_imm(R1, -8),
        mov_imm(R2, 4),
        ldx_dw(R3, R6, f.optval),
        call(HELPER_PROBE_READ_USER),
    ]);
    a.jne(R0, 0, out);
    a.ops([
        ldx_w(R8, R10, -8),
        call(HELPER_GET_PID_TGID),
        ldx_dw(R1, R6, f.fd),
    ]);
    options_key(&mut a, R2, R1);
    a.op(stx_dw(R10, -16, R2));
    a.ops(ld_map(R1, m.options));
    a.ops([mov_reg(R2, R10), add_imm(R2, -16), call(HELPER_MAP_LOOKUP)]);
    a.op(mov_imm(R7, 0));
    a.jeq(R0, 0, have);
    a.op(ldx_dw(R7, R0, 0));
    a.bind(have);
    // flags = (flags & !(seen | set)) | seen | (value != 0 ? set : 0)
    a.ops([
        mov_reg(R1, R9),
        lsh_imm(R1, 1),
        or_reg(R1, R9),
        xor_imm(R1, -1),
        and_reg(R7, R1),
        or_reg(R7, R9),
    ]);
    a.jeq(R8, 0, store);
    a.ops([mov_reg(R1, R9), lsh_imm(R1, 1), or_reg(R7, R1)]);
    a.bind(store);
    a.op(stx_dw(R10, -24, R7));
    a.ops(ld_map(R1, m.options));
    a.ops([
        mov_reg(R2, R10),
        add_imm(R2, -16),
        mov_reg(R3, R10),
        add_imm(R3, -24),
        mov_imm(R4, 0),
        call(HELPER_MAP_UPDATE),
    ]);
    a.bind(out);
    a.ops([mov_imm(R0, PASS), exit()]);
    a.finish()
}

/// On `sys_enter_socket`: the type asked for, kept by thread until the call returns its fd.
/// Only IPv4 and IPv6 sockets: a host's many AF_UNIX and netlink sockets cost one compare.
pub fn socket_enter(family_field: i16, type_field: i16, m: Maps) -> Vec<u64> {
    let mut a = Asm::new();
    let out = a.label();
    let inet = a.label();
    a.ops([mov_reg(R6, R1), ldx_dw(R7, R6, family_field)]);
    a.jeq(R7, 2, inet);
    a.jeq(R7, 10, inet);
    a.goto(out);
    a.bind(inet);
    a.ops([
        ldx_dw(R7, R6, type_field),
        call(HELPER_GET_PID_TGID),
        stx_w(R10, -8, R0),
        stx_dw(R10, -16, R7),
    ]);
    a.ops(ld_map(R1, m.kinds));
    a.ops([
        mov_reg(R2, R10),
        add_imm(R2, -8),
        mov_reg(R3, R10),
        add_imm(R3, -16),
        mov_imm(R4, 0),
        call(HELPER_MAP_UPDATE),
    ]);
    a.bind(out);
    a.ops([mov_imm(R0, PASS), exit()]);
    a.finish()
}

/// On `sys_exit_socket`: a new IPv4/IPv6 socket's options start as "created while recording,
/// none set", with the socket's type.
pub fn socket_created(ret: i16, m: Maps) -> Vec<u64> {
    let mut a = Asm::new();
    let out = a.label();
    let forget = a.label();
    a.ops([
        mov_reg(R6, R1),
        ldx_dw(R7, R6, ret),
        call(HELPER_GET_PID_TGID),
        mov_reg(R9, R0),
        stx_w(R10, -24, R0),
        // CREATED is bit 62: built from a shift, as an imm is 32 bits.
        mov_imm(R8, 1),
        lsh_imm(R8, 62),
    ]);
    a.ops(ld_map(R1, m.kinds));
    a.ops([mov_reg(R2, R10), add_imm(R2, -24), call(HELPER_MAP_LOOKUP)]);
    // Not an IPv4/IPv6 socket (its entry was not kept): nothing to follow, nothing to forget.
    a.jeq(R0, 0, out);
    a.ops([
        ldx_dw(R1, R0, 0),
        lsh_imm(R1, 60), // the low 4 bits: SOCK_STREAM, SOCK_DGRAM, ...
        rsh_imm(R1, 60 - TYPE_SHIFT as i32),
        or_reg(R8, R1),
    ]);
    a.jslt(R7, 0, forget);
    a.op(mov_reg(R0, R9));
    a.op(mov_reg(R1, R7));
    options_key(&mut a, R2, R1);
    a.ops([stx_dw(R10, -8, R2), stx_dw(R10, -16, R8)]);
    a.ops(ld_map(R1, m.options));
    a.ops([
        mov_reg(R2, R10),
        add_imm(R2, -8),
        mov_reg(R3, R10),
        add_imm(R3, -16),
        mov_imm(R4, 0),
        call(HELPER_MAP_UPDATE),
    ]);
    a.bind(forget);
    a.ops(ld_map(R1, m.kinds));
    a.ops([mov_reg(R2, R10), add_imm(R2, -24), call(HELPER_MAP_DELETE)]);
    a.bind(out);
    a.ops([mov_imm(R0, PASS), exit()]);
    a.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_jumps(p: &[u64]) {
        let last = p.len() - 1;
        assert_eq!(p[last] & 0xff, 0x95, "ends in exit");
        let mut i = 0;
        while i < p.len() {
            let code = (p[i] & 0xff) as u8;
            if code == 0x18 {
                i += 2; // ld_imm64 takes two slots
                continue;
            }
            if code & 0x07 == 0x05 && code != 0x85 && code != 0x95 {
                let off = ((p[i] >> 16) & 0xffff) as u16 as i16;
                let to = i as i64 + 1 + i64::from(off);
                assert!(to > i as i64 && to <= last as i64, "insn {i} jumps to {to}");
                assert_ne!(
                    (p[to as usize - 1] & 0xff) as u8,
                    0x18,
                    "lands inside ld_imm64"
                );
            }
            i += 1;
        }
    }

    #[test]
    fn every_program_jumps_inside_itself() {
        let m = Maps {
            pending: 3,
            options: 4,
            ring: 5,
            missed: 6,
            kinds: 7,
        };
        let e = EnterFields {
            fd: 16,
            addr: 24,
            addrlen: 32,
        };
        check_jumps(&enter(e, 0, m));
        check_jumps(&exit_side(16, &[98, 13, 99], m));
        let s = SetsockoptFields {
            fd: 16,
            level: 24,
            optname: 32,
            optval: 40,
        };
        check_jumps(&setsockopt(s, m));
        check_jumps(&socket_created(16, m));
        check_jumps(&socket_enter(16, 24, m));
    }

    #[test]
    fn refusals_compare_against_negative_errnos() {
        let m = Maps {
            pending: 3,
            options: 4,
            ring: 5,
            missed: 6,
            kinds: 7,
        };
        let p = exit_side(16, &[98], m);
        let want = u64::from((-98i32) as u32);
        assert!(p.iter().any(|i| (i & 0xff) == 0x15 && (i >> 32) == want));
    }
}
