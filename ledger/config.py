"""Every `HOUR_LEDGER_*` setting, read once and validated in one place: the store's URL, the
ledger's rules that deployments configure (time-bank cap, star thresholds, the ID salt), how
long a process trusts an API key, the audit log's origin and signing key, the counter's
reversal window, the local time zone, the bulk rebuild's memory, and how the service is
operated (how far behind the read models may be for `/readyz`, the access log).

Each entry point (`serve` and its workers, every command, the follower) builds one
`LedgerSettings` with `from_env()` and passes it on; nothing else reads the environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ledger.persistence import DEFAULT_DATABASE_URL, DatabaseUrlError, persistence_env
from ledger.vocabulary import NATIONAL_THRESHOLDS_MINUTES

DEFAULT_TIMEBANK_CAP_MINUTES = 90_000  # 1,500 hours
# A follower keeping up with single postings lags a few dozen events; one atomic batch of 1,000
# postings is 2,000 events at once, and eight clients sending batches put 16,000 in the log
# within a second, which the followers read in a few seconds (docs/benchmarks.md). Readiness
# must not flap under that (a load balancer would take every instance out at once, for they
# share the log): 20,000 is a burst of batches, or a follower that has stopped. Measured
# later, such a burst reached 24,000-30,000: a follower that moves is not held to it
# (`ready_stall_seconds`, api/routes/operations.py).
DEFAULT_READY_MAX_LAG = 20_000
# A key revoked through another process is refused within this bound (through this one: at
# once). `serve --workers N` sets 0: SPEC's "effective at once" then holds across workers.
DEFAULT_KEY_CACHE_SECONDS = 1.0
DEFAULT_LOG_ORIGIN = "hour-ledger.local/ledger"
DEFAULT_SIGNING_KEY_FILE = "hour-ledger.signing-key"
DEVELOPMENT_SALT = "hour-ledger-development-salt"
KEY_CACHE_ENV = "HOUR_LEDGER_KEY_CACHE_SECONDS"
PREFIX = "HOUR_LEDGER_"

# Where each setting comes from: the field's name in upper case behind the prefix, except these.
_ENV_NAMES = {"star_thresholds_minutes": "HOUR_LEDGER_STAR_THRESHOLDS_HOURS"}
_WORK_MEM = re.compile(r"^[1-9][0-9]{0,6}(kB|MB|GB)$")
# A C2SP origin: a schema-less URL, printable ASCII without spaces or '+' (it is also the key name).
_ORIGIN = re.compile(r"^[!-*,-~]{1,200}$")


class ConfigurationError(Exception):
    """A setting has a value the ledger cannot use; the message names it."""


@dataclass(frozen=True)
class LedgerSettings:
    database_url: str = DEFAULT_DATABASE_URL
    timebank_cap_minutes: int = DEFAULT_TIMEBANK_CAP_MINUTES
    star_thresholds_minutes: tuple[int, ...] = NATIONAL_THRESHOLDS_MINUTES
    # National ID numbers are never stored: only HMAC-SHA256(salt, number).
    id_number_salt: str = field(default=DEVELOPMENT_SALT, repr=False)
    key_cache_seconds: float = DEFAULT_KEY_CACHE_SECONDS
    # PostgreSQL `work_mem` of each step of a bulk rebuild (two steps at once on two cores).
    rebuild_work_mem: str = "1GB"
    timezone: str = "Asia/Shanghai"
    log_origin: str = DEFAULT_LOG_ORIGIN
    signing_key_file: str = DEFAULT_SIGNING_KEY_FILE
    checkpoint_seconds: float = 60.0
    counter_reversal_hours: float = 24.0
    # Per client address and minute: requests to the public endpoints (certificates), and
    # failed authentications (after which requests with a key are refused for the minute).
    public_requests_per_minute: int = 120
    failed_authentications_per_minute: int = 30
    # Origins allowed to call the API from a browser (comma-separated); none by default.
    cors_origins: str = ""
    # How `serve` hands the follower's place to its workers: "in-process" or "off".
    projections: str = "in-process"
    # A follower woken by a commit lets the next moment's commits gather for this long before
    # it reads (a reader waiting for a position wakes it at once): projections/engine/waking.py.
    follower_coalesce_seconds: float = 0.2
    # How much lower `serve` runs its followers' threads than its workers (a nice increment,
    # 0 to 19; Linux, where each thread has its own): the read models lag a burst of postings
    # rather than slow it, and every read still waits for the position it needs.
    follower_nice: int = 10
    # /readyz answers 503 when the read models or the audit tree are more events behind the log.
    ready_max_lag: int = DEFAULT_READY_MAX_LAG
    # ... unless it moved: only a follower more than that far behind and not moving for this
    # long makes the service unready (a burst of batches puts it 30,000 events behind).
    ready_stall_seconds: float = 15.0
    # One JSON line per request on stderr (`serve --no-access-log` turns it off).
    access_log: bool = True
    # The file in which the workers of one `serve` note key revocations (set by `serve`;
    # empty: this process notes its own): ledger/api_keys.py.
    key_revocations_file: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LedgerSettings:
        """The settings of `environ` (the process environment by default); a value that
        cannot be used raises ConfigurationError naming the variable."""
        env = os.environ if environ is None else environ
        found: dict[str, object] = {}
        for setting in fields(cls):
            name = env_name(setting.name)
            text = env.get(name)
            if text is None or not text.strip():
                continue
            found[setting.name] = _PARSERS[setting.name](name, text.strip())
        settings = cls(**found)  # type: ignore[arg-type]
        try:
            persistence_env(settings.database_url)
        except DatabaseUrlError as error:
            raise ConfigurationError(str(error)) from None
        return settings

    def to_env(self) -> dict[str, str]:
        """The variables that give these settings again: what `serve` hands its workers."""
        env = {}
        for setting in fields(self):
            value = getattr(self, setting.name)
            if setting.name == "star_thresholds_minutes":
                value = ",".join(str(m // 60) for m in value)
            elif isinstance(value, bool):
                value = "on" if value else "off"
            env[env_name(setting.name)] = str(value)
        return env

    def with_(self, **changes: object) -> LedgerSettings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def signing_key_path(self) -> Path:
        return Path(self.signing_key_file)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def env_name(setting: str) -> str:
    return _ENV_NAMES.get(setting, PREFIX + setting.upper())


def _positive_int(name: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, not {text!r}") from None
    if value <= 0:
        raise ConfigurationError(f"{name} must be positive, not {value}")
    return value


def _number(low: float, high: float, unit: str):  # type: ignore[no-untyped-def]
    def parse(name: str, text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ConfigurationError(f"{name} must be a number of {unit}, not {text!r}") from None
        if not low <= value <= high:
            raise ConfigurationError(f"{name} must be from {low:g} to {high:g} {unit}, not {text}")
        return value

    return parse


def _thresholds(name: str, text: str) -> tuple[int, ...]:
    hours = [_positive_int(name, h.strip()) for h in text.split(",")]
    if len(hours) != 5 or hours != sorted(set(hours)):
        raise ConfigurationError(f"{name} must be five increasing numbers of hours, e.g. 100,300,600,1000,1500")
    return tuple(h * 60 for h in hours)


def _work_mem(name: str, text: str) -> str:
    if not _WORK_MEM.match(text):
        raise ConfigurationError(f"{name} must be a size such as 512MB or 1GB, not {text!r}")
    return text


def _timezone(name: str, text: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(f"{name} must be an IANA time zone such as Asia/Shanghai, not {text!r}") from None
    return text


def _origin(name: str, text: str) -> str:
    if not _ORIGIN.match(text):
        raise ConfigurationError(f"{name} must be printable ASCII without spaces or '+', not {text!r}")
    return text


def _projections(name: str, text: str) -> str:
    if text not in ("in-process", "off"):
        raise ConfigurationError(f"{name} must be in-process or off, not {text!r}")
    return text


def _origins(name: str, text: str) -> str:
    origins = [origin.strip() for origin in text.split(",") if origin.strip()]
    for origin in origins:
        if not re.match(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$", origin):
            raise ConfigurationError(f"{name}: {origin!r} is not an origin such as https://console.example.gov.cn")
    return ",".join(origins)


def _text(name: str, text: str) -> str:
    return text


def _whole_number(name: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, not {text!r}") from None
    if value < 0:
        raise ConfigurationError(f"{name} must not be negative, not {value}")
    return value


def _nice(name: str, text: str) -> int:
    value = _whole_number(name, text)
    if value > 19:
        raise ConfigurationError(f"{name} must be from 0 to 19, not {value}")
    return value


def _switch(name: str, text: str) -> bool:
    value = text.lower()
    if value in ("on", "true", "yes", "1"):
        return True
    if value in ("off", "false", "no", "0"):
        return False
    raise ConfigurationError(f"{name} must be on or off, not {text!r}")


_PARSERS = {
    "database_url": _text,
    "timebank_cap_minutes": _positive_int,
    "star_thresholds_minutes": _thresholds,
    "id_number_salt": _text,
    "key_cache_seconds": _number(0, 60, "seconds"),
    "rebuild_work_mem": _work_mem,
    "timezone": _timezone,
    "log_origin": _origin,
    "signing_key_file": _text,
    "checkpoint_seconds": _number(1, 86_400, "seconds"),
    "counter_reversal_hours": _number(0, 720, "hours"),
    "projections": _projections,
    "follower_coalesce_seconds": _number(0, 1, "seconds"),
    "follower_nice": _nice,
    "ready_max_lag": _whole_number,
    "ready_stall_seconds": _number(0, 3600, "seconds"),
    "access_log": _switch,
    "public_requests_per_minute": _positive_int,
    "failed_authentications_per_minute": _positive_int,
    "cors_origins": _origins,
    "key_revocations_file": _text,
}
