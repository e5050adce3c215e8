"""Alerts: rules over what the gateway watches, posted to a webhook (``alerts:``).

Each rule names a kind (``settings.Kind``) and a threshold; every ``interval_s`` the
rules are evaluated (``_engine``) and each start and end of a breach is POSTed as
one small JSON object (rule, kind, subject, state, value, threshold, since, at:
no patient data, subjects are adapter, queue and certificate names). Sources of
values: the built-in ones here (adapter health, background queue age, in-doubt
bookings) and those other parts register with ``add_source`` (circuit state,
certificate expiry, supplier call counts for error rates).
"""

from gateway.alerts.settings import AlertSettings, Kind, Rule

__all__ = ["AlertSettings", "Kind", "Rule"]
