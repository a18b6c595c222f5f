"""Sweep benchmark: items/s and peak memory of the payment sync sweep at 10k and 100k pending
attempts. Not part of `make test`; run it with `make bench-sweep` (SQLite) or
`DATABASE_URL=postgres://... make bench-sweep` (PostgreSQL).

It builds a throwaway test database (Django's test-database machinery: ``test_<name>``, dropped
at the end), fills it with N payments whose attempts are ``pending`` and due, and measures two
passes over them:

- **claim**: the sweep alone (claim batches ``FOR UPDATE SKIP LOCKED``, push the lease, hand
  each id to a no-op enqueue) - what a beat tick costs;
- **full**: claim and run each item's task in this process, as a worker would: the psync call,
  the answer applied under row locks, the status change and its merchant event in the outbox.

Connector answers are simulated by ``BenchConnector``, registered for this script only: it
answers every status query "charged" without a network round trip (the connector call is
still logged, like the real HTTP executor does), so the figures are Pagoflex's own cost.
Memory is the process's resident set, sampled every 20 ms during each pass: flat memory
means the peak does not grow with N.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pagoflex.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from connectors.base import Connector, ConnectorRequest, ConnectorResponse, HttpResponse  # noqa: E402
from connectors.http import ConnectorCallRecord  # noqa: E402
from connectors.registry import register  # noqa: E402
from payments.statuses import AttemptStatus  # noqa: E402


@register
class BenchConnector(Connector):
    """A bank that settles every pending payment on its first status query, instantly."""

    key = "bench"
    display_name = "Benchmark bank (simulated answers)"
    default_base_url = "http://bench.invalid"

    def build_authorize(self, data):
        return self.json_request("POST", "/charges", {"amount": data.amount})

    def build_psync(self, data):
        return self.json_request("GET", f"/charges/{data.attempt_reference}")

    def handle_psync(self, data, response):
        return ConnectorResponse(status=AttemptStatus.CHARGED, connector_reference=f"bench_{data.attempt_reference}",
                                 raw_status="captured", amount=data.amount, currency=data.currency,
                                 amount_captured=data.amount)

    def execute_request(self, request: ConnectorRequest, flow) -> HttpResponse:
        body = b'{"status": "captured"}'
        self.calls.append(ConnectorCallRecord(flow=str(getattr(flow, "value", flow)), method=request.method,
                                              url=request.url, request_headers={}, request_body="",
                                              status_code=200, response_body=body.decode(), started_at=time.time()))
        return HttpResponse(status_code=200, headers={"Content-Type": "application/json"}, body=body)


class RssSampler:
    """Peak resident set size (MiB) of this process while the block runs."""

    def __init__(self, interval: float = 0.02):
        self.interval = interval
        self.peak = self.start = _rss_mib()
        self._stop = threading.Event()

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, _rss_mib())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mib())


class Progress:
    """Prints the rate and memory of each tenth of a pass: a flat rate is linear time."""

    def __init__(self, total: int):
        self.total, self.done, self.lock = total, 0, threading.Lock()
        self.mark = self.started = time.perf_counter()

    def tick(self) -> None:
        with self.lock:
            self.done += 1
            if self.done % max(self.total // 10, 1) == 0:
                now = time.perf_counter()
                rate = max(self.total // 10, 1) / (now - self.mark)
                print(f"         {self.done:>8} done: {rate:,.0f} items/s over the last tenth, "
                      f"RSS {_rss_mib():.1f} MiB", flush=True)
                self.mark = now


def _rss_mib() -> float:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:  # not Linux: the lifetime peak is the best there is
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def populate(count: int) -> None:
    """``count`` payments in ``processing`` whose attempt is ``pending`` and due now."""
    from connectors.models import ConnectorAccount
    from payments.models import Merchant, PaymentAttempt, PaymentOperation

    merchant = Merchant.objects.create(name="Benchmark merchant")
    account = ConnectorAccount(merchant=merchant, connector="bench", label="bench", mode="test")
    account.set_credentials({})
    account.save()
    due = timezone.now() - timezone.timedelta(seconds=1)
    chunk = 5000
    for start in range(0, count, chunk):
        size = min(chunk, count - start)
        payments = PaymentOperation.objects.bulk_create([
            PaymentOperation(merchant=merchant, mode="test", amount=1000 + i % 500, currency="EUR",
                             status="processing", payment_method_type="card")
            for i in range(size)
        ])
        PaymentAttempt.objects.bulk_create([
            PaymentAttempt(payment=payment, connector_account=account, connector="bench", status="pending",
                           amount=payment.amount, currency="EUR", next_sync_at=due)
            for payment in payments
        ])


def reset(count: int) -> None:
    from connectors.models import ConnectorAccount, ConnectorCall
    from payments.models import Merchant, PaymentAttempt, PaymentEvent, PaymentOperation
    from webhooks.models import MerchantEvent

    for model in (MerchantEvent, ConnectorCall, PaymentEvent, PaymentAttempt, PaymentOperation, ConnectorAccount,
                  Merchant):
        model.objects.all().delete()
    populate(count)


def measure(count: int, batch_size: int, workers: int) -> dict:
    from payments.models import PaymentAttempt
    from payments.services import sweeps

    reset(count)
    with RssSampler() as claim_memory:
        started = time.perf_counter()
        claimed = sweeps.sweep_due_attempts(enqueue=lambda pk, token: None, batch_size=batch_size,
                                            max_batches=count // batch_size + 2)
        claim_seconds = time.perf_counter() - started
    assert claimed == count, (claimed, count)
    PaymentAttempt.objects.update(next_sync_at=timezone.now() - timezone.timedelta(seconds=1))

    print(f"{count:>8} | {count / claim_seconds:>13,.0f} {claim_seconds:>7.1f} {claim_memory.peak:>12.1f} "
          f"{claim_memory.peak - claim_memory.start:>7.1f} | (full pass running)", flush=True)
    outcomes = Counter()
    lock = threading.Lock()
    progress = Progress(count)

    def worker():
        mine = Counter()

        def work(pk, token):
            mine[sweeps.sync_claimed_attempt(attempt_pk=pk, token=token)] += 1
            progress.tick()

        try:
            sweeps.sweep_due_attempts(enqueue=work, batch_size=batch_size, max_batches=count // batch_size + 2)
        finally:
            with lock:
                outcomes.update(mine)
            if threading.current_thread() is not threading.main_thread():
                connection.close()

    with RssSampler() as full_memory:
        started = time.perf_counter()
        if workers == 1:
            worker()
        else:
            threads = [threading.Thread(target=worker) for _ in range(workers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        full_seconds = time.perf_counter() - started
    settled = PaymentAttempt.objects.filter(status="charged").count()
    assert settled == count == outcomes["synced"], f"only {settled} of {count} settled ({dict(outcomes)})"
    return {"count": count, "claim_rate": count / claim_seconds, "claim_seconds": claim_seconds,
            "claim_peak": claim_memory.peak, "claim_growth": claim_memory.peak - claim_memory.start,
            "full_rate": count / full_seconds, "full_seconds": full_seconds, "full_peak": full_memory.peak,
            "full_growth": full_memory.peak - full_memory.start}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--batch-size", type=int, default=settings.SWEEP_BATCH_SIZE)
    parser.add_argument("--workers", type=int, default=1,
                        help="threads sweeping and syncing at once in the full pass, like worker processes "
                             "(PostgreSQL only: SQLite has one writer)")
    args = parser.parse_args(argv)
    if connection.vendor == "sqlite":
        args.workers = 1

    settings.DEBUG = False  # no query log kept in memory
    # Stopped early (Ctrl-C, kill): still drop the benchmark's database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    if connection.vendor == "sqlite":
        # A file, like a real deployment, not the in-memory test database.
        (REPO / "var").mkdir(exist_ok=True)
        connection.settings_dict["TEST"]["NAME"] = str(REPO / "var" / "bench-sweep.sqlite3")
    test_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    print(f"database: {connection.vendor} ({test_name}); batch size {args.batch_size}; {args.workers} worker(s) "
          "in the full pass; simulated connector answers")
    print(f"{'pending':>8} | {'claim items/s':>13} {'s':>7} {'peak RSS MiB':>12} {'growth':>7} | "
          f"{'full items/s':>12} {'s':>7} {'peak RSS MiB':>12} {'growth':>7}")
    try:
        for size in args.sizes:
            r = measure(size, args.batch_size, args.workers)
            print(f"{r['count']:>8} | {r['claim_rate']:>13,.0f} {r['claim_seconds']:>7.1f} {r['claim_peak']:>12.1f} "
                  f"{r['claim_growth']:>7.1f} | {r['full_rate']:>12,.0f} {r['full_seconds']:>7.1f} "
                  f"{r['full_peak']:>12.1f} {r['full_growth']:>7.1f}", flush=True)
    finally:
        connection.creation.destroy_test_db(test_name, verbosity=0)


if __name__ == "__main__":
    main()
