//! The hourly aggregation of flow-log records, and the documents it writes.
//!
//! An [`Aggregator`] holds one object's (or a benchmark's) records as
//! aggregates keyed by (interface, direction, initiator, protocol,
//! destination port, action, source class, IP version, hour); the account
//! and region are the object's, the same for every key. Its memory is
//! bounded by the number of keys and interfaces, never by the number of
//! records. Per (interface, hour) it also counts the records, `NODATA` and
//! `SKIPDATA` ones, so the evaluation knows which interfaces were logged at
//! all.
//!
//! [`AggregateDoc`] is both the line of the archive object and the document
//! of the `<prefix>-flows` index; the evaluation reads them back and merges
//! equal keys across objects with [`Aggregate::merge`].

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::classify::{
    self, Direction, Initiator, InterfaceView, NetworkMap, SourceClass, TCP, UDP,
};
use super::hll::{Hll, HllError};
use super::parse::{Action, LogStatus, Record, Text};
use crate::ids::{AccountId, Region};

/// The most sources an aggregate ranks.
pub const TOP_SOURCES: usize = 10;

type Fast = foldhash::fast::FixedState;

/// One traffic key within an object (account and region are the object's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct TrafficKey {
    interface: u32,
    /// Hours since the epoch (the record's `start`).
    hour: u32,
    direction: Direction,
    initiator: Initiator,
    protocol: u8,
    dst_port: u16,
    action: Action,
    source_class: SourceClass,
    ip_version: u8,
}

impl TrafficKey {
    /// Every field in one integer (102 bits, none overlapping): the key
    /// table's key, hashed in one write and compared in one.
    fn packed(&self) -> u128 {
        u128::from(self.interface)
            | u128::from(self.hour) << 32
            | u128::from(self.dst_port) << 64
            | u128::from(self.protocol) << 80
            | u128::from(self.ip_version) << 88
            | (self.direction as u128) << 96
            | (self.initiator as u128) << 97
            | (self.action as u128) << 99
            | (self.source_class as u128) << 100
    }

    /// The key [`TrafficKey::packed`] made (the documents read keys back
    /// from the key table).
    fn unpacked(packed: u128) -> Self {
        let bit = |at: u32| (packed >> at) & 1 == 1;
        Self {
            interface: packed as u32,
            hour: (packed >> 32) as u32,
            dst_port: (packed >> 64) as u16,
            protocol: (packed >> 80) as u8,
            ip_version: (packed >> 88) as u8,
            direction: if bit(96) {
                Direction::Egress
            } else {
                Direction::Ingress
            },
            initiator: match (packed >> 97) & 0b11 {
                0 => Initiator::Remote,
                1 => Initiator::Interface,
                _ => Initiator::Unknown,
            },
            action: if bit(99) {
                Action::Reject
            } else {
                Action::Accept
            },
            source_class: match (packed >> 100) & 0b11 {
                0 => SourceClass::Internet,
                1 => SourceClass::SameVpc,
                2 => SourceClass::Peered,
                _ => SourceClass::Private,
            },
        }
    }
}

/// An interface id as the aggregator looks it up: up to 24 bytes in three
/// words, zero-padded (printable text has no zero byte, so ids of different
/// lengths differ), hashed as three words rather than as bytes. A longer id
/// (AWS writes 12 or 21 bytes) is looked up by its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ShortId([u64; 3]);

impl ShortId {
    fn new(id: &[u8]) -> Option<Self> {
        let len = id.len();
        let word = |at: usize| u64::from_le_bytes(id[at..at + 8].try_into().unwrap());
        // From eight bytes on, whole words and the last eight bytes shifted
        // past those the words before hold: loads, no copy of a length
        // known only at run time.
        let tail = |words: usize| {
            let before = (8 * words + 8 - len) as u32 * 8;
            word(len - 8).checked_shr(before).unwrap_or(0)
        };
        match len {
            16..=24 => Some(Self([word(0), word(8), tail(2)])),
            8..=15 => Some(Self([word(0), tail(1), 0])),
            1..=7 => {
                let mut padded = [0u8; 8];
                padded[..len].copy_from_slice(id);
                Some(Self([u64::from_le_bytes(padded), 0, 0]))
            }
            _ => None,
        }
    }
}

impl std::hash::Hash for ShortId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for word in self.0 {
            state.write_u64(word);
        }
    }
}

/// An interface as the aggregator finds it by a [`ShortId`]: its index,
/// and its IPv4 tests beside the id, so that a record's look-up and
/// placement read one aligned pair of cache lines (the lines a processor
/// brings in together) instead of the index's entry and then the
/// interface's slot.
#[derive(Clone, Copy)]
#[repr(align(128))]
struct IndexEntry {
    /// All zeros in a free slot of [`InterfaceIndex`] (no id packs to it:
    /// an id is not empty, and text has no zero byte).
    id: ShortId,
    index: u32,
    v4: Option<classify::V4Tests>,
}

impl IndexEntry {
    const FREE: Self = Self {
        id: ShortId([0; 3]),
        index: 0,
        v4: None,
    };
}

/// The interfaces of an object by [`ShortId`]: open addressing with linear
/// probing over the [`IndexEntry`]s themselves, at most half full, so that
/// a record's look-up reads the entry it needs (a general-purpose set reads
/// its group of control bytes first, and finds the entry through them).
/// The hash is seeded per index, so no crafted object can make its ids
/// collide.
struct InterfaceIndex {
    /// A power of two of slots.
    slots: Vec<IndexEntry>,
    len: usize,
    hasher: foldhash::fast::RandomState,
}

impl InterfaceIndex {
    fn new() -> Self {
        Self {
            slots: vec![IndexEntry::FREE; 16],
            len: 0,
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    /// The slot of `id`, or the free slot where it goes (the index is
    /// never full, so the probe ends).
    #[inline(always)]
    fn slot(&self, id: &ShortId) -> usize {
        let mask = self.slots.len() - 1;
        let mut at = self.hasher.hash_one(id) as usize & mask;
        loop {
            let found = &self.slots[at].id;
            if found == id || found.0[0] == 0 {
                return at;
            }
            at = (at + 1) & mask;
        }
    }

    #[inline(always)]
    fn get(&self, id: &ShortId) -> Option<&IndexEntry> {
        let entry = &self.slots[self.slot(id)];
        (entry.id.0[0] != 0).then_some(entry)
    }

    /// Adds an interface not in the index yet.
    fn insert(&mut self, entry: IndexEntry) {
        if (self.len + 1) * 2 > self.slots.len() {
            let size = self.slots.len() * 2;
            let old = std::mem::replace(&mut self.slots, vec![IndexEntry::FREE; size]);
            for moved in old.into_iter().filter(|moved| moved.id.0[0] != 0) {
                let at = self.slot(&moved.id);
                self.slots[at] = moved;
            }
        }
        let at = self.slot(&entry.id);
        self.slots[at] = entry;
        self.len += 1;
    }

    /// Slots, free or not (for the memory report).
    fn capacity(&self) -> usize {
        self.slots.len()
    }
}

/// A source address and how many records came from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopSource {
    pub address: IpAddr,
    pub flows: u64,
}

/// The values of one key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Aggregate {
    pub packets: u64,
    pub bytes: u64,
    /// Records.
    pub flows: u64,
    pub sources: Hll,
    /// Space-saving ranking: at most [`TOP_SOURCES`], counts may overstate
    /// an address that replaced another by at most the replaced count.
    pub top_sources: Vec<TopSource>,
    /// Earliest record `start`, epoch seconds.
    pub first_seen: i64,
    /// Latest record `end`, epoch seconds.
    pub last_seen: i64,
}

impl Aggregate {
    #[cfg(test)]
    fn new(start: i64, end: i64) -> Self {
        Self {
            first_seen: start,
            last_seen: end,
            ..Self::default()
        }
    }

    /// Adds one record's counters and times, as [`Counters::add`] does
    /// in the aggregator.
    #[cfg(test)]
    fn add_counts(&mut self, packets: u64, bytes: u64, start: i64, end: i64) {
        self.packets = self.packets.saturating_add(packets);
        self.bytes = self.bytes.saturating_add(bytes);
        self.flows += 1;
        self.first_seen = self.first_seen.min(start);
        self.last_seen = self.last_seen.max(end);
    }

    /// Adds one record's source to the sketch and the space-saving ranking
    /// (the reference the aggregator's [`KeySources`] is held to).
    #[cfg(test)]
    fn add_source(&mut self, source: IpAddr) {
        self.sources.insert(source);
        if let Some(top) = self.top_sources.iter_mut().find(|t| t.address == source) {
            top.flows += 1;
        } else if self.top_sources.len() < TOP_SOURCES {
            if self.top_sources.len() == self.top_sources.capacity() {
                let grow = (self.top_sources.len().max(1) * 2).min(TOP_SOURCES);
                self.top_sources
                    .reserve_exact(grow - self.top_sources.len());
            }
            self.top_sources.push(TopSource {
                address: source,
                flows: 1,
            });
        } else if let Some(least) = self.top_sources.iter_mut().min_by_key(|t| t.flows) {
            *least = TopSource {
                address: source,
                flows: least.flows + 1,
            };
        }
    }

    /// Merges another aggregate of the same key: sums, the union of the
    /// sources, the earlier first and later last seen, and the top sources
    /// re-ranked from both lists' counts (ties by address). Commutative;
    /// associative for everything but a top-sources list that had to drop
    /// an address in between (more than [`TOP_SOURCES`] addresses in all).
    pub fn merge(&mut self, other: &Aggregate) {
        self.packets = self.packets.saturating_add(other.packets);
        self.bytes = self.bytes.saturating_add(other.bytes);
        self.flows = self.flows.saturating_add(other.flows);
        self.sources.merge(&other.sources);
        self.first_seen = self.first_seen.min(other.first_seen);
        self.last_seen = self.last_seen.max(other.last_seen);
        for theirs in &other.top_sources {
            match self
                .top_sources
                .iter_mut()
                .find(|t| t.address == theirs.address)
            {
                Some(ours) => ours.flows = ours.flows.saturating_add(theirs.flows),
                None => self.top_sources.push(theirs.clone()),
            }
        }
        rank(&mut self.top_sources);
    }
}

fn rank(top: &mut Vec<TopSource>) {
    top.sort_by(|a, b| b.flows.cmp(&a.flows).then(a.address.cmp(&b.address)));
    top.truncate(TOP_SOURCES);
}

/// The port a key keeps: the connection's service port, so that the
/// ephemeral ports of answers do not make one key per connection (memory
/// stays bounded by services, not by connections). Inbound use (ingress
/// opened by a remote, or unknown) keeps the destination port, which is
/// what the evaluation matches rules against; an answer keeps the port it
/// comes from (ingress opened by the interface, egress opened by a
/// remote: the source port); egress the interface opened keeps the
/// destination port; egress that cannot be placed keeps the lower port.
fn service_port(record: &Record<'_>, direction: Direction, initiator: Initiator) -> u16 {
    let source = record.srcport.unwrap_or(0);
    let destination = record.dstport.unwrap_or(0);
    let answer = matches!(
        (direction, initiator),
        (Direction::Ingress, Initiator::Interface) | (Direction::Egress, Initiator::Remote)
    );
    let unplaced = (direction, initiator) == (Direction::Egress, Initiator::Unknown);
    // Selects, not branches: records of every kind come interleaved.
    let port = std::hint::select_unpredictable(answer, source, destination);
    std::hint::select_unpredictable(unplaced, source.min(destination), port)
}

/// The counters of one key, held in the key table itself. The key's
/// sketch and ranking (its [`KeySources`], by `index`) are only touched
/// when its held sources are applied; the documents take both.
#[derive(Debug, Clone, Copy)]
struct Counters {
    index: u32,
    /// Sources held in the key's entry ([`KeyEntry::held`]), not applied
    /// yet.
    held: u32,
    packets: u64,
    bytes: u64,
    flows: u64,
    first_seen: i64,
    last_seen: i64,
}

impl Counters {
    const fn new(index: u32, start: i64, end: i64) -> Self {
        Self {
            index,
            held: 0,
            packets: 0,
            bytes: 0,
            flows: 0,
            first_seen: start,
            last_seen: end,
        }
    }

    fn add(&mut self, packets: u64, bytes: u64, start: i64, end: i64) {
        self.packets = self.packets.saturating_add(packets);
        self.bytes = self.bytes.saturating_add(bytes);
        self.flows += 1;
        self.first_seen = self.first_seen.min(start);
        self.last_seen = self.last_seen.max(end);
    }
}

/// A key, its counters and its latest sources: two cache lines of the key
/// table, which a processor brings in together (an aligned pair). A record
/// writes its source beside its counters, where its look-up has brought
/// the key already; once [`HELD_WORDS`] words are held (sixteen IPv4
/// addresses or four IPv6 ones), they are applied to the key's sketch and
/// ranking together ([`Aggregator::queue_held`]): one visit of those per
/// sixteen records of the key, not one per record.
#[derive(Clone, Copy)]
#[repr(C, align(128))]
struct KeyEntry {
    /// [`TrafficKey::packed`] with [`OCCUPIED`] set; zero when the slot is
    /// free.
    key: u128,
    counters: Counters,
    /// The key's sources not applied yet (`counters.held` of them), in
    /// record order: an IPv4 address a word, an IPv6 one four words (low
    /// word first).
    held: [u32; HELD_WORDS],
}

/// The words of sources a [`KeyEntry`] holds: one cache line.
const HELD_WORDS: usize = 16;

/// The flag of a [`KeyEntry`] in use (packed keys use 104 bits).
const OCCUPIED: u128 = 1 << 127;

impl KeyEntry {
    const FREE: Self = Self {
        key: 0,
        counters: Counters::new(0, 0, 0),
        held: [0; HELD_WORDS],
    };

    /// Holds `source` (its bits; a key's sources are all of `ip_version`)
    /// after those held, and returns them to apply once they fill the
    /// entry's line.
    #[inline(always)]
    fn hold(&mut self, source: u128, ip_version: u8) -> Option<HeldSources> {
        let held = self.counters.held as usize;
        let capacity = if ip_version == 6 {
            let at = held * 4;
            for (word, place) in self.held[at..at + 4].iter_mut().enumerate() {
                *place = (source >> (32 * word)) as u32;
            }
            HELD_WORDS / 4
        } else {
            self.held[held] = source as u32;
            HELD_WORDS
        };
        if held + 1 == capacity {
            self.counters.held = 0;
            Some(HeldSources {
                key: self.counters.index,
                count: capacity as u32,
                words: self.held,
            })
        } else {
            self.counters.held = held as u32 + 1;
            None
        }
    }
}

/// The key table: open addressing with linear probing over entries of an
/// aligned pair of cache lines (a key is found in the first), at most
/// half full: each slot a probe passes is a cache line that was not asked
/// for ahead, and a linear probe lengthens fast past half (hashbrown's
/// seven eighths suits its groups of sixteen one-byte tags, not a probe
/// from one whole entry to the next; at three quarters the bench's
/// look-ups passed 0.52 slots on average, at half 0.20). A key's
/// first slot follows from its hash alone, so a record's slot is asked
/// for ([`KeyTable::prefetch`]) when it is typed, [`LAG`] records before
/// it is looked up (a general-purpose table has no such hint); most keys
/// lie in that slot or the next few. The hash is seeded per table, so no
/// crafted object can make its keys collide, and it is foldhash's
/// `quality` variant: the `fast` one (a single folded multiply of a key's
/// two halves) crowds the keys of about one seed in six hundred into a
/// few runs of slots, probes of tens to hundreds where there should be one
/// or two (measured in `docs/exposure.md`).
struct KeyTable {
    /// A power of two of slots, or none.
    slots: Vec<KeyEntry>,
    len: usize,
    hasher: foldhash::quality::SeedableRandomState,
}

impl KeyTable {
    fn new() -> Self {
        Self::with_hasher(foldhash::quality::SeedableRandomState::random())
    }

    fn with_hasher(hasher: foldhash::quality::SeedableRandomState) -> Self {
        Self {
            slots: vec![KeyEntry::FREE; 16],
            len: 0,
            hasher,
        }
    }

    fn hash(&self, packed: u128) -> u64 {
        self.hasher.hash_one(packed)
    }

    /// Grows the table, if need be, so that `more` keys more leave it at
    /// most half full.
    fn reserve(&mut self, more: usize) {
        let wanted = self.len + more;
        if wanted * 2 <= self.slots.len() {
            return;
        }
        let size = (wanted * 2 + 1).next_power_of_two();
        let old = std::mem::replace(&mut self.slots, vec![KeyEntry::FREE; size]);
        for entry in old.into_iter().filter(|entry| entry.key != 0) {
            let at = self.free_or_equal(entry.key, self.hash(entry.key & !OCCUPIED));
            self.slots[at] = entry;
        }
    }

    /// The slot of `key` (with [`OCCUPIED`]), or the free slot where it
    /// goes. The table is never full, so the probe ends.
    fn free_or_equal(&self, key: u128, hash: u64) -> usize {
        let mask = self.slots.len() - 1;
        let first = hash as usize & mask;
        // Most keys lie in their first slot, a few in the next: which one
        // is a coin toss for a branch predictor, so the probe starts at
        // the right one of the two without a branch.
        let found = self.slots[first].key;
        let mut at =
            std::hint::select_unpredictable(found == key || found == 0, first, (first + 1) & mask);
        loop {
            let found = self.slots[at].key;
            if found == key || found == 0 {
                return at;
            }
            at = (at + 1) & mask;
        }
    }

    fn prefetch(&self, hash: u64) {
        if let Some(first) = self
            .slots
            .get(hash as usize & self.slots.len().wrapping_sub(1))
        {
            super::prefetch(first);
            super::prefetch(&first.held);
        }
    }

    /// The entry of `packed` (hashed as `hash`), its counters made by `new`
    /// the first time. The table grows only when a new key would fill it
    /// past half (a found key costs no check of the table's size).
    fn entry(&mut self, packed: u128, hash: u64, new: impl FnOnce() -> Counters) -> &mut KeyEntry {
        let key = packed | OCCUPIED;
        let mut at = self.free_or_equal(key, hash);
        if self.slots[at].key == 0 {
            if (self.len + 1) * 2 > self.slots.len() {
                self.reserve(1);
                at = self.free_or_equal(key, hash);
            }
            self.slots[at] = KeyEntry {
                key,
                counters: new(),
                held: [0; HELD_WORDS],
            };
            self.len += 1;
        }
        &mut self.slots[at]
    }

    /// Each key (unpacked) and its counters.
    fn iter(&self) -> impl Iterator<Item = (TrafficKey, &Counters)> {
        self.slots
            .iter()
            .filter(|entry| entry.key != 0)
            .map(|entry| (TrafficKey::unpacked(entry.key & !OCCUPIED), &entry.counters))
    }

    /// The entries of keys that hold sources.
    fn holding(&mut self) -> impl Iterator<Item = &mut KeyEntry> {
        self.slots
            .iter_mut()
            .filter(|entry| entry.key != 0 && entry.counters.held != 0)
    }

    /// Slots, free or not (for the memory report).
    fn capacity(&self) -> usize {
        self.slots.len()
    }
}

/// A space-saving ranking in place: at most [`TOP_SOURCES`] addresses (as
/// integers) and their counts, never allocating or growing.
struct Ranking<T> {
    ranked: u8,
    /// Once every place is taken: the places holding the least count, one
    /// bit each (so a replacement takes the first of them without reading
    /// every count: space-saving counts only ever grow by one).
    least: u16,
    /// Records of one object (saturating: an object holds far fewer than
    /// four billion).
    flows: [u32; TOP_SOURCES],
    /// The first `ranked` are the ranked addresses.
    addresses: [T; TOP_SOURCES],
}

impl<T: Copy + Default + PartialEq> Ranking<T> {
    fn new() -> Self {
        Self {
            ranked: 0,
            least: 0,
            flows: [0; TOP_SOURCES],
            addresses: [T::default(); TOP_SOURCES],
        }
    }

    /// What [`Aggregate::add_source`] does to the ranking: the address
    /// counted where it is ranked, else ranked in a free place, else in
    /// the place of the first of the least counted, with its count plus
    /// one. True when it was ranked already.
    fn add(&mut self, address: T) -> bool {
        let ranked = usize::from(self.ranked);
        // Every place compared, no early exit: a few vector instructions.
        let mut equal = 0u32;
        for (at, ranked_address) in self.addresses.iter().enumerate() {
            equal |= u32::from(*ranked_address == address) << at;
        }
        equal &= (1 << ranked) - 1;
        let at = if equal != 0 {
            equal.trailing_zeros() as usize
        } else if ranked < TOP_SOURCES {
            self.addresses[ranked] = address;
            self.flows[ranked] = 1;
            self.ranked += 1;
            if ranked + 1 == TOP_SOURCES {
                self.least = self.places_of_least();
            }
            return false;
        } else {
            let at = self.least.trailing_zeros() as usize;
            self.addresses[at] = address;
            at
        };
        let before = self.flows[at];
        self.flows[at] = before.saturating_add(1);
        if ranked == TOP_SOURCES && self.flows[at] != before {
            // The place leaves the least; when it was the last of them, the
            // least is found again (one more than before: counts grow by
            // one, so it is this place's and maybe others').
            self.least &= !(1 << at);
            if self.least == 0 {
                self.least = self.places_of_least();
            }
        }
        equal != 0
    }

    /// The places whose count is the least, one bit each.
    fn places_of_least(&self) -> u16 {
        let least = self.flows.iter().copied().min().unwrap_or(0);
        let mut places = 0u16;
        for (at, flows) in self.flows.iter().enumerate() {
            places |= u16::from(*flows == least) << at;
        }
        places
    }

    /// The ranked addresses and their counts, in place order.
    fn iter(&self) -> impl Iterator<Item = (T, u32)> + '_ {
        let ranked = usize::from(self.ranked);
        self.addresses[..ranked].iter().copied().zip(self.flows)
    }
}

/// A key's sources as the aggregator keeps them: the sketch, and the
/// space-saving ranking of [`Aggregate::top_sources`] in place. A key's
/// sources are all of its IP version: IPv4 ones are ranked as 32-bit
/// integers in the entry itself (120 bytes in all), IPv6 ones in a ranking
/// of 128-bit integers apart, which an IPv6 key has from the start (so it
/// tells the version).
struct KeySources {
    sketch: Hll,
    v4: Ranking<u32>,
    v6: Option<Box<Ranking<u128>>>,
}

// The sizes the comments and the memory report count on, and a place of
// the ranking for each bit of `Ranking::least`.
const _: () = assert!(TOP_SOURCES <= 16);
const _: () = assert!(std::mem::size_of::<KeyEntry>() == 128);
const _: () = assert!(std::mem::offset_of!(KeyEntry, held) == 64);
const _: () = assert!(std::mem::size_of::<KeySources>() == 120);
const _: () = assert!(std::mem::size_of::<IndexEntry>() == 128);

impl KeySources {
    fn new(ip_version: u8) -> Self {
        Self {
            sketch: Hll::new(),
            v4: Ranking::new(),
            v6: (ip_version == 6).then(|| Box::new(Ranking::new())),
        }
    }

    fn is_v6(&self) -> bool {
        self.v6.is_some()
    }

    /// What [`Aggregate::add_source`] does: the ranking, then the sketch,
    /// unless the address was ranked already: it went into the sketch when
    /// it entered the ranking, so the sketch is the same.
    fn add(&mut self, source: IpAddr) {
        let ranked = match source {
            IpAddr::V4(v4) => self.v4.add(u32::from(v4)),
            IpAddr::V6(v6) => self
                .v6
                .get_or_insert_with(|| Box::new(Ranking::new()))
                .add(u128::from(v6)),
        };
        if !ranked {
            self.sketch.insert(source);
        }
    }

    /// [`KeySources::add`] of an IPv4 address (as an integer), in the
    /// loop that applies a key's held sources: no address to build and
    /// tell apart.
    #[inline(always)]
    fn add_v4(&mut self, source: u32) {
        if !self.v4.add(source) {
            self.sketch.insert_v4(source);
        }
    }

    /// The ranking as [`Aggregate::top_sources`], in place order.
    fn top_sources(&self) -> Vec<TopSource> {
        let v4 = self.v4.iter().map(|(address, flows)| TopSource {
            address: IpAddr::V4(std::net::Ipv4Addr::from(address)),
            flows: u64::from(flows),
        });
        let v6 = self
            .v6
            .iter()
            .flat_map(|ranking| ranking.iter())
            .map(|(address, flows)| TopSource {
                address: IpAddr::V6(std::net::Ipv6Addr::from(address)),
                flows: u64::from(flows),
            });
        v4.chain(v6).collect()
    }
}

/// Records, `NODATA` and `SKIPDATA` of one interface in one hour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub records: u64,
    pub nodata: u64,
    pub skipdata: u64,
}

/// What an aggregator saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AggregatorStats {
    /// Records added (every parsed line).
    pub records: u64,
    /// Records with traffic, aggregated.
    pub aggregated: u64,
    pub nodata: u64,
    pub skipdata: u64,
    /// Records that cannot be aggregated: no interface or start (a custom
    /// format without them), or an `OK` record without addresses, protocol
    /// or action.
    pub incomplete: u64,
}

struct InterfaceSlot {
    id: Box<str>,
    view: InterfaceView,
    /// Coverage per hour of the records that are not aggregated (an
    /// object spans a few hours: a short list).
    hours: Vec<(u32, Coverage)>,
}

/// Sources taken from a key's entry, in record order: `count` of them
/// (all [`HELD_WORDS`] words of a full entry; fewer when
/// [`Aggregator::flush`] takes what an entry holds).
#[derive(Clone, Copy)]
struct HeldSources {
    key: u32,
    count: u32,
    words: [u32; HELD_WORDS],
}

impl HeldSources {
    /// Applies the sources to their key's sketch and ranking.
    fn apply(&self, sources: &mut KeySources) {
        let count = self.count as usize;
        if sources.is_v6() {
            for words in self.words.chunks_exact(4).take(count) {
                let bits = words
                    .iter()
                    .rev()
                    .fold(0u128, |bits, &word| bits << 32 | u128::from(word));
                sources.add(IpAddr::V6(std::net::Ipv6Addr::from(bits)));
            }
        } else {
            for &word in &self.words[..count] {
                sources.add_v4(word);
            }
        }
    }
}

/// How many full entries' sources wait to be applied: the key's sources
/// are asked for when they are queued, its sketch [`SKETCH_AHEAD`] queued
/// ones before they are applied (once the sources' line, which holds the
/// sketch's address, is in).
const HELD_QUEUE: usize = 8;
const SKETCH_AHEAD: usize = 4;

/// How many records a key lookup waits after its slot in the key table is
/// asked for: the slot comes in while those records are parsed and typed
/// (a record's own parsing and typing is too long for the processor to
/// reach the next record's lookup while one waits).
const LAG: usize = 4;

/// The places of the waiting ring: [`LAG`] records and the next one's,
/// a power of two.
const RING: usize = (LAG + 1).next_power_of_two();

/// A record typed, waiting for its key lookup.
#[derive(Clone, Copy)]
struct Prepared {
    /// [`TrafficKey::packed`], and its hash in the key table.
    packed: u128,
    hash: u64,
    packets: u64,
    bytes: u64,
    start: i64,
    end: i64,
    /// The remote address's bits (IPv4 in the low 32).
    source: u128,
    /// The key's IP version: which of `source`'s bits are the address.
    ip_version: u8,
}

impl Prepared {
    /// A place of the ring no record has taken yet.
    const NONE: Self = Self {
        packed: 0,
        hash: 0,
        packets: 0,
        bytes: 0,
        start: 0,
        end: 0,
        source: 0,
        ip_version: 0,
    };
}

/// The aggregation of one object's records.
///
/// Per record, the hot path finds the interface (by its id packed into
/// words) and types the key (the addresses tested as integers); records
/// then wait [`LAG`] records for their key lookups, their slots in the
/// [`KeyTable`] asked for when they are typed (so that the cache misses
/// overlap the records in between), and their counters are added there
/// (the per-hour coverage of aggregated records is their keys' `flows`,
/// summed when the documents are read); the source is held beside them,
/// in the entry's second line, and a key's held sources are applied to
/// its sketch and ranking together when they fill the line (through a
/// short queue, so that their cache misses are asked for ahead) and before
/// the documents are read ([`Aggregator::flush`]): a key's sketch and
/// ranking are visited once per sixteen of its records, not per record.
/// Each key's sources are applied in record order, so the space-saving
/// ranking (which depends on order) and the sketch (which does not) are
/// exactly those of applying record by record.
pub struct Aggregator {
    map: std::sync::Arc<NetworkMap>,
    interface_index: InterfaceIndex,
    long_interface_index: HashMap<Box<[u8]>, u32, Fast>,
    /// The views' VPC networks, one copy per VPC.
    networks: classify::SharedNetworks,
    interfaces: Vec<InterfaceSlot>,
    /// By [`TrafficKey::packed`].
    keys: KeyTable,
    /// Indexed by `Counters::index`: the keys' sketches and rankings.
    sources: Vec<KeySources>,
    /// Full entries' sources waiting to be applied, oldest first: at most
    /// [`HELD_QUEUE`].
    queued: std::collections::VecDeque<HeldSources>,
    /// Records waiting for their key lookups (a ring): `pending` of them,
    /// at most [`LAG`], from `oldest` on, and a place for the next.
    waiting: [Prepared; RING],
    pending: usize,
    oldest: usize,
    stats: AggregatorStats,
}

impl Aggregator {
    pub fn new(map: std::sync::Arc<NetworkMap>) -> Self {
        Self {
            map,
            interface_index: InterfaceIndex::new(),
            long_interface_index: HashMap::default(),
            networks: classify::SharedNetworks::default(),
            interfaces: Vec::new(),
            keys: KeyTable::new(),
            sources: Vec::new(),
            queued: std::collections::VecDeque::with_capacity(HELD_QUEUE + 1),
            waiting: [Prepared::NONE; RING],
            pending: 0,
            oldest: 0,
            stats: AggregatorStats::default(),
        }
    }

    pub fn stats(&self) -> AggregatorStats {
        self.stats
    }

    /// Traffic keys held (of the records looked up: the last [`LAG`]
    /// records' keys count from [`Aggregator::flush`] or the next records
    /// on).
    pub fn key_count(&self) -> usize {
        self.sources.len()
    }

    /// The index of an interface, and its IPv4 tests.
    fn interface(&mut self, id: Text<'_>) -> (u32, Option<classify::V4Tests>) {
        let short = ShortId::new(id.as_bytes());
        match short {
            Some(short) => {
                if let Some(found) = self.interface_index.get(&short) {
                    return (found.index, found.v4);
                }
            }
            None => {
                if let Some(&index) = self.long_interface_index.get(id.as_bytes()) {
                    return (index, self.interfaces[index as usize].view.v4);
                }
            }
        }
        let index = self.interfaces.len() as u32;
        let view = self.map.view_in(id.as_str(), &mut self.networks);
        let v4 = view.v4;
        self.interfaces.push(InterfaceSlot {
            id: id.as_str().into(),
            view,
            hours: Vec::new(),
        });
        match short {
            Some(short) => {
                self.interface_index.insert(IndexEntry {
                    id: short,
                    index,
                    v4,
                });
            }
            None => {
                self.long_interface_index
                    .insert(id.as_bytes().into(), index);
            }
        }
        (index, v4)
    }

    /// The coverage of records that are not aggregated (`NODATA`,
    /// `SKIPDATA`, incomplete); aggregated ones are counted by their keys'
    /// `flows` and added when the documents are read, so that the hot path
    /// touches the key table only.
    fn coverage(&mut self, interface: u32, hour: u32) -> &mut Coverage {
        let hours = &mut self.interfaces[interface as usize].hours;
        let at = match hours.iter().position(|(h, _)| *h == hour) {
            Some(at) => at,
            None => {
                hours.push((hour, Coverage::default()));
                hours.len() - 1
            }
        };
        &mut hours[at].1
    }

    /// Adds one record.
    pub fn add(&mut self, record: &Record<'_>) {
        self.stats.records += 1;
        let (Some(interface_id), Some(start)) = (record.interface_id, record.start) else {
            self.stats.incomplete += 1;
            return;
        };
        let (interface, v4) = self.interface(interface_id);
        let hour = (start / 3600).clamp(0, i64::from(u32::MAX)) as u32;
        match record.log_status {
            Some(LogStatus::NoData) => {
                let coverage = self.coverage(interface, hour);
                coverage.records += 1;
                coverage.nodata += 1;
                self.stats.nodata += 1;
                return;
            }
            Some(LogStatus::SkipData) => {
                let coverage = self.coverage(interface, hour);
                coverage.records += 1;
                coverage.skipdata += 1;
                self.stats.skipdata += 1;
                return;
            }
            Some(LogStatus::Ok) | None => {}
        }
        let (Some(action), Some(protocol), Some(source), Some(_)) = (
            record.action,
            record.protocol,
            record.srcaddr,
            record.dstaddr,
        ) else {
            self.coverage(interface, hour).records += 1;
            self.stats.incomplete += 1;
            return;
        };
        let (direction, remote, source_class) = match v4
            .as_ref()
            .and_then(|tests| classify::place_v4(record, tests))
        {
            Some((direction, remote, class)) => (direction, IpAddr::V4(remote), class),
            None => {
                let view = &self.interfaces[interface as usize].view;
                let direction = classify::direction(record, view);
                let remote = classify::remote_address(record, direction).unwrap_or(source);
                (direction, remote, classify::source_class(remote, view))
            }
        };
        let initiator = classify::initiator(record, direction);
        let key = TrafficKey {
            interface,
            hour,
            direction,
            initiator,
            protocol,
            dst_port: if protocol == TCP || protocol == UDP {
                service_port(record, direction, initiator)
            } else {
                0
            },
            action,
            source_class,
            ip_version: if remote.is_ipv4() { 4 } else { 6 },
        };
        let end = record.end.unwrap_or(start);
        let packed = key.packed();
        let hash = self.keys.hash(packed);
        self.keys.prefetch(hash);
        let prepared = Prepared {
            packed,
            hash,
            packets: record.packets.unwrap_or(0),
            bytes: record.bytes.unwrap_or(0),
            start,
            end,
            source: match remote {
                IpAddr::V4(v4) => u128::from(u32::from(v4)),
                IpAddr::V6(v6) => u128::from(v6),
            },
            ip_version: key.ip_version,
        };
        // Written to its place before the oldest is looked up, so that
        // nothing typed is held across the look-up.
        self.waiting[(self.oldest + self.pending) % RING] = prepared;
        if self.pending < LAG {
            self.pending += 1;
        } else {
            let oldest = self.oldest;
            self.look_up(oldest);
            self.oldest = (oldest + 1) % RING;
        }
        self.stats.aggregated += 1;
    }

    /// Finds the key of the record waiting at `at` in the key table, adds
    /// its counters and holds its source.
    fn look_up(&mut self, at: usize) {
        let Prepared {
            packed,
            hash,
            packets,
            bytes,
            start,
            end,
            source,
            ip_version,
        } = self.waiting[at];
        let sources = &mut self.sources;
        let entry = self.keys.entry(packed, hash, || {
            sources.push(KeySources::new(ip_version));
            Counters::new((sources.len() - 1) as u32, start, end)
        });
        entry.counters.add(packets, bytes, start, end);
        if let Some(held) = entry.hold(source, ip_version) {
            self.queue_held(held);
        }
    }

    /// Queues a full entry's sources, asking for the lines they will
    /// touch, and applies the oldest queued once there are more than
    /// [`HELD_QUEUE`].
    fn queue_held(&mut self, held: HeldSources) {
        let sources = &self.sources[held.key as usize];
        super::prefetch(&sources.sketch);
        super::prefetch(&sources.v4);
        self.queued.push_back(held);
        let queued = self.queued.len();
        if let Some(ahead) = queued
            .checked_sub(SKETCH_AHEAD + 1)
            .and_then(|at| self.queued.get(at))
        {
            self.sources[ahead.key as usize].sketch.prefetch();
        }
        if queued > HELD_QUEUE
            && let Some(oldest) = self.queued.pop_front()
        {
            oldest.apply(&mut self.sources[oldest.key as usize]);
        }
    }

    /// The waiting records looked up, oldest first.
    fn look_up_waiting(&mut self) {
        for at in 0..self.pending {
            self.look_up((self.oldest + at) % RING);
        }
        self.pending = 0;
        self.oldest = 0;
    }

    /// Looks the waiting records up, then applies the sources queued and
    /// those the key entries hold to their keys' sketches and rankings
    /// (each key's in record order). [`Aggregator::documents`] calls it;
    /// memory stays bounded without it.
    pub fn flush(&mut self) {
        self.look_up_waiting();
        for held in self.queued.drain(..) {
            held.apply(&mut self.sources[held.key as usize]);
        }
        for entry in self.keys.holding() {
            let held = HeldSources {
                key: entry.counters.index,
                count: entry.counters.held,
                words: entry.held,
            };
            held.apply(&mut self.sources[held.key as usize]);
            entry.counters.held = 0;
        }
    }

    /// Bytes held by the aggregator's tables and values (an estimate from
    /// sizes and capacities, for the memory report).
    pub fn approximate_bytes(&self) -> usize {
        let key = std::mem::size_of::<KeyEntry>();
        let entry = std::mem::size_of::<KeySources>();
        let hour = std::mem::size_of::<(u32, Coverage)>();
        self.keys.capacity() * key
            + self.sources.capacity() * entry
            + self
                .sources
                .iter()
                .map(|sources| {
                    sources.sketch.heap_bytes()
                        + sources
                            .v6
                            .as_ref()
                            .map_or(0, |_| std::mem::size_of::<Ranking<u128>>())
                })
                .sum::<usize>()
            + self.queued.capacity() * std::mem::size_of::<HeldSources>()
            + self
                .interfaces
                .iter()
                .map(|i| std::mem::size_of::<InterfaceSlot>() + 64 + i.hours.capacity() * hour)
                .sum::<usize>()
            + self.interface_index.capacity() * std::mem::size_of::<IndexEntry>()
    }

    /// The documents of everything aggregated, in a stable order (traffic
    /// by key, then coverage), each with its deterministic `id`.
    pub fn documents(
        &mut self,
        account: &AccountId,
        region: &Region,
        object_id: &str,
    ) -> Vec<AggregateDoc> {
        self.flush();
        let mut keys: Vec<(TrafficKey, &Counters)> = self.keys.iter().collect();
        keys.sort_by(|(a, _), (b, _)| {
            let name = |k: &TrafficKey| &*self.interfaces[k.interface as usize].id;
            (name(a), a).cmp(&(name(b), b))
        });
        let mut coverage: HashMap<(u32, u32), Coverage, Fast> = HashMap::default();
        for (index, slot) in self.interfaces.iter().enumerate() {
            for (hour, counted) in &slot.hours {
                coverage.insert((index as u32, *hour), *counted);
            }
        }
        for (key, counters) in &keys {
            coverage
                .entry((key.interface, key.hour))
                .or_default()
                .records += counters.flows;
        }
        let mut hours: Vec<(u32, u32, Coverage)> = coverage
            .into_iter()
            .map(|((interface, hour), counted)| (interface, hour, counted))
            .collect();
        let mut documents = Vec::with_capacity(keys.len() + hours.len());
        for (key, counters) in keys {
            let sources = &self.sources[counters.index as usize];
            let body = DocBody::Traffic(TrafficDoc {
                direction: key.direction,
                initiator: key.initiator,
                protocol: key.protocol,
                dst_port: key.dst_port,
                action: key.action,
                source_class: key.source_class,
                ip_version: key.ip_version,
                packets: counters.packets,
                bytes: counters.bytes,
                flows: counters.flows,
                distinct_sources: sources.sketch.estimate(),
                hll: sources.sketch.to_base64(),
                top_sources: sources.top_sources(),
                first_seen: counters.first_seen,
                last_seen: counters.last_seen,
            });
            documents.push(AggregateDoc::new(
                account,
                region,
                &self.interfaces[key.interface as usize].id,
                i64::from(key.hour) * 3600,
                object_id,
                body,
            ));
        }
        hours.sort_by(|a, b| {
            let name = |index: u32| &*self.interfaces[index as usize].id;
            (name(a.0), a.1).cmp(&(name(b.0), b.1))
        });
        for (interface, hour, coverage) in hours {
            documents.push(AggregateDoc::new(
                account,
                region,
                &self.interfaces[interface as usize].id,
                i64::from(hour) * 3600,
                object_id,
                DocBody::Coverage(coverage),
            ));
        }
        documents
    }
}

/// One archive line and index document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AggregateDoc {
    /// Hex SHA-256 of the key, the hour and the object id: the index `_id`,
    /// the same when the object is processed again.
    pub id: String,
    pub account: String,
    pub region: String,
    pub interface_id: String,
    /// Start of the hour (UTC), epoch seconds.
    pub hour: i64,
    /// The source object's id (see `fanin_exposure::ingest`).
    pub object_id: String,
    /// `kind` (`traffic` or `coverage`) and its values.
    #[serde(flatten)]
    pub body: DocBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum DocBody {
    Traffic(TrafficDoc),
    Coverage(Coverage),
}

/// The traffic values of a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficDoc {
    pub direction: Direction,
    pub initiator: Initiator,
    pub protocol: u8,
    /// The connection's service port (see `service_port`): the destination
    /// port of inbound traffic, the remote service's port of answers to the
    /// interface's own connections; 0 for protocols other than TCP and UDP.
    pub dst_port: u16,
    pub action: Action,
    pub source_class: SourceClass,
    pub ip_version: u8,
    pub packets: u64,
    pub bytes: u64,
    pub flows: u64,
    /// The sketch's estimate.
    pub distinct_sources: u64,
    /// The sketch (see [`Hll::to_base64`]), for merging.
    pub hll: String,
    pub top_sources: Vec<TopSource>,
    pub first_seen: i64,
    pub last_seen: i64,
}

impl TrafficDoc {
    /// The values as an [`Aggregate`] to merge.
    pub fn aggregate(&self) -> Result<Aggregate, HllError> {
        Ok(Aggregate {
            packets: self.packets,
            bytes: self.bytes,
            flows: self.flows,
            sources: Hll::from_base64(&self.hll)?,
            top_sources: self.top_sources.clone(),
            first_seen: self.first_seen,
            last_seen: self.last_seen,
        })
    }

    /// Merges another document's values of the same key into this one.
    pub fn merge(&mut self, other: &TrafficDoc) -> Result<(), HllError> {
        let mut ours = self.aggregate()?;
        ours.merge(&other.aggregate()?);
        self.packets = ours.packets;
        self.bytes = ours.bytes;
        self.flows = ours.flows;
        self.distinct_sources = ours.sources.estimate();
        self.hll = ours.sources.to_base64();
        self.top_sources = ours.top_sources;
        self.first_seen = ours.first_seen;
        self.last_seen = ours.last_seen;
        Ok(())
    }
}

impl AggregateDoc {
    /// The traffic body of a traffic document.
    pub fn traffic(&self) -> Option<&TrafficDoc> {
        match &self.body {
            DocBody::Traffic(traffic) => Some(traffic),
            DocBody::Coverage(_) => None,
        }
    }

    fn new(
        account: &AccountId,
        region: &Region,
        interface_id: &str,
        hour: i64,
        object_id: &str,
        body: DocBody,
    ) -> Self {
        let mut document = Self {
            id: String::new(),
            account: account.to_string(),
            region: region.to_string(),
            interface_id: interface_id.to_owned(),
            hour,
            object_id: object_id.to_owned(),
            body,
        };
        let digest =
            Sha256::digest(format!("{}|{hour}|{object_id}", document.merge_key()).as_bytes());
        document.id = hex::encode(digest);
        document
    }

    /// What two documents to merge share: everything but the object (and
    /// so the id), the hour included. Merge across hours by dropping it.
    pub fn merge_key(&self) -> String {
        let common = format!("{}|{}|{}", self.account, self.region, self.interface_id);
        match &self.body {
            DocBody::Traffic(t) => format!(
                "{common}|{}|{}|{}|{}|{}|{}|{}",
                enum_name(&t.direction),
                enum_name(&t.initiator),
                t.protocol,
                t.dst_port,
                enum_name(&t.action),
                enum_name(&t.source_class),
                t.ip_version
            ),
            DocBody::Coverage(_) => format!("{common}|coverage"),
        }
    }

    /// Merges a document of the same [`AggregateDoc::merge_key`] and hour
    /// (from another object) into this one. `false` when the keys differ
    /// (nothing is changed).
    pub fn merge(&mut self, other: &AggregateDoc) -> Result<bool, HllError> {
        if self.merge_key() != other.merge_key() || self.hour != other.hour {
            return Ok(false);
        }
        match (&mut self.body, &other.body) {
            (DocBody::Traffic(ours), DocBody::Traffic(theirs)) => ours.merge(theirs)?,
            (DocBody::Coverage(ours), DocBody::Coverage(theirs)) => {
                ours.records += theirs.records;
                ours.nodata += theirs.nodata;
                ours.skipdata += theirs.skipdata;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

fn enum_name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::flowlogs::fields::Format;
    use crate::flowlogs::parse::parse_record;

    fn account() -> AccountId {
        AccountId::parse("123456789010").unwrap()
    }

    fn region() -> Region {
        Region::parse("us-east-1").unwrap()
    }

    fn aggregate(format: &str, lines: &[&str], map: NetworkMap) -> Vec<AggregateDoc> {
        let format = Format::from_header(format).unwrap();
        let mut aggregator = Aggregator::new(Arc::new(map));
        for line in lines {
            aggregator.add(&parse_record(&format, line.as_bytes()).unwrap());
        }
        aggregator.documents(&account(), &region(), "object-1")
    }

    /// The traffic documents, each with its traffic body.
    fn traffic(documents: &[AggregateDoc]) -> Vec<(&AggregateDoc, &TrafficDoc)> {
        documents
            .iter()
            .filter_map(|d| Some((d, d.traffic()?)))
            .collect()
    }

    #[test]
    fn interface_ids_of_every_length_are_told_apart() {
        let ids: Vec<String> = (1..=30)
            .flat_map(|len| ["e".repeat(len), format!("{}f", "e".repeat(len - 1))])
            .collect();
        let keys: Vec<Option<ShortId>> = ids.iter().map(|id| ShortId::new(id.as_bytes())).collect();
        for (a, key_a) in keys.iter().enumerate() {
            assert_eq!(key_a.is_some(), ids[a].len() <= 24, "{}", ids[a]);
            for (b, key_b) in keys.iter().enumerate() {
                if key_a.is_some() && key_b.is_some() {
                    assert_eq!(key_a == key_b, ids[a] == ids[b], "{} {}", ids[a], ids[b]);
                }
            }
        }
        // Through the aggregator, short and long alike: one interface per id.
        let format = Format::from_header("interface-id").unwrap();
        fn text<'a>(format: &Format, id: &'a str) -> Text<'a> {
            parse_record(format, id.as_bytes())
                .unwrap()
                .interface_id
                .unwrap()
        }
        let mut aggregator = Aggregator::new(Arc::new(NetworkMap::new()));
        for id in ids.iter().chain(&ids) {
            aggregator.interface(text(&format, id));
        }
        assert_eq!(aggregator.interfaces.len(), ids.len());
        for (at, id) in ids.iter().enumerate() {
            let (index, v4) = aggregator.interface(text(&format, id));
            assert_eq!(index, at as u32);
            assert_eq!(v4, aggregator.interfaces[at].view.v4);
            assert_eq!(&*aggregator.interfaces[at].id, id.as_str());
        }
    }

    #[test]
    fn each_interface_is_classified_by_its_own_vpc() {
        // Three interfaces in one object: two VPCs (the second peered with
        // the first) and one the map does not know. The same source is
        // in the VPC of one, peered for another, private for the third.
        let mut map = NetworkMap::new();
        map.insert_interface("eni-a", Some("vpc-a".into()), ["10.0.0.5".parse().unwrap()]);
        map.insert_interface("eni-b", Some("vpc-b".into()), ["10.1.0.5".parse().unwrap()]);
        map.insert_vpc_cidr("vpc-a", "10.0.0.0/16".parse().unwrap());
        map.insert_vpc_cidr("vpc-b", "10.1.0.0/16".parse().unwrap());
        map.insert_peered_cidr("vpc-a", "10.1.0.0/16".parse().unwrap());
        let documents = aggregate(
            "interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status",
            &[
                "eni-a 10.1.7.7 10.0.0.5 40000 443 6 1 40 7200 7260 ACCEPT OK",
                "eni-b 10.1.7.7 10.1.0.5 40000 443 6 1 40 7200 7260 ACCEPT OK",
                "eni-c 10.1.7.7 10.2.0.5 40000 443 6 1 40 7200 7260 ACCEPT OK",
                "eni-a 10.1.7.8 10.0.0.5 40001 443 6 1 40 7300 7360 ACCEPT OK",
            ],
            map,
        );
        let classes: Vec<(&str, SourceClass, u64)> = traffic(&documents)
            .iter()
            .map(|(d, t)| (d.interface_id.as_str(), t.source_class, t.flows))
            .collect();
        assert_eq!(
            classes,
            [
                ("eni-a", SourceClass::Peered, 2),
                ("eni-b", SourceClass::SameVpc, 1),
                ("eni-c", SourceClass::Private, 1),
            ]
        );
    }

    #[test]
    fn records_of_one_key_and_hour_sum_and_rank_their_sources() {
        let mut map = NetworkMap::new();
        map.insert_interface("eni-a", Some("vpc-a".into()), ["10.0.0.5".parse().unwrap()]);
        map.insert_vpc_cidr("vpc-a", "10.0.0.0/16".parse().unwrap());
        let documents = aggregate(
            "interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status",
            &[
                "eni-a 198.51.100.1 10.0.0.5 40000 443 6 2 100 7200 7260 ACCEPT OK",
                "eni-a 198.51.100.2 10.0.0.5 40001 443 6 3 200 7300 7360 ACCEPT OK",
                "eni-a 198.51.100.1 10.0.0.5 40002 443 6 1 50 7400 7460 ACCEPT OK",
                // Another hour, another key.
                "eni-a 198.51.100.1 10.0.0.5 40003 443 6 1 50 10900 10960 ACCEPT OK",
                // Rejected from the VPC: another key.
                "eni-a 10.0.9.9 10.0.0.5 40004 22 6 1 40 7200 7210 REJECT OK",
                "eni-a - - - - - - - 7200 7260 - NODATA",
            ],
            map,
        );
        let traffic = traffic(&documents);
        assert_eq!(traffic.len(), 3);
        let (first, https) = traffic
            .iter()
            .find(|(d, t)| d.hour == 7200 && t.dst_port == 443)
            .unwrap();
        assert_eq!(first.hour, 7200);
        assert_eq!(
            (
                https.packets,
                https.bytes,
                https.flows,
                https.distinct_sources
            ),
            (6, 350, 3, 2)
        );
        assert_eq!((https.first_seen, https.last_seen), (7200, 7460));
        assert_eq!(
            (
                https.direction,
                https.initiator,
                https.source_class,
                https.action
            ),
            // No flags, a service port: who opened it is unknown (counts as use).
            (
                Direction::Ingress,
                Initiator::Unknown,
                SourceClass::Internet,
                Action::Accept
            )
        );
        assert_eq!(
            https.top_sources,
            vec![
                TopSource {
                    address: "198.51.100.1".parse().unwrap(),
                    flows: 2
                },
                TopSource {
                    address: "198.51.100.2".parse().unwrap(),
                    flows: 1
                },
            ]
        );
        let ssh = traffic.iter().find(|(_, t)| t.dst_port == 22).unwrap().1;
        assert_eq!(
            (ssh.action, ssh.source_class),
            (Action::Reject, SourceClass::SameVpc)
        );
        let coverage: Vec<(i64, Coverage)> = documents
            .iter()
            .filter_map(|d| match d.body {
                DocBody::Coverage(c) => Some((d.hour, c)),
                DocBody::Traffic(_) => None,
            })
            .collect();
        assert_eq!(
            coverage,
            [
                (
                    7200,
                    Coverage {
                        records: 5,
                        nodata: 1,
                        skipdata: 0
                    }
                ),
                (
                    10800,
                    Coverage {
                        records: 1,
                        nodata: 0,
                        skipdata: 0
                    }
                )
            ]
        );
    }

    /// The sources are applied in batches sorted by key; the space-saving
    /// ranking depends on order, so a batched aggregation must equal the
    /// same records applied one by one, across a flush in the middle of the
    /// object and with evictions (more than ten addresses per key).
    #[test]
    fn batched_sources_equal_record_by_record_application() {
        let format = Format::from_header(
            "interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status",
        )
        .unwrap();
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = move |n: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % n
        };
        let lines: Vec<String> = (0..HELD_WORDS * HELD_QUEUE * 300 + 1234)
            .map(|_| {
                let port = [22, 80, 443][next(3) as usize];
                // eni-c's traffic is IPv6: its entries hold four sources.
                let interface = ["eni-a", "eni-b", "eni-c"][next(3) as usize];
                // Skewed: a few addresses often, many once, so the ranking
                // both counts and evicts.
                let (often, once) = (next(2) == 0, (next(200), next(250) + 1));
                let (source, destination) = match (interface, often) {
                    ("eni-c", true) => (format!("2001:db8::{}", next(5) + 1), "2001:db8::5"),
                    ("eni-c", false) => (
                        format!("2001:db8:{:x}::{:x}", once.0, once.1),
                        "2001:db8::5",
                    ),
                    (_, true) => (format!("198.51.100.{}", next(5) + 1), "10.0.0.5"),
                    (_, false) => (format!("203.0.{}.{}", once.0, once.1), "10.0.0.5"),
                };
                format!(
                    "{interface} {source} {destination} 40000 {port} 6 1 40 7200 7260 ACCEPT OK"
                )
            })
            .collect();
        let map = Arc::new(NetworkMap::new());
        let mut aggregator = Aggregator::new(map.clone());
        let mut expected: Vec<(String, u16, Aggregate)> = Vec::new();
        for line in &lines {
            let record = parse_record(&format, line.as_bytes()).unwrap();
            aggregator.add(&record);
            let interface = record.interface_id.unwrap().as_str().to_owned();
            let port = record.dstport.unwrap();
            let at = match expected
                .iter()
                .position(|(i, p, _)| *i == interface && *p == port)
            {
                Some(at) => at,
                None => {
                    expected.push((interface, port, Aggregate::new(7200, 7260)));
                    expected.len() - 1
                }
            };
            expected[at].2.add_counts(1, 40, 7200, 7260);
            expected[at].2.add_source(record.srcaddr.unwrap());
        }
        let documents = aggregator.documents(&account(), &region(), "object-1");
        let traffic = traffic(&documents);
        assert_eq!(traffic.len(), 9);
        for (interface, port, aggregate) in &expected {
            let (_, doc) = traffic
                .iter()
                .find(|(d, t)| d.interface_id == *interface && t.dst_port == *port)
                .unwrap();
            assert_eq!(aggregate.top_sources.len(), TOP_SOURCES);
            assert_eq!(doc.top_sources, aggregate.top_sources, "{interface} {port}");
            assert_eq!(doc.hll, aggregate.sources.to_base64());
            assert_eq!(doc.flows, aggregate.flows);
        }
        assert_eq!(
            expected.iter().map(|(_, _, a)| a.flows).sum::<u64>(),
            lines.len() as u64
        );
    }

    #[test]
    fn a_packed_key_unpacks_to_the_same_key() {
        let directions = [Direction::Ingress, Direction::Egress];
        let initiators = [Initiator::Remote, Initiator::Interface, Initiator::Unknown];
        let actions = [Action::Accept, Action::Reject];
        let classes = [
            SourceClass::Internet,
            SourceClass::SameVpc,
            SourceClass::Peered,
            SourceClass::Private,
        ];
        let numbers = [
            (0, 0, 0, 0, 4),
            (7, 493_000, 443, 6, 6),
            (u32::MAX, u32::MAX, u16::MAX, u8::MAX, 6),
        ];
        let mut keys = Vec::new();
        for direction in directions {
            for initiator in initiators {
                for action in actions {
                    for source_class in classes {
                        for (interface, hour, dst_port, protocol, ip_version) in numbers {
                            keys.push(TrafficKey {
                                interface,
                                hour,
                                direction,
                                initiator,
                                protocol,
                                dst_port,
                                action,
                                source_class,
                                ip_version,
                            });
                        }
                    }
                }
            }
        }
        let mut seen = HashSet::new();
        for key in keys {
            assert_eq!(TrafficKey::unpacked(key.packed()), key);
            assert_eq!(key.packed() & OCCUPIED, 0);
            assert!(seen.insert(key.packed()), "{key:?} packs as another key");
        }
        assert_eq!(seen.len(), 2 * 3 * 2 * 4 * 3);
    }

    /// The key table grows by moving its entries: keys made before and
    /// after each growth keep their own counters.
    #[test]
    fn keys_across_the_key_tables_growths_keep_their_counters() {
        let ports = 3_000u64;
        // Round after round over every port, so that each growth happens
        // between records of keys it moves.
        let lines: Vec<String> = (0..4)
            .flat_map(|round| {
                (1..=ports)
                    .filter(move |port| round <= port % 4)
                    .map(|port| {
                        format!(
                            "eni-a 203.0.113.9 10.0.0.5 40000 {port} 6 {port} 40 7200 7260 ACCEPT OK"
                        )
                    })
            })
            .collect();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let documents = aggregate(
            "interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status",
            &lines,
            NetworkMap::new(),
        );
        let traffic = traffic(&documents);
        assert_eq!(traffic.len(), ports as usize);
        for (_, doc) in traffic {
            let port = u64::from(doc.dst_port);
            let records = port % 4 + 1;
            assert_eq!(doc.flows, records, "port {port}");
            assert_eq!(doc.packets, port * records, "port {port}");
        }
    }

    /// Keys of a thousand interfaces over two hours, five ports, answered
    /// and not, hashed with a seed under which foldhash's `fast` variant
    /// crowds them (a mean probe of 95 slots): the table's own hash keeps
    /// the mean probe under two slots.
    #[test]
    fn the_key_tables_hash_spreads_keys_a_single_multiply_crowds() {
        static SHARED: foldhash::SharedSeed = foldhash::SharedSeed::from_u64(0xe131_797f_0dee_5b38);
        let hasher =
            foldhash::quality::SeedableRandomState::with_seed(0x8464_23fb_d018_498e, &SHARED);
        let mut table = KeyTable::with_hasher(hasher);
        let mut keys = Vec::new();
        for interface in 0..1000 {
            for hour in [490_128, 490_129] {
                for dst_port in [22, 80, 443, 3389, 5432] {
                    for (initiator, action) in [
                        (Initiator::Remote, Action::Accept),
                        (Initiator::Unknown, Action::Accept),
                        (Initiator::Unknown, Action::Reject),
                    ] {
                        keys.push(TrafficKey {
                            interface,
                            hour,
                            direction: Direction::Ingress,
                            initiator,
                            protocol: 6,
                            dst_port,
                            action,
                            source_class: SourceClass::Internet,
                            ip_version: 4,
                        });
                    }
                }
            }
        }
        table.reserve(keys.len());
        let mask = table.capacity() - 1;
        let mut probes = 0;
        for (at, key) in keys.iter().enumerate() {
            let packed = key.packed();
            let hash = table.hash(packed);
            table.entry(packed, hash, || Counters::new(at as u32, 0, 0));
            let slot = table.free_or_equal(packed | OCCUPIED, hash);
            probes += (slot.wrapping_sub(hash as usize) & mask) + 1;
        }
        assert_eq!(table.iter().count(), keys.len());
        let mean = probes as f64 / keys.len() as f64;
        assert!(mean < 2.0, "mean probe {mean:.1} slots");
    }

    #[test]
    fn documents_serialize_as_the_contract_names_them_and_ids_are_stable() {
        let documents = aggregate(
            "interface-id srcaddr dstaddr srcport dstport protocol start action",
            &["eni-a 2001:db8::1 2001:db8::2 40000 443 6 3600 ACCEPT"],
            NetworkMap::new(),
        );
        let json = serde_json::to_value(&documents[0]).unwrap();
        for field in [
            "id",
            "kind",
            "account",
            "region",
            "interface_id",
            "direction",
            "initiator",
            "protocol",
            "dst_port",
            "action",
            "source_class",
            "ip_version",
            "hour",
            "packets",
            "bytes",
            "flows",
            "distinct_sources",
            "hll",
            "top_sources",
            "first_seen",
            "last_seen",
            "object_id",
        ] {
            assert!(json.get(field).is_some(), "{field} missing from {json}");
        }
        assert_eq!(json["kind"], "traffic");
        assert_eq!(json["action"], "ACCEPT");
        assert_eq!(json["source_class"], "internet");
        assert_eq!(json["ip_version"], 6);
        assert_eq!(json["top_sources"][0]["address"], "2001:db8::1");
        let coverage = serde_json::to_value(&documents[1]).unwrap();
        assert_eq!(coverage["kind"], "coverage");
        assert_eq!(coverage["records"], 1);
        let again = aggregate(
            "interface-id srcaddr dstaddr srcport dstport protocol start action",
            &["eni-a 2001:db8::1 2001:db8::2 40000 443 6 3600 ACCEPT"],
            NetworkMap::new(),
        );
        assert_eq!(again, documents);
        assert_eq!(documents[0].id.len(), 64);
        assert_ne!(documents[0].id, documents[1].id);
        let back: AggregateDoc = serde_json::from_value(json).unwrap();
        assert_eq!(back, documents[0]);
    }

    #[test]
    fn documents_of_two_objects_merge_by_key() {
        let line = ["eni-a 198.51.100.1 10.0.0.5 40000 443 6 3600 ACCEPT"];
        let format = "interface-id srcaddr dstaddr srcport dstport protocol start action";
        let mut first = aggregate(format, &line, NetworkMap::new()).remove(0);
        let second = aggregate(
            format,
            &["eni-a 198.51.100.2 10.0.0.5 40000 443 6 3700 ACCEPT"],
            NetworkMap::new(),
        )
        .remove(0);
        assert!(first.merge(&second).unwrap());
        let DocBody::Traffic(merged) = &first.body else {
            panic!()
        };
        assert_eq!((merged.flows, merged.distinct_sources), (2, 2));
        assert_eq!((merged.first_seen, merged.last_seen), (3600, 3700));
        let other_port = aggregate(
            format,
            &["eni-a 198.51.100.2 10.0.0.5 40000 22 6 3700 ACCEPT"],
            NetworkMap::new(),
        )
        .remove(0);
        assert!(!first.merge(&other_port).unwrap());
    }

    fn arbitrary_aggregate() -> impl Strategy<Value = Aggregate> {
        (
            proptest::collection::vec((0u32..14, 1u64..5), 0..12),
            0i64..1000,
            0i64..1000,
            0u64..10_000,
        )
            .prop_map(|(sources, start, length, packets)| {
                let mut aggregate = Aggregate::new(start, start + length);
                for (source, times) in sources {
                    for _ in 0..times {
                        aggregate.add_counts(packets, packets * 40, start, start + length);
                        aggregate.add_source(IpAddr::from([192, 0, 2, source as u8]));
                    }
                }
                aggregate
            })
    }

    fn distinct_addresses(aggregates: &[&Aggregate]) -> usize {
        let mut all: Vec<IpAddr> = aggregates
            .iter()
            .flat_map(|a| a.top_sources.iter().map(|t| t.address))
            .collect();
        all.sort();
        all.dedup();
        all.len()
    }

    proptest! {
        #[test]
        fn merge_is_commutative_and_associative(
            a in arbitrary_aggregate(),
            b in arbitrary_aggregate(),
            c in arbitrary_aggregate(),
        ) {
            let mut ab = a.clone();
            ab.merge(&b);
            let mut ba = b.clone();
            ba.merge(&a);
            let mut ab_c = ab.clone();
            ab_c.merge(&c);
            let mut bc = b.clone();
            bc.merge(&c);
            let mut a_bc = a.clone();
            a_bc.merge(&bc);
            // Top sources are re-ranked on merge; compare them re-ranked.
            let normalized = |mut x: Aggregate| { rank(&mut x.top_sources); x };
            prop_assert_eq!(normalized(ab.clone()), normalized(ba));
            if distinct_addresses(&[&a, &b, &c]) <= TOP_SOURCES {
                prop_assert_eq!(normalized(ab_c), normalized(a_bc));
            } else {
                let (mut left, mut right) = (ab_c, a_bc);
                left.top_sources.clear();
                right.top_sources.clear();
                prop_assert_eq!(left, right);
            }
        }
    }
}
