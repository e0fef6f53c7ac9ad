"""Reading a satisfaction score (满意度评分) out of what an applicant typed.

People answer "reply with a number from 0 to 100" with ``85``, ``８５``,
``85分``, ``八十五``, ``满分``, ``一百分满意``, ``零``, ``打90分，谢谢`` … A reply
is a score only when it holds exactly one number from 0 to 100 and nothing
else but polite or evaluative words (分, 满意, 谢谢, 好评 …). Anything else is
unreadable: ``等了85分钟`` is not 85, ``十分满意`` is "very satisfied", not 10,
``一般`` is not 1. An unreadable reply is never a score; the applicant is asked
once, politely, for a number.

Pure: no I/O, never raises.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_SCORE = 100
MAX_LENGTH = 200  # an SMS reply longer than this is a letter, not a score

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "壹": 1,
    "二": 2,
    "贰": 2,
    "两": 2,
    "三": 3,
    "叁": 3,
    "四": 4,
    "肆": 4,
    "五": 5,
    "伍": 5,
    "六": 6,
    "陆": 6,
    "七": 7,
    "柒": 7,
    "八": 8,
    "捌": 8,
    "九": 9,
    "玖": 9,
}
_CN_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100}
_CN = "[" + "".join(_CN_DIGITS) + "".join(_CN_UNITS) + "]"

# Words that contain a numeral but are not numbers. 十分 before a word is the adverb "very".
_ADVERB_VERY = re.compile(rf"(?<!{_CN})(?<!\d)十分(?=[\W_]*[^\W\d_])")
_NUMERAL_WORDS = re.compile("一般|一点|一下|一直|一切|一起|一样|一流|一些|一次|统一|万分|一定|唯一|专一|第一")

# One numeric token: a percentage, 满分, Arabic digits, or a run of Chinese numerals.
_TOKEN = re.compile(
    rf"百分之(?P<pct_cn>{_CN}+)|百分之(?P<pct_num>\d+(?:\.\d+)?)|(?P<hundred_pct>百分百)"
    rf"|(?P<num_pct>\d+(?:\.\d+)?)%|(?P<full>满分)|(?P<num>\d+(?:\.\d+)?)|(?P<cn>{_CN}+)"
)
_OUT_OF = re.compile(r"(\d{1,3})/100(?!\d)")

# What may surround the number: units, politeness, praise and complaint. Longest first.
_FILLERS = sorted(
    {
        "分",
        "分数",
        "得分",
        "评分",
        "打分",
        "打",
        "给",
        "评",
        "评价",
        "我",
        "我给",
        "我打",
        "给你们",
        "你们",
        "您",
        "您们",
        "满意",
        "非常满意",
        "很满意",
        "比较满意",
        "基本满意",
        "不满意",
        "很不满意",
        "非常不满意",
        "挺满意",
        "特别满意",
        "非常",
        "很",
        "特别",
        "比较",
        "基本",
        "挺",
        "还",
        "都",
        "蛮",
        "谢谢",
        "感谢",
        "多谢",
        "谢了",
        "谢谢你们",
        "谢谢您",
        "辛苦了",
        "辛苦",
        "你好",
        "您好",
        "好评",
        "差评",
        "点赞",
        "赞",
        "棒",
        "不错",
        "很好",
        "好",
        "差",
        "服务",
        "态度",
        "工作人员",
        "窗口",
        "的",
        "了",
        "吧",
        "啦",
        "哦",
        "呀",
        "啊",
        "嗯",
        "哈",
        "呢",
        "是",
        "就",
        "可以",
        "为",
        "个",
        "吗",
        "回复",
        "ok",
    },
    key=len,
    reverse=True,
)
_FILLER = re.compile("|".join(map(re.escape, _FILLERS)))


@dataclass(frozen=True, slots=True)
class Reading:
    """What a reply says: `score` 0–100, or None with `problem` saying why it is unreadable."""

    score: int | None
    problem: str | None = None

    @property
    def readable(self) -> bool:
        return self.score is not None


def parse_score(text: object) -> int | None:
    """The score 0–100 in a reply, or None when it is not clearly one number in that range."""
    return read_score(text).score


def read_score(text: object) -> Reading:
    """Read a reply; an unreadable one comes back with the reason, in plain words."""
    try:
        return _read(text)
    except Exception:
        return Reading(None, "unreadable")


def _read(text: object) -> Reading:
    if not isinstance(text, str):
        return Reading(None, "not text")
    compact = "".join(ch for ch in unicodedata.normalize("NFKC", text) if not ch.isspace()).lower()
    if not compact:
        return Reading(None, "empty")
    if len(compact) > MAX_LENGTH:
        return Reading(None, "too long")
    compact = _OUT_OF.sub(r"\1", compact)
    compact = _ADVERB_VERY.sub("", compact)
    compact = _NUMERAL_WORDS.sub("□", compact)
    values: set[int] = set()
    problems: list[str] = []
    rest: list[str] = []
    position = 0
    for match in _TOKEN.finditer(compact):
        rest.append(compact[position : match.start()])
        position = match.end()
        value, problem = _value(match)
        if problem:
            problems.append(problem)
        else:
            values.add(value)
        if _negative(compact, match.start()):
            problems.append("negative number")
    rest.append(compact[position:])
    if not values and not problems:
        return Reading(None, "no number")
    if problems:
        return Reading(None, problems[0])
    if len(values) > 1:
        return Reading(None, "several numbers")
    leftover = _FILLER.sub("", "".join(rest))
    if any(not _is_mark(ch) for ch in leftover):
        return Reading(None, "words besides the number")
    return Reading(values.pop())


def _negative(text: str, start: int) -> bool:
    return start > 0 and text[start - 1] in "-−"


def _is_mark(ch: str) -> bool:
    """Punctuation, symbols and emoji: they carry no words."""
    return unicodedata.category(ch)[0] in "PSZC" and ch != "□"


def _value(match: re.Match) -> tuple[int | None, str | None]:
    kind = match.lastgroup
    raw = match.group(kind)
    if kind in ("full", "hundred_pct"):
        return MAX_SCORE, None
    if kind in ("cn", "pct_cn"):
        value = _chinese(raw)
        if value is None:
            return None, "not a number"
    else:
        value = _arabic(raw)
        if value is None:
            return None, "not a whole number"
    if value > MAX_SCORE:
        return None, "out of range"
    return value, None


def _arabic(raw: str) -> int | None:
    whole, _, fraction = raw.partition(".")
    return None if fraction.strip("0") else int(whole)


def _chinese(run: str) -> int | None:
    """八十五 → 85, 一百 → 100, 十五 → 15, 一百零五 → 105, 八五 → 85, 一零零 → 100; None if malformed."""
    if not any(ch in _CN_UNITS for ch in run):
        if len(run) > 3:
            return None
        return int("".join(str(_CN_DIGITS[ch]) for ch in run))
    total, digit, last_unit, zero_seen = 0, None, None, False
    for ch in run:
        if ch in _CN_DIGITS:
            value = _CN_DIGITS[ch]
            if value == 0:
                if digit is not None or zero_seen or last_unit is None:
                    return None
                zero_seen = True
                continue
            if digit is not None:
                return None
            digit = value
        else:
            unit = _CN_UNITS[ch]
            if (last_unit is not None and unit >= last_unit) or zero_seen:
                return None
            total += (1 if digit is None else digit) * unit
            digit, last_unit = None, unit
    if digit is not None:
        total += digit
    return total
