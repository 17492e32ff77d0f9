"""Ledger rules that deployments configure: the time-bank cap, star thresholds, the ID salt,
and how long a process may trust an API key it has authenticated."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from ledger.stars import NATIONAL_THRESHOLDS_MINUTES

DEFAULT_TIMEBANK_CAP_MINUTES = 90_000  # 1,500 hours
# A key revoked through another process is refused within this bound (through this one: at
# once). `serve --workers N` sets 0: SPEC's "effective at once" then holds across workers.
DEFAULT_KEY_CACHE_SECONDS = 1.0
KEY_CACHE_ENV = "HOUR_LEDGER_KEY_CACHE_SECONDS"


class ConfigurationError(Exception):
    """A setting has a value the ledger cannot use; the message names it."""


@dataclass(frozen=True)
class LedgerSettings:
    timebank_cap_minutes: int = DEFAULT_TIMEBANK_CAP_MINUTES
    star_thresholds_minutes: tuple[int, ...] = NATIONAL_THRESHOLDS_MINUTES
    # National ID numbers are never stored: only HMAC-SHA256(salt, number).
    id_number_salt: str = field(default="hour-ledger-development-salt", repr=False)
    key_cache_seconds: float = DEFAULT_KEY_CACHE_SECONDS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LedgerSettings:
        env = os.environ if environ is None else environ
        settings = cls()
        cap = env.get("HOUR_LEDGER_TIMEBANK_CAP_MINUTES")
        if cap:
            settings = replace(
                settings,
                timebank_cap_minutes=_positive_int("HOUR_LEDGER_TIMEBANK_CAP_MINUTES", cap),
            )
        thresholds = env.get("HOUR_LEDGER_STAR_THRESHOLDS_HOURS")
        if thresholds:
            name = "HOUR_LEDGER_STAR_THRESHOLDS_HOURS"
            hours = [_positive_int(name, h) for h in thresholds.split(",")]
            if len(hours) != 5 or hours != sorted(set(hours)):
                raise ConfigurationError(
                    f"{name} must be five increasing numbers of hours, e.g. 100,300,600,1000,1500"
                )
            settings = replace(settings, star_thresholds_minutes=tuple(h * 60 for h in hours))
        seconds = env.get(KEY_CACHE_ENV)
        if seconds:
            settings = replace(settings, key_cache_seconds=_seconds(KEY_CACHE_ENV, seconds))
        salt = env.get("HOUR_LEDGER_ID_NUMBER_SALT")
        if salt:
            settings = replace(settings, id_number_salt=salt)
        return settings


def _positive_int(name: str, text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, not {text!r}") from None
    if value <= 0:
        raise ConfigurationError(f"{name} must be positive, not {value}")
    return value


def _seconds(name: str, text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise ConfigurationError(f"{name} must be a number of seconds, not {text!r}") from None
    if not 0 <= value <= 60:
        raise ConfigurationError(f"{name} must be from 0 to 60 seconds, not {text.strip()}")
    return value
