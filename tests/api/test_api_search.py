"""Search (SPEC §7) over HTTP, on both stores: volunteers by part of their name — Chinese
names, mixed scripts, full-width letters, accents and emoji — alone or with the other filters
and page by page; organisations and exchange points by name; volunteers by national ID number
through its salted hash, the number itself stored nowhere."""

from __future__ import annotations

from typing import Any

import sqlite3

import psycopg
import pytest
from psycopg import sql

from tests.conftest import POSTGRES_URL
from tests.support.api_client import (
    CHANGZHOU,
    HUAIAN,
    JINTAN,
    XUYI,
    Api,
    assert_created,
    assert_problem,
    exchange_point,
    organization,
    shared_api,  # noqa: F401 - fixture
    volunteer,
)

NAMES = [
    "王秀英", "李秀兰", "王小明", "欧阳秀英", "张伟",
    "Wang 秀英", "Ｌｉ Ｍｉｎｇ", "小明🌟", "José García", "MARIA wang", "👨‍👩‍👧 一家人", "秀",
]
ID_NUMBER = "32083019500101123X"


@pytest.fixture(scope="module")
def people(shared_api: Api) -> dict[str, str]:
    """The names above, registered in Xuyi, except 张伟 and 欧阳秀英 in Jintan (Changzhou)."""
    api = shared_api
    org = assert_created(api.admin.post("/v1/organizations", organization(name="盱眙县志愿服务队")))["id"]
    found = {}
    for name in NAMES:
        region = JINTAN if name in ("张伟", "欧阳秀英") else XUYI
        body = volunteer(region, name=name, **({"organization_id": org} if region == XUYI else {}))
        if name == "王秀英":
            body["id_number"] = ID_NUMBER
        found[name] = assert_created(api.admin.post("/v1/volunteers", body))["id"]
    found["org"] = org
    return found


def search(api: Api, q: str, key: Any = None, **params: Any) -> list[str]:
    """The names a search finds, walking every page."""
    names, cursor = [], None
    while True:
        response = (key or api.admin).get("/v1/volunteers", params={"q": q, "limit": 2, **params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        page = response.json()
        names.extend(item["name"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return names


@pytest.mark.parametrize(
    "q, found",
    [
        ("秀英", ["王秀英", "欧阳秀英", "Wang 秀英"]),  # two characters, anywhere in the name
        ("王", ["王秀英", "王小明"]),  # one character
        ("王秀英", ["王秀英"]),
        ("欧阳", ["欧阳秀英"]),  # a compound surname
        ("英王", []),  # the characters, not in that order
        ("秀", ["王秀英", "李秀兰", "欧阳秀英", "Wang 秀英", "秀"]),
        ("张伟", ["张伟"]),
        ("wang", ["Wang 秀英", "MARIA wang"]),  # Latin letters, any case
        ("WANG 秀", ["Wang 秀英"]),  # mixed scripts in the query too
        ("li ming", ["Ｌｉ Ｍｉｎｇ"]),  # full-width letters are their plain selves
        ("ｍｉｎｇ", ["Ｌｉ Ｍｉｎｇ"]),
        ("josé", ["José García"]),
        ("JOSE\u0301", ["José García"]),  # a decomposed accent is the same letter
        ("garc", ["José García"]),
        ("🌟", ["小明🌟"]),  # emoji
        ("明🌟", ["小明🌟"]),
        ("小明", ["王小明", "小明🌟"]),
        ("👨‍👩‍👧", ["👨‍👩‍👧 一家人"]),  # a family: several code points joined
        ("一家", ["👨‍👩‍👧 一家人"]),
        ("  秀英  ", ["王秀英", "欧阳秀英", "Wang 秀英"]),  # spaces around do not count
        ("nobody", []),
    ],
)
def test_a_name_search_finds_every_name_holding_the_query(shared_api: Api, people: dict[str, str], q: str, found: list[str]) -> None:
    assert search(shared_api, q) == found


def test_a_blank_query_is_no_query(shared_api: Api, people: dict[str, str]) -> None:
    every = search(shared_api, "")
    assert every == NAMES and search(shared_api, "   ") == NAMES


def test_a_search_with_the_other_filters(shared_api: Api, people: dict[str, str]) -> None:
    api = shared_api
    assert search(api, "秀英", region=XUYI) == ["王秀英", "Wang 秀英"]
    assert search(api, "秀英", region=CHANGZHOU) == ["欧阳秀英"]
    assert search(api, "秀", organization_id=people["org"]) == ["王秀英", "李秀兰", "Wang 秀英", "秀"]
    assert search(api, "秀英", id_number=ID_NUMBER) == ["王秀英"]
    # A region-scoped key searches its region only.
    huaian = api.key("operator", "淮安市民政局", region_code=HUAIAN)
    assert search(api, "秀英", key=huaian) == ["王秀英", "Wang 秀英"]
    changzhou = api.key("auditor", "常州市审计", region_code=CHANGZHOU)
    assert search(api, "秀英", key=changzhou) == ["欧阳秀英"]
    assert search(api, "王", key=changzhou) == []


def test_a_found_volunteer_is_their_profile(shared_api: Api, people: dict[str, str]) -> None:
    found = shared_api.admin.get("/v1/volunteers", params={"q": "王秀英"}).json()["items"]
    assert found == [shared_api.admin.get(f"/v1/volunteers/{people['王秀英']}").json()]
    assert found[0]["has_id_number"] is True


def test_organizations_and_exchange_points_by_name(shared_api: Api, people: dict[str, str]) -> None:
    api = shared_api
    point = assert_created(api.admin.post("/v1/exchange-points", exchange_point(name="盱眙县新时代文明实践站 Exchange Point")))["id"]

    def names(path: str, q: str) -> list[str]:
        return [item["name"] for item in api.admin.get(path, params={"q": q}).json()["items"]]

    assert names("/v1/organizations", "服务队") == ["盱眙县志愿服务队"]
    assert names("/v1/organizations", "盱眙") == ["盱眙县志愿服务队"]
    assert names("/v1/organizations", "淮安") == []
    assert names("/v1/exchange-points", "文明实践") == ["盱眙县新时代文明实践站 Exchange Point"]
    assert names("/v1/exchange-points", "exchange") == ["盱眙县新时代文明实践站 Exchange Point"]
    assert [p["id"] for p in api.admin.get("/v1/exchange-points", params={"q": "实践站", "region": XUYI}).json()["items"]] == [point]


# National ID numbers -------------------------------------------------------------------------


def test_a_volunteer_found_by_national_id_number(shared_api: Api, people: dict[str, str]) -> None:
    api = shared_api
    for typed in (ID_NUMBER, ID_NUMBER.lower(), f"  {ID_NUMBER} "):
        found = api.admin.get("/v1/volunteers", params={"id_number": typed}).json()["items"]
        assert [v["id"] for v in found] == [people["王秀英"]], typed
    assert api.admin.get("/v1/volunteers", params={"id_number": "320830195001011239"}).json()["items"] == []
    # At the counter, by ID card: the name and balances, not the birth year.
    counter_point = assert_created(api.admin.post("/v1/exchange-points", exchange_point()))["id"]
    counter = api.key("exchange_point", "盱眙兑换点柜台", exchange_point_id=counter_point)
    at_counter = counter.get("/v1/volunteers", params={"id_number": ID_NUMBER}).json()["items"]
    assert [(v["name"], v["birth_year"]) for v in at_counter] == [("王秀英", None)]
    assert "service" in at_counter[0]
    assert_problem(counter.get("/v1/volunteers", params={"q": "王"}), 403, "forbidden")
    assert_problem(api.admin.get("/v1/volunteers", params={"id_number": "123"}), 422, "validation_error", "id_number")


def test_the_id_number_is_stored_nowhere(shared_api: Api, people: dict[str, str]) -> None:
    """Not in the events, not in the lists' rows, not in any table of the store."""
    ledger = shared_api.ledger
    shared_api.admin.get("/v1/volunteers")  # the lists have caught up
    for needle in (ID_NUMBER, ID_NUMBER.lower(), "195001011"):
        assert not _stored_anywhere(ledger, needle), needle
    assert _stored_anywhere(ledger, "王秀英")  # the search does look where names are


def _stored_anywhere(ledger: Any, needle: str) -> bool:
    datastore = ledger.recorder.datastore
    if hasattr(datastore, "schema"):
        with psycopg.connect(POSTGRES_URL) as conn:
            tables = [row[0] for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [datastore.schema])]
            for table in tables:
                text = conn.execute(
                    sql.SQL("SELECT string_agg(t::text, '') FROM {}.{} t").format(
                        sql.Identifier(datastore.schema), sql.Identifier(table))
                ).fetchone()[0] or ""
                if needle in text:
                    return True
                # Events are stored as bytes: look inside them too.
                raw = conn.execute(
                    sql.SQL("SELECT string_agg(convert_from(state, 'UTF8'), '') FROM {}.{}").format(
                        sql.Identifier(datastore.schema), sql.Identifier(table))
                ).fetchone()[0] if "events" in table or "snapshots" in table else ""
                if needle in (raw or ""):
                    return True
        return False
    with sqlite3.connect(ledger.env["SQLITE_DBNAME"]) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                    if needle in text:
                        return True
    return False
