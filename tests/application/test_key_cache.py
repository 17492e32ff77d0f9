"""Authentication remembers a key for a moment (`HourLedger.keys.cache_seconds`) without asking
the store again: revocation through the same process still takes effect at once, through
another process within that bound; a wrong secret is never taken for the remembered one.
Both stores."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ledger.actors import SYSTEM, Role
from ledger.api_key import SECRET_PREFIX, key_id_of
from ledger.api_keys import SharedRevocations
from ledger.application import HourLedger
from ledger.config import DEFAULT_KEY_CACHE_SECONDS, KEY_CACHE_ENV, ConfigurationError, LedgerSettings
from ledger.errors import UnauthorizedError


def test_a_key_revoked_in_this_process_is_refused_at_once(ledger: HourLedger) -> None:
    key, secret = ledger.keys.issue(SYSTEM, Role.AUDITOR, "auditor")
    assert ledger.keys.authenticate(secret).key_id == key.id
    assert ledger.keys.remembered_actor(secret) is not None  # remembered: the next request asks nothing

    ledger.keys.revoke(SYSTEM, key.id)

    assert ledger.keys.remembered_actor(secret) is None
    with pytest.raises(UnauthorizedError):
        ledger.keys.authenticate(secret)


def test_a_key_revoked_in_another_process_is_refused_within_the_bound(
    ledger: HourLedger, store_env: dict[str, str]
) -> None:
    other = HourLedger(env=store_env)  # another process on the same store
    try:
        key, secret = ledger.keys.issue(SYSTEM, Role.OPERATOR, "operator")
        assert other.keys.authenticate(secret).key_id == key.id

        ledger.keys.revoke(SYSTEM, key.id)
        revoked_at = time.monotonic()

        while True:
            asked = time.monotonic()
            try:
                other.keys.authenticate(secret)
            except UnauthorizedError:
                break
            assert asked < revoked_at + other.keys.cache_seconds, "the revoked key still works after the bound"
            time.sleep(0.01)
        # And it stays refused.
        with pytest.raises(UnauthorizedError):
            other.keys.authenticate(secret)
    finally:
        other.close()


def test_a_remembered_key_does_not_accept_another_secret_naming_it(ledger: HourLedger) -> None:
    key, secret = ledger.keys.issue(SYSTEM, Role.ADMIN, "admin")
    ledger.keys.authenticate(secret)
    forged = f"{SECRET_PREFIX}{key.id.hex}_{'x' * 43}"
    assert key_id_of(forged) == key.id
    assert ledger.keys.remembered_actor(forged) is None
    with pytest.raises(UnauthorizedError):
        ledger.keys.authenticate(forged)
    # The genuine secret still works.
    assert ledger.keys.authenticate(secret).key_id == key.id


def test_without_a_cache_every_authentication_asks_the_store(ledger: HourLedger, store_env: dict[str, str]) -> None:
    other = HourLedger(env=store_env)
    try:
        other.keys.cache_seconds = 0.0
        key, secret = ledger.keys.issue(SYSTEM, Role.AUDITOR, "auditor")
        assert other.keys.authenticate(secret).key_id == key.id
        assert other.keys.remembered_actor(secret) is None
        ledger.keys.revoke(SYSTEM, key.id)
        with pytest.raises(UnauthorizedError):
            other.keys.authenticate(secret)
    finally:
        other.close()


def test_workers_sharing_a_revocations_file_refuse_a_key_revoked_through_either_at_once(
    store_env: dict[str, str], tmp_path: Path
) -> None:
    """What the workers of one `serve --workers N` do: each remembers keys, and a revocation
    through one is news to the others at their next request (SPEC: "effective at once")."""
    path = str(tmp_path / "revocations")
    SharedRevocations.create(path)
    settings = LedgerSettings(key_cache_seconds=60, key_revocations_file=path)
    one, other = HourLedger(env=store_env, settings=settings), HourLedger(env=store_env, settings=settings)
    try:
        key, secret = one.keys.issue(SYSTEM, Role.OPERATOR, "operator")
        kept, kept_secret = one.keys.issue(SYSTEM, Role.AUDITOR, "auditor")
        for worker in (one, other):
            worker.keys.authenticate(secret)
            worker.keys.authenticate(kept_secret)
            assert worker.keys.remembered_actor(secret) is not None

        one.keys.revoke(SYSTEM, key.id)

        assert other.keys.remembered_actor(secret) is None
        with pytest.raises(UnauthorizedError):
            other.keys.authenticate(secret)
        # The others' keys are asked of the store once more, and still work.
        assert other.keys.remembered_actor(kept_secret) is None
        assert other.keys.authenticate(kept_secret).key_id == kept.id
        assert other.keys.remembered_actor(kept_secret) is not None
    finally:
        one.close()
        other.close()


def test_with_no_trust_window_a_key_revoked_in_another_process_is_refused_at_once(
    ledger: HourLedger, store_env: dict[str, str]
) -> None:
    """HOUR_LEDGER_KEY_CACHE_SECONDS=0 (for several `serve` processes on one store): SPEC's
    "effective at once" across processes."""
    other = HourLedger(env=store_env, settings=LedgerSettings.from_env({KEY_CACHE_ENV: "0"}))
    try:
        key, secret = ledger.keys.issue(SYSTEM, Role.OPERATOR, "operator")
        assert other.keys.authenticate(secret).key_id == key.id
        assert other.keys.remembered_actor(secret) is None

        ledger.keys.revoke(SYSTEM, key.id)

        with pytest.raises(UnauthorizedError):
            other.keys.authenticate(secret)
    finally:
        other.close()


@pytest.mark.parametrize(("text", "seconds"), [("0", 0.0), ("2.5", 2.5), (" 1 ", 1.0)])
def test_the_trust_window_is_a_setting(text: str, seconds: float) -> None:
    assert LedgerSettings.from_env({KEY_CACHE_ENV: text}).key_cache_seconds == seconds
    assert LedgerSettings.from_env({}).key_cache_seconds == DEFAULT_KEY_CACHE_SECONDS == 1.0


@pytest.mark.parametrize("text", ["soon", "-1", "61", "nan"])
def test_a_trust_window_the_ledger_cannot_use_is_refused(text: str) -> None:
    with pytest.raises(ConfigurationError, match=KEY_CACHE_ENV):
        LedgerSettings.from_env({KEY_CACHE_ENV: text})
