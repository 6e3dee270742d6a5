"""Regenerate the bundled sample bloc: registry, submissions and the faulty files.

    python data/sample/make_sample.py

Deterministic (one seeded `random.Random`, no clock): the same bytes on every run. The bloc
is built so that it reproduces the totals published in report 191-BC/ĐUK of 6 July 2023
(`/work/shared/reference/report-outline.md`), then every file is read back the way the
pipeline reads it and every published total is asserted. See README.md beside this script.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
import unicodedata
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from pathlib import Path
from random import Random

from tonghop.catalog import load_catalog
from tonghop.forms import read_form, write_form
from tonghop.parse import UnreadableFile
from tonghop.periods import Period

SEED = 191_2023
HERE = Path(__file__).resolve().parent
SUBMISSIONS = HERE / "submissions"
REGISTRY = HERE / "registry.csv"

PERIODS = [
    Period.parse(p)
    for p in ("2020-H1", "2020-H2", "2021-H1", "2021-H2", "2022-H1", "2022-H2", "2023-H1")
]
BASE, CUT = 0, len(PERIODS) - 1  # indices of the baseline (2020-H1) and the cut-off (2023-H1)
TERM = range(1, len(PERIODS))  # 2020-H2 .. 2023-H1
TERM_START, TERM_CUT = date(2020, 7, 1), PERIODS[CUT].end

# Published totals (report 191-BC/ĐUK); the script fails unless the files it wrote give them.
TARGETS = {
    "start_units": 177, "start_dang_bo": 121, "start_chi_bo": 56,
    "start_branches": 1253, "start_members": 15484,
    "cut_units": 121, "cut_dang_bo": 93, "cut_chi_bo": 28,
    "cut_agency": 87, "cut_soe": 20, "cut_private": 11, "cut_industrial_zone": 3,
    "cut_branches": 1117, "cut_members": 14103,
    "members_admitted": 2078, "members_confirmed": 1084, "members_struck_off": 14,
    "members_removed": 4, "party_badges_awarded": 253, "member_cards_issued": 3079,
    "inspected_orgs": 665, "inspected_members": 2575, "supervised_orgs": 850,
    "supervised_members": 3917, "disciplined_members": 223, "discipline_reprimand": 152,
    "discipline_warning": 33, "discipline_dismissal": 2, "discipline_expulsion": 36,
    "disciplined_orgs": 6, "denunciations_received": 22, "secretaries_trained": 1063,
    "tasks_assigned": 119246, "tasks_completed": 119176,
    "revenue_bn_vnd": Decimal("122235.8"), "state_budget_paid_bn_vnd": Decimal("4358.9"),
    "culture_registered": 111, "culture_achieved": 62, "culture_model": 30,
    "units_transferred_out": 54, "units_merged": 7, "units_received": 4, "units_founded": 1,
    "members_leaving_with_units_and_branches": 2366, "branches_transferred_out": 5,
}  # fmt: skip
ADMITTED_BY_PERIOD = [0, 380, 300, 360, 320, 350, 368]  # 2021: 660, 2022: 670 (target > 600)
CANDIDATES_BY_PERIOD = [0, 450, 430, 480, 455, 490, 470]  # 2021: 910, 2022: 945 (target > 800)
INDIVIDUAL_IN, DECEASED = 1450, 41
# The bloc committee (Đảng ủy Khối): a unit of the registry, not a TCCSĐ; it reports what only it
# knows: the four mass organisations' ratings (target 10) and the classes it ran.
COMMITTEE = ("DUK", "Đảng ủy Khối Cơ quan và Doanh nghiệp tỉnh", "committee", "dang_uy_khoi")
COMMITTEE_SINCE = date(2015, 10, 1)
MASS_ORGS = 4  # Công đoàn, Đoàn Thanh niên, Hội Cựu chiến binh, Hội Liên hiệp Phụ nữ Khối
EMPLOYEES_AT_CUT = 15_946  # "gần 16 nghìn người lao động"
FLOW_TOTALS = (
    "members_struck_off",
    "members_removed",
    "party_badges_awarded",
    "member_cards_issued",
    "inspected_orgs",
    "inspected_members",
    "supervised_orgs",
    "supervised_members",
    "discipline_reprimand",
    "discipline_warning",
    "discipline_dismissal",
    "discipline_expulsion",
    "disciplined_orgs",
    "denunciations_received",
    "secretaries_trained",
)
MEMBER_OUTFLOWS = (
    "tout",
    "members_deceased",
    "members_struck_off",
    "members_removed",
    "discipline_expulsion",
)

# --- names -----------------------------------------------------------------------------------
AGENCY_DANG_BO = """Sở Tài chính|Sở Kế hoạch và Đầu tư|Sở Công Thương|Sở Xây dựng
|Sở Giao thông vận tải
|Sở Nông nghiệp và Phát triển nông thôn|Sở Tài nguyên và Môi trường
|Sở Lao động - Thương binh và Xã hội|Sở Văn hóa, Thể thao và Du lịch|Sở Giáo dục và Đào tạo
|Sở Y tế|Sở Khoa học và Công nghệ|Sở Nội vụ|Sở Tư pháp|Sở Thông tin và Truyền thông
|Văn phòng Ủy ban nhân dân tỉnh|Văn phòng Đoàn Đại biểu Quốc hội và Hội đồng nhân dân tỉnh
|Thanh tra tỉnh|Cục Thuế tỉnh|Kho bạc Nhà nước Thanh Hóa|Bảo hiểm xã hội tỉnh
|Cục Hải quan Thanh Hóa|Cục Thống kê tỉnh|Cục Thi hành án dân sự tỉnh
|Ngân hàng Nhà nước chi nhánh tỉnh Thanh Hóa|Cục Quản lý thị trường tỉnh
|Đài Phát thanh và Truyền hình tỉnh|Báo Thanh Hóa|Bệnh viện Đa khoa tỉnh|Bệnh viện Nhi Thanh Hóa
|Bệnh viện Phụ sản Thanh Hóa|Bệnh viện Y dược cổ truyền tỉnh|Bệnh viện Phổi Thanh Hóa
|Bệnh viện Tâm thần tỉnh|Bệnh viện Mắt Thanh Hóa|Bệnh viện Ung bướu tỉnh
|Bệnh viện Phục hồi chức năng tỉnh|Bệnh viện Nội tiết tỉnh|Bệnh viện Da liễu tỉnh
|Trung tâm Kiểm soát bệnh tật tỉnh|Trường Đại học Hồng Đức
|Trường Đại học Văn hóa, Thể thao và Du lịch Thanh Hóa|Trường Cao đẳng Y tế Thanh Hóa
|Trường Cao đẳng Nông nghiệp Thanh Hóa|Trường Cao đẳng Công nghiệp Thanh Hóa
|Trường Cao đẳng Kỹ thuật Công nghiệp Nghi Sơn|Trường Cao đẳng nghề Lam Kinh|Trường Chính trị tỉnh
|Ủy ban Mặt trận Tổ quốc Việt Nam tỉnh|Liên đoàn Lao động tỉnh|Hội Liên hiệp Phụ nữ tỉnh
|Tỉnh đoàn Thanh Hóa|Hội Nông dân tỉnh|Hội Cựu chiến binh tỉnh
|Ban Quản lý dự án đầu tư xây dựng các công trình dân dụng và công nghiệp tỉnh
|Ban Quản lý dự án đầu tư xây dựng các công trình giao thông tỉnh
|Ban Quản lý dự án đầu tư xây dựng các công trình nông nghiệp và phát triển nông thôn tỉnh
|Chi cục Kiểm lâm tỉnh|Chi cục Thủy lợi tỉnh|Trung tâm Công nghệ thông tin và Truyền thông tỉnh
|Viện Nông nghiệp Thanh Hóa|Vườn quốc gia Bến En|Trung tâm Bảo tồn di sản văn hóa Thành Nhà Hồ
|Ban Quản lý Khu di tích lịch sử Lam Kinh|Quỹ Đầu tư phát triển tỉnh|Trung tâm Văn hóa tỉnh
|Nhà hát Nghệ thuật truyền thống tỉnh|Trường Trung cấp Thể dục thể thao tỉnh
|Bệnh viện Đa khoa khu vực Ngọc Lặc|Trường Cao đẳng Văn hóa Nghệ thuật Thanh Hóa
|Ban Quản lý Khu bảo tồn thiên nhiên Pù Luông|Trung tâm Quy hoạch và Kiểm định xây dựng tỉnh
|Trung tâm Kỹ thuật Tài nguyên và Môi trường tỉnh|Trung tâm Phục vụ hành chính công tỉnh"""
AGENCY_CHI_BO = """Sở Ngoại vụ|Ban Dân tộc tỉnh|Hội Chữ thập đỏ tỉnh|Liên minh Hợp tác xã tỉnh
|Liên hiệp các Hội Khoa học và Kỹ thuật tỉnh|Hội Văn học Nghệ thuật tỉnh|Hội Nhà báo tỉnh
|Hội Luật gia tỉnh|Hội Người mù tỉnh|Hội Đông y tỉnh|Hội Khuyến học tỉnh
|Liên hiệp các tổ chức hữu nghị tỉnh|Hội Cựu thanh niên xung phong tỉnh
|Hội Nạn nhân chất độc da cam/dioxin tỉnh|Hội Làm vườn tỉnh|Hội Người cao tuổi tỉnh
|Hội Kiến trúc sư tỉnh|Trung tâm Xúc tiến đầu tư, thương mại và du lịch tỉnh
|Chi cục Văn thư - Lưu trữ tỉnh|Trung tâm Dịch vụ đấu giá tài sản tỉnh
|Trung tâm Trợ giúp pháp lý nhà nước tỉnh|Hội Bảo trợ người khuyết tật và trẻ mồ côi tỉnh"""
SOE_DANG_BO = """Công ty Điện lực Thanh Hóa|Viễn thông Thanh Hóa|Bưu điện tỉnh Thanh Hóa
|Ngân hàng Nông nghiệp và Phát triển nông thôn chi nhánh tỉnh Thanh Hóa
|Ngân hàng TMCP Công Thương chi nhánh Thanh Hóa
|Ngân hàng TMCP Đầu tư và Phát triển chi nhánh Thanh Hóa
|Ngân hàng TMCP Ngoại thương chi nhánh Thanh Hóa|Ngân hàng Chính sách xã hội chi nhánh tỉnh
|Công ty Xăng dầu Thanh Hóa|Công ty Cổ phần Xi măng Bỉm Sơn|Công ty Cổ phần Mía đường Lam Sơn
|Công ty Cổ phần Cấp nước Thanh Hóa|Công ty Cổ phần Môi trường và Công trình đô thị Thanh Hóa
|Công ty TNHH MTV Sông Chu|Công ty TNHH MTV Lâm nghiệp Lang Chánh
|Công ty TNHH MTV Lâm nghiệp Như Xuân
|Công ty TNHH MTV Lâm nghiệp Ngọc Lặc|Công ty TNHH MTV Lâm nghiệp Thạch Thành
|Công ty TNHH MTV Lâm nghiệp Bá Thước|Công ty Cổ phần Cảng Thanh Hóa
|Công ty Cổ phần Xây dựng Giao thông Thanh Hóa|Công ty Cổ phần Dược - Vật tư y tế Thanh Hóa
|Công ty Cổ phần Quản lý và Xây dựng đường bộ Thanh Hóa|Công ty Cổ phần Lương thực Thanh Hóa
|Công ty Cổ phần Bia Thanh Hóa|Công ty TNHH MTV Xổ số kiến thiết Thanh Hóa
|Công ty Cổ phần Đầu tư Phát triển nhà Thanh Hóa|Công ty Cổ phần Cơ khí Xây lắp Thanh Hóa
|Công ty Cổ phần Khoáng sản Thanh Hóa|Công ty TNHH MTV Thủy lợi Sông Mã"""
SOE_CHI_BO = """Công ty Cổ phần Vận tải Thanh Hóa|Công ty Cổ phần Giống cây trồng Thanh Hóa
|Công ty Bảo Việt Thanh Hóa|Công ty Cổ phần Sách và Thiết bị giáo dục Thanh Hóa
|Công ty Cổ phần In Thanh Hóa|Công ty Cổ phần Tư vấn Xây dựng Thanh Hóa
|Công ty Cổ phần Thương mại Thanh Hóa|Công ty Cổ phần Du lịch Thanh Hóa
|Công ty Cổ phần Nông sản Thanh Hóa|Công ty Cổ phần Thủy sản Thanh Hóa
|Công ty Cổ phần Muối Thanh Hóa|Công ty Cổ phần Phân bón Thanh Hóa
|Công ty Cổ phần Nước sạch nông thôn Thanh Hóa|Công ty Cổ phần Gốm sứ Thanh Hóa
|Công ty Cổ phần Vật tư nông nghiệp Thanh Hóa|Công ty Cổ phần Kiểm định xây dựng Thanh Hóa"""
PRIVATE_KINDS = (
    "Công ty Cổ phần Đầu tư và Xây dựng",
    "Công ty TNHH Thương mại và Dịch vụ",
    "Công ty Cổ phần Tập đoàn",
    "Công ty TNHH Xây dựng",
    "Công ty Cổ phần Xây lắp",
    "Công ty TNHH Giầy",
    "Công ty Cổ phần May",
    "Công ty TNHH Vận tải",
    "Công ty Cổ phần Vật liệu xây dựng",
    "Công ty Cổ phần Thực phẩm",
)
PRIVATE_BRANDS = (
    "Thành Đạt",
    "Đông Á",
    "Hợp Lực",
    "Phú Quý",
    "Minh Tâm",
    "Bình Minh",
    "Trường Thịnh",
    "Thiên Phú",
    "Tân Thành",
    "Hưng Thịnh",
    "Đại Dương",
    "Sao Mai",
    "Hoàng Hà",
    "Việt Hưng",
    "An Phát",
    "Tiến Đạt",
    "Thanh Bình",
    "Hải Âu",
    "Phúc Lộc",
    "Đức Thành",
    "Long Sơn",
    "Hòa Bình",
    "Nam Việt",
    "Trường Sơn",
    "Xuân Thành",
    "Hồng Phát",
    "Kim Sơn",
    "Thịnh Vượng",
    "Đông Sơn",
    "Hà Trung",
    "Phương Đông",
    "Ngọc Anh",
    "Quảng Xương",
    "Thọ Xuân",
    "Hoằng Hóa",
    "Lam Hồng",
    "Vạn Xuân",
)
INDUSTRIAL_ZONE = (
    "Khu kinh tế Nghi Sơn và các khu công nghiệp",
    "Khu công nghiệp Lễ Môn",
    "Khu công nghiệp Hoàng Long",
    "Khu công nghiệp Bỉm Sơn",
)

# (sector, form, fate) -> how many units; fates: stay, out (transferred out of the bloc),
# merged (into a unit of the bloc), received (from outside), founded.
PLAN = {
    ("agency", "dang_bo", "stay"): 67, ("agency", "chi_bo", "stay"): 18,
    ("soe", "dang_bo", "stay"): 14, ("soe", "chi_bo", "stay"): 4,
    ("private", "dang_bo", "stay"): 6, ("private", "chi_bo", "stay"): 4,
    ("industrial_zone", "dang_bo", "stay"): 3,
    ("agency", "dang_bo", "out"): 3,
    ("soe", "dang_bo", "out"): 14, ("soe", "chi_bo", "out"): 10,
    ("private", "dang_bo", "out"): 10, ("private", "chi_bo", "out"): 16,
    ("industrial_zone", "dang_bo", "out"): 1,
    ("agency", "dang_bo", "merged"): 2, ("agency", "chi_bo", "merged"): 3,
    ("soe", "dang_bo", "merged"): 1, ("soe", "chi_bo", "merged"): 1,
    ("agency", "chi_bo", "received"): 1, ("soe", "dang_bo", "received"): 1,
    ("soe", "chi_bo", "received"): 1, ("private", "dang_bo", "received"): 1,
    ("agency", "dang_bo", "founded"): 1,
}  # fmt: skip
SECTOR_ORDER = ("agency", "soe", "private", "industrial_zone")


@dataclass
class Unit:
    code: str
    name: str
    sector: str
    form: str
    fate: str
    valid_from: date
    valid_to: date | None = None
    into: str | None = None  # merged: the receiving unit

    @property
    def is_db(self) -> bool:
        return self.form == "dang_bo"

    @property
    def enterprise(self) -> bool:
        return self.sector in ("soe", "private")

    def active(self, pi: int) -> bool:
        end = PERIODS[pi].end
        return self.valid_from <= end and (self.valid_to is None or self.valid_to >= end)


def _names(block: str) -> list[str]:
    return [n.strip() for n in block.replace("\n", "").split("|")]


def allocate(total, weights, rng, lo=None, hi=None) -> list[int]:
    """Split a whole `total` over cells in proportion to `weights`, within `lo`..`hi` per cell."""
    n = len(weights)
    lo = lo or [0] * n
    hi = hi or [10**12] * n
    out = list(lo)
    remaining = total - sum(lo)
    assert remaining >= 0 and sum(hi) >= total, (total, sum(lo), sum(hi))
    open_cells = [i for i in range(n) if out[i] < hi[i] and weights[i] > 0]
    while remaining > 0:
        assert open_cells, "allocation cannot fit its caps"
        wsum = sum(weights[i] for i in open_cells)
        added = 0
        for i in open_cells:
            k = min(int(remaining * weights[i] / wsum), hi[i] - out[i])
            out[i] += k
            added += k
        if added == 0:
            i = rng.choices(open_cells, weights=[weights[i] for i in open_cells])[0]
            out[i] += 1
            added = 1
        remaining -= added
        open_cells = [i for i in open_cells if out[i] < hi[i]]
    return out


def pct(num: int, den: int) -> Decimal:
    """100 × num / den rounded half up to 2 decimals, as the form shows it."""
    return (Decimal(100 * num) / Decimal(den)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def tenths(v: int) -> str:
    return f"{v // 10}.{v % 10}"


def rand_date(rng: Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randrange((end - start).days + 1))


# --- the bloc ---------------------------------------------------------------------------------
def build_units(rng: Random) -> list[Unit]:
    pools = {
        ("agency", "dang_bo"): _names(AGENCY_DANG_BO),
        ("agency", "chi_bo"): _names(AGENCY_CHI_BO),
        ("soe", "dang_bo"): _names(SOE_DANG_BO),
        ("soe", "chi_bo"): _names(SOE_CHI_BO),
        ("industrial_zone", "dang_bo"): list(INDUSTRIAL_ZONE),
    }
    brands = list(PRIVATE_BRANDS)
    rng.shuffle(brands)
    private = [f"{rng.choice(PRIVATE_KINDS)} {b}" for b in brands]
    pools[("private", "dang_bo")], pools[("private", "chi_bo")] = private[:17], private[17:]
    for key, names in pools.items():
        if key != ("industrial_zone", "dang_bo"):
            rng.shuffle(names)
    pools[("agency", "dang_bo")].remove("Trung tâm Phục vụ hành chính công tỉnh")

    specs: list[tuple[str, str, str, str]] = []
    for (sector, form, fate), n in PLAN.items():
        for _ in range(n):
            name = (
                "Trung tâm Phục vụ hành chính công tỉnh"
                if fate == "founded"
                else pools[(sector, form)].pop(0)
            )
            prefix = "Đảng bộ" if form == "dang_bo" else "Chi bộ"
            specs.append((sector, form, fate, unicodedata.normalize("NFC", f"{prefix} {name}")))
    start = [s for s in specs if s[2] in ("stay", "out", "merged")]
    added = [s for s in specs if s[2] in ("received", "founded")]
    rng.shuffle(start)
    start.sort(key=lambda s: (SECTOR_ORDER.index(s[0]), s[1] != "dang_bo"))

    units = []
    for i, (sector, form, fate, name) in enumerate(start + added, start=1):
        since = rand_date(rng, date(1990, 1, 1), date(2020, 5, 31))
        units.append(Unit(f"TCCS{i:03d}", name, sector, form, fate, since))
    _plan_changes(units, rng)
    return units


def _plan_changes(units: list[Unit], rng: Random) -> None:
    """Dates of the transfers, merges, receptions and the founding, spread over the term."""
    last_day = TERM_CUT - timedelta(days=10)
    out = [u for u in units if u.fate == "out"]
    batches = [
        date(2020, 10, 15),
        date(2021, 3, 31),
        date(2021, 9, 30),
        date(2022, 3, 15),
        date(2022, 8, 31),
        date(2023, 3, 31),
    ]
    for i, u in enumerate(out):
        decided = batches[i % len(batches)] + timedelta(days=rng.randrange(-20, 21))
        u.valid_to = min(decided, last_day)
    stay_db = [u for u in units if u.fate == "stay" and u.is_db]
    for u in (u for u in units if u.fate == "merged"):
        u.valid_to = rand_date(rng, TERM_START + timedelta(days=60), last_day)
        same_sector = [r for r in stay_db if r.sector == u.sector]
        # A hospital joins a hospital, an association an association, a company a company.
        kind = u.name.split()[2]
        alike = [r for r in same_sector if r.name.split()[2] == kind] or same_sector
        u.into = rng.choice(alike).code
    for u in (u for u in units if u.fate in ("received", "founded")):
        u.valid_from = rand_date(rng, TERM_START + timedelta(days=30), date(2022, 12, 1))


def active_periods(u: Unit) -> list[int]:
    return [pi for pi in range(len(PERIODS)) if u.active(pi)]


# --- members ----------------------------------------------------------------------------------
class Bloc:
    """The plan of every unit's figures; `sim()` derives stocks from the start and the flows."""

    def __init__(self, units: list[Unit], rng: Random):
        self.units, self.rng = units, rng
        self.by_code = {u.code: u for u in units}
        self.cells = {u.code: active_periods(u) for u in units}
        self.start: dict[str, int] = {}  # members at the first period's base (2020-H1 or arrival)
        self.flow: dict[tuple[str, int], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.branch_leaving: dict[tuple[str, int], int] = {}  # members of a departing branch

    def term_cells(self, pred=lambda u: True) -> list[tuple[str, int]]:
        return [(u.code, pi) for u in self.units if pred(u) for pi in self.cells[u.code] if pi > 0]

    def last(self, u: Unit) -> int:
        return self.cells[u.code][-1]

    def merge_period(self, u: Unit) -> int:
        return self.last(u) + 1

    def sim(self) -> tuple[dict[tuple[str, int], int], dict[tuple[str, int], int]]:
        members: dict[tuple[str, int], int] = {}
        merged_in: dict[tuple[str, int], int] = defaultdict(int)
        for pi in range(len(PERIODS)):
            for m in self.units:
                if m.fate == "merged" and self.merge_period(m) == pi:
                    merged_in[(m.into, pi)] += members[(m.code, self.last(m))]
            for u in self.units:
                if pi not in self.cells[u.code]:
                    continue
                f = self.flow[(u.code, pi)]
                base = (
                    self.start[u.code] if pi == self.cells[u.code][0] else members[(u.code, pi - 1)]
                )
                net = (
                    f["members_admitted"]
                    + f["tin"]
                    + merged_in[(u.code, pi)]
                    - sum(f[k] for k in MEMBER_OUTFLOWS)
                )
                members[(u.code, pi)] = base + net
        return members, merged_in

    def bounds(self, u: Unit) -> tuple[int, int]:
        return (32, 10**6) if u.is_db else (3, 29)


def plan_members(bloc: Bloc, rng: Random) -> int:
    """Start stocks and member flows; returns the members of the 5 departing branches."""
    units = bloc.units
    for u in units:
        if not u.is_db:
            size = rng.randint(8, 24)
        elif u.fate in ("out", "merged", "received", "founded"):
            size = rng.randint(38, 100)
        elif u.sector == "agency":
            size = int(rng.lognormvariate(4.75, 0.55)) + 35
        else:
            size = int(rng.lognormvariate(4.9, 0.6)) + 35
        bloc.start[u.code] = size
    start_units = [u for u in units if u.fate in ("stay", "out", "merged")]
    stay_db = [u for u in start_units if u.fate == "stay" and u.is_db]
    gap = TARGETS["start_members"] - sum(bloc.start[u.code] for u in start_units)
    shares = allocate(abs(gap), [bloc.start[u.code] for u in stay_db], rng)
    for u, k in zip(stay_db, shares, strict=True):
        bloc.start[u.code] += k if gap > 0 else -k
    arriving = sum(bloc.start[u.code] for u in units if u.fate in ("received", "founded"))

    def spread(indicator: str, total: int, cells, weight) -> None:
        values = allocate(total, [weight(c) for c in cells], rng)
        for c, v in zip(cells, values, strict=True):
            bloc.flow[c][indicator] += v

    def size_weight(c, spread_=0.5, chi_bo=1.0):
        u = bloc.by_code[c[0]]
        f = chi_bo if not u.is_db else 1.0
        return bloc.start[c[0]] * f * rng.uniform(1 - spread_, 1 + spread_)

    not_merging = bloc.term_cells(lambda u: u.fate != "merged")
    for pi in TERM:
        cells = [c for c in not_merging if c[1] == pi]
        spread(
            "members_admitted", ADMITTED_BY_PERIOD[pi], cells, lambda c: size_weight(c, 0.6, 0.5)
        )
    all_cells = bloc.term_cells()
    leaving_with_units = TARGETS["members_leaving_with_units_and_branches"]
    individual_out = (
        TARGETS["start_members"]
        + TARGETS["members_admitted"]
        + INDIVIDUAL_IN
        - DECEASED
        - TARGETS["members_struck_off"]
        - TARGETS["members_removed"]
        - TARGETS["discipline_expulsion"]
        - leaving_with_units
        + arriving
        - TARGETS["cut_members"]
    )
    spread("tin", INDIVIDUAL_IN, all_cells, lambda c: size_weight(c, 0.7, 0.4))
    spread("tout", individual_out, all_cells, lambda c: size_weight(c, 0.7, 0.4))
    spread("members_deceased", DECEASED, all_cells, size_weight)
    for ind in (
        "members_struck_off",
        "members_removed",
        "discipline_expulsion",
        "discipline_reprimand",
        "discipline_warning",
        "discipline_dismissal",
    ):
        spread(ind, TARGETS[ind], all_cells, size_weight)

    repair_bounds(bloc)
    return fit_leaving_members(bloc, rng)


def repair_bounds(bloc: Bloc) -> None:
    """Move flows from units that would leave their form's size bounds to large đảng bộ."""
    rng = bloc.rng
    big = [u for u in bloc.units if u.fate == "stay" and u.is_db and bloc.start[u.code] >= 120]
    for _ in range(5000):
        members, _ = bloc.sim()
        bad = None
        for u in bloc.units:
            lo, hi = bloc.bounds(u)
            for pi in bloc.cells[u.code]:
                if not lo <= members[(u.code, pi)] <= hi:
                    bad = (u, pi, members[(u.code, pi)], lo, hi)
                    break
            if bad:
                break
        if bad is None:
            return
        u, pi, m, lo, hi = bad
        kinds = ("members_admitted", "tin") if m > hi else MEMBER_OUTFLOWS
        need = m - hi if m > hi else lo - m
        moved = False
        for pj in reversed([p for p in bloc.cells[u.code] if 0 < p <= pi]):
            for kind in kinds:
                have = bloc.flow[(u.code, pj)][kind]
                if have:
                    k = min(have, need)
                    bloc.flow[(u.code, pj)][kind] -= k
                    target = rng.choice([b for b in big if pj in bloc.cells[b.code]])
                    bloc.flow[(target.code, pj)][kind] += k
                    moved = True
                    break
            if moved:
                break
        if not moved:
            bloc.start[u.code] += need if m < lo else -need
            donor = rng.choice(big)
            bloc.start[donor.code] -= need if m < lo else -need
    raise AssertionError("could not bring every unit within its size bounds")


def fit_leaving_members(bloc: Bloc, rng: Random) -> int:
    """Shift start members so the 54 departing TCCSĐ and 5 branches carry exactly 2.366."""
    out = [u for u in bloc.units if u.fate == "out"]
    out_db = [u for u in out if u.is_db]
    donors = [u for u in bloc.units if u.fate == "stay" and u.is_db and bloc.start[u.code] >= 150]
    branch_members = rng.randint(62, 78)
    members, _ = bloc.sim()
    carried = sum(members[(u.code, bloc.last(u))] for u in out)
    gap = TARGETS["members_leaving_with_units_and_branches"] - branch_members - carried
    rng.shuffle(out_db)
    for u in out_db:
        if gap == 0:
            break
        low = min(members[(u.code, pi)] for pi in bloc.cells[u.code])
        k = min(gap, 30) if gap > 0 else max(gap, -max(0, low - 34))
        bloc.start[u.code] += k
        donor = rng.choice(donors)
        bloc.start[donor.code] -= k
        gap -= k
    assert gap == 0, gap
    return branch_members


# --- branches ---------------------------------------------------------------------------------
def plan_branches(bloc: Bloc, branch_members: int, rng: Random) -> dict[tuple[str, int], int]:
    """Branches (chi bộ trực thuộc) of every đảng bộ per period, hitting 1.253 and 1.117."""
    units = bloc.units
    members, _ = bloc.sim()
    first: dict[str, int] = {}
    for u in units:
        if u.is_db:
            m = bloc.start[u.code]
            first[u.code] = max(2, min(m // 5, round(m / rng.uniform(9, 14))))
        else:
            first[u.code] = 0
    start_db = [u for u in units if u.is_db and u.fate in ("stay", "out", "merged")]
    while (gap := TARGETS["start_branches"] - sum(first[u.code] for u in start_db)) != 0:
        u = rng.choice(start_db)
        step = 1 if gap > 0 else -1
        if 2 <= first[u.code] + step <= bloc.start[u.code] // 4:
            first[u.code] += step

    stay_db = [u for u in units if u.fate == "stay" and u.is_db]
    leavers = rng.sample(
        [u for u in stay_db if first[u.code] >= 6 and bloc.start[u.code] >= 150], 5
    )
    sizes = allocate(branch_members, [rng.uniform(0.7, 1.3) for _ in leavers], rng, lo=[8] * 5)
    change: dict[tuple[str, int], int] = defaultdict(int)
    for u, size in zip(leavers, sizes, strict=True):
        pi = rng.randint(2, CUT)
        bloc.flow[(u.code, pi)]["tout"] += size
        bloc.branch_leaving[(u.code, pi)] = size
        change[(u.code, pi)] -= 1
    for m in units:
        if m.fate == "merged":
            change[(m.into, bloc.merge_period(m))] += first[m.code] if m.is_db else 1

    def trajectory() -> dict[tuple[str, int], int]:
        b = {}
        for u in units:
            for pi in bloc.cells[u.code]:
                prev = first[u.code] if pi == bloc.cells[u.code][0] else b[(u.code, pi - 1)]
                b[(u.code, pi)] = prev + change[(u.code, pi)]
        return b

    members, _ = bloc.sim()
    gap = (
        TARGETS["cut_branches"]
        - sum(trajectory()[(u.code, CUT)] for u in stay_db)
        - sum(trajectory()[(u.code, CUT)] for u in units if u.fate in ("received", "founded"))
    )
    step = 1 if gap > 0 else -1
    while gap:
        u, pi = rng.choice(stay_db), rng.randint(1, CUT)
        b = trajectory()
        after = [b[(u.code, p)] + step for p in bloc.cells[u.code] if p >= pi]
        if all(
            2 <= x <= members[(u.code, p)] // 4
            for x, p in zip(after, range(pi, CUT + 1), strict=True)
        ):
            change[(u.code, pi)] += step
            gap -= step
    return trajectory()


# --- everything else --------------------------------------------------------------------------
def plan_probation(bloc: Bloc, rng: Random) -> dict[tuple[str, int], int]:
    """Probationary members and the confirmations (1.084) that move them to full members."""
    prob0: dict[str, int] = {}
    for u in bloc.units:
        m = bloc.start[u.code]
        if u.fate == "merged":
            prob0[u.code] = 0
        elif u.is_db:
            prob0[u.code] = round(m * rng.uniform(0.02, 0.05))
        else:
            prob0[u.code] = rng.choice((0, 0, 1, 1, 2))
    desired: dict[tuple[str, int], int] = {}
    for u in bloc.units:
        cells = bloc.cells[u.code]
        f = cells[0]
        for pi in cells:
            if pi == 0:
                continue
            d = bloc.flow[(u.code, pi - 2)]["members_admitted"] if pi - 2 >= f else 0
            if pi == f + 1:
                d += prob0[u.code] // 2
            elif pi == f + 2:
                d += prob0[u.code] - prob0[u.code] // 2
            desired[(u.code, pi)] = d
    cells = list(desired)
    confirmed = allocate(
        TARGETS["members_confirmed"],
        [desired[c] + 1e-9 for c in cells],
        rng,
        hi=[desired[c] for c in cells],
    )
    for c, v in zip(cells, confirmed, strict=True):
        bloc.flow[c]["members_confirmed"] = v
    prob: dict[tuple[str, int], int] = {}
    for u in bloc.units:
        for pi in bloc.cells[u.code]:
            f = bloc.flow[(u.code, pi)]
            prev = prob0[u.code] if pi == bloc.cells[u.code][0] else prob[(u.code, pi - 1)]
            prob[(u.code, pi)] = prev + f["members_admitted"] - f["members_confirmed"]
    return prob


def plan_flows(bloc: Bloc, branches: dict, rng: Random) -> None:
    """The remaining flows: badges, cards, inspection, supervision, discipline, training."""
    cells = bloc.term_cells()
    members, _ = bloc.sim()
    db_cells = [c for c in cells if bloc.by_code[c[0]].is_db]

    def org_weight(c: tuple[str, int]) -> float:
        return branches[c] * rng.uniform(0.5, 1.5)

    def size(c: tuple[str, int]) -> float:
        return members[c] * rng.uniform(0.5, 1.5)

    for ind in ("inspected_orgs", "supervised_orgs", "disciplined_orgs"):
        caps = [branches[c] for c in db_cells]
        values = allocate(TARGETS[ind], [org_weight(c) for c in db_cells], rng, hi=caps)
        for c, v in zip(db_cells, values, strict=True):
            bloc.flow[c][ind] = v
    for ind in (
        "party_badges_awarded",
        "member_cards_issued",
        "inspected_members",
        "supervised_members",
        "denunciations_received",
    ):
        values = allocate(
            TARGETS[ind], [size(c) for c in cells], rng, hi=[members[c] for c in cells]
        )
        for c, v in zip(cells, values, strict=True):
            bloc.flow[c][ind] = v
    secretaries = allocate(
        TARGETS["secretaries_trained"],
        [(branches[c] + 1) * rng.uniform(0.5, 1.5) for c in cells],
        rng,
    )
    for c, v in zip(cells, secretaries, strict=True):
        bloc.flow[c]["secretaries_trained"] = v
    for pi in TERM:
        here = [c for c in cells if c[1] == pi]
        for c, v in zip(
            here, allocate(CANDIDATES_BY_PERIOD[pi], [size(c) for c in here], rng), strict=True
        ):
            bloc.flow[c]["candidates_trained"] = v
    for c in cells:
        f = bloc.flow[c]
        f["disciplined_members"] = sum(
            f[k]
            for k in (
                "discipline_reprimand",
                "discipline_warning",
                "discipline_dismissal",
                "discipline_expulsion",
            )
        )

    agency = [c for c in cells if bloc.by_code[c[0]].sector == "agency"]
    assigned = allocate(
        TARGETS["tasks_assigned"], [size(c) + 60 for c in agency], rng, lo=[40] * len(agency)
    )
    missed = allocate(
        TARGETS["tasks_assigned"] - TARGETS["tasks_completed"],
        [rng.random() ** 6 for _ in agency],
        rng,
        hi=[3] * len(agency),
    )
    for c, a, s in zip(agency, assigned, missed, strict=True):
        bloc.flow[c]["tasks_assigned"], bloc.flow[c]["tasks_completed"] = a, a - s


def plan_enterprises(bloc: Bloc, rng: Random) -> dict[tuple[str, int], dict[str, int]]:
    """Revenue and budget (in tenths of a billion đồng), employees and income (tenths)."""
    ent = [u for u in bloc.units if u.enterprise]
    scale = {u.code: rng.lognormvariate(0, 0.9) * (2.5 if u.is_db else 0.6) for u in ent}
    staff = {
        u.code: int(rng.lognormvariate(6.0, 0.6) if u.is_db else rng.uniform(30, 160)) for u in ent
    }
    income = {u.code: rng.uniform(6.5, 12.5) for u in ent}
    cells = [(u.code, pi) for u in ent for pi in bloc.cells[u.code]]
    term = [c for c in cells if c[1] > 0]
    revenue = allocate(
        int(TARGETS["revenue_bn_vnd"] * 10),
        [scale[c[0]] * rng.uniform(0.8, 1.2) for c in term],
        rng,
        lo=[30] * len(term),
    )
    budget = allocate(
        int(TARGETS["state_budget_paid_bn_vnd"] * 10),
        [r * rng.uniform(0.5, 1.5) for r in revenue],
        rng,
        lo=[1] * len(term),
        hi=[r // 4 for r in revenue],
    )
    out: dict[tuple[str, int], dict[str, int]] = defaultdict(dict)
    for c, r, b in zip(term, revenue, budget, strict=True):
        out[c]["revenue_bn_vnd"], out[c]["state_budget_paid_bn_vnd"] = r, b
    for c in cells:
        drift = 1 + 0.01 * (c[1] - 3) * rng.uniform(-1, 1)
        out[c]["employees"] = max(12, round(staff[c[0]] * drift))
        out[c]["avg_income_mn_vnd_month"] = round(10 * income[c[0]] * (1 + 0.025 * (c[1] - 6)))
    at_cut = [(u.code, CUT) for u in ent if u.active(CUT)]
    sized = allocate(
        EMPLOYEES_AT_CUT, [out[c]["employees"] for c in at_cut], rng, lo=[20] * len(at_cut)
    )
    for c, e in zip(at_cut, sized, strict=True):
        out[c]["employees"] = e

    def weighted() -> float:
        w = sum(out[c]["employees"] for c in at_cut)
        return sum(out[c]["employees"] * out[c]["avg_income_mn_vnd_month"] for c in at_cut) / w / 10

    while not 9.44 <= weighted() < 9.48:  # "gần 9,5 triệu đồng/người/tháng"
        c = rng.choice(at_cut)
        step = 1 if weighted() < 9.44 else -1
        out[c]["avg_income_mn_vnd_month"] = max(50, out[c]["avg_income_mn_vnd_month"] + step)
    return out


def plan_culture(bloc: Bloc, rng: Random) -> dict[tuple[str, int], tuple[int, int, int]]:
    """(registered, achieved, model) per unit and period; nested, never falling back."""
    at_cut = [u for u in bloc.units if u.active(CUT)]
    order = at_cut[:]
    rng.shuffle(order)
    level_at_cut = {}
    for i, u in enumerate(order):
        level_at_cut[u.code] = (
            3
            if i < TARGETS["culture_model"]
            else 2
            if i < TARGETS["culture_achieved"]
            else 1
            if i < TARGETS["culture_registered"]
            else 0
        )
    out = {}
    for u in bloc.units:
        cells = bloc.cells[u.code]
        final = level_at_cut.get(u.code, rng.choice((0, 1, 1, 1, 2, 2, 3)))
        reached = sorted(rng.randint(cells[0], cells[-1]) for _ in range(final))
        for pi in cells:
            level = sum(1 for r in reached if r <= pi)
            out[(u.code, pi)] = (int(level >= 1), int(level >= 2), int(level >= 3))
    return out


def plan_target_figures(bloc: Bloc, rng: Random, ratings: dict) -> None:
    """Yearly figures of targets 1, 3, 4, 5: the superior's rating of the unit (> 90% at least
    "hoàn thành", >= 75% "tốt", >= 20% "xuất sắc"), the environment and labour-safety standard
    (> 90%), the action programme (every TCCSĐ) and NQTW4 commitments (every member)."""
    members, _ = bloc.sim()
    for pi in (p for p in TERM if PERIODS[p].closes_year):
        units = [u for u in bloc.units if u.active(pi)]
        n = len(units)
        levels = [4] * (n // 5 + rng.randint(4, 8)) + [2] * (n // 12) + [1]
        levels += [3] * (n - len(levels))
        rng.shuffle(levels)
        below_standard = set(rng.sample(range(n), n // 25))
        for i, (u, level) in enumerate(zip(units, levels, strict=True)):
            r = ratings[(u.code, pi)]
            r["unit_task_rating"] = level
            r["env_safety_standard"] = int(i not in below_standard)
            r["resolution_action_programme"] = 1
            r["members_nqtw4_committed"] = members[(u.code, pi)]


def committee_values(pi: int, rng: Random) -> dict[str, object]:
    """What the bloc committee reports for a period: classes it ran; each year's end, the mass
    organisations rated "vững mạnh" or "xuất sắc" (all four, every year)."""
    values: dict[str, object] = {"bloc_classes_held": rng.randint(3, 6)}
    if PERIODS[pi].closes_year:
        values.update(mass_orgs_total=MASS_ORGS, mass_orgs_rated_strong=MASS_ORGS)
    return values


def plan_ratings(bloc: Bloc, rng: Random, policy_fault: tuple[str, int]) -> dict:
    """Annual ratings in the H2 periods (Hướng dẫn 21-HD/BTCTW: excellent ≤ 20% of good)."""
    members, _ = bloc.sim()
    out: dict[tuple[str, int], dict[str, int]] = {}
    for pi in (p for p in TERM if PERIODS[p].closes_year):
        units = [u for u in bloc.units if u.active(pi)]
        rows = {}
        for u in units:
            m = members[(u.code, pi)]
            rated = m - round(m * rng.uniform(0, 0.03))
            year_cells = [(u.code, p) for p in (pi - 1, pi) if p > 0 and p in bloc.cells[u.code]]
            disciplined = sum(bloc.flow[c]["disciplined_members"] for c in year_cells)
            incomplete = min(rated, disciplined + (1 if rng.random() < 0.08 else 0))
            complete = round(rated * rng.uniform(0.004, 0.035))
            complete = max(0, min(complete, rated - incomplete))
            rows[u.code] = dict(rated=rated, incomplete=incomplete, complete=complete)
        total_rated = sum(r["rated"] for r in rows.values())
        codes = list(rows)
        top = [rows[c]["rated"] - rows[c]["complete"] - rows[c]["incomplete"] for c in codes]
        excellent = allocate(
            round(0.155 * total_rated), [t + 1e-9 for t in top], rng, hi=[t // 6 for t in top]
        )
        for code, t, e in zip(codes, top, excellent, strict=True):
            r = rows[code]
            out[(code, pi)] = {
                "members_rated": r["rated"],
                "members_rated_excellent": e,
                "members_rated_good": t - e,
                "members_rated_complete": r["complete"],
                "members_rated_incomplete": r["incomplete"],
            }
        n = len(units)
        levels = [4] * (n // 5 + rng.randint(5, 9)) + [2] * (n // 20) + [1]
        levels += [3] * (n - len(levels))
        rng.shuffle(levels)
        for u, lv in zip(units, levels, strict=True):
            out[(u.code, pi)]["org_rating"] = lv
    code, pi = policy_fault
    fault = out[(code, pi)]
    shift = fault["members_rated_good"] // 5 - fault["members_rated_excellent"] + 3
    fault["members_rated_excellent"] += shift
    fault["members_rated_good"] -= shift
    donors = [c for c in out if c[1] == pi and c[0] != code]
    for c in sorted(donors, key=lambda c: -out[c]["members_rated_excellent"]):
        k = min(shift, out[c]["members_rated_excellent"])
        out[c]["members_rated_excellent"] -= k
        out[c]["members_rated_good"] += k
        shift -= k
        if not shift:
            break
    return out


# --- writing ----------------------------------------------------------------------------------
def submission_values(
    bloc, u, pi, members, prob, branches, meeting, culture, ent, ratings, merged_in, with_rates
):
    """Every value one unit reports for one period, in catalog order, as text or number."""
    f = bloc.flow[(u.code, pi)]
    m, p = members[(u.code, pi)], prob[(u.code, pi)]
    v: dict[str, object] = {
        "branches_total": branches[(u.code, pi)],
        "members_total": m,
        "members_official": m - p,
        "members_probationary": p,
    }
    if pi > 0:
        v.update(
            {
                "members_admitted": f["members_admitted"],
                "members_confirmed": f["members_confirmed"],
                # a merged unit's members come with it (the registry's predecessors)
                "members_transferred_in": f["tin"],
                "members_transferred_out": f["tout"],
                "members_deceased": f["members_deceased"],
                "members_struck_off": f["members_struck_off"],
                "members_removed": f["members_removed"],
                "party_badges_awarded": f["party_badges_awarded"],
                "member_cards_issued": f["member_cards_issued"],
                "candidates_trained": f["candidates_trained"],
            }
        )
    if (u.code, pi) in ratings:
        r = ratings[(u.code, pi)]
        v.update(r)
        if with_rates:
            good = r["members_rated_excellent"] + r["members_rated_good"]
            v["members_rated_good_pct"] = pct(good, r["members_rated"])
    if u.is_db:
        v["branches_meeting_regularly"] = meeting[(u.code, pi)]
        if with_rates:
            v["branches_meeting_regularly_pct"] = pct(meeting[(u.code, pi)], branches[(u.code, pi)])
    if pi > 0:
        v["secretaries_trained"] = f["secretaries_trained"]
    reg, ach, mod = culture[(u.code, pi)]
    v.update(culture_registered=reg, culture_achieved=ach, culture_model=mod)
    if pi > 0 and u.sector == "agency":
        v["tasks_assigned"], v["tasks_completed"] = f["tasks_assigned"], f["tasks_completed"]
        if with_rates:
            v["tasks_completed_pct"] = pct(f["tasks_completed"], f["tasks_assigned"])
    if u.enterprise:
        e = ent[(u.code, pi)]
        if pi > 0:
            v["revenue_bn_vnd"] = Decimal(tenths(e["revenue_bn_vnd"]))
            v["state_budget_paid_bn_vnd"] = Decimal(tenths(e["state_budget_paid_bn_vnd"]))
        v["employees"] = e["employees"]
        v["avg_income_mn_vnd_month"] = Decimal(tenths(e["avg_income_mn_vnd_month"]))
    if pi > 0:
        for k in (
            "inspected_orgs",
            "inspected_members",
            "supervised_orgs",
            "supervised_members",
            "disciplined_members",
            "discipline_reprimand",
            "discipline_warning",
            "discipline_dismissal",
            "discipline_expulsion",
            "disciplined_orgs",
            "denunciations_received",
        ):
            v[k] = f[k]
    return v


def write_csv(
    path: Path,
    unit_code: str,
    period: str,
    values: dict,
    notes: dict,
    bom: bool = False,
    with_note_column: bool = False,
) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    header = ["unit_code", "period", "indicator_code", "value"]
    note_column = with_note_column or bool(notes)
    w.writerow(header + (["note"] if note_column else []))
    for code, value in values.items():
        row = [unit_code, period, code, str(value)]
        w.writerow(row + ([notes.get(code, "")] if note_column else []))
    path.write_text(("\ufeff" if bom else "") + buf.getvalue(), encoding="utf-8")


def freeze_xlsx(path: Path, stamp: date) -> None:
    """Give an .xlsx fixed zip and document timestamps, so reruns write identical bytes."""
    with zipfile.ZipFile(path) as z:
        parts = [(i.filename, z.read(i)) for i in z.infolist()]
    when = f"{stamp.isoformat()}T08:00:00Z".encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts:
            if name == "docProps/core.xml":
                data = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", when, data)
            info = zipfile.ZipInfo(name, date_time=(stamp.year, stamp.month, stamp.day, 8, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)


def main() -> None:
    rng = Random(SEED)
    catalog = load_catalog()
    units = build_units(rng)
    bloc = Bloc(units, rng)
    branch_members = plan_members(bloc, rng)
    branches = plan_branches(bloc, branch_members, rng)
    members, merged_in = bloc.sim()
    assert sum(members[(u.code, CUT)] for u in units if u.active(CUT)) == TARGETS["cut_members"]
    prob = plan_probation(bloc, rng)
    plan_flows(bloc, branches, rng)
    meeting = {c: min(b, round(b * rng.uniform(0.78, 0.92))) for c, b in branches.items()}
    ent = plan_enterprises(bloc, rng)
    culture = plan_culture(bloc, rng)

    agency_stay = [u for u in units if u.fate == "stay" and u.sector == "agency" and u.is_db]
    policy_unit = rng.choice([u for u in agency_stay if bloc.start[u.code] >= 150])
    policy_fault = (policy_unit.code, 5)  # 2022-H2 closes 2022
    ratings = plan_ratings(bloc, rng, policy_fault)
    with_rates = {u.code: rng.random() < 0.35 for u in units}
    committee_rng = Random(SEED + 1)  # its own stream: the TCCSĐ files stay as they were
    plan_target_figures(bloc, committee_rng, ratings)
    sentence_values = plan_sentence_figures(bloc, branches)

    if SUBMISSIONS.exists():
        shutil.rmtree(SUBMISSIONS)
    write_registry(units)

    not_applicable_unit = rng.choice([u for u in agency_stay if u.code != policy_unit.code])
    not_applicable = (not_applicable_unit.code, 5)
    notes_by_cell = submission_notes(bloc)
    xlsx_count = csv_count = 0
    for pi, period in enumerate(PERIODS):
        folder = SUBMISSIONS / period.code
        folder.mkdir(parents=True)
        stamp = period.end + timedelta(days=12)
        own = committee_values(pi, committee_rng)
        for code, values in committee_body_values(pi, own).items():
            write_csv(folder / f"{code}.csv", code, period.code, values, {})
            csv_count += 1
        for u in units:
            if not u.active(pi):
                continue
            values = submission_values(
                bloc,
                u,
                pi,
                members,
                prob,
                branches,
                meeting,
                culture,
                ent,
                ratings,
                merged_in,
                with_rates[u.code],
            )
            values |= sentence_values.get((u.code, pi), {})
            notes = notes_by_cell.get((u.code, pi), {})
            name = u.code
            if (u.code, pi) == not_applicable:
                values["revenue_bn_vnd"] = Decimal("1.5")
                notes = {**notes, "revenue_bn_vnd": "Thu từ hoạt động dịch vụ sự nghiệp"}
                name += "-chi-tieu-khong-ap-dung"
            elif (u.code, pi) == policy_fault:
                name += "-xuat-sac-vuot-20pct"
            elif not notes and rng.random() < 1 / 3:
                xlsx = {k: (float(x) if isinstance(x, Decimal) else x) for k, x in values.items()}
                path = folder / f"{name}.xlsx"
                unit = {"unit_code": u.code, "name": u.name, "sector": u.sector, "form": u.form}
                write_form(path, unit, period.code, catalog, xlsx)
                freeze_xlsx(path, stamp)
                xlsx_count += 1
                continue
            write_csv(
                folder / f"{name}.csv",
                u.code,
                period.code,
                values,
                notes,
                bom=rng.random() < 0.15,
                with_note_column=rng.random() < 0.1,
            )
            csv_count += 1
    faults = write_faulty_files(bloc, rng, members, prob, branches)
    print(
        f"Đã ghi {len(units)} đơn vị, {csv_count} tệp CSV và {xlsx_count} tệp Excel "
        f"(kể cả 2 tệp có cảnh báo cố ý) và {len(faults)} tệp lỗi cố ý."
    )
    verify(bloc, branch_members, faults, policy_fault, not_applicable)
    verify_sentence_figures(bloc)


# Why a unit left the bloc, as the registry says it (SPEC §4.1 `end_reason`).
END_REASON = {"out": "transferred_out", "merged": "merged"}


def write_registry(units: list[Unit]) -> None:
    """The registry with its history (SPEC §4.1): a unit that ended says why (`end_reason`),
    and a unit that took merged units over lists them (`predecessors`); their members are then
    in its stocks, not among its transfers in."""
    taken_over = defaultdict(list)
    for u in units:
        if u.fate == "merged":
            taken_over[u.into].append(u.code)
    with REGISTRY.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(
            ["unit_code", "name", "sector", "form", "valid_from", "valid_to"]
            + ["predecessors", "end_reason"]
        )
        for u in units:
            to = u.valid_to.isoformat() if u.valid_to else ""
            w.writerow(
                [u.code, u.name, u.sector, u.form, u.valid_from.isoformat(), to]
                + [";".join(taken_over[u.code]), END_REASON.get(u.fate, "")]
            )
        w.writerows(row + ["", ""] for row in committee_registry_rows())


def submission_notes(bloc: Bloc) -> dict[tuple[str, int], dict[str, str]]:
    """Notes the units write beside the values that record a merge or a departing branch."""
    notes: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
    members, _ = bloc.sim()
    merged_in_by = {
        m.code: members[(m.code, bloc.last(m))] for m in bloc.units if m.fate == "merged"
    }
    for m in bloc.units:
        if m.fate == "merged":
            pi = bloc.merge_period(m)
            joined = m.valid_to + timedelta(days=1)
            notes[(m.into, pi)]["members_total"] = (
                f"Gồm {merged_in_by[m.code]} đảng viên của {m.name} sáp nhập ngày {joined:%d/%m/%Y}"
            )
            notes[(m.into, pi)]["branches_total"] = f"Tiếp nhận {m.name}"
    for (code, pi), size in bloc.branch_leaving.items():
        notes[(code, pi)]["members_transferred_out"] = (
            f"Gồm {size} đảng viên của 01 chi bộ trực thuộc chuyển về đảng bộ huyện"
        )
        notes[(code, pi)]["branches_total"] = "Giảm 01 chi bộ chuyển về đảng bộ huyện"
    for u in bloc.units:
        if u.fate in ("received", "founded"):
            verb = "Tiếp nhận từ ngoài Khối" if u.fate == "received" else "Thành lập"
            notes[(u.code, bloc.cells[u.code][0])]["members_total"] = (
                f"{verb} ngày {u.valid_from:%d/%m/%Y} với {bloc.start[u.code]} đảng viên"
            )
    return notes


def write_faulty_files(bloc: Bloc, rng: Random, members, prob, branches) -> dict[str, str]:
    """The deliberately faulty files; returns their relative paths and what each must produce."""
    cut = SUBMISSIONS / PERIODS[CUT].code
    faults: dict[str, str] = {}
    victim = rng.choice([u for u in bloc.units if u.fate == "stay"])
    corrupt = cut / f"{victim.code}-tep-hong.xlsx"
    corrupt.write_bytes(rng.randbytes(6000))
    faults[corrupt.name] = "rejected"

    unknown = cut / "TCCS999-don-vi-la.csv"
    write_csv(
        unknown,
        "TCCS999",
        PERIODS[CUT].code,
        {
            "branches_total": 0,
            "members_total": 18,
            "members_official": 17,
            "members_probationary": 1,
        },
        {},
    )
    faults[unknown.name] = "unknown_unit"

    gone = rng.choice([u for u in bloc.units if u.fate == "out" and u.valid_to.year == 2021])
    last = bloc.last(gone)
    stale = cut / f"{gone.code}-da-chuyen-di.csv"
    m, p = members[(gone.code, last)], prob[(gone.code, last)]
    write_csv(
        stale,
        gone.code,
        PERIODS[CUT].code,
        {
            "branches_total": branches[(gone.code, last)],
            "members_total": m,
            "members_official": m - p,
            "members_probationary": p,
        },
        {},
    )
    faults[stale.name] = "completeness"

    wrong = rng.choice([u for u in bloc.units if u.fate == "stay" and u.code != victim.code])
    header = cut / f"{wrong.code}-sai-tieu-de.csv"
    m, p = members[(wrong.code, CUT)], prob[(wrong.code, CUT)]
    lines = ["ma_don_vi;ky;chi_tieu;gia_tri"] + [
        f"{wrong.code};{PERIODS[CUT].code};{k};{v}"
        for k, v in (("members_total", m), ("members_official", m - p), ("members_probationary", p))
    ]
    header.write_text("\n".join(lines) + "\n", encoding="utf-8")
    faults[header.name] = "rejected"
    return faults


# --- the report's other sentences (report-outline.md) ----------------------------------------
# The bloc committee's bodies besides the Đảng ủy Khối itself (COMMITTEE): units of sector
# `committee` (SPEC §3), each with its own form; never TCCSĐ.
COMMITTEE_BODIES = (
    ("DUKVP", "Văn phòng Đảng ủy Khối", "van_phong"),
    ("DUKBTC", "Ban Tổ chức Đảng ủy Khối", "ban_to_chuc"),
    ("DUKBTG", "Ban Tuyên giáo Đảng ủy Khối", "ban_tuyen_giao"),
    ("DUKUBKT", "Ủy ban Kiểm tra Đảng ủy Khối", "uy_ban_kiem_tra"),
)
COMMITTEE_FORMS = {COMMITTEE[0]: COMMITTEE[3]} | {c: f for c, _, f in COMMITTEE_BODIES}
# What each body reports over the term (2020-H2 .. 2023-H1), as report 191-BC/ĐUK publishes it.
COMMITTEE_FLOWS = {
    "DUK": {"branches_attended_bloc": 264, "bloc_events_working_session": 6},
    "DUKVP": {"petitions_forwarded": 45, "bloc_events_office": 1, "bloc_attendees_office": 170},
    "DUKBTC": {
        "bloc_events_candidates": 30, "bloc_attendees_candidates": 3728,
        "bloc_events_new_members": 10, "bloc_attendees_new_members": 1555,
        "bloc_events_secretaries": 4, "bloc_attendees_secretaries": 1063,
        "orgs_out_local": 44, "orgs_out_dntw": 10, "orgs_received": 4, "orgs_founded": 1,
        "branches_out": 5, "members_out_with_orgs": 2366,
        "cadre_appraisals": 262, "committee_posts_filled": 195, "political_vetting": 3467,
        "contest_entrants_secretary": 75, "contest_units_secretary": 64,
    },
    "DUKBTG": {
        "bloc_events_students": 15, "bloc_attendees_students": 1807,
        "bloc_events_enterprise": 5, "bloc_attendees_enterprise": 299,
        "bloc_events_bcd35": 2, "bloc_attendees_bcd35": 380,
        "bloc_events_reportage": 12, "bloc_events_film": 3, "bloc_attendees_film": 15000,
        "bloc_events_outreach": 2, "bloc_attendees_outreach": 600,
        "bloc_events_conference": 15, "bloc_attendees_conference": 85000,
        "bloc_conf_bridge_points": 660,
        "bloc_events_briefing": 19, "bloc_attendees_briefing": 2850,
        "contest_entrants_essay": 207, "contest_awards_essay": 1, "contest_entrants_speaker": 45,
        "contest_entrants_ideology": 2, "contest_awards_ideology": 1,
    },
    "DUKUBKT": {"bloc_events_inspection": 6, "bloc_attendees_inspection": 750},
}  # fmt: skip
COMMITTEE_STOCKS = {
    "DUKBTG": {"ideology_team_members": 30, "speakers_provincial": 4, "speakers_bloc": 11}
}
# "UBKT 2 cấp": the bloc committee's Ủy ban Kiểm tra and those of the đảng bộ cơ sở, summed.
UBKT_TOTALS = {
    "ubkt_ktgs_orgs": 419, "ubkt_discipline_orgs": 196, "ubkt_fee_orgs": 368,
    "ubkt_fee_members": 3840, "ubkt_violation_members": 212, "ubkt_violation_orgs": 4,
    "ubkt_thematic_orgs": 583, "ubkt_thematic_members": 3228,
}  # fmt: skip
# TCCSĐ flows over the term: (total, which units report it). Published, except Covid-19
# donations (the report leaves the figure to the draft), in tenths of a tỷ đồng.
HEALTH_NAMES = ("Bệnh viện", "Sở Y tế", "Kiểm soát bệnh tật", "Cao đẳng Y tế")
UNIT_FLOWS = {
    "advised_docs_scheme": (255, "agency"), "advised_docs_resolution": (430, "agency"),
    "advised_docs_directive": (68, "agency"), "advised_docs_plan": (914, "agency"),
    "advised_docs_other": (90000, "agency"),
    "health_staff_sent": (295, "health"), "health_beds_added": (950, "health"),
    "health_postgrad_sent": (500, "health"), "health_research": (1268, "health"),
    "health_research_provincial": (8, "health"), "health_testing_volunteers": (1000, "health"),
    "online_contest_entries": (92000, "all"), "commended_collectives": (582, "all"),
    "commended_individuals": (1303, "all"), "branches_attended_standing": (1196, "dang_bo"),
}  # fmt: skip
COVID_TENTHS = {"agency": 412, "enterprises": 1086}  # 41,2 + 108,6 tỷ đồng
THEMATIC_AT_CUT, PLAN_NOT_MET_AT_CUT = 76, 2  # 76/121 "trên 60%"; 29/31 "trên 90%"


def committee_registry_rows() -> list[list[str]]:
    """The registry's rows of the bloc committee and its bodies (sector `committee`)."""
    since = COMMITTEE_SINCE.isoformat()
    bodies = [COMMITTEE, *((c, n, "committee", f) for c, n, f in COMMITTEE_BODIES)]
    return [[*body, since, ""] for body in bodies]


def spread(total: int, n: int) -> list[int]:
    """`total` over `n` periods, as evenly as whole numbers go (the first ones get the rest)."""
    return [total // n + (1 if i < total % n else 0) for i in range(n)]


def committee_body_values(pi: int, own: dict[str, object]) -> dict[str, dict[str, object]]:
    """Each committee unit's values for a period: the Đảng ủy Khối's `own` (committee_values)
    and every body's share of its term totals (the baseline period, before the term, like the
    term's first)."""
    out: dict[str, dict[str, object]] = {COMMITTEE[0]: dict(own)}
    for code, _, _ in COMMITTEE_BODIES:
        out[code] = {}
    at = max(pi - 1, 0)
    for code, flows in COMMITTEE_FLOWS.items():
        out[code] |= {k: spread(total, len(TERM))[at] for k, total in flows.items()}
    for code, stocks in COMMITTEE_STOCKS.items():
        out[code] |= stocks
    out["DUKUBKT"] |= {k: spread(t // 3, len(TERM))[at] for k, t in UBKT_TOTALS.items()}
    return out


def plan_sentence_figures(bloc: Bloc, branches: dict) -> dict[tuple[str, int], dict[str, object]]:
    """The TCCSĐ's values behind the report's other sentences, per unit and period: flows
    spread over the units in proportion to their members, stocks as the published rates."""
    members, _ = bloc.sim()
    out: dict[tuple[str, int], dict[str, object]] = defaultdict(dict)
    by_code = bloc.by_code

    rng = Random(SEED + 2)  # its own stream: the other figures stay as they were

    def flow(code: str, total: int, pred, periods=TERM) -> None:
        """`total` over the units in proportion to their members in `periods`, each unit's
        share spread evenly over its periods (steady: no plausibility warning)."""
        cells = {u.code: [p for p in bloc.cells[u.code] if p in periods] for u in bloc.units}
        units = [u.code for u in bloc.units if pred(u) and cells[u.code]]
        weights = [sum(members[(c, p)] for p in cells[c]) + 1 for c in units]
        for c, share in zip(units, allocate(total, weights, rng), strict=True):
            for p, value in zip(cells[c], spread(share, len(cells[c])), strict=True):
                out[(c, p)][code] = value

    scopes = {
        "agency": lambda u: u.sector == "agency",
        "health": lambda u: u.sector == "agency" and any(n in u.name for n in HEALTH_NAMES),
        "all": lambda u: True,
        "dang_bo": lambda u: u.is_db,
    }
    for code, (total, scope) in UNIT_FLOWS.items():
        flow(code, total, scopes[scope])
    for code, total in UBKT_TOTALS.items():
        flow(code, total - total // 3, scopes["dang_bo"])
    covid = range(3, 4)  # reported once, in 2021-H2 (the year of the donation drives)
    flow("covid_tenths", COVID_TENTHS["agency"], lambda u: u.sector == "agency", covid)
    flow("covid_tenths_e", COVID_TENTHS["enterprises"], lambda u: u.sector != "agency", covid)
    for cell in list(out):
        tenths_ = out[cell].pop("covid_tenths", 0) + out[cell].pop("covid_tenths_e", 0)
        if cell[1] in covid:
            out[cell]["covid_donations_bn_vnd"] = Decimal(tenths(tenths_))
    at_cut = sorted(u.code for u in bloc.units if u.active(CUT))
    thematic = set(at_cut[::2][:THEMATIC_AT_CUT])
    thematic |= set(at_cut[1::2][: THEMATIC_AT_CUT - len(thematic)])
    enterprises = [c for c in at_cut if by_code[c].enterprise]
    plan_missed = set(enterprises[3 : 3 + PLAN_NOT_MET_AT_CUT])
    for u in bloc.units:
        for pi in bloc.cells[u.code]:
            m = members[(u.code, pi)]
            v = out[(u.code, pi)]
            v["working_rules_issued"] = 1
            v["thematic_resolutions_issued"] = int(u.code in thematic and pi >= 3)
            v["members_studied"] = round(Decimal(m) * Decimal("0.98"))
            v["members_residence_introduced"] = m
            if u.is_db:
                b = branches[(u.code, pi)]
                v["branches_secretary_is_head"] = b - b * 35 // 1000
            if u.enterprise:
                v["business_plan_met"] = int(u.code not in plan_missed or pi < CUT)
    return out


def verify_sentence_figures(bloc: Bloc) -> None:
    """Recompute the published totals of the report's other sentences from the files."""
    data, _, _ = read_back()
    periods = [PERIODS[pi].code for pi in TERM]

    def term(code: str, units) -> Decimal:
        return sum(data.get((u, p), {}).get(code, Decimal(0)) for u in units for p in periods)

    tccsd = [u.code for u in bloc.units]
    for body, flows in COMMITTEE_FLOWS.items():
        for code, total in flows.items():
            assert term(code, [body]) == total, (body, code)
    totals = {code: total for code, (total, _) in UNIT_FLOWS.items()} | UBKT_TOTALS
    for code, total in totals.items():
        assert term(code, [*tccsd, "DUKUBKT"]) == total, code
    at_cut = [u.code for u in bloc.units if u.active(CUT)]
    cut = PERIODS[CUT].code

    def stock(code: str) -> Decimal:
        return sum(data[(u, cut)].get(code, Decimal(0)) for u in at_cut)

    members = stock("members_total")
    assert round(100 * stock("members_studied") / members) == 98
    assert stock("members_residence_introduced") == members
    assert 95 < 100 * stock("branches_secretary_is_head") / stock("branches_total") < 100
    assert stock("thematic_resolutions_issued") == THEMATIC_AT_CUT
    assert stock("business_plan_met") == sum(bloc.by_code[u].enterprise for u in at_cut) - 2
    print("Các số liệu khác của báo cáo (đoàn thể, lớp bồi dưỡng, chuyển giao...) đều khớp.")


# --- reading back -----------------------------------------------------------------------------
def read_back() -> tuple[dict, list[str], list[str]]:
    """Read every submission as the pipeline does: {(unit, period): {code: Decimal}}."""
    registry = {r["unit_code"]: r for r in csv.DictReader(REGISTRY.open(encoding="utf-8"))}
    accepted: dict[tuple[str, str], dict[str, Decimal]] = {}
    rejected, findings = [], []
    for path in sorted(SUBMISSIONS.rglob("*.*")):
        if path.suffix == ".xlsx":
            try:
                parsed = read_form(path)
            except UnreadableFile:
                rejected.append(path.name)
                continue
            rows = [(v.unit_code, v.period, v.indicator_code, v.raw) for v in parsed.values]
        else:
            reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig")))
            if not {"unit_code", "period", "indicator_code", "value"} <= set(reader.fieldnames):
                rejected.append(path.name)
                continue
            rows = [(r["unit_code"], r["period"], r["indicator_code"], r["value"]) for r in reader]
        [(unit_code, period)] = {(r[0], r[1]) for r in rows}
        reg = registry.get(unit_code)
        if reg is None:
            findings.append(f"unknown_unit {path.name}")
            continue
        end = Period.parse(period).end.isoformat()
        if not (reg["valid_from"] <= end and (not reg["valid_to"] or reg["valid_to"] >= end)):
            findings.append(f"completeness {path.name}")
            continue
        assert (unit_code, period) not in accepted, f"two submissions for {unit_code} {period}"
        accepted[(unit_code, period)] = {r[2]: Decimal(r[3]) for r in rows}
    return accepted, rejected, findings


def verify(bloc: Bloc, branch_members: int, faults, policy_fault, not_applicable) -> None:
    """Recompute every published total from the files written and check the bloc's rules."""
    catalog = load_catalog()
    data, rejected, findings = read_back()
    units = bloc.units
    assert sorted(rejected) == sorted(k for k, v in faults.items() if v == "rejected"), rejected
    assert sorted(findings) == sorted(
        f"{v} {k}" for k, v in faults.items() if v in ("unknown_unit", "completeness")
    ), findings
    code = {p: p.code for p in PERIODS}

    def val(u: Unit, pi: int, ind: str) -> Decimal:
        return data[(u.code, code[PERIODS[pi]])].get(ind, Decimal(0))

    got: dict[str, object] = {}
    at = {pi: [u for u in units if u.active(pi)] for pi in range(len(PERIODS))}
    for u in units:
        for pi in range(len(PERIODS)):
            assert ((u.code, PERIODS[pi].code) in data) == u.active(pi), (u.code, pi)
    got["start_units"] = len(at[BASE])
    got["cut_units"] = len(at[CUT])
    for form in ("dang_bo", "chi_bo"):
        got[f"start_{form}"] = sum(u.form == form for u in at[BASE])
        got[f"cut_{form}"] = sum(u.form == form for u in at[CUT])
    for sector in SECTOR_ORDER:
        got[f"cut_{sector}"] = sum(u.sector == sector for u in at[CUT])
    for key, pi in (("start", BASE), ("cut", CUT)):
        got[f"{key}_branches"] = sum(val(u, pi, "branches_total") for u in at[pi])
        got[f"{key}_members"] = sum(val(u, pi, "members_total") for u in at[pi])

    def term(ind: str, pred=lambda u: True) -> Decimal:
        return sum(val(u, pi, ind) for pi in TERM for u in at[pi] if pred(u))

    for ind in ("members_admitted", "members_confirmed", *FLOW_TOTALS, "disciplined_members"):
        got[ind] = term(ind)
    got["tasks_assigned"] = term("tasks_assigned", lambda u: u.sector == "agency")
    got["tasks_completed"] = term("tasks_completed", lambda u: u.sector == "agency")
    for ind in ("revenue_bn_vnd", "state_budget_paid_bn_vnd"):
        got[ind] = term(ind, lambda u: u.enterprise)
    for ind in ("culture_registered", "culture_achieved", "culture_model"):
        got[ind] = sum(val(u, CUT, ind) for u in at[CUT])
    fates = defaultdict(int)
    for u in units:
        fates[u.fate] += 1
    got["units_transferred_out"], got["units_merged"] = fates["out"], fates["merged"]
    got["units_received"], got["units_founded"] = fates["received"], fates["founded"]
    last = {u.code: bloc.last(u) for u in units}
    leaving = sum(val(u, last[u.code], "members_total") for u in units if u.fate == "out")
    got["members_leaving_with_units_and_branches"] = leaving + branch_members
    got["branches_transferred_out"] = len(bloc.branch_leaving)
    for key, target in TARGETS.items():
        assert got[key] == target, f"{key}: {got[key]} != {target}"

    reconcile(bloc, data, at, val, leaving, branch_members)
    check_rules(bloc, data, at, val, catalog, policy_fault, not_applicable)
    ent_cut = [u for u in at[CUT] if u.enterprise]
    staff = sum(val(u, CUT, "employees") for u in ent_cut)
    income = (
        sum(val(u, CUT, "employees") * val(u, CUT, "avg_income_mn_vnd_month") for u in ent_cut)
        / staff
    )
    meeting = sum(val(u, CUT, "branches_meeting_regularly") for u in at[CUT])
    print(
        f"Doanh nghiệp tại 2023-H1: {staff} người lao động, thu nhập bình quân "
        f"{income:.2f} triệu đồng; chi bộ sinh hoạt định kỳ {meeting}/{got['cut_branches']} "
        f"({100 * meeting / got['cut_branches']:.2f}%)."
    )
    assert 15_900 <= staff < 16_000 and Decimal("9.44") <= income < Decimal("9.48")
    assert 80 < 100 * meeting / got["cut_branches"] < 90
    print("Mọi tổng số công bố đều khớp.")


def reconcile(bloc, data, at, val, leaving, branch_members) -> None:
    """Print how the members at the term's start become those at the cut-off, and check it."""
    units = bloc.units

    def term(ind: str) -> Decimal:
        return sum(val(u, pi, ind) for pi in TERM for u in at[pi])

    merged_members = sum(val(u, bloc.last(u), "members_total") for u in units if u.fate == "merged")
    arriving = 0
    for u in units:
        if u.fate in ("received", "founded"):
            f = bloc.cells[u.code][0]
            flows = (
                val(u, f, "members_admitted")
                + val(u, f, "members_transferred_in")
                - sum(
                    val(u, f, k)
                    for k in (
                        "members_transferred_out",
                        "members_deceased",
                        "members_struck_off",
                        "members_removed",
                        "discipline_expulsion",
                    )
                )
            )
            arriving += val(u, f, "members_total") - flows
    start = sum(val(u, BASE, "members_total") for u in at[BASE])
    cut = sum(val(u, CUT, "members_total") for u in at[CUT])
    rows = [
        ("Đảng viên đầu nhiệm kỳ (177 TCCSĐ, 2020-H1)", start),
        ("+ kết nạp", term("members_admitted")),
        ("+ chuyển đến", term("members_transferred_in")),
        ("− chuyển đi (cá nhân và 05 chi bộ trực thuộc)", -term("members_transferred_out")),
        (f"  trong đó: của 05 chi bộ trực thuộc chuyển đi ({branch_members})", None),
        ("− từ trần", -term("members_deceased")),
        ("− xóa tên", -term("members_struck_off")),
        ("− đưa ra khỏi Đảng", -term("members_removed")),
        ("− khai trừ", -term("discipline_expulsion")),
        ("− đi cùng 54 TCCSĐ chuyển khỏi Khối", -leaving),
        (f"  (07 TCCSĐ sáp nhập trong Khối mang theo {merged_members}: không đổi)", None),
        ("+ đến cùng 04 TCCSĐ tiếp nhận và 01 TCCSĐ thành lập", arriving),
    ]
    total = sum(v for _, v in rows if v is not None)
    print("\nĐối chiếu số đảng viên 2020-H1 → 2023-H1")
    for label, v in rows:
        print(f"  {label:<68}{'' if v is None else f'{v:>8}'}")
    print(f"  {'= cuối kỳ tính được':<68}{total:>8}")
    print(f"  {'Đảng viên cuối kỳ báo cáo (121 TCCSĐ, 2023-H1)':<68}{cut:>8}")
    print(f"  (54 TCCSĐ + 05 chi bộ chuyển đi mang theo {leaving + branch_members} đảng viên)\n")
    assert total == cut == TARGETS["cut_members"]


def with_taken_over(bloc, data, unit_code: str, pi: int, prev: dict) -> dict:
    """The unit's stocks of the period before with those of the units it took over in `pi`
    (the registry's predecessors), as validation compares them."""
    out = dict(prev)
    for m in bloc.units:
        if m.fate == "merged" and m.into == unit_code and bloc.merge_period(m) == pi:
            before = data[(m.code, PERIODS[pi - 1].code)]
            for code in ("members_total", "members_official", "members_probationary"):
                out[code] = out.get(code, Decimal(0)) + before.get(code, Decimal(0))
    return out


def _value(values: dict[str, Decimal], code: str) -> Decimal:
    return values.get(code, Decimal(0))


def check_rules(bloc, data, at, val, catalog, policy_fault, not_applicable) -> None:
    """Every clean submission keeps the rules of SPEC §4.4; the only warnings are the planted."""
    by_code = bloc.by_code
    policy, not_applying = [], []
    for (unit_code, period), v in data.items():
        if unit_code in COMMITTEE_FORMS:
            assert all(catalog[k].applies("committee", COMMITTEE_FORMS[unit_code]) for k in v), v
            continue
        u, pi = by_code[unit_code], [p.code for p in PERIODS].index(period)
        g = partial(_value, v)
        for k in v:
            if not catalog[k].applies(u.sector, u.form):
                not_applying.append((unit_code, pi))
        assert g("members_total") == g("members_official") + g("members_probationary")
        assert g("members_official") >= 0 and g("members_probationary") >= 0
        if u.is_db:
            assert g("members_total") >= 30 and g("branches_total") >= 2, (unit_code, period)
            assert g("branches_meeting_regularly") <= g("branches_total")
        else:
            assert g("members_total") < 30 and g("branches_total") == 0, (unit_code, period)
        assert g("culture_model") <= g("culture_achieved") <= g("culture_registered")
        if pi > 0:
            assert g("disciplined_members") == sum(
                g(k)
                for k in (
                    "discipline_reprimand",
                    "discipline_warning",
                    "discipline_dismissal",
                    "discipline_expulsion",
                )
            )
            assert g("tasks_completed") <= g("tasks_assigned")
            if u.enterprise:
                assert g("state_budget_paid_bn_vnd") > 0
            prev = data.get((unit_code, PERIODS[pi - 1].code))
            if prev is not None:
                prev = with_taken_over(bloc, data, unit_code, pi, prev)
                net = (
                    g("members_admitted")
                    + g("members_transferred_in")
                    - sum(
                        g(k)
                        for k in (
                            "members_transferred_out",
                            "members_deceased",
                            "members_struck_off",
                            "members_removed",
                            "discipline_expulsion",
                        )
                    )
                )
                assert g("members_total") == prev["members_total"] + net, (unit_code, period)
                assert g("members_confirmed") <= prev["members_probationary"] + g(
                    "members_admitted"
                )
                p = prev["members_probationary"] + g("members_admitted") - g("members_confirmed")
                assert g("members_probationary") == p, (unit_code, period)
        if "members_rated" in v:
            parts = (
                "members_rated_excellent",
                "members_rated_good",
                "members_rated_complete",
                "members_rated_incomplete",
            )
            assert g("members_rated") == sum(g(k) for k in parts) <= g("members_total")
            if g("members_rated_excellent") > Decimal("0.2") * g("members_rated_good"):
                policy.append((unit_code, pi))
        for rate in (i for i in catalog if i.is_rate and i.code in v):
            num = sum(g(k) for k in rate.numerator)
            den = sum(g(k) for k in rate.denominator)
            assert g(rate.code) == pct(int(num), int(den)), (unit_code, period, rate.code)
    assert policy == [policy_fault], policy
    assert not_applying == [not_applicable], not_applying

    for pi in (p for p in TERM if PERIODS[p].closes_year):
        units = at[pi]
        rated = sum(val(u, pi, "members_rated") for u in units)
        ex = sum(val(u, pi, "members_rated_excellent") for u in units)
        good = sum(val(u, pi, "members_rated_good") for u in units)
        assert 100 * (ex + good) / rated > 95 and 15 <= 100 * ex / rated <= 16, PERIODS[pi]
        ratings = [val(u, pi, "org_rating") for u in units]
        assert sum(r >= 3 for r in ratings) > 0.9 * len(units)
        assert sum(r == 4 for r in ratings) >= 0.2 * len(units)
        ok = sum(
            val(u, pi, "members_rated_incomplete")
            >= sum(val(u, p, "disciplined_members") for p in (pi - 1, pi) if p > 0 and u.active(p))
            for u in units
        )
        assert ok >= 0.9 * len(units)
    for year in (2021, 2022):
        periods = [pi for pi in TERM if PERIODS[pi].year == year]
        admitted = sum(val(u, pi, "members_admitted") for pi in periods for u in at[pi])
        trained = sum(val(u, pi, "candidates_trained") for pi in periods for u in at[pi])
        assert admitted > 600 and trained > 800, year


if __name__ == "__main__":
    main()
