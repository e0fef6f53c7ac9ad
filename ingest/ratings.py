"""Satisfaction ratings (好差评) into the supervision database, and their alarms.

Once per ingest cycle :func:`take_ratings`

1. takes in new ``onsite_ratings`` rows (its own cursor, source
   ``onsite_ratings``, the same never-lose-never-repeat tailer as case events):
   a usable row becomes a ``ratings`` row placed at its window's center and
   department (else its case's); a bad one goes to the data-quality log with a
   reason a person can read;
2. judges every rating that is due (``ratings.next_change`` ≤ now): on-site and
   SMS ratings alike, for ``low_satisfaction`` (score below 60, fired when given)
   and ``rectification_overdue`` (no follow-up by add_working(date(rated), 15),
   fired at 00:00 after that day). Alarms are reconciled exactly like case
   alarms, so a follow-up resolves them and history is never deleted.

:func:`follow_up` records an officer's rectification (整改) of a low rating.

The subject of a rating's alarms is ``<source>:<ratings.id>`` (e.g. ``onsite:17``,
``sms:18``); ``supervise rating follow-up 17`` takes the same id.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo

from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update

from app.base import outbox
from app.base.alarm_stream import AlarmChange, change_from
from app.base.calendars import CalendarBook
from app.base.database import insert_for
from app.base.exchange import windows as exchange_windows
from app.base.tables import alarm_actions, alarms, audit_log, cases, ratings
from ingest import metrics, store
from ingest.source import RATING_COLUMNS, read_batch
from rules.alarms import reconcile
from rules.ratings import (
    LOW_SCORE,
    OnsiteRow,
    Rating,
    Refused,
    check_onsite_row,
    low_satisfaction,
    next_change,
    rectification_overdue,
)

log = logging.getLogger(__name__)

SOURCE = "onsite_ratings"
RATING_KINDS = frozenset({"low_satisfaction", "rectification_overdue"})
CHUNK = 900


# --- the cycle --------------------------------------------------------------------------------


def take_ratings(
    exchange: Engine, db: Engine, calendars: CalendarBook, tz: tzinfo, now: datetime, limit: int = 5000
) -> list[AlarmChange]:
    """Take in every new on-site rating, then judge every rating due at `now`.

    Returns the alarm changes to publish (results are committed already). Each batch
    of `limit` rows commits with the cursor, so a crash replays exactly what was not stored.
    """
    while take_onsite(exchange, db, tz, now, limit):
        pass
    return judge_due(db, calendars, tz, now, limit)


def take_onsite(exchange: Engine, db: Engine, tz: tzinfo, now: datetime, limit: int) -> int:
    """One batch of new ``onsite_ratings`` rows; returns how many rows were read."""
    with db.begin() as conn:
        cursor = store.load_cursor(conn, SOURCE)
        batch = read_batch(exchange, SOURCE, cursor, limit)
        good, refused = [], []
        for raw in batch.rows:
            result = check_onsite_row(*raw, tz=tz)
            if isinstance(result, Refused):
                refused.append((result.rating_id, result.reason, store.raw_row(RATING_COLUMNS, raw)))
            else:
                good.append(result)
        _insert_onsite(
            conn,
            good,
            _window_places(exchange, {r.window_id for r in good if r.window_id}),
            _case_places(conn, {r.case_no for r in good if r.case_no}),
        )
        store.log_quality(conn, SOURCE, refused, now)
        cursor.take(batch.ids, batch.snapshot)
        store.save_cursor(conn, SOURCE, cursor, now)
    metrics.rows_total.labels(SOURCE).inc(len(batch.rows))
    metrics.quality_rejects_total.labels(SOURCE).inc(len(refused))
    metrics.lag_rows.labels(SOURCE).set(max(batch.max_id - cursor.watermark, 0))
    return len(batch.rows)


def _insert_onsite(conn: Connection, rows: Sequence[OnsiteRow], windows: dict, case_places: dict) -> None:
    values = []
    for r in rows:
        case_center, case_dept, case_window, case_staff = case_places.get(r.case_no, (None,) * 4)
        window_center, window_dept = windows.get(r.window_id, (None, None))
        center_id, dept_id = window_center or case_center, window_dept or case_dept
        same_window = r.window_id is None or r.window_id == case_window
        values.append(
            {
                "source": "onsite",
                "source_id": str(r.rating_id),
                "case_no": r.case_no,
                "center_id": center_id,
                "dept_id": dept_id,
                "window_id": r.window_id or case_window,
                "staff_id": r.staff_id or (case_staff if same_window else None),
                "score": r.score,
                "rated_at": r.rated_at,
                "next_change": store.JUDGE_NOW if r.score < LOW_SCORE else None,
            }
        )
    if values:
        stmt = insert_for(conn, ratings)
        conn.execute(stmt.on_conflict_do_nothing(), values)


def _window_places(exchange: Engine, window_ids: set[str]) -> dict[str, tuple[str | None, str | None]]:
    found = {}
    with exchange.connect() as conn:
        for part in store.chunks(sorted(window_ids), CHUNK):
            query = select(exchange_windows.c.window_id, exchange_windows.c.center_id, exchange_windows.c.dept_id)
            for window_id, center_id, dept_id in conn.execute(query.where(exchange_windows.c.window_id.in_(part))):
                found[window_id] = (center_id, dept_id)
    return found


def _case_places(conn: Connection, case_nos: set[str]) -> dict[str, tuple]:
    found = {}
    for part in store.chunks(sorted(case_nos), CHUNK):
        query = select(cases.c.case_no, cases.c.center_id, cases.c.dept_id, cases.c.window_id, cases.c.staff_id)
        for row in conn.execute(query.where(cases.c.case_no.in_(part))):
            found[row[0]] = tuple(row[1:])
    return found


# --- judging ----------------------------------------------------------------------------------


def rating_of(row) -> Rating:
    return Rating(
        rating_id=row["id"],
        score=row["score"],
        rated_at=row["rated_at"],
        case_no=row["case_no"],
        center_id=row["center_id"],
        dept_id=row["dept_id"],
        window_id=row["window_id"],
        staff_id=row["staff_id"],
        source=row["source"],
    )


def judge_due(db: Engine, calendars: CalendarBook, tz: tzinfo, now: datetime, limit: int = 5000) -> list[AlarmChange]:
    """Judge every rating whose next_change is at or before `now`; store and return the alarm changes."""
    messages: list[AlarmChange] = []
    while True:
        with db.begin() as conn:
            due = (
                conn.execute(
                    select(ratings)
                    .where(ratings.c.next_change <= now)
                    .order_by(ratings.c.next_change, ratings.c.id)
                    .limit(limit)
                )
                .mappings()
                .all()
            )
            if not due:
                return messages
            messages += _judge(conn, due, calendars, tz, now)


def _judge(conn: Connection, due: Sequence, calendars: CalendarBook, tz: tzinfo, now: datetime) -> list[AlarmChange]:
    by_subject = _stored_by_subject(conn, [f"{r['source']}:{r['id']}" for r in due])
    changes, alarm_rows, next_changes, aside = [], {}, [], []
    for row in due:
        try:
            rating = rating_of(row)
            calendar = calendars.for_center(rating.center_id)
            followed = row["followed_up_at"]
            facts = [
                f
                for f in (
                    low_satisfaction(rating, followed),
                    rectification_overdue(rating, followed, calendar, now, tz),
                )
                if f is not None
            ]
            stored = by_subject.get(rating.subject, [])
            found = reconcile([store.stored_alarm(a) for a in stored], facts, now, scope=RATING_KINDS)
            new_next = next_change(rating, followed, calendar, now, tz)
        except Exception as exc:
            aside.append((row, exc))
            # out of the due index, its alarms as they were, until a follow-up marks it due again
            next_changes.append({"rating_id": row["id"], "new_next": None})
            continue
        changes += found
        alarm_rows.update({(a["kind"], a["case_no"], a["subject"]): a for a in stored})
        next_changes.append({"rating_id": row["id"], "new_next": new_next})
    if aside:
        _set_aside(conn, aside, now)
    messages = store.apply_changes(conn, changes, alarm_rows, now)
    conn.execute(
        update(ratings).where(ratings.c.id == bindparam("rating_id")).values(next_change=bindparam("new_next")),
        next_changes,
    )
    return messages


def _set_aside(conn: Connection, aside: list, now: datetime) -> None:
    entries = []
    for row, exc in aside:
        error = f"{type(exc).__name__}: {exc}"[:200]
        reason = (
            f"rating {row['source']}:{row['id']} cannot be judged ({error}); it is set aside with its alarms "
            "as they were, and judged again when it is followed up"
        )
        log.error("%s", reason, exc_info=exc)
        entries.append(
            (
                row["id"],
                reason,
                store.raw_row(
                    ("source", "id", "score", "rated_at", "error"),
                    (row["source"], row["id"], row["score"], row["rated_at"], error),
                ),
            )
        )
    store.log_quality(conn, "judging", entries, now)
    metrics.set_aside_total.labels("rating").inc(len(entries))


def _stored_by_subject(conn: Connection, subjects: Iterable[str]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for part in store.chunks(sorted(set(subjects)), CHUNK):
        query = select(alarms).where(alarms.c.kind.in_(sorted(RATING_KINDS)), alarms.c.subject.in_(part))
        for row in conn.execute(query).mappings():
            found.setdefault(row["subject"], []).append(dict(row))
    return found


def next_rating_due(conn: Connection) -> datetime | None:
    """The earliest instant a rating's alarms change by themselves (for a follow loop's sleep)."""
    return conn.execute(select(func.min(ratings.c.next_change))).scalar()


# --- an officer's follow-up (整改) --------------------------------------------------------------


class FollowUpRefused(ValueError):
    """The follow-up does not apply to the rating as it stands; the message says why."""


def follow_up(engine: Engine, rating_id: int, by: str, note: str, now: datetime) -> dict:
    """Record that officer `by` followed up (整改) low rating `rating_id`, with a note saying what was done.

    Written with the audit trail and the alarm stream's outbox in one transaction; the rating
    is marked due, so the next ingest cycle resolves its low_satisfaction (and any
    rectification_overdue).
    """
    by, note = (by or "").strip(), (note or "").strip()
    if not by:
        raise FollowUpRefused("a follow-up needs the officer's name (--by)")
    if not note:
        raise FollowUpRefused("a follow-up needs a note saying what was done (--note)")
    with engine.begin() as conn:
        row = conn.execute(select(ratings).where(ratings.c.id == rating_id).with_for_update()).mappings().first()
        if row is None:
            raise FollowUpRefused(f"no rating with id {rating_id}")
        if row["score"] >= LOW_SCORE:
            raise FollowUpRefused(
                f"rating {rating_id} scored {row['score']}; only ratings below {LOW_SCORE} need a follow-up (整改)"
            )
        if row["followed_up_at"] is not None:
            raise FollowUpRefused(
                f"rating {rating_id} was already followed up by {row['follow_up_by']} "
                f"at {row['followed_up_at'].isoformat()}"
            )
        if now < row["rated_at"]:
            raise FollowUpRefused(
                f"rating {rating_id} was given at {row['rated_at'].isoformat()}, after {now.isoformat()}"
            )
        conn.execute(
            update(ratings)
            .where(ratings.c.id == rating_id)
            .values(followed_up_at=now, follow_up_by=by, follow_up_note=note, next_change=store.JUDGE_NOW)
        )
        subject = f"{row['source']}:{rating_id}"
        alarm_ids = (
            conn.execute(
                select(alarms.c.id).where(alarms.c.kind.in_(sorted(RATING_KINDS)), alarms.c.subject == subject)
            )
            .scalars()
            .all()
        )
        if alarm_ids:
            conn.execute(
                insert(alarm_actions),
                [{"alarm_id": a, "action": "follow_up", "actor": by, "note": note, "at": now} for a in alarm_ids],
            )
            followed = conn.execute(select(alarms).where(alarms.c.id.in_(alarm_ids)).order_by(alarms.c.id)).mappings()
            outbox.write(conn, [change_from(dict(alarm), "follow_up", by, now) for alarm in followed])
        conn.execute(
            insert(audit_log).values(
                at=now,
                actor=by,
                action="rating_follow_up",
                target=f"rating:{rating_id}",
                detail={
                    "note": note,
                    "score": row["score"],
                    "source": row["source"],
                    "case_no": row["case_no"],
                    "alarms": list(alarm_ids),
                },
                remote_addr=None,
            )
        )
        return dict(conn.execute(select(ratings).where(ratings.c.id == rating_id)).mappings().one())
