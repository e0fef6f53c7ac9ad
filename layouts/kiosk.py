"""Kiosk mode for the wall screen (``/?kiosk``): dark, no chrome, rotating views.

``?kiosk&views=board,overview,wall&seconds=20`` chooses the views and how long
each stays. The board keeps polling while hidden, so a new red alarm still
sounds and flashes, and the rotation jumps back to the board when one comes.
"""

from __future__ import annotations

from dash import dcc, html

from layouts import control_room, overview, wall

VIEWS = ("board", "overview", "wall")


def layout(reference, scope, lang: str, query: dict):
    views = [v for v in (query.get("views") or ",".join(VIEWS)).split(",") if v in VIEWS] or list(VIEWS)
    seconds = str(query.get("seconds") or "20")
    # Between 5 s and an hour: a browser runs a longer interval at once, over and over.
    seconds = min(max(5, int(seconds)), 3600) if seconds.isascii() and seconds.isdigit() else 20
    blocks = {
        "board": control_room.board_block(lang, query, reference, scope, kiosk=True),
        "overview": overview.overview_block(lang, dark=True),
        "wall": wall.wall_block(reference, scope, lang, query, kiosk=True),
    }
    # Every block is present (their callbacks need their ids); only the chosen ones rotate.
    return html.Div(
        id="kiosk",
        className="kiosk-page",
        children=[
            dcc.Store(id="kiosk-views", data=views),
            dcc.Interval(id="kiosk-rotate", interval=seconds * 1000),
            *[
                html.Div(
                    blocks[name],
                    id=f"kiosk-view-{name}",
                    className="kiosk-view" + (" active" if name == views[0] else ""),
                )
                for name in VIEWS
            ],
        ],
    )
