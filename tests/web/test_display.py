"""app/base/display.py and app/links.py: how upstream text is capped and neutralised, and how a case number
travels in a URL. The pages, PDFs and commands that use them are tested in test_hostile_text.py."""

from __future__ import annotations

import json

import pytest

from app.base.display import (
    CELL,
    ELLIPSIS,
    LABEL,
    TOOLTIP,
    Cap,
    in_file_name,
    in_plotly,
    in_reportlab,
    json_safe,
    neutral,
    option,
    shown,
    tooltip,
)

RLO = "\u202e"

NEUTRAL = [
    # every bidirectional control the issue names, each made visible
    *[
        (f"A{chr(c)}B", f"A[U+{c:04X}]B")
        for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)
    ],
    ("4501-\u202eMZ-0909", "4501-[U+202E]MZ-0909"),  # the case number read backwards on the board
    ("a\u200bb\ufeffc\u00add", "a[U+200B]b[U+FEFF]c[U+00AD]d"),  # zero-width space, BOM, soft hyphen: invisible
    ("x\x00y\x1bz\x7f", "x[U+0000]y[U+001B]z[U+007F]"),  # controls, an ANSI escape among them
    ("a\nb\tc\r\nd\u2028e", "a b c  d e"),  # line breaks read as spaces: a label is one line
    ("\U000e0041\U000e0042", "[U+E0041][U+E0042]"),  # tag characters carry invisible ASCII
    ("\ud800", "[U+D800]"),  # a lone surrogate cannot even be encoded as UTF-8
    ("\u3164\u115f", "[U+3164][U+115F]"),  # Hangul fillers: letters that draw nothing
    ("张\ue000", "张\ue000"),  # private use: a rare character of a name, as legacy GBK systems wrote it
    ("کتاب\u200cها", "کتاب\u200cها"),  # ZWNJ shapes Persian: kept
    ("👨\u200d👩\u200d👧", "👨\u200d👩\u200d👧"),  # ZWJ joins an emoji family: kept
    ("兴宁区政务服务中心", "兴宁区政务服务中心"),
    ("אבג-123", "אבג-123"),  # right-to-left letters are letters: isolated by the page, not escaped
]


@pytest.mark.parametrize("text, expected", NEUTRAL, ids=range(len(NEUTRAL)))
def test_neutral_makes_invisible_and_direction_changing_characters_visible(text, expected):
    assert neutral(text) == expected


CAPS = [
    ("民政局", LABEL, "民政局"),
    ("a" * 48, LABEL, "a" * 48),  # exactly the width: whole
    ("a" * 49, LABEL, "a" * 47 + ELLIPSIS),  # one more: cut, with room for the ellipsis
    ("中" * 24, LABEL, "中" * 24),  # a CJK character takes two columns
    ("中" * 25, LABEL, "中" * 23 + ELLIPSIS),
    ("e\u0301" * 30, LABEL, "e\u0301" * 30),  # accents take no width...
    ("e\u0301" * 40, LABEL, "e\u0301" * 31 + ELLIPSIS),  # ...but count as characters, never split from their letter
    ("x" + "\u0301" * 10_000, LABEL, ELLIPSIS),  # one letter stacked with 10,000 accents
    (RLO * 100, LABEL, "[U+202E]" * 5 + "[U+202E" + ELLIPSIS),  # escapes count as what they show
    (None, CELL, ""),
    (12, CELL, "12"),
]


@pytest.mark.parametrize("text, cap, expected", CAPS, ids=range(len(CAPS)))
def test_shown_caps_by_display_width_and_characters(text, cap, expected):
    assert shown(text, cap) == expected


def test_caps_hold_for_100_kb_of_anything():
    text = "超长部门Approval-Office\u202e\u0301" * 10_000
    for cap in (LABEL, CELL, TOOLTIP, Cap(5, 5)):
        capped = shown(text, cap)
        assert capped.endswith(ELLIPSIS) and len(capped) <= cap.chars and RLO not in capped
    assert tooltip(text, CELL) == shown(text, TOOLTIP)
    assert tooltip("民政局", CELL) is None  # nothing cut: no hover needed


def test_markup_escapes_for_plotly_and_reportlab():
    link = '<a href="https://evil.example/">点此</a>&amp;'
    assert in_plotly(link, CELL) == '&lt;a href="https://evil.example/"&gt;点此&lt;/a&gt;&amp;amp;'
    assert in_reportlab(link, CELL) == in_plotly(link, CELL)
    assert in_plotly("民政局" * 40, LABEL).endswith(ELLIPSIS)


def test_file_names_lose_separators_and_controls():
    assert in_file_name('办件档案-4501/MZ\\0903?"\u202e.pdf') == "办件档案-4501_MZ_0903__[U+202E].pdf"


def test_json_safe_reads_back_whole():
    value = {"name": "<script>x</script>&\u202e\U000e0041\x01中文", "n": 1}
    text = json_safe(value)
    assert json.loads(text) == value
    assert not any(c in text for c in "<>&\u202e\U000e0041\x01") and "中文" in text


def test_options_cap_labels_and_leave_out_ids_too_long_to_index():
    long_name = "民政局" * 1000
    choice = option("D1", long_name)
    assert choice["label"] == shown(long_name, LABEL) and choice["title"] == shown(long_name, TOOLTIP)
    assert option("D2", "民政局") == {"label": "民政局", "value": "D2"}
    assert option("D" * 257, "民政局") is None


# --- links --------------------------------------------------------------------------------------

CASE_NOS = [
    "4501 MZ 0901",
    "4501'MZ\"0902",
    "4501/MZ/0903",
    "/4501//MZ/0904/",
    "4501%MZ%250905",
    "4501#MZ0906",
    "4501?MZ=0907&x=1",
    "南宁-民政-0908",
    "4501-\u202eMZ-0909",
    "4501-אבג-0910",
    "..",
    ".",
    "x.pdf",
]


@pytest.fixture(scope="module")
def echo_routes():
    """The case routes of app/web.py, answering with the case number they read."""
    from flask import Flask, request

    from app.links import CaseNumberConverter

    server = Flask(__name__)
    server.url_map.merge_slashes = False
    server.url_map.converters["case_no"] = CaseNumberConverter

    @server.route("/api/cases")
    @server.route("/api/cases/<case_no:case_no>")
    @server.route("/pdf/case.pdf")
    @server.route("/pdf/case/<case_no:case_no>.pdf")
    def echo(case_no=None):
        return case_no if case_no is not None else request.args["no"]

    return server.test_client()


@pytest.mark.parametrize("case_no", CASE_NOS)
def test_case_links_round_trip(case_no, echo_routes):
    from urllib.parse import parse_qsl, urlsplit

    from app import links

    for link in (links.case_api(case_no), links.case_pdf(case_no), links.case_page(case_no)):
        assert link.isascii() and "#" not in link and "/." not in link  # nothing a browser would cut or resolve
    for link in (links.case_api(case_no), links.case_pdf(case_no)):
        assert echo_routes.get(link).get_data(as_text=True) == case_no
    page = urlsplit(links.case_page(case_no))
    assert links.case_no_from_page(page.path, dict(parse_qsl(page.query))) == case_no
