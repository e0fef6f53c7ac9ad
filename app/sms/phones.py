"""Applicants' phone numbers: one normal form for matching, one mask for people.

`mask_phone` is the only way a phone number reaches a screen, a PDF, a log
line or JSON for officers: ``138****1234``. The full number stays in the
database and goes only to the SMS gateway.
"""

from __future__ import annotations

import re
import unicodedata

_NOISE = re.compile(r"[\s\-()（）.·]")
_MOBILE_IN_TEXT = re.compile(r"(?<!\d)(?:\+?86)?1[3-9]\d{9}(?!\d)")
_MOBILE = re.compile(r"1[3-9]\d{9}")


def normalize_phone(value: object) -> str | None:
    """Digits only, without the country code: '+86 138-1234-1234' → '13812341234'; None if not a number."""
    if not isinstance(value, str):
        return None
    text = _NOISE.sub("", unicodedata.normalize("NFKC", value))
    if text.startswith("+"):
        text = text[1:]
    if not text.isascii() or not text.isdigit():
        return None
    for prefix in ("0086", "86"):
        if text.startswith(prefix) and _MOBILE.fullmatch(text[len(prefix) :]):
            return text[len(prefix) :]
    return text if 5 <= len(text) <= 20 else None


def is_mobile(phone: str | None) -> bool:
    """A mainland mobile number (the only kind an SMS can reach)."""
    return phone is not None and _MOBILE.fullmatch(phone) is not None


def mask_phone(value: object) -> str | None:
    """'13812341234' → '138****1234'; shorter numbers keep only their last two digits."""
    if value is None:
        return None
    text = normalize_phone(value) or "".join(ch for ch in str(value) if ch.isalnum())
    if len(text) >= 11:
        return text[:3] + "****" + text[-4:]
    if len(text) >= 7:
        return text[:2] + "*" * (len(text) - 4) + text[-2:]
    return "*" * max(len(text) - 2, 2) + text[-2:] if len(text) > 2 else "****"


def mask_phones_in(text: str | None) -> str | None:
    """Free text (a reply, a provider's error) with every mobile number in it masked."""
    return None if text is None else _MOBILE_IN_TEXT.sub(lambda m: mask_phone(m.group()) or "****", text)
