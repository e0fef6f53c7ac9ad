"""The KPI page's wiring: a date range and a scope in, the report out (cached)."""
from __future__ import annotations

from urllib.parse import urlencode

from dash import Input, Output, html

from app import kpi
from app.auth import actor_name, audit, current_scope, remote_addr
from app.i18n import current_lang, t
from layouts import kpi as view


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
        except ValueError:
            audit(services.engine, actor_name(), "denied", f"kpi:{scope_id}", {"view": "kpi_page"},
                  services.clock(), remote_addr(services.settings))
            return html.Div(t("page.forbidden", lang), className="page-message"), "/pdf/kpi.pdf"
        report = kpi.report(services, scope, first, last)
        query = urlencode({"from": first.isoformat(), "to": last.isoformat(), "scope": scope.scope_id})
        return view.report_view(report, lang), f"/pdf/kpi.pdf?{query}"
