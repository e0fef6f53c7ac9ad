"""An alarm as scripts read it: one JSON object, the same from `supervise alarms --json`,
`supervise alarm ack|urge|close` and the web's /api/alarms and /api/cases.

It sits on the ground floor because both the ingest's commands and the web print it.
"""

from __future__ import annotations

from datetime import tzinfo

from app.base.json_lines import iso

# semantics.md's fields of `supervise alarms --json`, then when an officer acknowledged and urged it.
ALARM_FIELDS = (
    "id",
    "kind",
    "level",
    "case_no",
    "subject",
    "center_id",
    "dept_id",
    "window_id",
    "camera_id",
    "fired_at",
    "due",
    "state",
    "closed_reason",
    "acknowledged_at",
    "urged_at",
)


def alarm_json(row, zone: tzinfo) -> dict:
    """A row of the alarms table: instants in local time with their offset, dates as YYYY-MM-DD."""
    return {name: iso(row[name], zone) for name in ALARM_FIELDS}
