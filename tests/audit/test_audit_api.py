"""SPEC §6 over HTTP on both stores: the public key and checkpoint, auditors' checkpoints,
proofs, log and verify; certificates issued, proved offline, masked in public, and their
printable page."""

from __future__ import annotations

import base64

from projections.audit import merkle
from projections.audit.notes import verify_checkpoint
from projections.audit.offline import verify_certificate
from tests.support.api_client import (
    Api,
    World,
    api,  # noqa: F401 - fixture
    assert_created,
    assert_problem,
    reversal,
    service_record,
    world,  # noqa: F401 - fixture
)


def decode(text: str) -> bytes:
    return base64.b64decode(text)


def test_anyone_reads_the_key_and_the_latest_checkpoint_which_verifies_with_it(api: Api, world: World) -> None:
    key = api.anonymous.get("/v1/audit/key")
    assert key.status_code == 200 and key.headers["content-type"].startswith("text/plain")
    note = api.anonymous.get("/v1/audit/checkpoint")
    assert note.status_code == 200 and note.headers["content-type"].startswith("text/plain")
    checkpoint = verify_checkpoint(note.text, key.text.strip(), "hour-ledger.local/ledger")
    assert checkpoint.size == api.ledger.head_position()  # every event so far, no gaps on a fresh store


def test_auditors_sign_list_and_prove(api: Api, world: World) -> None:
    auditor = api.key("auditor")
    first = assert_created(auditor.post("/v1/audit/checkpoints"))
    assert set(first) == {"tree_size", "root_hash", "signed_at", "note"}
    assert_created(api.admin.post("/v1/transactions", service_record(world.bob, world.org, minutes=30)))
    second = assert_created(auditor.post("/v1/audit/checkpoints"))
    assert second["tree_size"] > first["tree_size"]

    listed = auditor.get("/v1/audit/checkpoints", params={"after": first["tree_size"] - 1}).json()
    assert [c["tree_size"] for c in listed["checkpoints"]] == [first["tree_size"], second["tree_size"]]
    assert listed["next"] is None

    consistency = auditor.get("/v1/audit/proofs/consistency", params={"from": first["tree_size"], "to": second["tree_size"]}).json()
    assert merkle.verify_consistency(
        first["tree_size"], second["tree_size"], decode(first["root_hash"]), decode(second["root_hash"]),
        [decode(h) for h in consistency["hashes"]],
    )
    inclusion = auditor.get("/v1/audit/proofs/inclusion", params={"position": 3, "tree_size": second["tree_size"]}).json()
    assert merkle.verify_inclusion(
        inclusion["leaf_index"], second["tree_size"], decode(inclusion["leaf_hash"]),
        [decode(h) for h in inclusion["hashes"]], decode(second["root_hash"]),
    )
    by_default = auditor.get("/v1/audit/proofs/inclusion", params={"position": 3}).json()
    assert by_default["tree_size"] == second["tree_size"]

    assert_problem(auditor.get("/v1/audit/proofs/inclusion", params={"position": 10**9}), 404, "not_found")
    assert_problem(auditor.get("/v1/audit/proofs/consistency", params={"from": 5, "to": 10**9}), 422, "validation_error")
    assert_problem(auditor.get("/v1/audit/proofs/consistency", params={"from": 9, "to": 5}), 422, "validation_error")


def test_the_log_pages_through_every_leaf_with_its_record(api: Api, world: World) -> None:
    auditor = api.key("auditor")
    seen, after = [], -1
    while True:
        page = auditor.get("/v1/audit/log", params={"after": after, "limit": 7}).json()
        seen.extend(page["events"])
        if page["next"] is None:
            break
        after = page["next"]
    assert [e["leaf_index"] for e in seen] == list(range(len(seen)))
    assert len(seen) == api.ledger.head_position()
    first = seen[0]
    assert set(first) == {"leaf_index", "leaf_hash", "position", "originator_id", "originator_version", "type", "recorded_at", "posted_by", "data"}
    assert first["recorded_at"].endswith("Z")


def test_a_region_scoped_auditor_reads_only_its_region_in_the_log(api: Api, world: World) -> None:
    huai_an = api.key("auditor", region_code="3208")
    events = huai_an.get("/v1/audit/log", params={"limit": 1000}).json()["events"]
    ids = {e["originator_id"] for e in events}
    assert world.alice in ids and world.org in ids
    assert world.cz_volunteer not in ids and world.cz_point not in ids


def test_verify_answers_ok_with_every_event_checked(api: Api, world: World) -> None:
    report = api.key("auditor").get("/v1/audit/verify").json()
    assert report == {
        "ok": True, "checked": api.ledger.head_position(), "tree_size": api.ledger.head_position(),
        "root_hash": report["root_hash"], "first_bad_position": None, "problem": None,
    }


def test_only_auditors_and_admins_use_the_audit_endpoints(api: Api, world: World) -> None:
    for role in ("operator", "exchange_point"):
        scope = {"exchange_point_id": world.point} if role == "exchange_point" else {}
        who = api.key(role, **scope)
        assert_problem(who.get("/v1/audit/verify"), 403, "forbidden")
        assert_problem(who.post("/v1/audit/checkpoints"), 403, "forbidden")
        assert_problem(who.get("/v1/audit/log"), 403, "forbidden")
    assert_problem(api.anonymous.get("/v1/audit/checkpoints"), 401, "unauthorized")


# Certificates -------------------------------------------------------------------------


def test_a_certificate_proves_itself_offline_and_reports_a_later_reversal(api: Api, world: World) -> None:
    first = assert_created(api.admin.post("/v1/transactions", service_record(world.bob, world.org, minutes=90)))
    assert_created(api.admin.post("/v1/transactions", service_record(world.bob, world.org, minutes=30)))
    issued = assert_created(api.admin.post(f"/v1/volunteers/{world.bob}/certificates", {}))

    assert issued["service_minutes"] == 120 and issued["record_count"] == 2
    assert issued["volunteer_name"] == "Bob" and issued["organizations"][0]["service_minutes"] == 120
    assert len(issued["code"]) == 12
    key = api.anonymous.get("/v1/audit/key").text
    assert verify_certificate(issued, key).ok

    forged = {**issued, "service_minutes": 12_000}
    assert not verify_certificate(forged, key).ok

    public = api.anonymous.get(f"/v1/certificates/{issued['code']}")
    assert public.status_code == 200
    seen = public.json()
    assert seen["genuine"] is True and seen["reversed_since"] is False
    assert seen["volunteer_name"] == "B*b" and "record" not in seen
    assert seen["proof"]["leaf_index"] == issued["proof"]["leaf_index"]

    assert_created(api.admin.post("/v1/transactions", reversal(first["id"], reason="entered twice")))
    assert api.anonymous.get(f"/v1/certificates/{issued['code']}").json()["reversed_since"] is True

    page = api.anonymous.get(f"/certificates/{issued['code']}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "志愿服务记录证明" in page.text and issued["code"] in page.text and "<svg" in page.text


def test_a_certificate_counts_only_unreversed_service_in_its_period(api: Api, world: World) -> None:
    early = service_record(world.carol, world.org, minutes=60, started_at=None)
    kept = assert_created(api.admin.post("/v1/transactions", early))
    undone = assert_created(api.admin.post("/v1/transactions", service_record(world.carol, world.org, minutes=45)))
    assert_created(api.admin.post("/v1/transactions", reversal(undone["id"], reason="never happened")))
    day = kept["started_at"][:10] if "started_at" in kept else early["started_at"][:10]

    issued = assert_created(api.admin.post(f"/v1/volunteers/{world.carol}/certificates", {"period_from": day, "period_to": day}))
    assert (issued["service_minutes"], issued["record_count"]) == (60, 1)
    assert issued["period_from"] == issued["period_to"] == day


def test_certificates_refuse_unknown_codes_other_regions_and_bad_periods(api: Api, world: World) -> None:
    assert_problem(api.anonymous.get("/v1/certificates/ZZZZZZZZZZZZ"), 404, "not_found")
    assert_problem(api.anonymous.get("/v1/certificates/not-a-code"), 404, "not_found")
    assert api.anonymous.get("/certificates/ZZZZZZZZZZZZ").status_code == 404
    huai_an = api.key("operator", region_code="3208")
    assert_problem(huai_an.post(f"/v1/volunteers/{world.cz_volunteer}/certificates", {}), 403, "forbidden")
    assert_problem(api.key("auditor").post(f"/v1/volunteers/{world.bob}/certificates", {}), 403, "forbidden")
    assert_problem(api.admin.post(f"/v1/volunteers/{world.bob}/certificates", {"period_from": "2030-01-02", "period_to": "2030-01-01"}), 422, "validation_error")
    assert_problem(api.admin.post(f"/v1/volunteers/{world.bob}/certificates", {"period_from": "yesterday"}), 422, "validation_error")
    assert_problem(api.admin.post(f"/v1/volunteers/{world.bob}/certificates", {"colour": "red"}), 422, "validation_error")
    assert_created(huai_an.post(f"/v1/volunteers/{world.bob}/certificates", {}))
