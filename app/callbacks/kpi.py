"""The KPI page's wiring: a date range and a scope in, the report out (cached)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from dash import Input, Output, html, no_update
from dash._utils import to_json

from app.auth import actor_name, audit, current_scope, remote_addr
from app.i18n import current_lang, t
from app.kpi import report as kpi
from layouts import kpi as view


def rendered_report(services, scope, first, last, lang: str):
    """The report as the page shows it, cached already drawn: a hit is one Redis read and a JSON parse."""
    key = f"kpi-view:{lang}:{scope.key}:{first}:{last}:{kpi.version(services.engine)}"
    drawn = services.cache.get(key)
    if drawn is None:
        drawn = to_json(view.report_view(kpi.report(services, scope, first, last), lang))
        services.cache.set(key, drawn, timeout=600)
    return json.loads(drawn)


def register(app, services) -> None:
    @app.callback(
        Output("kpi-content", "children"),
        Output("kpi-pdf", "href"),
        Input("kpi-range", "start_date"),
        Input("kpi-range", "end_date"),
        Input("kpi-scope", "value"),
    )
    def show(start, end, scope_id):
        user_scope = current_scope(services)
        lang = current_lang()
        args = {"from": (start or "")[:10], "to": (end or "")[:10], "scope": scope_id or ""}
        try:
            scope, first, last = kpi.parse_request(services, user_scope, {k: v for k, v in args.items() if v})
        except kpi.BadRange:
            message = t("kpi.bad_range", lang, earliest=kpi.EARLIEST.isoformat(), years=kpi.MAX_DAYS // 366)
            return html.Div(message, className="page-message", id="kpi-bad-range"), no_update
        except ValueError:
            audit(
                services.engine,
                actor_name(),
                "denied",
                f"kpi:{scope_id}",
                {"view": "kpi_page"},
                services.clock(),
                remote_addr(services.settings),
            )
            return html.Div(t("page.forbidden", lang), className="page-message"), "/pdf/kpi.pdf"
        query = urlencode({"from": first.isoformat(), "to": last.isoformat(), "scope": scope.scope_id})
        return rendered_report(services, scope, first, last, lang), f"/pdf/kpi.pdf?{query}"
