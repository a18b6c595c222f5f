"""Asking a Celery worker to do something now, at best effort, without letting a stuck broker
hold the request that asks.

Every task a request enqueues (a webhook delivery, a late success to return or verify) is also
found by a sweep (``webhooks.tasks``, ``payments.tasks``): the enqueue only makes it happen
sooner, and a lost one costs a delay, never the work. So a broker that fails is not retried
here: the failure is logged, and for the next ``BROKER_RETRY_AFTER`` seconds this process does
not ask the broker at all. Without that pause, a Redis that accepts connections and never answers
would cost every such request the broker's socket timeout (``CELERY_BROKER_TRANSPORT_OPTIONS`` in
pagoflex/settings.py), and with one running slot per web process (connectors/waiting.py) every
other request of the process would wait behind it.
"""

from __future__ import annotations

import logging

from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import RedisError

from payments.pauses import DependencyPause

logger = logging.getLogger("pagoflex.jobs")
# Seconds without asking the broker after it could not be reached. A stuck Redis costs the request
# that finds it about 8 s (CELERY_BROKER_TRANSPORT_OPTIONS): once a minute per process at most.
BROKER_RETRY_AFTER = 60.0
# What a publish raises when the broker cannot be reached: kombu wraps the transport's connection
# errors in its OperationalError; the rest reach here as redis-py's or the socket's own.
BROKER_UNREACHABLE = (KombuOperationalError, RedisError, OSError)


# This process's pause from an unreachable broker (payments.pauses).
_broker_outage = DependencyPause()


def enqueue_best_effort(task, args: list, *, what: str, fallback: str) -> bool:
    """Publish ``task`` with ``args`` once; True if the broker took it.

    ``what`` names the work in the log ("delivery 12"), ``fallback`` says what does it instead
    ("the retry sweep"). Never raises for a broker failure: it is logged, and the broker is left
    alone for ``BROKER_RETRY_AFTER`` seconds.
    """
    if _broker_outage.ongoing():
        logger.info("%s not enqueued: the broker failed less than %.0f s ago; %s will do it",
                    what, BROKER_RETRY_AFTER, fallback)
        return False
    try:
        task.apply_async(args=args, retry=False)
    except BROKER_UNREACHABLE as exc:  # down, refusing, or stuck past its socket timeout
        _broker_outage.begin(BROKER_RETRY_AFTER)
        logger.warning("%s not enqueued (%s: %s); the broker is left alone for %.0f s; %s will do it",
                       what, type(exc).__name__, exc, BROKER_RETRY_AFTER, fallback)
        return False
    except Exception:  # a bug (a message that cannot be encoded): the broker itself is fine
        logger.exception("%s not enqueued; %s will do it", what, fallback)
        return False
    return True
