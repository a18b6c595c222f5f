"""Serving under a bank's latency: the scenarios of ``make bench`` that ask whether the bank's
latency, a hung bank or a slow client sets Pagoflex's throughput (docs/performance.md).

Two servers run side by side on one database, so every comparison is made in one run:

- ``sync x3``: today's three sync gunicorn workers, each holding a persistent connection;
- ``production``: ``pagoflex/gunicorn.conf.py`` as shipped (gthread workers, a bounded pool of
  database connections per process, the connection given back around every bank call);
- ``gevent``, when gevent is installed: the same configuration with cooperative greenlets instead
  of threads (the other candidate, docs/architecture.md);
- ``slots=K`` for each ``--running-slots`` value: the production configuration with K requests
  per process running at once (``REQUESTS_RUNNING_PER_PROCESS``, 1 as shipped; 0, the default
  candidate, lets every thread run), for the no-latency, 300 ms and 70 % open-loop scenarios.

The closed-loop rates (no latency, and the 300 ms bank but for sync x3) are measured in rounds
(``--closed-loop-rounds``, 3 by default), each server once a round, one after the other; the
ratios are taken within a round and the median of the rounds is reported, because two
closed-loop scenarios a minute apart on a shared 2-core machine differ by 10-20 % whatever runs.

Banks, each the sandbox simulator in its own process: one that answers at once, one that answers
after a fixed 300 ms, and one whose answers follow a long tail (p50 250 ms, p99 2 s) and hang
past Pagoflex's read timeout on 5 % of payments (the bank acts, the answer is lost).

For each scenario: payments/s, p50/p99 (ms), errors, the peak memory (PSS) of all the server's
processes and the peak number of PostgreSQL connections it held, sampled every 0.2 s, and the
server's CPU time per answered payment (user + system, all its processes, from /proc).
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import statistics
import threading
import time
from pathlib import Path

import psycopg

from bench import servers
from bench.run import BANK_KEY, BANK_SECRET, bank_time_by_object, load, payment_request, percentile, summarize

CLIENTS = 128
SLOW_CLIENTS = 10
FIXED_LATENCY = "fixed:300"
LONG_TAIL = "lognormal:250:2000"
HANG_FRACTION = 0.05
TARGETS = {
    "production / sync x3, no latency": 0.95,
    "300 ms bank / no latency": 0.90,
    "long tail + hangs, others / 300 ms bank": 0.80,
    "max PostgreSQL connections": 20,
    "max memory MiB": 1024,
    "slow clients p99 growth ms": 50,
    "p99 over bank p99 ms": 150,
}


class Sampler:
    """Peak memory of a server's processes and peak PostgreSQL connections of one application
    name, sampled in a thread while a scenario runs."""

    def __init__(self, server: servers.ProcessServer, database_url: str, application_name: str):
        self.server, self.application_name = server, application_name
        self.database_url = database_url
        self.peak_memory_bytes = 0
        self.peak_connections = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            while not self._stop.is_set():
                self.sample(conn)
                self._stop.wait(0.2)
            self.sample(conn)

    def sample(self, conn) -> None:
        count = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                             [self.application_name]).fetchone()[0]
        self.peak_connections = max(self.peak_connections, count)
        self.peak_memory_bytes = max(self.peak_memory_bytes, memory_bytes([self.server.pid, *self.server.children()]))


def memory_bytes(pids) -> int:
    """Proportional set size (shared pages divided among the processes sharing them) of these
    processes: what they cost the machine together, unlike RSS, which counts shared pages once
    per process."""
    total = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1]) * 1024
                break
    return total


def trickle(url: str, path: str, stop: threading.Event, body_bytes: int = 100_000,
            authorization: str | None = None) -> None:
    """One slow client: announces a body of ``body_bytes`` and sends one byte a second.

    With a valid ``authorization`` it is a merchant on a bad link, whose body the server must
    read to the end; without one, and with a body over the API's limit, it is refused before its
    body is read (401/413 with "Connection: close") and the server must still let it go."""
    host, port = url.removeprefix("http://").split(":")
    auth = f"Authorization: {authorization}\r\n" if authorization else ""
    try:
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{auth}"
                         f"Content-Length: {body_bytes}\r\n\r\n".encode())
            while not stop.wait(1.0):
                sock.sendall(b" ")
    except OSError:
        pass  # the server gave up on it: that is its right


def run_serving(args, *, env: dict, database_url: str, stamp: str, logs: Path) -> dict:
    """Start the banks and both servers, run the scenarios, return the rows and the verdicts."""
    from connectors.models import ConnectorAccount
    from payments.models import ApiKey, Merchant

    read_timeout = float(os.environ.get("BENCH_READ_TIMEOUT", "30"))
    banks = {
        "none": servers.sandbox_bank(api_key=BANK_KEY, webhook_secret=BANK_SECRET, log_path=logs / f"bank0-{stamp}.log"),
        "fixed": servers.sandbox_bank(api_key=BANK_KEY, webhook_secret=BANK_SECRET, latency=FIXED_LATENCY,
                                      log_path=logs / f"bank300-{stamp}.log"),
        "tail": servers.sandbox_bank(api_key=BANK_KEY, webhook_secret=BANK_SECRET, latency=LONG_TAIL,
                                     hang_fraction=HANG_FRACTION, hang_seconds=read_timeout + 2,
                                     log_path=logs / f"banktail-{stamp}.log"),
    }
    server_env = {key: value for key, value in env.items() if key not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")}
    server_env["CONNECTOR_READ_TIMEOUT"] = str(read_timeout)
    sync3 = servers.gunicorn(database=f"{database_url}?conn_max_age=600&application_name=bench-sync3", workers=3,
                             extra_env=server_env, log_path=logs / f"sync3-{stamp}.log")
    production = servers.gunicorn_production(database=f"{database_url}?application_name=bench-production",
                                             extra_env=server_env, log_path=logs / f"production-{stamp}.log")
    # The third candidate, cooperative workers: the same configuration with gevent's greenlets in
    # place of threads (psycopg cooperates with gevent from 3.1.14). Measured when gevent is
    # installed (``pip install gevent``); not a dependency of the product.
    gevent = None
    if importlib.util.find_spec("gevent") is not None:
        gevent = servers.gunicorn_production(database=f"{database_url}?application_name=bench-gevent",
                                             extra_env={**server_env, "GUNICORN_PRELOAD": "false"}, log_path=logs / f"gevent-{stamp}.log",
                                             worker_class="gevent")
    shipped_slots = _shipped_running_slots()
    candidates = {}
    for value in sorted({int(v) for v in args.running_slots.split(",") if v.strip()} - {shipped_slots}):
        candidates[value] = servers.gunicorn_production(
            database=f"{database_url}?application_name=bench-slots{value}", log_path=logs / f"slots{value}-{stamp}.log",
            extra_env={**server_env, "REQUESTS_RUNNING_PER_PROCESS": str(value)})
    started = []
    try:
        for server in [*banks.values(), sync3, production, *([gevent] if gevent else []), *candidates.values()]:
            started.append(server.start(timeout=60))
        keys = {}
        for name, bank in banks.items():
            merchant = Merchant.objects.create(name=f"Serving bench, bank {name}")
            _, keys[name] = ApiKey.issue(merchant)
            account = ConnectorAccount(merchant=merchant, connector="sandbox", label=f"bank {name}", mode="test",
                                       base_url_override=bank.base_url)
            account.set_credentials({"api_key": BANK_KEY, "webhook_secret": BANK_SECRET})
            account.save()
        return _scenarios(args, keys, sync3, production, gevent, candidates, shipped_slots, database_url,
                          read_timeout)
    finally:
        for server in reversed(started):
            server.stop()


def _shipped_running_slots() -> int:
    """REQUESTS_RUNNING_PER_PROCESS as pagoflex/gunicorn.conf.py sets it when the environment does not."""
    found = re.search(r'setdefault\("REQUESTS_RUNNING_PER_PROCESS", "(\d+)"\)', servers.PRODUCTION_CONFIG.read_text())
    if found is None:
        raise SystemExit("pagoflex/gunicorn.conf.py no longer sets REQUESTS_RUNNING_PER_PROCESS the way the bench reads it")
    return int(found.group(1))


def _scenarios(args, keys, sync3, production, gevent, candidates, shipped_slots, database_url,
               read_timeout) -> dict:
    rows: list[dict] = []
    limit = args.max_seconds
    n = args.serving_requests

    def plan(bank: str, count: int) -> list[dict]:
        return [payment_request({"Authorization": f"Bearer {keys[bank]}"}) for _ in range(count)]

    def scenario(name, server, application, bank, *, count=n, concurrency=CLIENTS, rate=None, slow=0,
                 seconds=limit):
        load(server.base_url, plan(bank, min(count, 2 * concurrency)), concurrency=concurrency,
             max_seconds=seconds)  # warm up: every thread and pooled connection opened
        stop = threading.Event()
        # Half of them authenticated and read to the end, half refused unread (a body over 256 KiB).
        tricklers = [threading.Thread(target=trickle, args=(server.base_url, "/v1/payments", stop), daemon=True,
                                      kwargs={"authorization": f"Bearer {keys[bank]}"} if i % 2 == 0
                                      else {"body_bytes": 1_000_000})
                     for i in range(slow)]
        for thread in tricklers:
            thread.start()
        time.sleep(1.0 if slow else 0)
        cpu_before = server.cpu_seconds()
        with Sampler(server, database_url, application) as sampler:
            outcome = load(server.base_url, plan(bank, count), concurrency=concurrency, max_seconds=seconds,
                           rate=rate)
        # The server's own CPU per answered payment: unlike the rate, it does not move with what
        # else the machine runs that minute, only with what a payment costs this server.
        answered = sum(1 for r in outcome["results"] if 200 <= r["status"] < 300)
        outcome["pagoflex_cpu_ms"] = (server.cpu_seconds() - cpu_before) * 1000 / max(answered, 1)
        stop.set()
        row = summarize(name, outcome, None)
        ok_ids = [r["id"] for r in outcome["results"] if 200 <= r["status"] < 300 and r.get("id")]
        row.update(server=application.removeprefix("bench-"), bank=bank, clients=concurrency, offered_rate=rate,
                   slow_clients=slow, peak_memory_mib=sampler.peak_memory_bytes / 2**20,
                   peak_postgres_connections=sampler.peak_connections)
        row["_outcome"] = outcome
        row["_ids"] = ok_ids
        rows.append(row)
        print(f"  {name:52} {row['rps']:7.1f}/s p50 {row['p50_ms']:7.1f} p99 {row['p99_ms']:7.1f} err "
              f"{row['errors']:4} mem {row['peak_memory_mib']:6.0f} MiB pg {row['peak_postgres_connections']:3} "
              f"cpu {row['pagoflex_cpu_ms_per_request']:5.1f} ms",
              flush=True)
        return row

    print(f"\nserving scenarios ({CLIENTS} clients unless an offered rate is given; read timeout {read_timeout:.0f} s):")
    # The closed-loop rates are measured in rounds, every server once a round, one after the other:
    # two closed-loop scenarios a minute apart differ by up to 10-20 % on this shared machine
    # whatever is measured, so a ratio is taken within each round and the median of the rounds is
    # kept. Sync x3 has no 300 ms round: it makes 9/s there (below), a contrast, not a ratio.
    contenders = [("no latency, sync x3", sync3, "bench-sync3", "none"),
                  ("no latency, production", production, "bench-production", "none"),
                  ("300 ms bank, production", production, "bench-production", "fixed"),
                  *((f"{label}, slots={v}", server, f"bench-slots{v}", bank) for v, server in candidates.items()
                    for label, bank in (("no latency", "none"), ("300 ms bank", "fixed")))]
    closed = {label: [] for label, *_ in contenders}
    for round_number in range(1, args.closed_loop_rounds + 1):
        # Each round starts one server further on, so a drift within rounds favours no one.
        start = (round_number - 1) % len(contenders)
        for label, server, application, bank in contenders[start:] + contenders[:start]:
            closed[label].append(scenario(f"{label}, round {round_number}", server, application, bank))
    base_sync_rps = statistics.median(row["rps"] for row in closed["no latency, sync x3"])
    base = {"rps": statistics.median(row["rps"] for row in closed["no latency, production"])}
    fixed = {"rps": statistics.median(row["rps"] for row in closed["300 ms bank, production"])}

    def round_ratios(label: str, against: str) -> list[float]:
        return [mine["rps"] / theirs["rps"] for mine, theirs in zip(closed[label], closed[against], strict=True)]
    against_sync = round_ratios("no latency, production", "no latency, sync x3")
    cpu_against_sync = [mine["pagoflex_cpu_ms_per_request"] / theirs["pagoflex_cpu_ms_per_request"]
                        for mine, theirs in zip(closed["no latency, production"], closed["no latency, sync x3"],
                                                strict=True)]
    bank_against_none = round_ratios("300 ms bank, production", "no latency, production")
    fixed_sync = scenario("300 ms bank, sync x3", sync3, "bench-sync3", "fixed", count=min(n, 400))
    if gevent is not None:
        scenario("no latency, gevent", gevent, "bench-gevent", "none")
        scenario("300 ms bank, gevent", gevent, "bench-gevent", "fixed")
    paced = scenario(f"300 ms bank, production, open loop at 70 % of {base['rps']:.0f}/s", production,
                     "bench-production", "fixed", rate=0.7 * base["rps"], concurrency=2 * CLIENTS)
    bank_ms = bank_time_by_object("authorize", paced["_ids"])
    bank_p99 = percentile(list(bank_ms.values()), 0.99)
    slowest = _where_the_slowest_spend_their_time(paced["_outcome"], bank_ms)
    # The same at half the rate: where the queue for the two cores (shared with the bank, the
    # generator and PostgreSQL) is short, how much of the p99 is Pagoflex's own work.
    paced_half = scenario(f"300 ms bank, production, open loop at 50 % of {base['rps']:.0f}/s", production,
                          "bench-production", "fixed", rate=0.5 * base["rps"], concurrency=2 * CLIENTS)
    bank_p99_half = percentile(list(bank_time_by_object("authorize", paced_half["_ids"]).values()), 0.99)
    compared = {}
    for value, server in candidates.items():
        name, application = f"slots={value}", f"bench-slots{value}"
        # At the same offered rate as the shipped configuration's 70 % run, so the p99s compare.
        paced_candidate = scenario(f"300 ms bank, {name}, open loop at the same rate", server, application, "fixed",
                                   rate=0.7 * base["rps"], concurrency=2 * CLIENTS)
        candidate_bank_p99 = percentile(list(bank_time_by_object("authorize", paced_candidate["_ids"]).values()), 0.99)
        compared[name] = {
            "no latency / sync x3": statistics.median(round_ratios(f"no latency, {name}", "no latency, sync x3")),
            "no latency / shipped": statistics.median(round_ratios(f"no latency, {name}", "no latency, production")),
            "300 ms bank / shipped": statistics.median(round_ratios(f"300 ms bank, {name}", "300 ms bank, production")),
            "p99 over bank p99 ms at 70 %": paced_candidate["p99_ms"] - candidate_bank_p99}

    # Long tail and hangs, open loop at the rate the 300 ms bank reached, for long enough that
    # hung payments keep arriving while earlier ones wait out the read timeout.
    tail_count = int(max(n, fixed["rps"] * (read_timeout + 15)))
    tail = scenario(f"long tail + {HANG_FRACTION:.0%} hangs, production, open loop at {fixed['rps']:.0f}/s",
                    production, "bench-production", "tail", count=tail_count, rate=fixed["rps"],
                    concurrency=4 * CLIENTS, seconds=max(limit, read_timeout * 3))
    results = tail["_outcome"]["results"]
    hung = [r for r in results if r["latency"] >= read_timeout * 0.95]
    others = [r for r in results if r["latency"] < read_timeout * 0.95]
    others_ok = [r for r in others if 200 <= r["status"] < 300]
    # Over the seconds in which payments arrived: the run itself lasts one read timeout longer,
    # waiting for the last hung answers, which says nothing of the others' rate.
    arrival_seconds = len(results) / fixed["rps"]
    tail["others_rps"] = len(others_ok) / arrival_seconds
    tail["others_errors"] = len(others) - len(others_ok)
    tail["hung"] = len(hung)
    tail["hung_answered_2xx"] = sum(1 for r in hung if 200 <= r["status"] < 300)
    tail["hung_settled_by_sync"] = _settle_by_sync(production.base_url, keys["tail"], [r.get("id") for r in hung])

    paced_base = scenario(f"no latency, production, open loop at 50 % of {base['rps']:.0f}/s", production,
                          "bench-production", "none", rate=0.5 * base["rps"], concurrency=CLIENTS)
    slow = scenario(f"the same with {SLOW_CLIENTS} slow clients trickling bodies", production, "bench-production",
                    "none", rate=0.5 * base["rps"], concurrency=CLIENTS, slow=SLOW_CLIENTS)

    ratios = {
        "production / sync x3, no latency": statistics.median(against_sync),
        "300 ms bank / no latency": statistics.median(bank_against_none),
        "long tail + hangs, others / 300 ms bank": tail["others_rps"] / fixed["rps"],
        "max PostgreSQL connections": max(r["peak_postgres_connections"] for r in rows if r["server"] == "production"),
        "max memory MiB": max(r["peak_memory_mib"] for r in rows if r["server"] == "production"),
        "slow clients p99 growth ms": slow["p99_ms"] - paced_base["p99_ms"],
        "p99 over bank p99 ms": paced["p99_ms"] - bank_p99,
    }
    print(f"\n  bank p99 (its own time, from the call log) in the open-loop 300 ms run: {bank_p99:.1f} ms; "
          f"at 50 %: p99 {paced_half['p99_ms']:.1f} ms, {paced_half['p99_ms'] - bank_p99_half:+.1f} ms over the bank's")
    print(f"  the slowest 1 % at 70 % ({slowest['payments']} payments, mean ms): {slowest['total_ms']:.0f} = "
          f"generator late {slowest['generator_late_ms']:.0f} + before the service {slowest['before_service_ms']:.0f}"
          f" + bank's own {slowest['bank_own_ms']:.0f} + around the bank call {slowest['around_bank_call_ms']:.0f}"
          f" + the service's other work {slowest['service_other_ms']:.0f} + after it {slowest['after_service_ms']:.0f}")
    print(f"  long tail: {tail['hung']} payments hung past the read timeout, {tail['hung_answered_2xx']} answered 2xx "
          f"(pending), {tail['hung_settled_by_sync']} settled by a sync afterwards; the others: "
          f"{tail['others_rps']:.1f}/s, {tail['others_errors']} errors")
    print("  closed loop, round by round (the median is kept): production / sync x3 without latency "
          + ", ".join(f"{ratio:.2f}" for ratio in against_sync)
          + "; production, 300 ms bank / no latency "
          + ", ".join(f"{ratio:.2f}" for ratio in bank_against_none)
          + f"; medians: sync x3 {base_sync_rps:.1f}/s, production {base['rps']:.1f}/s, with the 300 ms bank "
          f"{fixed['rps']:.1f}/s")
    print("  server CPU per payment, production / sync x3 without latency, round by round: "
          + ", ".join(f"{ratio:.2f}" for ratio in cpu_against_sync) + f" (median {statistics.median(cpu_against_sync):.2f})")
    print(f"  300 ms bank, sync x3 for contrast: {fixed_sync['rps']:.1f}/s, p50 {fixed_sync['p50_ms']:.0f} ms")
    for name, figures in compared.items():
        print(f"  {name} beside the shipped slots={shipped_slots}: "
              + ", ".join(f"{label} {value:+.0f}" if label.startswith("p99") else f"{label} {value:.2f}"
                          for label, value in figures.items()))
    print("\n  targets:")
    for name, target in TARGETS.items():
        value = ratios[name]
        at_least = not name.startswith(("max", "slow", "p99"))
        met = value >= target if at_least else value <= target
        shown = f"{value:.2f}" if at_least else f"{value:.1f}"
        print(f"    {name:44} {shown:>8}  target {'>=' if at_least else '<='} {target}  {'met' if met else 'NOT met'}")
    errors_without_hangs = sum(r["errors"] for r in rows if r is not tail) + tail["others_errors"]
    print(f"    {'errors (but the hung payments)':44} {errors_without_hangs:>8}  target == 0  "
          f"{'met' if errors_without_hangs == 0 else 'NOT met'}")
    for row in rows:
        row.pop("_outcome", None)
        row.pop("_ids", None)
    return {"rows": rows, "ratios": ratios, "targets": TARGETS, "bank_p99_ms": bank_p99,
            "p99 over bank p99 ms at 50 %": paced_half["p99_ms"] - bank_p99_half, "slowest 1 % at 70 %": slowest,
            "errors_but_hung": errors_without_hangs, "read_timeout_s": read_timeout,
            "closed_loop_rounds": {label: [row["rps"] for row in rows_] for label, rows_ in closed.items()},
            "cpu_per_payment_production_over_sync3_by_round": cpu_against_sync,
            "running_slots": {"shipped": shipped_slots, "candidates": compared}}


def _where_the_slowest_spend_their_time(outcome: dict, bank_ms: dict[str, float]) -> dict:
    """The slowest 1 % of an open-loop run's answered payments, their time split (means, ms) by
    the wall-clock stamps the generator and the database hold (one machine, one clock):

    - ``generator_late``: due, but not yet sent (the load generator's own lag);
    - ``before_service``: sent, until the payment row was made (accepting the connection, a
      thread taking it, middleware, the API key, reading and validating the body);
    - ``bank_own``: the bank's own time (its Server-Timing, from the call log);
    - ``around_bank_call``: the rest of the connector call as Pagoflex timed it (the HTTP client,
      loopback, and the bank's and Pagoflex's waits for a core);
    - ``service_other``: the service's other work until the payment's last save (statements,
      locks, the pool);
    - ``after_service``: from then until the generator had the answer (commit, rendering, events,
      sending it back).
    Every wait for a core, the GIL or the database shows up in the step it interrupted."""
    from connectors.models import ConnectorCall
    from payments.models import PaymentOperation

    answered = sorted((r for r in outcome["results"] if 200 <= r["status"] < 300 and r.get("id") in bank_ms
                       and "sent_at" in r), key=lambda r: r["latency"])
    slowest = answered[-max(1, len(answered) // 100):] if answered else []
    ids = [r["id"] for r in slowest]
    stamps = {public_id: (created.timestamp(), updated.timestamp()) for public_id, created, updated in
              PaymentOperation.objects.filter(public_id__in=ids).values_list("public_id", "created_at", "updated_at")}
    call_ms: dict[str, float] = {}
    for public_id, latency_ms in ConnectorCall.objects.filter(flow="authorize", payment__public_id__in=ids).values_list(
            "payment__public_id", "latency_ms"):
        call_ms[public_id] = call_ms.get(public_id, 0.0) + latency_ms
    parts: dict[str, list[float]] = {name: [] for name in (
        "total", "generator_late", "before_service", "bank_own", "around_bank_call", "service_other",
        "after_service")}
    for r in slowest:
        if r["id"] not in stamps or r["id"] not in call_ms:
            continue
        created, updated = stamps[r["id"]]
        sent, answered_at = r["sent_at"], r["sent_at"] + r["latency"] - r["late"]
        service_ms = (updated - created) * 1000
        for name, value in (("total", r["latency"] * 1000), ("generator_late", r["late"] * 1000),
                            ("before_service", (created - sent) * 1000), ("bank_own", bank_ms[r["id"]]),
                            ("around_bank_call", call_ms[r["id"]] - bank_ms[r["id"]]),
                            ("service_other", service_ms - call_ms[r["id"]]),
                            ("after_service", (answered_at - updated) * 1000)):
            parts[name].append(value)
    split = {f"{name}_ms": sum(values) / len(values) if values else float("nan") for name, values in parts.items()}
    split["payments"] = len(parts["total"])
    return split


def _settle_by_sync(base_url: str, key: str, payment_ids: list) -> int:
    """Ask for each hung payment with ``force_sync`` (what the sweep does); count those the bank's
    answer settled."""
    import requests

    settled = 0
    with requests.Session() as session:
        for payment_id in filter(None, payment_ids):
            answer = session.get(f"{base_url}/v1/payments/{payment_id}", params={"force_sync": "true"},
                                 headers={"Authorization": f"Bearer {key}"}, timeout=60)
            if answer.ok and answer.json().get("status") == "succeeded":
                settled += 1
    return settled

