"""Things over HTTP: health, organisations, volunteers, time-bank opening, exchange points and
their items, API keys; client-chosen ids answered idempotently. Runs on both stores."""

from __future__ import annotations

from uuid import UUID

from tests.support.api_client import (
    CHANGZHOU,
    XUYI,
    Api,
    World,
    api,  # noqa: F401 - fixture
    assert_created,
    assert_problem,
    deposit,
    exchange_point,
    item,
    new_id,
    nothing_recorded,
    organization,
    volunteer,
    world,  # noqa: F401 - fixture
)


def test_health_needs_no_key(api: Api) -> None:
    response = api.anonymous.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_an_organisation_is_registered_and_read_back(api: Api) -> None:
    created = assert_created(api.admin.post("/v1/organizations", organization(name="Xuyi civilisation office")))
    assert UUID(created["id"])
    assert (created["name"], created["region_code"]) == ("Xuyi civilisation office", XUYI)

    found = api.admin.get(f"/v1/organizations/{created['id']}")
    assert found.status_code == 200
    assert found.json() == created


def test_a_volunteer_is_registered_with_an_open_service_book(api: Api) -> None:
    org = assert_created(api.admin.post("/v1/organizations", organization()))["id"]
    created = assert_created(
        api.admin.post(
            "/v1/volunteers",
            volunteer(name="Li Na", organization_id=org, birth_year=1956, id_number="320830195601011234"),
        )
    )
    assert created["name"] == "Li Na"
    assert created["organization_id"] == org
    assert created["birth_year"] == 1956
    assert created["has_id_number"] is True
    assert "320830195601011234" not in str(created)  # the number itself is never shown
    assert created["service"] == {"earned_minutes": 0, "redeemed_minutes": 0, "available_minutes": 0, "star_level": 0}
    assert created["timebank"] == {"open": False, "balance_minutes": 0}

    found = api.admin.get(f"/v1/volunteers/{created['id']}")
    assert found.status_code == 200
    assert found.json() == created


def test_a_timebank_account_opens_once(api: Api) -> None:
    person = assert_created(api.admin.post("/v1/volunteers", volunteer()))["id"]

    opened = assert_created(api.admin.post(f"/v1/volunteers/{person}/timebank"))
    assert opened["volunteer_id"] == person
    assert (opened["open"], opened["balance_minutes"]) == (True, 0)
    assert opened["position"] == api.ledger.head_position()

    with nothing_recorded(api, person):
        # SPEC: 409 if open. The stable code the API chose for it: timebank_already_open.
        assert_problem(api.admin.post(f"/v1/volunteers/{person}/timebank"), 409, "timebank_already_open")
    assert api.balance(person)["timebank"] == {"open": True, "balance_minutes": 0}


def test_an_exchange_point_takes_items_and_shows_their_stock(api: Api) -> None:
    point = assert_created(api.admin.post("/v1/exchange-points", exchange_point(name="Xuyi point")))
    assert point["items"] == []

    put = api.admin.put(f"/v1/exchange-points/{point['id']}/items/tea", item(60, 10, name="Green tea"))
    assert put.status_code == 200
    assert put.json()["items"] == [{"sku": "tea", "name": "Green tea", "price_minutes": 60, "stock": 10, "min_star": 0}]

    # PUT sets the item as given: repeating it records nothing; changing it replaces it.
    with nothing_recorded(api):
        assert api.admin.put(f"/v1/exchange-points/{point['id']}/items/tea", item(60, 10, name="Green tea")).status_code == 200
    api.admin.put(f"/v1/exchange-points/{point['id']}/items/tea", item(45, 3, min_star=2, name="Green tea"))
    api.admin.put(f"/v1/exchange-points/{point['id']}/items/a.b-c_1", item(5, 1))

    found = api.admin.get(f"/v1/exchange-points/{point['id']}").json()
    assert (found["name"], found["region_code"]) == ("Xuyi point", XUYI)
    assert [(i["sku"], i["price_minutes"], i["stock"], i["min_star"]) for i in found["items"]] == [
        ("a.b-c_1", 5, 1, 0),
        ("tea", 45, 3, 2),
    ]


def test_unknown_things_are_not_found(api: Api) -> None:
    unknown = new_id()
    with nothing_recorded(api):
        for path in (
            f"/v1/organizations/{unknown}",
            f"/v1/volunteers/{unknown}",
            f"/v1/volunteers/{unknown}/balance",
            f"/v1/exchange-points/{unknown}",
            f"/v1/transactions/{unknown}",
        ):
            assert_problem(api.admin.get(path), 404, "not_found")
        assert_problem(api.admin.post(f"/v1/volunteers/{unknown}/timebank"), 404, "not_found")
        assert_problem(api.admin.put(f"/v1/exchange-points/{unknown}/items/tea", item()), 404, "not_found")
        # A body naming an unknown thing is a 404 too (the API's choice; SPEC is silent).
        assert_problem(api.admin.post("/v1/volunteers", volunteer(organization_id=unknown)), 404, "not_found")
        assert_problem(
            api.admin.post("/v1/api-keys", {"role": "exchange_point", "name": "x", "exchange_point_id": unknown}),
            404, "not_found",
        )


def test_a_thing_with_a_client_chosen_id_is_created_once(api: Api) -> None:
    org_id, person_id, point_id = new_id(), new_id(), new_id()
    org = assert_created(api.admin.post("/v1/organizations", organization(id=org_id)))
    person = assert_created(api.admin.post("/v1/volunteers", volunteer(id=person_id, organization_id=org_id, birth_year=1990)))
    point = assert_created(api.admin.post("/v1/exchange-points", exchange_point(id=point_id)))
    assert (org["id"], person["id"], point["id"]) == (org_id, person_id, point_id)

    with nothing_recorded(api, person_id):
        # Same body: 200 with the existing thing.
        assert assert_created(api.admin.post("/v1/organizations", organization(id=org_id)), 200) == org
        again = assert_created(
            api.admin.post("/v1/volunteers", volunteer(id=person_id, organization_id=org_id, birth_year=1990)), 200
        )
        assert again == person
        assert assert_created(api.admin.post("/v1/exchange-points", exchange_point(id=point_id)), 200) == point

        # Different body, or an id taken by another kind of thing: 409.
        conflicts = [
            ("/v1/organizations", organization(id=org_id, name="another name")),
            ("/v1/organizations", organization(CHANGZHOU, id=org_id)),
            ("/v1/volunteers", volunteer(id=person_id, organization_id=org_id, birth_year=1991)),
            ("/v1/volunteers", volunteer(id=person_id)),
            ("/v1/exchange-points", exchange_point(id=point_id, name="renamed")),
            ("/v1/exchange-points", exchange_point(id=org_id)),
            ("/v1/organizations", organization(id=person_id)),
        ]
        for path, body in conflicts:
            assert_problem(api.admin.post(path, body), 409, "transaction_id_conflict")


def test_an_exchange_point_key_is_bound_to_a_known_point(api: Api) -> None:
    point = assert_created(api.admin.post("/v1/exchange-points", exchange_point()))["id"]
    issued = assert_created(
        api.admin.post("/v1/api-keys", {"role": "exchange_point", "name": "counter 1", "exchange_point_id": point})
    )
    assert issued["secret"].startswith("hl_")
    assert (issued["role"], issued["name"], issued["exchange_point_id"], issued["revoked"]) == (
        "exchange_point", "counter 1", point, False,
    )

    with nothing_recorded(api):
        for body, field in (
            ({"role": "exchange_point", "name": "counter"}, "exchange_point_id"),
            ({"role": "operator", "name": "op", "exchange_point_id": point}, "exchange_point_id"),
            ({"role": "admin", "name": "root", "region_code": "3208"}, "region_code"),
            ({"role": "operator", "name": "op", "region_code": "32a0"}, "region_code"),
            ({"role": "operator", "name": "op", "region_code": "320"}, "region_code"),
            ({"role": "superuser", "name": "root"}, "role"),
            ({"role": "operator"}, "name"),
            ({"role": "operator", "name": ""}, "name"),
        ):
            assert_problem(api.admin.post("/v1/api-keys", body), 422, "validation_error", field)


def test_a_revoked_key_is_refused_at_once(api: Api, world: World) -> None:
    operator = api.key("operator", "Xuyi civil affairs")
    assert operator.get(f"/v1/volunteers/{world.alice}").status_code == 200

    response = api.admin.delete(f"/v1/api-keys/{operator.key_id}")
    assert response.status_code == 204
    assert response.content == b""

    assert_problem(operator.get(f"/v1/volunteers/{world.alice}"), 401, "unauthorized")
    with nothing_recorded(api, world.alice):
        assert_problem(operator.post("/v1/transactions", deposit(world.alice, world.org, 30)), 401, "unauthorized")
    # Revoking again changes nothing; an unknown key is not found.
    with nothing_recorded(api):
        assert api.admin.delete(f"/v1/api-keys/{operator.key_id}").status_code == 204
        assert_problem(api.admin.delete(f"/v1/api-keys/{new_id()}"), 404, "not_found")


def test_an_admin_can_revoke_its_own_key(api: Api) -> None:
    second = api.key("admin", "second admin")
    assert second.delete(f"/v1/api-keys/{second.key_id}").status_code == 204
    assert_problem(second.post("/v1/organizations", organization()), 401, "unauthorized")
    assert api.admin.post("/v1/organizations", organization()).status_code == 201


def test_a_region_outside_a_scoped_key_is_refused_with_a_plain_word(api: Api, world: World) -> None:
    huai_an = api.key("operator", region_code="3208")
    refused = huai_an.get("/v1/stats/summary", params={"region": "3204"})
    assert refused.status_code == 403
    assert refused.json()["detail"] == "region 3204 is outside this key's scope 3208"
    chinese = huai_an.get("/v1/stats/summary", params={"region": "3204"}, headers={"Accept-Language": "zh-CN"})
    assert chinese.json()["detail"] == "地区 3204 超出此密钥的范围 3208"
