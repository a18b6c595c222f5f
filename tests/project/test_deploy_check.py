"""Production settings pass Django's deployment checks clean (issue 16, item 14), and every
HTTPS setting can be set from the environment."""

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "False",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "PAGOFLEX_KEYRING": "prod1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
    "ALLOWED_HOSTS": "pagoflex.example",
}
SECURITY_VARIABLES = ("SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
                      "SECURE_HSTS_PRELOAD", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_PROXY_SSL_HEADER")


def run(args: list[str], overrides: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "PAGOFLEX_KEYRING", "DEBUG",
                                                            *SECURITY_VARIABLES)}
    env.update(overrides)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_check_deploy_passes_clean_with_production_settings():
    result = run(["check", "--deploy", "--fail-level", "WARNING"], PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_the_https_settings_come_from_the_environment_with_safe_defaults():
    code = ("from django.conf import settings as s; print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, "
            "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_PROXY_SSL_HEADER)")
    production = run(["shell", "-v", "0", "-c", code], PRODUCTION)
    assert production.stdout.split() == ["True", "31536000", "True", "True", "None"], production.stderr
    development = run(["shell", "-v", "0", "-c", code], {})
    assert development.stdout.split() == ["False", "0", "False", "False", "None"], development.stderr
    behind_a_proxy = run(["shell", "-v", "0", "-c", code], {**PRODUCTION, "SECURE_SSL_REDIRECT": "False",
                                                 "SECURE_HSTS_SECONDS": "600",
                                                 "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO"})
    assert behind_a_proxy.stdout.split() == ["False", "600", "True", "True", "('HTTP_X_FORWARDED_PROTO',",
                                             "'https')"], behind_a_proxy.stderr


def test_an_unsafe_override_is_reported_by_the_check_ci_runs():
    """The CI check is what catches the next unsafe setting: turning one off fails it."""
    result = run(["check", "--deploy", "--fail-level", "WARNING"], {**PRODUCTION, "SESSION_COOKIE_SECURE": "False"})
    assert result.returncode != 0 and "security.W012" in result.stderr


def test_ci_runs_the_deploy_check():
    script = (ROOT / ".ci" / "run").read_text()
    assert "check --deploy --fail-level WARNING" in script and "DEBUG=False" in script


def test_every_check_docs_security_lists_exists():
    """docs/security.md lists the checks CI runs: each file or folder it names is there."""
    import re

    text = (ROOT / "docs" / "security.md").read_text()
    named = set(re.findall(r"`((?:tests|connectors|pagoflex|webhooks|payments)/[\w/*.]+)`", text))
    assert len(named) >= 10
    missing = [path for path in sorted(named) if not list(ROOT.glob(path))]
    assert missing == []
