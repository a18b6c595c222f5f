"""A pause a process takes from a shared dependency it just failed to reach (the cache behind the
rate limit, the Celery broker), so that the requests after the failure do not each wait out the
dependency's timeout while holding what other requests need (a running slot, a connection).

Used by payments.api.throttling and payments.enqueue; each says how long its pause lasts.
"""

import time


class DependencyPause:
    """When this process last failed to reach a dependency, as the monotonic time its pause ends.
    Races between threads only make one more or one fewer request try the dependency."""

    def __init__(self):
        self.until = 0.0

    def ongoing(self) -> bool:
        return time.monotonic() < self.until

    def begin(self, seconds: float) -> None:
        self.until = time.monotonic() + seconds
