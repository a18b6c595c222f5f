"""Pagoflex's settings plus the benchmark's framework-floor endpoint (``bench/framework_floor.py``);
used by the gunicorn that ``make bench`` starts, never by the product."""

from pagoflex.settings import *  # noqa: F403

ROOT_URLCONF = "bench.framework_floor"
