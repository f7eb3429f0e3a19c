//! The wall clock a frame is drawn at: the library's one clock (fixed in tests and screenshots).

pub use crate::collect::process_context::{Clock, boot_time};
