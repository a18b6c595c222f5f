"""What operators see of a running Pagoflex: request ids, structured logs and metrics.

A library at the bottom of the house, like ``connectors``: every app may import it and it imports
none of them (docs/architecture.md). The project (``pagoflex/``) serves what it gathers:
``/healthz``, ``/readyz`` and ``/metrics`` (pagoflex/health.py, pagoflex/metrics.py).
"""
