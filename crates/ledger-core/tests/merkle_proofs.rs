//! Merkle proofs: every honest proof verifies, every altered proof fails without panicking.
//!
//! Sizes 1-300 are checked exhaustively (every leaf, every pair of sizes); larger trees are
//! sampled by proptest.

use ledger_core::merkle::{self, MemoryTree, ProofError};
use ledger_core::Hash32;
use proptest::prelude::*;

const EXHAUSTIVE_SIZE_MAX: u64 = 300;
const SAMPLED_SIZE_MAX: u64 = 70_000;

fn tree(size: u64) -> MemoryTree {
    let mut tree = MemoryTree::new();
    for i in 0..size {
        tree.push_event(&Hash32::from(blake3::hash(&i.to_le_bytes())));
    }
    tree
}

fn leaf(tree: &MemoryTree, index: u64) -> Hash32 {
    tree.node(merkle::NodeId::new(0, index)).unwrap()
}

/// Every way of damaging an inclusion proof that the verifier must catch.
fn check_inclusion_damage(tree: &MemoryTree, index: u64, size: u64, bit: usize) {
    let root = tree.root_at(size).unwrap();
    let proof = tree.inclusion_proof(index, size).unwrap();
    let leaf_hash = leaf(tree, index);
    merkle::verify_inclusion(index, size, &leaf_hash, &proof, &root)
        .unwrap_or_else(|e| panic!("honest proof of {index} in {size} failed: {e}"));

    for i in 0..proof.len() {
        let mut bad = proof.clone();
        bad[i].0[bit % 32] ^= 1 << (bit % 8);
        assert!(merkle::verify_inclusion(index, size, &leaf_hash, &bad, &root).is_err());
    }
    let mut bad_leaf = leaf_hash;
    bad_leaf.0[bit % 32] ^= 1;
    assert!(merkle::verify_inclusion(index, size, &bad_leaf, &proof, &root).is_err());
    for other in [index.wrapping_sub(1), index + 1, index ^ 2] {
        if other != index && other < size {
            assert!(merkle::verify_inclusion(other, size, &leaf_hash, &proof, &root).is_err());
        }
    }
    assert!(merkle::verify_inclusion(size, size, &leaf_hash, &proof, &root).is_err());
    // A wrong size is caught against that size's real root; against the old root a proof may
    // still fold correctly, which is harmless because (size, root) come as a signed pair.
    for other_size in [size - 1, size + 1, size * 2] {
        if other_size != size && other_size > index && other_size <= tree.size() {
            let other_root = tree.root_at(other_size).unwrap();
            let honest = tree.inclusion_proof(index, other_size).unwrap();
            let result =
                merkle::verify_inclusion(index, other_size, &leaf_hash, &proof, &other_root);
            assert_eq!(result.is_ok(), honest == proof, "{index} in {size} as {other_size}");
        }
    }
    if !proof.is_empty() {
        assert!(merkle::verify_inclusion(index, size, &leaf_hash, &proof[1..], &root).is_err());
        let short = &proof[..proof.len() - 1];
        assert!(merkle::verify_inclusion(index, size, &leaf_hash, short, &root).is_err());
    }
    let mut long = proof.clone();
    long.push(root);
    assert!(merkle::verify_inclusion(index, size, &leaf_hash, &long, &root).is_err());
    let mut bad_root = root;
    bad_root.0[0] ^= 0x80;
    assert_eq!(
        merkle::verify_inclusion(index, size, &leaf_hash, &proof, &bad_root),
        Err(ProofError::RootMismatch)
    );
}

fn check_consistency_damage(tree: &MemoryTree, old: u64, new: u64, bit: usize) {
    let old_root = tree.root_at(old).unwrap();
    let new_root = tree.root_at(new).unwrap();
    let proof = tree.consistency_proof(old, new).unwrap();
    merkle::verify_consistency(old, new, &old_root, &new_root, &proof)
        .unwrap_or_else(|e| panic!("honest consistency {old}->{new} failed: {e}"));

    for i in 0..proof.len() {
        let mut bad = proof.clone();
        bad[i].0[bit % 32] ^= 1 << (bit % 8);
        assert!(merkle::verify_consistency(old, new, &old_root, &new_root, &bad).is_err());
    }
    if old > 0 {
        let mut bad_old = old_root;
        bad_old.0[bit % 32] ^= 1;
        assert!(merkle::verify_consistency(old, new, &bad_old, &new_root, &proof).is_err());
    }
    let mut bad_new = new_root;
    bad_new.0[bit % 32] ^= 1;
    if old > 0 {
        assert!(merkle::verify_consistency(old, new, &old_root, &bad_new, &proof).is_err());
    }
    for (o, n) in [(old + 1, new), (old.wrapping_sub(1), new), (old, new + 1), (old, new - 1)] {
        if (o, n) != (old, new) && o > 0 && o < n && n <= tree.size() {
            let (o_root, n_root) = (tree.root_at(o).unwrap(), tree.root_at(n).unwrap());
            let honest = tree.consistency_proof(o, n).unwrap();
            let result = merkle::verify_consistency(o, n, &o_root, &n_root, &proof);
            assert_eq!(result.is_ok(), honest == proof, "{old}->{new} checked as {o}->{n}");
        }
    }
    if !proof.is_empty() {
        let short = &proof[..proof.len() - 1];
        assert!(merkle::verify_consistency(old, new, &old_root, &new_root, short).is_err());
        assert!(merkle::verify_consistency(old, new, &old_root, &new_root, &proof[1..]).is_err());
    }
    let mut long = proof.clone();
    long.push(new_root);
    assert!(merkle::verify_consistency(old, new, &old_root, &new_root, &long).is_err());
    assert!(
        merkle::verify_consistency(new, old, &new_root, &old_root, &proof).is_err() || old == new
    );
}

#[test]
fn inclusion_exhaustive_up_to_300() {
    let tree = tree(EXHAUSTIVE_SIZE_MAX * 2 + 1);
    for size in 1..=EXHAUSTIVE_SIZE_MAX {
        for index in 0..size {
            check_inclusion_damage(&tree, index, size, (index * 7 + size) as usize);
        }
    }
}

#[test]
fn consistency_exhaustive_up_to_300() {
    let tree = tree(EXHAUSTIVE_SIZE_MAX + 2);
    for new in 1..=EXHAUSTIVE_SIZE_MAX {
        for old in 0..=new {
            check_consistency_damage(&tree, old, new, (old * 13 + new) as usize);
        }
    }
}

#[test]
fn degenerate_inputs_fail_cleanly() {
    let z = Hash32::ZERO;
    assert!(merkle::verify_inclusion(0, 0, &z, &[], &z).is_err());
    assert!(merkle::verify_inclusion(u64::MAX, u64::MAX, &z, &[z; 70], &z).is_err());
    assert!(merkle::verify_inclusion(u64::MAX - 1, u64::MAX, &z, &[z; 64], &z).is_err());
    assert!(merkle::verify_consistency(5, 3, &z, &z, &[z]).is_err());
    assert!(merkle::verify_consistency(3, 5, &z, &z, &[]).is_err());
    assert!(merkle::verify_consistency(u64::MAX - 1, u64::MAX, &z, &z, &[z; 64]).is_err());
    assert!(merkle::verify_consistency(0, 0, &z, &z, &[]).is_ok());
    assert!(merkle::verify_consistency(0, 9, &z, &z, &[z]).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sampled_large_trees(size in 301..SAMPLED_SIZE_MAX, a in any::<u64>(), b in any::<u64>(),
                           bit in 0usize..256) {
        let big = tree(size + 1);
        let index = a % size;
        check_inclusion_damage(&big, index, size, bit);
        let old = b % (size + 1);
        check_consistency_damage(&big, old, size, bit);
    }

    #[test]
    fn arbitrary_proofs_never_panic(index in any::<u64>(), size in any::<u64>(),
                                    hashes in proptest::collection::vec(any::<[u8; 32]>(), 0..70)) {
        let proof: Vec<Hash32> = hashes.into_iter().map(Hash32).collect();
        let z = Hash32::ZERO;
        let _ = merkle::verify_inclusion(index, size, &z, &proof, &z);
        let _ = merkle::verify_consistency(index, size, &z, &z, &proof);
    }
}
