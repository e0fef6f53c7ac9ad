"""Reference data from the exchange database (前置库): centers, departments,
windows, cameras, staff and items, read together and kept for a few minutes.

Camera URLs hold secrets (user:password@host); they are never read here, so
they cannot reach a page, a log or a PDF.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import Engine, inspect, select

from app.base import exchange, outage

log = logging.getLogger(__name__)

TTL_SECONDS = 300.0


@dataclass(frozen=True)
class Center:
    center_id: str
    name: str
    level: str  # region, city, county
    parent_id: str | None


@dataclass(frozen=True)
class Department:
    dept_id: str
    center_id: str
    name: str


@dataclass(frozen=True)
class Window:
    window_id: str
    center_id: str
    dept_id: str | None
    label: str


@dataclass(frozen=True)
class Camera:
    camera_id: str
    window_id: str
    enabled: bool


@dataclass(frozen=True)
class Staff:
    staff_id: str
    name: str
    dept_id: str | None
    window_id: str | None


@dataclass(frozen=True)
class Item:
    item_code: str
    name: str
    dept_id: str | None
    promised_days: int
    statutory_days: int
    day_unit: str


@dataclass(frozen=True)
class Reference:
    centers: dict[str, Center] = field(default_factory=dict)
    departments: dict[str, Department] = field(default_factory=dict)
    windows: dict[str, Window] = field(default_factory=dict)
    cameras: dict[str, Camera] = field(default_factory=dict)
    staff: dict[str, Staff] = field(default_factory=dict)
    items: dict[str, Item] = field(default_factory=dict)

    def children(self, center_id: str) -> list[Center]:
        return sorted((c for c in self.centers.values() if c.parent_id == center_id), key=lambda c: c.center_id)

    def descendants(self, center_id: str) -> set[str]:
        """`center_id` and every center below it."""
        found, todo = set(), [center_id]
        while todo:
            current = todo.pop()
            if current in found:
                continue  # a cycle in upstream data must not hang a page
            found.add(current)
            todo.extend(c.center_id for c in self.centers.values() if c.parent_id == current)
        return found

    def center_name(self, center_id: str | None) -> str:
        center = self.centers.get(center_id or "")
        return center.name if center else (center_id or "")

    def dept_name(self, dept_id: str | None) -> str:
        dept = self.departments.get(dept_id or "")
        return dept.name if dept else (dept_id or "")

    def window_label(self, window_id: str | None) -> str:
        window = self.windows.get(window_id or "")
        return window.label if window else (window_id or "")

    def staff_name(self, staff_id: str | None) -> str:
        person = self.staff.get(staff_id or "")
        return person.name if person else (staff_id or "")

    def item_name(self, item_code: str | None) -> str:
        item = self.items.get(item_code or "")
        return item.name if item else (item_code or "")

    def place_names(self, row: dict, staff: bool = False) -> list[str]:
        """Where a row (an alarm, a case) stands, as upstream names it: center, department, window (and staff)."""
        parts = (
            self.center_name(row["center_id"]),
            self.dept_name(row["dept_id"]),
            self.window_label(row["window_id"]),
        ) + ((self.staff_name(row["staff_id"]),) if staff else ())
        return [p for p in parts if p]

    def cameras_of_window(self, window_id: str | None) -> list[Camera]:
        return sorted((c for c in self.cameras.values() if c.window_id == window_id), key=lambda c: c.camera_id)

    def region_id(self) -> str | None:
        roots = [c.center_id for c in self.centers.values() if c.level == "region"]
        return sorted(roots)[0] if roots else None


def read_reference(engine: Engine) -> Reference:
    """Everything at once; tables not created yet read as empty."""
    present = set(inspect(engine).get_table_names())
    with engine.connect() as conn:

        def rows(table, *columns):
            if table.name not in present:
                return []
            return conn.execute(select(*columns)).all()

        t = exchange
        centers = {
            r[0]: Center(r[0], r[1], r[2], r[3])
            for r in rows(t.centers, t.centers.c.center_id, t.centers.c.name, t.centers.c.level, t.centers.c.parent_id)
        }
        departments = {
            r[0]: Department(*r)
            for r in rows(t.departments, t.departments.c.dept_id, t.departments.c.center_id, t.departments.c.name)
        }
        windows = {
            r[0]: Window(*r)
            for r in rows(
                t.windows, t.windows.c.window_id, t.windows.c.center_id, t.windows.c.dept_id, t.windows.c.label
            )
        }
        # Never select cameras.url or substream_url: they carry credentials.
        cameras = {
            r[0]: Camera(r[0], r[1], r[2] is True)
            for r in rows(t.cameras, t.cameras.c.camera_id, t.cameras.c.window_id, t.cameras.c.enabled)
        }
        staff = {
            r[0]: Staff(*r)
            for r in rows(t.staff, t.staff.c.staff_id, t.staff.c.name, t.staff.c.dept_id, t.staff.c.window_id)
        }
        items = {}
        for r in rows(
            t.items,
            t.items.c.item_code,
            t.items.c.name,
            t.items.c.dept_id,
            t.items.c.promised_days,
            t.items.c.statutory_days,
            t.items.c.day_unit,
        ):
            try:
                items[r[0]] = Item(r[0], r[1], r[2], int(r[3]), int(r[4]), r[5] or "working")
            except (TypeError, ValueError):
                log.warning("item %r has unreadable time limits; left out", r[0])
    return Reference(centers, departments, windows, cameras, staff, items)


class ReferenceCache:
    """The reference data of one exchange database, re-read at most every `ttl` seconds."""

    def __init__(self, engine: Engine, ttl: float = TTL_SECONDS, monotonic=time.monotonic):
        self._engine, self._ttl, self._monotonic = engine, ttl, monotonic
        self._lock = threading.Lock()
        self._value: Reference | None = None
        self._read_at = 0.0

    def get(self) -> Reference:
        now = self._monotonic()
        if self._value is not None and now - self._read_at < self._ttl:
            return self._value
        with self._lock:
            if self._value is None or self._monotonic() - self._read_at >= self._ttl:
                try:
                    self._value = read_reference(self._engine)
                except Exception as error:
                    if self._value is None:
                        raise
                    if not outage.transient(error):  # an outage has its own lines (app.base.outage)
                        log.exception("re-reading reference data failed; keeping the previous copy")
                self._read_at = self._monotonic()
        return self._value

    def invalidate(self) -> None:
        with self._lock:
            self._read_at = 0.0
