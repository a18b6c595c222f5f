"""Authipay (Fiserv IPG REST, payments-gateway v2) card connector.

``adapter.py`` holds the flows, ``transformers.py`` the wire shapes and the one status table,
``signature.py`` the Message-Signature formula and ``simulator.py`` a gateway stand-in for tests
and local runs (``python -m connectors.authipay.simulator --port 8123``).
"""
