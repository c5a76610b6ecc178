//! A small mergeable HyperLogLog for the distinct sources of an aggregate.
//!
//! Precision 10 (1,024 registers, about 3% standard error). A sketch starts
//! sparse (the registers set so far, two bytes each, in the order they were
//! first set) and turns dense (one byte per register) past [`SPARSE_MAX`]
//! of them, so the many aggregates with a handful of sources stay small. A
//! sparse sketch's entries follow a filter of one bit per group of four
//! registers (32 bytes, in the same allocation): a register of a group not
//! set yet is new, and is appended with no search (most are: a sketch of 70
//! registers has about a quarter of its filter's bits set); any other is
//! found by comparing eight entries at once (no search that branches on
//! their values, no entries moved to make room). The hash
//! of an address is fixed here (a 64-bit finalizer over its bits), never a
//! process-seeded hasher: sketches written by different invocations, and
//! read back from the archive by the evaluation, merge into the union's
//! sketch.
//!
//! [`Hll::to_base64`] is the archive's form: one byte `1` then the sparse
//! entries (big-endian `index << 6 | rank`), or one byte `2` then the 1,024
//! registers.

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use wide::u16x8;

const PRECISION: u32 = 10;
const REGISTERS: usize = 1 << PRECISION;
/// Sparse entries kept before the sketch turns dense (256 bytes).
pub const SPARSE_MAX: usize = 128;
/// A sparse sketch's filter: this many words before its entries, one bit
/// per group of four registers.
const FILTER: usize = REGISTERS / 4 / 16;

#[derive(Debug, Clone)]
pub enum Hll {
    Sparse {
        /// [`FILTER`] words of the filter (bit `index >> 2` set once a
        /// register of that group of four is), then one entry per register
        /// set, `index << 6 | rank` (never zero: a rank is at least one),
        /// in the order the registers were first set, then zeros: a
        /// multiple of eight entries, at most [`SPARSE_MAX`], sixteen at
        /// first (with the filter, 64 bytes: one reallocation fewer for a
        /// sketch of more than eight registers, 16 bytes more for one of
        /// fewer). Empty (no allocation) until the first register is set.
        places: Box<[u16]>,
        /// The entries in use (the first zero's place after the filter).
        len: u8,
    },
    Dense(Box<[u8; REGISTERS]>),
}

const _: () = assert!(SPARSE_MAX <= u8::MAX as usize);
const _: () = assert!(FILTER * 16 * 4 == REGISTERS);

impl Default for Hll {
    fn default() -> Self {
        Self::Sparse {
            places: Box::default(),
            len: 0,
        }
    }
}

/// A sparse sketch's entries in use or not (after its filter).
fn entries(places: &[u16]) -> &[u16] {
    places.get(FILTER..).unwrap_or_default()
}

/// Equal registers, whatever the order a sparse sketch set them in.
impl PartialEq for Hll {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Sparse { .. }, Self::Sparse { .. }) => {
                self.sorted_entries() == other.sorted_entries()
            }
            (Self::Dense(ours), Self::Dense(theirs)) => ours == theirs,
            _ => false,
        }
    }
}

impl Eq for Hll {}

/// A sketch that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a fanin HyperLogLog sketch: {0}")]
pub struct HllError(&'static str);

/// The fixed 64-bit hash of an address.
pub fn hash_address(address: IpAddr) -> u64 {
    match address {
        IpAddr::V4(v4) => hash_v4(u32::from(v4)),
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            mix((bits >> 64) as u64 ^ mix(bits as u64 ^ 0x9e37_79b9_7f4a_7c15))
        }
    }
}

/// [`hash_address`] of an IPv4 address as an integer.
fn hash_v4(address: u32) -> u64 {
    mix(u64::from(address))
}

/// MurmurHash3's 64-bit finalizer.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

impl Hll {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, address: IpAddr) {
        self.insert_hash(hash_address(address));
    }

    /// [`Hll::insert`] of an IPv4 address as an integer (the same hash).
    #[inline(always)]
    pub fn insert_v4(&mut self, address: u32) {
        self.insert_hash(hash_v4(address));
    }

    #[inline(always)]
    fn insert_hash(&mut self, hash: u64) {
        let index = (hash >> (64 - PRECISION)) as usize;
        // Leading zeros of the remaining bits, plus one (at most 55).
        let rank = ((hash << PRECISION) | (1 << (PRECISION - 1))).leading_zeros() as u8 + 1;
        self.set(index, rank);
    }

    /// Sets a register to at least `rank`, where it is called: the usual
    /// cases (a dense register, a sparse register of a group not set yet
    /// with room to append it) in place, the others by [`Hll::set_rest`].
    #[inline(always)]
    fn set(&mut self, index: usize, rank: u8) {
        match self {
            Self::Dense(registers) => {
                let register = &mut registers[index];
                *register = (*register).max(rank);
            }
            Self::Sparse { places, len } => {
                let at = FILTER + usize::from(*len);
                let (word, bit) = (index >> 6, 1u16 << (index >> 2 & 15));
                if at < places.len() && places[word] & bit == 0 {
                    places[word] |= bit;
                    places[at] = (index as u16) << 6 | u16::from(rank);
                    *len += 1;
                } else {
                    self.set_rest(index, rank);
                }
            }
        }
    }

    /// [`Hll::set`] for every case: a register already in a sparse
    /// sketch's entries, one that needs room, or the turn to dense.
    fn set_rest(&mut self, index: usize, rank: u8) {
        match self {
            Self::Dense(registers) => {
                if registers[index] < rank {
                    registers[index] = rank;
                }
            }
            Self::Sparse { places, len } => {
                let entry = (index as u16) << 6 | u16::from(rank);
                let used = usize::from(*len);
                if places.is_empty() {
                    *places = vec![0; FILTER + 16].into_boxed_slice();
                }
                let (filter, entries) = places.split_at_mut(FILTER);
                let (word, bit) = (index >> 6, 1u16 << (index >> 2 & 15));
                if filter[word] & bit == 0 {
                    // No register of the group is set: a new one, appended.
                    filter[word] |= bit;
                    if let Some(free) = entries.get_mut(used) {
                        *free = entry;
                        *len += 1;
                        return;
                    }
                } else {
                    // Eight entries a step: the first that is this
                    // register's or free (entries lie before every free
                    // place, so a free one means the register is not set
                    // yet), which then holds the larger rank (a free
                    // place's is none).
                    let (same, free) = (u16x8::splat(entry & !0x3f), u16x8::splat(0));
                    let ranks = u16x8::splat(0x3f);
                    for eight in entries.as_chunks_mut::<8>().0 {
                        let lanes = u16x8::new(*eight);
                        let place =
                            ((lanes & !ranks).simd_eq(same) | lanes.simd_eq(free)).to_bitmask();
                        if place != 0 {
                            let at = place.trailing_zeros() as usize;
                            *len += u8::from(eight[at] == 0);
                            eight[at] = eight[at].max(entry);
                            return;
                        }
                    }
                }
                // Full: twice the places, or dense past SPARSE_MAX.
                if used >= SPARSE_MAX {
                    self.densify();
                    self.set(index, rank);
                    return;
                }
                let mut grown = vec![0u16; FILTER + used * 2].into_boxed_slice();
                grown[..FILTER + used].copy_from_slice(places);
                grown[FILTER + used] = entry;
                *places = grown;
                *len += 1;
            }
        }
    }

    /// Brings the sketch's first registers into the cache ahead of an
    /// insert (see [`super::prefetch`]).
    #[inline(always)]
    pub(crate) fn prefetch(&self) {
        match self {
            Self::Sparse { places, len } => {
                // The filter and the first entries searched, and the place
                // a new register goes.
                if let Some(first) = places.first() {
                    super::prefetch(first);
                }
                if let Some(next) = places.get(FILTER + usize::from(*len)) {
                    super::prefetch(next);
                }
            }
            Self::Dense(registers) => super::prefetch(&registers[0]),
        }
    }

    /// A sparse sketch's entries by register (the archive's order).
    fn sorted_entries(&self) -> Vec<u16> {
        match self {
            Self::Sparse { places, .. } => {
                let mut sorted: Vec<u16> = entries(places)
                    .iter()
                    .copied()
                    .filter(|&e| e != 0)
                    .collect();
                sorted.sort_unstable();
                sorted
            }
            Self::Dense(_) => Vec::new(),
        }
    }

    fn densify(&mut self) {
        if let Self::Sparse { places, .. } = self {
            let mut registers = Box::new([0u8; REGISTERS]);
            for entry in entries(places).iter().filter(|&&e| e != 0) {
                registers[usize::from(entry >> 6)] = (entry & 0x3f) as u8;
            }
            *self = Self::Dense(registers);
        }
    }

    /// The union: each register the larger of both.
    pub fn merge(&mut self, other: &Hll) {
        match other {
            Self::Sparse { places, .. } => {
                for entry in entries(places).iter().filter(|&&e| e != 0) {
                    self.set(usize::from(entry >> 6), (entry & 0x3f) as u8);
                }
            }
            Self::Dense(theirs) => {
                self.densify();
                if let Self::Dense(ours) = self {
                    for (mine, their) in ours.iter_mut().zip(theirs.iter()) {
                        *mine = (*mine).max(*their);
                    }
                }
            }
        }
    }

    /// The estimated number of distinct addresses inserted (linear counting
    /// while registers are empty, as the original paper's small-range
    /// correction).
    pub fn estimate(&self) -> u64 {
        let m = REGISTERS as f64;
        let (zeros, sum) = match self {
            Self::Sparse { places, .. } => {
                let set = entries(places).iter().filter(|&&e| e != 0);
                let zeros = REGISTERS - set.clone().count();
                let sum = zeros as f64 + set.map(|e| 2f64.powi(-i32::from(e & 0x3f))).sum::<f64>();
                (zeros, sum)
            }
            Self::Dense(registers) => {
                let zeros = registers.iter().filter(|&&r| r == 0).count();
                let sum = registers.iter().map(|&r| 2f64.powi(-i32::from(r))).sum();
                (zeros, sum)
            }
        };
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        let raw = alpha * m * m / sum;
        let estimate = if raw <= 2.5 * m && zeros > 0 {
            m * (m / zeros as f64).ln()
        } else {
            raw
        };
        estimate.round() as u64
    }

    /// The archive's form (see the module's documentation).
    pub fn to_base64(&self) -> String {
        let mut bytes = Vec::new();
        match self {
            Self::Sparse { .. } => {
                bytes.push(1);
                for entry in self.sorted_entries() {
                    bytes.extend_from_slice(&entry.to_be_bytes());
                }
            }
            Self::Dense(registers) => {
                bytes.push(2);
                bytes.extend_from_slice(&registers[..]);
            }
        }
        STANDARD.encode(bytes)
    }

    pub fn from_base64(text: &str) -> Result<Self, HllError> {
        let bytes = STANDARD.decode(text).map_err(|_| HllError("not base64"))?;
        match bytes.split_first() {
            Some((1, entries)) if entries.len() % 2 == 0 && entries.len() / 2 <= REGISTERS => {
                let mut sketch = Self::new();
                for pair in entries.chunks_exact(2) {
                    let entry = u16::from_be_bytes([pair[0], pair[1]]);
                    let rank = (entry & 0x3f) as u8;
                    if rank == 0 || rank > 55 {
                        return Err(HllError("a sparse rank out of range"));
                    }
                    sketch.set(usize::from(entry >> 6), rank);
                }
                Ok(sketch)
            }
            Some((2, registers)) if registers.len() == REGISTERS => {
                if registers.iter().any(|&r| r > 55) {
                    return Err(HllError("a register out of range"));
                }
                let mut dense = Box::new([0u8; REGISTERS]);
                dense.copy_from_slice(registers);
                Ok(Self::Dense(dense))
            }
            _ => Err(HllError("unknown layout")),
        }
    }

    /// Heap bytes held (for the memory report).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Self::Sparse { places, .. } => places.len() * 2,
            Self::Dense(_) => REGISTERS,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn addresses(range: std::ops::Range<u32>) -> impl Iterator<Item = IpAddr> {
        range.map(|n| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n)))
    }

    #[test]
    fn small_sets_count_nearly_exactly_and_large_ones_within_ten_percent() {
        let mut sketch = Hll::new();
        addresses(0..20).for_each(|a| sketch.insert(a));
        assert!(matches!(sketch, Hll::Sparse { .. }));
        assert_eq!(sketch.estimate(), 20);
        addresses(0..20).for_each(|a| sketch.insert(a));
        assert_eq!(sketch.estimate(), 20, "duplicates are not counted");
        let mut large = Hll::new();
        addresses(0..100_000).for_each(|a| large.insert(a));
        assert!(matches!(large, Hll::Dense(_)));
        let estimate = large.estimate() as f64;
        assert!((90_000.0..110_000.0).contains(&estimate), "{estimate}");
    }

    #[test]
    fn a_merge_is_the_union_and_the_archive_form_round_trips() {
        let (mut left, mut right, mut both) = (Hll::new(), Hll::new(), Hll::new());
        addresses(0..3_000).for_each(|a| left.insert(a));
        addresses(2_000..2_050).for_each(|a| right.insert(a));
        addresses(0..3_000).for_each(|a| both.insert(a));
        addresses(2_000..2_050).for_each(|a| both.insert(a));
        let mut merged = right.clone();
        merged.merge(&left);
        assert_eq!(merged, both);
        for sketch in [&left, &right, &both, &Hll::new()] {
            assert_eq!(&Hll::from_base64(&sketch.to_base64()).unwrap(), sketch);
        }
        assert!(Hll::from_base64("AwAA").is_err());
        assert!(Hll::from_base64("not base64!").is_err());
    }

    #[test]
    fn a_sketch_is_the_same_whatever_the_order_of_its_inserts() {
        // An address of register 0 (whose entry is its rank alone) among
        // others, and sizes around each growth and the turn to dense.
        let zero = (0u32..)
            .map(|n| IpAddr::V4(Ipv4Addr::from(n)))
            .find(|&a| hash_address(a) >> (64 - PRECISION) == 0)
            .unwrap();
        for count in [1, 7, 8, 9, 40, 126, 127, 128, 129, 600] {
            let all: Vec<IpAddr> = std::iter::once(zero).chain(addresses(0..count)).collect();
            let (mut forward, mut backward) = (Hll::new(), Hll::new());
            all.iter().for_each(|&a| forward.insert(a));
            all.iter()
                .rev()
                .chain(&all)
                .for_each(|&a| backward.insert(a));
            assert_eq!(forward, backward, "{count}");
            assert_eq!(forward.to_base64(), backward.to_base64(), "{count}");
            assert_eq!(forward.estimate(), backward.estimate(), "{count}");
            // One entry per register set.
            let registers: std::collections::HashSet<u64> = all
                .iter()
                .map(|&a| hash_address(a) >> (64 - PRECISION))
                .collect();
            match forward {
                Hll::Sparse { .. } => assert_eq!(forward.sorted_entries().len(), registers.len()),
                Hll::Dense(_) => assert!(registers.len() > SPARSE_MAX, "{count}"),
            }
        }
    }

    #[test]
    fn the_hash_is_fixed_across_processes() {
        assert_eq!(
            hash_address("10.0.0.1".parse().unwrap()),
            hash_address("10.0.0.1".parse().unwrap())
        );
        // A changed hash would make old archived sketches unmergeable.
        assert_eq!(hash_address("0.0.0.0".parse().unwrap()), 0);
        assert_eq!(hash_address("10.0.0.1".parse().unwrap()), mix(0x0a00_0001));
    }
}
