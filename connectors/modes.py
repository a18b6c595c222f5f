"""Test or live: the mode a connector account (and an API key, a payment, an endpoint) is in.

A connector account's mode says whether it reaches a bank's test or live system, so the
connector layer owns the word; ``payments.models`` re-exports it for everything above.
"""

from django.db import models


class Mode(models.TextChoices):
    TEST = "test"
    LIVE = "live"
