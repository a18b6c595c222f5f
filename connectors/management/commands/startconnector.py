"""``python manage.py startconnector <name> --base-url <url> [--currency-unit minor|major]``

Creates ``connectors/<name>/`` from the templates in ``connectors/scaffold/``: an adapter with
one handler per flow, transformers, a simulator skeleton, SPEC.md, ``published_api.py`` (the
bank's published API description the contract tests hold adapter and simulator to) and a test
module that runs the conformance suite. The adapter registers itself (``@register``; the app
discovers every ``connectors/<name>/adapter.py``), so the new key is in the factory at the next start. Every
generated flow raises "not implemented yet" naming its file and flow: nothing pretends to work.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError

import connectors
from connectors.registry import all_connectors

NAME_RE = re.compile(r"[a-z][a-z0-9_]*")
SCAFFOLD_DIR = Path(__file__).resolve().parents[2] / "scaffold"


def connectors_dir() -> Path:
    return Path(connectors.__file__).resolve().parent


def name_problem(name: str, package_dir: Path) -> str:
    """Why ``name`` cannot be a new connector's key and folder; empty when it can."""
    if not NAME_RE.fullmatch(name):
        return f"{name!r} is not a valid connector name: use lower-case letters, digits and _, starting with a letter"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return f"{name!r} is a Python keyword"
    taken = {key.lower() for cls in all_connectors() for key in (cls.key, *cls.aliases)}
    if name in taken:
        return f"{name!r} clashes with an existing connector key or alias"
    for existing in (package_dir / name, package_dir / f"{name}.py"):
        if existing.exists():
            return f"{name!r} clashes with {existing.relative_to(package_dir.parent)}"
    return ""


def template_values(name: str, base_url: str, currency_unit: str) -> dict[str, str]:
    class_prefix = "".join(part.capitalize() for part in name.split("_") if part)
    return {
        "key": name,
        "display_name": " ".join(part.capitalize() for part in name.split("_") if part),
        "class_prefix": class_prefix,
        "class_name": f"{class_prefix}Connector",
        "simulator_class": f"{class_prefix}Simulator",
        "base_url": base_url,
        "currency_unit": currency_unit.upper(),
        "unit_text": (
            "integers of the currency's minor units (1050 EUR = 10.50)"
            if currency_unit == "minor"
            else 'major units with the currency\'s decimals ("10.50" EUR), never floats'
        ),
    }


def render_scaffold(target: Path, values: dict[str, str]) -> list[Path]:
    """Write every template under ``target``; the written paths, in order."""
    written = []
    for template in sorted(SCAFFOLD_DIR.rglob("*.tmpl")):
        relative = template.relative_to(SCAFFOLD_DIR).with_suffix("")
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(template.read_text()).substitute(values))
        written.append(path)
    return written


class Command(BaseCommand):
    help = (
        "Create connectors/<name>/ for a new bank: adapter, transformers, simulator, SPEC.md, its published "
        "API description, conformance tests."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="the connector's key and folder name, e.g. banco_y")
        parser.add_argument("--base-url", required=True, help="the bank's API base URL, e.g. https://api.bancoy.com")
        parser.add_argument(
            "--currency-unit",
            choices=["minor", "major"],
            default="minor",
            help="how the bank writes amounts: integers of minor units, or major-unit decimals",
        )

    def handle(self, *args, name: str, base_url: str, currency_unit: str, **options):
        package_dir = connectors_dir()
        problem = name_problem(name, package_dir)
        if problem:
            raise CommandError(problem)
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise CommandError(f"--base-url must be an http(s) URL with a host, not {base_url!r}")
        target = package_dir / name
        written = render_scaffold(target, template_values(name, base_url.rstrip("/"), currency_unit))
        for path in written:
            self.stdout.write(f"created {path.relative_to(package_dir.parent)}")
        self.stdout.write(
            self.style.SUCCESS(
                f"connector {name!r} created. Next: write SPEC.md and published_api.py from the bank's "
                "published documentation, implement "
                f"simulator.py, then the flows in adapter.py until `pytest connectors/{name}` passes "
                "(docs/connectors.md walks through it), and run `python manage.py connector_table`."
            )
        )
