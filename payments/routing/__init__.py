"""Routing: which connector accounts a payment goes to, in which order.

``definition`` validates a merchant's configuration (rules, outcomes, strategy),
``decision`` turns a payment and the configuration into an ordered candidate list, and
``window`` keeps the per-account success-rate window the ``success_rate`` strategy reads.
The state changes (saving a configuration, starting a fallback attempt) are services in
``payments/services/routing.py``.
"""
