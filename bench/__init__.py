"""The benchmark: `make bench` runs `bench/run.py` (see docs/performance.md)."""
