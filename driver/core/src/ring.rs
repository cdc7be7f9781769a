//! Ring index arithmetic, kept pure so it can be property-tested alone.
//!
//! A ring of `size` descriptors (a power of two) has a producer and a
//! consumer index in `0..size`; one slot always stays empty so that
//! `producer == consumer` means empty. Each side writes only its own index.

use crate::DriverError;

/// Smallest ring.
pub const MIN_RING: u32 = 2;
/// Largest ring.
pub const MAX_RING: u32 = 1024;

/// Index arithmetic of one ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingIndex {
    size: u32,
}

impl RingIndex {
    /// A ring of `size` descriptors: a power of two in 2..=1024.
    pub fn new(size: u32) -> Result<Self, DriverError> {
        if size.is_power_of_two() && (MIN_RING..=MAX_RING).contains(&size) {
            Ok(Self { size })
        } else {
            Err(DriverError::BadRingSize(size))
        }
    }
    /// Descriptors.
    pub fn size(self) -> u32 {
        self.size
    }
    /// Entries between `consumer` and `producer`.
    pub fn used(self, producer: u32, consumer: u32) -> u32 {
        producer.wrapping_sub(consumer) & (self.size - 1)
    }
    /// Entries the producer may still fill.
    pub fn free(self, producer: u32, consumer: u32) -> u32 {
        self.size - 1 - self.used(producer, consumer)
    }
    /// `i + n`, wrapped.
    pub fn advance(self, i: u32, n: u32) -> u32 {
        i.wrapping_add(n) & (self.size - 1)
    }
    /// Checks an index the other side reported. `from` is its last known
    /// value and `limit` the furthest it may have reached (both on the ring);
    /// a new value must lie in `from..=limit` going forward. Returns how far
    /// it moved.
    pub fn check_progress(
        self,
        ring: &'static str,
        from: u32,
        new: u32,
        limit: u32,
    ) -> Result<u32, DriverError> {
        let moved = self.used(new, from);
        if new >= self.size || moved > self.used(limit, from) {
            return Err(DriverError::BadDeviceIndex {
                ring,
                index: new,
                size: self.size,
            });
        }
        Ok(moved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ring() -> impl Strategy<Value = RingIndex> {
        (1u32..=10).prop_map(|k| RingIndex::new(1 << k).unwrap())
    }

    proptest! {
        #[test]
        fn used_plus_free_is_size_minus_one(r in ring(), p: u32, c: u32) {
            let (p, c) = (p % r.size(), c % r.size());
            prop_assert_eq!(r.used(p, c) + r.free(p, c), r.size() - 1);
        }

        #[test]
        fn advancing_wraps_and_counts(r in ring(), c: u32, n: u32) {
            let c = c % r.size();
            let n = n % r.size();
            let p = r.advance(c, n);
            prop_assert!(p < r.size());
            prop_assert_eq!(r.used(p, c), n);
        }

        #[test]
        fn progress_within_limit_is_accepted(r in ring(), from: u32, a: u32, b: u32) {
            let from = from % r.size();
            let (a, b) = ((a % r.size()).min(b % r.size()), (a % r.size()).max(b % r.size()));
            let limit = r.advance(from, b);
            let new = r.advance(from, a);
            prop_assert_eq!(r.check_progress("tx", from, new, limit).unwrap(), a);
        }

        #[test]
        fn progress_past_limit_or_size_is_rejected(r in ring(), from: u32, lim: u32, extra in 1u32..1024, big in 1024u32..) {
            let from = from % r.size();
            let lim = lim % (r.size() - 1);
            let limit = r.advance(from, lim);
            let extra = extra % (r.size() - 1 - lim + 1);
            if extra > 0 && lim + extra < r.size() {
                let new = r.advance(from, lim + extra);
                let rejected = matches!(r.check_progress("tx", from, new, limit), Err(DriverError::BadDeviceIndex { .. }));
                prop_assert!(rejected);
            }
            let rejected = matches!(r.check_progress("rx", from, big, limit), Err(DriverError::BadDeviceIndex { .. }));
            prop_assert!(rejected);
        }
    }

    #[test]
    fn rejects_sizes_that_are_not_powers_of_two_in_range() {
        for s in [0, 1, 3, 6, 2048, u32::MAX] {
            assert!(matches!(RingIndex::new(s), Err(DriverError::BadRingSize(x)) if x == s));
        }
        assert!(RingIndex::new(2).is_ok() && RingIndex::new(1024).is_ok());
    }
}
