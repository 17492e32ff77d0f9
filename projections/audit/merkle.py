"""The Merkle tree of the audit log: RFC 9162 §2.1 hashing, inclusion and consistency proofs.

Pure functions over a storage-agnostic view of the tree. A tree is read through a callable
`complete(level, index)` answering the hash of the complete, aligned subtree of 2**level
leaves whose first leaf is `index * 2**level` (level 0 is a leaf hash). Those subtrees never
change once they exist, so a store can persist each one as it is created (see `Frontier`)
and every root and proof below is computed from O(log n) of them.

`MemoryTree` answers `complete` from memory (tests, offline verification of an export);
`Frontier` is the right edge of an append-only tree, all a builder needs to keep.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

CompleteHash = Callable[[int, int], bytes]
"""`complete(level, index)`: hash of the complete subtree of leaves [index·2**level, (index+1)·2**level)."""


def leaf_hash(record: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 ‖ record)."""
    return hashlib.sha256(b"\x00" + record).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256(0x01 ‖ left ‖ right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split_point(size: int) -> int:
    """The largest power of two smaller than `size` (size ≥ 2): where RFC 9162 splits a tree."""
    return 1 << ((size - 1).bit_length() - 1)


def range_hash(start: int, end: int, complete: CompleteHash) -> bytes:
    """MTH of leaves [start, end), from as few `complete` calls as the RFC 9162 split allows.

    A range that is itself a complete aligned subtree is a single call; any other range is
    split at the largest power of two smaller than its size, exactly as MTH is defined, so the
    result is the MTH of that list of leaves even when it is not aligned.
    """
    if start < 0 or end < start:
        raise ValueError(f"bad leaf range [{start}, {end})")
    size = end - start
    if size == 0:
        return EMPTY_ROOT
    if size & (size - 1) == 0 and start % size == 0:
        level = size.bit_length() - 1
        return complete(level, start >> level)
    k = _split_point(size)
    return node_hash(range_hash(start, start + k, complete), range_hash(start + k, end, complete))


def root(size: int, complete: CompleteHash) -> bytes:
    """The root hash (MTH) of the tree of the first `size` leaves."""
    if size < 0:
        raise ValueError(f"negative tree size {size}")
    return range_hash(0, size, complete)


def inclusion_path(index: int, size: int, complete: CompleteHash) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(index, D[size]): the audit path of one leaf, leaf side first."""
    if size < 0 or not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    # Walk down from the root; each step's sibling is one more hash of the path, and the
    # path lists them bottom-up, hence the reversal.
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        middle = start + _split_point(end - start)
        if index < middle:
            path.append(range_hash(middle, end, complete))
            end = middle
        else:
            path.append(range_hash(start, middle, complete))
            start = middle
    path.reverse()
    return path


def consistency_proof(old_size: int, new_size: int, complete: CompleteHash) -> list[bytes]:
    """RFC 9162 §2.1.4.1 PROOF(old_size, D[new_size]); empty when old_size is 0 or new_size."""
    if old_size < 0 or new_size < old_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size == 0 or old_size == new_size:
        return []
    # SUBPROOF(m, D[start:end], known) unrolled: `known` stays true while the old tree is a
    # prefix whose root the verifier already holds (then that root is not sent).
    proof: list[bytes] = []
    start, end, m, known = 0, new_size, old_size, True
    while m != end - start:
        k = _split_point(end - start)
        if m <= k:
            proof.append(range_hash(start + k, end, complete))
            end = start + k
        else:
            proof.append(range_hash(start, start + k, complete))
            start += k
            m -= k
            known = False
    if not known:
        proof.append(range_hash(start, end, complete))
    proof.reverse()
    return proof


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes | None:
    """The root that `path` proves `leaf` (a leaf hash) to be under, or None if it cannot be.

    RFC 9162 §2.1.3.2 without the final comparison; None for any malformed input, including
    a path of the wrong length for (index, size).
    """
    if not (_is_size(index) and _is_size(size) and index < size and _is_hash(leaf)):
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0 or not _is_hash(p):
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        return None
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2: does `path` prove leaf hash `leaf` at `index` in the tree `root` of `size`?"""
    computed = root_from_inclusion(index, size, leaf, path)
    return computed is not None and computed == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: is the tree (new_size, new_root) an append-only extension of (old_size, old_root)?

    Equal sizes need an empty proof and equal roots. Every tree extends the empty tree, so
    old_size 0 needs an empty proof and old_root == EMPTY_ROOT (the RFC leaves both cases out).
    Never raises: any malformed input is simply not a proof.
    """
    if not (_is_size(old_size) and _is_size(new_size) and old_size <= new_size):
        return False
    if not (_is_hash(old_root) and _is_hash(new_root)):
        return False
    if not all(_is_hash(p) for p in proof):
        return False
    if old_size == new_size:
        return len(proof) == 0 and old_root == new_root
    if old_size == 0:
        return len(proof) == 0 and old_root == EMPTY_ROOT
    if len(proof) == 0:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        # The old tree is a complete subtree of the new one: its root starts the chain.
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


class MemoryTree:
    """A whole tree in memory, for tests and for verifying an export offline.

    Every complete subtree is kept, level by level, as leaves arrive (they never change
    afterwards), so `complete` is a list lookup.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        for leaf in leaf_hashes:
            self.append(leaf)

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def append(self, leaf_hash: bytes) -> None:
        if not _is_hash(leaf_hash):
            raise ValueError("a leaf hash is 32 bytes")
        self._levels[0].append(leaf_hash)
        level = 0
        # A node at an odd index completes its parent.
        while len(self._levels[level]) % 2 == 0:
            nodes = self._levels[level]
            parent = node_hash(nodes[-2], nodes[-1])
            if level + 1 == len(self._levels):
                self._levels.append([])
            self._levels[level + 1].append(parent)
            level += 1

    def complete(self, level: int, index: int) -> bytes:
        if level < 0 or index < 0 or level >= len(self._levels) or index >= len(self._levels[level]):
            raise ValueError(f"no complete subtree at level {level}, index {index} in a tree of size {self.size}")
        return self._levels[level][index]

    def leaf(self, index: int) -> bytes:
        return self.complete(0, index)

    def root(self, size: int | None = None) -> bytes:
        """The root of the whole tree, or of its first `size` leaves."""
        size = self.size if size is None else size
        if size > self.size:
            raise ValueError(f"tree size {size} is beyond the {self.size} leaves held")
        return root(size, self.complete)

    def inclusion_path(self, index: int, size: int | None = None) -> list[bytes]:
        size = self.size if size is None else size
        if size > self.size:
            raise ValueError(f"tree size {size} is beyond the {self.size} leaves held")
        return inclusion_path(index, size, self.complete)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        new_size = self.size if new_size is None else new_size
        if new_size > self.size:
            raise ValueError(f"tree size {new_size} is beyond the {self.size} leaves held")
        return consistency_proof(old_size, new_size, self.complete)


class Frontier:
    """The right edge of an append-only tree: one complete subtree per set bit of `size`.

    That is all a builder must keep to append leaves and compute the root (≤ 64 hashes);
    `append` returns every complete node the new leaf creates so that a store can persist
    them and later answer `complete(level, index)` for proofs.
    """

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if not _is_size(size):
            raise ValueError(f"bad tree size {size!r}")
        if len(hashes) != size.bit_count():
            raise ValueError(f"a tree of size {size} has {size.bit_count()} frontier hashes, not {len(hashes)}")
        if not all(_is_hash(h) for h in hashes):
            raise ValueError("a frontier hash is 32 bytes")
        self._size = size
        # Largest (leftmost) subtree first; appends only touch the end of the list.
        self._hashes = list(hashes)

    @classmethod
    def from_complete(cls, size: int, complete: CompleteHash) -> Frontier:
        """Restore the frontier of a stored tree: one `complete` call per set bit of `size`."""
        if not _is_size(size):
            raise ValueError(f"bad tree size {size!r}")
        hashes = []
        start = 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                hashes.append(complete(level, start >> level))
                start += 1 << level
        return cls(size, hashes)

    @property
    def size(self) -> int:
        return self._size

    @property
    def hashes(self) -> list[bytes]:
        """The complete subtrees' hashes, largest first (a copy)."""
        return list(self._hashes)

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        """Add one leaf; answer the new complete nodes (level, index, hash), the leaf first."""
        if not _is_hash(leaf_hash):
            raise ValueError("a leaf hash is 32 bytes")
        index = self._size
        created = [(0, index, leaf_hash)]
        h, level = leaf_hash, 0
        # Each trailing 1 bit of the old size is a complete subtree of the same size just to
        # the left: merge with it and carry upwards, as in binary addition.
        while index & 1:
            h = node_hash(self._hashes.pop(), h)
            index >>= 1
            level += 1
            created.append((level, index, h))
        self._hashes.append(h)
        self._size += 1
        return created

    def root(self) -> bytes:
        if not self._hashes:
            return EMPTY_ROOT
        r = self._hashes[-1]
        for h in reversed(self._hashes[:-1]):
            r = node_hash(h, r)
        return r
