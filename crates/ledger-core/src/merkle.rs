//! The Merkle log: RFC 6962 tree shape with BLAKE3 as the hash.
//!
//! Leaves are event hashes. The tree over `n` leaves is the one of RFC 6962 section 2.1: split
//! at the largest power of two below `n`, recurse left and right. Leaf and node inputs are
//! domain-separated by a prefix byte so that a leaf can never pass for a node:
//!
//! - `leaf_hash(e) = BLAKE3(0x00 || e)` for an event hash `e`;
//! - `node_hash(l, r) = BLAKE3(0x01 || l || r)`;
//! - the root of the empty tree is `BLAKE3("")`.
//!
//! Every subtree that the RFC recursion visits is either *perfect* (2^k leaves, starting at a
//! multiple of 2^k) or a right edge `[a, b)` whose hash folds the perfect subtrees of the
//! binary decomposition of `b - a` from the right. So a store that keeps every perfect
//! subtree hash (a [`NodeId`]) can answer any root or proof by reading O(log n) nodes, with no
//! recomputation; [`range_nodes`] says which.
//!
//! Proofs are lists of subtree hashes in the order of RFC 6962 (nearest the leaf first), and
//! the verifiers follow RFC 9162 sections 2.1.3.2 and 2.1.4.2.

use crate::hash::Hash32;

/// The prefix byte of a leaf-hash input.
pub const LEAF_PREFIX: u8 = 0x00;

/// The prefix byte of a node-hash input.
pub const NODE_PREFIX: u8 = 0x01;

/// The deepest level a proof may reach: trees are smaller than 2^63 leaves.
pub const PROOF_HASHES_MAX: usize = 64;

/// `BLAKE3(0x00 || event_hash)`.
pub fn leaf_hash(event_hash: &Hash32) -> Hash32 {
    let mut h = blake3::Hasher::new();
    h.update(&[LEAF_PREFIX]);
    h.update(event_hash.as_bytes());
    h.finalize().into()
}

/// `BLAKE3(0x01 || left || right)`.
pub fn node_hash(left: &Hash32, right: &Hash32) -> Hash32 {
    let mut buf = [0u8; 65];
    buf[0] = NODE_PREFIX;
    buf[1..33].copy_from_slice(left.as_bytes());
    buf[33..].copy_from_slice(right.as_bytes());
    blake3::hash(&buf).into()
}

/// The root of the tree with no leaves: `BLAKE3("")`.
pub fn empty_root() -> Hash32 {
    blake3::hash(b"").into()
}

/// A perfect subtree: `2^level` leaves starting at leaf `index << level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Height above the leaves; leaves are level 0.
    pub level: u8,
    /// Position among the subtrees of that level, from the left.
    pub index: u64,
}

impl NodeId {
    /// A node id.
    pub fn new(level: u8, index: u64) -> Self {
        Self { level, index }
    }

    /// The first leaf it covers.
    pub fn first_leaf(&self) -> u64 {
        self.index << self.level
    }

    /// One past the last leaf it covers.
    pub fn end_leaf(&self) -> u64 {
        (self.index + 1) << self.level
    }
}

/// Why a proof does not verify. Every variant means "do not trust this proof".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not inside a tree of size {size}")]
    IndexOutOfRange {
        /// The leaf index claimed.
        index: u64,
        /// The tree size claimed.
        size: u64,
    },
    /// The first size is larger than the second.
    #[error("consistency from size {old} to the smaller size {new} is meaningless")]
    SizesReversed {
        /// The older size.
        old: u64,
        /// The newer size.
        new: u64,
    },
    /// The proof has more hashes than the tree shape allows.
    #[error("proof has too many hashes for the tree sizes given")]
    TooLong,
    /// The proof has fewer hashes than the tree shape needs.
    #[error("proof has too few hashes for the tree sizes given")]
    TooShort,
    /// The hashes do not lead to the expected root.
    #[error("proof does not lead to the expected root hash")]
    RootMismatch,
}

/// The largest power of two strictly below `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// The perfect subtrees whose hashes, folded from the right, give the hash of `[start, end)`.
///
/// Valid for the ranges that appear in RFC 6962 trees: `[0, n)` and the ranges of its proofs,
/// where `start` is a multiple of the largest power of two not above `end - start`.
pub fn range_nodes(start: u64, end: u64) -> Vec<NodeId> {
    let mut nodes = Vec::with_capacity(8);
    let mut at = start;
    while at < end {
        let level = 63 - (end - at).leading_zeros() as u8;
        // Alignment holds for every range this module produces; keep it checked.
        debug_assert_eq!(at % (1 << level), 0, "range [{start}, {end}) is not RFC-shaped");
        nodes.push(NodeId::new(level, at >> level));
        at += 1 << level;
    }
    nodes
}

/// Folds perfect-subtree hashes (as listed by [`range_nodes`]) into the range's hash.
pub fn fold_range(hashes: &[Hash32]) -> Option<Hash32> {
    let (last, rest) = hashes.split_last()?;
    Some(rest.iter().rev().fold(*last, |acc, h| node_hash(h, &acc)))
}

/// The ranges whose hashes form the inclusion proof of leaf `index` in a tree of `size`,
/// nearest the leaf first. Empty when `index >= size`.
pub fn inclusion_ranges(index: u64, size: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    if index < size {
        inclusion_rec(index, 0, size, &mut out);
    }
    out
}

fn inclusion_rec(m: u64, a: u64, b: u64, out: &mut Vec<(u64, u64)>) {
    if b - a <= 1 {
        return;
    }
    let k = split_point(b - a);
    if m < k {
        inclusion_rec(m, a, a + k, out);
        out.push((a + k, b));
    } else {
        inclusion_rec(m - k, a + k, b, out);
        out.push((a, a + k));
    }
}

/// The ranges whose hashes form the consistency proof from `old` to `new` leaves.
/// Empty when `old == 0`, `old >= new`.
pub fn consistency_ranges(old: u64, new: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    if 0 < old && old < new {
        consistency_rec(old, 0, new, true, &mut out);
    }
    out
}

fn consistency_rec(m: u64, a: u64, b: u64, complete: bool, out: &mut Vec<(u64, u64)>) {
    if m == b - a {
        if !complete {
            out.push((a, b));
        }
        return;
    }
    let k = split_point(b - a);
    if m <= k {
        consistency_rec(m, a, a + k, complete, out);
        out.push((a + k, b));
    } else {
        consistency_rec(m - k, a + k, b, false, out);
        out.push((a, a + k));
    }
}

/// Every perfect subtree a list of ranges needs, in order, without repeats.
pub fn nodes_for_ranges(ranges: &[(u64, u64)]) -> Vec<NodeId> {
    let mut nodes: Vec<NodeId> = ranges.iter().flat_map(|&(a, b)| range_nodes(a, b)).collect();
    nodes.sort_unstable();
    nodes.dedup();
    nodes
}

/// Assembles proof hashes for `ranges` from perfect-subtree hashes given by `lookup`.
/// Returns the first node `lookup` could not supply as the error.
pub fn assemble(
    ranges: &[(u64, u64)],
    mut lookup: impl FnMut(NodeId) -> Option<Hash32>,
) -> Result<Vec<Hash32>, NodeId> {
    let mut proof = Vec::with_capacity(ranges.len());
    for &(a, b) in ranges {
        let mut hashes = Vec::new();
        for id in range_nodes(a, b) {
            hashes.push(lookup(id).ok_or(id)?);
        }
        proof.push(fold_range(&hashes).ok_or(NodeId::new(0, a))?);
    }
    Ok(proof)
}

/// Checks that `leaf` (a [`leaf_hash`]) is at `index` in the tree of `size` leaves and `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash32,
    proof: &[Hash32],
    root: &Hash32,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    if proof.len() > PROOF_HASHES_MAX {
        return Err(ProofError::TooLong);
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return Err(ProofError::TooLong);
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::TooShort);
    }
    if r != *root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Checks that the tree of `new` leaves with `new_root` extends the tree of `old` leaves with
/// `old_root`.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash32,
    new_root: &Hash32,
    proof: &[Hash32],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::SizesReversed { old, new });
    }
    if proof.len() > PROOF_HASHES_MAX {
        return Err(ProofError::TooLong);
    }
    if old == new || old == 0 {
        // Nothing to prove beyond equal roots (same size) or nothing at all (empty tree).
        if !proof.is_empty() {
            return Err(ProofError::TooLong);
        }
        if old == new && old_root != new_root {
            return Err(ProofError::RootMismatch);
        }
        return Ok(());
    }
    if proof.is_empty() {
        return Err(ProofError::TooShort);
    }

    // When `old` is a power of two the old tree is itself a node of the new one and its root
    // starts the path; otherwise the proof's first hash does.
    let mut path = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);

    let (mut fnode, mut snode) = (old - 1, new - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if snode == 0 {
            return Err(ProofError::TooLong);
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    if snode != 0 {
        return Err(ProofError::TooShort);
    }
    if fr != *old_root || sr != *new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// The right edge of a growing tree: the perfect subtrees of `range_nodes(0, size)`.
///
/// It is all the state an appender needs: each append returns the perfect nodes it completes
/// (which a store persists), and the root is a fold of the frontier. It can be restored from
/// stored nodes after a restart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// Hashes of `range_nodes(0, size)`, largest (leftmost) first.
    nodes: Vec<Hash32>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Restores a frontier from the hashes of `range_nodes(0, size)`, largest first.
    /// `None` when the count does not match the size.
    pub fn from_parts(size: u64, nodes: Vec<Hash32>) -> Option<Self> {
        (nodes.len() == size.count_ones() as usize).then_some(Self { size, nodes })
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The frontier hashes, largest subtree first.
    pub fn nodes(&self) -> &[Hash32] {
        &self.nodes
    }

    /// The root hash of the tree.
    pub fn root(&self) -> Hash32 {
        fold_range(&self.nodes).unwrap_or_else(empty_root)
    }

    /// Appends a leaf hash and calls `completed` with every perfect node it completes, the leaf
    /// itself (level 0) first.
    pub fn append(&mut self, leaf: Hash32, mut completed: impl FnMut(NodeId, Hash32)) {
        let index = self.size;
        let mut hash = leaf;
        let mut level = 0u8;
        completed(NodeId::new(0, index), hash);
        // Each trailing one bit of the old size is a left sibling waiting on the frontier.
        let mut carry = index;
        while carry & 1 == 1 {
            let left = self.nodes.pop().unwrap_or_default();
            hash = node_hash(&left, &hash);
            level += 1;
            carry >>= 1;
            completed(NodeId::new(level, index >> level), hash);
        }
        self.nodes.push(hash);
        self.size += 1;
    }
}

/// A whole tree in memory: every perfect subtree hash, by level. For tests, verifiers and small
/// logs; the store keeps the same nodes in tiles.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash32>>,
    frontier: Frontier,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// Appends an event hash (hashed into a leaf here).
    pub fn push_event(&mut self, event_hash: &Hash32) {
        self.push_leaf(leaf_hash(event_hash));
    }

    /// Appends a leaf hash.
    pub fn push_leaf(&mut self, leaf: Hash32) {
        let levels = &mut self.levels;
        self.frontier.append(leaf, |id, hash| {
            let level = usize::from(id.level);
            if levels.len() <= level {
                levels.push(Vec::new());
            }
            debug_assert_eq!(levels[level].len() as u64, id.index);
            levels[level].push(hash);
        });
    }

    /// The hash of a perfect subtree, if complete.
    pub fn node(&self, id: NodeId) -> Option<Hash32> {
        self.levels.get(usize::from(id.level))?.get(usize::try_from(id.index).ok()?).copied()
    }

    /// The root at any size up to the current one.
    pub fn root_at(&self, size: u64) -> Option<Hash32> {
        if size > self.size() {
            return None;
        }
        if size == 0 {
            return Some(empty_root());
        }
        let hashes: Option<Vec<Hash32>> =
            range_nodes(0, size).into_iter().map(|id| self.node(id)).collect();
        fold_range(&hashes?)
    }

    /// The current root.
    pub fn root(&self) -> Hash32 {
        self.frontier.root()
    }

    /// The inclusion proof of leaf `index` at tree size `size`.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Option<Vec<Hash32>> {
        if index >= size || size > self.size() {
            return None;
        }
        assemble(&inclusion_ranges(index, size), |id| self.node(id)).ok()
    }

    /// The consistency proof from `old` to `new` leaves.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Option<Vec<Hash32>> {
        if old > new || new > self.size() {
            return None;
        }
        assemble(&consistency_ranges(old, new), |id| self.node(id)).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6962 MTH, computed straight from the definition.
    fn reference_root(leaves: &[Hash32]) -> Hash32 {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&reference_root(&leaves[..k]), &reference_root(&leaves[k..]))
            }
        }
    }

    fn leaf(i: u64) -> Hash32 {
        leaf_hash(&Hash32::from(blake3::hash(&i.to_be_bytes())))
    }

    #[test]
    fn roots_match_the_definition_at_every_size() {
        let mut tree = MemoryTree::new();
        let mut leaves = Vec::new();
        assert_eq!(tree.root(), empty_root());
        for i in 0..300 {
            leaves.push(leaf(i));
            tree.push_leaf(leaf(i));
            assert_eq!(tree.root(), reference_root(&leaves), "size {}", i + 1);
        }
        for size in 0..=300 {
            assert_eq!(tree.root_at(size).unwrap(), reference_root(&leaves[..size as usize]));
        }
    }

    #[test]
    fn frontier_restores_from_stored_nodes() {
        let mut tree = MemoryTree::new();
        for i in 0..77 {
            tree.push_leaf(leaf(i));
        }
        let nodes = range_nodes(0, 77).into_iter().map(|id| tree.node(id).unwrap()).collect();
        let mut restored = Frontier::from_parts(77, nodes).unwrap();
        let mut fresh = tree.frontier.clone();
        restored.append(leaf(77), |_, _| {});
        fresh.append(leaf(77), |_, _| {});
        assert_eq!(restored, fresh);
        assert!(Frontier::from_parts(77, vec![]).is_none());
    }

    #[test]
    fn range_nodes_cover_ranges_exactly() {
        for size in 1..200u64 {
            let nodes = range_nodes(0, size);
            assert_eq!(nodes.len(), size.count_ones() as usize);
            assert_eq!(nodes.last().unwrap().end_leaf(), size);
        }
    }

    #[test]
    fn known_proof_shapes() {
        // RFC 6962 section 2.1.3's example tree of seven leaves.
        assert_eq!(inclusion_ranges(0, 7), vec![(1, 2), (2, 4), (4, 7)]);
        assert_eq!(inclusion_ranges(3, 7), vec![(2, 3), (0, 2), (4, 7)]);
        assert_eq!(inclusion_ranges(6, 7), vec![(4, 6), (0, 4)]);
        assert_eq!(consistency_ranges(3, 7), vec![(2, 3), (3, 4), (0, 2), (4, 7)]);
        assert_eq!(consistency_ranges(4, 7), vec![(4, 7)]);
        assert_eq!(consistency_ranges(6, 7), vec![(4, 6), (6, 7), (0, 4)]);
    }
}
