"""``uec-gateway check-config`` on the ``journal:`` section: its key variable is usable."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from gateway import config as config_module
from gateway.config import Examined, Settings
from gateway.msgjournal.seal import KeyUnusable, read_key


def problems(
    path: Path, found: Examined, settings: Settings, environ: Mapping[str, str]
) -> list[str]:
    """A named key variable that is unset or holds no 32-byte key (never its value)."""
    journal = settings.journal
    name = journal.key_env
    if not journal.enabled or not name:
        return []
    position = config_module.where(found.marks, ("journal", "key_env"))
    at = f"{path}:{position[0]}:{position[1]}" if position else str(path)
    try:
        key = read_key(name, environ)
    except KeyUnusable as exc:
        return [f"{at}: journal: {exc}"]
    if key is None:
        kept = "in plain text" if journal.store_plaintext else "as metadata only"
        return [f"{at}: journal: {name} is not set: payloads would be kept {kept}"]
    return []
