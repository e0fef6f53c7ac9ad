"""The 月度效能测评通报 as a PDF: centers ranked within their level, departments ranked within
their center and across the region, a chart of the center ranking, the lowest scores, and
the month-on-month change. Chinese first, with the project's embedded CJK font (app/pdf.py)."""

from __future__ import annotations

import io
from datetime import date

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

from app.assessment.months import AssessmentRefused, month_state, scores_of
from app.base.display import CELL, TITLE, in_reportlab
from app.i18n import t
from app.pdf import FONT, RED, bar_chart
from app.queries.reference import Reference

LEVELS = ("region", "city", "county")
WORST = 5


def month_report(engine, reference: Reference, month: date, lang: str = "zh") -> bytes:
    """The month's report; a month never computed is refused."""
    state = month_state(engine, month)
    if state is None:
        raise AssessmentRefused(f"{month:%Y-%m} has not been computed yet (supervise assess month {month:%Y-%m})")
    previous = date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)
    with engine.connect() as conn:
        scores, before = scores_of(conn, month), {s["unit"]: s["score"] for s in scores_of(conn, previous)}
    bar_chart([], [], 10, 10)  # registers the font
    styles = _styles()
    story = [
        Paragraph(in_reportlab(t("assess.title", lang, month=f"{month:%Y-%m}"), TITLE), styles["title"]),
        Paragraph(
            t("assess.state", lang, state=t(f"assess.state.{state['state']}", lang), version=state["rules_version"]),
            styles["small"],
        ),
    ]
    centers = [s for s in scores if s["unit"].startswith("center:")]
    depts = [s for s in scores if s["unit"].startswith("dept:")]
    for level in LEVELS:
        ranked = [s for s in centers if _level(reference, s["center_id"]) == level]
        if not ranked:
            continue
        story.append(Paragraph(t("assess.centers", lang, level=t(f"assess.level.{level}", lang)), styles["h2"]))
        story.append(_ranking(ranked, before, lambda s: reference.center_name(s["center_id"]), lang))
        if len(ranked) > 1:
            names = [reference.center_name(s["center_id"]) for s in ranked[:30]]
            story.append(bar_chart(names, [s["score"] for s in ranked[:30]], 170 * mm, 14 * min(len(names), 30) + 8))
    story.append(Paragraph(t("assess.worst", lang, n=WORST), styles["h2"]))
    worst = sorted(depts, key=lambda s: (s["score"], s["unit"]))[:WORST]
    story.append(_ranking(worst, before, lambda s: _dept_name(reference, s), lang, worst_first=True))
    story.append(Paragraph(t("assess.depts", lang), styles["h2"]))
    story.append(_ranking(depts, before, lambda s: _dept_name(reference, s), lang))
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=A4, title=t("assess.title", lang, month=f"{month:%Y-%m}")).build(story)
    return buffer.getvalue()


def _ranking(rows: list[dict], before: dict, name, lang: str, worst_first: bool = False) -> Table:
    styles = _styles()
    header = [t(f"assess.col.{c}", lang) for c in ("rank", "unit", "score", "deductions", "late", "adjust", "change")]
    body = [header]
    for i, s in enumerate(rows, 1):
        change = s["score"] - before[s["unit"]] if s["unit"] in before else None
        cells = [
            str(i),
            name(s),
            f"{s['score']:.2f}",
            f"{s['deductions']:.2f}",
            f"{s['late']:.2f}" if s["late"] else "",
            f"{s['adjustments']:+.2f}" if s["adjustments"] else "",
            "—" if change is None else f"{change:+.2f}",
        ]
        body.append([Paragraph(in_reportlab(c, CELL), styles["cell"]) for c in cells])
    table = Table(body, colWidths=[12 * mm, 70 * mm, 18 * mm, 18 * mm, 16 * mm, 16 * mm, 18 * mm], repeatRows=1)
    commands = [
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#cfd8dc")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8ecf1")),
    ]
    if worst_first:
        commands.append(("TEXTCOLOR", (2, 1), (2, -1), RED))
    table.setStyle(TableStyle(commands))
    return table


def _styles() -> dict:
    base = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12)
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=16, leading=22, spaceAfter=4),
        "h2": ParagraphStyle("h2", parent=base, fontSize=12, leading=16, spaceBefore=8, spaceAfter=4),
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=10, textColor=colors.HexColor("#555555")),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8, leading=10),
    }


def _level(reference: Reference, center_id: str) -> str:
    center = reference.centers.get(center_id)
    return center.level if center else "county"


def _dept_name(reference: Reference, score: dict) -> str:
    return f"{reference.center_name(score['center_id'])} {reference.dept_name(score['dept_id'])}"
