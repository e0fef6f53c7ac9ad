"""Each center's working-day calendar: the official one, plus the center's own
override file ``<center_id>.toml`` in ``SUPERVISE_CALENDAR_DIR`` if present.

The one reader of that folder, for the ingest, the web, SMS, orders and notifications.
Reading the files is I/O, so it lives here; the arithmetic is ``rules.calendar``.
A bad override file is refused with its name and the reason.
"""

from __future__ import annotations

import logging
from pathlib import Path

from rules.calendar import CenterOverride, WorkCalendar, parse_center_override

log = logging.getLogger(__name__)


class CalendarBook:
    """The calendar of every center, official days shared by all."""

    def __init__(self, overrides: dict[str, CenterOverride] | None = None):
        self.official = WorkCalendar()
        self._by_center = {center: WorkCalendar.for_center(override) for center, override in (overrides or {}).items()}

    @classmethod
    def from_dir(cls, folder: Path | None) -> CalendarBook:
        overrides: dict[str, CenterOverride] = {}
        if folder is not None:
            if not folder.is_dir():
                raise ValueError(f"calendar folder {folder} does not exist")
            for path in sorted(folder.glob("*.toml")):
                overrides[path.stem] = _read(path)
                log.info("center %s uses its own calendar file %s", path.stem, path)
        return cls(overrides)

    def for_center(self, center_id: str | None) -> WorkCalendar:
        return self._by_center.get(center_id or "", self.official)

    def fallback_years(self) -> set[int]:
        """Years judged on Monday–Friday for want of official data (for the UI banner)."""
        years = set(self.official.fallback_years_used)
        for calendar in self._by_center.values():
            years |= set(calendar.fallback_years_used)
        return years


def center_calendar(folder: Path | None, center_id: str | None) -> WorkCalendar:
    """One center's calendar: official days plus its own file in `folder`, if it has one
    (read now: for a process that needs a center or two, not the whole book)."""
    path = folder / f"{center_id}.toml" if folder and center_id else None
    if path is not None and path.exists():
        return WorkCalendar.for_center(_read(path))
    return WorkCalendar()


def _read(path: Path) -> CenterOverride:
    try:
        return parse_center_override(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"calendar file {path}: {exc}") from exc
