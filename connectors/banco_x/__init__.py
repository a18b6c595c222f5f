"""Banco X: an acquiring bank that answers payments asynchronously (see SPEC.md in this folder)."""
