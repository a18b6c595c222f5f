"""``manage.py startconnector``: what it refuses, and what it generates in a copy of the repository."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from connectors.management.commands.startconnector import connectors_dir

NEW_NAME = "banco_y"
COPY_IGNORES = shutil.ignore_patterns(".venv", ".git", "var", "__pycache__", ".ruff_cache", "*.sqlite3")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("sandbox", "clashes with an existing connector key or alias"),
        ("paytm", "clashes with an existing connector key or alias"),
        ("class", "is a Python keyword"),
        ("match", "is a Python keyword"),
        ("9bank", "not a valid connector name"),
        ("banco-y", "not a valid connector name"),
        ("Banco_Y", "not a valid connector name"),
        ("testing", "clashes with connectors/testing"),
        ("base", "clashes with connectors/base.py"),
    ],
)
def test_startconnector_refuses_names_that_clash_or_are_not_identifiers(name, reason):
    before = sorted(p.name for p in connectors_dir().iterdir())
    with pytest.raises(CommandError, match=re.escape(reason)):
        call_command("startconnector", name, base_url="https://api.example.com")
    assert sorted(p.name for p in connectors_dir().iterdir()) == before


def test_startconnector_refuses_an_alias_of_an_existing_connector(monkeypatch):
    from connectors.banco_x.adapter import BancoXConnector

    monkeypatch.setattr(BancoXConnector, "aliases", ("BANCO_X", "bancox"))
    with pytest.raises(CommandError, match="clashes with an existing connector key or alias"):
        call_command("startconnector", "bancox", base_url="https://api.example.com")
    assert not (connectors_dir() / "bancox").exists()


def test_startconnector_refuses_a_base_url_that_is_not_http():
    with pytest.raises(CommandError, match="--base-url must be an http"):
        call_command("startconnector", "banco_z", base_url="ftp://bank.example.com")
    assert not (connectors_dir() / "banco_z").exists()


def _run(args, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


def test_generated_connector_fails_loudly_until_written_and_the_project_still_works(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(settings.BASE_DIR, repo, ignore=COPY_IGNORES)
    # The copy gets its own SQLite file: it must never touch the database of the suite running it.
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "PYTHONDONTWRITEBYTECODE": "1"}
    python = sys.executable

    created = _run(
        [
            python,
            "manage.py",
            "startconnector",
            NEW_NAME,
            "--base-url",
            "https://api.bancoy.example",
            "--currency-unit",
            "major",
        ],
        repo,
        env,
    )
    assert created.returncode == 0, created.stderr
    folder = repo / "connectors" / NEW_NAME
    for relative in (
        "adapter.py",
        "transformers.py",
        "simulator.py",
        "SPEC.md",
        "published_api.py",
        "tests/test_conformance.py",
    ):
        assert (folder / relative).is_file(), relative
    assert "CurrencyUnit.MAJOR" in (folder / "adapter.py").read_text()

    linted = _run([python, "-m", "ruff", "check", f"connectors/{NEW_NAME}"], repo, env)
    assert linted.returncode == 0, linted.stdout

    # The project imports with the new folder, and the factory knows the new key.
    registered = _run(
        [
            python,
            "manage.py",
            "shell",
            "-c",
            f"from connectors.registry import get_connector_class; print(get_connector_class('{NEW_NAME}').__name__)",
        ],
        repo,
        env,
    )
    assert registered.returncode == 0, registered.stderr
    assert registered.stdout.strip().splitlines()[-1] == "BancoYConnector"

    generated = _run([python, "-m", "pytest", "-q", f"connectors/{NEW_NAME}"], repo, env)
    summary = generated.stdout.strip().splitlines()[-1]
    assert generated.returncode == 1, generated.stdout[-3000:]
    assert re.search(r"\d+ failed", summary) and "passed" not in summary, summary
    assert f"connectors/{NEW_NAME}/adapter.py: the authorize flow is not implemented yet" in generated.stdout

    rest = _run([python, "-m", "pytest", "-q", "tests/framework"], repo, env)
    assert rest.returncode == 0, rest.stdout[-3000:]
    assert "failed" not in rest.stdout.strip().splitlines()[-1]
