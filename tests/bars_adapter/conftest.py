"""Fixtures of the ``bars`` adapter's tests: the rig of ``rig.py``."""

from tests.bars_adapter.rig import bars_rig, both_doors

__all__ = ["bars_rig", "both_doors"]
