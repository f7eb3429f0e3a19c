//! The sock_diag message layouts (include/uapi/linux/netlink.h, inet_diag.h) as `#[repr(C)]`
//! types, so each field has a name instead of a byte offset.
//!
//! They are written and read field by field in native byte order (ports in network order, as
//! the kernel keeps them) from fixed-size arrays: no pointer casts, so no `unsafe`, and a short
//! or truncated message is `None`, never a panic. The size assertions pin each type to the
//! kernel's ABI.

/// `struct nlmsghdr`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NlMsgHdr {
    pub len: u32,
    pub ty: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
}

/// `struct rtattr` (`struct nlattr` has the same layout).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RtAttr {
    pub len: u16,
    pub ty: u16,
}

/// `struct inet_diag_sockid`. Ports are host-order values here; on the wire they are big-endian.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InetDiagSockId {
    pub sport: u16,
    pub dport: u16,
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub ifindex: u32,
    pub cookie: [u32; 2],
}

/// `struct inet_diag_req_v2` (SOCK_DIAG_BY_FAMILY, SOCK_DESTROY).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InetDiagReqV2 {
    pub family: u8,
    pub protocol: u8,
    pub ext: u8,
    pub pad: u8,
    pub states: u32,
    pub id: InetDiagSockId,
}

/// `struct inet_diag_req`, the original request (TCPDIAG_GETSOCK). The kernel answers it for
/// both address families in one walk of the TCP hash tables (it sets `sdiag_family` to
/// AF_UNSPEC), where a v2 request walks them once per family.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InetDiagReq {
    pub family: u8,
    pub src_len: u8,
    pub dst_len: u8,
    pub ext: u8,
    pub id: InetDiagSockId,
    pub states: u32,
    pub dbs: u32,
}

/// `struct inet_diag_msg`: one socket of a dump.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InetDiagMsg {
    pub family: u8,
    pub state: u8,
    pub timer: u8,
    pub retrans: u8,
    pub id: InetDiagSockId,
    pub expires: u32,
    pub rqueue: u32,
    pub wqueue: u32,
    pub uid: u32,
    pub inode: u32,
}

/// `struct inet_diag_bc_op`: one instruction of a dump filter.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BcOp {
    pub code: u8,
    pub yes: u8,
    pub no: u16,
}

const _: () = {
    use std::mem::size_of;
    assert!(size_of::<NlMsgHdr>() == 16);
    assert!(size_of::<RtAttr>() == 4);
    assert!(size_of::<InetDiagSockId>() == InetDiagSockId::SIZE);
    assert!(size_of::<InetDiagReqV2>() == 56);
    assert!(size_of::<InetDiagReq>() == 60);
    assert!(size_of::<InetDiagMsg>() == 72);
    assert!(size_of::<BcOp>() == 4);
};

/// Reads fields in order from a buffer whose length was checked once, up front.
struct Fields<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Fields<'a> {
    /// `None` unless `b` holds at least `len` bytes.
    fn new(b: &'a [u8], len: usize) -> Option<Self> {
        Some(Fields {
            b: b.get(..len)?,
            at: 0,
        })
    }

    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        // In range: `new` checked the whole struct's length and each type reads exactly that.
        if let Some(src) = self.b.get(self.at..self.at + N) {
            out.copy_from_slice(src);
        }
        self.at += N;
        out
    }

    fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }
    fn u16(&mut self) -> u16 {
        u16::from_ne_bytes(self.take())
    }
    fn be16(&mut self) -> u16 {
        u16::from_be_bytes(self.take())
    }
    fn u32(&mut self) -> u32 {
        u32::from_ne_bytes(self.take())
    }
}

impl NlMsgHdr {
    pub const SIZE: usize = 16;

    pub fn read(b: &[u8]) -> Option<Self> {
        let mut f = Fields::new(b, Self::SIZE)?;
        Some(NlMsgHdr {
            len: f.u32(),
            ty: f.u16(),
            flags: f.u16(),
            seq: f.u32(),
            pid: f.u32(),
        })
    }

    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.len.to_ne_bytes());
        out.extend_from_slice(&self.ty.to_ne_bytes());
        out.extend_from_slice(&self.flags.to_ne_bytes());
        out.extend_from_slice(&self.seq.to_ne_bytes());
        out.extend_from_slice(&self.pid.to_ne_bytes());
    }
}

impl RtAttr {
    pub const SIZE: usize = 4;

    pub fn read(b: &[u8]) -> Option<Self> {
        let mut f = Fields::new(b, Self::SIZE)?;
        Some(RtAttr {
            len: f.u16(),
            ty: f.u16(),
        })
    }

    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.len.to_ne_bytes());
        out.extend_from_slice(&self.ty.to_ne_bytes());
    }
}

impl InetDiagSockId {
    pub const SIZE: usize = 48;

    fn read_from(f: &mut Fields<'_>) -> Self {
        InetDiagSockId {
            sport: f.be16(),
            dport: f.be16(),
            src: f.take(),
            dst: f.take(),
            ifindex: f.u32(),
            cookie: [f.u32(), f.u32()],
        }
    }

    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.sport.to_be_bytes());
        out.extend_from_slice(&self.dport.to_be_bytes());
        out.extend_from_slice(&self.src);
        out.extend_from_slice(&self.dst);
        out.extend_from_slice(&self.ifindex.to_ne_bytes());
        out.extend_from_slice(&self.cookie[0].to_ne_bytes());
        out.extend_from_slice(&self.cookie[1].to_ne_bytes());
    }

    /// The kernel's unique socket id (two u32 halves, low first).
    pub fn cookie(&self) -> u64 {
        u64::from(self.cookie[0]) | (u64::from(self.cookie[1]) << 32)
    }

    #[allow(clippy::cast_possible_truncation)] // the kernel keeps the cookie as two u32 halves
    pub fn set_cookie(&mut self, cookie: u64) {
        self.cookie = [cookie as u32, (cookie >> 32) as u32];
    }
}

impl InetDiagReqV2 {
    pub const SIZE: usize = 56;

    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.family, self.protocol, self.ext, self.pad]);
        out.extend_from_slice(&self.states.to_ne_bytes());
        self.id.write(out);
    }
}

impl InetDiagReq {
    pub const SIZE: usize = 60;

    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.family, self.src_len, self.dst_len, self.ext]);
        self.id.write(out);
        out.extend_from_slice(&self.states.to_ne_bytes());
        out.extend_from_slice(&self.dbs.to_ne_bytes());
    }
}

impl InetDiagMsg {
    pub const SIZE: usize = 72;

    pub fn read(b: &[u8]) -> Option<Self> {
        let mut f = Fields::new(b, Self::SIZE)?;
        Some(InetDiagMsg {
            family: f.u8(),
            state: f.u8(),
            timer: f.u8(),
            retrans: f.u8(),
            id: InetDiagSockId::read_from(&mut f),
            expires: f.u32(),
            rqueue: f.u32(),
            wqueue: f.u32(),
            uid: f.u32(),
            inode: f.u32(),
        })
    }
}

impl BcOp {
    pub const SIZE: usize = 4;

    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.code, self.yes]);
        out.extend_from_slice(&self.no.to_ne_bytes());
    }
}

/// The attributes after a message's fixed part: (type without flag bits, payload). Stops at the
/// first malformed one.
pub fn attrs(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        let a = RtAttr::read(b)?;
        let len = usize::from(a.len);
        if len < RtAttr::SIZE || len > b.len() {
            return None;
        }
        let payload = &b[RtAttr::SIZE..len];
        b = b.get(align4(len)..).unwrap_or(&[]);
        Some((a.ty & 0x3fff, payload))
    })
}

pub fn align4(n: usize) -> usize {
    (n + 3) & !3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_round_trips_through_its_fields() {
        let mut id = InetDiagSockId {
            sport: 8080,
            dport: 443,
            src: [127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            dst: [10, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            ifindex: 3,
            cookie: [0; 2],
        };
        id.set_cookie(0x1234_5678_9abc_def0);
        let mut b = vec![2, 1, 3, 0];
        id.write(&mut b);
        for v in [7u32, 8, 9, 1000, 42] {
            b.extend_from_slice(&v.to_ne_bytes());
        }
        assert_eq!(b.len(), InetDiagMsg::SIZE);
        // Ports travel big-endian, whatever the host's order.
        assert_eq!(&b[4..8], &[0x1f, 0x90, 0x01, 0xbb]);
        let m = InetDiagMsg::read(&b).unwrap();
        assert_eq!((m.family, m.state, m.timer), (2, 1, 3));
        assert_eq!(m.id, id);
        assert_eq!(m.id.cookie(), 0x1234_5678_9abc_def0);
        assert_eq!(
            (m.expires, m.rqueue, m.wqueue, m.uid, m.inode),
            (7, 8, 9, 1000, 42)
        );
        assert_eq!(InetDiagMsg::read(&b[..71]), None);
    }

    #[test]
    fn requests_have_the_kernels_sizes() {
        let mut b = Vec::new();
        InetDiagReqV2::default().write(&mut b);
        assert_eq!(b.len(), InetDiagReqV2::SIZE);
        b.clear();
        InetDiagReq::default().write(&mut b);
        assert_eq!(b.len(), InetDiagReq::SIZE);
        b.clear();
        NlMsgHdr::default().write(&mut b);
        assert_eq!(NlMsgHdr::read(&b), Some(NlMsgHdr::default()));
    }

    #[test]
    fn attributes_stop_at_a_malformed_one() {
        let mut b = Vec::new();
        RtAttr { len: 5, ty: 11 }.write(&mut b);
        b.extend_from_slice(&[1, 0, 0, 0]); // payload 1 byte, padded to 4
        RtAttr { len: 200, ty: 1 }.write(&mut b); // longer than what is left
        let got: Vec<(u16, Vec<u8>)> = attrs(&b).map(|(t, p)| (t, p.to_vec())).collect();
        assert_eq!(got, vec![(11, vec![1])]);
    }
}
