"""The run's figure registry (`build_figures`): every figure the draft prints, computed once
from the draft context (`tonghop.consolidate.report_context`), each with its id, value, unit,
source and formula (`tonghop.figures`). The templates print figures only through it."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from tonghop import formatting
from tonghop.catalog import SECTOR_LABELS, SECTORS, Catalog, load_catalog
from tonghop.external import ExternalValue, external_specs
from tonghop.figures import Figure, Figures
from tonghop.periods import PeriodError, PeriodRange
from tonghop.report.phrases import approx_phrase, band_phrase, over_phrase, yeu_cau
from tonghop.report.templates import load_wording

UNIT_LABELS = {"units": "TCCSĐ", "dang_bo": "đảng bộ cơ sở", "chi_bo": "chi bộ cơ sở"}
WHEN = {"start": "đầu nhiệm kỳ", "cutoff": "đến nay", "term": "cả kỳ"}
# The draft context's short names of two indicators (tonghop.consolidate.report_context).
SHORT = {"branches": "branches_total", "members": "members_total"}


def _group(group: str | None) -> tuple[str, str]:
    """A figure id's group suffix and the mart's filter for it (None: the whole bloc)."""
    if group is None:
        return "", "group_type = 'bloc'"
    return f"@sector:{group}", f"group_type = 'sector', group_value = '{group}'"


def _indicator(
    catalog: Catalog, measure: str, code: str, value: Any, group: str | None = None
) -> Figure:
    """A figure read from `rpt_term__indicators`."""
    suffix, where = _group(group)
    base = code.split("__")[0]
    if base not in catalog:
        style, decimals, unit, label, source = "number", 2, "", code, "units"
    else:
        ind = catalog[base]
        style = "percent" if ind.is_rate else ("number" if ind.decimals else "count")
        decimals = 2 if ind.is_rate else ind.decimals
        unit, label, source = ind.unit, ind.label, ind.source
    if group:
        label += f" ({SECTOR_LABELS[group]})"
    return Figure(
        id=f"{measure}.{code}{suffix}",
        value=value,
        unit=unit,
        source=source,  # type: ignore[arg-type]
        label=f"{label}, {WHEN[measure]}",
        formula=f"measure = '{measure}', indicator_code = '{code}', {where}",
        style=style,  # type: ignore[arg-type]
        decimals=decimals,
        model="rpt_term__indicators",
    )


def _units(measure: str, name: str, value: Any) -> Figure:
    """A count of TCCSĐ from `rpt_term__units`."""
    label = UNIT_LABELS.get(name) or f"TCCSĐ trong {SECTOR_LABELS[name]}"
    return Figure(
        id=f"{measure}.{name}",
        value=value,
        unit="TCCSĐ" if name not in ("dang_bo", "chi_bo") else "tổ chức",
        source="units",
        label=f"{label}, {WHEN[measure]}",
        formula=f"rpt_term__units.{name}, measure = '{measure}'",
        model="rpt_term__units",
    )


def _derived(
    figure_id: str, value: Any, label: str, formula: str, inputs: tuple[str, ...], **kw: Any
) -> Figure:
    kw.setdefault("unit", "%" if kw.get("style") == "percent" else "")
    kw.setdefault("source", "units")
    kw.setdefault("decimals", 2 if kw.get("style") == "percent" else 0)
    return Figure(figure_id, value, label=label, formula=formula, inputs=inputs, **kw)


def _years(period: Mapping[str, Any]) -> float | None:
    """The range's length in years (a term from 2020-H2 to 2023-H1: 3)."""
    try:
        rng = PeriodRange.parse(f"{period['first']}..{period['last']}")
    except (KeyError, TypeError, PeriodError):
        return None
    return sum(p.months for p in rng.periods) / 12


def _ratio(part: Any, whole: Any) -> float | None:
    return formatting.ty_le(part, whole)


def build_figures(
    context: Mapping[str, Any],
    wording: Mapping[str, Any] | None = None,
    external: Mapping[str, ExternalValue] | None = None,
) -> Figures:
    """Every figure of the draft, computed once from the draft context and the outside
    figures of the office's sourced-figures file (`tonghop.external`)."""
    wording = wording or load_wording()
    catalog = load_catalog()
    figures = Figures()
    add = figures.add
    sectors = dict(context.get("sectors") or {})
    for measure in ("start", "cutoff"):
        snap = dict(context.get(measure) or {})
        for name in ("units", "dang_bo", "chi_bo"):
            add(_units(measure, name, snap.get(name)))
        for s in SECTORS:
            add(_units(measure, s, (snap.get("sectors") or {}).get(s)))
        # Every stock of the catalog may be printed: absent ones render as placeholders (a
        # rating's figures are its levels, `org_rating__4`, as the context gives them).
        indicators = (
            {
                i.code: None
                for i in catalog
                if i.time_aggregation != "flow" and i.unit_aggregation != "distribution"
            }
            | {SHORT[k]: snap.get(k) for k in SHORT}
            | dict(snap.get("indicators") or {})
        )
        for code in sorted(indicators):
            add(_indicator(catalog, measure, code, indicators[code]))
        for s in SECTORS:
            values = dict((sectors.get(s) or {}).get(measure) or {})
            for code in ("members_total", "branches_total"):
                add(_indicator(catalog, measure, code, values.get(code), s))
    flows = {i.code: None for i in catalog if i.time_aggregation == "flow"}
    term = flows | dict(context.get("term") or {})
    for code in sorted(term):
        add(_indicator(catalog, "term", code, term[code]))
    for table in wording["sector_tables"]:
        for column in table["columns"]:
            if "indicator" in column:
                for s in SECTORS:
                    values = dict((sectors.get(s) or {}).get(column["measure"]) or {})
                    code = column["indicator"]
                    add(_indicator(catalog, column["measure"], code, values.get(code), s))
    _moves(figures, context)
    _sections(figures, context, sectors, wording, catalog)
    _admission(figures, context, term)
    _ratings(figures, context, wording)
    _targets(figures, context)
    _sentences(figures, context, wording, catalog)
    _external(figures, external or {})
    return figures


MOVES = {
    "left": "Đảng viên đi cùng tổ chức chuyển đi, sáp nhập, giải thể",
    "arrived": "Đảng viên đến cùng tổ chức được tiếp nhận, thành lập",
}


def move_id(move: str, sector: str | None = None) -> str:
    """The id of the members who left or arrived with their organisation (bloc or sector)."""
    return f"term.members_{move}_with_orgs" + (f"@sector:{sector}" if sector else "")


def _moves(figures: Figures, context: Mapping[str, Any]) -> None:
    """Members who left or arrived with their organisation (`tonghop.unit_moves`)."""
    moves = context.get("moves") or {}
    for move, label in MOVES.items():
        found = moves.get(move) or {}
        for sector in (None, *SECTORS):
            where = found if sector is None else (found.get("sectors") or {}).get(sector) or {}
            figures.add(
                _derived(
                    move_id(move, sector),
                    where.get("members"),
                    label + (f" ({SECTOR_LABELS[sector]})" if sector else "") + ", cả kỳ",
                    "members_total of the unit's last (left) or first, less its own flows "
                    "(arrived), report; units whose valid_to / valid_from is in the range",
                    (),
                    unit="đảng viên",
                    model="tonghop.unit_moves",
                )
            )


def _sections(
    figures: Figures,
    context: Mapping[str, Any],
    sectors: Mapping[str, Any],
    wording: Mapping[str, Any],
    catalog: Catalog,
) -> None:
    """The derived figures of sections 1.1, 1.4, 3.2, 3.3 and 4.4."""
    add, value = figures.add, figures.value
    agency = dict((sectors.get("agency") or {}).get("term") or {})
    for code in ("tasks_completed", "tasks_assigned"):
        add(_indicator(catalog, "term", code, agency.get(code), "agency"))
    done, given = "term.tasks_completed@sector:agency", "term.tasks_assigned@sector:agency"
    add(
        _derived(
            "term.tasks_completed_pct@sector:agency",
            _ratio(value(done), value(given)),
            "Tỷ lệ việc được giao đã hoàn thành (các ban, sở, ngành), cả kỳ",
            f"100 × {done} / {given}",
            (done, given),
            style="percent",
        )
    )
    approx = wording["approximate"]
    add(
        _derived(
            "cutoff.employees_approx",
            approx_phrase(value("cutoff.employees"), **approx["employees"]),
            "Người lao động (nghìn người, làm tròn), đến nay",
            "cutoff.employees / 1000, làm tròn theo wording.yaml: approximate",
            ("cutoff.employees",),
            style="phrase",
            unit="nghìn người",
        )
    )
    income = "cutoff.avg_income_mn_vnd_month"
    add(
        _derived(
            "cutoff.avg_income_approx",
            approx_phrase(value(income), **approx["avg_income_mn_vnd_month"]),
            "Thu nhập bình quân (làm tròn), đến nay",
            f"{income}, làm tròn theo wording.yaml: approximate",
            (income,),
            style="phrase",
            unit="triệu đồng/người/tháng",
        )
    )
    meeting = "cutoff.branches_meeting_regularly_pct"
    add(
        _derived(
            "cutoff.branches_meeting_regularly_over",
            over_phrase(value(meeting), wording["over_ladder"]),
            "Chi bộ sinh hoạt định kỳ, nề nếp (làm tròn xuống bậc), đến nay",
            f"{meeting}, theo bậc wording.yaml: over_ladder",
            (meeting,),
            style="phrase",
        )
    )
    for code in ("achieved", "model"):
        part = f"cutoff.culture_{code}"
        add(
            _derived(
                f"cutoff.culture_{code}_share",
                _ratio(value(part), value("cutoff.units")),
                f"Tỷ lệ {catalog[f'culture_{code}'].label.lower()} trên số TCCSĐ, đến nay",
                f"100 × {part} / cutoff.units",
                (part, "cutoff.units"),
                style="percent",
            )
        )
    start, cutoff = value("start.units"), value("cutoff.units")
    change = (
        None if start is None or cutoff is None else abs(Decimal(str(cutoff)) - Decimal(str(start)))
    )
    add(
        _derived(
            "term.units_change",
            change,
            "Số TCCSĐ tăng / giảm so với đầu nhiệm kỳ",
            "|cutoff.units − start.units|",
            ("start.units", "cutoff.units"),
            unit="TCCSĐ",
        )
    )


def _admission(figures: Figures, context: Mapping[str, Any], term: Mapping[str, Any]) -> None:
    """Section 4.4's admissions: the yearly average over the range and how it stands against
    the congress resolution's target (its original value: `catalog/targets.yaml`)."""
    target = (context.get("admission") or {}).get("target_per_year")
    figures.add(
        _derived(
            "target.admitted.threshold",
            target,
            "Chỉ tiêu kết nạp mỗi năm của Nghị quyết Đại hội",
            "catalog/targets.yaml: threshold of the admission target's condition",
            (),
            unit="đảng viên/năm",
            source="committee",
            model="catalog/targets.yaml",
        )
    )
    codes = {"members_admitted"} | {
        c["code"]
        for t in (context.get("targets") or {}).get("targets") or []
        for c in t["conditions"]
        if c.get("flows") and c.get("code") and c["unit"] != "%"
    }
    per_year = _per_year_figures(figures, term, _years(context.get("period") or {}), codes)
    average = per_year["members_admitted"]
    gap = (
        formatting.ty_le(abs(average - float(target)), target)
        if average is not None and target
        else None
    )
    figures.add(
        _derived(
            "term.members_admitted_vs_target_pct",
            gap,
            "Kết nạp bình quân mỗi năm vượt / thấp hơn chỉ tiêu Nghị quyết Đại hội",
            "100 × |term.members_admitted_per_year − target.admitted.threshold| / "
            "target.admitted.threshold",
            ("term.members_admitted", "target.admitted.threshold"),
            style="percent",
        )
    )


def _per_year_figures(
    figures: Figures, term: Mapping[str, Any], years: float | None, codes: set[str]
) -> dict[str, float | None]:
    """The yearly average over the range of each flow a target counts (admissions, the
    candidates trained): the term's total divided by the range's length in years."""
    out: dict[str, float | None] = {}
    for code in sorted(codes):
        total = term.get(code)
        average = float(total) / years if total is not None and years else None
        out[code] = average
        figures.add(
            _derived(
                f"term.{code}_per_year",
                average,
                f"{figures[f'term.{code}'].label.split(',')[0]}, bình quân mỗi năm",
                f"term.{code} / số năm của kỳ báo cáo",
                (f"term.{code}",),
                unit=f"{figures[f'term.{code}'].unit}/năm",
            )
        )
    return out


def _ratings(figures: Figures, context: Mapping[str, Any], wording: Mapping[str, Any]) -> None:
    """Section 4.4's yearly averages: ratios of the closed years' sums, never means of rates."""
    closed = [y for y in context.get("years") or [] if y.get("closed")]
    values = [dict(y.get("values") or {}) for y in closed]

    def total(code: str) -> float | None:
        found = [v.get(code) for v in values]
        return None if not found or any(v is None for v in found) else sum(found)

    def org(bucket: int, v: Mapping[str, Any]) -> float:
        return v.get(f"org_rating__{bucket}") or 0

    rated = [sum(org(k, v) for k in (1, 2, 3, 4)) or None for v in values]
    orgs_rated = None if not rated or None in rated else sum(rated)  # type: ignore[arg-type]
    orgs_good = sum(org(3, v) + org(4, v) for v in values) if values else None
    excellent, good = total("members_rated_excellent"), total("members_rated_good")
    members_good = None if excellent is None or good is None else excellent + good
    by_year = [_ratio(v.get("members_rated_excellent"), v.get("members_rated")) for v in values]
    ladder = wording["over_ladder"]
    source = "rpt_year__indicators, bloc, closed years"
    for figure_id, phrase, label, formula in (
        (
            "years.orgs_good_over",
            over_phrase(_ratio(orgs_good, orgs_rated), ladder),
            "TCCSĐ hoàn thành tốt nhiệm vụ trở lên, bình quân hằng năm",
            "100 × Σ(org_rating__3 + org_rating__4) / Σ org_rating__1..4",
        ),
        (
            "years.members_good_over",
            over_phrase(_ratio(members_good, total("members_rated")), ladder),
            "Đảng viên hoàn thành tốt nhiệm vụ trở lên, bình quân hằng năm",
            "100 × Σ(members_rated_excellent + members_rated_good) / Σ members_rated",
        ),
        (
            "years.members_excellent_band",
            band_phrase(by_year, wording["band_step"]) if values else None,
            "Đảng viên hoàn thành xuất sắc nhiệm vụ, khoảng tỷ lệ các năm",
            "100 × members_rated_excellent / members_rated each year, between multiples of "
            "wording.yaml: band_step",
        ),
    ):
        figures.add(
            _derived(
                figure_id,
                phrase,
                label,
                f"{formula} ({source})",
                (),
                style="phrase",
                model="rpt_year__indicators",
            )
        )


def condition_figure_ids(cond: Mapping[str, Any]) -> dict[str, Any]:
    """The ids Phụ lục 1 prints a condition's figures under: each year's, the term's (a flow's
    yearly average and a not-yet-due condition's progress are the figures the body prints),
    its requirement and its revisions'."""
    cid = cond["id"]
    term = f"target.{cid}.term"
    if cond["term"]["status"] == "not_due" and cond.get("progress"):
        term = cond["progress"]
    elif cond.get("flows") and cond["unit"] != "%" and cond.get("code"):
        term = f"term.{cond['code']}_per_year"
    return {
        "years": [f"target.{cid}.{y['year']}" for y in cond["years"]],
        "term": term,
        "requirement": f"target.{cid}.requirement",
        "revisions": [
            f"target.{cid}.revision_{n}" for n in range(len(cond.get("revisions") or []))
        ],
    }


def _targets(figures: Figures, context: Mapping[str, Any]) -> None:
    """Phụ lục 1's figures, and how many targets are met (section IV)."""
    targets = dict(context.get("targets") or {})
    for key, label in (("met", "Số chỉ tiêu đạt và vượt"), ("total", "Số chỉ tiêu")):
        figures.add(
            _derived(
                f"targets.{key}",
                targets.get(key),
                f"{label} của Nghị quyết Đại hội",
                "tonghop.targets.assess over catalog/targets.yaml",
                (),
                unit="chỉ tiêu",
                model="catalog/targets.yaml",
            )
        )
    not_met = targets.get("not_met")
    figures.add(
        _derived(
            "targets.not_met_count",
            None if not_met is None else len(not_met),
            "Số chỉ tiêu chưa đạt của Nghị quyết Đại hội",
            "tonghop.targets.assess over catalog/targets.yaml",
            (),
            unit="chỉ tiêu",
            model="catalog/targets.yaml",
        )
    )
    for target in targets.get("targets") or []:
        for cond in target["conditions"]:
            ids = condition_figure_ids(cond)
            unit = cond["unit"]
            style = "percent" if unit == "%" else "count"
            label = f"Chỉ tiêu {target['number']}: {cond['label']}"
            for figure_id, year in zip(ids["years"], cond["years"], strict=True):
                figures.add(
                    _derived(
                        figure_id,
                        year["value"],
                        f"{label}, năm {year['year']}",
                        f"{cond['expr']} (rpt_year__indicators, bloc, {year['year']})",
                        (),
                        style=style,
                        unit=unit,
                        model="rpt_year__indicators",
                    )
                )
            if ids["term"] not in figures:
                figures.add(
                    _derived(
                        ids["term"],
                        cond["term"]["value"],
                        f"{label}, cả kỳ",
                        f"{cond['expr']} over the years' sums (rpt_year__indicators, bloc)",
                        (),
                        style=style,
                        unit=unit,
                        model="rpt_year__indicators",
                    )
                )
            requirements = [(ids["requirement"], cond["requirement"], "Nghị quyết Đại hội")]
            requirements += [
                (rid, rev["requirement"], rev["source"])
                for rid, rev in zip(ids["revisions"], cond.get("revisions") or [], strict=True)
            ]
            for rid, requirement, source in requirements:
                figures.add(
                    _derived(
                        rid,
                        yeu_cau(requirement),
                        f"{label}: yêu cầu ({source})",
                        "catalog/targets.yaml",
                        (),
                        style="phrase",
                        source="committee",
                        unit=unit,
                        model="catalog/targets.yaml",
                    )
                )


def external_id(spec_id: str) -> str:
    return f"external.{spec_id}"


def _external(figures: Figures, external: Mapping[str, ExternalValue]) -> None:
    """The outside figures (`catalog/external.yaml`), valued from the sourced-figures file."""
    for spec in external_specs().values():
        entry = external.get(spec.id)
        percent = spec.unit == "%"
        style = "percent" if percent else ("number" if spec.decimals else "count")
        cited = f"{entry.source}, {formatting.ngay(entry.date)}" if entry else ""
        figures.add(
            Figure(
                id=external_id(spec.id),
                value=None if entry is None else entry.value,
                unit=spec.unit,
                source="external",
                label=spec.label,
                formula=cited or f"tệp số liệu ngoài (thường trích từ văn bản của {spec.origin})",
                style=style,  # type: ignore[arg-type]
                decimals=spec.decimals,
                model="so-lieu-ngoai.yaml",
            )
        )


def _share(
    figures: Figures, figure_id: str, part: str, whole: str | tuple[str, ...], label: str, **kw: Any
) -> None:
    """100 × part / whole (whole: a figure, or several summed), worded by `phrase` if given."""
    wholes = (whole,) if isinstance(whole, str) else whole
    values = [figures.value(w) for w in wholes]
    total = None if any(v is None for v in values) else sum(values)
    rate = _ratio(figures.value(part), total)
    phrase = kw.pop("phrase", None)
    style = "phrase" if phrase else "percent"
    figures.add(
        _derived(
            figure_id,
            phrase(rate) if phrase else rate,
            label,
            f"100 × {part} / {' + '.join(wholes)}" + (f", {kw.pop('worded')}" if phrase else ""),
            (part, *wholes),
            style=style,
            **kw,
        )
    )


def _sentences(
    figures: Figures, context: Mapping[str, Any], wording: Mapping[str, Any], catalog: Catalog
) -> None:
    """The derived figures of the outline's other sentences: shares worded "trên T%",
    approximations ("gần 1.200"), sums of committee figures and sector splits."""
    sectors = dict(context.get("sectors") or {})
    ladder = wording["over_ladder"]
    over = {"phrase": lambda r: over_phrase(r, ladder), "worded": "theo bậc over_ladder"}
    for figure_id, part, whole, label in (
        (
            "cutoff.working_rules_issued_over",
            "cutoff.working_rules_issued",
            "cutoff.units",
            "Cấp ủy, chi bộ cơ sở có quy chế làm việc (trên số TCCSĐ), đến nay",
        ),
        (
            "cutoff.thematic_resolutions_issued_over",
            "cutoff.thematic_resolutions_issued",
            "cutoff.units",
            "Cấp ủy cơ sở ban hành nghị quyết chuyên đề (trên số TCCSĐ), đến nay",
        ),
        (
            "cutoff.branches_secretary_is_head_over",
            "cutoff.branches_secretary_is_head",
            "cutoff.branches_total",
            "Chi bộ có bí thư là trưởng đơn vị (trên số chi bộ trực thuộc), đến nay",
        ),
    ):
        _share(figures, figure_id, part, whole, label, **over)
    _share(
        figures,
        "cutoff.business_plan_met_over",
        "cutoff.business_plan_met",
        ("cutoff.soe", "cutoff.private"),
        "Doanh nghiệp hoàn thành, vượt kế hoạch (trên số TCCSĐ trong doanh nghiệp), đến nay",
        **over,
    )
    for code in ("members_studied", "members_residence_introduced"):
        _share(
            figures,
            f"cutoff.{code}_pct",
            f"cutoff.{code}",
            "cutoff.members_total",
            f"Tỷ lệ {catalog[code].label.lower()}, đến nay",
            decimals=0,
        )
    closed = [y for y in context.get("years") or [] if y.get("closed")]
    last = closed[-1] if closed else {}
    figures.add(
        _derived(
            "lastyear.mass_orgs_total",
            (last.get("values") or {}).get("mass_orgs_total"),
            f"{catalog['mass_orgs_total'].label}, năm {last.get('year', 'gần nhất')}",
            "mass_orgs_total of the last closed year (rpt_year__indicators, bloc): reported "
            "once a year",
            (),
            unit=catalog["mass_orgs_total"].unit,
            source="committee",
            model="rpt_year__indicators",
        )
    )
    approx = wording["approximate"]
    for code in ("online_contest_entries", "branches_attended_standing"):
        figures.add(
            _derived(
                f"term.{code}_approx",
                approx_phrase(figures.value(f"term.{code}"), **approx[code]),
                f"{catalog[code].label} (làm tròn), cả kỳ",
                f"term.{code}, làm tròn theo wording.yaml: approximate",
                (f"term.{code}",),
                style="phrase",
                unit=catalog[code].unit,
            )
        )
    _sum(
        figures,
        "term.orgs_out",
        ("term.orgs_out_local", "term.orgs_out_dntw"),
        "TCCSĐ chuyển giao ra ngoài Đảng bộ, cả kỳ",
        "TCCSĐ",
        "committee",
    )
    covid = "covid_donations_bn_vnd"
    for s in SECTORS:
        values = dict((sectors.get(s) or {}).get("term") or {})
        figures.add(_indicator(catalog, "term", covid, values.get(covid), s))
    enterprises = tuple(f"term.{covid}@sector:{s}" for s in SECTORS if s != "agency")
    _sum(
        figures,
        f"term.{covid}@enterprises",
        enterprises,
        "Ủng hộ phòng, chống dịch Covid-19 (khối doanh nghiệp), cả kỳ",
        "tỷ đồng",
        "units",
        decimals=1,
    )


def _sum(
    figures: Figures,
    figure_id: str,
    parts: tuple[str, ...],
    label: str,
    unit: str,
    source: str,
    decimals: int = 0,
) -> None:
    values = [figures.value(p) for p in parts]
    figures.add(
        _derived(
            figure_id,
            None if any(v is None for v in values) else sum(values),
            label,
            " + ".join(parts),
            parts,
            unit=unit,
            source=source,
            style="number" if decimals else "count",
            decimals=decimals,
        )
    )
