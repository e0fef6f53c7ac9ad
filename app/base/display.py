"""Upstream text as pages, PDFs, messages and terminals show it.

Every name, case number and payload string comes from the exchange database,
written by hundreds of approval systems: it may be 100 KB long, carry markup,
or hold invisible characters that reorder what surrounds them (a right-to-left
override turns a case number backwards). Whatever draws such text passes it
through :func:`shown` first, or through the variant for its medium
(:func:`in_plotly`, :func:`in_reportlab`, :func:`in_file_name`, :func:`json_safe`).
The data itself is stored and served (JSON API, CLI) untouched.

A cap is a display width (a CJK character takes two columns) together with a
hard limit on characters (combining marks take no width, yet cost a renderer
just the same). A capped text ends with "…"; the page keeps the rest in a
tooltip (:func:`tooltip`) or a detail view (:data:`DETAIL`: ten thousand
characters, as much as a browser lays out at once without a pause; the JSON
API has every character).
"""

from __future__ import annotations

import json
import unicodedata
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import NamedTuple

from wcwidth import iter_graphemes, width

ELLIPSIS = "…"


class Cap(NamedTuple):  # a tuple: it keys the cache of _fit on every call, and hashes in C
    columns: int  # display width; a CJK character takes two
    chars: int  # code points, whatever their width


# Each cap says where it is used; a component that would choke on more gets no more.
CHART = Cap(36, 48)  # text in a fixed space: chart axes and tiles, labels inside the PDF drawings
LABEL = Cap(48, 64)  # a choice or a name tag: dropdown options (indexed letter by letter), wall tiles, SMS places
CELL = Cap(80, 120)  # a cell of a table or a line of a list: the board, KPI tables, search results, PDF cells
TITLE = Cap(80, 120)  # headings, case numbers in titles and messages, document titles, file names
PARAGRAPH = Cap(600, 800)  # a note, a reason, an event's fields: paragraphs inside tables and PDFs
TOOLTIP = Cap(1000, 1500)  # the hover of a capped text: the whole of any sane value
DETAIL = Cap(20_000, 10_000)  # detail views (a case's facts, an alarm's panel), in a scrolling block
WHOLE = None  # everything, neutralised: text of our own making, already capped in its parts

# Line and paragraph breaks read as one space: labels are one line, and HTML and PDF paragraphs fold them anyway.
_SPACES = "\t\n\r\v\f\x85\u2028\u2029"
# Joiners shape Persian, Indic scripts and emoji sequences, and reorder nothing.
_JOINERS = "\u200c\u200d"
# Letters that draw nothing (Hangul fillers, the combining grapheme joiner): invisible like format characters.
# Private-use characters stay: legacy GBK systems put rare characters of people's names (生僻字) there.
_BLANK_LETTERS = "\u034f\u115f\u1160\u17b4\u17b5\u3164\uffa0"


class _Neutral(dict):
    """str.translate table, filled in as characters are met: what each one becomes on screen."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        if char in _SPACES:
            value = " "
        elif char in _JOINERS:
            value = char
        elif (
            unicodedata.category(char) in ("Cc", "Cf", "Cs")
            or char in _BLANK_LETTERS
            or (code & 0xFFFE) == 0xFFFE
            or 0xFDD0 <= code <= 0xFDEF
        ):
            # Bidirectional controls (U+202A–202E, U+2066–2069, U+200E/F, U+061C) are format characters (Cf):
            # shown as what they are, they can no longer reverse a case number or hide a letter.
            value = f"[U+{code:04X}]"
        else:
            value = char
        self[code] = value
        return value


_NEUTRAL = _Neutral()


def neutral(text: str) -> str:
    """`text` with every invisible, control or direction-changing character made visible as [U+XXXX]."""
    return text.translate(_NEUTRAL)


@lru_cache(maxsize=65_536)
def _fit(text: str, cap: Cap | None) -> tuple[str, bool]:
    """(the text as shown, whether it was cut)."""
    if cap is None:
        return neutral(text), False
    # Escapes only lengthen a text, so one character past the cap is enough to know whether it fits.
    text = neutral(text[: cap.chars + 1])
    if 2 * len(text) <= cap.columns:  # no character is wider than two columns: it fits without measuring
        return text, False
    columns = chars = keep = 0
    for grapheme in iter_graphemes(text):
        columns += max(width(grapheme), 0)
        chars += len(grapheme)
        if columns > cap.columns or chars > cap.chars:
            return text[:keep] + ELLIPSIS, True
        if columns < cap.columns and chars < cap.chars:  # room left for the ellipsis
            keep = chars
    return text, False


def shown(text, cap: Cap | None = CELL) -> str:
    """Upstream text as it may be drawn: neutralised (:func:`neutral`) and cut to `cap` with "…".

    `cap=None` (:data:`WHOLE`) keeps every character, for detail views.
    """
    if text is None:
        return ""
    return _fit(text if isinstance(text, str) else str(text), cap)[0]


def tooltip(text, cap: Cap = CELL) -> str | None:
    """The hover for `text` shown with `cap`: a longer cut of it, or None when nothing was cut."""
    if text is None:
        return None
    text = text if isinstance(text, str) else str(text)
    return _fit(text, TOOLTIP)[0] if _fit(text, cap)[1] else None


def in_plotly(text, cap: Cap | None = CHART) -> str:
    """For plotly labels, hovers and annotations: plotly reads a small HTML (``<a href>``, ``<br>``) in them.

    Only &, < and > are escaped: plotly turns &amp; &lt; &gt; back, but shows other entities as they are.
    """
    return shown(text, cap).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def in_reportlab(text, cap: Cap | None = CELL) -> str:
    """For a reportlab Paragraph, which parses its text as markup (<a>, <img>, <font>, entities)."""
    return shown(text, cap).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def in_file_name(text, cap: Cap = TITLE) -> str:
    """For a file name offered for download: no path separators, quotes or reserved characters of any system."""
    return "".join("_" if c in '/\\:*?"<>|' else c for c in shown(text, cap))


class _JsonEscapes(dict):
    """str.translate table for JSON text: \\u escapes for what would be neutralised on screen, and for < > &."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        if char in "<>&" or _NEUTRAL[code] != char:
            data = char.encode("utf-16-be", "surrogatepass")
            value = "".join(f"\\u{int.from_bytes(data[i : i + 2], 'big'):04x}" for i in range(0, len(data), 2))
        else:
            value = char
        self[code] = value
        return value


_JSON_ESCAPES = _JsonEscapes()


def json_safe(value, **dumps_options) -> str:
    """JSON of `value` that reads back whole, while a terminal or browser showing the text itself sees
    no control, no direction change and no markup: those characters are written as \\u escapes."""
    # Outside its strings JSON is plain ASCII, so every character this escapes sits inside a string.
    return json.dumps(value, ensure_ascii=False, **dumps_options).translate(_JSON_ESCAPES)


# A dropdown indexes its values letter by letter as well, and an id cannot be cut without losing what it names.
OPTION_VALUE_CHARS = 256


def option(value: str, text, label: str | None = None) -> dict | None:
    """A dropdown choice for upstream text: the label capped (the dropdown indexes every substring of it)
    and the rest in its hover; None for an id too long to offer (:data:`OPTION_VALUE_CHARS`).

    `label` is the label already made of capped parts, when the text joins several names.
    """
    if len(value) > OPTION_VALUE_CHARS:
        return None
    label = shown(text, LABEL) if label is None else label
    hover = shown(text, TOOLTIP)
    return {"label": label, "value": value, **({"title": hover} if hover != label else {})}


def local(instant: datetime | None, zone: tzinfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An instant as a person reads it, in the deployment's time zone; "" for none (pages, PDFs, hovers)."""
    return instant.astimezone(zone).strftime(fmt) if instant else ""
