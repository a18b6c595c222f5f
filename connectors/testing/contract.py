"""Contract tests: every request an adapter sends and every answer its simulator gives, held
against the processor's own published API description.

A simulator written from the same reading as the adapter confirms the adapter's mistakes; the
processor's published description (an OpenAPI document, the API reference pages) does not. A
connector writes that description down once, in ``connectors/<bank>/published_api.py``, with the
small vocabulary below (field names, which are required, enums, units), and the layer checks
real HTTP exchanges against it:

    API = PublishedApi(
        name="Bank Y REST API", version="2024-01", source="https://bank-y.example/openapi.yaml",
        endpoints=(
            Endpoint("POST", "/charges", request=Obj({"amount": Field("integer", required=True)}),
                     responses={200: CHARGE, 400: ERROR}),
        ),
    )

``ContractObserver(API)`` is attached to a simulator (``app.contract = observer``): the
simulator hands it each exchange after answering, the observer checks it at once and keeps only
the violations (never the bodies, which may hold card data). The conformance suite attaches one
for every connector that declares ``published_api`` and fails a scenario whose exchanges broke
the description; a connector's own tests can do the same with ``observe(app, API)``.

What is checked: unknown fields are refused (an object is closed unless ``Obj(open=True)``),
required fields are present, types match (a JSON number is not a string), values are in their
enum, strings match their pattern and length, and units hold: ``epoch_seconds`` and
``epoch_ms`` tell seconds from milliseconds by magnitude, ``decimal_string`` is a major-unit
amount written as text ("10.50"), ``major_number`` a major-unit amount written as a JSON number.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from decimal import Decimal

from connectors.masking import mask_card_data

# Plausible epoch values (2001-09-09 .. 2286-11-20): ten digits of seconds, thirteen of ms.
EPOCH_SECONDS = (10**9, 10**10 - 1)
EPOCH_MS = (10**12, 10**13 - 1)
DECIMAL_STRING_RE = re.compile(r"^(0|[1-9][0-9]*)(\.[0-9]{1,3})?$")
UNITS = ("epoch_seconds", "epoch_ms", "epoch_seconds_or_ms", "decimal_string", "major_number")
TYPES = ("string", "integer", "number", "boolean", "object", "array", "any")


@dataclass(frozen=True)
class Obj:
    """A JSON object: its fields by name. Closed (unknown fields refused) unless ``open``.

    ``one_of`` names a discriminator field and the object each of its values selects
    (``requestType`` -> ``PaymentCardSaleTransaction`` -> its fields): the chosen variant's
    fields are checked, so a field of one request type is refused in another."""

    fields: dict = field(default_factory=dict)
    open: bool = False
    one_of: tuple[str, dict] | None = None


@dataclass(frozen=True)
class Field:
    type: str = "string"
    required: bool = False
    enum: tuple = ()
    pattern: str = ""
    max_length: int = 0
    unit: str = ""
    obj: Obj | None = None  # for type "object"
    items: Field | None = None  # for type "array"

    def __post_init__(self):
        if self.type not in TYPES:
            raise ValueError(f"unknown field type {self.type!r}")
        if self.unit and self.unit not in UNITS:
            raise ValueError(f"unknown unit {self.unit!r}")


def obj(fields: dict, *, required: bool = False, open: bool = False) -> Field:  # noqa: A002
    """A field holding an object: ``obj({...}, required=True)``."""
    return Field("object", required=required, obj=Obj(fields, open=open))


def array(items: Field, *, required: bool = False) -> Field:
    return Field("array", required=required, items=items)


@dataclass(frozen=True)
class Endpoint:
    """One operation: method, path with ``{name}`` placeholders, the request body (None: no body),
    request headers and query parameters (by name), and the answer's body by HTTP status."""

    method: str
    path: str
    request: Obj | None = None
    responses: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    query: dict = field(default_factory=dict)
    name: str = ""

    def matches(self, method: str, path: str) -> bool:
        regex = "^" + re.sub(r"\{[^}]+\}", r"[^/]+", self.path) + "$"
        return method.upper() == self.method and re.match(regex, path) is not None


@dataclass(frozen=True)
class PublishedApi:
    """A processor's published API, as far as a connector uses it.

    ``name``, ``version`` and ``source`` say which document it was written from (the connector's
    SPEC.md says the same and lists where the processor's documents disagree). ``ignored_paths``
    are the simulator's own pages and controls (path prefixes), which are not the processor's API.
    """

    name: str
    version: str
    source: str
    endpoints: tuple[Endpoint, ...]
    ignored_paths: tuple[str, ...] = ("/__",)

    def endpoint(self, method: str, path: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.matches(method, path)), None)

    def ignores(self, path: str) -> bool:
        return any(path.startswith(prefix) for prefix in self.ignored_paths)


# -- checking values -------------------------------------------------------------------------------


def _type_ok(value, kind: str) -> bool:
    if kind == "any":
        return True
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)
    if kind == "object":
        return isinstance(value, dict)
    return isinstance(value, list)


def _shown(value) -> str:
    """A value for a violation message: enums and numbers as they are, long text masked."""
    return mask_card_data(repr(value))[:60]


def _unit_violation(value, unit: str) -> str:
    if unit in ("epoch_seconds", "epoch_ms", "epoch_seconds_or_ms"):
        text = str(value)
        if isinstance(value, bool) or not text.isdigit():
            return f"is not an epoch timestamp: {_shown(value)}"
        number = int(text)
        low_s, high_s = EPOCH_SECONDS
        low_ms, high_ms = EPOCH_MS
        seconds, millis = low_s <= number <= high_s, low_ms <= number <= high_ms
        if unit == "epoch_seconds" and not seconds:
            return f"must be epoch seconds, got {number}" + (" (milliseconds)" if millis else "")
        if unit == "epoch_ms" and not millis:
            return f"must be epoch milliseconds, got {number}" + (" (seconds)" if seconds else "")
        if unit == "epoch_seconds_or_ms" and not (seconds or millis):
            return f"must be epoch seconds or milliseconds, got {number}"
    if unit == "decimal_string" and not (isinstance(value, str) and DECIMAL_STRING_RE.match(value)):
        return f'must be a major-unit amount written as text like "10.50", got {_shown(value)}'
    if unit == "major_number" and not (isinstance(value, (int, Decimal, float)) and not isinstance(value, bool)):
        return f"must be a major-unit amount written as a JSON number, got {_shown(value)}"
    return ""


def check_value(value, spec: Field, where: str) -> list[str]:
    """Violations of ``spec`` by ``value`` at ``where`` (a dotted path)."""
    if not _type_ok(value, spec.type):
        return [f"{where}: must be {spec.type}, got {type(value).__name__} {_shown(value)}"]
    problems = []
    if spec.enum and value not in spec.enum:
        problems.append(f"{where}: {_shown(value)} is not one of {list(spec.enum)}")
    if spec.pattern and isinstance(value, str) and not re.fullmatch(spec.pattern, value):
        problems.append(f"{where}: {_shown(value)} does not match {spec.pattern}")
    if spec.max_length and isinstance(value, str) and len(value) > spec.max_length:
        problems.append(f"{where}: longer than {spec.max_length} characters")
    if spec.unit and (unit_problem := _unit_violation(value, spec.unit)):
        problems.append(f"{where}: {unit_problem}")
    if spec.type == "object" and spec.obj is not None:
        problems += check_object(value, spec.obj, where)
    if spec.type == "array" and spec.items is not None:
        for index, item in enumerate(value):
            problems += check_value(item, spec.items, f"{where}[{index}]")
    return problems


def check_object(value: dict, shape: Obj, where: str = "") -> list[str]:
    fields = dict(shape.fields)
    if shape.one_of is not None:
        discriminator, variants = shape.one_of
        chosen = value.get(discriminator)
        if chosen not in variants:
            return [f"{_join(where, discriminator)}: {_shown(chosen)} is not one of {sorted(variants)}"]
        fields.update(variants[chosen].fields)
        fields.setdefault(discriminator, Field("string", required=True))
    problems = []
    for name, spec in fields.items():
        if spec.required and name not in value:
            problems.append(f"{_join(where, name)}: required, missing")
    for name, item in value.items():
        spec = fields.get(name)
        if spec is None:
            if not shape.open:
                problems.append(f"{_join(where, name)}: not a field of the published description")
            continue
        problems += check_value(item, spec, _join(where, name))
    return problems


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


# -- checking exchanges ----------------------------------------------------------------------------


@dataclass
class Exchange:
    """One request and its answer as they crossed the wire (bodies as bytes)."""

    method: str
    path: str
    query: dict
    headers: dict  # request headers, lower-case names
    request_body: bytes
    status: int
    response_body: bytes


def _parse(body: bytes):
    return json.loads(body, parse_float=Decimal)


def check_exchange(api: PublishedApi, exchange: Exchange, *, requests: bool = True, answers: bool = True) -> list[str]:
    """Violations of ``api`` by one exchange; an empty list when it follows the description."""
    if api.ignores(exchange.path):
        return []
    endpoint = api.endpoint(exchange.method, exchange.path)
    label = f"{exchange.method} {exchange.path}"
    if endpoint is None:
        return [f"{label}: not an operation of {api.name} {api.version}"]
    problems = []
    if requests:
        problems += [f"{label} request {p}" for p in _check_request(endpoint, exchange)]
    if answers:
        problems += [f"{label} answer {exchange.status} {p}" for p in _check_answer(endpoint, exchange)]
    return problems


def _check_request(endpoint: Endpoint, exchange: Exchange) -> list[str]:
    problems = []
    for name, spec in endpoint.headers.items():
        value = exchange.headers.get(name.lower())
        if value is None:
            if spec.required:
                problems.append(f"header {name}: required, missing")
            continue
        problems += check_value(_header_value(value, spec), spec, f"header {name}")
    for name, spec in endpoint.query.items():
        if name in exchange.query:
            problems += check_value(exchange.query[name], spec, f"query {name}")
        elif spec.required:
            problems.append(f"query {name}: required, missing")
    unknown_query = sorted(set(exchange.query) - set(endpoint.query))
    problems += [f"query {name}: not a parameter of the published description" for name in unknown_query]
    if endpoint.request is None:
        if exchange.request_body.strip():
            problems.append("body: this operation takes no body")
        return problems
    try:
        body = _parse(exchange.request_body)
    except ValueError:
        return [*problems, "body: not JSON"]
    if not isinstance(body, dict):
        return [*problems, "body: not a JSON object"]
    return problems + check_object(body, endpoint.request)


def _header_value(value: str, spec: Field):
    """Headers are text on the wire; an integer header (a timestamp) must be written as digits."""
    if spec.type == "integer" and value.isdigit():
        return int(value)
    return value


def _check_answer(endpoint: Endpoint, exchange: Exchange) -> list[str]:
    shape = endpoint.responses.get(exchange.status)
    if shape is None:
        return [f"status {exchange.status} is not a published answer of this operation"]
    try:
        body = _parse(exchange.response_body)
    except ValueError:
        return ["body: not JSON"]
    if not isinstance(body, dict):
        return ["body: not a JSON object"]
    return check_object(body, shape)


class ContractObserver:
    """Checks exchanges as a simulator serves them; keeps the violations (thread-safe).

    ``requests``/``answers`` choose which side is held to the description: a test that drives a
    simulator with a processor's own client library checks the answers only, since the client's
    requests are the processor's business."""

    def __init__(self, api: PublishedApi, *, requests: bool = True, answers: bool = True):
        self.api = api
        self.check_requests = requests
        self.check_answers = answers
        self.violations: list[str] = []
        self.checked = 0
        self._lock = threading.Lock()

    def observe(self, exchange: Exchange) -> None:
        problems = check_exchange(self.api, exchange, requests=self.check_requests, answers=self.check_answers)
        with self._lock:
            if not self.api.ignores(exchange.path):
                self.checked += 1
            self.violations.extend(problems)

    def assert_followed(self) -> None:
        """Fail with every violation seen (the description's name and version in the message)."""
        with self._lock:
            violations = list(dict.fromkeys(self.violations))
        assert not violations, f"{len(violations)} deviation(s) from {self.api.name} {self.api.version}:\n" + "\n".join(
            violations
        )


def observe(app, api: PublishedApi, **sides) -> ContractObserver:
    """Attach a new observer to a simulator app and return it."""
    observer = ContractObserver(api, **sides)
    app.contract = observer
    return observer
