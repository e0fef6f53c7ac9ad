"""The monthly efficiency assessment (月度效能测评): a rules file, and the scores it gives.

A department's score is ``base − deductions + bonuses`` (bonuses at most ``bonus_cap``,
the score at least ``floor``): automatic deductions per counted item of the month, plus
manual adjustments with a reason. A center's score is the mean of its departments'
scores, less its own deductions (a red alarm its officers left without an order).
Default values follow what real systems use (centit's performance_appraisal: 黄牌 −1,
红牌 −1.5, 督办 −0.5, 不满意 −1); an alarm revoked on appeal or retracted counts nowhere.

Counted items of a unit (``counts``): ``kind:<alarm kind>`` per alarm fired in the month,
``order`` per order issued to it, ``low_rating`` per rating below 60, ``upheld_appeal``
per appeal decided in its favour (撤销), and for a center ``center:not_supervised``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from rules.alarms import KINDS, Level

DEFAULT_RULES = """\
# 月度效能测评规则 (the monthly efficiency assessment). Points are deducted per item of the month.
version = "2026.1"
base = 100.0        # every unit starts here
floor = 0.0         # no score goes below this
bonus_cap = 5.0     # manual bonuses add at most this many points in a month

[deductions]
warning = 1.0       # 黄牌: per yellow warning
alarm = 1.5         # 红牌: per red alarm
order = 0.5         # 督办: per supervision order issued to the department
low_rating = 1.0    # 不满意: per rating below 60
upheld_appeal = 0.0 # an appeal decided for the department (撤销): its alarm counts nowhere, and this nothing

[deductions.kinds]  # per alarm kind, instead of the warning/alarm value above
low_satisfaction = 0.0  # counted once, as low_rating
order_overdue = 1.0     # 督办逾期未反馈
not_supervised = 0.0    # the officers' lapse, not the department's: see [center]
camera_offline = 0.5

[center]
not_supervised = 1.0    # per red alarm of the center left without an order (报警未督办)
"""

ITEMS = ("warning", "alarm", "order", "low_rating", "upheld_appeal")


class RulesError(ValueError):
    """A rules file that cannot be used; the message is one line naming the key."""


@dataclass(frozen=True)
class AssessmentRules:
    version: str
    base: float
    floor: float
    bonus_cap: float
    deductions: Mapping[str, float]
    kinds: Mapping[str, float]
    center: Mapping[str, float]
    text: str = ""

    def points(self, item: str) -> float:
        """Points one counted item deducts (see the module docstring for the items)."""
        if item.startswith("kind:"):
            kind = item[5:]
            if kind in self.kinds:
                return self.kinds[kind]
            level = KINDS[kind].level if kind in KINDS else Level.ALARM
            return self.deductions["warning" if level is Level.WARNING else "alarm"]
        if item.startswith("center:"):
            return self.center.get(item[7:], 0.0)
        return self.deductions.get(item, 0.0)


def parse_rules(text: str) -> AssessmentRules:
    """The rules of a TOML text, checked whole; a fault is a RulesError of one line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"not TOML: {exc}") from None
    known = {"version", "base", "floor", "bonus_cap", "deductions", "center"}
    for key in data:
        if key not in known:
            raise RulesError(f"unknown key {key!r}; known: {', '.join(sorted(known))}")
    version = data.get("version")
    if not isinstance(version, str) or not version.strip():
        raise RulesError('version must be a non-empty string, e.g. version = "2026.1"')
    base = _number(data, "base", 100.0)
    floor = _number(data, "floor", 0.0)
    bonus_cap = _number(data, "bonus_cap", 0.0)
    if not 0 <= floor < base:
        raise RulesError(f"floor must be at least 0 and below base ({base}), not {floor}")
    table = data.get("deductions", {})
    if not isinstance(table, dict):
        raise RulesError("deductions must be a table ([deductions])")
    kinds = table.get("kinds", {})
    if not isinstance(kinds, dict):
        raise RulesError("deductions.kinds must be a table ([deductions.kinds])")
    deductions = {}
    for key in table:
        if key != "kinds" and key not in ITEMS:
            raise RulesError(f"unknown deduction {key!r}; known: {', '.join(ITEMS)}, kinds")
    for item in ITEMS:
        deductions[item] = _number(table, item, 0.0, where="deductions.")
    for kind in kinds:
        if kind not in KINDS:
            raise RulesError(f"deductions.kinds: unknown alarm kind {kind!r}")
    center = data.get("center", {})
    if not isinstance(center, dict):
        raise RulesError("center must be a table ([center])")
    for key in center:
        if key != "not_supervised":
            raise RulesError(f"center: unknown deduction {key!r}; known: not_supervised")
    return AssessmentRules(
        version.strip(),
        base,
        floor,
        bonus_cap,
        deductions,
        {k: _number(kinds, k, 0.0, where="deductions.kinds.") for k in kinds},
        {k: _number(center, k, 0.0, where="center.") for k in center},
        text,
    )


def _number(table: dict, key: str, default: float, where: str = "") -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RulesError(f"{where}{key} must be a number, not {value!r}")
    if value < 0:
        raise RulesError(f"{where}{key} must be 0 or more, not {value}")
    if value > 1000:
        raise RulesError(f"{where}{key} is {value}: more than 1000 points is a typing slip")
    return float(value)


@dataclass(frozen=True)
class Score:
    """One unit's score: ``unit`` is 'dept:<id>' or 'center:<id>'."""

    unit: str
    center_id: str
    dept_id: str | None
    score: float
    deductions: float  # automatic, from the month's own data
    late: float  # automatic, from late data of a locked month, carried into this one
    adjustments: float  # manual, signed (bonuses capped)
    counts: Mapping[str, int] = field(default_factory=dict)


def deduction(rules: AssessmentRules, counts: Mapping[str, int]) -> float:
    """The automatic deduction of a unit's counted items."""
    return round(sum(rules.points(item) * n for item, n in counts.items()), 2)


def score_month(
    rules: AssessmentRules,
    departments: Mapping[str, str],
    counts: Mapping[str, Mapping[str, int]],
    late: Mapping[str, float] | None = None,
    adjustments: Mapping[str, Iterable[float]] | None = None,
) -> list[Score]:
    """Scores of every department (`departments`: dept_id -> center_id) and center of a month.

    `counts` and `late` (points carried from locked months) are keyed by unit; `adjustments`
    are manual points per unit, signed: their positive sum (bonuses) is capped at bonus_cap.
    """
    late, adjustments = late or {}, adjustments or {}
    scores: list[Score] = []
    by_center: dict[str, list[float]] = {}
    for dept_id, center_id in sorted(departments.items()):
        unit = f"dept:{dept_id}"
        score = _score(rules, unit, center_id, dept_id, counts.get(unit, {}), late.get(unit, 0.0), adjustments)
        scores.append(score)
        by_center.setdefault(center_id, []).append(score.score)
    for center_id in sorted(set(departments.values()) | {u[7:] for u in counts if u.startswith("center:")}):
        unit = f"center:{center_id}"
        own = _score(rules, unit, center_id, None, counts.get(unit, {}), late.get(unit, 0.0), adjustments)
        depts = by_center.get(center_id, [])
        mean = sum(depts) / len(depts) if depts else rules.base
        value = max(rules.floor, round(mean - (rules.base - own.score), 2))
        scores.append(Score(unit, center_id, None, value, own.deductions, own.late, own.adjustments, own.counts))
    return scores


def _score(rules, unit, center_id, dept_id, counts, late, adjustments) -> Score:
    points = list(adjustments.get(unit, ()))
    bonus = min(sum(p for p in points if p > 0), rules.bonus_cap)
    adjusted = round(bonus + sum(p for p in points if p < 0), 2)
    deducted = deduction(rules, counts)
    value = max(rules.floor, round(rules.base - deducted - late + adjusted, 2))
    return Score(unit, center_id, dept_id, value, deducted, round(late, 2), adjusted, dict(counts))


def late_points(
    rules: AssessmentRules, counted_now: Mapping[str, Mapping[str, int]], frozen: Mapping[str, float]
) -> dict[str, float]:
    """What late data adds to a locked month's automatic deductions, per unit: the recount's
    points less what was frozen at locking (and carried since). A locked month never changes;
    this difference is carried into the next open month instead."""
    units = set(counted_now) | set(frozen)
    found = {u: round(deduction(rules, counted_now.get(u, {})) - frozen.get(u, 0.0), 2) for u in units}
    return {u: p for u, p in found.items() if p}


def ranked(scores: Iterable[Score]) -> list[Score]:
    """Best first; ties by unit id, so a ranking reads the same every time."""
    return sorted(scores, key=lambda s: (-s.score, s.unit))
