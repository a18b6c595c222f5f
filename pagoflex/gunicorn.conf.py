"""The production server configuration: ``gunicorn -c pagoflex/gunicorn.conf.py``.

Threads, not processes, carry requests: a request waiting on a bank (hundreds of milliseconds,
up to the read timeout when a bank hangs) or on a slow client holds a thread, which costs a few
hundred kilobytes, and no database connection (the services give theirs back to the pool around
every bank call). The processes are there to use every core. docs/deployment.md says what each
setting is for and what to scale when; docs/architecture.md has the measurements behind it.

Every figure can be changed from the environment (names below); the defaults suit a 2-core host.
"""

import multiprocessing
import os

bind = os.environ.get("BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
# One process per core, plus one so a core never idles while a process collects garbage.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1))
# gunicorn's gthread worker, but a kept-alive client's next request is served by the thread that
# answered the last one, and a refused slow client is let go by its own thread, not by the event
# loop every connection of the process waits on (pagoflex/gunicorn_worker.py).
worker_class = "pagoflex.gunicorn_worker.ThreadWorker"
# Requests in flight per process: 3 x 100 serve 300 payments waiting on banks at once, enough for
# 5 % of 100 payments/s hanging to a 30 s read timeout (docs/deployment.md: the thread budget).
threads = int(os.environ.get("GUNICORN_THREADS", "100"))
# Requests per process that run Python at once (connectors/waiting.py): the other threads wait
# on banks or clients, or in line for a slot. With one, a process runs like a sync worker while
# its hundred threads still wait on banks. Without the bound, 128 clients and no bank latency make
# about 40 threads per process take turns on the GIL: one slot was ahead of no bound in eight of
# nine idle runs (no latency: median x1.13, from x0.89 to x1.19), with a lower p99 and half the
# PostgreSQL connections (docs/performance.md, "Running slots"). The cost: a request blocked on
# anything but a bank, a body or DNS (a slow query, a lock) holds up its process's others. Keep
# N below the pool; processes x N should cover the cores. 0 lets every thread run.
os.environ.setdefault("REQUESTS_RUNNING_PER_PROCESS", "1")
# Seconds a thread that answered a kept-alive connection waits for that client's next request
# and serves it itself, instead of handing the connection to the worker's event loop and back
# (pagoflex/gunicorn_worker.py). 0: gunicorn's own behaviour.
os.environ.setdefault("GUNICORN_NEXT_REQUEST_WAIT", "1")
# Seconds a thread runs Python before a thread waiting for the GIL makes it let go (Python's
# default: 0.005). With one running slot the request holding it is the process's only long runner;
# the other threads parse headers, write answers and wake from waits, and every forced switch to
# one of them and back costs both threads' caches. The request still lets go at every statement
# and every read or write, so a short job waits for the GIL about as long as it waits for the next
# query to be sent. Measured with the next-request wait above (docs/performance.md).
GIL_SWITCH_INTERVAL = float(os.environ.get("GIL_SWITCH_INTERVAL", "0.05"))


def _gc_threshold(text: str) -> tuple[int, int, int]:
    """``GC_THRESHOLD``: three positive integers, as ``gc.set_threshold`` takes them (C ints). Refused
    at start, not guessed: 0 would turn the collector off and let reference cycles pile up, and a
    figure past a C int would fail in every worker as it forks, not here."""
    parts = text.split(",")
    if len(parts) != 3 or not all(part.strip().isascii() and part.strip().isdecimal() and 0 < int(part) < 2**31 for part in parts):
        raise ValueError(f"GC_THRESHOLD must be three positive integers below 2**31 such as 20000,20,20, not {text!r}")
    return tuple(int(part) for part in parts)


# Python's cyclic garbage collector, in each worker process: a young collection once 20,000 more
# objects that can hold references were made than freed (Python's default 700), an older one
# every 20 of the generation below (default 10). A payment makes about 440 such objects more than
# it frees before the collector runs, about 160 of them left in reference cycles (Django's request
# and response objects, among others). At the default a process made a young
# collection every other payment, a middle one every 20 and a full one, about 100 ms with the GIL
# held, every 400 or so. At these thresholds, measured without bank latency (docs/performance.md,
# "The garbage collector"): a young collection every 45 payments, about 13 ms each (0.3 ms at the
# default), half the time in the collector, a full one every 18,000 payments or so (computed: none
# came in the 850 a process served), less memory (a collection writes to objects shared with the
# master, which the kernel then copies), and 4-6 % less server CPU per payment in three of four
# series (none in the fourth).
GC_THRESHOLD = _gc_threshold(os.environ.get("GC_THRESHOLD", "20000,20,20"))
# Database connections per process: workers x this is what PostgreSQL sees (3 x 6 = 18).
os.environ.setdefault("DATABASE_POOL_MAX_SIZE", os.environ.get("GUNICORN_DB_POOL_SIZE", "6"))
os.environ.setdefault("DATABASE_POOL_MIN_SIZE", "2")
# Seconds PostgreSQL lets a statement run, and wait for a lock, before it cancels it (the request
# is answered 503 and rolled back). A request's statements take milliseconds and the services
# hold row locks for milliseconds (never across a bank call), so only something outside the
# request's control reaches these: a migration's table lock, a psql session left in a
# transaction, a runaway query. With one running slot a process waits behind such a request;
# these bound that wait (docs/deployment.md: "Database time bounds").
os.environ.setdefault("DATABASE_STATEMENT_TIMEOUT", "10")
os.environ.setdefault("DATABASE_LOCK_TIMEOUT", "3")

# A worker that stops answering its heartbeat for this long is replaced. Longer than the
# connector read timeout (30 s) plus a connect (5 s): a hung bank is the request's problem, not
# the process's.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
# Idle keep-alive connections are closed after this many seconds (a load balancer's idle timeout
# must be longer, or it will send on connections gunicorn just closed).
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "75"))
backlog = 2048
# Processes are renewed now and then, so a slow leak in a library never grows without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "20000"))
max_requests_jitter = max_requests // 10
# Request line and headers: gunicorn's defaults (4094 bytes a line, 100 headers); the body is
# bounded by Django (DATA_UPLOAD_MAX_MEMORY_SIZE, 256 KiB).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# The application is imported once in the master and shared copy-on-write by the workers. No
# database connection is opened at import, so none is shared across the fork. (Off for gevent
# workers, which must patch the standard library before Django is imported.)
preload_app = os.environ.get("GUNICORN_PRELOAD", "true").lower() == "true"
# Behind a TLS-terminating proxy: trust its X-Forwarded-* headers (docs/deployment.md).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None  # the API logs each request itself, in JSON
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
wsgi_app = "pagoflex.wsgi:application"

# gunicorn 25+ opens a control socket (for its gunicornc tool) at one path per user by default
# ($XDG_RUNTIME_DIR or ~/.gunicorn/gunicorn.ctl), so a second gunicorn of the same user takes over
# the first one's. Nothing in Pagoflex uses it (workers are scaled by WEB_CONCURRENCY and
# restarts, not at run time), and it can change the worker count: it is off.
control_socket_disable = True

# Prometheus series from every worker process, added up at /metrics (observability/metrics.py).
# The folder is emptied at start: series of processes from a previous run must not be counted.
# One the configuration made (named after this master's pid) is removed when gunicorn exits; one
# the operator chose (PROMETHEUS_MULTIPROC_DIR) is left where it is. On a reload (HUP) this file is
# read again by the same master, and finds the same name.
_own_metrics_dir = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"pagoflex-metrics-{os.getpid()}")
_metrics_dir = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", _own_metrics_dir)


def on_starting(server):
    import shutil

    shutil.rmtree(_metrics_dir, ignore_errors=True)
    os.makedirs(_metrics_dir, exist_ok=True)


def post_fork(server, worker):
    import gc
    import sys

    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    gc.set_threshold(*GC_THRESHOLD)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    import shutil

    if _metrics_dir == _own_metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)

# gunicorn drains at most this much of a body the application did not read (a request refused
# before its body was read: 401, 413) before it reuses the connection; past it, it resets the
# connection, after having answered "Connection: keep-alive", and the client's next request on
# it fails. Such requests are answered "Connection: close" instead: the truth, at the cost of one
# new connection after a large body.
DRAINABLE_BODY_BYTES = 64 * 1024


def pre_request(worker, req):
    headers = dict(req.headers)
    try:
        length = int(headers.get("CONTENT-LENGTH", "0") or 0)
    except ValueError:
        length = DRAINABLE_BODY_BYTES + 1
    if length > DRAINABLE_BODY_BYTES or "chunked" in headers.get("TRANSFER-ENCODING", "").lower():
        req.headers.append(("CONNECTION", "close"))
