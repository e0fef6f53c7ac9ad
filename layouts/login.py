"""The log-in page: plain HTML served by Flask, so it works before Dash loads."""

from __future__ import annotations

from markupsafe import escape

from app.i18n import t


def login_html(lang: str, problem: str | None, target: str, csrf_token: str, minutes: int = 0) -> str:
    """The form; `problem` is why the last try did not log in: failed, locked, busy or expired."""
    other = "en" if lang != "en" else "zh"
    error = (
        f'<p class="login-error" id="login-error">{escape(t("login." + problem, lang, minutes=minutes))}</p>'
        if problem
        else ""
    )
    return f"""<!doctype html>
<html lang="{"en" if lang == "en" else "zh-CN"}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(t("login.title", lang))} · {escape(t("app.title", lang))}</title>
<link rel="stylesheet" href="/assets/supervise.css"></head>
<body class="login-body"><main class="login-box">
<h1>{escape(t("app.title", lang))}</h1>
<form method="post" action="/login" id="login-form">
<input type="hidden" name="next" value="{escape(target)}">
<input type="hidden" name="csrf_token" value="{escape(csrf_token)}">
<label>{escape(t("login.name", lang))}<input name="name" id="login-name" autocomplete="username" required autofocus></label>
<label>{escape(t("login.password", lang))}<input name="password" id="login-password" type="password" autocomplete="current-password" required></label>
{error}
<button type="submit" id="login-submit">{escape(t("login.submit", lang))}</button>
</form>
<p><a href="/lang/{other}?next=/login">{escape(t("nav.language", lang))}</a></p>
</main></body></html>"""
