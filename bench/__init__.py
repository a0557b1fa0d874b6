"""Benchmarks (run as scripts, e.g. ``python bench/reconcile.py``; see bench/README.md)."""
