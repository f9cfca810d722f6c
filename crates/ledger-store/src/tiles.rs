//! Merkle nodes stored as tiles, in the manner of C2SP `tlog-tiles`.
//!
//! Tile level `L` holds the tree nodes of height `8L`, 256 to a tile: tile `(L, N)` holds the
//! nodes `(8L, 256N .. 256N + 255)`. A node of any other height `8L + s` (0 < s < 8) is
//! recomputed from the `2^s` hashes of level `8L` below it, all inside one tile. So every
//! append writes a few rows per batch (the right-most tile of each level, rewritten as it
//! fills), and a proof reads about two tiles per level, `log2(n) / 8` levels.
//!
//! Tiles only grow at their end and full tiles never change, which is what makes
//! [`TileCache`] safe without invalidation: a cached tile answers every node it covers.

use std::collections::HashMap;

use ledger_core::merkle::{node_hash, NodeId};
use ledger_core::Hash32;

/// The tree height each tile level spans.
pub const TILE_HEIGHT: u8 = 8;

/// Hashes in a full tile.
pub const TILE_WIDTH: usize = 1 << TILE_HEIGHT;

/// How many full tiles a store keeps in memory for proofs (8 KiB each).
pub const TILE_CACHE_TILES_MAX: usize = 8192;

/// A tile's address: tile level and index within the level.
pub type TileKey = (u8, u64);

/// Which tile holds the hashes a node is computed from, and which entries of it.
pub fn node_location(id: NodeId) -> (TileKey, usize, usize) {
    let level = id.level / TILE_HEIGHT;
    let sub = id.level % TILE_HEIGHT;
    let first = id.index << sub;
    let tile = first / TILE_WIDTH as u64;
    let offset = (first % TILE_WIDTH as u64) as usize;
    ((level, tile), offset, 1 << sub)
}

/// Splits a stored tile into hashes; `None` when its length is not a multiple of 32.
pub fn decode_tile(bytes: &[u8]) -> Option<Vec<Hash32>> {
    if bytes.len() % 32 != 0 || bytes.len() > TILE_WIDTH * 32 {
        return None;
    }
    Some(bytes.chunks_exact(32).filter_map(Hash32::from_slice).collect())
}

/// Joins hashes into the stored form.
pub fn encode_tile(hashes: &[Hash32]) -> Vec<u8> {
    hashes.iter().flat_map(|h| h.0).collect()
}

/// Computes a node from its tile; `None` if the tile does not yet hold all its entries.
pub fn node_from_tile(id: NodeId, tile: &[Hash32]) -> Option<Hash32> {
    let (_, offset, count) = node_location(id);
    let mut layer: Vec<Hash32> = tile.get(offset..offset + count)?.to_vec();
    while layer.len() > 1 {
        layer = layer.chunks_exact(2).map(|pair| node_hash(&pair[0], &pair[1])).collect();
    }
    layer.first().copied()
}

/// Tiles by key, bounded by [`TILE_CACHE_TILES_MAX`]; cleared when full, which is crude
/// but keeps the bound without bookkeeping, and the hot tiles come back on the next proofs.
#[derive(Debug, Default)]
pub struct TileCache {
    tiles: HashMap<TileKey, std::sync::Arc<Vec<Hash32>>>,
}

impl TileCache {
    /// A tile, if cached (possibly shorter than the stored one).
    pub fn get(&self, key: &TileKey) -> Option<std::sync::Arc<Vec<Hash32>>> {
        self.tiles.get(key).cloned()
    }

    /// Caches a tile, unless a longer version of it is cached already.
    pub fn put(&mut self, key: TileKey, tile: std::sync::Arc<Vec<Hash32>>) {
        if self.tiles.get(&key).is_some_and(|t| t.len() >= tile.len()) {
            return;
        }
        if self.tiles.len() >= TILE_CACHE_TILES_MAX {
            self.tiles.clear();
        }
        self.tiles.insert(key, tile);
    }
}

/// The right-most tile of every level, as the writer extends it.
#[derive(Debug, Clone, Default)]
pub struct TileEdge {
    /// For each tile level: the index of its right-most tile and that tile's hashes so far.
    levels: Vec<(u64, Vec<Hash32>)>,
    /// Levels whose right-most tile changed since the last [`TileEdge::take_dirty`].
    touched: Vec<bool>,
    /// Tiles completed since then, with their final content.
    completed: Vec<(TileKey, Vec<Hash32>)>,
}

impl TileEdge {
    /// An edge for the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Restores the edge from the right-most tiles of a tree of `size` leaves; `load` returns
    /// a stored tile's hashes.
    pub fn restore(
        size: u64,
        mut load: impl FnMut(TileKey) -> Option<Vec<Hash32>>,
    ) -> Option<Self> {
        let mut edge = Self::new();
        let mut level = 0u8;
        loop {
            let count = size >> (u32::from(level) * u32::from(TILE_HEIGHT));
            if count == 0 {
                break;
            }
            let index = count / TILE_WIDTH as u64;
            let partial = (count % TILE_WIDTH as u64) as usize;
            let hashes = if partial == 0 {
                Vec::new()
            } else {
                let tile = load((level, index))?;
                tile.get(..partial)?.to_vec()
            };
            edge.levels.push((index, hashes));
            edge.touched.push(false);
            level += 1;
        }
        Some(edge)
    }

    /// Records a node the tree completed; only heights that are multiples of 8 are stored.
    pub fn push(&mut self, id: NodeId, hash: Hash32) {
        if id.level % TILE_HEIGHT != 0 {
            return;
        }
        let level = usize::from(id.level / TILE_HEIGHT);
        while self.levels.len() <= level {
            self.levels.push((0, Vec::new()));
            self.touched.push(false);
        }
        let (index, hashes) = &mut self.levels[level];
        debug_assert_eq!(*index * TILE_WIDTH as u64 + hashes.len() as u64, id.index);
        hashes.push(hash);
        if hashes.len() == TILE_WIDTH {
            self.completed.push(((level as u8, *index), std::mem::take(hashes)));
            *index += 1;
            self.touched[level] = false;
        } else {
            self.touched[level] = true;
        }
    }

    /// The tiles to write for the nodes pushed since the last call: completed tiles and the
    /// current partial tile of each touched level.
    pub fn take_dirty(&mut self) -> Vec<(TileKey, Vec<Hash32>)> {
        let mut dirty = std::mem::take(&mut self.completed);
        for (level, touched) in self.touched.iter_mut().enumerate() {
            if *touched {
                let (index, hashes) = &self.levels[level];
                dirty.push(((level as u8, *index), hashes.clone()));
                *touched = false;
            }
        }
        dirty
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger_core::merkle::MemoryTree;

    #[test]
    fn tiles_reproduce_every_node() {
        let mut tree = MemoryTree::new();
        let mut edge = TileEdge::new();
        let mut stored: HashMap<TileKey, Vec<Hash32>> = HashMap::new();
        let mut frontier = ledger_core::merkle::Frontier::new();
        for i in 0u64..70_000 {
            let leaf =
                ledger_core::merkle::leaf_hash(&Hash32::from(blake3::hash(&i.to_le_bytes())));
            tree.push_leaf(leaf);
            frontier.append(leaf, |id, h| edge.push(id, h));
            if i % 997 == 0 || i == 69_999 {
                stored.extend(edge.take_dirty());
            }
        }
        for level in 0..17u8 {
            for index in [0u64, 1, 2, 3, 7, (70_000u64 >> level).saturating_sub(1)] {
                let id = NodeId::new(level, index);
                let Some(expected) = tree.node(id) else { continue };
                let (key, _, _) = node_location(id);
                let got = node_from_tile(id, &stored[&key]);
                assert_eq!(got, Some(expected), "node {id:?}");
            }
        }
        let restored = TileEdge::restore(70_000, |k| stored.get(&k).cloned()).unwrap();
        assert_eq!(restored.levels, edge.levels);
    }
}
