"""ID number format checks before any camera work (18-digit resident ID with check digit).

GB 11643-1999: 17 digits, then a check character from the ISO 7064 MOD 11-2 checksum
(``0``–``9`` or ``X``). Other ID types (passport, Hong Kong/Macao/Taiwan permits) are
accepted only when the server allows them (``allowed_types``).
"""

from __future__ import annotations

import re
from datetime import date

from zhishiyun.errors import ZhishiyunError
from zhishiyun.i18n import _

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
#: Formats of other ID types, matched after upper-casing and removing spaces.
OTHER_TYPES = {
    "passport": re.compile(r"^[A-Z0-9]{5,17}$"),
    "hk_macao_permit": re.compile(r"^[HM]\d{8,10}$"),
    "taiwan_permit": re.compile(r"^\d{8}$"),
}


class IdNumberError(ZhishiyunError):
    """The ID number cannot be right; the candidate should retype it."""

    code = "invalid_id_number"


def check_digit(first17: str) -> str:
    """The check character of the first 17 digits of a resident ID number."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=False))
    return _CHECK[total % 11]


def validate_id_number(text: str, allowed_types: tuple[str, ...] = ()) -> str:
    """The normalised ID number (upper case, no spaces), or :class:`IdNumberError`.

    Args:
        text: what the candidate typed.
        allowed_types: other ID types the server allows (keys of :data:`OTHER_TYPES`).
    """
    value = re.sub(r"\s+", "", text or "").upper()
    if not value:
        raise IdNumberError(_("Enter your ID number."))
    if re.fullmatch(r"\d{17}[\dX]", value):
        try:
            born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
        except ValueError:
            born = None
        if born is None or born > date.today() or born.year < 1900:
            raise IdNumberError(_("The date of birth in this ID number is not valid."),
                                hint=_("Check digits 7 to 14 (year, month, day)."))
        if check_digit(value[:17]) != value[17]:
            raise IdNumberError(_("This ID number is not valid: its last character does not "
                                  "match."), hint=_("Check every digit and type it again."))
        return value
    for kind in allowed_types:
        pattern = OTHER_TYPES.get(kind)
        if pattern and pattern.fullmatch(value):
            return value
    raise IdNumberError(_("An ID number has 18 characters: 17 digits and a digit or X."),
                        hint=_("Check every digit and type it again."))
