"""The case page's wiring: the page of one case (read, audited when refused), search by number,
item, department, window or phone suffix, and taking an evidence still."""

from __future__ import annotations

from dash import Input, Output, State, no_update
from dash.exceptions import PreventUpdate
from redis import RedisError

from app.auth import actor_name, audit, current_scope, remote_addr
from app.case_view import timeline
from app.i18n import current_lang
from app.queries import cases as case_queries
from layouts import case as view

EVIDENCE_TIMEOUT = 10.0


def page(services, scope, lang: str, case_no: str):
    """/case/<case_no>: the case read within `scope`; a case it cannot see is audited and looks absent."""
    reference = services.reference.get()
    found = case_queries.case_page(services.engine, scope, case_no)
    if found is None:
        audit(
            services.engine,
            actor_name(),
            "denied",
            f"case:{case_no}",
            {"view": "case_page"},
            services.clock(),
            remote_addr(services.settings),
        )
        return view.not_found(lang, case_no)
    now, zone = services.clock(), services.zone
    spans, markers = timeline(found.case, found.events, found.clocks, lang, now, zone)
    calendar = services.calendar(found.case["center_id"])
    return view.layout(found, spans, markers, reference, scope, lang, now, zone, calendar, services.today())


def search_page(services, scope, lang: str, query: dict):
    """/case, or /case?q=TEXT: the search box, with the results of TEXT within `scope`."""
    text = (query.get("q") or "").strip()
    if not text:
        return view.search_layout(lang)
    reference = services.reference.get()
    rows = case_queries.search(services.engine, scope, text, reference)
    return view.search_layout(lang, text, view.search_results(rows, reference, lang, services.zone))


def take_evidence(services, scope, case_no: str) -> tuple[bool, str]:
    """Ask the camera worker for a still of the case's window, record it for the case, audit it."""
    import json
    from datetime import datetime
    from pathlib import Path

    from app.i18n import t
    from video import evidence as video_evidence

    lang = current_lang()
    if not scope.may_act:
        audit(
            services.engine,
            actor_name(),
            "denied",
            f"case:{case_no}",
            {"action": "take_evidence", "reason": "role"},
            services.clock(),
            remote_addr(services.settings),
        )
        return False, t("role.view_only", lang)
    reference = services.reference.get()
    case_row = case_queries.case(services.engine, scope, case_no)
    cameras = [c for c in reference.cameras_of_window(case_row["window_id"]) if c.enabled] if case_row else []
    who, now = actor_name(), services.clock()
    if not cameras or not scope.allows_camera(reference, cameras[0].camera_id):
        audit(
            services.engine,
            who,
            "denied",
            f"case:{case_no}",
            {"action": "take_evidence"},
            now,
            remote_addr(services.settings),
        )
        return False, t("page.forbidden", lang)
    camera = cameras[0]
    try:
        answer = video_evidence.request(services.redis, camera.camera_id, who, timeout=EVIDENCE_TIMEOUT)
    except RedisError:  # camera workers are asked through Redis
        return False, t("case.evidence_failed", lang, reason=t("case.evidence_no_worker", lang))
    if answer is None:
        return False, t("case.evidence_failed", lang, reason=t("case.evidence_no_worker", lang))
    if not answer.ok or not answer.metadata_path:
        return False, t("case.evidence_failed", lang, reason=answer.error or "?")
    sidecar = Path(answer.metadata_path)
    metadata = json.loads(sidecar.read_text(encoding="utf-8"))
    root = services.settings.var_dir.resolve()

    def relative(name: str) -> str:
        path = (sidecar.parent / name).resolve()
        return str(path.relative_to(root)) if root in path.parents else str(path)

    evidence_id = case_queries.add_evidence(
        services.engine,
        {
            "camera_id": camera.camera_id,
            "window_id": camera.window_id,
            "case_no": case_no,
            "captured_at": now,
            "frame_at": datetime.fromisoformat(metadata["frame_at"]) if metadata.get("frame_at") else None,
            "path": relative(metadata["still"]["file"]),
            "frames": [relative(k["file"]) for k in metadata.get("keyframes", []) if k.get("file")],
            "requested_by": who,
        },
    )
    audit(
        services.engine,
        who,
        "take_evidence",
        f"case:{case_no}",
        {"camera_id": camera.camera_id, "evidence_id": evidence_id},
        now,
        remote_addr(services.settings),
    )
    return True, t("case.evidence_taken", lang, at=now.astimezone(services.zone).strftime("%H:%M:%S"))


def register(app, services) -> None:
    @app.callback(
        Output("case-evidence-result", "children"),
        Output("case-evidence-block", "children"),
        Input("case-take-evidence", "n_clicks"),
        State("case-no", "data"),
        prevent_initial_call=True,
    )
    def evidence(_clicks, case_no):
        scope = current_scope(services)
        done, message = take_evidence(services, scope, str(case_no or ""))
        if not done:
            return message, no_update
        stills = case_queries.case_evidence(services.engine, scope, case_no)
        return message, view.evidence_block(stills, current_lang(), services.zone)

    @app.callback(
        Output("case-search-results", "children"),
        Input("case-search-button", "n_clicks"),
        Input("case-search-input", "n_submit"),
        State("case-search-input", "value"),
        prevent_initial_call=True,
    )
    def search(_clicks, _submit, text):
        scope = current_scope(services)
        if not (text or "").strip():
            raise PreventUpdate
        reference = services.reference.get()
        rows = case_queries.search(services.engine, scope, text, reference)
        return view.search_results(rows, reference, current_lang(), services.zone)
