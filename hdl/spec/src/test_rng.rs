//! Deterministic, dependency-free randomness for the crate's unit tests.

use crate::geometry::NodeId;

/// xorshift64.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    /// A value in `0..n`.
    pub(crate) fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    /// `v` in a random order (Fisher–Yates).
    pub(crate) fn shuffled(&mut self, mut v: Vec<NodeId>) -> Vec<NodeId> {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
        v
    }
}
