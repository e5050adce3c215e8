"""The booking journey trace: every id the gateway sees, recorded per hop.

``scope`` collects one exchange's hops while it runs (the doors open it, the
booking service adds its supplier calls); ``recorder`` writes them after the
answer, in batches, from a bounded queue; ``view`` renders and verifies what the
store holds. Ids and hashes only, never patient data (docs/ops/trace.md).
"""
