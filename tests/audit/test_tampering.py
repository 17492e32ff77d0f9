"""`verify` over a real store (both kinds): an untouched log verifies; each kind of tampering
of SPEC §6, done in SQL on the stored events (and, for the last, on the audit's own tables),
fails at the right position."""

from __future__ import annotations

import base64
import json
from uuid import uuid4

import pytest

from ledger.application import HourLedger
from projections.audit import merkle
from projections.audit.log import AuditLog, b64, leaf_of_row
from projections.audit.offline import verify_export
from tests.audit.stored_events import StoredEvents, registrations
from tests.support.builders import AppWorld
from tests.support.worlds import busy_world


@pytest.fixture
def audit(ledger: HourLedger) -> AuditLog:
    busy_world(ledger)
    log = AuditLog(ledger)
    log.sign_checkpoint()
    return log


def test_an_untouched_log_verifies_every_stored_event(ledger: HourLedger, audit: AuditLog) -> None:
    report = audit.verify()
    events = StoredEvents(ledger).positions()
    assert report.ok and report.problem is None and report.first_bad_position is None
    assert report.checked == len(events) == report.tree_size
    assert report.root_hash == b64(audit.root_at(report.tree_size))


def test_a_changed_byte_of_stored_data_is_found_at_its_position(ledger: HourLedger, audit: AuditLog) -> None:
    events = StoredEvents(ledger)
    target = registrations(events)[1]
    state = events.row(target)[3]
    assert b'"320830"' in state
    events.set_state(target, state.replace(b'"320830"', b'"320831"', 1))

    report = audit.verify()
    assert not report.ok
    assert report.first_bad_position == target
    assert "does not match its leaf" in report.problem


def test_a_deleted_event_is_found_at_its_position(ledger: HourLedger, audit: AuditLog) -> None:
    events = StoredEvents(ledger)
    target = events.positions()[7]
    events.delete(target)

    report = audit.verify()
    assert (report.ok, report.first_bad_position) == (False, target)
    assert "deleted" in report.problem


def test_an_event_inserted_before_the_latest_checkpoint_is_found_at_its_position(ledger: HourLedger) -> None:
    world = AppWorld(ledger)
    organization = world.organization()
    world.volunteer(organization, earned_minutes=60)
    events = StoredEvents(ledger)
    # A free position below later events: a place-holder row taken and then removed.
    gap = events.insert(None, uuid4(), 1, "ledger.organization:Organization.Registered", b'{"timestamp":null}')
    world.volunteer(organization, earned_minutes=60)
    events.delete(gap)
    audit = AuditLog(ledger)
    audit.sign_checkpoint()
    assert gap < audit.store.size_and_position()[1]

    originator_id, version, topic, state = events.row(events.positions()[3])
    events.insert(gap, uuid4(), version, topic, state)  # a copy of a real event, slipped in

    report = audit.verify()
    assert (report.ok, report.first_bad_position) == (False, gap)
    assert "inserted" in report.problem


def test_two_events_with_their_contents_swapped_are_found_at_the_first(ledger: HourLedger, audit: AuditLog) -> None:
    events = StoredEvents(ledger)
    first, second = registrations(events)[1:3]
    one, other = events.row(first)[3], events.row(second)[3]
    events.set_state(first, other)
    events.set_state(second, one)

    report = audit.verify()
    assert (report.ok, report.first_bad_position) == (False, first)


def rewrite_every_hash(ledger: HourLedger, events: StoredEvents) -> None:
    """What an administrator would do to hide a change: recompute the whole stored tree."""
    tree = merkle.MemoryTree()
    frontier = merkle.Frontier()
    nodes = []
    for position in events.positions():
        _, digest = leaf_of_row(position, *events.row(position))
        tree.append(digest)
        nodes.extend(node for node in frontier.append(digest) if node[0] > 0)
    events.rewrite_tree([tree.leaf(i) for i in range(tree.size)], nodes)


def test_an_event_changed_with_every_stored_hash_rewritten_is_caught_by_the_signed_checkpoints(ledger: HourLedger) -> None:
    world = AppWorld(ledger)
    organization = world.organization()
    world.volunteer(organization, earned_minutes=60)
    audit = AuditLog(ledger)
    audit.sign_checkpoint()
    target = ledger.register_volunteer(world.actor, "王秀英", "320830").position
    audit.sign_checkpoint()  # the target is the only leaf between two checkpoints
    world.volunteer(organization, earned_minutes=60)
    audit.sign_checkpoint()

    events = StoredEvents(ledger)
    events.set_state(target, events.row(target)[3].replace("王秀英".encode(), "王秀兰".encode()))
    rewrite_every_hash(ledger, events)

    report = AuditLog(ledger).verify()
    assert not report.ok
    assert report.first_bad_position == target
    assert "rewritten" in report.problem


def test_with_the_stored_checkpoints_removed_too_a_checkpoint_kept_elsewhere_catches_it(ledger: HourLedger, audit: AuditLog) -> None:
    kept = audit.latest_checkpoint().note
    events = StoredEvents(ledger)
    target = registrations(events)[0]
    events.set_state(target, events.row(target)[3].replace(b'"320830"', b'"320831"', 1))
    rewrite_every_hash(ledger, events)
    events.forget_checkpoints()

    assert AuditLog(ledger).verify().ok  # nothing left inside the database to tell
    report = AuditLog(ledger).verify(kept=[kept])
    assert not report.ok and "kept checkpoint 1" in report.problem


def test_a_kept_checkpoint_from_another_key_is_refused(ledger: HourLedger, audit: AuditLog) -> None:
    from projections.audit.notes import SigningKey, sign_checkpoint

    forged = sign_checkpoint(SigningKey.generate(audit.origin), audit.origin, 1, bytes(32))
    report = audit.verify(kept=[forged])
    assert not report.ok and "does not verify" in report.problem


def test_an_export_verifies_offline_and_one_changed_byte_fails(ledger: HourLedger, audit: AuditLog) -> None:
    signed, _ = audit.sign_checkpoint()
    lines = [json.dumps(e, ensure_ascii=False) for e in audit.iter_entries()]
    assert len(lines) == signed.tree_size

    report = verify_export(lines, signed.note, audit.verifier_key)
    assert report.ok and report.checked == signed.tree_size

    changed = list(lines)
    changed[5] = changed[5].replace('"originator_version": 1', '"originator_version": 2', 1)
    assert changed != lines
    tampered = verify_export(changed, signed.note, audit.verifier_key)
    assert not tampered.ok and tampered.first_bad_position == json.loads(lines[5])["position"]


def test_proofs_from_the_store_verify_against_the_signed_roots(ledger: HourLedger, audit: AuditLog) -> None:
    first, _ = audit.sign_checkpoint()
    busy_world(ledger, people=2)
    second, created = audit.sign_checkpoint()
    assert created and second.tree_size > first.tree_size

    proof = audit.consistency_proof(first.tree_size, second.tree_size)
    assert merkle.verify_consistency(first.tree_size, second.tree_size, first.root_hash, second.root_hash, proof)
    for position in StoredEvents(ledger).positions()[:: 7]:
        found = audit.inclusion_proof(position, second.tree_size)
        leaf = base64.b64decode(found["leaf_hash"])
        hashes = [base64.b64decode(h) for h in found["hashes"]]
        assert merkle.verify_inclusion(found["leaf_index"], second.tree_size, leaf, hashes, second.root_hash)
