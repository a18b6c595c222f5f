"""Rate limiting per API key, counted in the shared cache so every worker process sees the same count.

The rate is read on each request (not frozen at import), so ``API_RATE_LIMIT`` and test overrides
of ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` take effect at once. Going over it answers 429 in
the error shape with ``Retry-After`` (``payments/api/errors.py``).

When the shared cache cannot be reached (Redis down or stuck: its calls give up after a second,
``pagoflex/settings.py``), requests are let through and a warning is logged: the limit protects
the platform, and Redis holds no money state, so its outage must not stop payments. For the next
``CACHE_RETRY_AFTER`` seconds the process does not ask the cache at all: otherwise every request
would wait out the timeout, holding the database connection its key lookup took, and a stuck
Redis would cut the API's throughput to a pool's worth of requests a second.
"""

import logging

from redis.exceptions import RedisError
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from payments.pauses import DependencyPause

logger = logging.getLogger("pagoflex.api")
CACHE_RETRY_AFTER = 5.0  # seconds


# This process's pause from an unreachable cache (payments.pauses).
_cache_outage = DependencyPause()


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def allow_request(self, request, view):
        if _cache_outage.ongoing():
            return True
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError):
            _cache_outage.begin(CACHE_RETRY_AFTER)
            logger.warning("rate limit not applied for %.0f s: the shared cache cannot be reached", CACHE_RETRY_AFTER,
                           exc_info=True)
            return True

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view):
        api_key = getattr(request, "auth", None)
        if api_key is None or not getattr(api_key, "key_hash", ""):
            return None  # unauthenticated requests are refused before they cost anything
        # The key's hash, not its row id: ids repeat across databases sharing one Redis (CI runs).
        return f"throttle:{self.scope}:{api_key.key_hash[:32]}"
