"""Sending hours (发送时段): no survey SMS wakes an applicant at night.

Local wall-clock hours in SUPERVISE_TZ, default 08:00–21:00; a window may
wrap midnight (22:00–06:00). Pure: `now` is always passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo


@dataclass(frozen=True, slots=True)
class SendingHours:
    start: time  # first instant messages may go out
    end: time  # first instant they may not
    zone: tzinfo

    def is_open(self, now: datetime) -> bool:
        """True if a message may be sent at `now` (start inclusive, end exclusive)."""
        local = now.astimezone(self.zone).time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def next_open(self, now: datetime) -> datetime:
        """`now` if sending is allowed then, else the instant the window next opens."""
        if self.is_open(now):
            return now
        local = now.astimezone(self.zone)
        opening = datetime.combine(local.date(), self.start, tzinfo=self.zone)
        if opening <= local:
            opening = datetime.combine(local.date() + timedelta(days=1), self.start, tzinfo=self.zone)
        return opening
