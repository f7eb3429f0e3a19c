//! Pure analysis over a snapshot: no I/O, so every verdict can be tested from recorded data.

pub mod conns;
pub mod portmap;
pub mod why;
