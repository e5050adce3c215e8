"""NHS number rules, and national identifier systems, shared by every front door and adapter."""

from __future__ import annotations

import re

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
#: fs_authentication.md: the user's SDS role profile id ("UNK" without an NHS smartcard).
SDS_ROLE_PROFILE_SYSTEM = "https://fhir.nhs.uk/Id/sds-role-profile-id"
_DIGITS = re.compile(r"^\d{10}$")


def is_valid_nhs_number(value: str) -> bool:
    """True if ``value`` is ten digits whose modulus-11 check digit is right.

    The check: weight the first nine digits 10..2, sum, take 11 - (sum mod 11);
    11 means 0 and 10 means the number can never be valid.
    """
    if not _DIGITS.match(value):
        return False
    total = sum(int(d) * w for d, w in zip(value[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(value[9])
