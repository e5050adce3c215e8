"""The door's WS-Security timestamp rule, against an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.itk_toolkit.errors import ItkError, ToolkitCode
from adapters.itk_toolkit.headers import Security
from adapters.soap_toolkit.envelope import SoapVersion
from gateway.itk.validate import check_timestamp, media_version

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SKEW = timedelta(seconds=60)


@pytest.mark.parametrize(
    "security",
    [
        None,
        Security(),
        Security(NOW - timedelta(minutes=5), NOW + timedelta(minutes=5)),
        Security(NOW + timedelta(seconds=30), NOW + timedelta(minutes=10)),
        Security(NOW - timedelta(minutes=10), NOW - timedelta(seconds=30)),
    ],
    ids=["absent", "no-timestamp", "current", "created-within-skew", "expired-within-skew"],
)
def test_timestamps_in_time_pass(security: Security | None) -> None:
    """No timestamp, or one current within the skew, is accepted."""
    check_timestamp(security, NOW, SKEW)


@pytest.mark.parametrize(
    "security",
    [
        Security(NOW - timedelta(minutes=20), NOW - timedelta(minutes=10)),
        Security(NOW + timedelta(minutes=5), NOW + timedelta(minutes=15)),
    ],
    ids=["expired", "created-in-the-future"],
)
def test_timestamps_out_of_time_are_refused(security: Security) -> None:
    """An expired timestamp, or one made in the future, is fault 1100."""
    with pytest.raises(ItkError) as caught:
        check_timestamp(security, NOW, SKEW)
    assert caught.value.code is ToolkitCode.EXPIRED


def test_media_types_name_their_soap_version() -> None:
    """text/xml is SOAP 1.1, application/soap+xml 1.2, anything else neither."""
    assert media_version("text/xml; charset=utf-8") is SoapVersion.V11
    assert media_version('application/soap+xml; action="x"') is SoapVersion.V12
    assert media_version("application/json") is None
