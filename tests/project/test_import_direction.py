"""The walls between the apps: imports point one way, so each app reads without the ones above.

    pagoflex (settings, urls, celery)  knows everyone; no app imports it
    webhooks                           -> payments, connectors
    payments                           -> connectors
    connectors                         -> observability
    observability                      -> nothing of ours (request ids, logs, metrics)

Every import counts, at the top of a module or inside a function (a lazy import is still a
dependency). Declared exceptions, explained in docs/architecture.md:
- test code: any ``tests/`` folder, and ``connectors/testing/`` (the conformance suite and the
  simulator kit: they drive the whole platform through a connector). Runtime code may use the
  simulator kit, but nothing it imports may reach above its own app (checked below).
- models point at models of a higher app only by name, and only where listed in
  ``UPWARD_RELATIONS`` (checked over Django's model registry).
Within an app, modules do not import each other in a circle at import time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Lower number, lower layer: an app may import its own layer and the ones below.
LAYERS = {"observability": -1, "connectors": 0, "payments": 1, "webhooks": 2, "pagoflex": 3}
# The test support package every layer's tests use; it may import the whole platform.
TEST_SUPPORT = "connectors.testing"
# (app_label.Model, field) -> why a lower app's model points up at a higher app's model.
UPWARD_RELATIONS = {
    ("connectors.ConnectorAccount", "merchant"): "an account holds one merchant's credentials at one bank",
    ("connectors.ConnectorCall", "payment"): "the call log says which payment a bank call was for",
    ("connectors.ConnectorCall", "attempt"): "... which attempt",
    ("connectors.ConnectorCall", "refund"): "... which refund",
}


# -- reading the code -----------------------------------------------------------------------


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def is_test_code(module: str) -> bool:
    parts = module.split(".")
    return "tests" in parts or module == TEST_SUPPORT or module.startswith(TEST_SUPPORT + ".")


def imports_of(source: str, module: str, *, is_package: bool = False, top_level_only: bool = False):
    """(line, imported module) for each import in ``source``. With ``top_level_only``, only the
    imports that run when the module is imported (not inside functions or TYPE_CHECKING)."""
    tree = ast.parse(source)
    if top_level_only:
        nodes = []
        pending = list(tree.body)
        while pending:
            node = pending.pop()
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, (ast.If, ast.Try, ast.With)):
                pending += [child for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt)]
                if isinstance(node, ast.Try):
                    pending += [stmt for handler in node.handlers for stmt in handler.body]
            nodes.append(node)
    else:
        nodes = list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join(package + ([base] if base else []))
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def our_modules(root: Path = ROOT) -> dict[str, Path]:
    modules = {}
    for app in LAYERS:
        for path in (root / app).rglob("*.py"):
            modules[module_name(path, root)] = path
    return modules


def layer_of(module: str) -> int | None:
    return LAYERS.get(module.split(".")[0])


def wrong_way(importer: str, imported: str) -> bool:
    here, there = layer_of(importer), layer_of(imported)
    if here is None or there is None:
        return False
    if imported.split(".")[0] == "pagoflex":
        return importer.split(".")[0] != "pagoflex"
    return there > here


def direction_violations(modules: dict[str, Path], root: Path = ROOT) -> list[str]:
    """Every import from a module (not test code) into a higher app, or into the test support
    when something the support imports reaches above the importer's app."""
    graph = {name: _known_targets(name, path, modules) for name, path in modules.items()}
    found = []
    for name, path in sorted(modules.items()):
        if is_test_code(name):
            continue
        for line, imported in imports_of(path.read_text(), name, is_package=path.name == "__init__.py"):
            where = f"{path.relative_to(root)}:{line}"
            if wrong_way(name, imported):
                found.append(f"{where}: {name} imports {imported}")
            elif is_test_code(imported) and imported in modules:
                above = sorted(reached for reached in _reach(imported, graph) if wrong_way(name, reached))
                if above:
                    found.append(f"{where}: {name} imports {imported}, which reaches {above[0]}")
    return found


def _known_targets(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    targets = set()
    for _, imported in imports_of(path.read_text(), name, is_package=path.name == "__init__.py"):
        parts = imported.split(".")
        targets.update(".".join(parts[:i]) for i in range(1, len(parts) + 1) if ".".join(parts[:i]) in modules)
    targets.discard(name)
    return targets


def _reach(start: str, graph: dict[str, set[str]]) -> set[str]:
    seen, pending = set(), [start]
    while pending:
        for target in graph.get(pending.pop(), ()):
            if target not in seen:
                seen.add(target)
                pending.append(target)
    return seen


def import_cycles(modules: dict[str, Path]) -> list[list[str]]:
    """Circles of import-time imports between the runtime modules of one app. Importing
    ``a.b.c`` runs ``a/__init__.py`` and ``a/b/__init__.py`` first, so those count too."""
    runtime = {name: path for name, path in modules.items() if not is_test_code(name) and ".migrations" not in name}
    graph = {}
    for name, path in runtime.items():
        targets = set()
        for _, imported in imports_of(path.read_text(), name, is_package=path.name == "__init__.py",
                                      top_level_only=True):
            parts = imported.split(".")
            for i in range(1, len(parts) + 1):
                candidate = ".".join(parts[:i])
                if candidate in runtime and candidate != name and not name.startswith(candidate + "."):
                    targets.add(candidate)
        graph[name] = targets
    return _strongly_connected(graph)


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


# -- the rules ------------------------------------------------------------------------------


def test_apps_import_only_downwards():
    violations = direction_violations(our_modules())

    assert violations == [], "imports against webhooks -> payments -> connectors (docs/architecture.md):\n" + "\n".join(
        violations
    )


def test_no_modules_import_each_other_in_a_circle_at_import_time():
    cycles = import_cycles(our_modules())

    assert cycles == [], "modules that import each other when imported (give the shared piece a home):\n" + "\n".join(
        " <-> ".join(cycle) for cycle in cycles
    )


@pytest.mark.django_db
def test_models_point_up_only_where_the_architecture_says_why():
    from django.apps import apps

    upward = set()
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if not field.is_relation or field.auto_created or field.related_model is None:
                continue
            here, there = LAYERS.get(model._meta.app_label), LAYERS.get(field.related_model._meta.app_label)
            if here is not None and there is not None and there > here:
                upward.add((f"{model._meta.app_label}.{model.__name__}", field.name))

    assert upward == set(UPWARD_RELATIONS)


# -- the check itself catches what it must --------------------------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> dict[str, Path]:
    for name, source in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    for app in LAYERS:
        (tmp_path / app).mkdir(exist_ok=True)
    return our_modules(tmp_path)


def test_the_check_finds_an_import_against_the_direction_even_inside_a_function(tmp_path):
    modules = _tree(tmp_path, {
        "connectors/__init__.py": "",
        "connectors/base.py": "from connectors import amounts\n\ndef f():\n    from payments import models\n",
        "connectors/amounts.py": "",
        "payments/__init__.py": "",
        "payments/models.py": "import connectors.base\nfrom webhooks.models import MerchantEvent\n",
        "payments/tasks.py": "from pagoflex.celery import app\n",
        "webhooks/__init__.py": "",
        "webhooks/models.py": "from payments.models import Mode\nfrom . import tasks\n",
        "webhooks/tasks.py": "",
    })

    assert direction_violations(modules, tmp_path) == [
        "connectors/base.py:4: connectors.base imports payments",
        "connectors/base.py:4: connectors.base imports payments.models",
        "payments/models.py:2: payments.models imports webhooks.models",
        "payments/models.py:2: payments.models imports webhooks.models.MerchantEvent",
        "payments/tasks.py:1: payments.tasks imports pagoflex.celery",
        "payments/tasks.py:1: payments.tasks imports pagoflex.celery.app",
    ]


def test_the_check_lets_test_code_import_anything_but_not_lend_it_to_runtime_code(tmp_path):
    modules = _tree(tmp_path, {
        "connectors/testing/__init__.py": "",
        "connectors/testing/simulator.py": "import json\n",
        "connectors/testing/conformance.py": "from payments.services import sync\n",
        "connectors/sandbox/tests/test_flows.py": "from webhooks.inbound import receive\n",
        "connectors/sandbox/simulator.py": "from connectors.testing.simulator import route\n",
        "connectors/sandbox/adapter.py": "from connectors.testing import conformance\n",
        "payments/services/sync.py": "",
    })

    assert direction_violations(modules, tmp_path) == [
        "connectors/sandbox/adapter.py:1: connectors.sandbox.adapter imports connectors.testing.conformance, "
        "which reaches payments.services.sync",
    ]


def test_the_check_finds_a_circle_through_a_package_init(tmp_path):
    modules = _tree(tmp_path, {
        "payments/__init__.py": "",
        "payments/services/__init__.py": "from payments.services.routing import plan\n",
        "payments/services/routing.py": "from payments.rules import decide\n",
        "payments/services/errors.py": "",
        "payments/rules.py": "from payments.services.errors import PaymentError\n\ndef f():\n    import payments.x\n",
        "connectors/base.py": "from connectors.http import send\n",
        "connectors/http.py": "def f():\n    from connectors.base import HttpResponse\n",
    })

    assert import_cycles(modules) == [["payments.rules", "payments.services", "payments.services.routing"]]
