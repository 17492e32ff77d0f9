"""The ledger's transcoder writes eventsourcing's JSONTranscoder bytes, byte for byte, and reads
them back to the same values: the bulk rebuild's SQL, the audit records and the offline
verifier read the stored state, so its format must not move.

- every event (and snapshot) of the demo data set, written through HourLedger, is the bytes
  the library's mapper writes for the same event, and reads back to the same event;
- hypothesis draws the ledger's own events (names in Chinese, legs, posted_by, UUIDs, times
  at any offset) and any JSON-like state (big integers, floats, None, StrEnum members,
  non-string keys, unregistered types): the same bytes or the same error, the same values.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, Mapper, UUIDAsHex
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import AwareDatetime, TypeAdapter

from ledger.application import HourLedger
from ledger.config import LedgerSettings
from ledger.demo import load_demo
from ledger.encoding import LedgerTranscoder
from ledger.transaction import Transaction
from ledger.service_periods import ServicePeriodsAsText
from ledger.vocabulary import Book, TransactionType
from ledger.volunteer import Volunteer


def library_transcoder() -> JSONTranscoder:
    """eventsourcing's own, with the transcodings HourLedger registers."""
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), ServicePeriodsAsText()):
        transcoder.register(transcoding)
    return transcoder


def ledger_transcoder() -> LedgerTranscoder:
    transcoder = LedgerTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), ServicePeriodsAsText()):
        transcoder.register(transcoding)
    return transcoder


LIBRARY = library_transcoder()
LEDGER = ledger_transcoder()


def outcome(call: Any) -> tuple[str, Any]:
    try:
        return "value", call()
    except Exception as error:
        return "error", type(error)


def same_values(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (a time's zone, a UUID's class). NaN,
    which JSON's reader accepts, equals nothing, itself included: its spelling decides."""
    return repr(a) == repr(b) and (a == b or "nan" in repr(a))


# Every event of a busy day --------------------------------------------------------------


def test_every_event_of_the_demo_is_written_as_the_library_writes_it() -> None:
    ledger = HourLedger(settings=LedgerSettings(database_url="sqlite:///:memory:"))
    transcoder = ledger.mapper.transcoder
    assert isinstance(transcoder, LedgerTranscoder)
    # Without the library's encoder and decoder: no event of the demo needs them.
    transcoder.encoder = transcoder.decoder = None  # type: ignore[assignment]
    load_demo(ledger, scale=1)
    stored = list(ledger.recorder.select_notifications(start=1, limit=1_000_000))
    snapshots = list(ledger.snapshots.recorder.select_events(stored[-1].originator_id)) if ledger.snapshots else []
    for volunteer_id in {n.originator_id for n in stored if n.topic.endswith("Volunteer.Registered")}:
        snapshots += ledger.snapshots.recorder.select_events(volunteer_id) if ledger.snapshots else []
    assert len(stored) > 7000 and snapshots, "the demo writes every kind of event, and snapshots"
    library_mapper: Mapper[UUID] = Mapper(transcoder=LIBRARY)
    for row in stored + snapshots:
        event = library_mapper.to_domain_event(row)
        assert library_mapper.to_stored_event(event).state == row.state  # the bytes the library writes
        assert ledger.mapper.to_stored_event(event).state == row.state
        assert same_values(vars(ledger.mapper.to_domain_event(row)), vars(event))


# Hypothesis: the ledger's events ----------------------------------------------------------

class Dublin1930s(tzinfo):
    """A zone of the application's own, with summer time: neither datetime's nor zoneinfo's."""

    def utcoffset(self, moment: datetime | None) -> timedelta:
        return timedelta(hours=1) if moment is not None and 4 <= moment.month <= 9 else timedelta(minutes=-25, seconds=-21)

    def dst(self, moment: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, moment: datetime | None) -> str:
        return "DMT"


zones = st.sampled_from(
    [
        timezone.utc,
        timezone(timedelta(hours=8)),
        timezone(timedelta(hours=-3, minutes=-30)),
        timezone(timedelta(hours=5, minutes=45, seconds=30)),
        timezone(timedelta(0)),
        ZoneInfo("Asia/Shanghai"),
        ZoneInfo("America/St_Johns"),
        ZoneInfo("Europe/Dublin"),
        # The API's times come with pydantic's zones.
        TypeAdapter(AwareDatetime).validate_python("2026-12-01T08:00:00+08:00").tzinfo,
        TypeAdapter(AwareDatetime).validate_python("2026-12-01T08:00:00Z").tzinfo,
        TypeAdapter(AwareDatetime).validate_python("2026-12-01T08:00:00-09:30").tzinfo,
        Dublin1930s(),
    ]
)
aware_moments = st.datetimes(timezones=zones)
moments = st.one_of(aware_moments, st.datetimes())
names = st.one_of(
    st.text(min_size=1, max_size=40),
    st.text(alphabet="王芳李娜张伟刘洋陈静时间银行志愿服务队新时代文明实践站", min_size=1, max_size=12),
)
posted_by = st.fixed_dictionaries({"key_id": st.one_of(st.none(), st.uuids().map(str)), "name": names})
minutes = st.integers(min_value=-(2**70), max_value=2**70)
legs = st.lists(st.fixed_dictionaries({"account": st.text(max_size=60), "minutes": minutes}), max_size=6)


@settings(max_examples=150, deadline=None)
@given(
    id=st.uuids(),
    name=names,
    organization_id=st.one_of(st.none(), st.uuids()),
    birth_year=st.one_of(st.none(), st.integers(min_value=1900, max_value=2100)),
    who=posted_by,
    transaction_id=st.uuids(),
    started_at=aware_moments,
    ended_at=aware_moments,
    minutes=minutes,
)
def test_a_volunteers_events_are_written_as_the_library_writes_them(
    id: UUID, name: str, organization_id: UUID | None, birth_year: int | None, who: dict[str, Any],
    transaction_id: UUID, started_at: datetime, ended_at: datetime, minutes: int,
) -> None:
    volunteer = Volunteer(
        id=id, name=name, region_code="320830", organization_id=organization_id,
        birth_year=birth_year, id_number_hash=None, posted_by=who,
    )
    volunteer.trigger_event(  # the event itself, whatever the rules would say of these times
        Volunteer.ServiceRecorded,
        transaction_id=transaction_id, started_at=started_at, ended_at=ended_at, minutes=minutes, posted_by=who,
    )
    check_events(volunteer.collect_events())


@settings(max_examples=150, deadline=None)
@given(
    id=st.uuids(),
    type=st.sampled_from(list(TransactionType)),
    content=st.dictionaries(st.text(max_size=20), st.one_of(st.none(), names, minutes, st.uuids().map(str)), max_size=8),
    legs=legs,
    details=st.dictionaries(st.text(max_size=20), st.one_of(minutes, names, st.lists(minutes, max_size=3)), max_size=4),
    who=posted_by,
    reversal_id=st.uuids(),
)
def test_a_transactions_events_are_written_as_the_library_writes_them(
    id: UUID, type: TransactionType, content: dict[str, Any], legs: list[Any], details: dict[str, Any],
    who: dict[str, Any], reversal_id: UUID,
) -> None:
    # A StrEnum member in the state, as a use case may hand it: stored as its text.
    transaction = Transaction.post(
        id=id, type=type, content={**content, "type": type, "book": Book.SERVICE}, fingerprint="f" * 64,
        legs=[{"account": "pool", "minutes": 0}, *legs, {"account": "pool", "minutes": -sum(leg["minutes"] for leg in legs)}],
        details=details, posted_by=who,
    )
    transaction.mark_reversed(reversal_id, who)
    check_events(transaction.collect_events())


def test_a_posted_transaction_is_stored_as_the_librarys_decorator_stored_it() -> None:
    # `Transaction.Posted` is declared and builds its aggregate itself; the log holds events
    # the library's `@event` on `__init__` made, which must read back, and new ones must match.
    transaction = Transaction.post(
        id=UUID(int=5), type="service_record", content={"type": "service_record", "minutes": 60}, fingerprint="f" * 64,
        legs=[{"account": "pool", "minutes": 60}, {"account": "org:x:service", "minutes": -60}],
        details={"minutes": 60}, posted_by={"key_id": None, "name": "system"},
    )
    [event] = transaction.collect_events()
    object.__setattr__(event, "timestamp", datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc))
    stored = Mapper(transcoder=LIBRARY).to_stored_event(event)
    assert stored.topic == "ledger.transaction:Transaction.Posted"
    assert stored.state == (  # as the decorator's event was stored, byte for byte
        b'{"timestamp":{"_type_":"datetime_iso","_data_":"2026-12-01T08:00:00+00:00"},'
        b'"originator_topic":"ledger.transaction:Transaction","type":"service_record",'
        b'"content":{"type":"service_record","minutes":60},"fingerprint":"' + b"f" * 64 + b'",'
        b'"legs":[{"account":"pool","minutes":60},{"account":"org:x:service","minutes":-60}],'
        b'"details":{"minutes":60},"posted_by":{"key_id":null,"name":"system"}}'
    )
    replayed = Mapper(transcoder=LEDGER).to_domain_event(stored).mutate(None)
    assert isinstance(replayed, Transaction)
    assert (replayed.id, replayed.version, replayed.posted_at) == (UUID(int=5), 1, event.timestamp)
    assert vars(replayed) == {**vars(transaction), "_created_on": event.timestamp, "_modified_on": event.timestamp}


def check_events(events: list[Any]) -> None:
    library: Mapper[UUID] = Mapper(transcoder=LIBRARY)
    ledger: Mapper[UUID] = Mapper(transcoder=LEDGER)
    for event in events:
        stored = library.to_stored_event(event)
        assert ledger.to_stored_event(event) == stored
        assert same_values(vars(ledger.to_domain_event(stored)), vars(library.to_domain_event(stored)))


# Hypothesis: any state ---------------------------------------------------------------------


class Unregistered:
    """A type no transcoding knows: the library refuses it, and so must the ledger."""


leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**64 + 2),
    st.floats(),
    st.text(),
    st.sampled_from(list(Book)),
    st.uuids(),
    moments,
    st.decimals(allow_nan=False),
    st.just(Unregistered()),
)
keys = st.one_of(st.text(max_size=10), st.sampled_from(["_type_", "_data_"]), st.integers(), st.sampled_from(list(Book)))
states = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.lists(inner, max_size=3).map(tuple),
        st.dictionaries(keys, inner, max_size=5),
    ),
    max_leaves=30,
)


@settings(max_examples=500, deadline=None)
@given(state=st.dictionaries(st.text(max_size=10), states, max_size=6))
def test_any_state_is_written_and_read_as_the_library_does(state: dict[str, Any]) -> None:
    written = outcome(lambda: LIBRARY.encode(state))
    assert outcome(lambda: LEDGER.encode(state)) == written
    if written[0] == "value":
        read = outcome(lambda: LIBRARY.decode(written[1]))
        mine = outcome(lambda: LEDGER.decode(written[1]))
        if read[0] == "value":
            assert mine[0] == "value" and same_values(mine[1], read[1])
        else:
            assert mine == read


@settings(max_examples=150, deadline=None)
@given(
    text=st.one_of(
        st.binary(max_size=40),
        st.text(alphabet='{}[]":,0123456789-.eE _typedaNIfnul\\', max_size=60).map(str.encode),
    )
)
def test_any_bytes_are_read_as_the_library_reads_them(text: bytes) -> None:
    read = outcome(lambda: LIBRARY.decode(text))
    mine = outcome(lambda: LEDGER.decode(text))
    if read[0] == "value":
        assert mine[0] == "value" and same_values(mine[1], read[1])
    else:
        assert mine == read


@pytest.mark.parametrize(
    "stored",
    [
        b'{"n":100000000000000000000,"m":-9223372036854775809}',  # orjson would read floats
        b'{"x":NaN,"y":1e400}',
        b'{"u":{"_type_":"uuid_hex","_data_":"0x00000000000000000000000000000f"}}',
        b'{"u":{"_type_":"uuid_hex","_data_":"{12345678-1234-5678-1234-567812345678}"}}',
        b'{"u":{"_type_":"no_such_type","_data_":1}}',
        b'{"t":{"_type_":"datetime_iso","_data_":"2026-12-01T06:55:41.318420+08:00"},"_type_":1}',
    ],
)
def test_what_orjson_reads_otherwise_is_read_by_the_library(stored: bytes) -> None:
    read = outcome(lambda: LIBRARY.decode(stored))
    mine = outcome(lambda: LEDGER.decode(stored))
    assert mine[0] == read[0]
    assert same_values(mine[1], read[1]) if read[0] == "value" else mine == read


def test_a_uuid_read_fast_is_a_uuid_in_every_way() -> None:
    original = uuid4()
    read = LEDGER.decode(LIBRARY.encode({"id": original}))["id"]
    assert type(read) is UUID and read == original and hash(read) == hash(original)
    assert read.is_safe is original.is_safe and str(read) == str(original) and read.version == 4
    assert Decimal("1.10") == LEDGER.decode(LEDGER.encode({"d": Decimal("1.10")}))["d"]
