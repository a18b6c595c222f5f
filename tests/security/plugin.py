"""The end-of-suite secrets scan, a pytest plugin loaded by the root conftest.

A database dump taken after the suite would see almost nothing (each test's rows are rolled
back or flushed), so the scan watches what the suite writes instead, for the whole session and
in every thread:

- every INSERT/UPDATE any database connection runs (a wrapper installed on each connection as
  it is created): its parameters must hold no test card number, no CVV value and no connector
  secret. Encrypted columns hold ciphertext, so the plaintext needles never match them;
- every log record, at every level, from every logger that reaches the root logger.

Needles: the test card numbers found in the test and connector sources (Luhn-valid, 15 to 19
digits, card prefixes), any "cvc"/"cvv"/"security code" field with digits in it, every secret
credential a test stores on a connector account (``set_credentials``), 8 characters or longer,
and what an attacker could brute-force back to a card: the unkeyed hashes (SHA-256, SHA-1, MD5,
hex and base64) of every request body a test sends holding a test card number, of its parameters
in canonical form, of the body behind its method and path, and of the card number and security
code themselves (learnt from Django's test client as the requests go out).

``scan_database()`` also reads every text column of every table at a moment of a test's choosing
(``tests/security/test_card_data_at_rest.py`` calls it after card payments with idempotency keys). Findings are printed at the end and fail the run (exit status 1) even when every test
passed; ``tests/security/test_secrets_at_rest.py`` dumps the database after a full journey too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
CVV_RE = re.compile(r"""(?i)["']?\b(?:card_?)?(?:cvc|cvv2?|cvn|security_?code)\b["']?\s*[:=]\s*["']?\d{3,4}\b""")
TABLE_RE = re.compile(r'(?i)^\s*(?:INSERT\s+INTO|UPDATE)\s+"?([\w.]+)"?')
CARD_RE = re.compile(r"""["']([2-6]\d{14,18})["']""")


def _luhn(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def known_test_cards() -> set[str]:
    numbers = set()
    for folder in ("tests", "connectors"):
        for path in (ROOT / folder).rglob("*.py"):
            numbers.update(n for n in CARD_RE.findall(path.read_text(errors="replace")) if _luhn(n))
    return numbers


UNKEYED_DIGESTS = (hashlib.sha256, hashlib.sha1, hashlib.md5)


def unkeyed_digests(data: bytes) -> set[str]:
    """Every unkeyed hash of ``data`` an attacker could match candidates against."""
    found = set()
    for digest in UNKEYED_DIGESTS:
        raw = digest(data).digest()
        found.update({raw.hex(), raw.hex().upper(), base64.b64encode(raw).decode().rstrip("="),
                      base64.urlsafe_b64encode(raw).decode().rstrip("=")})
    return found


# Hex (32, 40, 64) and unpadded base64 (22, 27, 43) lengths of MD5, SHA-1 and SHA-256 digests.
DIGEST_LENGTHS = (22, 27, 32, 40, 43, 64)
TOKEN_RE = re.compile(r"[A-Za-z0-9+/_-]{22,}")


def hash_in(text: str, needles: set[str]) -> str | None:
    """A needle digest found anywhere in ``text``, also inside a longer token (a set lookup per
    window: the needles grow with every request a test sends, too many for one regex)."""
    if not needles:
        return None
    for token in TOKEN_RE.findall(text):
        for length in DIGEST_LENGTHS:
            for start in range(len(token) - length + 1):
                if token[start:start + length] in needles:
                    return token[start:start + length]
    return None


def _card_values(value, found: dict[str, set[str]]) -> None:
    # The card numbers and security codes inside a parsed request body, at any depth.
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str) and str(key).lower() in ("cvc", "cvv", "cvv2", "cvn", "security_code"):
                found["cvc"].add(item)
            elif isinstance(item, str) and item.replace(" ", "").isdigit() and len(item.replace(" ", "")) >= 13:
                found["pan"].add(item.replace(" ", ""))
            else:
                _card_values(item, found)
    elif isinstance(value, list):
        for item in value:
            _card_values(item, found)


def derived_from_request(method: str, path: str, body: bytes, cards: set[str]) -> set[str]:
    """The values derivable from a request body that holds a test card number (empty if none)."""
    if not any(card.encode() in body for card in cards):
        return set()
    texts = [body, b"%s %s\n%s" % (method.encode(), path.encode(), body), b"%s %s %s" % (
        method.encode(), path.encode(), body)]
    values = {"pan": set(), "cvc": set()}
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if parsed is not None:
        _card_values(parsed, values)
        for separators in ((",", ":"), (", ", ": ")):
            canonical = json.dumps(parsed, sort_keys=True, separators=separators).encode()
            texts += [canonical, b"%s %s\n%s" % (method.encode(), path.encode(), canonical)]
    def encode(text: str) -> bytes:  # a hostile body may hold lone surrogates
        return text.encode("utf-8", "surrogatepass")

    for pan in values["pan"]:
        texts.append(encode(pan))
        texts += [encode(pan + cvc) for cvc in values["cvc"]]
    texts += [encode(cvc) for cvc in values["cvc"]]
    needles = set()
    for text in texts:
        needles |= unkeyed_digests(text)
    return needles


class SecretsScan:
    def __init__(self):
        self.cards = known_test_cards()
        self.derived: set[str] = set()  # unkeyed hashes of card data and of request bodies holding it
        self.secrets: set[str] = set()
        self.findings: list[str] = []
        self._lock = threading.Lock()
        self._pattern = None
        self.current_test = "(collection)"
        self.planting = False  # the current test plants a secret on purpose (marker plants_secrets)

    # -- needles ---------------------------------------------------------------------------------

    def add_secret(self, value: str) -> None:
        if isinstance(value, str) and len(value) >= 8 and value not in self.secrets:
            with self._lock:
                self.secrets.add(value)
                self._pattern = None

    def learn_request(self, method: str, path: str, body) -> None:
        """Called for every request a test client sends: learns what its card data hashes to."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        if not isinstance(body, bytes) or not body:
            return
        needles = derived_from_request(method.upper(), urlsplit(path).path, body, self.cards)
        if needles - self.derived:
            with self._lock:
                self.derived |= needles

    @property
    def pattern(self) -> re.Pattern:
        if self._pattern is None:
            needles = sorted(self.cards | self.secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(n) for n in needles) or r"(?!x)x")
        return self._pattern

    def check(self, text: str, where: str) -> None:
        if self.planting:
            return
        hit = self.pattern.search(text)
        what = None
        if hit:
            what = "card number" if hit.group(0) in self.cards else "connector secret"
            shown = hit.group(0)[-4:]
        elif (digest := hash_in(text, self.derived)) is not None:
            what, shown = "unkeyed hash of card data", digest[-4:]
        else:
            cvv = CVV_RE.search(text)
            if cvv:
                what, shown = "CVV value", cvv.group(0)[:12]
        if what:
            with self._lock:
                self.findings.append(f"{self.current_test}: {what} (…{shown}) in {where}")

    # -- the database ----------------------------------------------------------------------------

    def execute_wrapper(self, execute, sql, params, many, context):
        if sql.lstrip()[:6].upper() in ("INSERT", "UPDATE"):
            rows = params if many else [params]
            text = " ".join(str(value) for row in rows or () for value in (row or ()))
            if text:
                table = TABLE_RE.search(sql)
                self.check(text, f"a write to {table.group(1) if table else 'the database'}")
        return execute(sql, params, many, context)

    def scan_database(self, using: str = "default") -> list[str]:
        """Every text, JSON and binary column of every table, read now: what it finds (also added
        to the run's findings). Text is matched against every needle, including the hashes of the
        card data the tests sent so far."""
        from django.apps import apps
        from django.db import models

        start = len(self.findings)
        kinds = (models.CharField, models.TextField, models.JSONField, models.BinaryField)
        for model in apps.get_models(include_auto_created=True):
            columns = [f.attname for f in model._meta.concrete_fields if isinstance(f, kinds)]
            if not columns or model._meta.proxy:
                continue
            for row in model._default_manager.using(using).values_list(*columns).iterator():
                for column, value in zip(columns, row, strict=True):
                    if value in (None, "", b""):
                        continue
                    if isinstance(value, (bytes, memoryview)):
                        text = bytes(value).decode("latin-1")
                    elif isinstance(value, str):
                        text = value
                    else:
                        text = json.dumps(value)
                    self.check(text, f"{model._meta.db_table}.{column}")
        return self.findings[start:]

    # -- the logs --------------------------------------------------------------------------------

    def log_handler(self) -> logging.Handler:
        scan = self

        class Handler(logging.Handler):
            def emit(self, record):
                try:
                    text = record.getMessage()
                except Exception:  # noqa: BLE001 - a badly formatted record is still scanned raw
                    text = f"{record.msg} {record.args}"
                if record.exc_info:
                    text += logging.Formatter().formatException(record.exc_info)
                scan.check(text, f"a log record of {record.name}")

        return Handler(level=logging.NOTSET)


_scan = SecretsScan()
_handler = _scan.log_handler()


def _watch_connection(sender, connection, **kwargs):
    if _scan.execute_wrapper not in connection.execute_wrappers:
        connection.execute_wrappers.append(_scan.execute_wrapper)


def _ensure_log_handler() -> None:
    root = logging.getLogger()
    if _handler not in root.handlers:  # logging may be reconfigured (dictConfig) by a test
        root.addHandler(_handler)


def pytest_configure(config):
    config.addinivalue_line("markers", "plants_secrets: the test writes a secret to the database or the logs on "
                                       "purpose (to test masking); the secrets scan ignores it")


def pytest_sessionstart(session):
    from django.db import connections
    from django.db.backends.signals import connection_created

    from connectors.models import ConnectorAccount

    connection_created.connect(_watch_connection, weak=False)
    for alias in connections:
        _watch_connection(None, connections[alias])
    original = ConnectorAccount.set_credentials

    def set_credentials(self, credentials, *args, **kwargs):
        try:
            secret_names = {f.name for f in self.connector_class.credential_fields if f.secret}
        except Exception:  # noqa: BLE001 - an unknown connector: every value counts as secret
            secret_names = set(credentials or {})
        for name, value in (credentials or {}).items():
            if name in secret_names:
                _scan.add_secret(value)
        return original(self, credentials, *args, **kwargs)

    ConnectorAccount.set_credentials = set_credentials
    _watch_test_client_requests()
    _ensure_log_handler()


def _watch_test_client_requests() -> None:
    """Every request Django's (and DRF's) test client builds passes through ``generic``."""
    from django.test.client import RequestFactory

    original = RequestFactory.generic
    if getattr(original, "_secrets_scan", False):
        return

    def generic(self, method, path, data="", *args, **kwargs):
        _scan.learn_request(method, path, data)
        return original(self, method, path, data, *args, **kwargs)

    generic._secrets_scan = True
    RequestFactory.generic = generic


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    _scan.current_test = item.nodeid
    _scan.planting = item.get_closest_marker("plants_secrets") is not None
    _ensure_log_handler()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _scan.findings:
        terminalreporter.section("secrets scan: FAILED", red=True)
        for finding in _scan.findings[:50]:
            terminalreporter.line(finding)
        if len(_scan.findings) > 50:
            terminalreporter.line(f"... and {len(_scan.findings) - 50} more")
    else:
        terminalreporter.line(f"secrets scan: no test card number ({len(_scan.cards)} known), CVV value or connector "
                              f"secret ({len(_scan.secrets)} seen) in any database write or log record")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    if _scan.findings and session.exitstatus == 0:
        session.exitstatus = 1


def scan() -> SecretsScan:
    return _scan


class expected_findings:
    """For the scan's own tests: what the block makes the scan find, taken back out of the
    run's findings (a deliberate leak must not fail the run)."""

    def __enter__(self) -> list[str]:
        self._start = len(_scan.findings)
        self.found: list[str] = []
        return self.found

    def __exit__(self, *exc) -> None:
        with _scan._lock:
            self.found.extend(_scan.findings[self._start:])
            del _scan.findings[self._start:]
