"""What the web answers while a database is down: 503 and a line saying so, never a traceback.

A request that needs a database during an outage (app.base.outage) gets ``503
Service Unavailable`` with ``Retry-After``: JSON for the API and Dash's
callbacks (the page in the browser stays as it was and asks again at its next
poll), a small page for a browser. The outage itself is logged once, by the
engine that met it. Any other error goes on to Flask's 500 as before.
"""

from __future__ import annotations

import sqlite3

from flask import Flask, jsonify, request
from sqlalchemy import exc as sa_exc

from app.base import outage

RETRY_AFTER_SECONDS = 15
_JSON_PREFIXES = ("/api/", "/_dash-", "/video/", "/pdf/", "/evidence/", "/healthz")


def install(server: Flask) -> None:
    def database_down(error: Exception):
        if not outage.transient(error):
            raise error
        from app.i18n import current_lang, t
        from layouts.unavailable import unavailable_html

        lang = current_lang()
        if request.path.startswith(_JSON_PREFIXES):
            response = jsonify(error=t("unavailable.body", lang))
        else:
            response = server.response_class(unavailable_html(lang), mimetype="text/html")
        response.status_code = 503
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        response.headers["Cache-Control"] = "no-store"
        return response

    for error_class in _driver_errors():
        server.register_error_handler(error_class, database_down)


def _driver_errors() -> tuple[type[Exception], ...]:
    import psycopg

    return sa_exc.DBAPIError, sa_exc.TimeoutError, sqlite3.Error, psycopg.Error
