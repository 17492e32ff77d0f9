"""The audit log: an RFC 9162 Merkle tree over every stored event, its signed checkpoints,
inclusion and consistency proofs, the listing auditors read, and `verify`, which recomputes
every leaf from the stored events and every checkpoint's root.

A follower appends the events to the tree in log order, a batch per store transaction (leaves
and the complete subtrees they close together, so the tree is written exactly once). A
checkpoint is signed when asked and, in a serving process, every
`HOUR_LEDGER_CHECKPOINT_SECONDS` when the tree has grown; it is signed only after the new
tree is proved consistent with the last signed one.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from ledger.messages import ENGLISH, render
from projections.audit import merkle
from projections.audit.notes import NoteError, SigningKey, parse_verifier_key, sign_checkpoint, verify_checkpoint
from projections.audit.record import RecordError, leaf_hash_of, record_of
from projections.audit.store import AuditStore, StoredCheckpoint, TreeMovedError, audit_store_of
from projections.engine.waking import Wakeup, follow

log = logging.getLogger("audit")

T = TypeVar("T")
PAGE = 5_000
Progress = Callable[[int, int], None]


class AuditError(Exception):
    """The audit cannot answer as asked (the message says why); nothing was changed.

    Raised with a key of `ledger/messages.py` and its parameters, so that the API can say it
    in the reader's language; `str()` is the English text."""

    def __init__(self, message: str, /, **params: Any) -> None:
        self.message = message
        self.params = params
        super().__init__(message)

    def __str__(self) -> str:
        return render(self.message, self.params, ENGLISH)


class NotInTreeError(AuditError):
    """No leaf for that position (no such event, or not yet appended)."""


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    checked: int
    tree_size: int
    root_hash: str
    first_bad_position: int | None
    problem: str | None
    checkpoints_checked: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "first_bad_position": self.first_bad_position,
            "problem": self.problem,
        }


def leaf_of_row(position: int, originator_id: Any, originator_version: int, topic: str, state: bytes) -> tuple[dict[str, Any], bytes]:
    """An event row's record and leaf hash. A state that cannot be read still gets a leaf
    (its bytes, in base64), so that the tree never stops at it."""
    try:
        record = record_of(position, originator_id, originator_version, topic, state)
    except RecordError:
        record = {
            "position": position, "originator_id": str(originator_id), "originator_version": originator_version,
            "type": topic.partition(":")[2] or topic, "recorded_at": None, "posted_by": None,
            "data": {"unreadable_state_base64": b64(bytes(state))},
        }
    return record, leaf_hash_of(record)


class AuditLog:
    """The audit tree of one HourLedger's store."""

    def __init__(self, ledger: Any, *, batch_size: int = PAGE, poll_interval: float = 0.25) -> None:
        self.ledger = ledger
        self.settings = ledger.settings
        self.origin = self.settings.log_origin
        self.store: AuditStore = audit_store_of(ledger.recorder)
        self.store.setup()
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self._key: SigningKey | None = None
        self._lock = threading.RLock()  # one writer of the tree in this process
        self._frontier: merkle.Frontier | None = None
        self._position = 0  # the last leaf's position in the log
        self._scanned = 0  # how far the log was read (gaps after the last leaf included)
        self._changed = threading.Condition()
        # This process's saves wake the follower; it appends the commits in slices (waking.py).
        self._wakeup = Wakeup(ledger, poll_interval)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # The key -------------------------------------------------------------------------------

    @property
    def key(self) -> SigningKey:
        """The signing key, from HOUR_LEDGER_SIGNING_KEY_FILE (created 0600 on first use)."""
        if self._key is None:
            self._key = SigningKey.load_or_create(self.settings.signing_key_path, self.origin)
        return self._key

    @property
    def verifier_key(self) -> str:
        return self.key.verifier_key

    # Following the log ---------------------------------------------------------------------

    def _load(self) -> merkle.Frontier:
        size, position = self.store.size_and_position()
        frontier = merkle.Frontier.from_complete(size, self._stored_lookup(size))
        self._frontier, self._position, self._scanned = frontier, position, max(position, 0)
        return frontier

    def _stored_lookup(self, size: int) -> merkle.CompleteHash:
        keys: list[tuple[int, int]] = []
        start = 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                keys.append((level, start >> level))
                start += 1 << level
        found = self.store.complete_hashes(keys)
        return lambda level, index: found[(level, index)]

    @property
    def tree_size(self) -> int:
        with self._lock:
            frontier = self._frontier or self._load()
            return frontier.size

    def catch_up(self, progress: Progress | None = None) -> int:
        """Appends every event recorded so far; answers the tree's size."""
        with self._lock:
            for _ in range(100):
                try:
                    return self._catch_up(progress)
                except TreeMovedError:
                    log.info("audit: another follower appended first; reloading")
                    self._frontier = None
                except BaseException:
                    self._frontier = None  # the in-memory edge may be ahead of the store
                    raise
            raise AuditError("audit_tree_moving")

    def _catch_up(self, progress: Progress | None) -> int:
        frontier = self._frontier or self._load()
        head = int(self.ledger.recorder.max_notification_id() or 0)
        for page in self._pages(self._scanned, head, self.batch_size):
            leaves: list[tuple[int, int, bytes]] = []
            nodes: list[tuple[int, int, bytes]] = []
            for row in page:
                _, digest = leaf_of_row(*row)
                created = frontier.append(digest)
                leaves.append((created[0][1], row[0], digest))
                nodes.extend(created[1:])
            self.store.append(leaves, nodes)
            # A short page means nothing else is stored up to the head (ids are given out in
            # commit order; gaps are ids that were never used).
            self._scanned = page[-1][0] if len(page) >= self.batch_size else head
            if page:
                self._position = page[-1][0]
            self._announce()
            if progress:
                progress(self._scanned, head)
        self._scanned = max(self._scanned, head)
        return frontier.size

    def _pages(self, after: int, head: int, size: int) -> Iterator[list[Any]]:
        """Pages of stored events after `after` up to `head`; the next page is read by another
        thread while this one hashes (the database works while Python computes)."""
        if after >= head:
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-reader") as reader:
            coming = reader.submit(self.store.events, after, head, size)
            while True:
                page = coming.result()
                if len(page) >= size:
                    coming = reader.submit(self.store.events, page[-1][0], head, size)
                    yield page
                else:
                    yield page
                    return

    def _announce(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def position(self) -> int:
        """How far the tree has read the log."""
        with self._lock:
            if self._frontier is None:
                self._load()
            return self._scanned

    def stored_progress(self) -> tuple[int, int]:
        """(tree size, position of its last leaf) as stored: what whichever process follows has
        appended (readiness and metrics read it; this process may not be the follower)."""
        size, position = self.store.size_and_position()
        return int(size), int(position)

    @property
    def following(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stopping.is_set()

    def start(self, sign_every: float | None = None) -> None:
        """Follows the log in a background thread; with `sign_every`, signs a checkpoint that
        often when the tree has grown."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._follow, args=(self._stopping, sign_every), name="audit-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wakeup.hurry()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._thread = None

    def _follow(self, stopping: threading.Event, sign_every: float | None) -> None:
        next_signing = time.monotonic() + (sign_every or 0)

        def catch_up_and_sign() -> None:
            nonlocal next_signing
            self.catch_up()
            if sign_every and time.monotonic() >= next_signing:
                self.sign_checkpoint()
                next_signing = time.monotonic() + sign_every

        follow(catch_up_and_sign, self._wakeup, stopping, log, "audit")

    # Checkpoints ---------------------------------------------------------------------------

    def sign_checkpoint(self) -> tuple[StoredCheckpoint, bool]:
        """Signs the tree as it is now, if it grew since the last checkpoint; answers the
        latest checkpoint and whether it is new. Refuses to sign a tree that is not
        consistent with the last signed one."""
        with self._lock:
            size = self.catch_up()
            latest = self.store.latest_checkpoint()
            if latest is not None and latest.tree_size >= size:
                return latest, False
            assert self._frontier is not None
            root = self._frontier.root()
            if latest is not None:
                proof = self.consistency_proof(latest.tree_size, size)
                if not merkle.verify_consistency(latest.tree_size, size, latest.root_hash, root, proof):
                    raise AuditError("audit_inconsistent", size=size, checkpoint=latest.tree_size)
            note = sign_checkpoint(self.key, self.origin, size, root)
            signed_at = datetime.now(self.settings.zone).isoformat(timespec="microseconds")
            checkpoint = StoredCheckpoint(size, root, signed_at, note)
            if not self.store.add_checkpoint(checkpoint):
                stored = self.store.checkpoints(size - 1, 1)
                return (stored[0] if stored else checkpoint), False
            return checkpoint, True

    def latest_checkpoint(self) -> StoredCheckpoint:
        """The latest signed checkpoint (the first is signed when first asked for)."""
        latest = self.store.latest_checkpoint()
        return latest if latest is not None else self.sign_checkpoint()[0]

    def checkpoints(self, after: int, limit: int) -> list[StoredCheckpoint]:
        return self.store.checkpoints(after, limit)

    def checkpoint_covering(self, leaf_index: int) -> StoredCheckpoint:
        """The latest checkpoint, signing a new one if it does not cover this leaf yet."""
        latest = self.store.latest_checkpoint()
        if latest is None or latest.tree_size <= leaf_index:
            latest = self.sign_checkpoint()[0]
        if latest.tree_size <= leaf_index:
            raise AuditError("audit_leaf_not_yet", leaf=leaf_index)
        return latest

    # Proofs --------------------------------------------------------------------------------

    def _with_stored_hashes(self, compute: Callable[[merkle.CompleteHash], T]) -> T:
        """Runs a proof computation twice: once to learn which stored subtrees it needs (which
        depends on sizes only), then on those hashes, fetched in one round trip."""
        wanted: list[tuple[int, int]] = []

        def note(level: int, index: int) -> bytes:
            wanted.append((level, index))
            return bytes(32)

        compute(note)
        found = self.store.complete_hashes(wanted)
        missing = [key for key in wanted if key not in found]
        if missing:
            raise AuditError("audit_subtree_missing", subtree=missing[0])
        return compute(lambda level, index: found[(level, index)])

    def leaf(self, position: int) -> tuple[int, bytes]:
        """(leaf index, leaf hash) of the event at a position."""
        found = self.store.leaf_at(position)
        if found is None:
            self.catch_up()
            found = self.store.leaf_at(position)
        if found is None:
            raise NotInTreeError("audit_no_event", position=position)
        return found

    def inclusion_proof(self, position: int, tree_size: int | None = None) -> dict[str, Any]:
        leaf_index, digest = self.leaf(position)
        if tree_size is None:
            tree_size = self.checkpoint_covering(leaf_index).tree_size
        self._check_size(tree_size)
        if leaf_index >= tree_size:
            raise AuditError("audit_leaf_beyond", position=position, leaf=leaf_index, size=tree_size)
        hashes = self._with_stored_hashes(lambda complete: merkle.inclusion_path(leaf_index, tree_size, complete))
        return {"leaf_index": leaf_index, "tree_size": tree_size, "leaf_hash": b64(digest), "hashes": [b64(h) for h in hashes]}

    def proof_in_checkpoint(self, position: int) -> dict[str, Any]:
        """The inclusion proof of an event in the latest signed checkpoint (signed now if it
        does not cover the event yet), with the checkpoint note and the event's record: all
        that a verifier needs offline besides the log's key."""
        proof = self.inclusion_proof(position)
        signed = self.store.checkpoints(proof["tree_size"] - 1, 1)
        if not signed or signed[0].tree_size != proof["tree_size"]:
            raise AuditError("audit_no_checkpoint", size=proof["tree_size"])
        return {**proof, "checkpoint": signed[0].note}

    def record_at(self, position: int) -> dict[str, Any]:
        """The canonical record of the event at a position (as its leaf hashes it)."""
        rows = self.store.events(position - 1, position, 1)
        if not rows:
            raise NotInTreeError("audit_no_event", position=position)
        return leaf_of_row(*rows[0])[0]

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        self._check_size(new_size)
        if not 0 <= old_size <= new_size:
            raise AuditError("audit_range", low=old_size, high=new_size)
        return self._with_stored_hashes(lambda complete: merkle.consistency_proof(old_size, new_size, complete))

    def root_at(self, size: int) -> bytes:
        self._check_size(size)
        return self._with_stored_hashes(lambda complete: merkle.root(size, complete))

    def _check_size(self, size: int) -> None:
        current = self.tree_size
        if size > current:
            self.catch_up()
            current = self.tree_size
        if not 0 <= size <= current:
            raise AuditError("audit_size_beyond", size=size, leaves=current)

    # Listing -------------------------------------------------------------------------------

    def entries(self, after: int, limit: int) -> tuple[list[dict[str, Any]], int | None]:
        """Leaves above index `after` with their records, in order, and the `after` of the
        next page (None at the end)."""
        self.catch_up()
        leaves = self.store.leaves(after, limit)
        if not leaves:
            return [], None
        rows = {row[0]: row for row in self.store.events(leaves[0][1] - 1, leaves[-1][1], len(leaves) + 10_000)}
        entries = []
        for index, position, digest in leaves:
            row = rows.get(position)
            record = leaf_of_row(*row)[0] if row is not None else {"position": position, "missing": True}
            entries.append({"leaf_index": index, "leaf_hash": b64(digest), **record})
        return entries, (leaves[-1][0] if len(leaves) >= limit else None)

    def iter_entries(self, after: int = -1, page: int = PAGE) -> Iterator[dict[str, Any]]:
        while True:
            entries, following = self.entries(after, page)
            yield from entries
            if following is None:
                return
            after = following

    # Verifying -----------------------------------------------------------------------------

    def _iter_events(self, head: int) -> Iterator[Any]:
        for page in self._pages(0, head, PAGE):
            yield from page

    def verify(self, kept: Sequence[str] = (), verifier: str | None = None, progress: Progress | None = None) -> VerifyReport:
        """Recomputes every leaf from the stored events and compares it with the tree; then
        checks every stored checkpoint (and each `kept` note, signed checkpoints auditors
        kept elsewhere) against the root recomputed from the events at its size."""
        self.catch_up()
        key = parse_verifier_key(verifier or self.verifier_key)
        stored = self.store.checkpoints(-1, 1_000_000)
        notes: list[tuple[str, int, bytes]] = []  # (what, size, root)
        for checkpoint in stored:
            what = f"the stored checkpoint of size {checkpoint.tree_size}"
            try:
                signed = verify_checkpoint(checkpoint.note, key, self.origin)
            except NoteError as error:
                return self._bad(0, 0, None, f"{what} does not verify with the log's key: {error}")
            if (signed.size, signed.root_hash) != (checkpoint.tree_size, checkpoint.root_hash):
                return self._bad(0, 0, None, f"{what} was altered: its row differs from its signed note")
            notes.append((what, signed.size, signed.root_hash))
        for number, note in enumerate(kept, 1):
            what = f"kept checkpoint {number}"
            try:
                signed = verify_checkpoint(note, key, self.origin)
            except NoteError as error:
                return self._bad(0, 0, None, f"{what} does not verify with the log's key: {error}")
            notes.append((what, signed.size, signed.root_hash))
        wanted = {size for _, size, _ in notes}
        return self._walk(notes, wanted, progress)

    def _bad(self, checked: int, size: int, position: int | None, problem: str, root: bytes = merkle.EMPTY_ROOT) -> VerifyReport:
        return VerifyReport(False, checked, size, b64(root), position, problem)

    def _walk(self, notes: list[tuple[str, int, bytes]], wanted: set[int], progress: Progress | None) -> VerifyReport:
        recorder = self.ledger.recorder
        head = int(recorder.max_notification_id() or 0)
        frontier = merkle.Frontier()
        roots: dict[int, bytes] = {0: merkle.EMPTY_ROOT} if 0 in wanted else {}
        positions = array("q")
        leaves = self.store.iter_leaves()
        events = self._iter_events(head)
        event = next(events, None)
        for index, position, stored_hash in leaves:
            if index != frontier.size:
                return self._bad(frontier.size, frontier.size, position, f"leaf {frontier.size} is missing from the stored tree")
            if event is None or event[0] > position:
                return self._bad(frontier.size, frontier.size, position, f"the event at position {position} is missing (deleted)")
            if event[0] < position:
                return self._bad(frontier.size, frontier.size, event[0],
                                 f"the event at position {event[0]} is not in the tree (inserted)")
            _, digest = leaf_of_row(*event)
            if digest != stored_hash:
                return self._bad(frontier.size, frontier.size, position,
                                 f"the event at position {position} does not match its leaf (changed, or swapped with another)")
            frontier.append(digest)
            positions.append(position)
            if frontier.size in wanted:
                roots[frontier.size] = frontier.root()
            if progress and frontier.size % PAGE == 0:
                progress(position, head)
            event = next(events, None)
        size = frontier.size
        if event is not None and event[0] <= (positions[-1] if positions else 0):
            return self._bad(size, size, event[0], f"the event at position {event[0]} is not in the tree (inserted)")
        root = frontier.root()
        # The roots recomputed from the events must be those that were signed: this catches an
        # event changed together with every stored hash (the key is not in the database).
        good_size = 0
        for what, signed_size, signed_root in sorted(notes, key=lambda n: n[1]):
            if signed_size > size:
                return self._bad(size, size, None, f"{what} covers {signed_size} events, but the tree has only {size}: events were removed")
            if roots.get(signed_size) != signed_root:
                first = positions[good_size] if good_size < len(positions) else None
                last = positions[signed_size - 1]
                return self._bad(size, size, first,
                                 f"the events at positions {first} to {last} do not give the root that {what} signed: "
                                 "an event was changed and the stored hashes rewritten to match", root)
            good_size = signed_size
        if progress:
            progress(head, head)
        return VerifyReport(True, size, size, b64(root), None, None, len(notes))


