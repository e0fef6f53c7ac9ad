"""The video wall (视频墙): chosen windows' cameras, 16 tiles or more.

Browsers keep about six long-lived HTTP/1.1 connections per host, so a tile
never holds a stream open: each tile refreshes a still (``snapshot.jpg``, served
from the thumbnails the camera workers keep in Redis) every couple of seconds
with a short request, and only the one focused tile plays live (fragmented MP4,
MJPEG as fallback). Sixteen tiles thus cost one long connection, not sixteen.
"""

from __future__ import annotations

from urllib.parse import quote

from dash import dcc, html

from app.base.display import LABEL, option, shown, tooltip
from app.i18n import kind_label, t

DEFAULT_TILES = 16
MAX_TILES = 36
SNAPSHOT_SECONDS = 2
BADGE_SECONDS = 15  # how often the 空岗 badges are asked for


def camera_options(reference, scope) -> list[dict]:
    options = []
    for camera in sorted(reference.cameras.values(), key=lambda c: c.camera_id):
        if camera.enabled and scope.allows_camera(reference, camera.camera_id):
            window = reference.windows[camera.window_id]
            names = (reference.center_name(window.center_id), reference.dept_name(window.dept_id), window.label)
            choice = option(camera.camera_id, " · ".join(names), " · ".join(shown(n, LABEL) for n in names))
            if choice:
                options.append(choice)
    return options


def tiles(reference, scope, camera_ids: list[str], lang: str):
    chosen = [c for c in camera_ids if scope.allows_camera(reference, c)][:MAX_TILES]
    children = []
    for camera_id in chosen:
        window = reference.windows[reference.cameras[camera_id].window_id]
        name = f"{reference.center_name(window.center_id)} {window.label}"
        children.append(
            html.Div(
                id={"type": "wall-tile", "camera": camera_id},
                className="wall-tile",
                **{"data-camera": camera_id},
                children=[
                    html.Img(
                        src=f"/video/{quote(camera_id, safe='')}/snapshot.jpg",
                        className="wall-snapshot",
                        alt=shown(camera_id, LABEL),
                    ),
                    html.Span(shown(name, LABEL), className="wall-label", title=tooltip(name, LABEL)),
                    html.Span(id={"type": "wall-badge", "camera": camera_id}, className="wall-badge"),
                ],
            )
        )
    return children


def wall_block(reference, scope, lang: str, query: dict, kiosk: bool = False):
    options = camera_options(reference, scope)
    wanted = [c for c in (query.get("cameras") or "").split(",") if c] or [o["value"] for o in options[:DEFAULT_TILES]]
    return html.Div(
        className="wall",
        children=[
            html.Div(
                className="hidden" if kiosk else "wall-controls",
                children=[
                    html.Span(t("wall.cameras", lang, n=MAX_TILES)),
                    dcc.Dropdown(id="wall-cameras", options=options, value=wanted, multi=True),
                    html.P(t("wall.focus", lang)),
                ],
            ),
            html.Div(id="wall-grid", className="wall-grid", **{"data-interval": str(SNAPSHOT_SECONDS)}),
            dcc.Interval(id="wall-badge-tick", interval=BADGE_SECONDS * 1000),
        ],
    )


def badge(kind: str | None, lang: str):
    """The 空岗 badge of a tile: the alarm's name on yellow or red, or nothing."""
    if kind is None:
        return None
    level = "alarm" if kind.endswith("_long") else "warning"
    return html.Span(kind_label(kind, lang), className=f"badge badge-{level}")


def layout(reference, scope, lang: str, query: dict):
    return html.Div([html.H2(t("wall.title", lang)), wall_block(reference, scope, lang, query)])
