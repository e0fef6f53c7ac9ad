"""Values as the pages and the PDFs both write them: a place, the KPI report's figures.

It only words what it is given (no query, no write), so the layouts and the PDF
makers share one copy. Local times are :func:`app.base.display.local`.
"""

from __future__ import annotations

from app.base.display import shown
from app.i18n import t

RANK_ROWS = 10  # rows of each KPI ranking on the page and in the PDF


def place(row: dict, reference, cap, staff: bool = False) -> str:
    """center / department / window (/ staff) of a row, each name capped on its own: a long one never hides the next.

    `reference` is an :class:`app.queries.reference.Reference`.
    """
    return " / ".join(shown(name, cap) for name in reference.place_names(row, staff))


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def cards(totals, overdue_open: int, lang: str, cut: int) -> list[tuple[str, str, str]]:
    """(id, label, value) of each headline indicator of a KPI report's totals (:class:`app.kpi.report.Totals`)."""
    return [
        ("on-time", t("kpi.on_time_rate", lang), pct(totals.on_time_rate)),
        ("early", t("kpi.early_rate", lang), pct(totals.early_rate)),
        ("overdue-open", t("kpi.overdue_open", lang), str(overdue_open)),
        ("avg-days", t("kpi.avg_days", lang), f"{num(totals.avg_used)} / {num(totals.avg_promised)}"),
        ("correction", t("kpi.correction_rate", lang), pct(totals.correction_rate)),
        ("one-visit", t("kpi.one_visit_rate", lang), pct(totals.one_visit_rate)),
        ("score", t("kpi.satisfaction", lang), num(totals.avg_score)),
        ("satisfied", t("kpi.satisfied_rate", lang, cut=cut), pct(totals.satisfied_rate)),
        ("received", t("kpi.received", lang), str(totals.received)),
        ("completed", t("kpi.completed", lang), str(totals.completed)),
        ("ratings", t("kpi.ratings", lang), str(totals.ratings)),
    ]


def metric_columns(lang: str, cut: int) -> list[str]:
    """The head of a KPI table: roll-up and rankings."""
    return [
        t("kpi.name", lang),
        t("kpi.completed", lang),
        t("kpi.on_time_rate", lang),
        t("kpi.early_rate", lang),
        t("kpi.one_visit_rate", lang),
        t("kpi.satisfied_rate", lang, cut=cut),
    ]


def metric_cells(name: str, totals) -> list[str]:
    """One row of a KPI table under :func:`metric_columns`."""
    return [
        name,
        str(totals.completed),
        pct(totals.on_time_rate),
        pct(totals.early_rate),
        pct(totals.one_visit_rate),
        pct(totals.satisfied_rate),
    ]
