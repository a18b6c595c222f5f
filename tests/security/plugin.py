"""The end-of-suite secrets scan, a pytest plugin loaded by the root conftest.

A database dump taken after the suite would see almost nothing (each test's rows are rolled
back or flushed), so the scan watches what the suite writes instead, for the whole session and
in every thread:

- every INSERT/UPDATE any database connection runs (a wrapper installed on each connection as
  it is created): its parameters must hold no test card number, no CVV value and no connector
  secret. Encrypted columns hold ciphertext, so the plaintext needles never match them;
- every log record, at every level, from every logger that reaches the root logger.

Needles: the test card numbers found in the test and connector sources (Luhn-valid, 15 to 19
digits, card prefixes), any "cvc"/"cvv"/"security code" field with digits in it, and every
secret credential a test stores on a connector account (``set_credentials``), 8 characters or
longer. Findings are printed at the end and fail the run (exit status 1) even when every test
passed; ``tests/security/test_secrets_at_rest.py`` dumps the database after a full journey too.
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

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


class SecretsScan:
    def __init__(self):
        self.cards = known_test_cards()
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
    _ensure_log_handler()


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
