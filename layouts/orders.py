"""The supervision orders page (督办单): a department's open orders to answer, an officer's orders
to issue, accept or return. It draws what its callbacks (app/callbacks/orders.py) hand it."""

from __future__ import annotations

from dash import dcc, html

from app.base.display import LABEL, PARAGRAPH, shown
from app.i18n import kind_label, t
from app.scope import Scope

HIDDEN = {"display": "none"}


def layout(scope: Scope, lang: str):
    officer = scope.may_act
    department = scope.role == "department"
    return html.Div(
        [
            html.H2(t("orders.title", lang)),
            html.P(t("orders.hint.officer" if officer else "orders.hint.department", lang), className="orders-hint"),
            dcc.Store(id="orders-refresh", data=0),
            dcc.RadioItems(
                id="orders-state",
                options=[{"label": t(f"orders.show.{s}", lang), "value": s} for s in ("open", "all")],
                value="open",
                inline=True,
            ),
            html.Div(id="orders-list"),
            dcc.Dropdown(id="orders-selected", placeholder=t("orders.choose", lang)),
            html.Div(id="orders-detail"),
            html.Div(
                [
                    dcc.Textarea(id="orders-cause", placeholder=t("orders.cause", lang)),
                    dcc.Textarea(id="orders-measures", placeholder=t("orders.measures", lang)),
                    html.Button(t("orders.answer", lang), id="orders-answer"),
                ],
                id="orders-department-actions",
                style=None if department else HIDDEN,
            ),
            html.Div(
                [
                    dcc.Textarea(id="orders-note", placeholder=t("orders.note", lang)),
                    dcc.Input(id="orders-days", type="number", min=1, max=60, placeholder=t("orders.days", lang)),
                    html.Button(t("orders.accept", lang), id="orders-accept"),
                    html.Button(t("orders.return", lang), id="orders-return"),
                    html.H3(t("orders.issue_title", lang)),
                    dcc.Input(id="orders-alarms", type="text", placeholder=t("orders.alarm_ids", lang)),
                    dcc.Textarea(id="orders-instructions", placeholder=t("orders.instructions", lang)),
                    html.Button(t("orders.issue", lang), id="orders-issue"),
                ],
                id="orders-officer-actions",
                style=None if officer else HIDDEN,
            ),
            html.Div(id="orders-result", className="orders-result"),
        ],
        className="orders-page",
    )


def order_table(rows: list[dict], reference, lang: str, zone):
    if not rows:
        return html.P(t("orders.none", lang), id="orders-empty")
    header = html.Tr([html.Th(t(f"orders.col.{c}", lang)) for c in ("no", "case", "dept", "state", "due", "round")])
    body = [
        html.Tr(
            [
                html.Td(shown(r["order_no"], LABEL)),
                html.Td(shown(r["case_no"] or "—", LABEL)),
                html.Td(shown(f"{reference.center_name(r['center_id'])} {reference.dept_name(r['dept_id'])}", LABEL)),
                html.Td(t(f"order.state.{r['state']}", lang)),
                html.Td(r["feedback_due"].isoformat()),
                html.Td(str(r["round"])),
            ],
            id={"type": "orders-row", "order": r["id"]},
        )
        for r in rows
    ]
    return html.Table([html.Thead(header), html.Tbody(body)], className="orders-table")


def order_options(rows: list[dict]) -> list[dict]:
    return [{"label": shown(r["order_no"], LABEL), "value": r["id"]} for r in rows]


def order_detail(order: dict | None, covered: list[dict], reference, lang: str, zone):
    if order is None:
        return html.P(t("page.forbidden", lang))

    def local(instant):
        return instant.astimezone(zone).strftime("%Y-%m-%d %H:%M") if instant else "—"

    history = [
        html.Li(
            f"{local(h['at'])} {shown(h['actor'], LABEL)} {t('order.step.' + h['action'], lang)}"
            + "".join(
                f"；{t('order.field.' + k, lang)}：{shown(str(h['detail'][k]), PARAGRAPH)}"
                for k in ("instructions", "cause", "measures", "reason", "note", "due")
                if h["detail"].get(k)
            )
        )
        for h in order["history"]
    ]
    return html.Div(
        [
            html.H3(shown(order["order_no"], LABEL)),
            html.P(shown(order["instructions"], PARAGRAPH)),
            html.Ul([html.Li(f"{a['id']} · {kind_label(a['kind'], lang)} · {local(a['fired_at'])}") for a in covered]),
            html.H4(t("order.history", lang)),
            html.Ol(history),
        ],
        id="orders-detail-body",
    )
