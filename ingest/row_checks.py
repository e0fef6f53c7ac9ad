"""Exchange rows changed upstream after they were taken in.

The contract says the exchange database is append-only; upstream systems "fix" rows
all the same: they update them, delete them, or write a row with an id the ingest had
already passed. The tailer never looks back, so none of that would be noticed. Here
rows already taken in are read again and compared with what was taken in: the stored
event (``events``), or the row as it was set aside (``quality_log``); for on-site
ratings, the stored rating. What differs goes to the data-quality log, source
``changed:<table>``, with the row's id and, in the reason, which columns changed, old →
new (or that the row was deleted, or appeared). Nothing is judged again: the stored
events stay as they were taken in, and the officer decides what the change means.

How far back and at what cost: each pass starts at the ingest's watermark and reads
back, newest first, WINDOW_IDS ids (a million: about nine days of a whole region's
40 M rows a year; all of a smaller one's), in shares of SHARE_IDS ids: one exchange
range read by primary key, one range read of the stored events and of the quality log
by their keys, and a comparison in Python. Following, the ingest reads one share per
table with its chores (every 5 s), so a whole window is read again in about 40 minutes,
at about 400 rows a second; ``ingest --once`` reads ONCE_SHARES shares per table. Where a
pass stands is kept in ``exchange_row_checks``, so a restart goes on where it stopped.

An exact repeat is never stored, so when it changes it shows as a row that appeared;
when it is deleted nothing is seen. On-site ratings take their window and staff from
their case when the row has none, so those two are compared only when the row names them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import Connection, Engine, select

from app.base.tables import exchange_row_checks, quality_log, ratings
from ingest import bulk, metrics, store
from ingest.source import EVENT_COLUMNS, RATING_COLUMNS, read_between
from rules.events import Event, check_row, parse_timestamp
from rules.ratings import OnsiteRow
from rules.ratings import check_onsite_row as check_rating

log = logging.getLogger(__name__)

WINDOW_IDS = 1_000_000  # each pass reads back this far below the watermark it began at
SHARE_IDS = 2_000  # ids read again at a time
ONCE_SHARES = 10  # ingest --once: this many shares per table
SOURCES = ("case_events", "onsite_ratings")
REASON_CHARS = 500


@dataclass(frozen=True)
class Change:
    """A row that differs from what was taken in."""

    source: str
    row_id: int
    what: str  # changed, deleted, appeared
    case_no: object
    columns: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # column -> (as taken in, now)
    about: str = ""  # what the row said, as taken in: "accepted at 2026-09-29T11:00:00+08:00"

    @property
    def log_source(self) -> str:
        return f"changed:{self.source}"

    def reason(self) -> str:
        """What changed, readable; at most REASON_CHARS (the quality log's reason is a key of an
        index; the whole of every value is in row())."""
        text = self._reason()
        return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1] + "…"

    def _reason(self) -> str:
        row = f"{self.source} row {self.row_id} (case {_show(self.case_no)}{', ' + self.about if self.about else ''})"
        if self.what == "deleted":
            return f"{row} was deleted upstream after it was taken in; what was taken in stays, nothing is judged again"
        if self.what == "appeared":
            return (
                f"{row} is upstream but was never taken in: an exact repeat that has changed since, or a row "
                "written with an id the ingest had passed; it is not taken in now"
            )
        shown = "; ".join(f"{column} {_show(old)} → {_show(new)}" for column, (old, new) in self.columns.items())
        return (
            f"{row} changed upstream after it was taken in: {shown}; what was taken in stays, nothing is judged again"
        )

    def row(self) -> dict:
        return {
            "change": self.what,
            "table": self.source,
            "id": self.row_id,
            "case_no": _text(self.case_no),
            "columns": {c: [_text(old), _text(new)] for c, (old, new) in self.columns.items()},
        }


def check(exchange: Engine, db: Engine, now: datetime, tz: tzinfo, known_items: Container[str], shares: int = 1) -> int:
    """Read `shares` shares of each exchange table again; how many changes were newly logged."""
    logged = 0
    for source in SOURCES:
        for _ in range(shares):
            found, pass_ended = _share(exchange, db, source, now, tz, known_items)
            logged += found
            if pass_ended:
                break
    return logged


def _share(
    exchange: Engine, db: Engine, source: str, now: datetime, tz: tzinfo, known_items: Container[str]
) -> tuple[int, bool]:
    """One share of one table: (changes newly logged, whether its pass ended)."""
    with db.connect() as conn:
        state = _state(conn, source, now)
    floor = max(state["pass_top"] - WINDOW_IDS, 0)
    high = state["checked_down_to"]
    low = max(high - SHARE_IDS, floor)
    rows = read_between(exchange, source, low, high) if high > low else []
    with db.begin() as conn:
        changes = _COMPARE[source](conn, {row[0]: row for row in rows}, low, high, tz, known_items)
        logged = store.log_quality(conn, f"changed:{source}", [(c.row_id, c.reason(), c.row()) for c in changes], now)
        ended = low <= floor
        state |= {"checked_down_to": low, "rows_read": state["rows_read"] + len(rows)}
        if ended:
            state |= {
                "last_pass_began": state["pass_began"],
                "last_pass_ended": now,
                "last_pass_rows": state["rows_read"],
            }
            state |= _new_pass(conn, source, now)
        bulk.upsert(conn, exchange_row_checks, [state], key="source", update=[c for c in state if c != "source"])
    metrics.rows_checked_total.labels(source).inc(len(rows))
    if logged:
        metrics.upstream_changes_total.labels(source).inc(logged)
        log.warning(
            "%d %s rows changed upstream after they were taken in (supervise quality --json), e.g. %s",
            logged,
            source,
            changes[0].reason(),
        )
    return logged, ended


def _state(conn: Connection, source: str, now: datetime) -> dict:
    row = conn.execute(select(exchange_row_checks).where(exchange_row_checks.c.source == source)).mappings().first()
    if row is not None:
        return dict(row)
    return {
        "source": source,
        "rows_read": 0,
        "last_pass_began": None,
        "last_pass_ended": None,
        "last_pass_rows": None,
    } | _new_pass(conn, source, now)


def _new_pass(conn: Connection, source: str, now: datetime) -> dict:
    """A pass from the watermark: every id at or below it is taken in (or never will be)."""
    top = store.load_cursor(conn, source).watermark
    return {"pass_top": top, "checked_down_to": top, "pass_began": now, "rows_read": 0}


# --- case events ---------------------------------------------------------------------------------


def _case_events(
    conn: Connection, rows: dict[int, tuple], low: int, high: int, tz: tzinfo, known_items: Container[str]
) -> list[Change]:
    stored = {event[0]: event for event in store.events_between(conn, low, high)}
    set_aside = _set_aside_between(conn, "case_events", low, high)
    changes = []
    for event_id, event in stored.items():
        row = rows.get(event_id)
        if row is not None and row == event:
            continue  # as taken in, to the letter (the usual row, on PostgreSQL)
        about = f"{event[2]} at {_local(event[3], tz)}"
        if row is None:
            changes.append(Change("case_events", event_id, "deleted", event[1], about=about))
        elif columns := _safely(_event_differs, event, row, tz):
            changes.append(Change("case_events", event_id, "changed", event[1], columns, about))
    changes += _raw_changes("case_events", EVENT_COLUMNS, rows, set_aside, stored.keys())
    unknown = [row for event_id, row in rows.items() if event_id not in stored and event_id not in set_aside]
    changes += _appeared_case_events(conn, unknown, tz, known_items)
    return changes


def _event_differs(event: tuple, row: tuple, tz: tzinfo) -> dict[str, tuple]:
    """Columns of `row` that say something else than the event taken in from it (a stored
    row, store.events_between): (old, new). Read as rules.events reads them, so that the
    same instant or payload written otherwise is no change."""
    columns = {}
    for i, column in enumerate(EVENT_COLUMNS[1:], start=1):
        old, new = event[i], row[i]
        if old == new:
            continue
        if column in ("occurred_at", "recorded_at"):
            moment = parse_timestamp(new, tz)
            if moment != old:
                columns[column] = (_local(old, tz), _local(moment, tz) if moment else new)
        elif column == "payload":
            if _decoded(new) != _decoded(old):
                columns[column] = (old, new if isinstance(new, (str, bytes)) else json.dumps(new, ensure_ascii=False))
        elif (new if new is None or isinstance(new, str) else str(new)) != old:
            columns[column] = (old, new)
    return columns


def _decoded(payload: object) -> object:
    """The payload as rules.events reads it: NULL and JSON null are an empty object."""
    if isinstance(payload, (str, bytes)):
        try:
            payload = json.loads(payload)
        except (ValueError, RecursionError):
            return payload
    return {} if payload is None else payload


def _appeared_case_events(
    conn: Connection, unknown: list[tuple], tz: tzinfo, known_items: Container[str]
) -> list[Change]:
    """Rows never taken in: an exact repeat of a stored event is none of our concern."""
    keyed, changes = [], []
    for row in unknown:
        event = check_row(*row, known_items=known_items, tz=tz)
        if isinstance(event, Event):
            keyed.append((row, (event.case_no, store.dup_key(event))))
        else:
            changes.append(Change("case_events", row[0], "appeared", row[1]))
    repeats = store.stored_repeats(conn, [key for _, key in keyed])
    changes += [Change("case_events", row[0], "appeared", row[1]) for row, key in keyed if key not in repeats]
    return changes


# --- on-site ratings ----------------------------------------------------------------------------


def _onsite_ratings(
    conn: Connection, rows: dict[int, tuple], low: int, high: int, tz: tzinfo, known_items: Container[str]
) -> list[Change]:
    ids = [str(i) for i in range(low + 1, high + 1)]
    query = select(ratings).where(ratings.c.source == "onsite", bulk.where_one_of(conn, ratings.c.source_id, ids))
    stored = {int(r["source_id"]): r for r in conn.execute(query).mappings()} if ids else {}
    set_aside = _set_aside_between(conn, "onsite_ratings", low, high)
    changes = []
    for rating_id, rating in stored.items():
        row = rows.get(rating_id)
        about = f"score {rating['score']} at {_local(rating['rated_at'], tz)}"
        if row is None:
            changes.append(Change("onsite_ratings", rating_id, "deleted", rating["case_no"], about=about))
        elif columns := _safely(_rating_differs, rating, row, tz):
            changes.append(Change("onsite_ratings", rating_id, "changed", rating["case_no"], columns, about))
    changes += _raw_changes("onsite_ratings", RATING_COLUMNS, rows, set_aside, stored.keys())
    changes += [
        Change("onsite_ratings", rating_id, "appeared", row[1])
        for rating_id, row in rows.items()
        if rating_id not in stored and rating_id not in set_aside
    ]
    return changes


def _rating_differs(stored, row: tuple, tz: tzinfo) -> dict[str, tuple]:
    now = check_rating(*row, tz=tz)
    if not isinstance(now, OnsiteRow):
        return {"row": ("usable", now.reason)}
    columns = {}
    for column in ("case_no", "window_id", "staff_id", "score", "rated_at"):
        old, new = stored[column], getattr(now, column)
        if column in ("window_id", "staff_id") and new is None:
            continue  # taken from the case when the row named none: nothing to compare
        if old != new:
            shown = (_local(old, tz), _local(new, tz)) if column == "rated_at" else (old, new)
            columns[column] = shown
    return columns


# --- rows set aside when they were read -----------------------------------------------------------


def _set_aside_between(conn: Connection, source: str, low: int, high: int) -> dict[int, dict]:
    """The rows of `source` the quality log holds as they were read, by id."""
    query = (
        select(quality_log.c.event_id, quality_log.c.row)
        .where(quality_log.c.source == source, quality_log.c.event_id > low, quality_log.c.event_id <= high)
        .order_by(quality_log.c.id)
    )
    found: dict[int, dict] = {}
    for event_id, row in conn.execute(query):
        found.setdefault(event_id, row)
    return found


def _raw_changes(
    source: str, columns: tuple[str, ...], rows: dict[int, tuple], set_aside: dict[int, dict], stored: Container[int]
) -> list[Change]:
    changes = []
    for row_id, was in set_aside.items():
        if row_id in stored:
            continue  # an event held, then set aside: compared as stored
        row = rows.get(row_id)
        if row is None:
            changes.append(Change(source, row_id, "deleted", was.get("case_no")))
            continue
        now = store.raw_row(columns, row)
        differs = {c: (was.get(c), now[c]) for c in columns if was.get(c) != now[c]}
        if differs:
            changes.append(Change(source, row_id, "changed", was.get("case_no"), differs))
    return changes


_COMPARE: dict[str, Callable] = {"case_events": _case_events, "onsite_ratings": _onsite_ratings}


def _safely(differs: Callable, stored, row: tuple, tz: tzinfo) -> dict[str, tuple]:
    """What `differs` finds; a row it cannot compare is a change too, saying why (the rest go on)."""
    try:
        return differs(stored, row, tz)
    except Exception as exc:
        log.error("exchange row %s cannot be compared with what was taken in", row[0], exc_info=exc)
        return {"row": ("as taken in", f"cannot be compared: {type(exc).__name__}: {exc}"[:200])}


def _local(moment: datetime, tz: tzinfo) -> str:
    """An instant as local time, or as it was written where local time cannot show it (year 1 or 9999)."""
    try:
        return moment.astimezone(tz).isoformat()
    except (OverflowError, ValueError):
        return moment.isoformat()


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _text(value: object) -> object:
    """A value as the quality log's JSON holds it: text (NUL escaped), an integer, or null."""
    return store.raw_row(("value",), (value,))["value"]
