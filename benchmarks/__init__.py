"""Benchmarks: the gateway against a bare aiohttp baseline (``python -m benchmarks.bench``)."""
