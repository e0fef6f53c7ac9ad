"""The case page's wiring: search by number, item, department, window or phone suffix."""
from __future__ import annotations

from dash import Input, Output, State
from dash.exceptions import PreventUpdate

from app.auth import current_scope
from app.i18n import current_lang
from app.queries import cases as case_queries
from layouts import case as view


def register(app, services) -> None:
    @app.callback(
        Output("case-search-results", "children"),
        Input("case-search-button", "n_clicks"),
        Input("case-search-input", "n_submit"),
        State("case-search-input", "value"),
        prevent_initial_call=True,
    )
    def search(_clicks, _submit, text):
        scope = current_scope(services)
        if not (text or "").strip():
            raise PreventUpdate
        reference = services.reference.get()
        rows = case_queries.search(services.engine, scope, text, reference)
        return view.search_results(rows, reference, current_lang(), services.zone)
