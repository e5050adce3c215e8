"""Property-based fuzzing of every door: bad input never gets a 5xx, silence, a hang or a leak.

The examples run with the ``fuzz`` hypothesis profile (fixed seed, bounded count) in the
ordinary run; ``pytest --fuzz-long tests/fuzz`` runs the ``fuzz-long`` profile.
"""
