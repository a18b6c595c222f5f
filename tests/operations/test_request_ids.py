"""One id per request: answered in Request-Id, on every log record of the request, and on every
connector call it made."""

import json
import logging

import pytest
from django.test import Client

from connectors.models import ConnectorCall
from observability.request_ids import RequestIdLogFilter, request_id_scope
from tests.helpers import payment_body


def test_every_answer_carries_a_fresh_request_id(db):
    first = Client().get("/v1/payments")
    second = Client().get("/v1/payments")
    assert first["Request-Id"].startswith("req_") and second["Request-Id"].startswith("req_")
    assert first["Request-Id"] != second["Request-Id"]


@pytest.mark.parametrize("incoming, kept", [
    ("lb-7f3a9c2e-0001", True),
    ("short", False),  # under 8 characters
    ("x" * 65, False),
    ("abc def\r\nX-Evil: 1", False),
    ("id;drop table", False),
])
def test_a_callers_request_id_is_kept_only_when_it_is_a_sane_token(db, incoming, kept):
    response = Client().get("/healthz/", HTTP_X_REQUEST_ID=incoming)
    response = Client().get("/v1/payments", HTTP_X_REQUEST_ID=incoming)
    assert (response["Request-Id"] == incoming) is kept
    assert "\n" not in response["Request-Id"]


def test_the_connector_call_log_and_the_log_lines_carry_the_requests_id(api, sandbox_account, caplog):
    with caplog.at_level(logging.INFO):
        response = api.post("/v1/payments", payment_body(), format="json", HTTP_REQUEST_ID="merchant-req-00042")
    assert response.status_code == 201, response.content
    assert response["Request-Id"] == "merchant-req-00042"
    call = ConnectorCall.objects.get(payment__public_id=response.json()["id"])
    assert call.request_id == "merchant-req-00042"
    request_lines = [r for r in caplog.records if r.name == "pagoflex.requests"]
    assert request_lines and request_lines[-1].request_id == "merchant-req-00042"
    assert request_lines[-1].route == "v1/payments" and request_lines[-1].status == 201
    connector_lines = [r for r in caplog.records if r.name == "pagoflex.connectors.http"]
    assert connector_lines and all(RequestIdLogFilter().filter(r) and r.request_id == "merchant-req-00042"
                                   for r in connector_lines)


def test_the_json_log_format_gives_one_object_a_line_with_the_request_id():
    from django.utils.module_loading import import_string

    from pagoflex import settings as project_settings

    # Built as logging's dictConfig builds it: the factory named by "()" with the other keys.
    spec = dict(project_settings.LOGGING["formatters"]["json"])
    formatter = import_string(spec.pop("()"))(**spec)
    record = logging.LogRecord("pagoflex.test", logging.WARNING, __file__, 1, "card %s declined", ("4242",), None)
    with request_id_scope("req_test_0001"):
        RequestIdLogFilter().filter(record)
    line = json.loads(formatter.format(record))
    assert line["request_id"] == "req_test_0001"
    assert line["level"] == "WARNING" and line["logger"] == "pagoflex.test"
    assert line["message"] == "card 4242 declined"
