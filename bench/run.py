"""The benchmark behind ``make bench``: a production-like stack on this machine, loopback only.

gunicorn serving Pagoflex (DEBUG off, persistent database connections) on PostgreSQL, the
sandbox bank in its own process, and the load generator (``bench/load.py``) in another, each
scenario bounded in requests and seconds. For every scenario: requests/s, p50/p95/p99 latency,
errors, and the orchestration overhead (Pagoflex's latency minus the bank's own server-side time
for the same request, from the Server-Timing header kept in the call log). The floor is the same
generator calling the bank directly. SQL statements per operation are counted in-process.

    python -m bench.run [--requests 1500] [--concurrency 16] [--workers 3] [--threads 1]

Writes a table to stdout and ``bench/results/bench-<time>.json``. Needs PostgreSQL
(``BENCH_DATABASE_URL``, default postgres://postgres@127.0.0.1:5432/pagoflex_bench, recreated).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BANK_KEY = "sbx_bench_key_0123456789"
BANK_SECRET = "sbx_bench_whsec_0123456789"
APPROVED, PENDING = "4242424242424242", "4000000000000259"
CARD = {"number": APPROVED, "exp_month": 12, "exp_year": 2034, "cvc": "123"}
FRAMEWORK_FLOOR = "framework floor: auth, no work"
TARGETS = {"create+confirm requests/s": 150, "overhead p50 ms": 5, "overhead p99 ms": 30, "errors": 0}


def prepare_environment(database_url: str) -> dict:
    """Production-like settings for gunicorn and for this process (which sets up data)."""
    env = {
        "DATABASE_URL": database_url + "?conn_max_age=600&conn_health_checks=True",
        "DEBUG": "False",
        "SECRET_KEY": secrets.token_urlsafe(40),
        "PAGOFLEX_KEYRING": "bench1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "API_RATE_LIMIT": "1000000/s",
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "SECURE_SSL_REDIRECT": "False",  # plain HTTP on loopback: nothing to redirect to
        "DJANGO_SETTINGS_MODULE": "bench.settings",  # the product plus /bench/floor
    }
    if not os.environ.get("REDIS_URL") and _redis_up():
        env["REDIS_URL"] = "redis://127.0.0.1:6379/0"
    env["CACHE_KEY_PREFIX"] = f"bench-{os.getpid()}"
    os.environ.update(env)
    return env


def _redis_up() -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


def recreate_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True)


def load(base_url: str, requests_: list[dict], *, concurrency: int, max_seconds: float,
         rate: float | None = None) -> dict:
    """Run a plan in the load-generator process (open loop at ``rate`` per second if given)."""
    with tempfile.TemporaryDirectory() as folder:
        plan, result = Path(folder) / "plan.json", Path(folder) / "result.json"
        plan.write_text(json.dumps({"base_url": base_url, "requests": requests_}))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-m", "bench.load", str(plan), str(result), "--concurrency", str(concurrency),
                        "--max-seconds", str(max_seconds), *(["--rate", str(rate)] if rate else [])],
                       cwd=ROOT, check=True, timeout=max_seconds + 180)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        outcome = json.loads(result.read_text())
        outcome["generator_cpu_seconds"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        return outcome


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def summarize(name: str, outcome: dict, bank_ms: dict[str, float] | None) -> dict:
    """Throughput, latency percentiles, errors and overhead (ms) of one scenario."""
    results = outcome["results"]
    ok = [r for r in results if 200 <= r["status"] < 300]
    latencies = [r["latency"] * 1000 for r in ok]
    overheads = []
    for r in ok:
        if bank_ms is None:  # no bank call in this operation: all of it is Pagoflex
            overheads.append(r["latency"] * 1000)
        elif r.get("server_ms") is not None:  # the floor: the bank's latency minus its own time
            overheads.append(r["latency"] * 1000 - r["server_ms"])
        elif r.get("id") in bank_ms:
            overheads.append(r["latency"] * 1000 - bank_ms[r["id"]])
    errors = [r for r in results if not 200 <= r["status"] < 300]
    return {
        "scenario": name, "requests": len(results), "errors": len(errors),
        "error_samples": [e.get("error", "")[:200] for e in errors[:3]],
        "rps": len(ok) / outcome["elapsed"] if outcome["elapsed"] else 0.0,
        "p50_ms": percentile(latencies, 0.50), "p95_ms": percentile(latencies, 0.95),
        "p99_ms": percentile(latencies, 0.99),
        "overhead_p50_ms": percentile(overheads, 0.50), "overhead_p95_ms": percentile(overheads, 0.95),
        "overhead_p99_ms": percentile(overheads, 0.99), "overhead_samples": len(overheads),
        "pagoflex_cpu_ms_per_request": outcome.get("pagoflex_cpu_ms"),
        "bank_cpu_ms_per_request": outcome.get("bank_cpu_ms"),
        "database_cpu_ms_per_request": outcome.get("database_cpu_ms"),
        "generator_cpu_ms_per_request": outcome.get("generator_cpu_ms"),
    }


def bank_time_by_object(flow: str, ids: list[str], *, refunds: bool = False) -> dict[str, float]:
    """The bank's own time (ms, from Server-Timing in the call log) per payment or refund id."""
    from connectors.models import ConnectorCall

    field = "refund__public_id" if refunds else "payment__public_id"
    totals: dict[str, float] = {}
    for object_id, headers in ConnectorCall.objects.filter(flow=flow, **{f"{field}__in": ids}).values_list(
            field, "response_headers"):
        value = {k.lower(): v for k, v in (headers or {}).items()}.get("server-timing", "")
        if "dur=" in value:
            totals[object_id] = totals.get(object_id, 0.0) + float(value.split("dur=")[1].split(";")[0])
    return totals


def payment_request(auth: dict, *, number=APPROVED, capture="automatic") -> dict:
    return {"method": "POST", "path": "/v1/payments", "headers": auth,
            "body": {"amount": 1050, "currency": "EUR", "confirm": True, "capture_method": capture,
                     "payment_method_type": "card", "payment_method_data": {"card": {**CARD, "number": number}}}}


def run_scenarios(pagoflex, bank, args) -> tuple[list[dict], dict]:
    """Set up a merchant, then run the floors and the five scenarios; one summary row each."""
    from bench import servers
    from bench.sql_counts import webhook_event
    from connectors.models import ConnectorAccount
    from connectors.sandbox import signature
    from payments.models import ApiKey, Merchant, PaymentAttempt

    merchant = Merchant.objects.create(name="Bench shop")
    _, raw_key = ApiKey.issue(merchant)
    account = ConnectorAccount(merchant=merchant, connector="sandbox", label="bench", mode="test",
                               base_url_override=bank.base_url)
    account.set_credentials({"api_key": BANK_KEY, "webhook_secret": BANK_SECRET})
    account.save()
    auth = {"Authorization": f"Bearer {raw_key}"}
    n, c, limit = args.requests, args.concurrency, args.max_seconds
    rows = []

    pagoflex_url, bank_url = pagoflex.base_url, bank.base_url
    database_name = args.database.rsplit("/", 1)[1]

    def scenario(name, base, plan, bank_ms=None, *, warmup=True):
        if warmup:  # let every worker open its connections and import lazily loaded code
            load(base, plan[: min(len(plan), 4 * c)], concurrency=c, max_seconds=limit)
            plan = plan[min(len(plan), 4 * c):]
        # CPU per request of each process: unlike latency, it does not depend on what else runs.
        database = servers.database_backend_pids(database_name)
        cpu_before = (pagoflex.cpu_seconds(), bank.cpu_seconds(), servers.process_cpu_seconds(database))
        outcome = load(base, plan, concurrency=c, max_seconds=limit)
        done = max(len(outcome["results"]), 1)
        outcome["pagoflex_cpu_ms"] = (pagoflex.cpu_seconds() - cpu_before[0]) * 1000 / done
        outcome["bank_cpu_ms"] = (bank.cpu_seconds() - cpu_before[1]) * 1000 / done
        outcome["database_cpu_ms"] = (servers.process_cpu_seconds(database) - cpu_before[2]) * 1000 / done
        outcome["generator_cpu_ms"] = outcome["generator_cpu_seconds"] * 1000 / done
        return outcome

    # The floor: the generator against the bank directly, one new charge per request.
    floor_plan = [{"method": "POST", "path": "/v1/charges", "headers": {"Authorization": f"Bearer {BANK_KEY}"},
                   "body": {"amount": 1050, "currency": "EUR", "capture": True, "reference": f"floor-{i}",
                            "card": CARD}} for i in range(n + 4 * c)]
    floor = scenario("floor", bank_url, floor_plan)
    rows.append(summarize("floor: bank directly", floor, {}))

    # The framework floor: an authenticated, rate-limited API request that does nothing else
    # (bench/framework_floor.py), with the same body as a payment.
    framework = scenario("framework", pagoflex_url, [{**payment_request(auth), "path": "/bench/floor"}
                                                     for _ in range(n + 4 * c)])
    rows.append(summarize(FRAMEWORK_FLOOR, framework, None))

    created = scenario("create", pagoflex_url, [payment_request(auth) for _ in range(n + 4 * c)])
    ids = [r["id"] for r in created["results"] if r["status"] == 201]
    rows.append(summarize("create+confirm (auto capture)", created, bank_time_by_object("authorize", ids)))

    authorized = load(pagoflex_url, [payment_request(auth, capture="manual") for _ in range(n)], concurrency=c,
                      max_seconds=limit)
    manual_ids = [r["id"] for r in authorized["results"] if r["status"] == 201]
    captured = scenario("capture", pagoflex_url, [{"method": "POST", "path": f"/v1/payments/{pid}/capture",
                                                   "headers": auth, "body": {}} for pid in manual_ids], warmup=False)
    rows.append(summarize("capture (after confirm)", captured, bank_time_by_object("capture", manual_ids)))

    refunded = scenario("refund", pagoflex_url, [{"method": "POST", "path": "/v1/refunds", "headers": auth,
                                                 "body": {"payment": pid, "amount": 500}} for pid in ids],
                        warmup=False)
    refund_ids = [r["id"] for r in refunded["results"] if r["status"] == 201]
    rows.append(summarize("refund", refunded, bank_time_by_object("refund", refund_ids, refunds=True)))

    pending = load(pagoflex_url, [payment_request(auth, number=PENDING) for _ in range(n)], concurrency=c,
                   max_seconds=limit)
    pending_ids = [r["id"] for r in pending["results"] if r["status"] == 201]
    events = []
    for attempt in PaymentAttempt.objects.filter(payment__public_id__in=pending_ids):
        body = json.dumps(webhook_event(attempt.connector_reference, attempt.reference, attempt.amount,
                                        attempt.currency))
        events.append({"method": "POST", "path": account.webhook_path, "body": body,
                       "headers": {signature.HEADER: signature.sign(BANK_SECRET, body.encode())}})
    burst = scenario("webhook", pagoflex_url, events, None, warmup=False)
    rows.append(summarize("inbound webhook burst", burst, None))

    retrieved = scenario("retrieve", pagoflex_url, [{"method": "GET", "path": f"/v1/payments/{pid}",
                                                     "headers": auth} for pid in ids])
    rows.append(summarize("retrieve", retrieved, None))
    return rows, {"merchant_key": raw_key, "account": account}


def count_sql(account) -> dict[str, int]:
    from rest_framework.test import APIClient

    from bench import sql_counts
    from payments.models import ApiKey

    _, raw_key = ApiKey.issue(account.merchant, label="sql counts")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return sql_counts.count_all(api, account, APIClient())


def orm_statement_cpu(account, repeat: int = 400) -> dict[str, float]:
    """CPU ms of one ORM statement in this process (building, sending, reading it): a select of a
    payment by primary key, an insert of a payment event, an update of two fields by key."""
    from payments.models import PaymentEvent, PaymentOperation

    payment = PaymentOperation.objects.filter(merchant=account.merchant).first()
    timings = {}
    for name, statement in [
        ("select by key", lambda: PaymentOperation.objects.filter(pk=payment.pk).first()),
        ("insert a row", lambda: PaymentEvent.objects.create(payment=payment, kind="bench", actor="bench")),
        ("update by key", lambda: PaymentOperation.objects.filter(pk=payment.pk).update(error_code="",
                                                                                         error_message="")),
    ]:
        statement()
        started = time.process_time()
        for _ in range(repeat):
            statement()
        timings[name] = (time.process_time() - started) * 1000 / repeat
    PaymentEvent.objects.filter(kind="bench").delete()
    return timings


def what_sets_the_limit(by_name: dict, sql: dict, statement_cpu: dict) -> dict:
    """Print where create+confirm's CPU goes and why the latency targets cannot hold at 16 clients."""
    framework = by_name[FRAMEWORK_FLOOR]
    create = by_name["create+confirm (auto capture)"]
    bank = by_name["floor: bank directly"]
    cores = os.cpu_count() or 1
    floor_cpu, create_cpu = framework["pagoflex_cpu_ms_per_request"], create["pagoflex_cpu_ms_per_request"]
    per_statement = sum(statement_cpu.values()) / len(statement_cpu)
    statements = sql["create+confirm"]
    needed_for_latency = 16 / 0.005  # closed loop: mean latency = clients / throughput (Little's law)
    print("\nwhat sets the limit (CPU ms per request in the gunicorn workers, this run):")
    print(f"  framework floor (Django, DRF, API key, rate limit; no work)  {floor_cpu:6.1f} ms -> at most "
          f"{cores * 1000 / floor_cpu:.0f} req/s on {cores} cores with nothing else running")
    print(f"  create+confirm                                             {create_cpu:6.1f} ms = floor + "
          f"{create_cpu - floor_cpu:.1f} ms of Pagoflex's own work")
    print(f"  of which SQL through the ORM: {statements} statements x {per_statement:.2f} ms "
          f"(select {statement_cpu['select by key']:.2f}, insert {statement_cpu['insert a row']:.2f}, "
          f"update {statement_cpu['update by key']:.2f}) = {statements * per_statement:.1f} ms")
    parts = {"Pagoflex": create_cpu, "PostgreSQL": create["database_cpu_ms_per_request"],
             "bank": create["bank_cpu_ms_per_request"], "load generator": create["generator_cpu_ms_per_request"]}
    whole = sum(parts.values())
    ceiling = cores * 1000 / whole
    print("  every process's CPU per create+confirm: " + ", ".join(f"{k} {v:.1f}" for k, v in parts.items())
          + f" = {whole:.1f} ms -> {ceiling:.0f} payments/s with all {cores} cores busy"
          f" (150/s needs {cores * 1000 / 150:.1f} ms)")
    print(f"  latency: 16 clients in a closed loop wait 16 / throughput; overhead p50 <= 5 ms needs "
          f"{needed_for_latency:.0f} req/s, {needed_for_latency / bank['rps']:.1f}x what the bank alone serves "
          f"(p50 {bank['p50_ms']:.1f} ms doing nothing)")
    return {"framework_floor_cpu_ms": floor_cpu, "create_confirm_cpu_ms": create_cpu,
            "orm_statement_cpu_ms": per_statement, "create_confirm_statements": statements,
            "create_confirm_cpu_ms_by_process": parts, "create_confirm_cpu_ms_all_processes": whole,
            "cpu_ceiling_create_confirm_per_s": ceiling,
            "rps_needed_for_5ms_at_16_clients": needed_for_latency}


def print_table(rows: list[dict], floor_rps: float, sql: dict, budgets: dict) -> None:
    header = (f"{'scenario':32} {'req':>6} {'err':>4} {'req/s':>8} {'x floor':>8} {'p50':>7} {'p95':>7} {'p99':>7}"
              f" {'ovh p50':>8} {'ovh p95':>8} {'ovh p99':>8} {'cpu/req':>8}")
    print(header)
    print("-" * len(header))
    for row in rows:
        ratio = row["rps"] / floor_rps if floor_rps else 0
        print(f"{row['scenario']:32} {row['requests']:>6} {row['errors']:>4} {row['rps']:>8.1f} {ratio:>8.2f}"
              f" {row['p50_ms']:>7.1f} {row['p95_ms']:>7.1f} {row['p99_ms']:>7.1f} {row['overhead_p50_ms']:>8.1f}"
              f" {row['overhead_p95_ms']:>8.1f} {row['overhead_p99_ms']:>8.1f} {row['pagoflex_cpu_ms_per_request'] or 0:>8.1f}")
    print("(ms; overhead = Pagoflex's latency minus the bank's own time for the same request; cpu/req = CPU ms\n"
          " the gunicorn workers spent per request (the bank's process for the floor row))")
    print("\nSQL statements per operation (budget in the suite):")
    for name, count in sql.items():
        print(f"  {name:16} {count:>3}  (budget {budgets.get(name, '-')})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark Pagoflex on this machine.")
    parser.add_argument("--requests", type=int, default=1500, help="requests per scenario")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (gthread when > 1)")
    parser.add_argument("--max-seconds", type=float, default=60, help="time bound per scenario")
    parser.add_argument("--only", choices=["all", "classic", "serving"], default="all",
                        help="classic: the 16-client scenarios; serving: bank latency, hangs and slow clients")
    parser.add_argument("--serving-requests", type=int, default=1500, help="payments per serving scenario")
    parser.add_argument("--closed-loop-rounds", type=int, default=3,
                        help="rounds of the closed-loop scenarios (each server once a round; the median ratio is kept)")
    parser.add_argument("--running-slots", default="0",
                        help="comma-separated REQUESTS_RUNNING_PER_PROCESS values measured beside the shipped "
                             "one, 1 (0: every thread runs)")
    parser.add_argument("--database", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pagoflex_bench"))
    args = parser.parse_args(argv)
    if args.closed_loop_rounds < 1:
        parser.error("--closed-loop-rounds must be at least 1")

    sys.path.insert(0, str(ROOT))
    env = prepare_environment(args.database)
    recreate_database(args.database)
    import django

    django.setup()
    from bench import servers
    from bench.sql_counts import BUDGETS, ISSUE_TARGETS

    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    logs = ROOT / "var" / "bench"  # server output, kept out of the repository
    logs.mkdir(parents=True, exist_ok=True)
    serving = None
    if args.only in ("all", "serving"):
        from bench.serving import run_serving

        serving = run_serving(args, env=env, database_url=args.database, stamp=stamp, logs=logs)
        if args.only == "serving":
            out = RESULTS / f"bench-serving-{stamp}.json"
            out.write_text(json.dumps({"taken_at": stamp, "serving": serving}, indent=2, default=str))
            print(f"\nwrote {out.relative_to(ROOT)}")
            return 0
    bank = servers.sandbox_bank(api_key=BANK_KEY, webhook_secret=BANK_SECRET, log_path=logs / f"bank-{stamp}.log").start()
    pagoflex = servers.gunicorn(database=env["DATABASE_URL"], workers=args.workers, threads=args.threads,
                                extra_env=env, log_path=logs / f"gunicorn-{stamp}.log").start()
    try:
        started = time.monotonic()
        load_before = os.getloadavg()[0]
        rows, context = run_scenarios(pagoflex, bank, args)
        sql = count_sql(context["account"])
        statement_cpu = orm_statement_cpu(context["account"])
    finally:
        pagoflex.stop()
        bank.stop()
    floor_rps = rows[0]["rps"]
    for row in rows:
        row["throughput_vs_floor"] = row["rps"] / floor_rps if floor_rps else None
    rows[0]["pagoflex_cpu_ms_per_request"] = rows[0]["bank_cpu_ms_per_request"]
    print_table(rows, floor_rps, sql, BUDGETS)
    by_name = {row["scenario"]: row for row in rows}
    create = by_name["create+confirm (auto capture)"]
    limits = what_sets_the_limit(by_name, sql, statement_cpu)
    print(f"load average before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f} (other work on the machine "
          "lowers every latency figure, not the CPU per request)")
    verdict = {"create+confirm requests/s": create["rps"], "overhead p50 ms": create["overhead_p50_ms"],
               "overhead p99 ms": create["overhead_p99_ms"], "errors": sum(r["errors"] for r in rows[1:])}
    print("\ntargets (create+confirm, 16 clients):")
    for name, target in TARGETS.items():
        value = verdict[name]
        met = value >= target if name.endswith("/s") else value <= target
        print(f"  {name:28} {value:>8.1f}  target {'>=' if name.endswith('/s') else '<='} {target:<5} "
              f"{'met' if met else 'NOT met'}")
    report = {
        "taken_at": stamp, "seconds": round(time.monotonic() - started, 1),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "processor": platform.processor() or platform.machine()},
        "setup": {"requests": args.requests, "concurrency": args.concurrency, "gunicorn_workers": args.workers,
                  "gunicorn_threads": args.threads, "database": "postgresql",
                  "cache": "redis" if env.get("REDIS_URL") or os.environ.get("REDIS_URL") else "file"},
        "scenarios": rows, "sql_statements": sql, "sql_budgets": BUDGETS, "sql_issue_targets": ISSUE_TARGETS,
        "targets": TARGETS, "measured": verdict,
        "cpu_ceiling_create_confirm_per_s": limits["cpu_ceiling_create_confirm_per_s"],
        "orm_statement_cpu_ms": statement_cpu, "what_sets_the_limit": limits,
        "load_average_before_after": [load_before, os.getloadavg()[0]],
        "serving": serving,
    }
    out = RESULTS / f"bench-{stamp}.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    print(f"\nwrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
