"""Issue 16, items 7 and 10: no input answers 5xx, and every /v1/ answer is JSON in the one
error shape. Each example of the issue is kept, and a sweep covers the rest of its kind: every
URL pattern of the project with hostile path values (NUL characters first: PostgreSQL cannot
compare or store them), every list endpoint with hostile cursors, limits and filters, and every
field of every POST body in the schema with hostile values. Run on SQLite and on PostgreSQL."""

import json
from urllib.parse import quote

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from payments.models import PaymentOperation
from tests.helpers import assert_error, payment_body

NUL = "\x00"
DEEP = 100_000


def assert_error_shape(response, *, param=None):
    """A 4xx answer in the one error shape (naming ``param`` when given)."""
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    error = response.json()["error"]
    assert set(error) >= {"type", "code", "message"}, error
    if param is not None:
        assert error.get("param") == param, error
    return error


@pytest.fixture
def schema(api):
    response = api.get("/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return json.loads(response.content)


def list_endpoints() -> list[str]:
    return ["/v1/payments", "/v1/refunds", "/v1/payment_methods", "/v1/webhook_endpoints", "/v1/events"]


# -- the examples ----------------------------------------------------------------------


@pytest.mark.parametrize("path", list_endpoints())
@pytest.mark.parametrize("cursor", ["cD1ub3RhZGF0ZQ%3D%3D", "%25%25%25", "", "cD0yMDI2LTAxLTAx", "1e9", "-5",
                                    "999999999999999999999", "12o", "o", "r", "12r5", "%00", "12%0A"])
def test_a_cursor_that_is_not_ours_is_a_400_naming_cursor_on_every_list(api, sandbox_account, path, cursor):
    assert_error_shape(api.get(f"{path}?cursor={cursor}"), param="cursor")


@pytest.mark.parametrize("path", list_endpoints())
@pytest.mark.parametrize("limit", ["null", "abc", "-1", "0", "101", "1.5", "", "%00", "1e2", "99999999999999999999"])
def test_a_limit_out_of_range_is_a_400_naming_limit_on_every_list(api, path, limit):
    assert_error_shape(api.get(f"{path}?limit={limit}"), param="limit")


def test_pages_walk_every_object_once_even_when_they_share_a_creation_time(api, sandbox_account, merchant):
    moment = timezone.now()
    for amount in range(100, 107):
        api.post("/v1/payments", payment_body(amount, confirm=False), format="json")
    PaymentOperation.objects.filter(amount__lt=104).update(created_at=moment)  # four tie on one microsecond
    seen, cursor = [], None
    for _ in range(10):
        page = api.get("/v1/payments?limit=2" + (f"&cursor={cursor}" if cursor else "")).json()
        seen += [payment["amount"] for payment in page["data"]]
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert sorted(seen) == list(range(100, 107))


def test_a_body_nested_100_000_levels_deep_is_a_400(api):
    body = '{"metadata": ' + '{"a": ' * DEEP + "1" + "}" * DEEP + ', "amount": 100, "currency": "EUR"}'
    assert_error_shape(api.post("/v1/payments", body, content_type="application/json"))
    body = "[" * DEEP + "]" * DEEP
    assert_error_shape(api.post("/v1/payments", body, content_type="application/json"))


MULTIPART = b'--xx\r\nContent-Disposition: form-data; name="amount"\r\n\r\n100\r\n--xx--\r\n'


@pytest.mark.parametrize(("content_type", "body"), [
    ("multipart/form-data; boundary=xx", MULTIPART), ("multipart/form-data", MULTIPART),
    ("multipart/form-data; boundary=", b""), ("application/x-www-form-urlencoded", b"amount=100"),
    ("application/x-www-form-urlencoded", b"a=%00&b=1")],
    ids=["multipart", "multipart-without-boundary", "multipart-empty-boundary", "form", "form-with-nul"])
@pytest.mark.parametrize("path", ["/v1/payments", "/v1/payment_methods/pm_0/detach"])
def test_a_form_body_on_the_api_answers_4xx_json(api, path, content_type, body):
    """The API's body is read before anything else looks at it (ReadApiBodyFirst); a form parser
    that read it first left the request unreadable and answered 500 (found by the schema fuzzer)."""
    response = api.generic("POST", path, body, content_type=content_type)
    assert_error_shape(response)


@pytest.mark.parametrize("path", ["/v1/payments/pay_%00x", "/v1/payments/pay_%00x/confirm", "/v1/refunds/re_%00",
                                  "/v1/payment_methods/pm_%00", "/v1/webhook_endpoints/we_%00", "/v1/events/%00"])
def test_a_nul_character_in_an_api_path_id_is_a_404_in_the_error_shape(api, path):
    assert assert_error_shape(api.get(path))["code"] == "resource_missing"
    assert assert_error_shape(api.post(path, {}, format="json"))["code"] == "resource_missing"


def test_a_nul_character_in_a_customer_page_or_webhook_url_is_a_404(db):
    client = Client()
    assert client.get("/payments/pay_%00/return/").status_code == 404
    assert client.post("/payments/pay_%00/return/", {"PaRes": "x"}).status_code == 404
    assert_error_shape(client.post("/webhooks/sandbox/mca_%00/", b"{}", content_type="application/json"))


def test_a_nul_character_in_a_form_field_of_a_customer_page_is_a_400(api, sandbox_account):
    payment = api.post("/v1/payments", payment_body(500, confirm=False), format="json").json()
    response = Client().post(f"/payments/{payment['id']}/return/", {"PaRes": "ab\x00c"})
    assert response.status_code == 400


def test_a_nul_character_in_metadata_is_a_400_naming_the_key(api, sandbox_account):
    body = payment_body(500, metadata={"order": "A\u0000"})
    assert_error(api.post("/v1/payments", body, format="json"), 400, code="text_not_storable", param="metadata.order")
    assert PaymentOperation.objects.count() == 0


def test_an_unknown_route_answers_json_404_even_with_debug_on(api, settings):
    settings.DEBUG = True
    for path in ("/v1/charges", "/v1/", "/v1/payments/pay_1/explode", "/v1/schema/extra"):
        error = assert_error_shape(api.get(path))
        assert error["code"] == "resource_missing" and path in error["message"]


@pytest.mark.parametrize("method, path", [("delete", "/v1/payments"), ("put", "/v1/payments/pay_1"),
                                          ("patch", "/v1/refunds"), ("delete", "/v1/payments/pay_1/confirm"),
                                          ("options", "/v1/payments"), ("post", "/v1/schema/")])
def test_a_method_not_allowed_answers_json_405(api, settings, method, path):
    settings.DEBUG = True
    response = getattr(api, method)(path)
    assert response.status_code == 405
    assert assert_error_shape(response)["code"] == "method_not_allowed"


# -- the sweeps: the next member of each kind ----------------------------------------------------

HOSTILE_PATH_VALUES = ["%00", "pay_%00x", "x%00", "x" * 3000, "%25", "..%2F..", "%C3%A9", "'%20OR%201=1--",
                       "%EF%BF%BF", "%F0%9F%92%B3", "-1", "99999999999999999999999"]


def every_route() -> list[tuple[str, list[str]]]:
    """(route template, converter names) of every URL pattern of the project."""
    routes = []

    def walk(patterns, prefix):
        for pattern in patterns:
            text = str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + text)
            elif isinstance(pattern, URLPattern):
                routes.append(prefix + text)

    walk(get_resolver().url_patterns, "")
    return routes


def fill(route: str, value: str) -> str | None:
    """The route with every converter replaced by ``value``; None for regex routes."""
    import re

    if route.startswith("^") or "(?P" in route:
        return None
    return "/" + re.sub(r"<(?:\w+:)?\w+>", value, route)


@pytest.mark.parametrize("value", HOSTILE_PATH_VALUES)
def test_every_url_pattern_with_a_hostile_path_value_answers_below_500(api, sandbox_account, value):
    staff = User.objects.create_superuser("root", password="x" * 12)
    admin = Client()
    admin.force_login(staff)
    checked = 0
    for route in every_route():
        path = fill(route, value)
        if path is None or path == "/" + route:
            continue
        client = admin if path.startswith("/admin/") else api
        for method in ("get", "post"):
            response = getattr(client, method)(path, **({"data": {}, "format": "json"} if client is api else {}))
            assert response.status_code < 500, (method, path[:120], response.content[:300])
            if path.startswith("/v1/") and response.status_code >= 400:
                assert_error_shape(response)
            elif path.startswith("/webhooks/"):  # the banks' protocol: JSON, in its own shape
                assert response["Content-Type"].startswith("application/json"), (path[:120], response.content[:200])
            checked += 1
    assert checked > 40


HOSTILE_QUERY_VALUES = ["%00", "a%00b", "x" * 5000, "%25%25", "-1", "99999999999999999999", "null", "[]",
                        "2026-13-45T99:99:99", "%F0%9F%92%B3", "1e400"]


@pytest.mark.parametrize("value", HOSTILE_QUERY_VALUES)
def test_every_query_parameter_of_every_operation_with_a_hostile_value_answers_4xx_json_or_2xx(
        api, sandbox_account, schema, value):
    checked = 0
    for path, operations in schema["paths"].items():
        concrete = path.replace("{", "").replace("}", "")
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "query":
                    continue
                response = getattr(api, method)(f"{concrete}?{parameter['name']}={value}")
                assert response.status_code < 500, (method, path, parameter["name"], response.content[:300])
                if response.status_code >= 400:
                    assert_error_shape(response)
                checked += 1
    assert checked >= 15


HOSTILE_BODY_VALUES = [NUL, "a\x00b", {"k": "\x00"}, {"\x00": "v"}, ["\x00"], 10**30, -(10**30), 1.5, True, None,
                       [], {}, "x" * 300_000, "\ud800", "a\udfff", "\U0001f4b3", "' OR 1=1 --"]


def body_fields(schema, request_schema, prefix="") -> list[str]:
    """Dotted names of the fields of a request body schema, nested objects included."""
    if "$ref" in request_schema:
        request_schema = schema["components"]["schemas"][request_schema["$ref"].rsplit("/", 1)[1]]
    names = []
    for name, field in request_schema.get("properties", {}).items():
        names.append(prefix + name)
        target = field.get("allOf", [field])[0]
        if "$ref" in target or target.get("properties"):
            names += body_fields(schema, target, prefix + name + ".")
    return names


def with_value(base: dict, dotted: str, value) -> dict:
    body = json.loads(json.dumps(base))
    node = body
    *parents, last = dotted.split(".")
    for name in parents:
        node = node.setdefault(name, {}) if isinstance(node.get(name, {}), dict) else {}
    node[last] = value
    return body


@pytest.mark.parametrize("index", range(len(HOSTILE_BODY_VALUES)))
def test_every_field_of_every_body_with_a_hostile_value_answers_below_500(api, sandbox_account, schema, index):
    value = HOSTILE_BODY_VALUES[index]
    paid = api.post("/v1/payments", payment_body(5000, capture_method="manual"), format="json").json()
    checked = 0
    for path, operations in schema["paths"].items():
        concrete = path.replace("{payment_id}", paid["id"]).replace("{", "").replace("}", "")
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if method != "post" or content is None:
                continue
            base = payment_body(700) if concrete == "/v1/payments" else {}
            for field in body_fields(schema, content["schema"]):
                # ensure_ascii: lone surrogates travel as "\\ud800" escapes, as a client's JSON would send them
                response = api.post(concrete, json.dumps(with_value(base, field, value)),
                                    content_type="application/json")
                assert response.status_code < 500, (path, field, repr(value)[:40], response.content[:300])
                if response.status_code >= 400:
                    assert_error_shape(response)
                checked += 1
    assert checked > 40


@pytest.mark.parametrize("query", ["q=%00", "q=a%00", "status__exact=%00", "o=%00", "p=%00", "q=" + "x" * 5000,
                                   "created_at__gte=%00", "_changelist_filters=%00"])
def test_every_admin_changelist_with_a_hostile_query_answers_below_500(db, query):
    from django.contrib import admin as django_admin

    staff = User.objects.create_superuser("root", password="x" * 12)
    client = Client()
    client.force_login(staff)
    for model in django_admin.site._registry:
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/?{query}"
        response = client.get(url)
        assert response.status_code < 500, (url[:100], response.status_code)


def test_a_nul_character_in_an_inbound_webhook_header_is_a_400(api, sandbox_account):
    url = f"/webhooks/sandbox/{sandbox_account.public_id}/"
    response = Client().post(url, b"{}", content_type="application/json", HTTP_X_EXTRA="a\x00b")
    assert response.status_code == 400 and response.json()["error"]["param"] == "X-Extra"


@pytest.mark.parametrize("event", [
    {"id": "evt_\x00", "type": "charge.succeeded", "data": {"object": "charge", "reference": "ch_1"}},
    {"id": "evt_1", "type": "charge.succeeded\x00", "data": {"object": "charge", "reference": "ch_\x00",
                                                              "status": "succeeded\x00", "amount": 10**30}},
    {"id": "evt_2", "type": "refund.succeeded", "data": {"object": "refund", "reference": "\ud800",
                                                         "charge_reference": "\x00"}},
])
def test_a_signed_inbound_webhook_with_hostile_values_answers_below_500(api, sandbox_account, event):
    from conftest import SANDBOX_WEBHOOK_SECRET
    from connectors.sandbox import signature

    body = json.dumps(event).encode()
    response = Client().post(f"/webhooks/sandbox/{sandbox_account.public_id}/", body,
                             content_type="application/json",
                             headers={signature.HEADER: signature.sign(SANDBOX_WEBHOOK_SECRET, body)})
    assert response.status_code < 500, response.content


def test_a_deeply_nested_inbound_webhook_answers_below_500(api, sandbox_account):
    from conftest import SANDBOX_WEBHOOK_SECRET
    from connectors.sandbox import signature

    body = ("[" * DEEP + "]" * DEEP).encode()
    response = Client().post(f"/webhooks/sandbox/{sandbox_account.public_id}/", body,
                             content_type="application/json",
                             headers={signature.HEADER: signature.sign(SANDBOX_WEBHOOK_SECRET, body)})
    assert response.status_code < 500, response.content


def test_an_escaped_path_is_quoted_back_for_the_report():
    assert quote("%00") == "%2500"  # the sweep sends its values already percent-encoded


def test_an_unreachable_database_during_the_key_lookup_is_a_503_not_a_500(api, monkeypatch):
    """The key is looked up before the body is read (pagoflex.middleware.ReadApiBodyFirst); when
    the database cannot answer (a failover, an exhausted pool) that is a 503 to retry, as in
    the view, not an internal error."""
    from django.db import OperationalError

    from payments.api.authentication import ApiKeyAuthentication

    def unreachable(self, request):
        raise OperationalError("couldn't get a connection after 10.00 sec")

    monkeypatch.setattr(ApiKeyAuthentication, "_authenticate", unreachable)
    response = api.post("/v1/payments", payment_body(), format="json")
    assert response.status_code == 503, response.content[:300]
    assert response.json()["error"]["code"] == "service_unavailable"
