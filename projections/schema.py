"""The read models' tables, declared as data: the persistence modules render them in their
dialect, suffixed by a generation (`rm<generation>_<name>`), so that a rebuild fills new tables
while the old ones keep serving.

Column kinds: "text" and "int" (64-bit). Times are integer microseconds since the epoch, days
are yyyymmdd integers (China Standard Time), ids are canonical UUID strings.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: tables are singletons
class Table:
    name: str
    columns: tuple[tuple[str, str], ...]
    key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()
    measures: tuple[str, ...] = ()  # additive columns: Changes.add() sums into them
    signed: tuple[str, ...] = ()  # additive columns whose stored value may be negative

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)

    def kind(self, column: str) -> str:
        return dict(self.columns)[column]


def _cols(*spec: str) -> tuple[tuple[str, str], ...]:
    out = []
    for item in spec:
        name, kind = item.split(":")
        out.append((name, kind))
    return tuple(out)


def physical(generation: int, table: Table | str) -> str:
    name = table.name if isinstance(table, Table) else table
    return f"rm{generation}_{name}"


# Balances and statements ------------------------------------------------------------------

BAL_VOLUNTEER = Table(
    "bal_volunteer",
    _cols(
        "volunteer_id:text", "registered_us:int", "earned:int", "redeemed:int",
        "timebank_opened_us:int", "timebank_balance:int", "service_seq:int", "timebank_seq:int",
    ),
    key=("volunteer_id",),
)

BAL_ENTRY = Table(
    "bal_entry",
    _cols(
        "volunteer_id:text", "book:text", "seq:int", "transaction_id:text", "type:text",
        "minutes:int", "balance_after:int", "earned_after:int", "redeemed_after:int", "recorded_us:int",
    ),
    key=("volunteer_id", "book", "seq"),
    indexes=(("volunteer_id", "book", "recorded_us"),),
)

# The type of every transaction that moved a service book: a reversal's own legs do not say
# whether they take back earned or redeemed minutes.
BAL_TXN = Table("bal_txn", _cols("transaction_id:text", "type:text"), key=("transaction_id",))

BALANCE_TABLES = (BAL_VOLUNTEER, BAL_ENTRY, BAL_TXN)

# Statistics -------------------------------------------------------------------------------

ST_VOLUNTEER = Table(
    "st_volunteer",
    _cols("volunteer_id:text", "region:text", "org:text", "registered_day:int", "earned:int", "star:int"),
    key=("volunteer_id",),
)
ST_ORG = Table("st_org", _cols("org:text", "name:text", "region:text"), key=("org",))
ST_POINT = Table("st_point", _cols("point:text", "name:text", "region:text"), key=("point",))

# One row per unreversed transaction that counts in a figure: what a reversal takes back.
ST_FACT = Table(
    "st_fact",
    _cols(
        "transaction_id:text", "kind:text", "volunteer_id:text", "pos:int", "day:int",
        "recorded_day:int", "minutes:int", "org:text", "category:text", "point:text",
        "items:int", "beneficiary:text",
    ),
    key=("transaction_id",),
    indexes=(("volunteer_id", "kind"),),
)

DAY_MEASURES = (
    "volunteers", "timebank_accounts", "service_records", "service_minutes", "redemptions",
    "redeemed_minutes", "items", "deposited_minutes", "withdrawn_minutes",
    "star1", "star2", "star3", "star4", "star5",
)
CUMULATIVE_MEASURES = ("volunteers", "timebank_accounts", "star1", "star2", "star3", "star4", "star5")

# Daily additive figures. lvl/anc: 0/'' the whole ledger, 1..3 the enclosing province, city
# and county, 10+level the exact region code. grp: '' all, 'o:<org>', 'c:<category>', 'p:<point>'.
ST_DAY = Table(
    "st_day",
    _cols("lvl:int", "anc:text", "grp:text", "day:int", *(f"{m}:int" for m in DAY_MEASURES)),
    key=("lvl", "anc", "grp", "day"),
    measures=DAY_MEASURES,
    signed=("star1", "star2", "star3", "star4", "star5"),  # a day's changes of star level
)

# Distinct counts (active volunteers 'a', beneficiaries 'b') over any date range, as sums:
# each (subject, day) with an occurrence in a scope remembers the subject's previous such day
# in that scope, so "distinct subjects with a day in [from, to]" is the number of such days in
# [from, to] whose previous day is before `from` (or none: 0).
# Scopes: 'a' '' (any service), 'o:<org>', 'c:<category>' with the volunteer's region;
# 'b' '<lvl>|<anc>|<grp>' (a beneficiary is counted once per region prefix and organisation).
ST_PAIR = Table(
    "st_pair",
    _cols("measure:text", "subject:text", "scope:text", "day:int", "n:int", "prev_day:int", "region:text"),
    key=("measure", "subject", "scope", "day"),
    indexes=(("measure", "scope", "region", "day"),),
)
# The pairs of the whole-ledger scopes, counted per (region key, day, previous day): what
# summaries and region and month breakdowns sum. 'a' at levels 0..3 (and the exact code of
# volunteers registered above county level), 'b' at every level and the exact code.
ST_COUNT = Table(
    "st_count",
    _cols("measure:text", "lvl:int", "anc:text", "day:int", "prev_day:int", "n:int"),
    key=("measure", "lvl", "anc", "day", "prev_day"),
    measures=("n",),
)

STATS_TABLES = (ST_VOLUNTEER, ST_ORG, ST_POINT, ST_FACT, ST_DAY, ST_PAIR, ST_COUNT)

ALL_TABLES = BALANCE_TABLES + STATS_TABLES
