"""The sandbox bank for the benchmark: the same simulator, in its own process, telling how long
it worked on each request in a ``Server-Timing: app;dur=<ms>`` header (Pagoflex keeps response
headers in its call log, so the bank's own time per payment is known afterwards).

    python -m bench.sandbox_bank --port 8001 --api-key K --webhook-secret S
"""

from __future__ import annotations

import argparse
import time

from connectors.sandbox.simulator import SandboxSimulator
from connectors.testing.simulator import serve_forever


class TimedSandbox(SandboxSimulator):
    def __call__(self, environ, start_response):
        started = time.perf_counter()

        def timed_start_response(status, headers, exc_info=None):
            elapsed_ms = (time.perf_counter() - started) * 1000
            return start_response(status, [*headers, ("Server-Timing", f"app;dur={elapsed_ms:.3f}")], exc_info)

        return super().__call__(environ, timed_start_response)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--webhook-secret", required=True)
    args = parser.parse_args(argv)
    serve_forever(TimedSandbox(accounts={args.api_key: args.webhook_secret}), args.host, args.port)


if __name__ == "__main__":
    main()
