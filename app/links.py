"""Links to a case, built in one place, and the route converter that reads them back.

A case number is whatever an approval system wrote: spaces, quotes, ``/``,
``%``, ``#``, ``?``, any script. Every character outside the unreserved set is
percent-encoded, ``/`` included, so the number stays one path segment; the
routes accept any characters there (:class:`CaseNumberConverter`, and the
server never merges slashes). The two numbers a URL path cannot carry at all,
``.`` and ``..`` (browsers resolve them as directory steps, encoded or not),
travel in the query string instead: ``?no=..``, which the same routes accept.
"""

from __future__ import annotations

from urllib.parse import quote, unquote, urlencode

from werkzeug.routing import BaseConverter

_DOT_SEGMENTS = (".", "..")


def _segment(case_no: str) -> str:
    return quote(case_no, safe="")


def case_page(case_no: str) -> str:
    """The case page of `case_no` (/case/<number>)."""
    if case_no in _DOT_SEGMENTS:
        return "/case?" + urlencode({"no": case_no})
    return "/case/" + _segment(case_no)


def case_pdf(case_no: str) -> str:
    """The dossier PDF of `case_no` (/pdf/case/<number>.pdf)."""
    if case_no in _DOT_SEGMENTS:
        return "/pdf/case.pdf?" + urlencode({"no": case_no})
    return f"/pdf/case/{_segment(case_no)}.pdf"


def case_api(case_no: str) -> str:
    """The JSON of `case_no` (/api/cases/<number>)."""
    if case_no in _DOT_SEGMENTS:
        return "/api/cases?" + urlencode({"no": case_no})
    return "/api/cases/" + _segment(case_no)


def case_no_from_page(pathname: str, query: dict) -> str | None:
    """The case number a page address names: /case/<number> as the browser sends it (still encoded), or /case?no=."""
    if pathname.startswith("/case/") and len(pathname) > len("/case/"):
        return unquote(pathname[len("/case/") :])
    if pathname.rstrip("/") == "/case" and query.get("no"):
        return query["no"]
    return None


class CaseNumberConverter(BaseConverter):
    """A route part holding a case number: any characters, "/" too (WSGI hands the path over decoded)."""

    regex = r".+?"
    part_isolating = False
