"""Benchmarks and chaos runs against the live reference stack (``python -m bench.chaos``)."""
