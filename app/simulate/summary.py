"""What a simulation wrote: counts for the end-of-run report, and the same counts read back from a database."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import Engine, text

from app.simulate.faults import LATE_AFTER, Pushed

KINDS = (
    "received",
    "correction_notice",
    "correction_received",
    "accepted",
    "rejected",
    "step_started",
    "step_completed",
    "special_started",
    "special_ended",
    "extended",
    "completed",
    "delivered",
    "withdrawn",
)
LEVELS = ("region", "city", "county")


@dataclass
class Tally:
    """Counts of rows written, by what they are."""

    cases: Counter = field(default_factory=Counter)  # by level
    kinds: Counter = field(default_factory=Counter)  # case_events.kind as written (None, unknown…)
    bad: Counter = field(default_factory=Counter)
    late: Counter = field(default_factory=Counter)  # by push mode
    scores: Counter = field(default_factory=Counter)  # onsite_ratings.score
    events: int = 0
    ratings: int = 0

    def add(self, pushed: Pushed) -> None:
        if pushed.table == "onsite_ratings":
            self.ratings += 1
            self.scores[pushed.row[3]] += 1
            return
        self.events += 1
        self.kinds[pushed.row[1]] += 1
        if pushed.level:
            self.cases[pushed.level] += 1
        if pushed.bad:
            self.bad[pushed.bad] += 1
        if pushed.late:
            self.late[pushed.late] += 1

    def copy(self) -> Tally:
        return Tally(
            self.cases.copy(),
            self.kinds.copy(),
            self.bad.copy(),
            self.late.copy(),
            self.scores.copy(),
            self.events,
            self.ratings,
        )

    def since(self, earlier: Tally) -> Tally:
        """What was counted after `earlier` (a copy of this tally) was taken."""
        return Tally(
            self.cases - earlier.cases,
            self.kinds - earlier.kinds,
            self.bad - earlier.bad,
            self.late - earlier.late,
            self.scores - earlier.scores,
            self.events - earlier.events,
            self.ratings - earlier.ratings,
        )

    def report(self, title: str = "Written") -> str:
        lines = [
            f"{title}: {sum(self.cases.values()):,} cases, {self.events:,} case events, "
            f"{self.ratings:,} on-site ratings"
        ]
        lines.append("  cases by level:      " + ", ".join(f"{lv} {self.cases[lv]:,}" for lv in LEVELS))
        lines.append("  event kinds:")
        known = [(k, self.kinds[k]) for k in KINDS]
        odd = sorted(((k, n) for k, n in self.kinds.items() if k not in KINDS), key=lambda kn: -kn[1])
        for kind, n in known + odd:
            label = "NULL" if kind is None else repr(kind) if kind not in KINDS else kind
            lines.append(f"    {label:<22}{n:>12,}  {_share(n, self.events)}")
        lines.append(
            f"  bad rows:            {sum(self.bad.values()):,} ({_share(sum(self.bad.values()), self.events)})"
        )
        for kind, n in sorted(self.bad.items(), key=lambda kn: -kn[1]):
            lines.append(f"    {kind:<26}{n:>8,}")
        lines.append(
            f"  late rows (> {LATE_AFTER // 60} min): {sum(self.late.values()):,} "
            f"({_share(sum(self.late.values()), self.events)})"
        )
        for mode, n in sorted(self.late.items(), key=lambda kn: -kn[1]):
            lines.append(f"    {mode:<26}{n:>8,}")
        if self.ratings:
            lines.append(
                "  ratings by score:    "
                + ", ".join(f"{s}: {n:,}" for s, n in sorted(self.scores.items(), reverse=True))
            )
        return "\n".join(lines)


def _share(n: int, total: int) -> str:
    return f"{100 * n / total:6.2f}%" if total else "   -  "


def database_report(engine: Engine) -> str:
    """What the exchange database holds, counted by SQL (whoever wrote it)."""
    pg = engine.dialect.name == "postgresql"
    lateness = (
        "extract(epoch from recorded_at - occurred_at)"
        if pg
        else "(julianday(recorded_at) - julianday(occurred_at)) * 86400"
    )
    with engine.connect() as conn:
        events = conn.execute(text("SELECT count(*) FROM case_events")).scalar_one()
        ratings = conn.execute(text("SELECT count(*) FROM onsite_ratings")).scalar_one()
        by_level = dict(
            conn.execute(
                text(
                    "SELECT c.level, count(*) FROM case_events e JOIN centers c ON c.center_id = e.center_id "
                    "WHERE e.kind = 'received' GROUP BY c.level"
                )
            ).all()
        )
        kinds = conn.execute(text("SELECT kind, count(*) FROM case_events GROUP BY kind ORDER BY count(*) DESC")).all()
        late = conn.execute(text(f"SELECT count(*) FROM case_events WHERE {lateness} > {LATE_AFTER}")).scalar_one()
        ahead = conn.execute(text(f"SELECT count(*) FROM case_events WHERE {lateness} < -{LATE_AFTER}")).scalar_one()
        nulls = conn.execute(
            text(
                "SELECT sum(CASE WHEN case_no IS NULL THEN 1 ELSE 0 END), sum(CASE WHEN kind IS NULL THEN 1 ELSE 0 END), "
                "sum(CASE WHEN occurred_at IS NULL THEN 1 ELSE 0 END) FROM case_events"
            )
        ).one()
    lines = [f"Exchange database: {events:,} case events, {ratings:,} on-site ratings"]
    lines.append("  received by level:   " + ", ".join(f"{lv} {by_level.get(lv, 0):,}" for lv in LEVELS))
    lines.append("  event kinds:")
    for kind, n in kinds:
        label = "NULL" if kind is None else kind if kind in KINDS else repr(kind) + " (unknown)"
        lines.append(f"    {label:<22}{n:>12,}  {_share(n, events)}")
    lines.append(f"  NULL case_no {nulls[0] or 0:,}, NULL kind {nulls[1] or 0:,}, NULL occurred_at {nulls[2] or 0:,}")
    lines.append(f"  late rows (recorded > {LATE_AFTER // 60} min after occurred): {late:,} ({_share(late, events)})")
    lines.append(f"  occurred > {LATE_AFTER // 60} min after recorded: {ahead:,}")
    return "\n".join(lines)
