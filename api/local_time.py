"""Times in responses in the service's local time: every timestamp a response model declares
as `LocalTime` is written with the offset of `HOUR_LEDGER_TIMEZONE` (default Asia/Shanghai,
`+08:00`), whatever offset it came in with. Inputs take any offset; the instant is kept.

The zone is the app's setting; `ResponseZone` makes it the zone of each request it serves, so
that apps with different zones in one process (tests) each answer in their own. The audit's
canonical records are not converted: they are hashed bytes (`docs/audit.md`), and their routes
return them as stored."""

from __future__ import annotations

from contextvars import ContextVar
from datetime import datetime, timezone, tzinfo
from typing import Annotated, Any
from uuid import UUID

from pydantic import PlainSerializer
from starlette.types import ASGIApp, Receive, Scope, Send

from ledger.encoding import orjson_spells
from ledger.messages import DEFAULT_ZONE

_zone: ContextVar[tzinfo] = ContextVar("response_zone", default=DEFAULT_ZONE)


def local(moment: datetime) -> str:
    """RFC 3339 with the local offset (a time without a zone is taken as UTC: the store's)."""
    return local_in(moment, _zone.get())


def local_in(moment: datetime, zone: tzinfo) -> str:
    """`local`, in the zone the caller already has (`response_zone`)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(zone).isoformat()


def local_for_orjson(moment: datetime, zone: tzinfo) -> datetime | str:
    """`local_in`'s time as a value that orjson writes as `local_in` spells it: the local time
    itself when its offset is whole minutes (orjson then writes what `isoformat` writes, in C),
    else `local_in`'s text (orjson rounds an offset's seconds away: Shanghai's local mean time
    before 1901 was +08:05:43). For answers written by orjson, a thousand times a batch."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    local = moment.astimezone(zone)
    return local if orjson_spells(local) else local.isoformat()


def response_zone() -> tzinfo:
    """The zone of the request being answered."""
    return _zone.get()


def local_times(value: Any) -> Any:
    """`value` with every datetime inside it (dicts, lists) written in local time."""
    if isinstance(value, datetime):
        return local(value)
    if isinstance(value, dict):
        return {key: local_times(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [local_times(item) for item in value]
    if isinstance(value, UUID):
        return str(value)
    return value


LOCAL_TIME = PlainSerializer(local, return_type=str, when_used="json")
LocalTime = Annotated[datetime, LOCAL_TIME]
# A dict of anything (a stored event's attributes), its times in local time.
WithLocalTimes = Annotated[dict[str, Any], PlainSerializer(local_times, when_used="json")]


class ResponseZone:
    """Serves each request with `zone` as the zone of `LocalTime`."""

    def __init__(self, app: ASGIApp, zone: tzinfo) -> None:
        self.app = app
        self.zone = zone

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = _zone.set(self.zone)
        try:
            await self.app(scope, receive, send)
        finally:
            _zone.reset(token)
