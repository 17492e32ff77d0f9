"""The statistics' tables and the keys their rows are filed under.

Days are yyyymmdd integers (China Standard Time, `ledger.vocabulary.local_day`); ids are
canonical UUID strings. The columns keep the short names an existing database has (`lvl`,
`anc`, `grp`, `measure` codes of one character: st_pair holds millions of rows); the code calls
them by the names below.
"""

from __future__ import annotations

from ledger.vocabulary import STAR_LEVELS
from projections.engine.tables import Table, columns

# Groups (`grp`): a figure is added under all ('') and under its organisation, category or
# exchange point, each a prefix and an id or name.
ALL = ""
ORGANIZATION_GROUP = "o:"
CATEGORY_GROUP = "c:"
EXCHANGE_POINT_GROUP = "p:"


def organization_group(organization: str) -> str:
    return ORGANIZATION_GROUP + organization


def category_group(category: str) -> str:
    return CATEGORY_GROUP + category


def exchange_point_group(point: str) -> str:
    return EXCHANGE_POINT_GROUP + point


# Distinct counts (`measure` of st_pair and st_count).
ACTIVE_VOLUNTEERS = "a"  # volunteers with service (a service record or a time-bank deposit) on a day
BENEFICIARIES = "b"  # distinct beneficiary_id of time-bank deposits and withdrawals

# A beneficiary is counted once per region key and group: the scope `<level>|<ancestor>|<group>`.
SCOPE_SEPARATOR = "|"


def beneficiary_scope(level: int, ancestor: str, group: str) -> str:
    return SCOPE_SEPARATOR.join((str(level), ancestor, group))


def parse_beneficiary_scope(scope: str) -> tuple[int, str, str]:
    """(level, ancestor, group) of a beneficiary scope."""
    level, ancestor, group = scope.split(SCOPE_SEPARATOR, 2)
    return int(level), ancestor, group


# Dimensions ---------------------------------------------------------------------------------

ST_VOLUNTEER = Table(
    "st_volunteer",
    columns("volunteer_id:text", "region:text", "org:text", "registered_day:int", "earned:int", "star:int"),
    key=("volunteer_id",),
)
ST_ORG = Table("st_org", columns("org:text", "name:text", "region:text"), key=("org",))
ST_POINT = Table("st_point", columns("point:text", "name:text", "region:text"), key=("point",))

# One row per unreversed transaction that counts in a figure: what a reversal takes back.
# `kind` is its transaction type; `day` the day it counts on, `recorded_day` the day it was recorded.
ST_FACT = Table(
    "st_fact",
    columns(
        "transaction_id:text", "kind:text", "volunteer_id:text", "pos:int", "day:int",
        "recorded_day:int", "minutes:int", "org:text", "category:text", "point:text",
        "items:int", "beneficiary:text",
    ),
    key=("transaction_id",),
    indexes=(("volunteer_id", "kind"),),
)

# Figures --------------------------------------------------------------------------------------

STAR_MEASURES = tuple(f"star{level}" for level in STAR_LEVELS)
DAY_MEASURES = (
    "volunteers", "timebank_accounts", "service_records", "service_minutes", "redemptions",
    "redeemed_minutes", "items", "deposited_minutes", "withdrawn_minutes", *STAR_MEASURES,
)
# Counted as of the end of a period (registered, opened, reached on or before it), not within it.
CUMULATIVE_MEASURES = ("volunteers", "timebank_accounts", *STAR_MEASURES)

# Daily additive figures. `lvl`/`anc` (level, ancestor): where a figure is added (`dimensions.
# region_keys`): 0/'' the whole ledger, 1..3 the enclosing province, city and county, 10+level
# the exact region code. `grp` (group): ALL or a group above.
ST_DAY = Table(
    "st_day",
    columns("lvl:int", "anc:text", "grp:text", "day:int", *(f"{m}:int" for m in DAY_MEASURES)),
    key=("lvl", "anc", "grp", "day"),
    measures=DAY_MEASURES,
    signed=STAR_MEASURES,  # a day's changes of star level
)

# Distinct counts over any date range, as sums: each (subject, day) with an occurrence in a
# scope remembers the subject's previous such day in that scope (`prev_day`), so "distinct
# subjects with a day in [from, to]" is the number of such days in [from, to] whose previous
# day is before `from` (or none: NO_DAY).
# Scopes: ACTIVE_VOLUNTEERS by ALL (any service), an organisation or a category group, with the
# volunteer's region; BENEFICIARIES by `beneficiary_scope`.
ST_PAIR = Table(
    "st_pair",
    columns("measure:text", "subject:text", "scope:text", "day:int", "n:int", "prev_day:int", "region:text"),
    key=("measure", "subject", "scope", "day"),
    indexes=(("measure", "scope", "region", "day"),),
)
# The pairs of the whole-ledger scopes, counted per (region key, day, previous day): what
# summaries and region and month breakdowns sum. ACTIVE_VOLUNTEERS at levels 0..3 (and the
# exact code of volunteers registered above county level), BENEFICIARIES at every level and the
# exact code.
ST_COUNT = Table(
    "st_count",
    columns("measure:text", "lvl:int", "anc:text", "day:int", "prev_day:int", "n:int"),
    key=("measure", "lvl", "anc", "day", "prev_day"),
    measures=("n",),
)

TABLES = (ST_VOLUNTEER, ST_ORG, ST_POINT, ST_FACT, ST_DAY, ST_PAIR, ST_COUNT)
