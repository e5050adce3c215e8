"""The ``journal:`` section of the configuration (docs/ops/journal.md)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class JournalSettings(BaseModel):
    """Which legacy messages are journaled and how their payloads are kept.

    Payloads are sealed with AES-GCM under the key in the environment variable
    ``key_env`` (32 bytes, base64 or hex). Without a key they are kept in plain text
    only if ``store_plaintext`` is set explicitly; otherwise only metadata is kept and
    such messages cannot be replayed.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Journal inbound legacy messages at all.
    enabled: bool = True
    #: The environment variable holding the payload key; None keeps no key.
    key_env: str | None = None
    #: Keep payloads unsealed when there is no key (an explicit choice, off by default).
    store_plaintext: bool = False
    #: Journaled messages older than this go with the retention job; None keeps them.
    retention_days: int | None = Field(default=30, ge=1)
