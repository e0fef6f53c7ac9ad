"""空岗 alarms (window unattended), from the camera workers' seat-presence stream.

The video workers append each change of a window's seat to the Redis stream
``supervise:seat-presence`` (:mod:`app.base.seat`). Here, in the ingest's cycle
like camera outages: each message opens or ends a stretch of empty seat
(table ``seat_absences``); every stretch not yet done with is judged by
:func:`rules.presence.window_unattended` at `now` (the alarms fire at the
instant the limit was reached, even with no new message) and reconciled like
any other alarm. A fired 空岗 gets the stretch's stills (the last keyframe with
someone seated, the first of the empty seat) as evidence. Reading is at least
once (the read position is saved after the results commit) and recording and
judging are idempotent, so a crash between the two repeats nothing visible.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, tzinfo
from weakref import WeakKeyDictionary

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, and_, insert, or_, select, update

from app.base.calendars import CalendarBook
from app.base.seat import STREAM, SeatEvent
from app.base.tables import alarms, evidence, seat_absences, window_closures
from ingest import store
from rules.alarms import reconcile
from rules.presence import KINDS, RED_AFTER, YELLOW_AFTER, Office, OfficeHours, window_unattended

log = logging.getLogger(__name__)

POSITION_KEY = "supervise:seat-presence:read-position"
JUDGE_EVERY = timedelta(seconds=5)  # with no new message, open stretches are judged this often (fired_at is exact)
_judged_at: WeakKeyDictionary = WeakKeyDictionary()  # supervision database -> the last `now` it was judged at


def take_presence(
    redis,
    db: Engine,
    calendars: CalendarBook,
    zone: tzinfo,
    places: dict,
    now: datetime,
    *,
    hours: OfficeHours | None = None,
    limits: tuple[timedelta, timedelta] = (YELLOW_AFTER, RED_AFTER),
    count: int = 1000,
) -> list:
    """Record the seat messages not yet read, judge every open stretch at `now`; the alarm changes to publish."""
    position = redis.get(POSITION_KEY) or b"0-0"
    reply = redis.xread({STREAM: position}, count=count)
    entries = reply[0][1] if reply else []
    last = _judged_at.get(db)
    if not entries and last is not None and last <= now < last + JUDGE_EVERY:
        return []  # the ingest cycles every 0.2 s; thousands of open stretches need not be judged that often
    with db.begin() as conn:
        for entry_id, fields in entries:
            raw = fields.get(b"event", fields.get("event"))
            try:
                _record(conn, SeatEvent.model_validate_json(raw))
            except (ValidationError, TypeError, ValueError) as exc:
                log.warning("seat message %s is unreadable and is skipped: %s", entry_id, str(exc).splitlines()[0])
        published = _judge(conn, calendars, zone, places, now, hours or OfficeHours(), limits)
    _judged_at[db] = now
    if entries:
        redis.set(POSITION_KEY, entries[-1][0])
    return published


def _record(conn: Connection, event: SeatEvent) -> None:
    """An empty seat opens a stretch (once); anything else ends the camera's open one."""
    open_since = seat_absences.c.empty_until.is_(None) & (seat_absences.c.camera_id == event.camera_id)
    if event.state != "empty":
        conn.execute(
            update(seat_absences)
            .where(open_since, seat_absences.c.empty_since <= event.since)
            .values(empty_until=event.since)
        )
        return
    known = conn.execute(
        select(seat_absences.c.id).where(
            seat_absences.c.camera_id == event.camera_id, seat_absences.c.empty_since == event.since
        )
    ).first()
    if known is not None:
        return
    conn.execute(update(seat_absences).where(open_since).values(empty_until=event.since))  # a message went missing
    conn.execute(
        insert(seat_absences).values(
            camera_id=event.camera_id,
            window_id=event.window_id,
            empty_since=event.since,
            before_still=event.before,
            after_still=event.after,
            judged=False,
        )
    )


def _judge(conn, calendars, zone, places, now, hours, limits) -> list:
    changes, rows, stills = [], {}, {}
    for absence in conn.execute(select(seat_absences).where(seat_absences.c.judged.is_(False))).mappings().all():
        place = places.get(absence["camera_id"]) or (None, None, absence["window_id"], None)
        office = Office(calendars.for_center(place[0]), zone, hours)
        facts = window_unattended(
            absence["empty_since"],
            now,
            office,
            empty_until=absence["empty_until"],
            closed_days=_closed_days(conn, place[2]),
            camera_faults=_faults(conn, absence["camera_id"], absence["empty_since"], absence["empty_until"] or now),
            limits=limits,
            place=place,
            camera_id=absence["camera_id"],
        )
        subjects = {fact.subject for fact in facts}
        stored = (
            conn.execute(select(alarms).where(alarms.c.kind.in_(KINDS), alarms.c.subject.in_(subjects)))
            .mappings()
            .all()
            if subjects
            else []
        )
        rows.update({(row["kind"], None, row["subject"]): dict(row) for row in stored})
        changes += reconcile([store.stored_alarm(row) for row in stored], facts, now, scope=set(KINDS))
        stills.update({(fact.kind, None, fact.subject): absence for fact in facts})
        ended = absence["empty_until"] is not None and absence["empty_until"] <= now
        if ended and all(fact.ended_at is not None and fact.ended_at <= now for fact in facts):
            conn.execute(update(seat_absences).where(seat_absences.c.id == absence["id"]).values(judged=True))
    published = store.apply_changes(conn, changes, rows, now)
    kept = [
        _evidence_row(message, stills[(message.kind, None, message.subject)], now)
        for message in published
        if message.action == "fired" and stills[(message.kind, None, message.subject)]["after_still"]
    ]
    if kept:
        conn.execute(insert(evidence), kept)
    return published


def _evidence_row(message, absence, now: datetime) -> dict:
    return {
        "camera_id": absence["camera_id"],
        "window_id": message.window_id,
        "alarm_id": message.alarm_id,
        "case_no": None,
        "captured_at": now,
        "frame_at": absence["empty_since"],
        "path": absence["after_still"],
        "frames": [absence["before_still"]] if absence["before_still"] else [],
        "requested_by": "system",
    }


def _closed_days(conn, window_id: str | None) -> frozenset:
    if window_id is None:
        return frozenset()
    return frozenset(
        conn.execute(select(window_closures.c.day).where(window_closures.c.window_id == window_id)).scalars()
    )


def _faults(conn, camera_id: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime | None]]:
    """The camera's outages (camera_offline alarms: subject = the last good frame) that overlap [start, end]."""
    found = conn.execute(
        select(alarms.c.subject, alarms.c.closed_at).where(
            alarms.c.kind == "camera_offline",
            alarms.c.camera_id == camera_id,
            alarms.c.fired_at <= end,
            or_(alarms.c.closed_at.is_(None), and_(alarms.c.closed_at >= start)),
        )
    ).all()
    faults = []
    for subject, closed_at in found:
        try:
            faults.append((datetime.fromisoformat(subject), closed_at))
        except ValueError:
            continue
    return faults
