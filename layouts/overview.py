"""Region overview (区域总览): the three-level center tree (region → cities →
counties) coloured by alarm load. Clicking a city drills into it, clicking a
center lists its departments, and a department opens the control room filtered
to it."""

from __future__ import annotations

from urllib.parse import urlencode

import plotly.graph_objects as go
from dash import dcc, html

from app.base.display import CELL, CHART, DETAIL, LABEL, in_plotly, shown, tooltip
from app.i18n import t

POLL_MS = 10_000


def weight(load: dict) -> int:
    """How heavy a place's load looks: an alarm counts three warnings."""
    return 3 * load.get("alarm", 0) + load.get("warning", 0)


def tree_figure(reference, scope, load: dict[str, dict], lang: str, dark: bool = False) -> go.Figure:
    visible = [c for c in reference.centers.values() if scope.allows_center(c.center_id)]
    ids = {c.center_id for c in visible}
    ids_list, labels, parents, values, colours, hover = [], [], [], [], [], []
    for center in sorted(visible, key=lambda c: c.center_id):
        own = load.get(center.center_id, {})
        subtree = [load.get(m, {}) for m in reference.descendants(center.center_id) if m in ids]
        total = {"alarm": sum(x.get("alarm", 0) for x in subtree), "warning": sum(x.get("warning", 0) for x in subtree)}
        ids_list.append(center.center_id)
        # Plotly reads markup in labels and hovers: only our own <br> may be markup.
        labels.append(f"{in_plotly(center.name, CHART)}<br>{t('ov.load', lang, **total)}")
        parents.append(center.parent_id if center.parent_id in ids else "")
        values.append(1 + weight(own))
        colours.append(weight(total))
        hover.append(f"{in_plotly(center.name, CELL)}: {t('ov.load', lang, **total)}")
    figure = go.Figure(
        go.Treemap(
            ids=ids_list,
            labels=labels,
            parents=parents,
            values=values,
            branchvalues="remainder",
            marker=dict(
                colors=colours, colorscale=[[0, "#2e7d32"], [0.3, "#e6a700"], [1, "#d4302b"]], cmin=0, showscale=True
            ),
            hovertext=hover,
            hoverinfo="text",
            textinfo="label",
            maxdepth=3,
        )
    )
    figure.update_layout(
        height=560,
        margin=dict(l=4, r=4, t=4, b=4),
        uirevision="tree",
        paper_bgcolor="#0b1118" if dark else "#fff",
        font=dict(
            family="Noto Sans CJK SC, WenQuanYi Micro Hei, sans-serif", size=14, color="#e6edf3" if dark else "#1d2733"
        ),
    )
    return figure


def departments_view(reference, scope, center_id: str, load: dict[str, dict], lang: str):
    center = reference.centers.get(center_id)
    if center is None or not scope.allows_center(center_id):
        return html.Div()
    departments = [
        d for d in reference.departments.values() if d.center_id == center_id and scope.allows(d.center_id, d.dept_id)
    ]
    departments.sort(key=lambda d: (-weight(load.get(d.dept_id, {})), d.dept_id))
    return html.Div(
        [  # the clicked center's detail view: its name whole
            html.H3(t("ov.depts", lang, center=shown(center.name, DETAIL)), className="long-text"),
            dcc.Link(
                t("nav.control_room", lang) + f" · {shown(center.name, LABEL)}",
                href="/?" + urlencode({"center": center_id}),
                id="overview-center-link",
            ),
            html.Ul(
                [
                    html.Li(
                        dcc.Link(
                            f"{shown(d.name, LABEL)} — "
                            f"{t('ov.load', lang, **{**{'alarm': 0, 'warning': 0}, **load.get(d.dept_id, {})})}",
                            href="/?" + urlencode({"center": center_id, "dept": d.dept_id}),
                            title=tooltip(d.name, LABEL),
                        ),
                        className="overview-dept",
                    )
                    for d in departments
                ],
                id="overview-dept-list",
            ),
        ]
    )


def overview_block(lang: str, dark: bool = False):
    return html.Div(
        [
            dcc.Graph(id="overview-tree", config={"displaylogo": False}),
            dcc.Interval(id="overview-poll", interval=POLL_MS),
            dcc.Store(id="overview-dark", data=dark),
            html.Div(id="overview-departments", className="hidden" if dark else ""),
        ]
    )


def layout(lang: str):
    return html.Div(
        className="overview-page",
        children=[
            html.H2(t("ov.title", lang)),
            html.P(t("ov.hint", lang)),
            overview_block(lang),
        ],
    )
