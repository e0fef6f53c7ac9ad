"""The case page (/case/<case_no>): facts, the timeline chart, every clock with
its due date and working days left, alarms and officers' actions, evidence
stills, and the live video of the window handling the case, on one screen.

It draws an :class:`app.queries.cases.CasePage` that its callback read
(app/callbacks/case.py); the clocks and the timeline are :mod:`app.case_view`'s,
the same ones the PDF dossier draws.
"""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import quote

import plotly.graph_objects as go
from dash import dcc, html

from app import links
from app.base.display import CELL, CHART, DETAIL, LABEL, PARAGRAPH, TITLE, in_plotly, local, shown, tooltip
from app.i18n import action_note, actor_label, kind_label, level_label, state_label, subject_label, t

SPAN_COLOURS = {"case": "#90a4ae", "receipt": "#64b5f6", "step": "#1565c0", "pause": "#bdbdbd", "delivery": "#26a69a"}


# --- drawing the timeline ----------------------------------------------------------------


def axis_names(rows: list[str]) -> dict[str, str]:
    """Each row of the chart as its axis shows it: capped, markup escaped, still one name per row."""
    names: dict[str, str] = {}
    for row in rows:
        name = in_plotly(row, CHART)
        if name in names.values():  # two long names that read alike once capped stay two rows
            name = f"{name} ({len(names) + 1})"
        names[row] = name
    return names


def timeline_figure(spans: list, markers: list, now: datetime, zone, lang: str) -> go.Figure:
    """The timeline of :func:`app.case_view.timeline` as a chart: bars, event marks, due lines, now."""
    figure = go.Figure()
    names = axis_names(list(dict.fromkeys(s.row for s in spans)) + [t("case.events", lang)])
    rows = list(names.values())
    for kind in SPAN_COLOURS:
        chosen = [s for s in spans if s.kind == kind]
        if not chosen:
            continue
        figure.add_bar(
            y=[names[s.row] for s in chosen],
            base=[s.start.astimezone(zone).isoformat() for s in chosen],
            x=[max((s.end - s.start).total_seconds() * 1000, 60_000) for s in chosen],
            orientation="h",
            marker_color=SPAN_COLOURS[kind],
            marker_pattern_shape=["/" if s.still_open else "" for s in chosen] if kind != "pause" else "x",
            name=chosen[0].kind,
            showlegend=False,
            hovertext=[f"{in_plotly(s.label, CELL)}<br>{local(s.start, zone)} → {local(s.end, zone)}" for s in chosen],
            hoverinfo="text",
        )
    event_marks = [m for m in markers if m.kind == "event"]
    figure.add_scatter(
        x=[m.at.astimezone(zone).isoformat() for m in event_marks],
        y=[names[t("case.events", lang)]] * len(event_marks),
        mode="markers",
        marker=dict(size=10, color="#37474f", symbol="diamond"),
        hovertext=[f"{in_plotly(m.label, CELL)} {local(m.at, zone)}" for m in event_marks],
        hoverinfo="text",
        showlegend=False,
    )
    for index, mark in enumerate(m for m in markers if m.kind == "due"):
        at = mark.at.astimezone(zone).isoformat()
        figure.add_shape(
            type="line", x0=at, x1=at, yref="paper", y0=0, y1=1, line=dict(color="#d4302b", dash="dash", width=1)
        )
        figure.add_annotation(
            x=at,
            yref="paper",
            y=1 - 0.07 * (index % 4),
            text=in_plotly(mark.label, CHART),
            hovertext=in_plotly(mark.label, CELL),
            showarrow=False,
            font=dict(color="#d4302b", size=11),
            xanchor="left",
        )
    now_at = now.astimezone(zone).isoformat()
    figure.add_shape(type="line", x0=now_at, x1=now_at, yref="paper", y0=0, y1=1, line=dict(color="#2e7d32", width=2))
    figure.add_annotation(
        x=now_at, yref="paper", y=0, text=t("tl.now", lang), showarrow=False, font=dict(color="#2e7d32"), yanchor="top"
    )
    figure.update_layout(
        barmode="overlay",
        height=120 + 34 * len(rows),
        margin=dict(l=10, r=10, t=30, b=30),
        xaxis=dict(type="date"),
        yaxis=dict(categoryorder="array", categoryarray=list(reversed(rows)), automargin=True),
        plot_bgcolor="#fff",
        font=dict(family="Noto Sans CJK SC, WenQuanYi Micro Hei, sans-serif"),
    )
    return figure


# --- the page ----------------------------------------------------------------------------


def search_block(lang: str, value: str = ""):
    return html.Div(
        className="case-search",
        children=[
            dcc.Input(
                id="case-search-input",
                value=value,
                placeholder=t("case.search", lang),
                debounce=False,
                type="text",
                n_submit=0,
            ),
            html.Button(t("case.search_button", lang), id="case-search-button", className="button"),
            html.Div(id="case-search-results", className="case-results"),
        ],
    )


def search_results(rows: list[dict], reference, lang: str, zone):
    if not rows:
        return html.P(t("case.none", lang))

    def name(text: str):
        return html.Span(shown(text, LABEL), title=tooltip(text, LABEL))

    return [
        html.P(t("case.results", lang, n=len(rows))),
        html.Ul(
            [
                html.Li(
                    [
                        dcc.Link(
                            shown(r["case_no"], TITLE),
                            href=links.case_page(r["case_no"]),
                            className="case-no",
                            title=tooltip(r["case_no"], TITLE),
                        ),
                        " · ",
                        name(reference.item_name(r["item_code"])),
                        " · ",
                        name(reference.dept_name(r["dept_id"])),
                        " · ",
                        name(reference.window_label(r["window_id"])),
                        " · ",
                        t(f"status.{r['status']}", lang),
                        " · ",
                        local(r["received_at"], zone),
                    ]
                )
                for r in rows
            ]
        ),
    ]


def search_layout(lang: str, text: str = "", results=None):
    """/case, or /case?q=TEXT opened with the results of a search (links from other tools)."""
    block = search_block(lang, text)
    if results is not None:
        block.children[-1].children = results
    return html.Div(className="case-page", children=[block])


def facts_block(case_row: dict, reference, lang: str, zone):
    """The case's facts; its applicant's phone comes masked (:func:`app.queries.cases.masked`)."""
    yes_no = lambda v: t("case.yes", lang) if v else t("case.no", lang)
    used = f"{case_row['used_days'] if case_row['used_days'] is not None else '—'} / {case_row['promised_days'] or '—'}"
    pairs = [
        ("case.item", reference.item_name(case_row["item_code"])),
        ("case.status", t(f"status.{case_row['status']}", lang)),
        ("case.center", reference.center_name(case_row["center_id"])),
        ("case.dept", reference.dept_name(case_row["dept_id"])),
        ("case.window", reference.window_label(case_row["window_id"])),
        ("case.staff", reference.staff_name(case_row["staff_id"])),
        ("case.phone", case_row.get("applicant_phone") or "—"),  # masked: 138****1234
        ("case.received", local(case_row["received_at"], zone)),
        ("case.start", case_row["start_date"].isoformat() if case_row["start_date"] else "—"),
        ("case.deemed", yes_no(case_row["deemed_accepted"])),
        ("case.promise_due", case_row["promise_due"].isoformat() if case_row["promise_due"] else "—"),
        ("case.statutory_due", case_row["statutory_due"].isoformat() if case_row["statutory_due"] else "—"),
        ("case.completed", local(case_row["completed_at"], zone) or "—"),
        ("case.used_days", used),
    ]
    children = []
    for key, value in pairs:  # the case's detail view: upstream names whole
        children += [html.Dt(t(key, lang)), html.Dd(shown(value, DETAIL), className="long-text")]
    notes = []
    if case_row["paused_days"]:
        notes.append(t("case.paused_days", lang, n=case_row["paused_days"]))
    if case_row["extension_days"]:
        notes.append(t("case.extension_days", lang, n=case_row["extension_days"]))
    if case_row["on_time"] is not None:
        notes.append(t("case.on_time", lang) if case_row["on_time"] else t("case.late", lang))
    children += [html.Dt(""), html.Dd("；".join(notes))]
    return html.Dl(children, className="case-facts", id="case-facts")


def cell(text: str, cap=CELL):
    """A table cell of upstream text: capped, the rest in its hover."""
    return html.Td(shown(text, cap), title=tooltip(text, cap))


def clocks_table(clocks: list, calendar, today: date, lang: str):
    head = html.Tr(
        [
            html.Th(t(k, lang))
            for k in ("case.clock", "case.clock_start", "case.clock_due", "case.clock_left", "case.clock_state")
        ]
    )
    body = []
    for clock in clocks:
        left = clock.days_left(calendar, today)
        overdue = left is not None and left < 0
        body.append(
            html.Tr(
                className="clock-overdue" if overdue else "",
                children=[
                    cell(clock.label(lang)),
                    html.Td(clock.start.isoformat() if clock.start else "—"),
                    html.Td(clock.due.isoformat() if clock.due else "—"),
                    html.Td("—" if left is None else str(left)),
                    html.Td(clock.state(calendar, today, lang)),
                ],
            )
        )
    return html.Table([html.Thead(head), html.Tbody(body)], className="case-table", id="case-clocks")


def alarms_table(alarm_rows: list[dict], actions: list[dict], lang: str, zone):
    rows = []
    by_alarm: dict[int, list[dict]] = {}
    for action in actions:
        by_alarm.setdefault(action["alarm_id"], []).append(action)
    for a in alarm_rows:
        rows.append(
            html.Tr(
                [
                    html.Td(level_label(a["level"], lang)),
                    html.Td(kind_label(a["kind"], lang)),
                    cell(subject_label(a["kind"], a["subject"], lang)),
                    html.Td(local(a["fired_at"], zone)),
                    html.Td(state_label(a["state"], lang)),
                ],
                className=f"level-{a['level']}",
            )
        )
        for action in by_alarm.get(a["id"], []):
            rows.append(
                html.Tr(
                    [
                        html.Td(""),
                        html.Td(t(f"action.{action['action']}", lang)),
                        cell(actor_label(action["actor"], lang)),
                        html.Td(local(action["at"], zone)),
                        cell(action_note(action, a, lang), PARAGRAPH),
                    ],
                    className="case-action",
                )
            )
    return html.Table(html.Tbody(rows), className="case-table", id="case-alarms")


def live_block(case_row: dict, reference, scope, lang: str):
    cameras = [c for c in reference.cameras_of_window(case_row["window_id"]) if c.enabled]
    if not cameras or not scope.allows_camera(reference, cameras[0].camera_id):
        return html.Div(t("case.no_camera", lang), id="case-live", className="case-live")
    camera = cameras[0].camera_id
    return html.Div(
        id="case-live",
        className="case-live",
        children=[
            # assets/live.js: the latest still at once, then the camera's H.264 through Media Source Extensions.
            html.Div(
                html.Img(className="live-still", alt=""),
                className="live-player",
                id="case-live-video",
                **{"data-camera": camera, "data-snapshot": f"/video/{quote(camera, safe='')}/snapshot.jpg"},
            ),
            html.Div(
                shown(reference.window_label(case_row["window_id"]), LABEL),
                className="wall-label",
                title=tooltip(reference.window_label(case_row["window_id"]), LABEL),
            ),
            # 空岗 while the window's alarm is open (app/callbacks/wall.py)
            html.Span(id={"type": "live-badge", "camera": camera}, className="wall-badge"),
            dcc.Interval(id="live-badge-tick", interval=15_000),
            *(
                [
                    html.Button(t("case.take_evidence", lang), id="case-take-evidence", className="button"),
                    dcc.Store(id="case-no", data=case_row["case_no"]),
                    dcc.Loading(html.Div(id="case-evidence-result", role="status")),
                ]
                if scope.may_act
                else []
            ),
        ],
    )


def evidence_block(stills: list[dict], lang: str, zone):
    if not stills:
        return html.P(t("case.no_evidence", lang))
    return html.Div(
        className="case-evidence",
        id="case-evidence",
        children=[html.Img(src=f"/evidence/{s['id']}.jpg", title=local(s["captured_at"], zone)) for s in stills],
    )


def not_found(lang: str, case_no: str):
    """No such case, or one outside the user's scope: the two look the same."""
    return html.Div(
        [
            search_block(lang),
            html.P(
                t("case.not_found", lang, case_no=shown(case_no, TITLE)),
                className="page-message",
                id="case-not-found",
            ),
        ]
    )


def layout(page, spans: list, markers: list, reference, scope, lang: str, now: datetime, zone, calendar, today: date):
    """The page of one case: `page` is an :class:`app.queries.cases.CasePage` read within `scope`,
    `spans` and `markers` its :func:`app.case_view.timeline`."""
    case_row, case_no = page.case, page.case["case_no"]
    return html.Div(
        className="case-page",
        children=[
            search_block(lang),
            html.H2(
                [
                    html.Span(
                        t("case.title", lang, case_no=shown(case_no, TITLE)),
                        className="case-no",
                        title=tooltip(case_no, TITLE),
                    ),
                    " ",
                    html.A(
                        t("case.pdf", lang),
                        href=links.case_pdf(case_no),
                        target="_blank",
                        className="button-link",
                        id="case-pdf",
                    ),
                ]
            ),
            html.Div(
                className="case-grid",
                children=[
                    html.Div(
                        [
                            facts_block(case_row, reference, lang, zone),
                            html.H3(t("case.timeline", lang)),
                            dcc.Graph(
                                id="case-timeline",
                                figure=timeline_figure(spans, markers, now, zone, lang),
                                config={"displaylogo": False},
                            ),
                            html.H3(t("case.clocks", lang)),
                            clocks_table(page.clocks, calendar, today, lang),
                            html.H3(t("case.alarms", lang)),
                            alarms_table(page.alarms, page.actions, lang, zone),
                        ]
                    ),
                    html.Div(
                        [
                            html.H3(t("case.live", lang)),
                            live_block(case_row, reference, scope, lang),
                            html.H3(t("case.evidence", lang)),
                            html.Div(evidence_block(page.evidence, lang, zone), id="case-evidence-block"),
                        ]
                    ),
                ],
            ),
        ],
    )
