"""The ingest: exchange rows in, judgements and alarm changes out.

Each step reads one batch of new rows, judges every case they touch from ALL
the case's events (so a late row corrects the judgement), and writes cases,
alarms, alarm actions, the data-quality log and the cursor in ONE transaction.
Clock alarms fire from the due-instant index (``cases.next_change``) with no
new event arriving. Time is an input: every method takes `now`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Container, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

import orjson
from redis import RedisError
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from app.base.alarm_stream import AlarmChange
from app.base.calendars import CalendarBook
from app.base.messaging import link_of
from app.base.outbox import Relay
from app.base.outbox import backlog as outbox_backlog
from ingest import bulk, catalogue, judging, metrics, row_checks, store
from ingest.ahead import Ahead, Prepared
from ingest.orders import judge_orders
from ingest.source import EVENT_COLUMNS, Batch, read_batch
from ingest.tailer import Cursor
from rules.alarms import reconcile
from rules.clocks import CaseJudgement, Item, case_figures, judge_case
from rules.events import ORPHAN_HOLD, Event, Rejection, check_row, orphan_rejection

log = logging.getLogger(__name__)
_dumps = orjson.dumps

SOURCE = "case_events"
JUDGING = "judging"  # the quality log's source for a case set aside by judging
_PAYLOAD = EVENT_COLUMNS.index("payload")
ITEMS_REFRESH_SECONDS = 60  # the catalogue changes rarely; new items are picked up within a minute
CHORES_SECONDS = 5  # following: orphans expire (a 24 h limit) and gauges refresh this often
CATCH_UP_SECONDS = 2.0  # following: a backlog is taken in this long before its cases are judged
BACKLOG_GROWTH = 4  # a backlog is read in batches up to this many times batch_size
# A backlog of due cases is asked for this many shares per worker at a time, so that a
# worker done early takes the next share instead of waiting for the slowest one.
SHARES_PER_WORKER = 4
AHEAD_SHARE = 1000  # following: cases judged ahead of a clock instant per cycle
AHEAD_STORE = 2000  # cases judged ahead are stored and published this many at a time


@dataclass
class Totals:
    rows: int = 0
    events: int = 0
    rejected: int = 0
    duplicates: int = 0
    judged: int = 0
    changes: int = 0
    orphans: int = 0
    set_aside: int = 0  # cases whose judgement failed, or whose item is refused
    changed_upstream: int = 0  # exchange rows found changed upstream after they were taken in
    taking_in_seconds: float = 0.0
    judging_seconds: float = 0.0

    def add(self, other: Totals) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Ingest:
    exchange: Engine
    db: Engine
    calendars: CalendarBook
    tz: tzinfo
    redis: object | None = None
    batch_size: int = 5000
    items: dict[str, Item] = field(default_factory=dict)  # the usable items of the catalogue
    refused_items: dict[str, str] = field(default_factory=dict)  # item_code -> why it cannot be used
    judge_workers: int = 2  # processes judging a backlog of due cases (at most one per core)
    escalate_after: timedelta | None = None  # an alarm unacknowledged this long is escalated (None: never)
    not_supervised_days: int = 0  # a red alarm without an order this long: not_supervised (0: off)
    ahead: Ahead = field(default_factory=Ahead)  # cases judged ahead of the next clock instant
    unattended: dict = field(default_factory=dict)  # 空岗: office `hours` and `limits` (ingest.presence_alarms)
    _camera_places: dict | None = None  # camera -> its window's place; reloaded with the items
    # Told how far a long backlog is: (phase, done, total), phase "take-in" (ids) or "judge" (cases).
    on_progress: Callable[[str, int, int], None] | None = None
    _standby: judging.JudgePool | None = None  # workers forked for the next instant's cases judged ahead
    _relay: Relay | None = None  # publishes the outbox of alarm changes (app/base/outbox.py) to Redis
    _known_items: frozenset[str] = frozenset()  # usable and refused: a `received` for either is taken in
    aside_counts: Counter = field(default_factory=Counter)  # set aside so far, by metrics label

    # --- the loop -------------------------------------------------------
    def run_once(self, now: datetime) -> Totals:
        """Take in every row not yet taken in, then fire everything due at or before `now`;
        the alarm changes are published as they commit, and all of them before it returns
        (unless Redis cannot be reached: then they wait in the outbox for the next relay)."""
        self.load_items(now)
        self._start_relay()
        try:
            started = time.monotonic()
            totals = self._take_in_backlog(now)
            totals.taking_in_seconds = time.monotonic() - started
            started = time.monotonic()
            totals.add(self.fire_due(now, count=self.on_progress is not None))
            totals.judging_seconds = time.monotonic() - started
            totals.add(self.take_side_sources(now))
            totals.add(self.expire_orphans(now))
            totals.add(self.check_rows(now, row_checks.ONCE_SHARES))
            self._refresh_gauges()
        except BaseException:
            self._stop_relay()
            raise
        self._stop_relay(drain=True)
        return totals

    def follow(
        self,
        clock: Callable[[], datetime],
        stop: threading.Event,
        interval: float = 0.2,
        still_leader: Callable[[], bool] = lambda: True,
    ) -> None:
        """Run until `stop` is set: new rows as they commit, clock alarms as they fall due.

        Idle, it polls every `interval` seconds, or sooner when a case's judgement
        changes before that (the due index says when)."""
        items_loaded = chores_done = 0.0
        self._start_relay()
        try:
            while not stop.is_set() and still_leader():
                started = time.monotonic()
                if started - items_loaded > ITEMS_REFRESH_SECONDS:
                    self.load_items(clock())
                    items_loaded = started
                chores = started - chores_done > CHORES_SECONDS
                totals = self._cycle(clock(), chores)
                chores_done = started if chores else chores_done
                prepared = self.prepare_ahead(clock())
                if totals.rows:
                    metrics.rows_per_second.set(totals.rows / max(time.monotonic() - started, 1e-6))
                elif not prepared:
                    stop.wait(self._idle(clock, interval))
        finally:
            self._close_standby()
            self._stop_relay()

    def forget_work_in_flight(self) -> None:
        """After a failed cycle: drop what was judged ahead and the workers forked for it.
        Either may stand on a transaction that did not commit, or on connections an
        outage closed; the next cycle starts again from what is committed."""
        self._close_standby()
        self.ahead = Ahead()

    def _cycle(self, now: datetime, chores: bool = True) -> Totals:
        # A backlog is taken in for up to CATCH_UP_SECONDS before judging, so that a
        # case touched by many of its batches is judged once, not once per batch.
        started = time.monotonic()
        totals = step = self.step(now)
        limit = self.batch_size
        while step.rows >= limit and time.monotonic() - started < CATCH_UP_SECONDS:
            limit = _next_limit(limit, step.rows, self.batch_size)
            step = self.step(now, limit)
            totals.add(step)
        totals.add(self.fire_due(now))
        totals.add(self.take_side_sources(now))
        if chores:
            totals.add(self.expire_orphans(now))
            totals.add(self.check_rows(now))
            self._refresh_gauges()
        return totals

    def _idle(self, clock: Callable[[], datetime], interval: float) -> float:
        """Seconds to wait for new rows: `interval`, or until the next clock falls due."""
        with self.db.connect() as conn:
            due = store.next_due(conn)
        if due is None:
            return interval
        return min(interval, max((due - clock()).total_seconds(), 0.0))

    def take_side_sources(self, now: datetime) -> Totals:
        """Ratings (on-site and SMS, with their rectification clocks), camera outages, and
        the escalation of alarms left unacknowledged past `escalate_after`."""
        from ingest.camera_alarms import camera_places, take_outages
        from ingest.escalation import escalate
        from ingest.presence_alarms import take_presence
        from ingest.ratings import take_ratings

        changes = take_ratings(self.exchange, self.db, self.calendars, self.tz, now, self.batch_size)
        changes += judge_orders(self.db, self.calendars, self.tz, now, self.not_supervised_days)
        if self.escalate_after is not None:
            changes += escalate(self.db, now, self.escalate_after)
        # While Redis is known down the outages wait in their stream, and the relay thread, not this
        # loop, waits out the tries (a hung Redis would hold each for the socket timeout).
        link = link_of(self.redis)
        if self.redis is not None and (link is None or not link.down):
            if self._camera_places is None:
                self._camera_places = camera_places(self.exchange)
            try:
                changes += take_outages(self.redis, self.db, self._camera_places, now)
                changes += take_presence(
                    self.redis, self.db, self.calendars, self.tz, self._camera_places, now, **self.unattended
                )
            except RedisError:  # its link logs the outage, once
                pass
        self._publish(changes)
        return Totals(changes=len(changes))

    # --- reference data -------------------------------------------------
    def load_items(self, now: datetime | None = None) -> None:
        """The item catalogue (政务服务事项) from the exchange database (ingest.catalogue).

        A refused item goes to the quality log; the `received` rows of its cases are taken
        in, and the cases wait, set aside, until it is usable: then they are judged."""
        now = now or datetime.now(UTC)
        found = catalogue.read_catalogue(self.exchange)
        self.items, self.refused_items = found.usable, found.refused
        self._known_items = frozenset(found.usable.keys() | found.refused.keys())
        self._camera_places = None  # re-read with the catalogue
        metrics.refused_items.set(len(found.refused))
        with self.db.begin() as conn:
            entries = [(0, reason, found.rows[code]) for code, reason in found.refused.items()]
            if store.log_quality(conn, catalogue.SOURCE, entries, now):
                log.warning(
                    "the catalogue has %d items that cannot be used; their cases wait, set aside, until "
                    "they are fixed (supervise quality --json): e.g. %s",
                    len(entries),
                    entries[0][1],
                )
            ready = [case_no for case_no, code in store.waiting_for_items(conn).items() if code in self.items]
            store.judge_again(conn, ready)
        if ready:
            log.warning("%d cases waited for their item, which is usable now: they are judged again", len(ready))

    # --- one batch of exchange rows -------------------------------------
    def step(self, now: datetime, limit: int | None = None) -> Totals:
        """Take in one batch of new rows (`limit`, else batch_size) in one transaction."""
        with self.db.connect() as conn:
            cursor = store.load_cursor(conn, SOURCE)
        return self._store(self._read(cursor, limit or self.batch_size), now)

    def _take_in_backlog(self, now: datetime) -> Totals:
        """Every row not yet taken in. Each batch is read and checked on a thread of its own
        while the batch before it is stored, so that Python's work overlaps the database's."""
        totals = Totals()
        with self.db.connect() as conn:
            cursor = store.load_cursor(conn, SOURCE)
        limit, first = self.batch_size, cursor.watermark
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest.read") as reader:
            upcoming = reader.submit(self._read, cursor, limit)
            while True:
                read = upcoming.result()
                if read.batch.rows:
                    limit = _next_limit(limit, len(read.batch.rows), self.batch_size)
                    upcoming = reader.submit(self._read, read.after, limit)
                totals.add(self._store(read, now))
                if self.on_progress is not None:
                    self.on_progress("take-in", read.after.read_from - first, read.batch.max_id - first)
                if not read.batch.rows:
                    return totals

    def _read(self, cursor: Cursor, limit: int) -> _Read:
        """A batch read from `cursor` and checked, nothing stored: pure work that may run ahead."""
        batch = read_batch(self.exchange, SOURCE, cursor, limit)
        good, rejected = self._check(batch.rows)
        after = Cursor.from_row(cursor.to_row())
        after.take(batch.ids, batch.snapshot)
        texts = {row[0]: row[_PAYLOAD] for row in batch.rows}
        return _Read(cursor, after, batch, good, [store.dup_key(e) for e in good], texts, rejected)

    def _store(self, read: _Read, now: datetime) -> Totals:
        """Store a batch read and the cursor that took it, in one transaction."""
        batch, good, rejected = read.batch, read.good, read.rejected
        with self.db.begin() as conn:
            if store.load_cursor(conn, SOURCE).to_row() != read.cursor.to_row():
                raise RuntimeError("the ingest cursor moved while a batch was read: is another ingest running?")
            touched = {e.case_no for e in good}
            stored = store.stored_cases(conn, touched)  # case -> at the head of the due index already
            received = stored.keys() | {e.case_no for e in good if e.kind == "received"}
            fresh = store.insert_events(conn, good, read.keys, touched - received, read.payload_texts)
            store.release_held(conn, {e.case_no for e in fresh if e.kind == "received"} - stored.keys())
            store.log_quality(conn, SOURCE, rejected, now)
            # Judged by fire_due, once per cycle however many batches touched them. (Only
            # this process writes cases while it steps, so `stored` still holds.)
            marked = {case_no for case_no, due in stored.items() if due}
            store.mark_for_judgement(
                conn, ({e.case_no for e in fresh} & received) - marked, _placeholders(fresh, self._known_items)
            )
            if batch.rows or read.after.to_row() != read.cursor.to_row():
                store.save_cursor(conn, SOURCE, read.after, now)
        totals = Totals(rows=len(batch.rows), events=len(fresh), rejected=len(rejected))
        totals.duplicates = len(good) - len(fresh)
        metrics.rows_total.labels(SOURCE).inc(len(batch.rows))
        metrics.quality_rejects_total.labels(SOURCE).inc(len(rejected))
        metrics.duplicates_total.inc(totals.duplicates)
        metrics.lag_rows.labels(SOURCE).set(max(batch.max_id - read.after.watermark, 0))
        if good:
            metrics.lag_seconds.labels(SOURCE).set(max((now - max(e.recorded_at for e in good)).total_seconds(), 0))
        return totals

    def _check(self, rows: list[tuple]) -> tuple[list[Event], list[tuple[int, str, dict]]]:
        good: list[Event] = []
        rejected: list[tuple[int, str, dict]] = []
        known_items = self._known_items
        for row in rows:
            try:
                result = check_row(*row, known_items=known_items, tz=self.tz)
            except Exception as exc:
                log.error("exchange row %s could not be checked and is set aside", row[0], exc_info=exc)
                self.count_set_aside({"row": 1})
                result = Rejection(row[0], f"the row could not be checked ({_error(exc)}); it is set aside")
            if isinstance(result, Rejection):
                rejected.append((result.event_id, result.reason, store.raw_row(EVENT_COLUMNS, row)))
            else:
                good.append(result)
        return good, rejected

    # --- clocks that fall due with no new event -------------------------
    def fire_due(self, now: datetime, *, count: bool = False) -> Totals:
        """Judge every case whose judgement changes at or before `now`; a backlog on every core.

        Cases are judged and stored in chunks, one transaction each, and each chunk's
        changes are published as soon as it commits. Cases judged ahead (ingest.ahead)
        only need storing: their chunks are small, so the first are out at once."""
        totals = Totals()
        aside_before = sum(self.aside_counts.values())
        due_in_all = self._due_count(now) if count else 0
        pool = None
        if self._standby is not None and self.ahead.instant is not None and self.ahead.instant <= now:
            pool, self._standby = self._standby, None  # forked and warmed before the instant it came for
        try:
            workers = judging.workers_for(self.db, self.judge_workers)
            while due := self._due(now, self.batch_size * workers * SHARES_PER_WORKER):
                chunks = store.chunks(due, AHEAD_STORE if self.ahead.holds(due, now) else self.batch_size)
                if pool is None and len(chunks) > 1 and workers > 1:
                    pool = self._judge_pool(workers)
                for changes in pool.judge(chunks, now) if pool else map(self._judge_chunk, chunks, [now] * len(chunks)):
                    self._publish(changes)
                    totals.changes += len(changes)
                totals.judged += len(due)
                if self.on_progress is not None:
                    self.on_progress("judge", totals.judged, max(due_in_all, totals.judged))
        finally:
            if pool is not None:
                pool.close()
        self.ahead.passed(now)
        totals.set_aside = sum(self.aside_counts.values()) - aside_before
        return totals

    def _judge_pool(self, workers: int, warm: bool = False) -> judging.JudgePool:
        """Worker processes, forked now, each judging shares of cases with this ingest's catalogue and calendars."""
        return judging.JudgePool(
            self.judge_share,
            workers,
            engines=(self.db, self.exchange),
            warm=self._warm if warm else None,
            on_set_aside=self.count_set_aside,
        )

    def judge_share(self, case_nos: list[str], now: datetime) -> tuple[list[AlarmChange], dict[str, int]]:
        """Judge and store one share of cases in its own transaction (in a judging worker):
        its alarm changes, and what it set aside, by metrics label."""
        before = Counter(self.aside_counts)
        with self.db.begin() as conn:
            changes = self.judge(conn, case_nos, now)
        return changes, dict(self.aside_counts - before)

    def _warm(self) -> None:
        with self.db.begin() as conn:
            store.warm(conn)

    def _judge_chunk(self, case_nos: list[str], now: datetime) -> list[AlarmChange]:
        with self.db.begin() as conn:
            return self.judge(conn, case_nos, now)

    def _due_count(self, now: datetime) -> int:
        with self.db.connect() as conn:
            return store.due_count(conn, now)

    def _due(self, now: datetime, limit: int) -> list[str]:
        with self.db.begin() as conn:
            return store.due_cases(conn, now, limit)

    def expire_orphans(self, now: datetime) -> Totals:
        """Held events still without their case's `received` after 24 h go to the quality log."""
        totals = Totals()
        while True:  # a bounded number at a time, until none is left
            with self.db.begin() as conn:
                expired = store.expired_orphans(conn, now - ORPHAN_HOLD, limit=self.batch_size)
                entries = [(e.event_id, orphan_rejection(e).reason, _event_row(e)) for e in expired]
                logged = store.log_quality(conn, SOURCE, entries, now)
            totals.orphans += logged
            metrics.quality_rejects_total.labels(SOURCE).inc(logged)
            if len(expired) < self.batch_size:
                return totals

    def check_rows(self, now: datetime, shares: int = 1) -> Totals:
        """Read `shares` shares of the rows taken in again, to notice rows changed upstream (ingest.row_checks).
        A chore beside the ingest's work: a fault in it stops nothing (a database outage is the loop's to ride out)."""
        try:
            found = row_checks.check(self.exchange, self.db, now, self.tz, self._known_items, shares)
        except (OperationalError, InterfaceError):
            raise
        except Exception as exc:
            log.error("the checks of rows changed upstream failed this time; the ingest goes on", exc_info=exc)
            metrics.set_aside_total.labels("row_checks").inc()
            return Totals()
        return Totals(changed_upstream=found)

    # --- judgement ------------------------------------------------------
    def judge(self, conn: Connection, case_nos: Iterable[str], now: datetime) -> list[AlarmChange]:
        """Judge `case_nos` from all their stored events; store cases and alarm changes.

        A case judged ahead for an instant at or before `now` (:mod:`ingest.ahead`) and
        unchanged since is stored as judged then, without being judged again."""
        case_nos = set(case_nos)
        if not case_nos:
            return []
        prepared = self.ahead.take(conn, case_nos, now)
        events_by_case = store.case_events(conn, case_nos - prepared.keys()) if case_nos - prepared.keys() else {}
        stored_by_case = store.stored_alarms(conn, case_nos)
        rows, facts, unjudgeable, aside = self._judgements(case_nos - prepared.keys(), events_by_case, now)
        instants = dict.fromkeys(facts, now)
        for case_no, judged in prepared.items():
            rows.append(judged.row | {"judged_at": now})  # stored now: judged_at marks rows changed since
            if judged.facts is not None:
                facts[case_no], instants[case_no] = judged.facts, self.ahead.instant
        changes, alarm_rows, failed = [], {}, set()
        for case_no in sorted(facts):
            stored = stored_by_case.get(case_no, [])
            try:
                changes += reconcile([store.stored_alarm(a) for a in stored], facts[case_no], instants[case_no])
            except Exception as exc:
                aside.append(_failed(case_no, events_by_case.get(case_no, []), exc))
                failed.add(case_no)
                continue
            alarm_rows.update({(a["kind"], a["case_no"], a["subject"]): a for a in stored})
        store.upsert_cases(conn, [row for row in rows if row["case_no"] not in failed] if failed else rows)
        if unjudgeable:
            log.warning(
                "%d cases cannot be judged (no received event), e.g. %s; they wait for their next event",
                len(unjudgeable),
                unjudgeable[0],
            )
            store.clear_due(conn, unjudgeable)
        if aside:
            self._set_aside(conn, aside, now)
        self.ahead.forget(prepared)
        return store.apply_changes(conn, changes, alarm_rows, now)

    def _judgements(
        self, case_nos: set[str], events_by_case: dict[str, list[Event]], now: datetime
    ) -> tuple[list[dict], dict[str, tuple], list[str], list[_SetAside]]:
        """Case rows and alarm facts as of `now` (no I/O); the cases that cannot be judged; and
        those set aside: their item is refused or missing, or their judgement raised.

        Judging one case never stops another: whatever a case's judgement raises sets that
        case aside (a last net: check_row's bounds keep what rules cannot judge out)."""
        rows, facts, unjudgeable, aside = [], {}, [], []
        items = self.items
        for case_no in sorted(case_nos):
            case_events = events_by_case.get(case_no, [])
            try:
                received = _first_received(case_events)
                if received is None:
                    unjudgeable.append(case_no)
                    continue
                item = items.get(received.item_code)
                if item is None:
                    aside.append(self._waiting(case_no, received.item_code, case_events))
                    continue
                calendar = self.calendars.for_center(received.center_id)
                judgement = judge_case(case_events, item, calendar, now, self.tz)
                row = _case_row(judgement, received, case_events, item, calendar, now, self.tz)
            except Exception as exc:
                aside.append(_failed(case_no, case_events, exc))
                continue
            rows.append(row)
            if judgement is not None:
                facts[case_no] = judgement.alarms
        return rows, facts, unjudgeable, aside

    def _waiting(self, case_no: str, item_code: str | None, case_events: list[Event]) -> _SetAside:
        why = self.refused_items.get(item_code) or f"item {item_code!r} is not in the catalogue (items)"
        reason = f"case {case_no!r} is set aside until its item {item_code!r} can be used: {why}"
        return _SetAside(
            case_no,
            store.WAITING_FOR_ITEM,
            reason,
            _newest(case_events),
            store.raw_row(("case_no", "item_code", "events"), (case_no, item_code, len(case_events))),
        )

    def _set_aside(self, conn: Connection, aside: list[_SetAside], now: datetime) -> None:
        """Record cases set aside: the quality log says why, and they leave the due index
        until they change (or their item is usable). Their stored judgement and alarms stay."""
        store.log_quality(conn, JUDGING, [(a.event_id, a.reason, a.row) for a in aside], now)
        for until in (store.SET_ASIDE, store.WAITING_FOR_ITEM):
            store.set_aside(conn, [a.case_no for a in aside if a.until == until], until)
        failed = [a for a in aside if a.error is not None]
        for a in failed:
            log.error("%s", a.reason, exc_info=a.error)
        waiting = len(aside) - len(failed)
        if waiting:
            example = next(a for a in aside if a.error is None)
            log.warning(
                "%d cases set aside until their item can be used (supervise quality --json), e.g. %s",
                waiting,
                example.reason,
            )
        self.count_set_aside({"case": len(failed), "case_item": waiting})

    def count_set_aside(self, counts: Mapping[str, int]) -> None:
        """Count what was set aside (here, or in a judging worker): in metrics and aside_counts."""
        for what, n in counts.items():
            if n:
                metrics.set_aside_total.labels(what).inc(n)
                self.aside_counts[what] += n

    def prepare_ahead(self, now: datetime) -> int:
        """Judge a share of the cases due at the next instant, if it is near; how many.
        A share is small (AHEAD_SHARE) so that new rows still wait little for the next cycle."""
        with self.db.begin() as conn:
            pending = self.ahead.pending_near(conn, now, store.next_due(conn), min(self.batch_size, AHEAD_SHARE))
            if not pending:
                self._stand_by()
                return 0
            events_by_case = store.case_events(conn, pending)
        instant = self.ahead.instant
        rows, facts, _, _ = self._judgements(set(pending), events_by_case, instant)  # the rest: at the instant
        self.ahead.keep(
            {row["case_no"]: Prepared(pending[row["case_no"]], row, facts.get(row["case_no"])) for row in rows}
        )
        return len(pending)

    def _stand_by(self) -> None:
        """Once every case due at the next instant is judged ahead, fork the workers that
        will store them, with their connections open, so that none of it is left for
        the instant itself. (Forked now, they hold what was judged ahead.)"""
        if self._standby is not None and self._standby.instant != self.ahead.instant:
            self._close_standby()  # forked for an instant that is no longer the next one
        many = len(self.ahead.cases) > AHEAD_STORE
        workers = judging.workers_for(self.db, self.judge_workers)
        if self._standby is None and many and self.ahead.complete and workers > 1:
            self._standby = self._judge_pool(workers, warm=True)
            self._standby.instant = self.ahead.instant

    def _close_standby(self) -> None:
        if self._standby is not None:
            self._standby.close()
            self._standby = None

    # --- publishing -----------------------------------------------------
    # Every alarm change is in the outbox, committed with the change itself (store.apply_changes);
    # the relay, on a thread of its own, publishes it to Redis as soon as it is nudged.
    def _publish(self, changes: list[AlarmChange]) -> None:
        """Changes were committed: the relay publishes them now, while the next transaction runs."""
        if changes and self._relay is not None:
            self._relay.nudge()

    def _start_relay(self) -> None:
        if self.redis is not None and self._relay is None:
            self._relay = Relay(self.db, self.redis, name="ingest.relay").start()

    def _stop_relay(self, drain: bool = False) -> None:
        """Stop the relay thread; with `drain`, publish what it left first (or say that it waits)."""
        if self._relay is None:
            return
        relay, self._relay = self._relay, None
        relay.close()
        if not drain:
            return
        try:
            relay.drain()
        except RedisError as exc:
            backlog = outbox_backlog(self.db)
            log.warning(
                "%d alarm change(s) wait in the outbox until Redis can be reached (%s); a running "
                "ingest or web server publishes them",
                backlog.count,
                exc,
            )

    def _refresh_gauges(self) -> None:
        with self.db.connect() as conn:
            counts = store.open_alarm_counts(conn)
        for kind, n in counts.items():
            metrics.open_alarms.labels(kind).set(n)


@dataclass(frozen=True)
class _SetAside:
    """A case left out of judging, with the quality log's entry for it."""

    case_no: str
    until: datetime  # store.SET_ASIDE, or store.WAITING_FOR_ITEM
    reason: str
    event_id: int  # the case's newest event: a case set aside again after a new one is logged again
    row: dict
    error: Exception | None = None  # what its judgement raised, if it did


def _failed(case_no: str, case_events: list[Event], exc: Exception) -> _SetAside:
    reason = (
        f"case {case_no!r} cannot be judged ({_error(exc)}); it is set aside, keeping its earlier judgement "
        "and alarms, and is judged again when a new event arrives"
    )
    row = store.raw_row(("case_no", "events", "error"), (case_no, len(case_events), _error(exc)))
    return _SetAside(case_no, store.SET_ASIDE, reason, _newest(case_events), row, exc)


def _error(exc: Exception) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 200 else text[:197] + "..."


def _newest(case_events: list[Event]) -> int:
    return max((e.event_id for e in case_events), default=0)


@dataclass(frozen=True)
class _Read:
    """One batch as read and checked, before anything of it is stored."""

    cursor: Cursor  # the cursor it was read from: still the stored one when it is stored
    after: Cursor  # that cursor having taken the batch
    batch: Batch
    good: list[Event]
    keys: list[str]  # each good event's repeat key (store.dup_key)
    payload_texts: dict[int, object]  # each row's payload as read, by event id
    rejected: list[tuple[int, str, dict]]


# --- rows of the supervision database -----------------------------------
def _placeholders(fresh: list[Event], items: Container[str]) -> list[dict]:
    """Rows for cases received in this batch, until fire_due judges them."""
    firsts: dict[str, Event] = {}
    for e in fresh:
        if e.kind == "received" and e.item_code in items:
            if e.case_no not in firsts or (e.occurred_at, e.event_id) < (
                firsts[e.case_no].occurred_at,
                firsts[e.case_no].event_id,
            ):
                firsts[e.case_no] = e
    return [
        {
            "case_no": e.case_no,
            "item_code": e.item_code,
            "status": "received",
            "received_at": e.occurred_at,
            "center_id": e.center_id,
            "dept_id": e.dept_id,
            "window_id": e.window_id,
            "staff_id": e.staff_id,
            "clocks": [],
            "judged_at": e.recorded_at,
        }
        for e in firsts.values()
    ]


def _next_limit(limit: int, rows: int, batch_size: int) -> int:
    """The next batch's size: a full batch means a backlog, taken in larger
    transactions (up to BACKLOG_GROWTH x batch_size) for fewer fixed costs."""
    return min(limit * 2, batch_size * BACKLOG_GROWTH) if rows >= limit else batch_size


def _first_received(case_events: list[Event]) -> Event | None:
    received = [e for e in case_events if e.kind == "received"]
    return min(received, key=lambda e: (e.occurred_at, e.event_id)) if received else None


def _case_row(
    j: CaseJudgement | None, received: Event, case_events: list[Event], item: Item, calendar, now: datetime, tz: tzinfo
) -> dict:
    """The stored judgement. A case whose `received` lies after `now` (a replay of an
    earlier instant) is stored as received, due to be judged at that instant."""
    future = [e.occurred_at for e in case_events if e.occurred_at > now]
    figures = case_figures(j, case_events, item, calendar, now, tz)
    if j is None:
        return {
            "case_no": received.case_no,
            "item_code": item.item_code,
            "center_id": received.center_id,
            "dept_id": received.dept_id or item.dept_id,
            "window_id": received.window_id,
            "staff_id": received.staff_id,
            "applicant_phone": _phone(received),
            "status": "received",
            "received_at": received.occurred_at,
            "start_date": None,
            "deemed_accepted": False,
            "promise_due": None,
            "statutory_due": None,
            "paused_days": 0,
            "extension_days": 0,
            "completed_at": None,
            "result": None,
            "on_time": None,
            "early": figures.early,
            "used_days": figures.used_days,
            "promised_days": figures.promised_days,
            "corrections": figures.corrections,
            "next_change": min(future),
            "clocks": [],
            "judged_at": now,
        }
    center_id, dept_id, window_id, staff_id = j.place
    next_change = min([t for t in [j.next_change, *future] if t is not None], default=None)
    return {
        "case_no": j.case_no,
        "item_code": j.item_code,
        "center_id": center_id,
        "dept_id": dept_id,
        "window_id": window_id,
        "staff_id": staff_id,
        "applicant_phone": _phone(received),
        "status": j.status,
        "received_at": j.received_at,
        "start_date": j.start_date,
        "deemed_accepted": j.deemed_accepted,
        "promise_due": j.promise_due,
        "statutory_due": j.statutory_due,
        "paused_days": j.paused_days,
        "extension_days": j.extension_days,
        "completed_at": j.completed_at,
        "result": j.result,
        "on_time": j.on_time,
        "early": figures.early,
        "used_days": figures.used_days,
        "promised_days": figures.promised_days,
        "corrections": figures.corrections,
        "next_change": next_change,
        "clocks": _clocks_json(j.clocks),
        "judged_at": now,
    }


def _phone(received: Event) -> str | None:
    """The applicant's phone (an optional field): text no longer than any phone number, else none.
    (The column is indexed: a database refuses an entry of a few kB.)"""
    phone = received.payload.get("applicant_phone")
    return phone if isinstance(phone, str) and len(phone) <= 40 else None


def _clocks_json(clocks) -> bulk.JsonText:
    """The clocks as stored: JSON text written once by orjson, whose instants and
    dates come out exactly as their isoformat()."""
    return bulk.JsonText(
        _dumps(
            [
                {
                    "name": c.name,
                    "start": c.start,
                    "due": c.due,
                    "stopped_at": c.stopped_at,
                    "dept_id": c.dept_id,
                    "unit": c.unit,
                    "limit_days": c.limit_days,
                    "extension_days": c.extension_days,
                    "paused_days": c.paused_days,
                    "overdue_at": c.overdue_at,
                }
                for c in clocks
            ]
        ).decode()
    )


def _event_row(event: Event) -> dict:
    return {
        "event_id": event.event_id,
        "case_no": event.case_no,
        "kind": event.kind,
        "occurred_at": event.occurred_at.isoformat(),
        "recorded_at": event.recorded_at.isoformat(),
        "payload": event.payload,
    }
