"""The frame around every page: navigation, the stale-data banner, the page slot.

In kiosk mode (``?kiosk``) the frame hides itself and the page goes dark.
"""

from __future__ import annotations

from dash import dcc, html

from app.i18n import t


def shell_layout(lang: str, user_name: str, csrf_token: str):
    """The frame for the user `user_name` ("" before log-in); `csrf_token` goes with the log-out form."""
    other = "en" if lang != "en" else "zh"
    nav = [
        dcc.Link(t("nav.control_room", lang), href="/", id="shell-nav-control-room"),
        dcc.Link(t("nav.overview", lang), href="/overview", id="shell-nav-overview"),
        dcc.Link(t("nav.cases", lang), href="/case", id="shell-nav-cases"),
        dcc.Link(t("nav.kpi", lang), href="/kpi", id="shell-nav-kpi"),
        dcc.Link(t("nav.wall", lang), href="/wall", id="shell-nav-wall"),
        dcc.Link(t("nav.orders", lang), href="/orders", id="shell-nav-orders"),
        html.A(t("nav.kiosk", lang), href="/?kiosk", id="shell-nav-kiosk"),
    ]
    user = html.Span(user_name, id="shell-user")
    return html.Div(
        id="shell-root",
        className="shell",
        children=[
            dcc.Location(id="shell-url", refresh=False),
            html.Header(
                id="shell-header",
                className="shell-header",
                children=[
                    html.Span(t("app.title", lang), className="shell-title"),
                    html.Nav(nav, className="shell-nav"),
                    html.Span(className="shell-spacer"),
                    user,
                    html.A(t("nav.language", lang), href=f"/lang/{other}", id="shell-language", className="shell-link"),
                    # A POST with the CSRF token: a link (GET) could log anybody out from any page that embeds it.
                    html.Form(
                        action="/logout",
                        method="POST",
                        id="shell-logout-form",
                        className="shell-logout-form",
                        children=[
                            dcc.Input(type="hidden", name="csrf_token", value=csrf_token, id="shell-logout-token"),
                            html.Button(
                                t("nav.logout", lang), type="submit", id="shell-logout", className="shell-link"
                            ),
                        ],
                    ),
                ],
            ),
            html.Div(id="shell-banner", className="shell-banner"),
            dcc.Interval(id="shell-banner-poll", interval=30_000),
            html.Main(id="shell-page", className="shell-page"),
        ],
    )


def not_found(lang: str):
    return html.Div(t("page.not_found", lang), className="page-message", id="shell-not-found")


def forbidden(lang: str):
    return html.Div(t("page.forbidden", lang), className="page-message", id="shell-forbidden")
