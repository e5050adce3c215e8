"""The ``alerts:`` section: where alerts go and which rules raise them."""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Kind(enum.StrEnum):
    """What a rule watches; each kind's values come from one source (``_sources``)."""

    #: Share of a supplier's calls that failed over ``window_s`` (0..1).
    ERROR_RATE = "error_rate"
    #: A supplier's circuit is open (1) or not (0).
    CIRCUIT_OPEN = "circuit_open"
    #: Seconds the oldest entry of a background queue has waited.
    BACKLOG_AGE = "backlog_age"
    #: Days until a configured certificate expires.
    CERT_EXPIRY = "cert_expiry"
    #: Bookings whose outcome is not yet known.
    IN_DOUBT = "in_doubt"
    #: An adapter's health ping fails (1) or passes (0).
    ADAPTER_DOWN = "adapter_down"


#: Kinds that alert when the value falls *below* the threshold (the rest: above it).
FALLING = frozenset({Kind.CERT_EXPIRY})


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.:-]+$")
    kind: Kind
    #: Which subjects (adapter, queue or certificate names) it watches; "*" every one.
    subject: str = "*"
    #: The threshold: alert above it (below it for cert_expiry). Defaults per kind.
    threshold: float | None = None
    #: error_rate: the window the share is taken over, and the fewest calls that count.
    window_s: float = Field(default=300.0, gt=0, le=86_400)
    min_calls: int = Field(default=5, ge=1)

    def limit(self) -> float:
        if self.threshold is not None:
            return self.threshold
        return _DEFAULTS[self.kind]

    def breached(self, value: float) -> bool:
        return value < self.limit() if self.kind in FALLING else value > self.limit()


_DEFAULTS = {
    Kind.ERROR_RATE: 0.2,
    Kind.CIRCUIT_OPEN: 0.5,
    Kind.BACKLOG_AGE: 600.0,
    Kind.CERT_EXPIRY: 14.0,
    Kind.IN_DOUBT: 0.5,
    Kind.ADAPTER_DOWN: 0.5,
}


class AlertSettings(BaseModel):
    """Alerts POSTed as JSON to ``webhook`` when a rule starts and stops being breached."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook: str = Field(pattern=r"^https?://")
    #: Environment variable holding a bearer token for the webhook (never the token itself).
    webhook_token_env: str | None = None
    #: How often the rules are evaluated.
    interval_s: float = Field(default=30.0, gt=0, le=3600)
    #: A rule still breached is posted again this often (0: only when it starts and ends).
    repeat_s: float = Field(default=3600.0, ge=0)
    #: How long one webhook POST may take.
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    rules: tuple[Rule, ...] = ()

    @field_validator("rules")
    @classmethod
    def _unique(cls, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
        names = [r.name for r in rules]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise ValueError(f"rule names must be unique: {', '.join(doubled)}")
        return rules
