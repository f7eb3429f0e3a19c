//! Sockets bound but not listening, between verifying dumps.
//!
//! A bind() announces nothing (the socket stays CLOSE), yet a bound socket holds its port like a
//! listener: it is what `why` must find when a service cannot bind. Its dump walks the host-wide
//! bind hash, too dear for every tick, so the caller reads these sockets on their own cadence
//! (as often as the full table was read before connections were kept) and hands them here.

use super::{Kept, owner_pids};
use crate::model::{Socket, State, TableOrder};

impl Kept {
    /// Replaces the bound-only sockets carried from the last dump with `bound`, read just now
    /// (with their owners, in table order); whether what the screen shows of them changed.
    pub fn replace_bound(&mut self, bound: Vec<Socket>) -> bool {
        let shown = |s: &Socket| (s.table_order(), owner_pids(s));
        let before: Vec<(TableOrder, Vec<u32>)> = self
            .carried
            .iter()
            .filter(|s| s.state == State::BoundInactive)
            .map(shown)
            .collect();
        let after: Vec<(TableOrder, Vec<u32>)> = bound.iter().map(shown).collect();
        self.carried.retain(|s| s.state != State::BoundInactive);
        self.carried.extend(bound);
        // [`Kept::sockets`] merges the carried sockets into the table by order.
        self.carried.sort_unstable_by_key(Socket::table_order);
        before != after
    }
}
