//! The compiled form of a [`Forest`] (`.qpack`): the packed layouts the fast
//! kernels walk, stored so that loading is a check and a memory map, not a
//! parse.
//!
//! Layout (all integers little-endian):
//!
//! | bytes | field |
//! |---|---|
//! | 0..8 | magic `\x89QPACK\r\n` |
//! | 8..12 | format version ([`VERSION`]) |
//! | 12..16 | header length (64) |
//! | 16..24 | file length |
//! | 24..32 | [`checksum`] of bytes `32..file length` (XXH3-64 of the XXH3-64 of each 256 KiB) |
//! | 32..36 | number of sections |
//! | 36..64 | zero |
//! | 64.. | section table: per section `id: u32, 0: u32, offset: u64, length: u64` |
//!
//! Sections start at multiples of 64 bytes. The big arrays (nodes, leaf values,
//! ...) are used in place. Each tree has a 32-byte record (root, node count,
//! depth, IR node count, flags, implicit-layout offsets); the node-number
//! section holds the original node numbers only of the fast trees whose
//! packed order is not their IR order (flag 8 clear; XGBoost's depthwise
//! trees are numbered breadth-first, so usually none), and the numbers are
//! rebuilt on first use. Everything is validated when the file is opened:
//! the checksum, every offset and count, and every packed tree (each step stays
//! inside its tree, every feature exists, the nodes form a tree), so a
//! corrupted or hostile file is an error, never a wrong read. The IR of the
//! trees is rebuilt from the packed layout only when something needs it (the
//! reference kernel, [`Forest::trees`]).
//!
//! The code is split by direction: [`write()`] (in `write.rs`), [`read()`] (in
//! `read.rs`: the header, the sections and the checksum) and the load-time
//! checks of the packed trees (`verify.rs`).
//!
//! [`Forest`]: crate::Forest
//! [`Forest::trees`]: crate::Forest::trees

mod read;
#[cfg(test)]
mod tests;
mod verify;
mod write;

pub use read::read;
pub use write::write;

/// The first bytes of every compiled file.
pub const MAGIC: &[u8; 8] = b"\x89QPACK\r\n";
/// The format version this build writes and reads.
///
/// Version 2 replaced version 1's XXH64 of the whole file with [`checksum`]
/// (XXH3-64 over 256 KiB chunks, which two threads can share) and stores node
/// numbers only for trees not numbered in order. Version 3 stores
/// implicit-layout splits as integer keys with the default direction folded
/// into the feature offset (no separate default-direction section). Version 4
/// does the same for the pointer layout. Version 5 (this one) records how many
/// features the trees read apart from how many the model declares, so a
/// model declaring far more features than its splits use is walked (and its
/// rows copied) at the width it reads. Older files are refused with a message
/// to recompile them.
pub const VERSION: u32 = 5;
const HEADER: usize = 64;
const ALIGN: usize = 64;
const MAX_SECTIONS: usize = 64;

mod id {
    pub const META: u32 = 1;
    pub const NODES: u32 = 2;
    pub const LEAF_VALUE: u32 = 3;
    pub const ORIGINAL: u32 = 4;
    pub const TREES: u32 = 5;
    pub const IMP_NODES: u32 = 6;
    // 7: implicit default directions, up to version 2.
    pub const IMP_LEAVES: u32 = 8;
    pub const IR_TREES: u32 = 9;
    pub const EXTRA: u32 = 10;
    /// Optional: training categories (absent when the model has none).
    pub const CATEGORIES: u32 = 11;
}

const FLAG_FAST: u32 = 1;
const FLAG_IMPLICIT: u32 = 2;
const FLAG_IR_STORED: u32 = 4;
/// The tree's packed node `root + k` is node `k` of its IR (breadth-first
/// numbering, as XGBoost numbers depthwise trees): its node numbers are not
/// stored.
const FLAG_NUMBERED_IN_ORDER: u32 = 8;

/// True when `bytes` start like a compiled file.
pub fn is_compiled(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// XXH3-64 (xxHash 0.8 and later) of `data`, with seed 0 and the default
/// secret: the hash [`checksum`] is made of (format version 2 and later).
/// It is [`xxhash_rust::xxh3::xxh3_64`]; the tests check it against the
/// reference vectors of xxHash's own sanity check.
#[inline]
pub fn xxh3_64(data: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(data)
}

/// The checksum hashes the file in chunks of this many bytes (so that two
/// threads can share the work), then hashes the chunks' hashes.
pub const CHECKSUM_CHUNK: usize = 256 * 1024;

/// The checksum stored at bytes 24..32 of a compiled file, over `body` (the
/// file from byte 32 on): [`xxh3_64`] of the little-endian [`xxh3_64`] of
/// each [`CHECKSUM_CHUNK`] bytes of `body` in order (the last chunk may be
/// shorter; an empty body has no chunks).
pub fn checksum(body: &[u8]) -> u64 {
    combine_chunk_sums(body.chunks(CHECKSUM_CHUNK).map(xxh3_64))
}

fn combine_chunk_sums(sums: impl Iterator<Item = u64>) -> u64 {
    let bytes: Vec<u8> = sums.flat_map(u64::to_le_bytes).collect();
    xxh3_64(&bytes)
}
