"""The item catalogue (政务服务事项目录): what an applicant can apply for, and how long it may take.

Each entry is one basic item of the region's catalogue; every center whose
level implements it (and that has its department) gets its own implementing
item (实施清单) with code ``<area_code>-<code>``. Limits follow the law where
it sets one (行政许可法 第42条: 20 working days unless a law says otherwise)
and the promises Guangxi centers publish, which are usually far shorter.
"""

from __future__ import annotations

from dataclasses import dataclass

WORKING, NATURAL = "working", "natural"

# How a case of the item is processed; see cases.py.
INSTANT = "instant"  # 即办件: done at the window, the same day
SIMPLE = "simple"  # one department reviews and decides
REVIEW = "review"  # internal steps (审查、核查、审批) at the department
JOINT = "joint"  # 并联审批: parallel steps at other departments of the center
VERTICAL = "vertical"  # 纵向审批: a step at the department one level up


@dataclass(frozen=True, slots=True)
class ItemSpec:
    """One basic item: its department type, limits, standard fee and demand."""

    code: str
    name: str
    dept: str  # department type code, see region.DEPARTMENT_TYPES
    promised: int  # 承诺时限
    statutory: int  # 法定时限
    unit: str  # 'working' or 'natural' days
    fee: float  # standard fee in yuan; 0 = free
    levels: str  # where implemented: R region, C city, X county
    weight: float  # relative demand
    profile: str
    joint: tuple[str, ...] = ()  # departments consulted in parallel (JOINT)


def _items(dept: str, rows: list[tuple]) -> list[ItemSpec]:
    specs = []
    for n, row in enumerate(rows, start=1):
        name, promised, statutory, unit, fee, levels, weight, profile, *joint = row
        specs.append(
            ItemSpec(
                f"{dept}-{n:03d}",
                name,
                dept,
                promised,
                statutory,
                unit,
                fee,
                levels,
                weight,
                profile,
                tuple(joint[0]) if joint else (),
            )
        )
    return specs


W, N = WORKING, NATURAL
BUILD = ("ZRZY", "ZJ", "XF", "RF")  # the departments of 工程建设项目 joint approval

CATALOGUE: tuple[ItemSpec, ...] = tuple(
    # 市场监督管理
    _items(
        "SCJG",
        [
            ("企业设立登记", 1, 3, W, 0, "RCX", 40, INSTANT),
            ("企业变更登记", 1, 3, W, 0, "RCX", 30, INSTANT),
            ("企业注销登记", 1, 3, W, 0, "RCX", 15, INSTANT),
            ("个体工商户设立登记", 1, 3, W, 0, "CX", 45, INSTANT),
            ("个体工商户变更登记", 1, 3, W, 0, "CX", 15, INSTANT),
            ("个体工商户注销登记", 1, 3, W, 0, "CX", 12, INSTANT),
            ("食品经营许可", 5, 20, W, 0, "CX", 30, REVIEW),
            ("食品经营许可变更", 3, 20, W, 0, "CX", 10, SIMPLE),
            ("食品经营许可延续", 5, 20, W, 0, "CX", 8, SIMPLE),
            ("食品生产许可", 10, 20, W, 0, "C", 3, VERTICAL),
            ("食品小作坊登记", 5, 15, W, 0, "X", 4, REVIEW),
            ("特种设备使用登记", 5, 15, W, 0, "CX", 6, SIMPLE),
            ("特种设备作业人员资格认定", 10, 20, W, 0, "C", 4, REVIEW),
            ("药品零售企业经营许可", 15, 30, W, 0, "CX", 3, REVIEW),
            ("第二类医疗器械经营备案", 1, 5, W, 0, "C", 3, INSTANT),
            ("计量标准器具核准", 10, 20, W, 0, "C", 1, REVIEW),
            ("工业产品生产许可证核发", 15, 20, W, 0, "R", 1, REVIEW),
            ("检验检测机构资质认定", 15, 20, W, 0, "R", 1, REVIEW),
            ("药品批发企业许可", 20, 30, W, 0, "R", 1, REVIEW),
            ("化妆品生产许可", 20, 30, W, 0, "R", 1, REVIEW),
            ("股权出质设立登记", 1, 5, W, 0, "RC", 2, INSTANT),
            ("动产抵押登记", 1, 3, W, 0, "CX", 2, INSTANT),
        ],
    )
    # 公安
    + _items(
        "GA",
        [
            ("居民身份证换领", 20, 60, N, 20, "CX", 60, SIMPLE),
            ("居民身份证首次申领", 20, 60, N, 0, "CX", 25, SIMPLE),
            ("临时居民身份证申领", 1, 3, W, 10, "CX", 15, INSTANT),
            ("户口迁移登记", 1, 10, W, 0, "CX", 30, INSTANT),
            ("出生登记", 1, 5, W, 0, "X", 20, INSTANT),
            ("居住证申领", 7, 15, N, 0, "CX", 15, SIMPLE),
            ("普通护照签发", 7, 15, W, 120, "C", 25, VERTICAL),
            ("往来港澳通行证签发", 7, 15, W, 60, "C", 25, VERTICAL),
            ("往来台湾通行证签发", 7, 15, W, 60, "C", 5, VERTICAL),
            ("机动车注册登记", 1, 2, W, 100, "CX", 25, INSTANT),
            ("机动车转移登记", 1, 2, W, 0, "CX", 12, INSTANT),
            ("机动车驾驶证换证", 1, 1, W, 10, "CX", 20, INSTANT),
            ("机动车检验合格标志核发", 1, 1, W, 0, "CX", 20, INSTANT),
            ("旅馆业特种行业许可", 10, 20, W, 0, "CX", 2, REVIEW),
            ("公章刻制备案", 1, 1, W, 0, "CX", 10, INSTANT),
            ("大型群众性活动安全许可", 5, 7, W, 0, "C", 1, REVIEW),
            ("剧毒化学品购买许可", 3, 3, W, 0, "C", 1, SIMPLE),
            ("烟花爆竹燃放许可", 5, 20, W, 0, "C", 1, SIMPLE),
            ("保安服务公司设立许可", 15, 30, W, 0, "R", 1, REVIEW),
        ],
    )
    # 自然资源 (不动产登记 has its own center, BDC)
    + _items(
        "ZRZY",
        [
            ("建设项目用地预审与选址意见书核发", 10, 20, W, 0, "RCX", 3, JOINT, ("FG", "STHJ")),
            ("建设用地规划许可证核发", 10, 20, W, 0, "CX", 3, JOINT, ("ZJ",)),
            ("建设工程规划许可证核发", 8, 20, W, 0, "CX", 5, JOINT, ("ZJ", "RF")),
            ("乡村建设规划许可证核发", 10, 20, W, 0, "X", 4, REVIEW),
            ("建设工程竣工规划核实", 8, 20, W, 0, "CX", 3, REVIEW),
            ("临时用地审批", 10, 20, W, 0, "CX", 2, VERTICAL),
            ("土地复垦方案审查", 15, 20, W, 0, "C", 1, REVIEW),
            ("采矿权新立登记", 20, 40, W, 0, "R", 1, REVIEW),
            ("探矿权新立登记", 20, 40, W, 0, "R", 1, REVIEW),
            ("测绘资质审批", 15, 20, W, 0, "R", 1, REVIEW),
            ("国有建设用地使用权出让后土地使用权分割审批", 10, 20, W, 0, "CX", 1, REVIEW),
        ],
    )
    + _items(
        "BDC",
        [
            ("不动产首次登记", 5, 30, W, 80, "CX", 8, REVIEW),
            ("不动产转移登记", 3, 30, W, 80, "CX", 35, SIMPLE),
            ("不动产抵押权首次登记", 1, 30, W, 80, "CX", 25, INSTANT),
            ("不动产抵押权注销登记", 1, 30, W, 0, "CX", 18, INSTANT),
            ("不动产变更登记", 3, 30, W, 0, "CX", 10, SIMPLE),
            ("不动产更正登记", 5, 30, W, 0, "CX", 2, SIMPLE),
            ("不动产预告登记", 1, 30, W, 0, "CX", 12, INSTANT),
            ("不动产注销登记", 1, 30, W, 0, "CX", 4, INSTANT),
            ("不动产登记资料查询", 1, 1, W, 0, "CX", 20, INSTANT),
            ("非住宅不动产转移登记", 5, 30, W, 550, "CX", 3, SIMPLE),
        ],
    )
    # 住房和城乡建设
    + _items(
        "ZJ",
        [
            ("建筑工程施工许可证核发", 3, 7, W, 0, "CX", 5, JOINT, ("ZRZY", "RF", "XF")),
            ("商品房预售许可", 5, 10, W, 0, "CX", 2, REVIEW),
            ("建筑业企业资质核准", 15, 20, W, 0, "RC", 2, REVIEW),
            ("房地产开发企业资质核定", 10, 20, W, 0, "C", 1, REVIEW),
            ("建设工程消防设计审查", 10, 15, W, 0, "CX", 3, JOINT, ("XF",)),
            ("建设工程消防验收", 10, 15, W, 0, "CX", 3, JOINT, ("XF",)),
            ("城镇污水排入排水管网许可", 10, 15, W, 0, "CX", 2, REVIEW),
            ("燃气经营许可", 15, 20, W, 0, "C", 1, REVIEW),
            ("建设工程竣工验收备案", 3, 15, W, 0, "CX", 3, SIMPLE),
            ("建筑施工企业安全生产许可证核发", 20, 45, W, 0, "R", 1, REVIEW),
            ("建筑施工特种作业人员资格核准", 10, 20, W, 0, "C", 2, REVIEW),
            ("公共租赁住房资格审核", 20, 30, W, 0, "CX", 4, VERTICAL),
            ("商品房买卖合同网签备案", 1, 5, W, 0, "CX", 10, INSTANT),
            ("房屋建筑工程质量监督登记", 3, 5, W, 0, "CX", 2, SIMPLE),
        ],
    )
    # 人力资源和社会保障
    + _items(
        "RS",
        [
            ("社会保障卡申领", 10, 20, N, 0, "CX", 35, SIMPLE),
            ("社会保障卡补换", 5, 20, N, 0, "CX", 20, SIMPLE),
            ("失业保险金申领", 5, 10, W, 0, "CX", 12, SIMPLE),
            ("就业创业证申领", 1, 5, W, 0, "CX", 10, INSTANT),
            ("职工基本养老保险待遇核定", 15, 20, W, 0, "CX", 8, REVIEW),
            ("工伤认定", 30, 60, N, 0, "C", 3, REVIEW),
            ("劳动能力鉴定", 40, 60, N, 0, "C", 2, REVIEW),
            ("人力资源服务许可", 10, 20, W, 0, "RC", 1, REVIEW),
            ("劳务派遣经营许可", 10, 20, W, 0, "RC", 1, REVIEW),
            ("企业职工基本养老保险关系转移接续", 15, 45, W, 0, "CX", 8, VERTICAL),
            ("民办职业培训学校设立", 20, 30, W, 0, "C", 1, REVIEW),
            ("企业实行不定时工作制和综合计算工时工作制审批", 10, 20, W, 0, "RC", 1, SIMPLE),
            ("城乡居民基本养老保险参保登记", 1, 1, W, 0, "X", 12, INSTANT),
            ("个人权益记录查询打印", 1, 1, W, 0, "CX", 15, INSTANT),
            ("创业担保贷款申请", 15, 20, W, 0, "CX", 3, REVIEW),
            ("失业人员职业技能提升补贴申领", 10, 20, W, 0, "CX", 4, SIMPLE),
        ],
    )
    # 税务
    + _items(
        "SW",
        [
            ("发票领用", 1, 5, W, 0, "CX", 30, INSTANT),
            ("增值税一般纳税人登记", 1, 5, W, 0, "CX", 8, INSTANT),
            ("清税申报（税务注销）", 1, 20, W, 0, "CX", 10, INSTANT),
            ("开具税收完税证明", 1, 1, W, 0, "CX", 10, INSTANT),
            ("契税申报", 1, 1, W, 0, "CX", 20, INSTANT),
            ("增值税专用发票最高开票限额审批", 5, 20, W, 0, "CX", 3, SIMPLE),
            ("跨区域涉税事项报告", 1, 1, W, 0, "CX", 6, INSTANT),
            ("车辆购置税申报", 1, 1, W, 0, "CX", 15, INSTANT),
            ("出口退（免）税备案", 1, 5, W, 0, "C", 2, INSTANT),
            ("税收减免备案", 1, 5, W, 0, "CX", 4, INSTANT),
            ("代开增值税发票", 1, 1, W, 0, "CX", 15, INSTANT),
        ],
    )
    # 卫生健康
    + _items(
        "WJ",
        [
            ("医师执业注册", 10, 20, W, 0, "RC", 5, REVIEW),
            ("护士执业注册", 10, 20, W, 0, "RC", 6, REVIEW),
            ("医疗机构执业登记", 20, 45, W, 0, "CX", 2, VERTICAL),
            ("医疗机构设置审批", 15, 30, W, 0, "CX", 1, REVIEW),
            ("公共场所卫生许可", 5, 20, W, 0, "CX", 8, REVIEW),
            ("母婴保健技术服务执业许可", 15, 20, W, 0, "C", 1, REVIEW),
            ("放射诊疗许可", 15, 20, W, 0, "C", 1, REVIEW),
            ("饮用水供水单位卫生许可", 10, 20, W, 0, "CX", 1, REVIEW),
            ("消毒产品生产企业卫生许可", 15, 20, W, 0, "R", 1, REVIEW),
            ("乡村医生执业注册", 10, 20, W, 0, "X", 2, SIMPLE),
            ("计划生育家庭奖励扶助资格确认", 20, 30, W, 0, "X", 3, VERTICAL),
            ("生育登记", 1, 1, W, 0, "X", 10, INSTANT),
            ("出生医学证明补发", 5, 20, W, 0, "CX", 2, SIMPLE),
            ("医疗机构执业许可校验", 10, 20, W, 0, "CX", 2, SIMPLE),
        ],
    )
    # 交通运输
    + _items(
        "JT",
        [
            ("道路旅客运输经营许可", 10, 20, W, 0, "C", 1, REVIEW),
            ("道路货物运输经营许可", 5, 20, W, 0, "CX", 5, SIMPLE),
            ("道路运输车辆营运证配发", 1, 10, W, 0, "CX", 12, INSTANT),
            ("网络预约出租汽车驾驶员证核发", 10, 20, W, 0, "C", 5, REVIEW),
            ("网络预约出租汽车运输证核发", 10, 20, W, 0, "C", 4, REVIEW),
            ("机动车维修经营备案", 1, 5, W, 0, "CX", 4, INSTANT),
            ("机动车驾驶员培训经营备案", 3, 5, W, 0, "C", 1, SIMPLE),
            ("出租汽车经营许可", 15, 20, W, 0, "C", 1, REVIEW),
            ("公路超限运输许可", 2, 5, N, 0, "RC", 3, SIMPLE),
            ("涉路施工许可", 10, 20, W, 0, "CX", 2, REVIEW),
            ("港口经营许可", 15, 30, W, 0, "C", 1, REVIEW),
            ("水路运输经营许可", 15, 20, W, 0, "R", 1, REVIEW),
            ("道路运输从业人员从业资格证核发", 5, 10, W, 0, "C", 6, SIMPLE),
            ("危险货物道路运输经营许可", 10, 20, W, 0, "C", 1, REVIEW),
            ("在公路增设或改造平面交叉道口审批", 10, 20, W, 0, "CX", 1, REVIEW),
        ],
    )
    # 生态环境
    + _items(
        "STHJ",
        [
            ("建设项目环境影响报告书审批", 30, 60, N, 0, "RC", 1, REVIEW),
            ("建设项目环境影响报告表审批", 15, 30, N, 0, "CX", 4, REVIEW),
            ("排污许可证核发", 10, 20, W, 0, "C", 3, VERTICAL),
            ("排污许可证变更", 5, 10, W, 0, "C", 2, SIMPLE),
            ("危险废物经营许可", 15, 20, W, 0, "R", 1, REVIEW),
            ("辐射安全许可证核发", 15, 20, W, 0, "RC", 1, REVIEW),
            ("建设项目环境影响登记表备案", 1, 1, W, 0, "CX", 4, INSTANT),
            ("防治污染设施拆除或闲置审批", 10, 20, W, 0, "C", 1, SIMPLE),
        ],
    )
    # 民政
    + _items(
        "MZ",
        [
            ("结婚登记", 1, 1, W, 0, "X", 35, INSTANT),
            ("离婚登记", 1, 30, N, 0, "X", 10, SIMPLE),
            ("补领婚姻登记证", 1, 1, W, 0, "X", 5, INSTANT),
            ("社会团体成立登记", 20, 60, N, 0, "RCX", 1, REVIEW),
            ("民办非企业单位成立登记", 20, 60, N, 0, "RCX", 1, REVIEW),
            ("养老机构备案", 1, 5, W, 0, "CX", 1, INSTANT),
            ("最低生活保障审核确认", 20, 30, W, 0, "X", 8, VERTICAL),
            ("特困人员认定", 20, 30, W, 0, "X", 3, VERTICAL),
            ("临时救助", 5, 10, W, 0, "X", 5, SIMPLE),
            ("困难残疾人生活补贴和重度残疾人护理补贴", 15, 30, W, 0, "X", 4, VERTICAL),
            ("收养登记", 20, 30, N, 0, "C", 1, REVIEW),
            ("慈善组织认定", 15, 20, W, 0, "RC", 1, REVIEW),
            ("地名命名更名审批", 20, 30, W, 0, "CX", 1, REVIEW),
            ("经营性公墓审批", 20, 30, W, 0, "R", 1, REVIEW),
        ],
    )
    # 教育
    + _items(
        "JY",
        [
            ("教师资格认定", 20, 30, W, 0, "CX", 8, REVIEW),
            ("民办学校设立审批", 60, 90, N, 0, "CX", 1, REVIEW),
            ("校车使用许可", 10, 20, W, 0, "X", 1, JOINT, ("GA", "JT")),
            ("民办幼儿园设立审批", 20, 30, W, 0, "X", 1, REVIEW),
            ("中等职业学校学生学籍异动", 5, 10, W, 0, "C", 2, SIMPLE),
            ("义务教育阶段学生转学", 3, 10, W, 0, "X", 5, SIMPLE),
            ("教师资格证书补发换发", 10, 20, W, 0, "CX", 2, SIMPLE),
        ],
    )
    # 文化广电和旅游
    + _items(
        "WL",
        [
            ("娱乐场所经营许可", 10, 20, W, 0, "CX", 2, REVIEW),
            ("互联网上网服务营业场所经营单位设立", 15, 20, W, 0, "CX", 1, REVIEW),
            ("营业性演出审批", 5, 20, W, 0, "CX", 2, SIMPLE),
            ("旅行社设立许可", 10, 20, W, 0, "RC", 1, REVIEW),
            ("出版物零售业务经营许可", 10, 20, W, 0, "CX", 1, SIMPLE),
            ("卫星电视广播地面接收设施安装许可", 10, 20, W, 0, "C", 1, SIMPLE),
            ("文物保护单位建设控制地带内建设工程设计方案审核", 15, 20, W, 0, "R", 1, REVIEW),
            ("艺术品经营单位备案", 1, 15, W, 0, "CX", 1, INSTANT),
            ("广播电视节目制作经营许可", 15, 20, W, 0, "R", 1, REVIEW),
        ],
    )
    # 农业农村
    + _items(
        "NY",
        [
            ("农药经营许可", 10, 20, W, 0, "CX", 2, REVIEW),
            ("兽药经营许可", 15, 30, W, 0, "CX", 1, REVIEW),
            ("农作物种子生产经营许可", 10, 20, W, 0, "CX", 1, REVIEW),
            ("动物防疫条件合格证核发", 10, 20, W, 0, "CX", 2, REVIEW),
            ("渔业捕捞许可", 10, 20, W, 0, "CX", 1, SIMPLE),
            ("农村宅基地审批", 15, 20, W, 0, "X", 5, JOINT, ("ZRZY",)),
            ("拖拉机和联合收割机登记", 1, 2, W, 0, "X", 2, INSTANT),
            ("生鲜乳收购站许可", 10, 20, W, 0, "X", 1, REVIEW),
            ("肥料登记", 15, 20, W, 0, "R", 1, REVIEW),
            ("水产苗种生产许可", 10, 20, W, 0, "CX", 1, REVIEW),
            ("动物诊疗许可", 10, 20, W, 0, "CX", 1, REVIEW),
        ],
    )
    # 水利
    + _items(
        "SL",
        [
            ("取水许可", 20, 45, N, 0, "RCX", 1, REVIEW),
            ("生产建设项目水土保持方案审批", 10, 20, W, 0, "CX", 2, REVIEW),
            ("河道管理范围内建设项目工程建设方案审批", 10, 20, W, 0, "CX", 1, REVIEW),
            ("洪水影响评价类审批", 10, 20, W, 0, "CX", 1, REVIEW),
            ("农村集体经济组织修建水库审批", 15, 20, W, 0, "X", 1, VERTICAL),
            ("水利工程建设项目验收", 15, 20, W, 0, "C", 1, REVIEW),
        ],
    )
    # 商务
    + _items(
        "SWJ",
        [
            ("对外贸易经营者备案登记", 1, 5, W, 0, "C", 3, INSTANT),
            ("单用途商业预付卡发卡企业备案", 1, 5, W, 0, "CX", 1, INSTANT),
            ("成品油零售经营资格审批", 15, 20, W, 0, "R", 1, VERTICAL),
            ("报废机动车回收拆解企业资质认定", 15, 20, W, 0, "R", 1, REVIEW),
            ("拍卖企业设立许可", 15, 20, W, 0, "R", 1, REVIEW),
            ("酒类商品批发经营备案", 1, 5, W, 0, "CX", 1, INSTANT),
        ],
    )
    # 发展和改革
    + _items(
        "FG",
        [
            ("企业投资项目核准", 10, 20, W, 0, "RC", 1, JOINT, ("ZRZY", "STHJ")),
            ("企业投资项目备案", 1, 3, W, 0, "RCX", 6, INSTANT),
            ("政府投资项目可行性研究报告审批", 15, 20, W, 0, "RCX", 2, REVIEW),
            ("固定资产投资项目节能审查", 10, 20, W, 0, "RCX", 2, REVIEW),
            ("粮食收购资格备案", 1, 5, W, 0, "X", 1, INSTANT),
            ("政府投资项目初步设计审批", 15, 20, W, 0, "RC", 1, REVIEW),
        ],
    )
    # 工业和信息化
    + _items(
        "GXJ",
        [
            ("技术改造投资项目备案", 1, 3, W, 0, "RCX", 2, INSTANT),
            ("无线电台（站）设置审批", 15, 20, W, 0, "R", 1, REVIEW),
            ("民用爆炸物品生产许可", 20, 45, W, 0, "R", 1, REVIEW),
            ("新型墙体材料认定", 10, 20, W, 0, "C", 1, SIMPLE),
        ],
    )
    # 应急管理
    + _items(
        "YJ",
        [
            ("危险化学品经营许可", 15, 30, W, 0, "CX", 2, REVIEW),
            ("烟花爆竹经营（零售）许可", 10, 20, W, 0, "X", 2, REVIEW),
            ("非煤矿山企业安全生产许可", 20, 45, W, 0, "R", 1, REVIEW),
            ("危险化学品安全使用许可", 20, 45, W, 0, "C", 1, REVIEW),
            ("生产安全事故应急预案备案", 1, 5, W, 0, "CX", 3, INSTANT),
            ("特种作业操作证申领", 10, 20, W, 0, "C", 4, REVIEW),
            ("危险化学品建设项目安全条件审查", 15, 45, W, 0, "C", 1, REVIEW),
        ],
    )
    # 医疗保障
    + _items(
        "YB",
        [
            ("基本医疗保险参保登记", 1, 1, W, 0, "CX", 15, INSTANT),
            ("异地就医备案", 1, 1, W, 0, "CX", 15, INSTANT),
            ("门诊慢特病待遇认定", 5, 15, W, 0, "CX", 12, REVIEW),
            ("医疗费用手工（零星）报销", 20, 30, W, 0, "CX", 12, SIMPLE),
            ("基本医疗保险关系转移接续", 10, 15, W, 0, "CX", 6, SIMPLE),
            ("生育保险待遇核准支付", 10, 20, W, 0, "CX", 6, SIMPLE),
            ("医药机构申请定点协议管理", 30, 90, N, 0, "C", 1, REVIEW),
        ],
    )
    # 林业
    + _items(
        "LY",
        [
            ("林木采伐许可证核发", 5, 20, W, 0, "X", 6, SIMPLE),
            ("使用林地审核审批", 15, 20, W, 0, "RCX", 1, VERTICAL),
            ("陆生野生动物人工繁育许可", 15, 20, W, 0, "R", 1, REVIEW),
            ("植物检疫证书核发", 3, 20, W, 0, "CX", 3, SIMPLE),
            ("林草种子生产经营许可", 10, 20, W, 0, "CX", 1, REVIEW),
        ],
    )
    # 司法行政
    + _items(
        "SF",
        [
            ("律师执业许可", 10, 20, W, 0, "RC", 1, VERTICAL),
            ("法律援助申请", 3, 7, W, 0, "CX", 6, SIMPLE),
            ("公证员执业审核", 15, 20, W, 0, "R", 1, REVIEW),
            ("基层法律服务工作者执业核准", 15, 20, W, 0, "C", 1, REVIEW),
            ("司法鉴定人执业登记", 15, 20, W, 0, "R", 1, REVIEW),
        ],
    )
    # 城市管理
    + _items(
        "CG",
        [
            ("城市道路挖掘许可", 5, 20, W, 0, "CX", 2, SIMPLE),
            ("临时占用城市道路审批", 5, 20, W, 0, "CX", 2, SIMPLE),
            ("设置大型户外广告审批", 10, 20, W, 0, "CX", 1, REVIEW),
            ("城市建筑垃圾处置核准", 5, 20, W, 0, "CX", 2, SIMPLE),
            ("改变绿化规划、绿化用地的使用性质审批", 10, 20, W, 0, "C", 1, REVIEW),
            ("砍伐、迁移城市树木审批", 5, 20, W, 0, "CX", 1, SIMPLE),
        ],
    )
    # 住房公积金
    + _items(
        "GJJ",
        [
            ("住房公积金提取", 1, 3, W, 0, "CX", 30, INSTANT),
            ("住房公积金个人住房贷款", 5, 15, W, 0, "CX", 6, REVIEW),
            ("住房公积金单位缴存登记", 1, 3, W, 0, "CX", 4, INSTANT),
            ("住房公积金异地转移接续", 5, 15, W, 0, "CX", 4, SIMPLE),
        ],
    )
    # 消防救援
    + _items(
        "XF",
        [
            ("公众聚集场所投入使用、营业前消防安全检查", 5, 10, W, 0, "CX", 3, REVIEW),
        ],
    )
    # 人民防空
    + _items(
        "RF",
        [
            ("人防工程易地建设审批", 5, 10, W, 0, "CX", 1, SIMPLE),
            ("拆除人民防空工程审批", 10, 20, W, 0, "C", 1, REVIEW),
            ("人防工程竣工验收备案", 5, 15, W, 0, "CX", 1, SIMPLE),
        ],
    )
    # 气象
    + _items(
        "QX",
        [
            ("雷电防护装置设计审核", 10, 20, W, 0, "CX", 1, REVIEW),
            ("雷电防护装置竣工验收", 10, 20, W, 0, "CX", 1, REVIEW),
            ("升放无人驾驶自由气球或者系留气球活动审批", 3, 5, W, 0, "CX", 1, SIMPLE),
        ],
    )
    # 烟草专卖
    + _items(
        "YC",
        [
            ("烟草专卖零售许可证新办", 10, 20, W, 0, "CX", 4, REVIEW),
            ("烟草专卖零售许可证延续", 5, 20, W, 0, "CX", 3, SIMPLE),
            ("烟草专卖零售许可证变更", 5, 20, W, 0, "CX", 2, SIMPLE),
        ],
    )
    # 财政
    + _items(
        "CZ",
        [
            ("代理记账机构执业审批", 5, 10, W, 0, "C", 1, SIMPLE),
            ("会计专业技术资格证书补办", 5, 20, W, 0, "C", 1, SIMPLE),
        ],
    )
    # 退役军人事务
    + _items(
        "TJ",
        [
            ("退役军人优待证申领", 15, 30, W, 0, "X", 4, VERTICAL),
            ("伤残等级评定", 40, 60, N, 0, "C", 1, VERTICAL),
            ("烈士褒扬金发放", 15, 30, W, 0, "X", 1, SIMPLE),
        ],
    )
    # 残疾人联合会
    + _items(
        "CL",
        [
            ("残疾人证核发", 10, 20, W, 0, "X", 5, REVIEW),
            ("残疾人证换领", 5, 20, W, 0, "X", 3, SIMPLE),
        ],
    )
    # 民族宗教事务
    + _items(
        "MW",
        [
            ("宗教活动场所设立审批", 20, 60, N, 0, "C", 1, VERTICAL),
            ("宗教临时活动地点审批", 15, 30, W, 0, "X", 1, SIMPLE),
        ],
    )
    # 体育
    + _items(
        "TY",
        [
            ("高危险性体育项目经营许可", 10, 30, W, 0, "CX", 1, REVIEW),
            ("举办健身气功活动及设立站点审批", 10, 20, W, 0, "CX", 1, SIMPLE),
        ],
    )
)

SPECIAL_PROCEDURES: dict[str, int] = {
    # 特别程序 (行政许可法 第45条) and their usual limits in working days
    "hearing": 20,  # 听证
    "expert_review": 15,  # 专家评审
    "inspection": 10,  # 检查
    "testing": 20,  # 检验、检测
    "quarantine": 15,  # 检疫
    "appraisal": 20,  # 鉴定
    "tender": 30,  # 招标
    "auction": 30,  # 拍卖
    "public_notice": 7,  # 公示
    "site_survey": 5,  # 现场勘查
}

MATERIALS = (
    "营业执照副本复印件",
    "法定代表人身份证明",
    "经办人授权委托书",
    "申请表（加盖公章）",
    "场所使用证明",
    "房屋产权证明",
    "租赁合同",
    "平面布局图",
    "设备设施清单",
    "从业人员健康证明",
    "环评批复文件",
    "规划设计方案",
    "施工图审查合格书",
    "竣工验收报告",
    "户口簿复印件",
    "结婚证复印件",
    "近期免冠照片",
    "收入证明",
    "医疗诊断证明",
    "劳动合同",
    "社保缴费证明",
    "完税证明",
    "安全管理制度",
    "专业技术人员资格证书",
)

REJECTION_REASONS = (
    "申请事项依法不属于本行政机关职权范围",
    "申请人不具备法定申请资格",
    "申请材料存在虚假内容",
    "申请事项依法不需要取得行政许可",
    "申请人未在规定期限内补正材料",
)

STEP_NAMES = ("受理审查", "材料审查", "现场核查", "技术审查", "复核", "会签", "审核", "审批决定")
