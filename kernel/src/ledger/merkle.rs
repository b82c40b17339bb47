//! RFC 6962 (Certificate Transparency) Merkle tree hashes over ledger entries.
//!
//! Owns: the Merkle tree hash (MTH) of a list of leaves, and consistency proofs between a
//! prefix and the whole list. Never does: read a store (callers pass leaf hashes).
//!
//! Leaves are the entries' `entry_hash` bytes, which already are RFC 6962 leaf hashes:
//! `SHA-256(0x00 ‖ canonical body)`. Interior nodes are `SHA-256(0x01 ‖ left ‖ right)`; a list
//! of `n > 1` leaves splits at `k`, the largest power of two smaller than `n`; the empty tree's
//! hash is `SHA-256("")`.

use sha2::{Digest, Sha256};

/// A 32-byte SHA-256 hash.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 ‖ data)`: the leaf hash (equal to a native entry's `entry_hash` bytes).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two strictly smaller than `n` (`n >= 2`).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// The Merkle tree hash of `leaves` (already leaf-hashed).
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The RFC 6962 §2.1.2 consistency proof that the first `m` leaves are a prefix of `leaves`.
/// Empty when `m == 0` or `m >= leaves.len()`.
pub fn consistency_proof(leaves: &[Hash], m: usize) -> Vec<Hash> {
    let mut proof = Vec::new();
    if m > 0 && m < leaves.len() {
        subproof(m, leaves, true, &mut proof);
    }
    proof
}

fn subproof(m: usize, d: &[Hash], whole: bool, proof: &mut Vec<Hash>) {
    let n = d.len();
    if m == n {
        if !whole {
            proof.push(root(d));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &d[..k], whole, proof);
        proof.push(root(&d[k..]));
    } else {
        subproof(m - k, &d[k..], false, proof);
        proof.push(root(&d[..k]));
    }
}

/// Checks a consistency proof (RFC 9162 §2.1.4.2) that a tree of `m` leaves with root
/// `old_root` is a prefix of a tree of `n` leaves with root `new_root`.
pub fn verify_consistency(m: u64, n: u64, old_root: &Hash, new_root: &Hash, proof: &[Hash]) -> bool {
    if m > n {
        return false;
    }
    if m == n {
        return proof.is_empty() && old_root == new_root;
    }
    if m == 0 {
        return proof.is_empty();
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if m.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else { return false };
    let (mut fn_, mut sn) = (m - 1, n - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && &fr == old_root && &sr == new_root
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The RFC 6962 definition, literally (allocating, recursive).
    fn naive(d: &[Vec<u8>]) -> Hash {
        if d.is_empty() {
            return Sha256::digest([]).into();
        }
        if d.len() == 1 {
            return leaf_hash(&d[0]);
        }
        let mut k = 1;
        while k * 2 < d.len() {
            k *= 2;
        }
        let mut h = Sha256::new();
        h.update([1u8]);
        h.update(naive(&d[..k]));
        h.update(naive(&d[k..]));
        h.finalize().into()
    }

    /// The test leaves of the certificate-transparency reference implementation.
    fn ct_leaves() -> Vec<Vec<u8>> {
        ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
            .iter()
            .map(|h| const_hex::decode(h).unwrap())
            .collect()
    }

    #[test]
    fn ct_reference_roots() {
        let roots = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let data = ct_leaves();
        let leaves: Vec<Hash> = data.iter().map(|d| leaf_hash(d)).collect();
        for (i, want) in roots.iter().enumerate() {
            assert_eq!(const_hex::encode(root(&leaves[..=i])), *want, "size {}", i + 1);
        }
        assert_eq!(const_hex::encode(root(&[])), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    proptest! {
        #[test]
        fn root_matches_naive_definition(data in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..8), 0..70)) {
            let leaves: Vec<Hash> = data.iter().map(|d| leaf_hash(d)).collect();
            prop_assert_eq!(root(&leaves), naive(&data));
        }

        #[test]
        fn prefix_consistency_proofs(n in 1usize..70, m_frac in 0.0f64..1.0, flip in any::<prop::sample::Index>()) {
            let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect();
            let m = ((n as f64) * m_frac) as usize + 1;
            let m = m.min(n);
            let old = root(&leaves[..m]);
            let new = root(&leaves);
            let proof = consistency_proof(&leaves, m);
            prop_assert!(verify_consistency(m as u64, n as u64, &old, &new, &proof));
            // A different old tree of the same size is not consistent.
            let mut other = leaves.clone();
            other[flip.index(m)][0] ^= 1;
            let forged_old = root(&other[..m]);
            if m < n {
                prop_assert!(!verify_consistency(m as u64, n as u64, &forged_old, &new, &proof));
            }
        }
    }
}
