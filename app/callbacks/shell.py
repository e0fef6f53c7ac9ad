"""The frame: which page a path shows, kiosk mode, and the banner of stale or degraded data."""

from __future__ import annotations

from urllib.parse import parse_qs

from dash import Input, Output, State, html

from app.auth import current_scope
from app.i18n import current_lang, t
from app.links import case_no_from_page

KIOSK_CLASS = "shell kiosk"


def page_for(services, pathname: str, search: str):
    """The page layout for a path, built for the current user's scope."""
    from app.callbacks.case import page, search_page
    from app.kpi.report import default_range
    from layouts import control_room, kiosk, kpi, overview, shell, wall

    lang = current_lang()
    scope = current_scope(services)
    query = {k: v[0] for k, v in parse_qs((search or "").lstrip("?"), keep_blank_values=True).items()}
    path = (pathname or "/").rstrip("/") or "/"
    if path == "/":
        if "kiosk" in query:
            return kiosk.layout(services.reference.get(), scope, lang, query)
        return control_room.layout(services.reference.get(), scope, lang, query)
    if path == "/overview":
        return overview.layout(lang)
    case_no = case_no_from_page(path, query)
    if case_no is not None:
        return page(services, scope, lang, case_no)
    if path == "/case":
        return search_page(services, scope, lang, query)
    if path == "/kpi":
        return kpi.layout(services.reference.get(), scope, lang, query, default_range(services.today()))
    if path == "/wall":
        return wall.layout(services.reference.get(), scope, lang, query)
    if path == "/orders":
        from layouts import orders

        return orders.layout(scope, lang)
    return shell.not_found(lang)


def banner_messages(services, lang: str) -> list[str]:
    """Why the data on screen may mislead: ingest lagging, Redis unreachable (pages read the
    database alone, live updates come slower), or a year without an official calendar."""
    from app.base.messaging import link_of
    from app.queries.health import freshness

    now = services.clock()
    key = f"banner:{int(now.timestamp() // 30)}"
    fresh = services.cache.get(key)
    if fresh is None:
        fresh = freshness(services.engine, now)
        services.cache.set(key, fresh, timeout=60)
    link = link_of(services.redis)  # as the cache just found it
    messages = [t("banner.redis", lang)] if link is not None and link.down else []
    if fresh.last_ingest is None:
        messages.append(t("banner.no_data", lang))
    elif fresh.age_seconds > services.stale_after.total_seconds():
        messages.append(
            t(
                "banner.stale",
                lang,
                age=int(fresh.age_seconds // 60),
                at=fresh.last_ingest.astimezone(services.zone).strftime("%Y-%m-%d %H:%M"),
            )
        )
    today = services.today()
    years = [today.year] + ([today.year + 1] if today.month == 12 else [])
    missing = services.calendar(None).missing_years(years)
    if missing:
        messages.append(t("banner.calendar", lang, years="、".join(map(str, missing))))
    return messages


def register(app, services) -> None:
    @app.callback(
        Output("shell-page", "children"),
        Output("shell-root", "className"),
        Input("shell-url", "pathname"),
        Input("shell-url", "search"),
    )
    def route(pathname, search):
        kiosk = (pathname or "/") in ("/", "") and "kiosk" in (search or "")
        return page_for(services, pathname, search), (KIOSK_CLASS if kiosk else "shell")

    app.clientside_callback(
        "function(n, views) { return window.superviseRotate(n, views); }",
        Output("kiosk-rotate", "className"),
        Input("kiosk-rotate", "n_intervals"),
        State("kiosk-views", "data"),
        prevent_initial_call=True,
    )

    @app.callback(Output("shell-banner", "children"), Input("shell-banner-poll", "n_intervals"))
    def banner(_n):
        current_scope(services)
        lang = current_lang()
        return [html.Div(m, className="banner-line") for m in banner_messages(services, lang)]
