"""The connector factory: key -> connector class.

Each connector folder registers its adapter with ``@register``; the app config imports every
``connectors/<name>/adapter.py`` at start-up so registration needs no list kept by hand.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

_registry: dict[str, type] = {}


class UnknownConnector(KeyError):
    pass


def register(cls):
    for key in (cls.key, *cls.aliases):
        normalized = key.lower()
        existing = _registry.get(normalized)
        if existing is not None and existing is not cls:
            raise ValueError(f"connector key {key!r} is already registered to {existing.__name__}")
        _registry[normalized] = cls
    return cls


def get_connector_class(key: str):
    try:
        return _registry[(key or "").lower()]
    except KeyError:
        raise UnknownConnector(f"no connector is registered under {key!r}") from None


def connector_keys() -> list[str]:
    """Canonical keys (no aliases), sorted."""
    return sorted({cls.key for cls in _registry.values()})


def all_connectors() -> list[type]:
    return [get_connector_class(key) for key in connector_keys()]


def autodiscover() -> None:
    package_dir = Path(__file__).resolve().parent
    for module in pkgutil.iter_modules([str(package_dir)]):
        if module.ispkg and (package_dir / module.name / "adapter.py").exists():
            importlib.import_module(f"connectors.{module.name}.adapter")
