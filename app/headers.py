"""What a browser may do with our responses: the security headers of every answer.

* **Content-Security-Policy.** Scripts only from this server, plus Dash's own
  inline scripts (the renderer's start and the clientside callbacks) by their
  sha256: no nonce is needed, as Dash's index page is the same for everyone.
  Styles need ``'unsafe-inline'``: the dropdowns and plotly insert ``<style>``
  elements at run time and offer no nonce. No ``'unsafe-eval'``: plotly's
  standard bundle evaluates code only for its WebGL traces, which we do not draw
  (``tests/web/test_browser.py`` opens every page under this policy and asserts
  no violation).
* **Framing.** No page may be framed (``frame-ancestors 'none'`` and
  ``X-Frame-Options: DENY``), except the kiosk page ``/?kiosk`` and the login
  that leads to it, by the origins in ``SUPERVISE_KIOSK_FRAME_ANCESTORS``. A
  framing portal must be on the same site: the session cookie is
  ``SameSite=Lax`` and is not sent into a cross-site frame.
* ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin`` (other
  sites never learn a case number from a URL), ``Cross-Origin-Resource-Policy:
  same-origin`` (no other site may embed an evidence still).
* **Caching.** Every answer is ``Cache-Control: private, no-store`` (pages,
  JSON, PDFs, evidence stills, video), except the static code and styles under
  :data:`STATIC_PREFIXES`, which carry no data and keep Flask's and Dash's own
  caching.
* ``Strict-Transport-Security`` once the cookie is HTTPS-only
  (``SUPERVISE_COOKIE_SECURE``), i.e. when the site is served over TLS.
"""

from __future__ import annotations

from flask import Flask, request

STATIC_PREFIXES = ("/assets/", "/_dash-component-suites/", "/_favicon.ico")


def content_security_policy(script_hashes: list[str], frame_ancestors: str) -> str:
    directives = {
        "default-src": "'self'",
        "script-src": " ".join(["'self'", *script_hashes]),
        "style-src": "'self' 'unsafe-inline'",
        "img-src": "'self' data: blob:",
        "media-src": "'self' blob:",  # live video plays through Media Source Extensions
        "font-src": "'self' data:",
        "connect-src": "'self'",
        "worker-src": "'self' blob:",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": frame_ancestors or "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def _kiosk(req) -> bool:
    """The kiosk page, or the login on the way to it."""
    if req.path == "/":
        return "kiosk" in req.args
    return req.path == "/login" and req.values.get("next", "").startswith("/?kiosk")


def install(server: Flask, dash_app, settings) -> None:
    """Add the headers to every response; call once every inline script of `dash_app` exists."""
    hashes = list(dash_app.csp_hashes())
    policy = content_security_policy(hashes, "'none'")
    framed_by = settings.kiosk_frame_ancestors
    kiosk_policy = content_security_policy(hashes, framed_by) if framed_by else policy
    tls = settings.cookie_secure

    @server.after_request
    def security_headers(response):
        headers = response.headers
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "same-origin"
        headers["Cross-Origin-Resource-Policy"] = "same-origin"
        if tls:
            headers["Strict-Transport-Security"] = "max-age=31536000"
        if framed_by and _kiosk(request):
            headers["Content-Security-Policy"] = kiosk_policy  # frame-ancestors alone: X-Frame-Options names one origin
        else:
            headers["Content-Security-Policy"] = policy
            headers["X-Frame-Options"] = "DENY"
        if not request.path.startswith(STATIC_PREFIXES):
            headers["Cache-Control"] = "private, no-store"
            headers.pop("Expires", None)
        return response
