"""Paytm Payments: UPI Intent and Collect (see adapter.py)."""
