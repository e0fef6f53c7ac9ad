"""A case as people read it: its clocks (due dates, working days left) and its timeline
(bars for the case, receipt, steps, pauses and delivery; marks for events and due dates).

The one reading of a case's events and clocks: the case page, the PDF dossier and
the JSON API all take it from here. Plain values in, plain values out: no query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from app.i18n import t

ENDING_KINDS = ("completed", "rejected", "withdrawn")


@dataclass(frozen=True)
class ClockView:
    name: str  # receipt, promise, statutory, step:<id>, special:<id>, delivery
    start: date | None
    due: date | None
    stopped_at: datetime | None
    limit_days: int | None
    extension_days: int
    paused_days: int
    overdue_at: datetime | None

    def label(self, lang: str) -> str:
        kind, _, subject = self.name.partition(":")
        key = f"clock.{kind}"
        return t(key, lang, subject=subject) if subject else t(key, lang)

    def days_left(self, calendar, today: date) -> int | None:
        """W(due) − W(today), counted with the center's calendar; None when paused or stopped."""
        if self.due is None or self.stopped_at is not None:
            return None
        return calendar.working_days_between(today, self.due)

    def state(self, calendar, today: date, lang: str) -> str:
        if self.stopped_at is not None:
            return t("case.clock.stopped", lang)
        if self.due is None:
            return t("case.clock.paused", lang)
        left = self.days_left(calendar, today)
        return t("case.clock.overdue", lang, n=-left) if left < 0 else t("case.clock.running", lang)


def _date(value) -> date | None:
    if value in (None, ""):
        return None
    return value if isinstance(value, date) and not isinstance(value, datetime) else date.fromisoformat(str(value)[:10])


def _instant(value) -> datetime | None:
    if value in (None, ""):
        return None
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def read_clocks(case_row: dict) -> list[ClockView]:
    """The clocks the ingest judged (cases.clocks: a list of rules.clocks.Clock as JSON, or a name -> clock map)."""
    raw = case_row.get("clocks") or []
    if isinstance(raw, dict):
        raw = [{"name": name, **value} for name, value in raw.items() if isinstance(value, dict)]
    clocks = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict) or not item.get("name"):
            continue
        try:
            clocks.append(
                ClockView(
                    name=str(item["name"]),
                    start=_date(item.get("start")),
                    due=_date(item.get("due")),
                    stopped_at=_instant(item.get("stopped_at")),
                    limit_days=item.get("limit_days"),
                    extension_days=int(item.get("extension_days") or 0),
                    paused_days=int(item.get("paused_days") or 0),
                    overdue_at=_instant(item.get("overdue_at")),
                )
            )
        except (TypeError, ValueError):
            continue  # one unreadable clock must not hide the others
    return clocks


@dataclass(frozen=True)
class Span:
    row: str
    label: str
    start: datetime
    end: datetime
    kind: str  # case, receipt, step, pause, delivery
    still_open: bool


@dataclass(frozen=True)
class Marker:
    label: str
    at: datetime
    kind: str  # event, due


def timeline(
    case_row: dict, events: list[dict], clocks: list[ClockView], lang: str, now: datetime, zone
) -> tuple[list[Span], list[Marker]]:
    """Bars (the case, receipt, each step — parallel ones side by side —, pauses, delivery) and marks (events, due dates)."""
    spans: list[Span] = []
    received = case_row["received_at"]
    end_event = next((e for e in events if e["kind"] in ENDING_KINDS), None)
    end = end_event["occurred_at"] if end_event else now
    spans.append(Span(t("tl.case", lang), t("tl.case", lang), received, end, "case", end_event is None))
    answer = next((e for e in events if e["kind"] in ("accepted", "correction_notice", "rejected")), None)
    spans.append(
        Span(
            t("tl.receipt", lang),
            t("tl.receipt", lang),
            received,
            answer["occurred_at"] if answer else now,
            "receipt",
            answer is None,
        )
    )
    opened: dict[tuple[str, str], dict] = {}
    for e in events:
        payload = e["payload"] if isinstance(e["payload"], dict) else {}
        if e["kind"] in ("step_started", "special_started"):
            key = (
                ("step", str(payload.get("step_id")))
                if e["kind"] == "step_started"
                else ("pause", str(payload.get("special_id")))
            )
            opened[key] = {"start": e["occurred_at"], "payload": payload}
        elif e["kind"] in ("step_completed", "special_ended"):
            key = (
                ("step", str(payload.get("step_id")))
                if e["kind"] == "step_completed"
                else ("pause", str(payload.get("special_id")))
            )
            begun = opened.pop(key, None)
            if begun:
                spans.append(_span(key, begun, e["occurred_at"], False, lang))
    for key, begun in opened.items():
        spans.append(_span(key, begun, end, True, lang))
    completed = next((e for e in events if e["kind"] == "completed"), None)
    if completed:
        delivered = next((e for e in events if e["kind"] == "delivered"), None)
        spans.append(
            Span(
                t("tl.delivery", lang),
                t("tl.delivery", lang),
                completed["occurred_at"],
                delivered["occurred_at"] if delivered else now,
                "delivery",
                delivered is None,
            )
        )
    markers = [Marker(t(f"event.{e['kind']}", lang), e["occurred_at"], "event") for e in events]
    for clock in clocks:
        if clock.due is not None:
            # A due date is met until 23:59:59 of that day: the mark stands at the midnight after it.
            at = datetime.combine(clock.due + timedelta(days=1), time(0), zone)
            markers.append(Marker(t("tl.due", lang, clock=clock.label(lang)), at, "due"))
    order = {"case": 0, "receipt": 1, "step": 2, "pause": 3, "delivery": 4}
    spans.sort(key=lambda s: (order[s.kind], s.start))
    return spans, markers


def _span(key: tuple[str, str], begun: dict, end: datetime, still_open: bool, lang: str) -> Span:
    kind, ident = key
    payload = begun["payload"]
    if kind == "step":
        label = t("tl.step", lang, name=payload.get("name") or ident)
    else:
        label = t("tl.pause", lang, type=payload.get("type") or ident)
    return Span(f"{label} [{ident}]", label, begun["start"], end, kind, still_open)
