"""Checks an auditor runs with no database: an export of the log against a signed checkpoint,
and a certificate file against the log's verifier key. Only the files and the key are
trusted; nothing here reads the store."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from projections.audit import merkle
from projections.audit.notes import NoteError, verify_checkpoint
from projections.audit.record import RecordError, leaf_hash_of, record_from_entry


@dataclass(frozen=True)
class OfflineReport:
    ok: bool
    checked: int
    problem: str | None = None
    first_bad_position: int | None = None


def _hash(text: Any, what: str) -> bytes:
    try:
        digest = base64.b64decode(text, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise ValueError(f"{what} is not base64") from None
    if len(digest) != merkle.HASH_SIZE:
        raise ValueError(f"{what} is not a SHA-256 hash")
    return digest


def verify_export(lines: Iterable[str], checkpoint_note: str, verifier_key: str) -> OfflineReport:
    """Every line's leaf recomputed from its record, the leaves in order from 0, and the tree
    they make at the checkpoint's size giving the root the checkpoint signed."""
    try:
        checkpoint = verify_checkpoint(checkpoint_note, verifier_key)
    except NoteError as error:
        return OfflineReport(False, 0, f"the checkpoint does not verify with the key: {error}")
    frontier = merkle.Frontier()
    root = merkle.EMPTY_ROOT if checkpoint.size == 0 else None
    position: int | None = None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            position = entry.get("position") if isinstance(entry, dict) else None
            if not isinstance(entry, dict) or entry.get("leaf_index") != frontier.size:
                return OfflineReport(False, frontier.size, f"line {number} is not leaf {frontier.size}", position)
            digest = leaf_hash_of(record_from_entry(entry))
            if digest != _hash(entry.get("leaf_hash"), f"line {number}'s leaf_hash"):
                return OfflineReport(False, frontier.size, f"line {number}: the record does not give its leaf_hash", position)
        except (ValueError, TypeError, RecordError) as error:
            return OfflineReport(False, frontier.size, f"line {number}: {error}", position)
        frontier.append(digest)
        if frontier.size == checkpoint.size:
            root = frontier.root()
    if root is None:
        return OfflineReport(False, frontier.size, f"the export has {frontier.size} leaves; the checkpoint signs {checkpoint.size}")
    if root != checkpoint.root_hash:
        return OfflineReport(False, frontier.size, f"the leaves do not give the root signed for tree size {checkpoint.size}")
    return OfflineReport(True, frontier.size)


def verify_certificate(certificate: dict[str, Any], verifier_key: str) -> OfflineReport:
    """A certificate as issued (with its `record`): the record holds what the certificate
    says, its leaf is in the tree by the inclusion proof, and the tree's root is signed."""
    try:
        proof = certificate["proof"]
        record = certificate["record"]
        checkpoint = verify_checkpoint(proof["checkpoint"], verifier_key)
    except KeyError as error:
        return OfflineReport(False, 0, f"the certificate has no {error.args[0]} (the public copy cannot be checked offline)")
    except NoteError as error:
        return OfflineReport(False, 0, f"the checkpoint does not verify with the key: {error}")
    except TypeError:
        return OfflineReport(False, 0, "the certificate is not an object with a proof")
    try:
        data = record["data"]
        said = {name: certificate[name] for name in CERTIFIED}
        recorded = {name: data[name] for name in CERTIFIED}
        if said != recorded or certificate.get("code") != data.get("code") or record.get("type") != "Certificate.Issued":
            return OfflineReport(False, 0, "the certificate says something other than its recorded event")
        if certificate.get("position") != record.get("position") or not _same_moment(certificate.get("issued_at"), record.get("recorded_at")):
            return OfflineReport(False, 0, "the certificate's position or time differs from its recorded event")
        digest = leaf_hash_of(record_from_entry(record))
        hashes = [_hash(h, "a proof hash") for h in proof["hashes"]]
        index, size = proof["leaf_index"], proof["tree_size"]
    except (KeyError, TypeError, ValueError, RecordError) as error:
        return OfflineReport(False, 0, f"the certificate is malformed: {error}")
    if size != checkpoint.size:
        return OfflineReport(False, 0, f"the proof is for tree size {size}, the checkpoint signs {checkpoint.size}")
    if not merkle.verify_inclusion(index, size, digest, hashes, checkpoint.root_hash):
        return OfflineReport(False, 0, "the inclusion proof does not lead to the signed root")
    return OfflineReport(True, 1)


def _same_moment(one: Any, other: Any) -> bool:
    try:
        return datetime.fromisoformat(one) == datetime.fromisoformat(other)
    except (TypeError, ValueError):
        return False


# What a certificate states, each equal to the same field of its issuing event.
CERTIFIED = (
    "volunteer_id", "volunteer_name", "period_from", "period_to", "service_minutes", "record_count",
    "categories", "organizations", "star_level",
)
