"""The KPI page (效能指标) for center managers: any date range, any part of their
scope, with roll-ups by level, rankings of centers, departments, windows and
staff, and weekly trends. :func:`report_view` draws an :class:`app.kpi.report.Report`."""

from __future__ import annotations

from datetime import date

from dash import dcc, html

from app.base.display import CELL, LABEL, option, shown, tooltip
from app.i18n import t
from app.wording import RANK_ROWS, cards, metric_cells, metric_columns


def _table(header: list[str], rows: list[list[str]], table_id: str):
    # Names are upstream text: each cell capped, the rest in its hover.
    return html.Table(
        [
            html.Thead(html.Tr([html.Th(h) for h in header])),
            html.Tbody([html.Tr([html.Td(shown(c, CELL), title=tooltip(c, CELL)) for c in row]) for row in rows]),
        ],
        className="case-table",
        id=table_id,
    )


def trend_figure(report, lang: str) -> dict:
    """The weekly trend as a plain figure dict (plotly's validating objects cost tens of ms per call)."""
    weeks = [w.isoformat() for w, _ in report.trend]
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": weeks,
                "y": [w.on_time_rate for _, w in report.trend],
                "name": t("kpi.on_time_rate", lang),
            },
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": weeks,
                "y": [w.satisfied_rate for _, w in report.trend],
                "name": t("kpi.satisfied_rate", lang, cut=report.satisfied_score),
            },
            {
                "type": "bar",
                "x": weeks,
                "y": [w.received for _, w in report.trend],
                "name": t("kpi.received", lang),
                "yaxis": "y2",
                "opacity": 0.3,
            },
        ],
        "layout": {
            "height": 320,
            "margin": {"l": 40, "r": 40, "t": 20, "b": 40},
            "yaxis": {"range": [0, 100], "title": {"text": "%"}},
            "yaxis2": {"overlaying": "y", "side": "right", "showgrid": False},
            "legend": {"orientation": "h"},
            "font": {"family": "Noto Sans CJK SC, WenQuanYi Micro Hei, sans-serif"},
        },
    }


def report_view(report, lang: str):
    cut = report.satisfied_score
    header = metric_columns(lang, cut)
    rollup_rows = [metric_cells("　" * r.depth + r.name, r.totals) for r in report.rollup]
    rankings = [
        html.Div(
            [
                html.H4(t(f"kpi.rank.{name}", lang)),
                _table(
                    ["#"] + header,
                    [
                        [str(i + 1)] + metric_cells(r.name, r.totals)
                        for i, r in enumerate(report.rankings[name][:RANK_ROWS])
                    ],
                    f"kpi-rank-{name}",
                ),
            ]
        )
        for name in ("center", "dept", "window", "staff")
    ]
    return [
        html.Div(
            className="kpi-cards",
            children=[
                html.Div(
                    [
                        html.Div(value, className="kpi-value", id=f"kpi-card-{key}"),
                        html.Div(label, className="kpi-label"),
                    ],
                    className="kpi-card",
                )
                for key, label, value in cards(report.totals, report.overdue_open, lang, cut)
            ],
        ),
        html.H3(t("kpi.trend" if report.trend_unit == "week" else "kpi.trend_month", lang)),
        dcc.Graph(id="kpi-trend", figure=trend_figure(report, lang), config={"displaylogo": False}),
        html.H3(t("kpi.rollup", lang)),
        _table(header, rollup_rows, "kpi-rollup") if rollup_rows else html.Div(),
        html.H3(t("kpi.ranking", lang)),
        html.Div(rankings, className="kpi-rankings"),
        html.H3(t("kpi.definitions", lang)),
        html.Ul(
            [
                html.Li(t("kpi.def.on_time", lang)),
                html.Li(t("kpi.def.early", lang)),
                html.Li(t("kpi.def.correction", lang)),
                html.Li(t("kpi.def.satisfied", lang, cut=cut)),
            ]
        ),
    ]


def scope_options(reference, scope) -> list[dict]:
    options = []
    for center in sorted(reference.centers.values(), key=lambda c: c.center_id):
        if scope.dept is None and scope.allows_center(center.center_id):
            options.append(option(center.center_id, center.name))
    for dept in sorted(reference.departments.values(), key=lambda d: d.dept_id):
        if scope.allows(dept.center_id, dept.dept_id):
            names = (reference.center_name(dept.center_id), dept.name)
            options.append(option(dept.dept_id, " · ".join(names), " · ".join(shown(n, LABEL) for n in names)))
    return [o for o in options if o]


def layout(reference, scope, lang: str, query: dict, default_range: tuple[date, date]):
    """The page's frame; the callback draws the report into it. `default_range` is shown when the link names none."""
    start, end = default_range
    return html.Div(
        className="kpi-page",
        children=[
            html.H2(t("kpi.title", lang)),
            html.Div(
                className="kpi-controls",
                children=[
                    html.Span(t("kpi.range", lang)),
                    dcc.DatePickerRange(
                        id="kpi-range",
                        start_date=query.get("from") or start.isoformat(),
                        end_date=query.get("to") or end.isoformat(),
                        display_format="YYYY-MM-DD",
                    ),
                    html.Span(t("kpi.scope", lang)),
                    dcc.Dropdown(
                        id="kpi-scope",
                        options=scope_options(reference, scope),
                        value=query.get("scope") or scope.scope_id,
                        clearable=False,
                        style={"width": "320px"},
                    ),
                    html.A(
                        t("kpi.pdf", lang), id="kpi-pdf", href="/pdf/kpi.pdf", target="_blank", className="button-link"
                    ),
                ],
            ),
            dcc.Loading(html.Div(id="kpi-content")),
        ],
    )
