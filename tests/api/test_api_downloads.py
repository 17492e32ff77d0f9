"""Statements and statistics download as CSV (UTF-8 with BOM, for Excel) and XLSX, through
`?format=csv|xlsx` or `Accept: text/csv`: read back (csv, openpyxl), a file holds the same
figures as the JSON, Chinese names intact; the same filters, scopes and errors as the JSON
(errors stay problem+json). Both stores."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import openpyxl
import pytest

from api.downloads import flatten
from tests.support.api_client import (
    Api,
    assert_created,
    assert_problem,
    deposit,
    exchange_point,
    item,
    organization,
    redemption,
    service_record,
    volunteer,
    withdrawal,
)
from tests.support.api_stores import STORES, api_on

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHINA = timezone(timedelta(hours=8))


class Story:
    """Volunteers with Chinese names in Xuyi (320830) and Jintan (320412), with service,
    time-bank entries and a redemption."""

    def __init__(self, api: Api) -> None:
        admin = api.admin
        self.api = api
        self.org = assert_created(admin.post("/v1/organizations", organization(name="盱眙县文明办")))["id"]
        self.cz_org = assert_created(admin.post("/v1/organizations", organization("320412", name="=HYPERLINK(\"x\")")))["id"]
        self.wang = assert_created(admin.post("/v1/volunteers", volunteer(name="王芳", organization_id=self.org)))["id"]
        self.zhou = assert_created(admin.post("/v1/volunteers", volunteer("320412", name="周晓明", organization_id=self.cz_org)))["id"]
        for person in (self.wang, self.zhou):
            assert_created(admin.post(f"/v1/volunteers/{person}/timebank"))
        self.point = assert_created(admin.post("/v1/exchange-points", exchange_point(name="淮安市嘉许礼遇兑换点")))["id"]
        assert admin.put(f"/v1/exchange-points/{self.point}/items/rice", item(60, 5, name="大米")).status_code == 200
        start = datetime(2025, 3, 1, 9, 0, tzinfo=CHINA)
        for day in range(4):
            body = service_record(self.wang, self.org, 120, started_at=start + timedelta(days=day))
            assert_created(admin.post("/v1/transactions", body))
        assert_created(admin.post("/v1/transactions", service_record(self.zhou, self.cz_org, 90, started_at=start)))
        assert_created(admin.post("/v1/transactions", redemption(self.point, self.wang, ("rice", 2))))
        for minutes in (300, 45):
            assert_created(admin.post("/v1/transactions", deposit(self.wang, self.org, minutes)))
        assert_created(admin.post("/v1/transactions", withdrawal(self.wang, 100)))


@pytest.fixture(scope="module", params=STORES)
def story(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    with api_on(request.param, tmp_path_factory.mktemp("downloads")) as api:
        yield Story(api)


def read_csv(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment; filename=")
    assert response.headers["content-disposition"].endswith('.csv"')
    assert response.content.startswith(b"\xef\xbb\xbf"), "no BOM: Excel would misread the Chinese"
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))


def read_xlsx(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    assert response.headers["content-disposition"].endswith('.xlsx"')
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(rows[0], row)) for row in rows[1:]]


def as_json(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A JSON answer's rows flattened as the files are (`stars.1`)."""
    return [flatten(row) for row in rows]


def same_cells(found: dict[str, Any], expected: dict[str, Any], *, skip: tuple[str, ...] = ()) -> None:
    for name, value in expected.items():
        if name in skip:
            continue
        cell = found[name]
        if isinstance(value, int):
            assert int(cell) == value, (name, cell, value)
        else:
            assert str(cell).lstrip("'") == str(value), (name, cell, value)


STATS = [
    ("/v1/stats/summary", {}),
    ("/v1/stats/summary", {"region": "320830", "from": "2025-03-02", "to": "2025-03-31"}),
    ("/v1/stats/breakdown", {"by": "region", "level": "county"}),
    ("/v1/stats/breakdown", {"by": "organization"}),
    ("/v1/stats/breakdown", {"by": "exchange_point"}),
    ("/v1/stats/breakdown", {"by": "category", "region": "3208"}),
    ("/v1/stats/breakdown", {"by": "month", "from": "2025-02-01", "to": "2025-04-30"}),
]


def json_rows(answer: dict[str, Any]) -> list[dict[str, Any]]:
    return as_json(answer["groups"] if "groups" in answer else [answer])


@pytest.mark.parametrize("path, params", STATS, ids=[f"{p.rsplit('/', 1)[1]}-{'-'.join(q.values()) or 'all'}" for p, q in STATS])
def test_statistics_download_with_the_figures_of_the_json(story: Story, path: str, params: dict[str, str]) -> None:
    admin = story.api.admin
    expected = json_rows(admin.get(path, params=params).json())
    assert expected and any(v for row in expected for v in row.values() if isinstance(v, int))
    by_csv = read_csv(admin.get(path, params={**params, "format": "csv"}))
    by_accept = read_csv(admin.get(path, params=params, headers={"Accept": "text/csv"}))
    by_xlsx = read_xlsx(admin.get(path, params={**params, "format": "xlsx"}))
    for rows in (by_csv, by_accept, by_xlsx):
        assert len(rows) == len(expected)
        for found, wanted in zip(rows, expected):
            same_cells(found, wanted)


def test_chinese_names_survive_both_files(story: Story) -> None:
    admin = story.api.admin
    names = {row["name"] for row in read_csv(admin.get("/v1/stats/breakdown", params={"by": "region", "level": "county", "format": "csv"}))}
    assert names == {"盱眙县", "武进区"}, names
    organizations = read_xlsx(admin.get("/v1/stats/breakdown", params={"by": "organization", "format": "xlsx"}))
    assert "盱眙县文明办" in {row["name"] for row in organizations}
    points = read_csv(admin.get("/v1/stats/breakdown", params={"by": "exchange_point", "format": "csv"}))
    assert [(row["name"], row["items"], row["redeemed_minutes"]) for row in points] == [("淮安市嘉许礼遇兑换点", "2", "120")]


def test_a_name_excel_would_run_as_a_formula_stays_text(story: Story) -> None:
    admin = story.api.admin
    params = {"by": "organization"}
    raw = read_csv(admin.get("/v1/stats/breakdown", params={**params, "format": "csv"}))
    assert "'=HYPERLINK(\"x\")" in {row["name"] for row in raw}
    response = admin.get("/v1/stats/breakdown", params={**params, "format": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    cells = [row[1] for row in sheet.iter_rows(min_row=2)]
    formula = next(cell for cell in cells if str(cell.value).startswith("="))
    assert formula.data_type == "s"


def test_a_chinese_reader_gets_chinese_headers_and_the_same_rows(story: Story) -> None:
    admin = story.api.admin
    params = {"by": "region", "level": "county", "format": "csv"}
    english = admin.get("/v1/stats/breakdown", params=params).content.decode("utf-8-sig").splitlines()
    chinese = admin.get("/v1/stats/breakdown", params=params, headers={"Accept-Language": "zh-CN"}).content.decode("utf-8-sig").splitlines()
    assert english[0].startswith("key,name,volunteers,")
    assert chinese[0].startswith("编码,名称,志愿者人数,") and "1 星志愿者人数" in chinese[0]
    assert english[1:] == chinese[1:]


@pytest.mark.parametrize("book", ["service", "timebank"])
def test_a_statement_downloads_every_entry_of_its_range(story: Story, book: str) -> None:
    admin = story.api.admin
    path = f"/v1/volunteers/{story.wang}/statement"
    answer = admin.get(path, params={"book": book, "limit": 1000}).json()
    entries = answer["entries"]
    assert len(entries) >= 3
    for rows in (
        read_csv(admin.get(path, params={"book": book, "format": "csv"})),
        read_xlsx(admin.get(path, params={"book": book, "format": "xlsx"})),
    ):
        assert len(rows) == len(entries)
        for found, wanted in zip(rows, entries):
            same_cells(found, wanted, skip=("recorded_at",))
            at = found["recorded_at"]
            moment = at if isinstance(at, datetime) else datetime.fromisoformat(at)
            local = datetime.fromisoformat(wanted["recorded_at"]).astimezone(CHINA)
            if isinstance(at, datetime):  # an Excel cell: local time without a zone (to the second)
                assert moment.replace(microsecond=0) == local.replace(tzinfo=None, microsecond=0)
            else:
                assert at.endswith("+08:00") and moment == local
        # The opening and closing balances follow from the rows.
        assert int(rows[0]["balance_after_minutes"]) - int(rows[0]["minutes"]) == answer["opening_minutes"]
        assert int(rows[-1]["balance_after_minutes"]) == answer["closing_minutes"]
    # With a limit, one page; with from/to, the range.
    assert len(read_csv(admin.get(path, params={"book": book, "format": "csv", "limit": 2}))) == 2
    ranged = admin.get(path, params={"book": book, "from": "2099-01-01", "format": "csv"})
    assert read_csv(ranged) == []


def test_downloads_keep_the_scopes_and_errors_of_the_json(story: Story) -> None:
    api = story.api
    changzhou = api.key("operator", region_code="3204")
    refused = changzhou.get(f"/v1/volunteers/{story.wang}/statement", params={"format": "csv"})
    assert_problem(refused, 403, "forbidden")
    assert_problem(changzhou.get("/v1/stats/summary", params={"region": "3208", "format": "xlsx"}), 403, "forbidden")
    own = read_csv(changzhou.get("/v1/stats/summary", params={"format": "csv"}))
    assert own[0]["service_minutes"] == "90"  # its own region only
    point = api.key("exchange_point", exchange_point_id=story.point)
    assert_problem(point.get("/v1/stats/summary", headers={"Accept": "text/csv"}), 403, "forbidden")
    assert_problem(api.anonymous.get("/v1/stats/summary", params={"format": "csv"}), 401, "unauthorized")
    assert_problem(api.admin.get("/v1/stats/breakdown", params={"by": "nothing", "format": "csv"}), 422, "validation_error", "by")
    assert_problem(api.admin.get("/v1/stats/summary", params={"format": "pdf"}), 422, "validation_error", "format")
    assert_problem(api.admin.get("/v1/stats/summary", params={"from": "2025-03-02", "to": "2025-03-01", "format": "csv"}), 422, "validation_error")
    # format=json wins over Accept: text/csv.
    assert api.admin.get("/v1/stats/summary", params={"format": "json"}, headers={"Accept": "text/csv"}).json()["volunteers"] >= 2
