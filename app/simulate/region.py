"""The simulated region's reference data: Guangxi's service centers and who works in them.

127 centers on three levels: the region's own center, its 14 cities, and 112
county-level centers (the 111 real districts, counties and county-level cities
of Guangxi, plus one development zone). Departments, windows, staff, cameras
and implementing items follow from the seed, so the same seed always builds
the same region.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import accumulate

from app.simulate.catalogue import CATALOGUE, ItemSpec
from app.simulate.people import person_name

REGION, CITY, COUNTY = "region", "city", "county"
_LEVEL_LETTER = {REGION: "R", CITY: "C", COUNTY: "X"}
LEVEL_ABOVE = {COUNTY: CITY, CITY: REGION}

REGION_CODE, REGION_NAME = "450000", "广西壮族自治区"

# city area code, city name, windows in its center, then its county-level areas (code, name)
CITIES: tuple[tuple[str, str, int, tuple[tuple[str, str], ...]], ...] = (
    (
        "450100",
        "南宁市",
        240,
        (
            ("450102", "兴宁区"),
            ("450103", "青秀区"),
            ("450105", "江南区"),
            ("450107", "西乡塘区"),
            ("450108", "良庆区"),
            ("450109", "邕宁区"),
            ("450110", "武鸣区"),
            ("450123", "隆安县"),
            ("450124", "马山县"),
            ("450125", "上林县"),
            ("450126", "宾阳县"),
            ("450181", "横州市"),
            # not a county: the development zone runs its own center (its code is the statistical one)
            ("450171", "南宁经济技术开发区"),
        ),
    ),
    (
        "450200",
        "柳州市",
        170,
        (
            ("450202", "城中区"),
            ("450203", "鱼峰区"),
            ("450204", "柳南区"),
            ("450205", "柳北区"),
            ("450206", "柳江区"),
            ("450222", "柳城县"),
            ("450223", "鹿寨县"),
            ("450224", "融安县"),
            ("450225", "融水苗族自治县"),
            ("450226", "三江侗族自治县"),
        ),
    ),
    (
        "450300",
        "桂林市",
        170,
        (
            ("450302", "秀峰区"),
            ("450303", "叠彩区"),
            ("450304", "象山区"),
            ("450305", "七星区"),
            ("450311", "雁山区"),
            ("450312", "临桂区"),
            ("450321", "阳朔县"),
            ("450323", "灵川县"),
            ("450324", "全州县"),
            ("450325", "兴安县"),
            ("450326", "永福县"),
            ("450327", "灌阳县"),
            ("450328", "龙胜各族自治县"),
            ("450329", "资源县"),
            ("450330", "平乐县"),
            ("450332", "恭城瑶族自治县"),
            ("450381", "荔浦市"),
        ),
    ),
    (
        "450400",
        "梧州市",
        110,
        (
            ("450403", "万秀区"),
            ("450405", "长洲区"),
            ("450406", "龙圩区"),
            ("450421", "苍梧县"),
            ("450422", "藤县"),
            ("450423", "蒙山县"),
            ("450481", "岑溪市"),
        ),
    ),
    (
        "450500",
        "北海市",
        100,
        (
            ("450502", "海城区"),
            ("450503", "银海区"),
            ("450512", "铁山港区"),
            ("450521", "合浦县"),
        ),
    ),
    (
        "450600",
        "防城港市",
        80,
        (
            ("450602", "港口区"),
            ("450603", "防城区"),
            ("450621", "上思县"),
            ("450681", "东兴市"),
        ),
    ),
    (
        "450700",
        "钦州市",
        110,
        (
            ("450702", "钦南区"),
            ("450703", "钦北区"),
            ("450721", "灵山县"),
            ("450722", "浦北县"),
        ),
    ),
    (
        "450800",
        "贵港市",
        120,
        (
            ("450802", "港北区"),
            ("450803", "港南区"),
            ("450804", "覃塘区"),
            ("450821", "平南县"),
            ("450881", "桂平市"),
        ),
    ),
    (
        "450900",
        "玉林市",
        140,
        (
            ("450902", "玉州区"),
            ("450903", "福绵区"),
            ("450921", "容县"),
            ("450922", "陆川县"),
            ("450923", "博白县"),
            ("450924", "兴业县"),
            ("450981", "北流市"),
        ),
    ),
    (
        "451000",
        "百色市",
        120,
        (
            ("451002", "右江区"),
            ("451003", "田阳区"),
            ("451022", "田东县"),
            ("451024", "德保县"),
            ("451026", "那坡县"),
            ("451027", "凌云县"),
            ("451028", "乐业县"),
            ("451029", "田林县"),
            ("451030", "西林县"),
            ("451031", "隆林各族自治县"),
            ("451081", "靖西市"),
            ("451082", "平果市"),
        ),
    ),
    (
        "451100",
        "贺州市",
        90,
        (
            ("451102", "八步区"),
            ("451103", "平桂区"),
            ("451121", "昭平县"),
            ("451122", "钟山县"),
            ("451123", "富川瑶族自治县"),
        ),
    ),
    (
        "451200",
        "河池市",
        110,
        (
            ("451202", "金城江区"),
            ("451203", "宜州区"),
            ("451221", "南丹县"),
            ("451222", "天峨县"),
            ("451223", "凤山县"),
            ("451224", "东兰县"),
            ("451225", "罗城仫佬族自治县"),
            ("451226", "环江毛南族自治县"),
            ("451227", "巴马瑶族自治县"),
            ("451228", "都安瑶族自治县"),
            ("451229", "大化瑶族自治县"),
        ),
    ),
    (
        "451300",
        "来宾市",
        90,
        (
            ("451302", "兴宾区"),
            ("451321", "忻城县"),
            ("451322", "象州县"),
            ("451323", "武宣县"),
            ("451324", "金秀瑶族自治县"),
            ("451381", "合山市"),
        ),
    ),
    (
        "451400",
        "崇左市",
        90,
        (
            ("451402", "江州区"),
            ("451421", "扶绥县"),
            ("451422", "宁明县"),
            ("451423", "龙州县"),
            ("451424", "大新县"),
            ("451425", "天等县"),
            ("451481", "凭祥市"),
        ),
    ),
)
REGION_WINDOWS = 300
COUNTY_WINDOWS = (24, 47)  # uniform range


@dataclass(frozen=True, slots=True)
class DepartmentType:
    """A kind of department, named as it is at each level; `system` says who pushes its data."""

    code: str
    names: tuple[str, str, str]  # region, city, county; {place} = '南宁市' / '兴宁区', {full} = '南宁市兴宁区'
    window_weight: float
    system: str = (
        "platform"  # 'platform' (the region's 一体化平台), 'city' (own system per city), 'region' (one for all)
    )


def _dt(code, region, local, weight, system="platform", county=None) -> DepartmentType:
    return DepartmentType(code, (region, local, county or local), weight, system)


DEPARTMENT_TYPES: tuple[DepartmentType, ...] = (
    _dt("GA", "自治区公安厅", "{place}公安局", 10, "city"),
    _dt("BDC", "自治区不动产登记中心", "{place}不动产登记中心", 8, "city"),
    _dt("SW", "国家税务总局广西壮族自治区税务局", "国家税务总局{full}税务局", 8, "region"),
    _dt("SCJG", "自治区市场监督管理局", "{place}市场监督管理局", 7, "city"),
    _dt("RS", "自治区人力资源和社会保障厅", "{place}人力资源和社会保障局", 7, "region"),
    _dt("YB", "自治区医疗保障局", "{place}医疗保障局", 5, "region"),
    _dt(
        "GJJ",
        "自治区住房公积金管理中心",
        "{place}住房公积金管理中心",
        4,
        "city",
        county="{city}住房公积金管理中心{place}管理部",
    ),
    _dt("MZ", "自治区民政厅", "{place}民政局", 3, "city"),
    _dt("WJ", "自治区卫生健康委员会", "{place}卫生健康委员会", 3, county="{place}卫生健康局"),
    _dt("JT", "自治区交通运输厅", "{place}交通运输局", 3),
    _dt("ZJ", "自治区住房和城乡建设厅", "{place}住房和城乡建设局", 3),
    _dt("ZRZY", "自治区自然资源厅", "{place}自然资源局", 3),
    _dt("STHJ", "自治区生态环境厅", "{place}生态环境局", 1.5),
    _dt("NY", "自治区农业农村厅", "{place}农业农村局", 1.5),
    _dt("JY", "自治区教育厅", "{place}教育局", 1.5),
    _dt("WL", "自治区文化和旅游厅", "{place}文化广电和旅游局", 1, county="{place}文化体育和旅游局"),
    _dt("FG", "自治区发展和改革委员会", "{place}发展和改革委员会", 1, county="{place}发展和改革局"),
    _dt("YJ", "自治区应急管理厅", "{place}应急管理局", 1),
    _dt("SL", "自治区水利厅", "{place}水利局", 1),
    _dt("SWJ", "自治区商务厅", "{place}商务局", 1),
    _dt("GXJ", "自治区工业和信息化厅", "{place}工业和信息化局", 1),
    _dt("LY", "自治区林业局", "{place}林业局", 1),
    _dt("SF", "自治区司法厅", "{place}司法局", 1),
    _dt("CG", "自治区住房和城乡建设厅城市管理监督局", "{place}城市管理综合行政执法局", 1),
    _dt("XF", "广西壮族自治区消防救援总队", "{place}消防救援支队", 1, county="{place}消防救援大队"),
    _dt("RF", "自治区人民防空办公室", "{place}人民防空办公室", 0.5),
    _dt("QX", "广西壮族自治区气象局", "{place}气象局", 0.5),
    _dt("YC", "广西壮族自治区烟草专卖局", "{place}烟草专卖局", 1),
    _dt("CZ", "自治区财政厅", "{place}财政局", 0.5),
    _dt("TJ", "自治区退役军人事务厅", "{place}退役军人事务局", 1),
    _dt("CL", "广西壮族自治区残疾人联合会", "{place}残疾人联合会", 1),
    _dt("MW", "自治区民族宗教事务委员会", "{place}民族宗教事务委员会", 0.5),
    _dt("TY", "自治区体育局", "{place}体育局", 0.5),
)
DEPARTMENT_TYPE = {t.code: t for t in DEPARTMENT_TYPES}
COMPREHENSIVE_SHARE = 0.12  # 综合受理窗口 (一窗受理): windows of no single department


@dataclass(frozen=True, slots=True)
class Center:
    center_id: str
    name: str
    level: str
    parent_id: str | None
    area_code: str
    place: str  # '南宁市', '兴宁区'
    city_code: str  # area code of its city ('450000' for the region's own center)


@dataclass(frozen=True, slots=True)
class Department:
    dept_id: str
    center_id: str
    name: str
    type_code: str
    system: str  # the upstream system that pushes its case data (case_events.source_system)


@dataclass(frozen=True, slots=True)
class Window:
    window_id: str
    center_id: str
    dept_id: str | None
    label: str


@dataclass(frozen=True, slots=True)
class StaffMember:
    staff_id: str
    name: str
    dept_id: str | None
    window_id: str | None


@dataclass(frozen=True, slots=True)
class Camera:
    camera_id: str
    window_id: str
    url: str
    substream_url: str | None
    enabled: bool


@dataclass(frozen=True, slots=True)
class Item:
    item_code: str
    center_id: str
    dept_id: str
    spec: ItemSpec


@dataclass
class Office:
    """Everything about one center that a case there needs, indexed for fast drawing."""

    center: Center
    windows: int
    item_list: list[Item]
    item_cum: list[float]
    departments: dict[str, Department]  # by type code
    counter: dict[str, list[Window]]  # dept_id -> its windows (None: comprehensive)
    window_staff: dict[str, list[StaffMember]]
    back_office: dict[str, list[StaffMember]]  # dept_id -> staff without a window
    parent: Office | None = None


@dataclass
class Region:
    centers: list[Center]
    departments: list[Department]
    windows: list[Window]
    staff: list[StaffMember]
    cameras: list[Camera]
    items: list[Item]
    offices: dict[str, Office] = field(default_factory=dict)

    def office(self, center_id: str) -> Office:
        return self.offices[center_id]


def build_region(seed: int, camera_url: str, substream_url: str | None = None) -> Region:
    """The whole region, deterministic from `seed`; camera URLs from templates with {n} and {window_id}."""
    rng = random.Random(f"region:{seed}")
    centers = _centers()
    region = Region(centers, [], [], [], [], [])
    window_counts = {c.center_id: _window_count(c, rng) for c in centers}
    for center in centers:
        _furnish(region, center, window_counts[center.center_id], rng)
    for n, window in enumerate(region.windows, start=1):
        region.cameras.append(
            Camera(
                camera_id=f"{window.window_id}-CAM",
                window_id=window.window_id,
                url=camera_url.format(n=n, window_id=window.window_id),
                substream_url=substream_url.format(n=n, window_id=window.window_id) if substream_url else None,
                enabled=rng.random() > 0.02,  # a few cameras switched off for repair
            )
        )
    _index_offices(region, window_counts)
    return region


def _centers() -> list[Center]:
    region_id = f"GX-{REGION_CODE}"
    centers = [Center(region_id, f"{REGION_NAME}政务服务中心", REGION, None, REGION_CODE, REGION_NAME, REGION_CODE)]
    for city_code, city, _, _ in CITIES:
        centers.append(Center(f"GX-{city_code}", f"{city}政务服务中心", CITY, region_id, city_code, city, city_code))
    for city_code, _, _, counties in CITIES:
        for code, place in counties:
            centers.append(
                Center(f"GX-{code}", f"{place}政务服务中心", COUNTY, f"GX-{city_code}", code, place, city_code)
            )
    return centers


_CITY_WINDOWS = {code: windows for code, _, windows, _ in CITIES}
_CITY_NAME = {code: name for code, name, _, _ in CITIES}


def _window_count(center: Center, rng: random.Random) -> int:
    if center.level == REGION:
        return REGION_WINDOWS
    if center.level == CITY:
        return _CITY_WINDOWS[center.area_code]
    return rng.randint(*COUNTY_WINDOWS)


def _furnish(region: Region, center: Center, window_count: int, rng: random.Random) -> None:
    """Departments, windows and staff of one center."""
    letter = _LEVEL_LETTER[center.level]
    present = {spec.dept for spec in CATALOGUE if letter in spec.levels}
    types = [t for t in DEPARTMENT_TYPES if t.code in present]
    departments = []
    for t in types:
        template = t.names[{REGION: 0, CITY: 1, COUNTY: 2}[center.level]]
        name = template.format(
            place=center.place,
            city=_CITY_NAME.get(center.city_code, ""),
            full=(_CITY_NAME.get(center.city_code, "") if center.level == COUNTY else "") + center.place,
        )
        departments.append(
            Department(f"{center.center_id}-{t.code}", center.center_id, name, t.code, _source_system(t, center))
        )
    region.departments.extend(departments)

    comprehensive = max(1, round(window_count * COMPREHENSIVE_SHARE))
    shares = _apportion(window_count - comprehensive, [t.window_weight for t in types])
    owners: list[str | None] = [None] * comprehensive
    for dept, count in zip(departments, shares):
        owners += [dept.dept_id] * count
    for n, owner in enumerate(owners):
        window_id = f"{center.center_id}-W{n + 1:03d}"
        label = f"{chr(ord('A') + n // 30)}{n % 30 + 1:02d}"  # 30 windows per hall zone: A01…A30, B01…
        region.windows.append(Window(window_id, center.center_id, owner, label))

    staff_no = 0

    def hire(dept_id, window_id):
        nonlocal staff_no
        staff_no += 1
        region.staff.append(StaffMember(f"{center.center_id}-S{staff_no:04d}", person_name(rng), dept_id, window_id))

    for window in region.windows[-len(owners) :]:
        hire(window.dept_id, window.window_id)
        if rng.random() < 0.25:  # two people share the busiest windows in shifts
            hire(window.dept_id, window.window_id)
    back = {REGION: (4, 8), CITY: (3, 6), COUNTY: (1, 3)}[center.level]
    for dept in departments:
        for _ in range(rng.randint(*back)):
            hire(dept.dept_id, None)

    for spec in CATALOGUE:
        if letter in spec.levels:
            dept_id = f"{center.center_id}-{spec.dept}"
            region.items.append(Item(f"{center.area_code}-{spec.code}", center.center_id, dept_id, spec))


def _source_system(dept_type: DepartmentType, center: Center) -> str:
    """Which upstream system pushes a department's data: its line's own, or the region's platform."""
    if dept_type.system == "region":
        return f"{dept_type.code}-GX"  # one system for the whole region (e.g. 金税)
    if dept_type.system == "city":
        return f"{dept_type.code}-{center.city_code}"  # the line's system, one per city
    return f"GXZWFW-{center.city_code}"  # 广西数字政务一体化平台, city node


def _apportion(total: int, weights: list[float]) -> list[int]:
    """Split `total` in proportion to `weights`, every share at least 1 (largest remainders)."""
    if total < len(weights):
        return [1 if i < total else 0 for i in range(len(weights))]
    rest = total - len(weights)
    exact = [rest * w / sum(weights) for w in weights]
    shares = [1 + int(x) for x in exact]
    for i in sorted(range(len(weights)), key=lambda i: int(exact[i]) - exact[i])[: total - sum(shares)]:
        shares[i] += 1
    return shares


def _index_offices(region: Region, window_counts: dict[str, int]) -> None:
    by_center: dict[str, Office] = {}
    for center in region.centers:
        by_center[center.center_id] = Office(center, window_counts[center.center_id], [], [], {}, {}, {}, {})
    for dept in region.departments:
        office = by_center[dept.center_id]
        office.departments[dept.type_code] = dept
        office.back_office[dept.dept_id] = []
    for window in region.windows:
        by_center[window.center_id].counter.setdefault(window.dept_id, []).append(window)
    for person in region.staff:
        office = by_center[person.staff_id.rsplit("-S", 1)[0]]
        if person.window_id:
            office.window_staff.setdefault(person.window_id, []).append(person)
        else:
            office.back_office[person.dept_id].append(person)
    for item in region.items:
        by_center[item.center_id].item_list.append(item)
    for office in by_center.values():
        office.item_cum = list(accumulate(item.spec.weight for item in office.item_list))
        if office.center.parent_id:
            office.parent = by_center[office.center.parent_id]
    region.offices = by_center


def reference_rows(region: Region) -> dict[str, list[dict]]:
    """Rows of the contract's reference tables, parents before children."""
    return {
        "centers": [
            {
                "center_id": c.center_id,
                "name": c.name,
                "level": c.level,
                "parent_id": c.parent_id,
                "area_code": c.area_code,
            }
            for c in region.centers
        ],
        "departments": [{"dept_id": d.dept_id, "center_id": d.center_id, "name": d.name} for d in region.departments],
        "windows": [
            {"window_id": w.window_id, "center_id": w.center_id, "dept_id": w.dept_id, "label": w.label}
            for w in region.windows
        ],
        "cameras": [
            {
                "camera_id": k.camera_id,
                "window_id": k.window_id,
                "url": k.url,
                "substream_url": k.substream_url,
                "enabled": k.enabled,
            }
            for k in region.cameras
        ],
        "staff": [
            {"staff_id": s.staff_id, "name": s.name, "dept_id": s.dept_id, "window_id": s.window_id}
            for s in region.staff
        ],
        "items": [
            {
                "item_code": i.item_code,
                "name": i.spec.name,
                "dept_id": i.dept_id,
                "promised_days": i.spec.promised,
                "statutory_days": i.spec.statutory,
                "day_unit": i.spec.unit,
                "fee_yuan": Decimal(str(i.spec.fee)),
            }
            for i in region.items
        ],
    }
