"""Spine Secure Proxy header checks and their enforcement levels."""

from __future__ import annotations

import pytest

from gateway.config import Enforcement, SspSettings
from gateway.errors import ApiError, ErrorKind
from gateway.security import Interaction, apply_ssp_policy, check_ssp_headers, enforce_ssp

ASID = "200000000123"
WARN = SspSettings(enforcement=Enforcement.WARN, asid=ASID)


def _headers(interaction: Interaction, **changes: str | None) -> dict[str, str]:
    headers = {
        "Ssp-TraceID": "09a01679-2564-0fb4-5129-aecc81ea2706",
        "Ssp-From": "200000000359",
        "Ssp-To": ASID,
        "Ssp-InteractionID": interaction.interaction_id,
    }
    for name, value in changes.items():
        headers.pop(name.replace("_", "-"))
        if value is not None:
            headers[name.replace("_", "-")] = value
    return headers


@pytest.mark.parametrize("interaction", list(Interaction))
def test_correct_headers_pass_for_each_interaction(interaction: Interaction) -> None:
    """Each interaction's own Ssp-InteractionID with the other headers gives no problems."""
    assert check_ssp_headers(_headers(interaction), interaction, WARN) == []


@pytest.mark.parametrize("interaction", list(Interaction))
def test_other_interactions_id_is_a_problem(interaction: Interaction) -> None:
    """Any other interaction's Ssp-InteractionID is reported for each interaction."""
    for other in Interaction:
        if other is interaction:
            continue
        headers = _headers(interaction, Ssp_InteractionID=other.interaction_id)
        [problem] = check_ssp_headers(headers, interaction, WARN)
        assert problem.startswith("Ssp-InteractionID is ")
        assert interaction.interaction_id in problem


@pytest.mark.parametrize("name", ["Ssp-TraceID", "Ssp-From", "Ssp-To", "Ssp-InteractionID"])
def test_missing_header_is_named(name: str) -> None:
    """Each absent (or blank) SSP header is reported by name."""
    absent = _headers(Interaction.SLOT_SEARCH, **{name.replace("-", "_"): None})
    assert check_ssp_headers(absent, Interaction.SLOT_SEARCH, WARN) == [f"{name} header is missing"]
    blank = _headers(Interaction.SLOT_SEARCH, **{name.replace("-", "_"): "  "})
    assert check_ssp_headers(blank, Interaction.SLOT_SEARCH, WARN) == [f"{name} header is missing"]


def test_header_names_are_case_insensitive() -> None:
    """Lower-case header names in a plain dict are found."""
    headers = {k.lower(): v for k, v in _headers(Interaction.BOOK).items()}
    assert check_ssp_headers(headers, Interaction.BOOK, WARN) == []


def test_ssp_to_must_be_our_asid_only_when_configured() -> None:
    """Ssp-To other than the configured ASID is a problem; with no ASID it is not checked."""
    headers = _headers(Interaction.BOOK, Ssp_To="999999999999")
    [problem] = check_ssp_headers(headers, Interaction.BOOK, WARN)
    assert problem == f"Ssp-To is '999999999999' but this gateway's ASID is {ASID}"
    assert check_ssp_headers(headers, Interaction.BOOK, SspSettings()) == []


def test_enforce_raises_with_all_problems() -> None:
    """Under ENFORCE, problems become one SSP_HEADERS error joining them with '; '."""
    settings = SspSettings(enforcement=Enforcement.ENFORCE, asid=ASID)
    with pytest.raises(ApiError) as caught:
        apply_ssp_policy({}, Interaction.BOOK, settings)
    assert caught.value.kind is ErrorKind.SSP_HEADERS
    assert caught.value.diagnostics.count("; ") == 3
    enforce_ssp([], settings)


def test_warn_returns_problems_to_log() -> None:
    """Under WARN, problems are returned for the caller to log and nothing is raised."""
    problems = apply_ssp_policy({}, Interaction.BOOK, WARN)
    assert len(problems) == 4
    enforce_ssp(problems, WARN)


def test_off_skips_the_check() -> None:
    """Under OFF, nothing is checked and nothing is raised."""
    assert apply_ssp_policy({}, Interaction.BOOK, SspSettings(enforcement=Enforcement.OFF)) == []
