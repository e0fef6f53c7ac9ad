"""How commands print records: one JSON object per line, Chinese kept as is,
instants in local time with their offset, dates as YYYY-MM-DD. Upstream text
reads back whole, while a terminal shows its controls, direction changes and
markup as \\u escapes (app/base/display.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from datetime import date, datetime, tzinfo

from app.base.display import json_safe


def iso(value, zone: tzinfo):
    """An instant as local ISO 8601 with offset; a date as YYYY-MM-DD; anything else unchanged."""
    if isinstance(value, datetime):
        return value.astimezone(zone).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def emit(record: dict) -> None:
    sys.stdout.write(json_safe(record) + "\n")


# Listings stop here unless told otherwise: enough for a person at a terminal, and
# never silently: the command says on stderr that it stopped and how to get the rest.
DEFAULT_LIMIT = 10_000


def limit_option(noun: str):
    """The --limit option every listing command takes."""
    import click

    return click.option(
        "--limit",
        type=click.IntRange(min=0),
        default=DEFAULT_LIMIT,
        show_default=True,
        help=f"At most this many {noun} (0: all). When more exist, a line on stderr says so.",
    )


def fetch_size(limit: int) -> int | None:
    """How many rows a listing's query should ask for: one more than shown, to know whether more exist."""
    return limit + 1 if limit else None


def emit_listing(records: Iterable[dict], limit: int, noun: str) -> int:
    """Print up to `limit` records (0: all) as JSON lines; say on stderr when more were left out.

    `records` may hold one more than `limit` (see :func:`fetch_size`): that one is
    never printed, it only tells that the listing stopped early. Returns how many were printed.
    """
    printed = 0
    for record in records:
        if limit and printed >= limit:
            sys.stderr.write(
                f"supervise: stopped after {limit} {noun}; more exist (--limit N for more, --limit 0 for all)\n"
            )
            break
        emit(record)
        printed += 1
    return printed
