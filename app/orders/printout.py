"""A supervision order (督办单) and its whole history as a printable PDF, in Chinese first."""

from __future__ import annotations

import io

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from sqlalchemy import select

from app.base.display import CELL, PARAGRAPH, TITLE, in_reportlab
from app.base.tables import alarms
from app.i18n import kind_label, t
from app.orders.orders import order_view
from app.pdf import FONT, bar_chart
from app.queries.reference import Reference
from app.scope import Scope


def order_pdf(engine, scope: Scope, reference: Reference, order_id: int, zone, lang: str = "zh") -> bytes | None:
    """The order as issued, the alarms it covers and every step since; None outside `scope`."""
    order = order_view(engine, scope, order_id)
    if order is None:
        return None
    with engine.connect() as conn:
        covered = conn.execute(
            select(alarms).where(alarms.c.id.in_(order["alarm_ids"])).order_by(alarms.c.id)
        ).mappings()
        covered = [dict(a) for a in covered]
    bar_chart([], [], 10, 10)  # registers the embedded CJK font
    base = ParagraphStyle("body", fontName=FONT, fontSize=10, leading=14)
    title = ParagraphStyle("title", parent=base, fontSize=18, leading=26, alignment=1)
    h2 = ParagraphStyle("h2", parent=base, fontSize=12, leading=16, spaceBefore=8, spaceAfter=4)
    cell = ParagraphStyle("cell", parent=base, fontSize=8.5, leading=11)

    def local(instant):
        return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M") if instant else "—"

    def para(text, style=base, cap=PARAGRAPH):
        return Paragraph(in_reportlab(text, cap), style)

    place = f"{reference.center_name(order['center_id'])} {reference.dept_name(order['dept_id'])}"
    facts = [
        (t("order.no", lang), order["order_no"]),
        (t("order.to", lang), place),
        (t("order.case", lang), order["case_no"] or "—"),
        (t("order.issued", lang), f"{order['issued_by']}  {local(order['issued_at'])}"),
        (t("order.due", lang), order["feedback_due"].isoformat()),
        (t("order.state", lang), t(f"order.state.{order['state']}", lang)),
    ]
    story = [
        para(t("order.title", lang), title, TITLE),
        para(order["order_no"], ParagraphStyle("no", parent=base, alignment=1)),
        Spacer(1, 6 * mm),
        _table([[para(k, cell, CELL), para(v, cell, CELL)] for k, v in facts], [35 * mm, 135 * mm]),
        para(t("order.instructions", lang), h2),
        para(order["instructions"]),
        para(t("order.alarms", lang), h2),
        _table(
            [[para(h, cell, CELL) for h in (t("order.alarm", lang), t("order.kind", lang), t("order.fired", lang))]]
            + [
                [
                    para(str(a["id"]), cell, CELL),
                    para(kind_label(a["kind"], lang), cell, CELL),
                    para(local(a["fired_at"]), cell, CELL),
                ]
                for a in covered
            ],
            [25 * mm, 80 * mm, 65 * mm],
        ),
        para(t("order.history", lang), h2),
        _table(
            [
                [
                    para(h, cell, CELL)
                    for h in (t("order.when", lang), t("order.who", lang), t("order.step", lang), t("order.said", lang))
                ]
            ]
            + [
                [
                    para(local(h["at"]), cell, CELL),
                    para(h["actor"], cell, CELL),
                    para(t(f"order.step.{h['action']}", lang), cell, CELL),
                    para(_said(h["detail"], lang), cell, CELL),
                ]
                for h in order["history"]
            ],
            [32 * mm, 28 * mm, 22 * mm, 88 * mm],
        ),
    ]
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=A4, title=order["order_no"]).build(story)
    return buffer.getvalue()


def _said(detail: dict, lang: str) -> str:
    parts = []
    for key in ("instructions", "cause", "measures", "reason", "note", "due"):
        if detail.get(key):
            parts.append(f"{t('order.field.' + key, lang)}：{detail[key]}")
    return "；".join(parts)


def _table(rows, widths) -> Table:
    table = Table(rows, colWidths=widths, repeatRows=0, splitInRow=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), FONT),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#cfd8dc")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table
