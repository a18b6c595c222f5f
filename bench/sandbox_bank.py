"""The sandbox bank for the benchmark: the same simulator, in its own process, telling how long
it worked on each request in a ``Server-Timing: app;dur=<ms>`` header (Pagoflex keeps response
headers in its call log, so the bank's own time per payment is known afterwards).

A real bank answers in hundreds of milliseconds, and a few of its answers hang. ``--latency``
makes every POST (a charge, a capture, a refund) wait before it is answered, ``fixed:MS`` or
``lognormal:P50MS:P99MS`` (a long tail); ``--hang-fraction`` of them are handled at once and then
answered only after ``--hang-seconds`` (past Pagoflex's read timeout: the bank acted, the answer
is lost, and the payment must be settled by sync). Status queries and the health check answer at
once.

    python -m bench.sandbox_bank --port 8001 --api-key K --webhook-secret S [--latency fixed:300]
"""

from __future__ import annotations

import argparse
import math
import random
import threading
import time

from connectors.sandbox.simulator import SandboxSimulator
from connectors.testing.simulator import serve_forever

# Standard normal quantile at 0.99: a lognormal with median m and 99th percentile p has
# sigma = ln(p / m) / Z99.
Z99 = 2.3263478740


class BankLatency:
    """How long the bank takes to answer one POST, in seconds, and whether it hangs."""

    def __init__(self, spec: str = "none", hang_fraction: float = 0.0, hang_seconds: float = 0.0, seed: int = 7):
        kind, *values = spec.split(":")
        if kind not in ("none", "fixed", "lognormal"):
            raise ValueError(f"unknown latency {spec!r}: none, fixed:MS or lognormal:P50MS:P99MS")
        self.kind = kind
        self.values = [float(v) / 1000 for v in values]
        self.hang_fraction, self.hang_seconds = hang_fraction, hang_seconds
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def draw(self) -> tuple[float, bool]:
        with self._lock:
            hangs = self._random.random() < self.hang_fraction
            if self.kind == "fixed":
                delay = self.values[0]
            elif self.kind == "lognormal":
                median, p99 = self.values
                delay = self._random.lognormvariate(math.log(median), math.log(p99 / median) / Z99)
            else:
                delay = 0.0
        return delay, hangs


class TimedSandbox(SandboxSimulator):
    def __init__(self, *args, latency: BankLatency | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.latency = latency or BankLatency()

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        delay, hangs = self.latency.draw() if environ.get("REQUEST_METHOD") == "POST" else (0.0, False)

        def timed_start_response(status, headers, exc_info=None):
            elapsed_ms = (time.perf_counter() - started) * 1000
            return start_response(status, [*headers, ("Server-Timing", f"app;dur={elapsed_ms:.3f}")], exc_info)

        if delay:
            time.sleep(delay)
        if not hangs:
            return super().__call__(environ, timed_start_response)
        answer = list(super().__call__(environ, timed_start_response))  # the bank acts at once...
        time.sleep(self.latency.hang_seconds)  # ...and its answer arrives too late
        return answer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--webhook-secret", required=True)
    parser.add_argument("--latency", default="none", help="none, fixed:MS or lognormal:P50MS:P99MS")
    parser.add_argument("--hang-fraction", type=float, default=0.0)
    parser.add_argument("--hang-seconds", type=float, default=0.0)
    args = parser.parse_args(argv)
    latency = BankLatency(args.latency, args.hang_fraction, args.hang_seconds)
    serve_forever(TimedSandbox(accounts={args.api_key: args.webhook_secret}, latency=latency), args.host, args.port)


if __name__ == "__main__":
    main()
