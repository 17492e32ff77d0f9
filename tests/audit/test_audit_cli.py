"""`hour-ledger audit …` as an auditor runs it, on both stores: exit 0 when all is good, 1
when a problem is found (with the position), 2 when the check cannot run; the export and a
certificate verified with no database at all."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.application import HourLedger
from ledger.config import LedgerSettings
from ledger.persistence import persistence_env
from tests.audit.stored_events import StoredEvents, registrations
from tests.support.read_model_rows import execute
from tests.support.served import hour_ledger
from tests.support.worlds import busy_world

pytestmark = pytest.mark.slow


def audit(*args: str, url: str | None, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOUR_LEDGER_")}
    if url is not None:
        env["HOUR_LEDGER_DATABASE_URL"] = url
    else:
        env["HOUR_LEDGER_DATABASE_URL"] = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"
    return subprocess.run([*hour_ledger(), "audit", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_an_auditor_signs_verifies_exports_and_checks_offline(database_url: str, tmp_path: Path) -> None:
    ledger = HourLedger(env=persistence_env(database_url))
    try:
        busy_world(ledger)
        events = len(StoredEvents(ledger).positions())
    finally:
        ledger.close()

    key = audit("key", url=database_url, cwd=tmp_path)
    assert key.returncode == 0, key.stderr
    assert key.stdout.startswith("hour-ledger.local/ledger+")
    assert (tmp_path / "hour-ledger.signing-key").stat().st_mode & 0o777 == 0o600
    (tmp_path / "key.txt").write_text(key.stdout)

    signed = audit("checkpoint", url=database_url, cwd=tmp_path)
    assert signed.returncode == 0, signed.stderr
    assert signed.stdout.splitlines()[1] == str(events)
    (tmp_path / "kept.checkpoint").write_text(signed.stdout)

    verified = audit("verify", "--checkpoint", "kept.checkpoint", url=database_url, cwd=tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"ok: {events:,} events verified" in verified.stdout

    exported = audit("export", "--output", "log.jsonl", url=database_url, cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert len((tmp_path / "log.jsonl").read_text().splitlines()) == events

    offline = ["verify", "--export", "log.jsonl", "--checkpoint", "log.jsonl.checkpoint", "--key", "key.txt"]
    assert audit(*offline, url=None, cwd=tmp_path).returncode == 0  # no database reachable at all

    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    entry = json.loads(lines[3])
    entry["originator_version"] += 1
    lines[3] = json.dumps(entry, ensure_ascii=False)
    (tmp_path / "log.jsonl").write_text("\n".join(lines) + "\n")
    changed = audit(*offline, url=None, cwd=tmp_path)
    assert changed.returncode == 1 and f"position {entry['position']}" in changed.stdout

    missing = audit("verify", "--export", "nowhere.jsonl", "--checkpoint", "log.jsonl.checkpoint", "--key", "key.txt", url=None, cwd=tmp_path)
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_verify_names_the_tampered_position_and_exits_1(database_url: str, tmp_path: Path) -> None:
    ledger = HourLedger(env=persistence_env(database_url))
    try:
        busy_world(ledger)
        assert audit("checkpoint", url=database_url, cwd=tmp_path).returncode == 0
        events = StoredEvents(ledger)
        target = registrations(events)[2]
        events.set_state(target, events.row(target)[3].replace(b'"320830"', b'"320831"', 1))
    finally:
        ledger.close()

    found = audit("verify", url=database_url, cwd=tmp_path)
    assert found.returncode == 1
    assert f"FAILED at position {target}" in found.stdout


def test_a_certificate_file_verifies_offline_and_an_altered_one_does_not(database_url: str, tmp_path: Path) -> None:
    settings = LedgerSettings(signing_key_file=str(tmp_path / "hour-ledger.signing-key"))
    ledger = HourLedger(env=persistence_env(database_url), settings=settings)
    try:
        busy_world(ledger, people=1)
        person = str(registrations(StoredEvents(ledger))[0])
        volunteer_id = str(StoredEvents(ledger).row(int(person))[0])
        client = TestClient(create_app(ledger))
        admin = ledger.keys.bootstrap_admin()
        issued = client.post(f"/v1/volunteers/{volunteer_id}/certificates", json={}, headers={"Authorization": f"Bearer {admin}"})
        assert issued.status_code == 201, issued.text
        key = client.get("/v1/audit/key").text
    finally:
        ledger.close()
    (tmp_path / "certificate.json").write_text(issued.text)
    (tmp_path / "key.txt").write_text(key)

    good = audit("verify-certificate", "certificate.json", "--key", "key.txt", url=None, cwd=tmp_path)
    assert good.returncode == 0, good.stdout + good.stderr

    altered = issued.json() | {"service_minutes": issued.json()["service_minutes"] + 600}
    (tmp_path / "altered.json").write_text(json.dumps(altered, ensure_ascii=False))
    bad = audit("verify-certificate", "altered.json", "--key", "key.txt", url=None, cwd=tmp_path)
    assert bad.returncode == 1 and "FAILED" in bad.stdout


def test_replay_of_an_untouched_store_finds_no_difference(database_url: str, tmp_path: Path) -> None:
    ledger = HourLedger(env=persistence_env(database_url))
    try:
        busy_world(ledger)
    finally:
        ledger.close()
    replayed = audit("replay", url=database_url, cwd=tmp_path)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "no difference" in replayed.stdout


def test_an_unreachable_store_is_exit_2(tmp_path: Path) -> None:
    done = audit("verify", url=None, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_replay_lists_a_read_model_row_altered_by_hand_and_exits_1(database_url: str, tmp_path: Path) -> None:
    from projections import ReadModels

    ledger = HourLedger(env=persistence_env(database_url))
    try:
        busy_world(ledger)
        models = ReadModels(ledger)
        models.catch_up()
        volunteer_id = StoredEvents(ledger).row(registrations(StoredEvents(ledger))[0])[0]
        execute(ledger, models, "UPDATE {bal_volunteer} SET earned = earned + 30 WHERE volunteer_id = ?", str(volunteer_id))
    finally:
        ledger.close()

    replayed = audit("replay", url=database_url, cwd=tmp_path)
    assert replayed.returncode == 1, replayed.stdout + replayed.stderr
    assert str(volunteer_id)[:8] in replayed.stdout and "earned" in replayed.stdout
