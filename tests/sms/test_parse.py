"""The reply parser: what people actually type, and fuzzing (no input raises, no non-number scores)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.sms import parse
from app.sms.parse import parse_score, read_score

READABLE = [
    ("85", 85),
    ("８５", 85),  # full-width digits from a Chinese input method
    ("85分", 85),
    (" 85 ", 85),
    ("85 分", 85),
    ("八十五", 85),
    ("八十五分", 85),
    ("八五", 85),  # digit by digit, as read aloud
    ("满分", 100),
    ("一百", 100),
    ("一百分", 100),
    ("一零零", 100),
    ("壹佰", 100),  # financial numerals
    ("零", 0),
    ("〇", 0),
    ("0", 0),
    ("零分", 0),
    ("0分，不满意", 0),
    ("100分满意", 100),
    ("100分，非常满意！", 100),
    ("非常满意，100", 100),
    ("打90分，谢谢", 90),
    ("我给95分", 95),
    ("给你们打一百分", 100),
    ("60", 60),
    ("十", 10),
    ("十分", 10),  # alone, as an answer to "0–100", it is ten points
    ("十五", 15),
    ("九十九", 99),
    ("八十分十分满意", 80),  # the second 十分 is "very"
    ("百分之九十", 90),
    ("百分百满意", 100),
    ("90%", 90),
    ("85/100", 85),
    ("85.0", 85),
    ("满分100分", 100),  # the same number twice
    ("😀100👍", 100),
    ("100！！！", 100),
    ("好评 98", 98),
    ("OK 90", 90),
    ("٨٥", 85),  # Arabic-Indic digits are still digits
]

UNREADABLE = [
    ("", "empty"),
    ("   ", "empty"),
    ("满意", "no number"),
    ("很好，谢谢", "no number"),
    ("十分满意", "no number"),  # "very satisfied", not 10
    ("十分，满意", "no number"),
    ("一般", "no number"),  # a word, not 1
    ("60分一般", "words besides the number"),
    ("等了85分钟", "words besides the number"),  # minutes, not a score
    ("85天才办好", "words besides the number"),
    ("101", "out of range"),
    ("120分", "out of range"),
    ("一百零五", "out of range"),
    ("2025年", "out of range"),
    ("13812341234", "out of range"),  # a phone number
    ("-5", "negative number"),
    ("85.5", "not a whole number"),
    ("80-90", "negative number"),
    ("满分10分", "several numbers"),
    ("80分或90分", "several numbers"),
    ("五星", "words besides the number"),
    ("八十十", "not a number"),
    ("好" * 300, "too long"),
]


@pytest.mark.parametrize("text,score", READABLE)
def test_readable_replies(text, score):
    assert parse_score(text) == score
    assert read_score(text).problem is None


@pytest.mark.parametrize("text,problem", UNREADABLE)
def test_unreadable_replies_are_never_scores(text, problem):
    reading = read_score(text)
    assert reading.score is None
    assert reading.problem == problem


@pytest.mark.parametrize("value", [None, 85, 85.0, b"85", ["85"], {"text": "85"}])
def test_non_text_is_not_a_score(value):
    assert parse_score(value) is None


@pytest.mark.parametrize("n", range(0, 101))
def test_every_score_in_arabic_and_chinese(n):
    assert parse_score(str(n)) == n
    assert parse_score(f"{n}分") == n
    assert parse_score(_chinese(n)) == n
    assert parse_score(unicodedata.normalize("NFKC", str(n)).translate(_FULL_WIDTH)) == n


_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _chinese(n: int) -> str:
    digits = "零一二三四五六七八九"
    if n == 100:
        return "一百"
    if n < 10:
        return digits[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else digits[tens]) + "十" + (digits[ones] if ones else "")


NUMERAL_CHARS = set("0123456789零〇一二两三四五六七八九十百壹贰叁肆伍陆柒捌玖拾佰满")


def _has_numeral(text: str) -> bool:
    normal = unicodedata.normalize("NFKC", text)
    return any(ch.isdigit() or ch in NUMERAL_CHARS for ch in normal)


@settings(max_examples=3000, deadline=None)
@given(st.text())
def test_fuzz_never_raises_and_scores_only_numbers(text):
    reading = parse._read(text)  # the bare parser, not the safety net around it
    assert reading.score is None or 0 <= reading.score <= 100
    assert (reading.score is None) == (reading.problem is not None)
    if not _has_numeral(text):
        assert reading.score is None


FILLER = st.sampled_from(["", " ", "分", "满意", "谢谢", "，", "！", "非常满意", "我给", "打", "😀"])


@settings(max_examples=1000, deadline=None)
@given(st.integers(0, 100), FILLER, FILLER, st.booleans())
def test_fuzz_a_number_among_polite_words_is_read(n, before, after, chinese):
    number = _chinese(n) if chinese else str(n)
    assert parse_score(before + number + after) == n


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=st.characters().filter(lambda ch: not _has_numeral(ch)), max_size=60), st.integers(0, 100))
def test_fuzz_words_around_a_number_never_change_it(words, n):
    reading = read_score(words + str(n))
    assert reading.score in (None, n)
