"""The contract layer (connectors/testing/contract.py) on a small made-up API, over real HTTP."""

from __future__ import annotations

import json

import pytest
import requests

from connectors.testing.contract import (
    ContractObserver,
    Endpoint,
    Exchange,
    Field,
    Obj,
    PublishedApi,
    array,
    check_exchange,
    check_object,
    obj,
    observe,
)
from connectors.testing.simulator import SimulatorApp, SimulatorServer, json_response, route

CHARGE = Obj(
    {
        "id": Field(required=True),
        "status": Field(enum=("APPROVED", "DECLINED")),
        "created": Field("integer", unit="epoch_seconds"),
        "amount": obj({"value": Field(required=True, unit="decimal_string"), "currency": Field(pattern=r"[A-Z]{3}")}),
        "lines": array(obj({"sku": Field(required=True)})),
        "extra": obj({}, open=True),
    }
)
REQUEST = Obj(
    one_of=(
        "type",
        {
            "card_sale": Obj({"total": Field("number", required=True, unit="major_number"), "card": Field()}),
            "token_sale": Obj({"total": Field("number", required=True, unit="major_number"), "token": Field()}),
        },
    )
)
API = PublishedApi(
    name="Bank Y API",
    version="v2",
    source="made up for this test",
    endpoints=(
        Endpoint(
            "POST",
            "/charges",
            REQUEST,
            {200: CHARGE},
            headers={"Timestamp": Field("integer", required=True, unit="epoch_ms")},
            query={"store": Field()},
        ),
        Endpoint("GET", "/charges/{charge-id}", None, {200: CHARGE}),
    ),
)


def problems(value: dict, shape: Obj = CHARGE) -> list[str]:
    return check_object(value, shape)


def test_a_faithful_object_has_no_problems():
    assert problems({"id": "c1", "status": "APPROVED", "created": 1_764_460_800, "lines": [{"sku": "a"}]}) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"status": "APPROVED"}, "id: required, missing"),
        ({"id": "c1", "holder": "x"}, "holder: not a field of the published description"),
        ({"id": "c1", "status": "RETURNED"}, "status: 'RETURNED' is not one of ['APPROVED', 'DECLINED']"),
        ({"id": 7}, "id: must be string, got int 7"),
        (
            {"id": "c1", "created": 1_764_460_800_000},
            "created: must be epoch seconds, got 1764460800000 (milliseconds)",
        ),
        ({"id": "c1", "amount": {"value": 10.5}}, "amount.value: must be string"),
        ({"id": "c1", "amount": {"value": "10,50"}}, "amount.value: must be a major-unit amount written as text"),
        ({"id": "c1", "amount": {"value": "1", "currency": "eur"}}, "amount.currency: 'eur' does not match [A-Z]{3}"),
        ({"id": "c1", "lines": [{"sku": "a"}, {}]}, "lines[1].sku: required, missing"),
        ({"id": "c1", "created": True}, "created: must be integer, got bool True"),
    ],
)
def test_each_kind_of_drift_is_named_with_its_path(value, expected):
    found = problems(value)
    assert any(expected in problem for problem in found), found


def test_an_open_object_takes_any_field_and_a_closed_one_none():
    assert problems({"id": "c1", "extra": {"anything": [1, {"x": 2}]}}) == []
    assert problems({"id": "c1", "amount": {"value": "1", "note": "x"}}) == [
        "amount.note: not a field of the published description"
    ]


def test_a_request_type_admits_only_its_own_fields():
    assert check_object({"type": "card_sale", "total": 12, "card": "x"}, REQUEST) == []
    assert check_object({"type": "card_sale", "total": 12, "token": "t"}, REQUEST) == [
        "token: not a field of the published description"
    ]
    assert check_object({"type": "refund", "total": 1}, REQUEST) == [
        "type: 'refund' is not one of ['card_sale', 'token_sale']"
    ]
    assert check_object({"type": "card_sale", "total": "12.00"}, REQUEST)[0].startswith("total: must be number")


def test_a_card_number_never_appears_in_a_violation():
    found = problems({"id": "c1", "status": "4111111111111111"})
    assert found and "4111111111111111" not in found[0]


def exchange(**overrides) -> Exchange:
    fields = {
        "method": "POST",
        "path": "/charges",
        "query": {},
        "headers": {"timestamp": "1764460800000"},
        "request_body": b'{"type":"card_sale","total":12.04}',
        "status": 200,
        "response_body": b'{"id":"c1"}',
    }
    return Exchange(**{**fields, **overrides})


def test_exchanges_are_checked_on_both_sides_with_headers_query_and_status():
    assert check_exchange(API, exchange()) == []
    assert check_exchange(API, exchange(headers={"timestamp": "1764460800"})) == [
        "POST /charges request header Timestamp: must be epoch milliseconds, got 1764460800 (seconds)"
    ]
    assert check_exchange(API, exchange(headers={})) == ["POST /charges request header Timestamp: required, missing"]
    assert check_exchange(API, exchange(query={"shop": "1"})) == [
        "POST /charges request query shop: not a parameter of the published description"
    ]
    assert check_exchange(API, exchange(status=201)) == [
        "POST /charges answer 201 status 201 is not a published answer of this operation"
    ]
    assert check_exchange(API, exchange(response_body=b"<html>")) == ["POST /charges answer 200 body: not JSON"]
    assert check_exchange(API, exchange(method="GET", path="/charges/c1", request_body=b"{}")) == [
        "GET /charges/c1 request body: this operation takes no body"
    ]
    assert check_exchange(API, exchange(path="/refunds")) == ["POST /refunds: not an operation of Bank Y API v2"]
    assert check_exchange(API, exchange(path="/__control__/x")) == []


class BankY(SimulatorApp):
    """A simulator that drifts on purpose: its answer has a field Bank Y does not publish."""

    @route("POST", "/charges")
    def charge(self, request):
        return json_response({"id": "c1", "storeId": "s1"})


def test_the_observer_checks_real_http_exchanges_and_skips_forced_faults():
    app = BankY()
    contract = observe(app, API)
    with SimulatorServer(app) as base_url:
        body = json.dumps({"type": "card_sale", "total": 12.04})
        headers = {"Timestamp": "1764460800000", "Content-Type": "application/json"}
        requests.post(f"{base_url}/charges", data=body, headers=headers, timeout=5)
        app.faults.arm(status=500)
        requests.post(f"{base_url}/charges", data=body, headers=headers, timeout=5)
    assert contract.checked == 1
    assert contract.violations == ["POST /charges answer 200 storeId: not a field of the published description"]
    with pytest.raises(AssertionError, match="1 deviation\\(s\\) from Bank Y API v2"):
        contract.assert_followed()


def test_an_observer_can_hold_only_the_answers():
    observer = ContractObserver(API, requests=False)
    observer.observe(exchange(headers={}, response_body=b'{"id":"c1"}'))
    assert observer.violations == [] and observer.checked == 1


def test_unknown_types_and_units_are_refused_when_the_description_is_written():
    with pytest.raises(ValueError, match="unknown field type"):
        Field("float")
    with pytest.raises(ValueError, match="unknown unit"):
        Field("integer", unit="seconds")
