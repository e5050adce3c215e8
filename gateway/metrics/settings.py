"""The ``metrics:`` section of the configuration."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class MetricsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Serve ``GET /metrics`` (Prometheus text format).
    enabled: bool = True
    #: Ask scrapers for the admin token (``server.admin_token_env``); off, as scrapers
    #: usually reach it on a private network and the scrape holds no patient data.
    require_admin_token: bool = False
    #: How long ``/health/ready`` waits for the store before calling it unreachable.
    store_timeout_s: float = 2.0
