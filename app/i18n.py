"""Words the user reads: zh-CN first, English on request, from one catalogue.

Every user-facing string lives in :mod:`app.catalogue`; code asks for it by key
with :func:`t`. The language is the ``lang`` cookie (set by ``/lang/<code>``),
Chinese when absent. Alarm kind labels come from ``rules.alarms.KINDS`` when the
rules package provides them, so the domain names its own alarms once.
"""

from __future__ import annotations

from app.catalogue import STRINGS

LANGUAGES = ("zh", "en")
DEFAULT = "zh"
COOKIE = "lang"


def t(key: str, lang: str = DEFAULT, **values) -> str:
    """The text for `key` in `lang`, with ``{name}`` fields filled from `values`."""
    entry = STRINGS.get(key)
    if entry is None:
        text = key  # a missing key shows itself instead of crashing a page; a test checks none is missing
    else:
        text = entry[1] if lang == "en" else entry[0]
    return text.format(**values) if values else text


def current_lang() -> str:
    """The language of the request being served (cookie), Chinese outside a request."""
    from flask import has_request_context, request

    if not has_request_context():
        return DEFAULT
    lang = request.cookies.get(COOKIE, DEFAULT)
    return lang if lang in LANGUAGES else DEFAULT


def subject_label(kind: str, subject: str | None, lang: str = DEFAULT) -> str:
    """An alarm's subject as a person reads it: a procedure anomaly's reason code in words,
    anything else (a step id, a date) as it is."""
    if kind == "procedure_anomaly" and subject and f"reason.{subject}" in STRINGS:
        return t(f"reason.{subject}", lang)
    return subject or ""


def actor_label(actor: str | None, lang: str = DEFAULT) -> str:
    """Who took an action on an alarm: 'system' (the ingest) in words, an officer by name."""
    return t("actor.system", lang) if actor == "system" else actor or ""


def kind_label(kind: str, lang: str = DEFAULT) -> str:
    """The name of an alarm kind, from the rules' KINDS table when it exists."""
    try:
        from rules.alarms import KINDS  # the rules package owns the names of its alarms
    except ImportError:
        KINDS = {}
    entry = KINDS.get(kind) if isinstance(KINDS, dict) else None
    if entry is not None:
        for attr in ("label_en", "en") if lang == "en" else ("label_zh", "zh"):
            value = getattr(entry, attr, None) or (entry.get(attr) if isinstance(entry, dict) else None)
            if value:
                return value
    return t(f"kind.{kind}", lang) if f"kind.{kind}" in STRINGS else kind


def level_label(level: str, lang: str = DEFAULT) -> str:
    return t(f"level.{level}", lang)


def state_label(state: str, lang: str = DEFAULT) -> str:
    return t(f"state.{state}", lang)


def action_note(action: dict, alarm: dict, lang: str) -> str:
    """The note of an action; the system's escalation has none, so it says how long the alarm was left."""
    if action["action"] == "escalated" and not action["note"]:
        minutes = round((action["at"] - alarm["fired_at"]).total_seconds() / 60)
        return t("cr.escalated", lang, minutes=minutes)
    return action["note"]
