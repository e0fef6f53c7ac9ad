"""PDF snapshots in Chinese (or English): a case dossier, a KPI report, the control room at a moment.

Charts are reportlab vector drawings, never pictures of charts. Text uses the
TrueType CJK font shipped in ``assets/fonts`` and embedded (as a subset) in every
file, so a PDF reads the same on a machine with no Chinese font.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from reportlab.graphics.shapes import STATE_DEFAULTS, Circle, Drawing, Line, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Image, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from app.base.display import CELL, CHART, LABEL, PARAGRAPH, TITLE, WHOLE, in_reportlab, local, shown
from app.i18n import action_note, actor_label, kind_label, level_label, state_label, subject_label, t

FONT = "SuperviseCJK"
FONT_FILE = Path(__file__).resolve().parents[1] / "assets" / "fonts" / "wqy-microhei.ttc"
RED, YELLOW, BLUE, GREY = (
    colors.HexColor("#d4302b"),
    colors.HexColor("#e6a700"),
    colors.HexColor("#1565c0"),
    colors.HexColor("#9e9e9e"),
)
SPAN_COLOURS = {"case": "#90a4ae", "receipt": "#64b5f6", "step": "#1565c0", "pause": "#bdbdbd", "delivery": "#26a69a"}


def _register_font() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT, str(FONT_FILE), subfontIndex=0))
        # Drawings start from Helvetica, which would be referenced unembedded; ours is embedded.
        STATE_DEFAULTS["fontName"] = FONT


@dataclass(frozen=True)
class Sources:
    """What a PDF is made from, with or without a web request."""

    engine: object
    reference: object  # app.queries.reference.Reference
    now: datetime
    zone: object
    calendar: Callable  # center_id -> WorkCalendar
    var_dir: Path
    by: str
    lang: str = "zh"


def _styles():
    _register_font()
    base = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12)
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=16, leading=22, spaceAfter=4),
        "h2": ParagraphStyle("h2", parent=base, fontSize=12, leading=16, spaceBefore=8, spaceAfter=4),
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=10, textColor=colors.HexColor("#555555")),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8, leading=10),
    }


def _table(rows: list[list], widths: list[float], header: bool = True, style_rows: list | None = None) -> Table:
    """Text cells are capped (:data:`app.base.display.CELL`); a row taller than a page still splits over two."""
    styles = _styles()
    body = [
        [c if not isinstance(c, str) else Paragraph(in_reportlab(c, CELL), styles["cell"]) for c in row] for row in rows
    ]
    table = Table(body, colWidths=widths, repeatRows=1 if header else 0, splitInRow=1)
    commands = [
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#cfd8dc")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8ecf1")))
    table.setStyle(TableStyle(commands + (style_rows or [])))
    return table


def _para(text: str, style, cap=TITLE) -> Paragraph:
    """A paragraph of text, never of markup: reportlab parses <a>, <img> and entities in what it is given."""
    return Paragraph(in_reportlab(text, cap), style)


def _document(buffer, title: str, src: Sources, pagesize=A4) -> SimpleDocTemplate:
    def footer(canvas, doc):
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        canvas.drawString(
            15 * mm, 10 * mm, t("pdf.generated", src.lang, at=local(src.now, src.zone), by=shown(src.by, LABEL))
        )
        canvas.drawRightString(pagesize[0] - 15 * mm, 10 * mm, t("pdf.page", src.lang, n=doc.page))
        canvas.restoreState()

    doc = SimpleDocTemplate(
        buffer,
        pagesize=pagesize,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=18 * mm,
        title=shown(title, TITLE),
        author=shown(src.by, LABEL),
        creator="supervise",
    )
    doc._footer = footer
    return doc


class _Canvas(Canvas):
    """A canvas whose initial font is the embedded CJK one, so no unembedded Helvetica is referenced."""

    def __init__(self, *args, **kwargs):
        _register_font()
        kwargs.setdefault("initialFontName", FONT)
        kwargs.setdefault("initialFontSize", 9)
        super().__init__(*args, **kwargs)


def _build(doc: SimpleDocTemplate, story: list) -> None:
    doc.build(story, onFirstPage=doc._footer, onLaterPages=doc._footer, canvasmaker=_Canvas)


# --- timeline as a vector drawing ----------------------------------------------------------


def timeline_drawing(spans, markers, now: datetime, zone, lang: str, width: float = 180 * mm) -> Drawing:
    """The case timeline of app.case_view.timeline drawn with reportlab shapes (vector)."""
    _register_font()
    rows = list(dict.fromkeys(s.row for s in spans)) + [t("case.events", lang)]
    row_h, label_w, top = 16, 52 * mm, 22
    height = top + row_h * len(rows) + 26
    drawing = Drawing(width, height)
    instants = [s.start for s in spans] + [s.end for s in spans] + [m.at for m in markers] + [now]
    first, last = min(instants), max(instants)
    span_seconds = max((last - first).total_seconds(), 3600.0)
    plot_w = width - label_w - 6

    def x(at: datetime) -> float:
        return label_w + plot_w * (at - first).total_seconds() / span_seconds

    def y(row: str) -> float:
        return height - top - row_h * (rows.index(row) + 1)

    for row in rows:
        drawing.add(String(label_w - 4, y(row) + 4, shown(row, CHART), fontName=FONT, fontSize=7, textAnchor="end"))
    for s in spans:
        x0, x1 = x(s.start), max(x(s.end), x(s.start) + 1.5)
        drawing.add(
            Rect(
                x0,
                y(s.row) + 2,
                x1 - x0,
                row_h - 5,
                fillColor=colors.HexColor(SPAN_COLOURS[s.kind]),
                strokeColor=colors.HexColor("#455a64") if s.still_open else None,
                strokeWidth=0.6,
                strokeDashArray=[2, 1] if s.still_open else None,
            )
        )
    for m in markers:
        if m.kind == "event":
            cx, cy = x(m.at), y(t("case.events", lang)) + row_h / 2 - 1
            drawing.add(Rect(cx - 2, cy - 2, 4, 4, fillColor=colors.HexColor("#37474f"), strokeColor=None))
    dues = [m for m in markers if m.kind == "due"]
    for index, m in enumerate(dues):
        mx = x(m.at)
        drawing.add(Line(mx, 16, mx, height - 8, strokeColor=RED, strokeWidth=0.6, strokeDashArray=[3, 2]))
        drawing.add(
            String(
                mx + 2, height - 10 - 8 * (index % 3), shown(m.label, CHART), fontName=FONT, fontSize=6, fillColor=RED
            )
        )
    nx = x(now)
    drawing.add(Line(nx, 16, nx, height - 8, strokeColor=colors.HexColor("#2e7d32"), strokeWidth=1))
    drawing.add(
        String(
            nx,
            6,
            t("tl.now", lang),
            fontName=FONT,
            fontSize=6.5,
            fillColor=colors.HexColor("#2e7d32"),
            textAnchor="middle",
        )
    )
    # Date ticks: about six, at local midnights.
    days = max(1, int(span_seconds // 86400))
    step = max(1, days // 6)
    day = first.astimezone(zone).date()
    while True:
        at = datetime.combine(day, datetime.min.time(), zone)
        if at > last:
            break
        if at >= first:
            drawing.add(Line(x(at), 16, x(at), 19, strokeColor=GREY))
            drawing.add(String(x(at), 8, day.strftime("%m-%d"), fontName=FONT, fontSize=6, textAnchor="middle"))
        day += timedelta(days=step)
    drawing.add(Line(label_w, 19, width - 6, 19, strokeColor=GREY, strokeWidth=0.5))
    return drawing


# --- the case dossier ------------------------------------------------------------------------


def case_dossier(src: Sources, scope, case_no: str) -> bytes | None:
    """办件档案: facts, timeline, clocks, alarms with officers' actions, events, evidence stills. None if out of scope."""
    from app.case_view import timeline
    from app.queries import cases as case_queries

    page = case_queries.case_page(src.engine, scope, case_no)  # what the case page reads, the same way
    if page is None:
        return None
    case_row, events, clocks, alarm_rows, actions = page.case, page.events, page.clocks, page.alarms, page.actions
    lang, zone, ref = src.lang, src.zone, src.reference
    spans, markers = timeline(case_row, events, clocks, lang, src.now, zone)
    calendar = src.calendar(case_row["center_id"])
    today = src.now.astimezone(zone).date()
    styles = _styles()
    buffer = io.BytesIO()
    title = t("pdf.case.title", lang, case_no=case_no)
    doc = _document(buffer, title, src)
    story = [_para(title, styles["title"])]
    facts = [
        (t("case.item", lang), ref.item_name(case_row["item_code"])),
        (t("case.status", lang), t(f"status.{case_row['status']}", lang)),
        (t("case.center", lang), ref.center_name(case_row["center_id"])),
        (t("case.dept", lang), ref.dept_name(case_row["dept_id"])),
        (t("case.window", lang), ref.window_label(case_row["window_id"])),
        (t("case.staff", lang), ref.staff_name(case_row["staff_id"])),
        (t("case.received", lang), (local(case_row["received_at"], zone) or "—")),
        (t("case.start", lang), str(case_row["start_date"] or "—")),
        (t("case.promise_due", lang), str(case_row["promise_due"] or "—")),
        (t("case.statutory_due", lang), str(case_row["statutory_due"] or "—")),
        (t("case.completed", lang), (local(case_row["completed_at"], zone) or "—")),
        (
            t("case.used_days", lang),
            f"{case_row['used_days'] if case_row['used_days'] is not None else '—'} / "
            f"{case_row['promised_days'] or '—'}",
        ),
    ]
    pairs = [[facts[i][0], facts[i][1], facts[i + 1][0], facts[i + 1][1]] for i in range(0, len(facts), 2)]
    story.append(
        _table(
            pairs,
            [28 * mm, 62 * mm, 28 * mm, 62 * mm],
            header=False,
            style_rows=[
                ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f3f5f7")),
                ("BACKGROUND", (2, 0), (2, -1), colors.HexColor("#f3f5f7")),
            ],
        )
    )
    story.append(_para(t("case.timeline", lang), styles["h2"]))
    story.append(timeline_drawing(spans, markers, src.now, zone, lang))
    story.append(_para(t("case.clocks", lang), styles["h2"]))
    clock_rows = [
        [
            t(k, lang)
            for k in ("case.clock", "case.clock_start", "case.clock_due", "case.clock_left", "case.clock_state")
        ]
    ]
    overdue_rows = []
    for c in clocks:
        left = c.days_left(calendar, today)
        if left is not None and left < 0:
            overdue_rows.append(("TEXTCOLOR", (0, len(clock_rows)), (-1, len(clock_rows)), RED))
        clock_rows.append(
            [
                c.label(lang),
                str(c.start or "—"),
                str(c.due or "—"),
                "—" if left is None else str(left),
                c.state(calendar, today, lang),
            ]
        )
    story.append(_table(clock_rows, [50 * mm, 30 * mm, 30 * mm, 28 * mm, 42 * mm], style_rows=overdue_rows))
    story.append(_para(t("case.alarms", lang), styles["h2"]))
    alarm_table = [
        [
            t("cr.col.level", lang),
            t("cr.col.kind", lang),
            t("cr.col.fired", lang),
            t("cr.col.state", lang),
            t("case.actions", lang),
        ]
    ]
    by_alarm: dict[int, list] = {}
    for a in actions:
        by_alarm.setdefault(a["alarm_id"], []).append(a)
    for a in alarm_rows:
        done = "<br/>".join(
            in_reportlab(
                f"{local(x['at'], zone)} {t('action.' + x['action'], lang)} "
                f"{shown(actor_label(x['actor'], lang), LABEL)} "
                f"{shown(action_note(x, a, lang), PARAGRAPH)}",
                WHOLE,
            )
            for x in by_alarm.get(a["id"], [])
        )
        alarm_table.append(
            [
                level_label(a["level"], lang),
                kind_label(a["kind"], lang)
                + (f" · {subject_label(a['kind'], a['subject'], lang)}" if a["subject"] else ""),
                local(a["fired_at"], zone),
                state_label(a["state"], lang),
                Paragraph(done, styles["cell"]),
            ]
        )
    story.append(_table(alarm_table, [16 * mm, 44 * mm, 28 * mm, 20 * mm, 72 * mm]))
    story.append(_para(t("case.events", lang), styles["h2"]))
    event_rows = [[t("cr.col.fired", lang), t("cr.col.kind", lang), t("case.dept", lang), ""]]
    for e in events:
        payload = e["payload"] if isinstance(e["payload"], dict) else {}
        visible = {k: v for k, v in payload.items() if k != "applicant_phone"}  # personal data stays off paper
        fields = ", ".join(f"{shown(k, LABEL)}={shown(v, CELL)}" for k, v in visible.items())
        event_rows.append(
            [
                local(e["occurred_at"], zone),
                t(f"event.{e['kind']}", lang),
                ref.dept_name(e["dept_id"]),
                _para(fields, styles["cell"], PARAGRAPH),
            ]
        )
    story.append(_table(event_rows, [30 * mm, 36 * mm, 44 * mm, 70 * mm]))
    story.append(_para(t("case.evidence", lang), styles["h2"]))
    stills = page.evidence
    images = []
    root = src.var_dir.resolve()
    for still in stills[:8]:
        path = (root / still["path"]).resolve()
        if root in path.parents and path.is_file():
            images.append(
                [
                    Image(str(path), width=80 * mm, height=45 * mm, kind="proportional"),
                    _para(
                        f"{shown(still['camera_id'], LABEL)} {local(still['captured_at'], zone)}",
                        styles["small"],
                        CELL,
                    ),
                ]
            )
    story.append(
        KeepTogether(_table(images, [90 * mm, 90 * mm], header=False))
        if images
        else _para(t("case.no_evidence", lang), styles["body"])
    )
    _build(doc, story)
    return buffer.getvalue()


# --- bar and line charts (vector) ------------------------------------------------------------


def bar_chart(
    labels: list[str], values: list[float], width: float, height: float, colour=BLUE, value_format: str = "{:.1f}"
) -> Drawing:
    """Horizontal bars, one per label, value printed at the end."""
    _register_font()
    drawing = Drawing(width, height)
    if not values:
        return drawing
    label_w = 48 * mm
    top = max(values) or 1.0
    row_h = min(14.0, (height - 4) / len(values))
    for i, (label, value) in enumerate(zip(labels, values)):
        yy = height - (i + 1) * row_h
        drawing.add(String(label_w - 3, yy + 3, shown(label, CHART), fontName=FONT, fontSize=7, textAnchor="end"))
        bar = (width - label_w - 40) * (value / top if top else 0)
        drawing.add(Rect(label_w, yy + 1.5, max(bar, 0.5), row_h - 4, fillColor=colour, strokeColor=None))
        drawing.add(String(label_w + bar + 3, yy + 3, value_format.format(value), fontName=FONT, fontSize=7))
    return drawing


def line_chart(
    labels: list[str], series: dict[str, list[float | None]], width: float, height: float, maximum: float | None = None
) -> Drawing:
    """Lines over time (weekly trend); None leaves a gap."""
    _register_font()
    drawing = Drawing(width, height)
    left, bottom, right, top_pad = 28, 18, 8, 14
    plot_w, plot_h = width - left - right, height - bottom - top_pad
    values = [v for vs in series.values() for v in vs if v is not None]
    top = maximum or (max(values) if values else 1.0) or 1.0
    palette = [BLUE, RED, colors.HexColor("#2e7d32"), YELLOW]
    n = max(len(labels), 2)
    for k in range(5):
        yy = bottom + plot_h * k / 4
        drawing.add(Line(left, yy, left + plot_w, yy, strokeColor=colors.HexColor("#e0e0e0"), strokeWidth=0.4))
        drawing.add(String(left - 3, yy - 2, f"{top * k / 4:.0f}", fontName=FONT, fontSize=6, textAnchor="end"))
    for i, label in enumerate(labels):
        if i % max(1, len(labels) // 8) == 0:
            drawing.add(String(left + plot_w * i / (n - 1), 5, label, fontName=FONT, fontSize=6, textAnchor="middle"))
    for index, (name, points) in enumerate(series.items()):
        colour = palette[index % len(palette)]
        previous = None
        for i, value in enumerate(points):
            if value is None:
                previous = None
                continue
            here = (left + plot_w * i / (n - 1), bottom + plot_h * min(value, top) / top)
            drawing.add(Circle(*here, 1.6, fillColor=colour, strokeColor=None))
            if previous:
                drawing.add(Line(*previous, *here, strokeColor=colour, strokeWidth=1.2))
            previous = here
        drawing.add(Rect(left + 4 + index * 90, height - 10, 8, 6, fillColor=colour, strokeColor=None))
        drawing.add(String(left + 15 + index * 90, height - 10, name, fontName=FONT, fontSize=7))
    return drawing


# --- the control room at a moment -------------------------------------------------------------


def control_room_snapshot(src: Sources, scope, board, load: dict[str, dict]) -> bytes:
    """监控大厅快照: counts, alarm load by center (vector bars) and the open alarms on the board."""
    from app.wording import place

    styles = _styles()
    lang, zone, ref = src.lang, src.zone, src.reference
    buffer = io.BytesIO()
    title = t("pdf.cr.title", lang)
    page = landscape(A4)
    doc = _document(buffer, title, src, pagesize=page)
    story = [
        _para(f"{title} · {local(src.now, zone)}", styles["title"]),
        _para(
            "　".join(
                [
                    t("cr.count.alarm", lang, n=board.alarm_count),
                    t("cr.count.warning", lang, n=board.warning_count),
                    t("cr.count.escalated", lang, n=board.escalated_count),
                ]
            ),
            styles["h2"],
        ),
    ]
    ranked = sorted(load.items(), key=lambda kv: -(kv[1]["alarm"] * 3 + kv[1]["warning"]))[:15]
    if ranked:
        story.append(_para(t("ov.title", lang), styles["h2"]))
        story.append(
            bar_chart(
                [ref.center_name(c) for c, _ in ranked],
                [float(v["alarm"]) for _, v in ranked],
                page[0] - 30 * mm,
                14 * len(ranked) + 6,
                colour=RED,
                value_format="{:.0f}",
            )
        )
    rows = [
        [
            t(k, lang)
            for k in (
                "cr.col.level",
                "cr.col.kind",
                "cr.col.case",
                "cr.col.place",
                "cr.col.fired",
                "cr.col.due",
                "cr.col.state",
            )
        ]
    ]
    styles_rows = []
    for r in board.rows:
        if r["level"] == "alarm":
            styles_rows.append(("TEXTCOLOR", (0, len(rows)), (0, len(rows)), RED))
        rows.append(
            [
                level_label(r["level"], lang),
                kind_label(r["kind"], lang),
                r["case_no"] or r["camera_id"] or "",
                _para(place(r, ref, LABEL), styles["cell"], WHOLE),
                local(r["fired_at"], zone),
                str(r["due"] or ""),
                state_label(r["state"], lang),
            ]
        )
    story.append(Spacer(1, 6))
    story.append(_table(rows, [16 * mm, 40 * mm, 34 * mm, 88 * mm, 30 * mm, 22 * mm, 22 * mm], style_rows=styles_rows))
    _build(doc, story)
    return buffer.getvalue()


# --- the KPI report --------------------------------------------------------------------------


def kpi_report(src: Sources, report) -> bytes:
    """效能指标报告: headline indicators, roll-up by level, rankings and the weekly trend, charts in vector."""
    from app.wording import RANK_ROWS, cards, metric_cells, metric_columns

    styles = _styles()
    lang = src.lang
    cut = report.satisfied_score
    buffer = io.BytesIO()
    title = t("pdf.kpi.title", lang)
    doc = _document(buffer, title, src)
    width = A4[0] - 30 * mm
    scope_name = shown(report.scope_name, TITLE)
    story = [
        _para(f"{title} · {scope_name}", styles["title"], WHOLE),
        _para(t("pdf.kpi.period", lang, start=report.start, end=report.end, scope=scope_name), styles["body"], WHOLE),
        Spacer(1, 6),
    ]
    headline = cards(report.totals, report.overdue_open, lang, cut)
    pairs = [
        [headline[i][1], headline[i][2]]
        + ([headline[i + 1][1], headline[i + 1][2]] if i + 1 < len(headline) else ["", ""])
        for i in range(0, len(headline), 2)
    ]
    story.append(_table(pairs, [55 * mm, 35 * mm, 55 * mm, 35 * mm], header=False))
    monthly = report.trend_unit == "month"
    story.append(_para(t("kpi.trend_month" if monthly else "kpi.trend", lang), styles["h2"]))
    labels = [w.strftime("%Y-%m" if monthly else "%m-%d") for w, _ in report.trend]
    story.append(
        line_chart(
            labels,
            {
                t("kpi.on_time_rate", lang): [w.on_time_rate for _, w in report.trend],
                t("kpi.satisfied_rate", lang, cut=cut): [w.satisfied_rate for _, w in report.trend],
            },
            width,
            60 * mm,
            maximum=100.0,
        )
    )
    header = metric_columns(lang, cut)
    widths = [60 * mm, 20 * mm, 25 * mm, 25 * mm, 25 * mm, 25 * mm]
    if report.rollup:
        story.append(_para(t("kpi.rollup", lang), styles["h2"]))
        story.append(
            _table([header] + [metric_cells("　" * r.depth + r.name, r.totals) for r in report.rollup], widths)
        )
        ranked = [r for r in report.rollup if r.totals.completed][:20]
        if ranked:
            story.append(Spacer(1, 4))
            story.append(
                bar_chart(
                    [r.name for r in ranked],
                    [r.totals.on_time_rate or 0.0 for r in ranked],
                    width,
                    14 * len(ranked) + 6,
                    value_format="{:.1f}%",
                )
            )
    for name in ("center", "dept", "window", "staff"):
        rows = report.rankings[name][:RANK_ROWS]
        if not rows:
            continue
        story.append(_para(f"{t('kpi.ranking', lang)} · {t(f'kpi.rank.{name}', lang)}", styles["h2"]))
        story.append(
            _table(
                [["#"] + header] + [[str(i + 1)] + metric_cells(r.name, r.totals) for i, r in enumerate(rows)],
                [8 * mm] + [52 * mm] + widths[1:],
            )
        )
    story.append(_para(t("kpi.definitions", lang), styles["h2"]))
    for key in ("kpi.def.on_time", "kpi.def.early", "kpi.def.correction"):
        story.append(_para(t(key, lang), styles["small"], WHOLE))
    story.append(_para(t("kpi.def.satisfied", lang, cut=cut), styles["small"], WHOLE))
    _build(doc, story)
    return buffer.getvalue()
