"""People of the simulated region: staff names and applicants' mobile numbers.

Names are drawn with Guangxi's surname mix (Zhuang surnames 韦, 覃, 蒙, 莫,
陆, 农, 蓝 are common there); numbers use real mainland mobile prefixes.
"""

from __future__ import annotations

import random
from itertools import accumulate

# (surname, relative frequency in Guangxi, roughly)
_SURNAMES = (
    ("黄", 90),
    ("韦", 60),
    ("李", 55),
    ("陈", 45),
    ("梁", 40),
    ("覃", 35),
    ("莫", 28),
    ("刘", 28),
    ("张", 25),
    ("杨", 22),
    ("蒙", 18),
    ("卢", 18),
    ("陆", 16),
    ("农", 12),
    ("廖", 15),
    ("周", 14),
    ("林", 14),
    ("罗", 15),
    ("何", 13),
    ("王", 14),
    ("吴", 12),
    ("谢", 10),
    ("蓝", 9),
    ("潘", 10),
    ("唐", 10),
    ("邓", 11),
    ("苏", 8),
    ("冯", 7),
    ("欧", 6),
    ("钟", 8),
    ("曾", 7),
    ("赵", 7),
    ("胡", 6),
    ("徐", 6),
    ("蒋", 5),
    ("宁", 4),
    ("甘", 4),
    ("石", 5),
    ("马", 4),
    ("秦", 3),
    ("文", 4),
    ("范", 4),
    ("方", 3),
    ("凌", 3),
    ("龙", 4),
    ("滕", 2),
    ("岑", 3),
    ("玉", 2),
)
_SURNAME_NAMES = tuple(s for s, _ in _SURNAMES)
_SURNAME_CUM = tuple(accumulate(w for _, w in _SURNAMES))
_GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玲红丹萍鹏宇浩凯婷雪琳晶慧斌俊峰波辉宁"
    "海燕文志春梅兰建国庆荣海珍莉颖蕾璐欣怡子涵思雨晨阳嘉豪家宝锋坤琪瑶雯晓东立新永福光"
)
_MOBILE_PREFIXES = (
    "130",
    "131",
    "132",
    "133",
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "147",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "173",
    "175",
    "176",
    "177",
    "178",
    "180",
    "181",
    "182",
    "183",
    "184",
    "185",
    "186",
    "187",
    "188",
    "189",
    "191",
    "198",
    "199",
)


def person_name(rng: random.Random) -> str:
    """A plausible Chinese name: a surname and one or two given-name characters."""
    surname = rng.choices(_SURNAME_NAMES, cum_weights=_SURNAME_CUM)[0]
    given = rng.choice(_GIVEN) if rng.random() < 0.3 else rng.choice(_GIVEN) + rng.choice(_GIVEN)
    return surname + given


def mobile_number(rng: random.Random) -> str:
    """An 11-digit mainland mobile number."""
    return rng.choice(_MOBILE_PREFIXES) + f"{rng.randrange(100_000_000):08d}"


def miswritten_phone(rng: random.Random) -> str:
    """A number as clerks sometimes type it: spaced, a digit short, a landline."""
    number = mobile_number(rng)
    return rng.choice(
        (
            f"{number[:3]} {number[3:7]} {number[7:]}",
            number[:-1],
            f"0771-{rng.randrange(10_000_000):07d}",
            "+86" + number,
        )
    )
