"""The load generator: runs a plan of HTTP requests with a pool of threads, in its own process.

    python -m bench.load PLAN.json RESULT.json --concurrency 16 --max-seconds 60 [--rate 80]

Closed loop by default: each of ``concurrency`` clients sends its next request when the last one
is answered, so the server's speed sets the rate. With ``--rate`` the loop is open: request i is
due at i / rate seconds, whatever the answers do (``concurrency`` is then the most in flight), and
its latency counts from when it was due, so waiting for a free client is counted too, and
``late`` says how much of it passed before the request was sent (the generator's own lag: a
client still busy, or a thread the machine woke up late); ``sent_at`` is the wall-clock time it
was sent.

A plan is {"base_url": ..., "requests": [{"method", "path", "headers", "body"}, ...]}. Every
request is sent once (bounded in count) unless the time bound ends the run first. The result
holds, per request sent: its index, HTTP status, latency in seconds, the answer's ``id`` and
its Server-Timing duration when the server sent one. Each thread keeps one connection open
(http.client, far cheaper per request than a full HTTP library, so the generator's own CPU
weighs as little as possible on the machine it shares with the servers).
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import threading
import time
from urllib.parse import urlsplit

SERVER_TIMING_RE = re.compile(r"dur=([0-9.]+)")
ID_RE = re.compile(rb'"id"\s*:\s*"([^"]+)"')


class Client:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.connection = None

    def send(self, method: str, path: str, headers: dict, body: bytes | None):
        for retry in (False, True):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
                if response.getheader("Connection", "").lower() == "close" or response.version == 10:
                    self.close()
                return response, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # The server closed a kept-alive connection between requests: reconnect once.
                self.close()
                if retry:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def run(plan: dict, concurrency: int, max_seconds: float, rate: float | None = None) -> dict:
    base = urlsplit(plan["base_url"])
    requests_ = plan["requests"]
    results: list[dict | None] = [None] * len(requests_)
    next_index = iter(range(len(requests_)))
    lock = threading.Lock()
    deadline = time.monotonic() + max_seconds
    origin = time.perf_counter()

    def worker():
        client = Client(base.hostname, base.port)
        while time.monotonic() < deadline:
            with lock:
                index = next(next_index, None)
            if index is None:
                break
            spec = requests_[index]
            body = json.dumps(spec["body"]).encode() if isinstance(spec.get("body"), (dict, list)) else (
                spec["body"].encode() if spec.get("body") else None)
            headers = {"Content-Type": "application/json", **spec.get("headers", {})}
            started = time.perf_counter()
            late = 0.0
            if rate:
                due = origin + index / rate
                if due > started:
                    time.sleep(due - started)
                late = max(0.0, time.perf_counter() - due)
                started = due
            sent_at = time.time()  # wall clock, to set beside the server's own timestamps
            try:
                response, data = client.send(spec["method"], spec["path"], headers, body)
            except OSError as exc:
                results[index] = {"i": index, "status": 0, "latency": time.perf_counter() - started,
                                  "error": type(exc).__name__}
                client.close()
                continue
            latency = time.perf_counter() - started
            found = ID_RE.search(data)
            timing = SERVER_TIMING_RE.search(response.getheader("Server-Timing") or "")
            results[index] = {"i": index, "status": response.status, "latency": latency, "late": late, "sent_at": sent_at,
                              "id": found.group(1).decode() if found else None,
                              "server_ms": float(timing.group(1)) if timing else None}
            if response.status >= 400 and "error" not in results[index]:
                results[index]["error"] = data[:300].decode("utf-8", "replace")
        client.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max_seconds + 120)
    elapsed = time.perf_counter() - started
    done = [r for r in results if r is not None]
    return {"elapsed": elapsed, "concurrency": concurrency, "rate": rate, "planned": len(requests_), "results": done}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run a plan of HTTP requests with a thread pool.")
    parser.add_argument("plan")
    parser.add_argument("result")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=None, help="requests per second (open loop)")
    args = parser.parse_args(argv)
    with open(args.plan) as handle:
        plan = json.load(handle)
    outcome = run(plan, args.concurrency, args.max_seconds, args.rate)
    with open(args.result, "w") as handle:
        json.dump(outcome, handle)


if __name__ == "__main__":
    main()
