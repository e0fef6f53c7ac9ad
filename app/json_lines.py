"""How commands print records: one JSON object per line, Chinese kept as is,
instants in local time with their offset, dates as YYYY-MM-DD."""
from __future__ import annotations

import json
import sys
from datetime import date, datetime, tzinfo


def iso(value, zone: tzinfo):
    """An instant as local ISO 8601 with offset; a date as YYYY-MM-DD; anything else unchanged."""
    if isinstance(value, datetime):
        return value.astimezone(zone).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def emit(record: dict) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
