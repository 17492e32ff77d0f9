"""The audit Merkle tree (projections.audit.merkle) against RFC 6962/9162 published vectors and properties."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.audit.merkle import (
    EMPTY_ROOT,
    Frontier,
    MemoryTree,
    consistency_proof,
    inclusion_path,
    leaf_hash,
    node_hash,
    range_hash,
    root,
    root_from_inclusion,
    verify_consistency,
    verify_inclusion,
)

h = bytes.fromhex

# Reference vectors of transparency-dev/merkle (RFC 6962 hashing, the same as RFC 9162 §2.1),
# copied from testonly/constants.go (LeafInputs, NodeHashes, RootHashes, CompactTrees,
# EmptyRootHash) at commit 417fb0c314750d94e53942e9f92e79b6d35915db.
LEAF_INPUTS = [
    h(""),
    h("00"),
    h("10"),
    h("2021"),
    h("3031"),
    h("40414243"),
    h("5051525354555657"),
    h("606162636465666768696a6b6c6d6e6f"),
]
NODE_HASHES = [
    [
        h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        h("0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"),
        h("07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        h("4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658"),
        h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        h("46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"),
    ],
    [
        h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
    ],
    [
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ],
    [
        h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
    ],
]
EMPTY_ROOT_HASH = h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
ROOT_HASHES = [  # indexed by tree size
    EMPTY_ROOT_HASH,
    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
    h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    h("aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77"),
    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    h("4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4"),
    h("76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef"),
    h("ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c"),
    h("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"),
]
NH = NODE_HASHES
COMPACT_TREES = [  # the frontier of each tree size, as (level, index) into NODE_HASHES
    [],
    [NH[0][0]],
    [NH[1][0]],
    [NH[1][0], NH[0][2]],
    [NH[2][0]],
    [NH[2][0], NH[0][4]],
    [NH[2][0], NH[1][2]],
    [NH[2][0], NH[1][2], NH[0][6]],
    [NH[3][0]],
]

# Proof vectors published with them: transparency-dev/merkle proof/verify_test.go
# (inclusionProofs, consistencyProofs) at commit 022f84cb1f2655a4399874cfa190c3f1d60b32a8;
# commit bcba819ef46f73fd3aaa964f46778beab2e20d59 later moved them to testdata/*.json
# (e.g. testdata/inclusion/1/happy-path.json is the (0, 8) case). There the leaf number is
# 1-based; here it is the 0-based index.
INCLUSION_PROOFS = [
    (0, 1, []),
    (0, 8, [
        h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ]),
    (5, 8, [
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    ]),
    (2, 3, [
        h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"),
    ]),
    (1, 5, [
        h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
    ]),
]
CONSISTENCY_PROOFS = [
    (1, 1, []),
    (1, 8, [
        h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
    ]),
    (6, 8, [
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    ]),
    (2, 5, [
        h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
        h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
    ]),
    (6, 7, [
        h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
        h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
        h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
    ]),
]


def reference_tree() -> MemoryTree:
    return MemoryTree(leaf_hash(data) for data in LEAF_INPUTS)


def naive_mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 MTH, literally."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = split_point(n)
    return node_hash(naive_mth(leaves[:k]), naive_mth(leaves[k:]))


def leaves_for(seed: bytes, size: int) -> list[bytes]:
    return [leaf_hash(seed + i.to_bytes(4, "big")) for i in range(size)]


def split_point(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def path_shape(m: int, n: int) -> tuple[str, ...]:
    """Which side each hash of PATH(m, D[n]) (RFC 9162 §2.1.3.1) sits on, leaf side first.

    RFC 9162 verification only sees the hashes and this shape, so a proof also verifies under
    any other (index, size) of the same shape: the root, not the size, commits to the tree.
    """
    if n <= 1:
        return ()
    k = split_point(n)
    if m < k:
        return (*path_shape(m, k), "right")
    return (*path_shape(m - k, n - k), "left")


def proof_shape(m: int, n: int, known: bool = True) -> tuple[str, ...]:
    """The same for SUBPROOF(m, D[n], known) (RFC 9162 §2.1.4.1)."""
    if m == n:
        return () if known else ("start",)
    k = split_point(n)
    if m <= k:
        return (*proof_shape(m, k, known), "right")
    return (*proof_shape(m - k, n - k, False), "left")


def flip_bit(data: bytes, bit: int) -> bytes:
    bit %= len(data) * 8
    changed = bytearray(data)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


# --- published vectors ---------------------------------------------------------------------


def test_empty_root_is_the_sha256_of_nothing() -> None:
    assert EMPTY_ROOT == EMPTY_ROOT_HASH
    assert root(0, MemoryTree().complete) == EMPTY_ROOT_HASH


def test_every_complete_subtree_of_the_reference_tree() -> None:
    tree = reference_tree()
    for level, hashes in enumerate(NODE_HASHES):
        for index, expected in enumerate(hashes):
            assert tree.complete(level, index) == expected, (level, index)


@pytest.mark.parametrize("size", range(len(ROOT_HASHES)))
def test_reference_roots(size: int) -> None:
    tree = reference_tree()
    assert tree.root(size) == ROOT_HASHES[size]
    assert naive_mth([leaf_hash(d) for d in LEAF_INPUTS[:size]]) == ROOT_HASHES[size]


def test_frontier_matches_the_reference_compact_trees_and_roots() -> None:
    frontier = Frontier()
    assert frontier.hashes == COMPACT_TREES[0] and frontier.root() == ROOT_HASHES[0]
    for size, data in enumerate(LEAF_INPUTS, start=1):
        frontier.append(leaf_hash(data))
        assert frontier.size == size
        assert frontier.hashes == COMPACT_TREES[size]
        assert frontier.root() == ROOT_HASHES[size]


@pytest.mark.parametrize(("index", "size", "expected"), INCLUSION_PROOFS)
def test_reference_inclusion_proofs(index: int, size: int, expected: list[bytes]) -> None:
    tree = reference_tree()
    assert inclusion_path(index, size, tree.complete) == expected
    leaf = leaf_hash(LEAF_INPUTS[index])
    assert verify_inclusion(index, size, leaf, expected, ROOT_HASHES[size])
    assert root_from_inclusion(index, size, leaf, expected) == ROOT_HASHES[size]


@pytest.mark.parametrize(("old_size", "new_size", "expected"), CONSISTENCY_PROOFS)
def test_reference_consistency_proofs(old_size: int, new_size: int, expected: list[bytes]) -> None:
    tree = reference_tree()
    assert consistency_proof(old_size, new_size, tree.complete) == expected
    assert verify_consistency(old_size, new_size, ROOT_HASHES[old_size], ROOT_HASHES[new_size], expected)


def test_reference_inclusion_proof_corruptions_fail() -> None:
    # The corruptions of transparency-dev/merkle's corruptInclusionProof, on every vector.
    some_hash = h("abacaba000000000000000000000000000000000000000000060061e00123456")
    for index, size, proof in INCLUSION_PROOFS:
        leaf = leaf_hash(LEAF_INPUTS[index])
        good_root = ROOT_HASHES[size]
        assert not verify_inclusion(index - 1, size, leaf, proof, good_root)
        assert not verify_inclusion(index + 1, size, leaf, proof, good_root)
        assert not verify_inclusion(index ^ 2, size, leaf, proof, good_root)
        assert not verify_inclusion(index, size * 2, leaf, proof, good_root)
        assert not verify_inclusion(index, size // 2, leaf, proof, good_root)
        assert not verify_inclusion(index, size, leaf_hash(b"WrongLeaf"), proof, good_root)
        assert not verify_inclusion(index, size, leaf, proof, EMPTY_ROOT)
        assert not verify_inclusion(index, size, leaf, proof, some_hash)
        assert not verify_inclusion(index, size, leaf, [*proof, some_hash], good_root)
        assert not verify_inclusion(index, size, leaf, [*proof, good_root], good_root)
        assert not verify_inclusion(index, size, leaf, [some_hash, *proof], good_root)
        assert not verify_inclusion(index, size, leaf, [good_root, *proof], good_root)
        for i in range(len(proof)):
            assert not verify_inclusion(index, size, leaf, proof[:i] + proof[i + 1 :], good_root)
            assert not verify_inclusion(index, size, leaf, [*proof[:i], flip_bit(proof[i], 3), *proof[i + 1 :]], good_root)


def test_reference_consistency_proof_corruptions_fail() -> None:
    some_hash = h("abacaba000000000000000000000000000000000000000000060061e00123456")
    for old_size, new_size, proof in CONSISTENCY_PROOFS:
        r1, r2 = ROOT_HASHES[old_size], ROOT_HASHES[new_size]
        for a, b in [(old_size - 1, new_size), (old_size + 1, new_size), (old_size ^ 2, new_size),
                     (old_size, new_size * 2), (old_size, new_size // 2)]:
            if (a, b) != (old_size, new_size):
                assert not verify_consistency(a, b, r1, r2, proof), (a, b)
        if r1 != r2:
            assert not verify_consistency(old_size, new_size, r2, r1, proof)
        assert not verify_consistency(old_size, new_size, some_hash, r2, proof)
        assert not verify_consistency(old_size, new_size, r1, some_hash, proof)
        assert not verify_consistency(old_size, new_size, r1, r2, [*proof, some_hash])
        assert not verify_consistency(old_size, new_size, r1, r2, [some_hash, *proof])
        if proof:
            assert not verify_consistency(old_size, new_size, r1, r2, proof[:-1])
            assert not verify_consistency(old_size, new_size, r1, r2, [])
        for i in range(len(proof)):
            assert not verify_consistency(old_size, new_size, r1, r2, [*proof[:i], flip_bit(proof[i], 4), *proof[i + 1 :]])


# --- edge cases --------------------------------------------------------------------------


def test_out_of_range_arguments_raise() -> None:
    tree = reference_tree()
    with pytest.raises(ValueError):
        inclusion_path(8, 8, tree.complete)
    with pytest.raises(ValueError):
        inclusion_path(-1, 8, tree.complete)
    with pytest.raises(ValueError):
        inclusion_path(0, 0, tree.complete)
    with pytest.raises(ValueError):
        consistency_proof(5, 4, tree.complete)
    with pytest.raises(ValueError):
        consistency_proof(-1, 4, tree.complete)
    with pytest.raises(ValueError):
        root(-1, tree.complete)
    with pytest.raises(ValueError):
        range_hash(3, 2, tree.complete)
    with pytest.raises(ValueError):
        tree.complete(1, 4)  # only 8 leaves: level 1 has indexes 0..3
    with pytest.raises(ValueError):
        tree.root(9)
    with pytest.raises(ValueError):
        Frontier(3, [EMPTY_ROOT])  # size 3 needs two hashes
    with pytest.raises(ValueError):
        Frontier().append(b"short")


def test_trivial_consistency_proofs_are_empty() -> None:
    tree = reference_tree()
    assert consistency_proof(0, 5, tree.complete) == []
    assert consistency_proof(0, 0, tree.complete) == []
    assert consistency_proof(5, 5, tree.complete) == []
    # Every tree extends the empty one; equal sizes need equal roots.
    assert verify_consistency(0, 5, EMPTY_ROOT, ROOT_HASHES[5], [])
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert not verify_consistency(0, 5, ROOT_HASHES[1], ROOT_HASHES[5], [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, ROOT_HASHES[5], [ROOT_HASHES[1]])
    assert verify_consistency(5, 5, ROOT_HASHES[5], ROOT_HASHES[5], [])
    assert not verify_consistency(5, 5, ROOT_HASHES[5], ROOT_HASHES[6], [])
    assert not verify_consistency(5, 5, ROOT_HASHES[5], ROOT_HASHES[5], [ROOT_HASHES[5]])


@pytest.mark.parametrize(
    "arguments",
    [
        (None, 8, b"x" * 32, [], b"x" * 32),
        (0, "8", b"x" * 32, [], b"x" * 32),
        (True, 8, b"x" * 32, [], b"x" * 32),
        (-1, 8, b"x" * 32, [], b"x" * 32),
        (0, -8, b"x" * 32, [], b"x" * 32),
        (0, 8, b"short", [], b"x" * 32),
        (0, 8, "not bytes", [], b"x" * 32),
        (0, 8, b"x" * 32, [b"short"] * 3, b"x" * 32),
        (0, 8, b"x" * 32, [None] * 3, b"x" * 32),
        (0, 8, b"x" * 32, [b"x" * 32] * 3, None),
        (2**70, 2**71, b"x" * 32, [b"x" * 32] * 3, b"x" * 32),
    ],
)
def test_verify_inclusion_never_raises(arguments: tuple) -> None:
    assert verify_inclusion(*arguments) is False


@pytest.mark.parametrize(
    "arguments",
    [
        (None, 8, b"x" * 32, b"x" * 32, []),
        (1, 8.0, b"x" * 32, b"x" * 32, []),
        (-1, 8, b"x" * 32, b"x" * 32, []),
        (8, 1, b"x" * 32, b"x" * 32, []),
        (1, 8, b"short", b"x" * 32, [b"x" * 32] * 3),
        (1, 8, b"x" * 32, None, [b"x" * 32] * 3),
        (1, 8, b"x" * 32, b"x" * 32, [b"short"] * 3),
        (1, 8, b"x" * 32, b"x" * 32, [None] * 3),
        (3, 2**70, b"x" * 32, b"x" * 32, [b"x" * 32] * 3),
    ],
)
def test_verify_consistency_never_raises(arguments: tuple) -> None:
    assert verify_consistency(*arguments) is False


def test_an_aligned_complete_range_is_one_lookup_and_a_root_one_per_set_bit() -> None:
    tree = MemoryTree(leaves_for(b"calls", 1000))
    calls: list[tuple[int, int]] = []

    def counting(level: int, index: int) -> bytes:
        calls.append((level, index))
        return tree.complete(level, index)

    assert range_hash(512, 768, counting) == tree.complete(8, 2)
    assert calls == [(8, 2)]
    for size in (1, 2, 3, 7, 8, 100, 513, 1000):
        calls.clear()
        root(size, counting)
        assert len(calls) == size.bit_count()
        calls.clear()
        restored = Frontier.from_complete(size, counting)
        assert len(calls) == size.bit_count()
        assert restored.root() == tree.root(size)


# --- properties -------------------------------------------------------------------------

seeds = st.binary(min_size=0, max_size=8)


@settings(max_examples=60, deadline=None)
@given(seed=seeds, size=st.integers(min_value=1, max_value=300))
def test_every_inclusion_path_verifies(seed: bytes, size: int) -> None:
    leaves = leaves_for(seed, size)
    tree = MemoryTree(leaves)
    tree_root = tree.root()
    assert tree_root == naive_mth(leaves)
    for index in range(size):
        path = tree.inclusion_path(index)
        assert verify_inclusion(index, size, leaves[index], path, tree_root)


@settings(max_examples=200, deadline=None)
@given(seed=seeds, size=st.integers(min_value=1, max_value=300), data=st.data())
def test_a_tampered_inclusion_proof_fails(seed: bytes, size: int, data: st.DataObject) -> None:
    leaves = leaves_for(seed, size)
    tree = MemoryTree(leaves)
    tree_root = tree.root()
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    path = tree.inclusion_path(index)
    leaf = leaves[index]
    assert verify_inclusion(index, size, leaf, path, tree_root)
    bit = data.draw(st.integers(min_value=0, max_value=255))
    if path:
        i = data.draw(st.integers(min_value=0, max_value=len(path) - 1))
        assert not verify_inclusion(index, size, leaf, [*path[:i], flip_bit(path[i], bit), *path[i + 1 :]], tree_root)
        assert not verify_inclusion(index, size, leaf, path[:-1], tree_root)
    assert not verify_inclusion(index, size, flip_bit(leaf, bit), path, tree_root)
    assert not verify_inclusion(index, size, leaf, path, flip_bit(tree_root, bit))
    assert not verify_inclusion(index, size, leaf, [*path, tree_root], tree_root)
    other_index = data.draw(st.integers(min_value=0, max_value=size))
    if other_index != index:
        # Another leaf's position, or one past the end.
        assert not verify_inclusion(other_index, size, leaf, path, tree_root)
    other_size = data.draw(st.integers(min_value=0, max_value=2 * size + 2))
    if other_size != size:
        # A wrong size fails unless its proof has exactly the same shape (leaf 0 in 257 or 258
        # leaves, say): then the same hashes chain to the same root, which is what is proven.
        same_shape = index < other_size and path_shape(index, other_size) == path_shape(index, size)
        assert verify_inclusion(index, other_size, leaf, path, tree_root) == same_shape
    assert not verify_inclusion(index, size * 2, leaf, path, tree_root)
    assert not verify_inclusion(index, size // 2, leaf, path, tree_root)


@settings(max_examples=200, deadline=None)
@given(seed=seeds, new_size=st.integers(min_value=1, max_value=300), data=st.data())
def test_consistency_proofs_verify_and_tampering_fails(seed: bytes, new_size: int, data: st.DataObject) -> None:
    leaves = leaves_for(seed, new_size)
    tree = MemoryTree(leaves)
    old_size = data.draw(st.integers(min_value=0, max_value=new_size))
    old_root, new_root = tree.root(old_size), tree.root(new_size)
    proof = tree.consistency_proof(old_size, new_size)
    assert verify_consistency(old_size, new_size, old_root, new_root, proof)
    bit = data.draw(st.integers(min_value=0, max_value=255))
    if proof:
        i = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
        assert not verify_consistency(old_size, new_size, old_root, new_root, [*proof[:i], flip_bit(proof[i], bit), *proof[i + 1 :]])
        assert not verify_consistency(old_size, new_size, old_root, new_root, proof[:-1])
    assert not verify_consistency(old_size, new_size, old_root, new_root, [*proof, new_root])
    if old_size > 0:
        assert not verify_consistency(old_size, new_size, flip_bit(old_root, bit), new_root, proof)
    if old_size < new_size and old_size > 0 or old_size == new_size:
        assert not verify_consistency(old_size, new_size, old_root, flip_bit(new_root, bit), proof)
    # As for inclusion, other sizes verify only when the proof has the very same shape.
    other_old = data.draw(st.integers(min_value=0, max_value=new_size))
    if other_old != old_size and old_size > 0:
        same_shape = other_old > 0 and proof_shape(other_old, new_size) == proof_shape(old_size, new_size)
        assert verify_consistency(other_old, new_size, old_root, new_root, proof) == same_shape
    other_new = data.draw(st.integers(min_value=old_size, max_value=2 * new_size + 2))
    if other_new != new_size and 0 < old_size < new_size:
        same_shape = proof_shape(old_size, other_new) == proof_shape(old_size, new_size)
        assert verify_consistency(old_size, other_new, old_root, new_root, proof) == same_shape
    if 0 < old_size < new_size:
        assert not verify_consistency(old_size, new_size * 2, old_root, new_root, proof)
    # A history rewritten at some leaf before old_size is never consistent with the old root.
    if old_size > 0:
        at = data.draw(st.integers(min_value=0, max_value=old_size - 1))
        rewritten = MemoryTree([*leaves[:at], leaf_hash(b"forged"), *leaves[at + 1 :]])
        forged_root = rewritten.root()
        forged_proof = rewritten.consistency_proof(old_size, new_size)
        assert not verify_consistency(old_size, new_size, old_root, forged_root, forged_proof)


@settings(max_examples=60, deadline=None)
@given(seed=seeds, size=st.integers(min_value=0, max_value=300))
def test_frontier_agrees_with_memory_tree(seed: bytes, size: int) -> None:
    leaves = leaves_for(seed, size)
    tree = MemoryTree()
    frontier = Frontier()
    emitted: dict[tuple[int, int], bytes] = {}
    for i, leaf in enumerate(leaves):
        tree.append(leaf)
        created = frontier.append(leaf)
        assert created[0] == (0, i, leaf)
        for level, index, node in created:
            assert (level, index) not in emitted
            assert tree.complete(level, index) == node
            emitted[(level, index)] = node
        assert frontier.size == tree.size == i + 1
        assert frontier.root() == tree.root()
        assert len(frontier.hashes) == frontier.size.bit_count()
    # Every complete subtree of the tree was emitted exactly once: 2n - popcount(n) of them.
    assert len(emitted) == 2 * size - size.bit_count()
    restored = Frontier.from_complete(size, tree.complete)
    assert restored.hashes == frontier.hashes
    assert Frontier(size, frontier.hashes).root() == frontier.root()


@settings(max_examples=200, deadline=None)
@given(seed=seeds, size=st.integers(min_value=0, max_value=300), data=st.data())
def test_range_hash_is_the_mth_of_the_range(seed: bytes, size: int, data: st.DataObject) -> None:
    leaves = leaves_for(seed, size)
    tree = MemoryTree(leaves)
    start = data.draw(st.integers(min_value=0, max_value=size))
    end = data.draw(st.integers(min_value=start, max_value=size))
    assert range_hash(start, end, tree.complete) == naive_mth(leaves[start:end])
    assert root(size, tree.complete) == naive_mth(leaves)


@settings(max_examples=100, deadline=None)
@given(seed=seeds, size=st.integers(min_value=1, max_value=300), data=st.data())
def test_a_proof_from_the_frontier_store_matches_the_memory_tree(seed: bytes, size: int, data: st.DataObject) -> None:
    # What the stored-tree backend will do: persist the nodes Frontier emits, answer from them.
    leaves = leaves_for(seed, size)
    frontier = Frontier()
    stored: dict[tuple[int, int], bytes] = {}
    for leaf in leaves:
        for level, index, node in frontier.append(leaf):
            stored[(level, index)] = node

    def complete(level: int, index: int) -> bytes:
        return stored[(level, index)]

    tree = MemoryTree(leaves)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    old_size = data.draw(st.integers(min_value=0, max_value=size))
    assert inclusion_path(index, size, complete) == tree.inclusion_path(index)
    assert consistency_proof(old_size, size, complete) == tree.consistency_proof(old_size)
    assert root(size, complete) == frontier.root()
