"""Authipay (Fiserv IPG REST, payments-gateway v2) card connector.

``adapter.py`` holds the flows, ``transformers.py`` the wire shapes and the one status table,
``signature.py`` the Message-Signature formula and ``simulator.py`` a gateway stand-in for tests
and local runs (``python -m connectors.authipay.simulator --port 8123``). ``published_api.py``
is Fiserv's published API description both are held to; SPEC.md §0 says which version and where
Fiserv's documents disagree.
"""
