"""The page a request gets while a database is down: plain HTML served by Flask, no Dash."""

from __future__ import annotations

from markupsafe import escape

from app.i18n import t


def unavailable_html(lang: str) -> str:
    return f"""<!doctype html>
<html lang="{"en" if lang == "en" else "zh-CN"}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="15">
<title>{escape(t("unavailable.title", lang))} · {escape(t("app.title", lang))}</title>
<link rel="stylesheet" href="/assets/supervise.css"></head>
<body class="login-body"><main class="login-box" id="unavailable">
<h1>{escape(t("app.title", lang))}</h1>
<p>{escape(t("unavailable.body", lang))}</p>
</main></body></html>"""
