"""Escalation (超时升级): an alarm left unacknowledged past the control room's limit.

The limit is counted in event time from the alarm's fired_at, so the same alarm
escalates at the same instant whenever it is looked at. The board shows an
alarm as escalated from time alone (:func:`is_escalated`); the ingest's sweep
records, once per alarm, the instant it passed the limit (:func:`escalated_at`).
"""

from __future__ import annotations

from datetime import datetime, timedelta


def limit_passed_at(fired_at: datetime, escalate_after: timedelta) -> datetime:
    """The instant an alarm left alone reaches the limit: fired_at + escalate_after."""
    return fired_at + escalate_after


def fired_by(now: datetime, escalate_after: timedelta) -> datetime:
    """Alarms fired at or before this instant have reached the limit by `now` (for a query's bound)."""
    return now - escalate_after


def is_escalated(state: str, fired_at: datetime, now: datetime, escalate_after: timedelta) -> bool:
    """As the board shows it at `now`: still open (not acknowledged) and its limit reached.

    The boundary instant escalates; an acknowledged or closed alarm never shows as escalated."""
    return state == "open" and limit_passed_at(fired_at, escalate_after) <= now


def escalated_at(
    fired_at: datetime,
    acknowledged_at: datetime | None,
    closed_at: datetime | None,
    now: datetime,
    escalate_after: timedelta,
) -> datetime | None:
    """As the audit trail records it: the instant the alarm passed the limit, if that instant is
    at or before `now` and the alarm was neither acknowledged nor closed by then; else None.

    A function of the alarm's own instants only, so every sweep, at any `now` after the limit,
    in any order, records the same thing."""
    at = limit_passed_at(fired_at, escalate_after)
    if at > now:
        return None
    return at if all(when is None or when > at for when in (acknowledged_at, closed_at)) else None
