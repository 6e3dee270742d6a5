"""The congress resolution's targets (`catalog/targets.yaml`), assessed by year and for the term.

Each target holds conditions: an arithmetic expression over one year's consolidated indicators
(`rpt_year__indicators`), a comparator and a threshold. A condition is assessed for every
calendar year whose closing period is in the range; a condition on flows only over whole
years (a term that starts in July has half of its first year); a condition due `by_year` only
from that year on. Missing data never passes for a figure: the status says so. A condition is
assessed against the congress resolution's threshold; a later revision (with its source) is
shown beside it and only compared with.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, model_validator

from tonghop.catalog import Catalog, load_catalog
from tonghop.paths import CATALOG_DIR

MET, EXCEEDED, NOT_MET, MISSING = "met", "exceeded", "not_met", "missing"
NOT_DUE, PARTIAL_YEAR = "not_due", "partial_year"
STATUS_VI = {
    MET: "đạt",
    EXCEEDED: "vượt",
    NOT_MET: "chưa đạt",
    MISSING: "chưa đủ số liệu",
    NOT_DUE: "chưa đến hạn",
    PARTIAL_YEAR: "năm không trọn",
}
_FUNCTIONS = ("units", "units_positive")
_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


class ByYear(BaseModel):
    by_year: int


class Revision(BaseModel):
    """A later value of a condition's threshold, and the document that set it."""

    threshold: float | tuple[float, float]
    source: str


class Condition(BaseModel):
    """One measurable part of a target."""

    id: str
    label: str
    expr: str
    comparator: Literal[">", ">=", "between"]
    threshold: float | tuple[float, float]
    unit: str
    scope: Literal["each_year"] | ByYear = "each_year"
    exceedable: bool = False
    revisions: list[Revision] = Field(default_factory=list)
    # The draft's figure (tonghop.figures id) that shows the progress while not yet due.
    progress: str | None = None

    @model_validator(mode="after")
    def _check(self) -> Condition:
        if (self.comparator == "between") != isinstance(self.threshold, tuple):
            raise ValueError(f"{self.id}: 'between' takes [low, high], other comparators a number")
        _parse(self.expr)
        return self

    @property
    def names(self) -> set[tuple[str | None, str]]:
        """The (function, indicator) pairs the expression reads; function None for a value."""
        return _names(_parse(self.expr))

    @property
    def due_year(self) -> int | None:
        return self.scope.by_year if isinstance(self.scope, ByYear) else None

    def holds(self, value: float) -> bool:
        if self.comparator == "between":
            low, high = self.threshold  # type: ignore[misc]
            return low <= value <= high
        if self.comparator == ">":
            return value > self.threshold  # type: ignore[operator]
        return value >= self.threshold  # type: ignore[operator]

    def status(self, value: float | None) -> str:
        if value is None:
            return MISSING
        if not self.holds(value):
            return NOT_MET
        exceeded = self.exceedable and value > self.threshold  # type: ignore[operator]
        return EXCEEDED if exceeded else MET

    def revised(self, revision: Revision) -> Condition:
        """The condition with a revision's threshold (to say how a figure stands against it)."""
        return self.model_copy(update={"threshold": revision.threshold, "revisions": []})


class Target(BaseModel):
    """A target as the congress resolution wrote it (`text`, each condition's `threshold`);
    `revised_text` and the conditions' `revisions` hold any later revision with its source."""

    number: int
    text: str
    revised_text: str | None = None
    conditions: list[Condition] = Field(min_length=1)


class TargetSet(BaseModel):
    admission_target: str
    targets: list[Target]

    @model_validator(mode="after")
    def _check(self) -> TargetSet:
        ids = [c.id for t in self.targets for c in t.conditions]
        if len(ids) != len(set(ids)):
            raise ValueError("condition ids must be unique")
        if self.admission_target not in ids:
            raise ValueError(f"admission_target {self.admission_target} is not a condition id")
        return self

    def condition(self, condition_id: str) -> Condition:
        return next(c for t in self.targets for c in t.conditions if c.id == condition_id)

    def check_against(self, catalog: Catalog) -> None:
        """Every name is a catalog indicator (or a rating's bucket); rates are written as parts."""
        for target in self.targets:
            for cond in target.conditions:
                for _, name in cond.names:
                    base = name.rsplit("__", 1)[0] if "__" in name else name
                    if base not in catalog:
                        raise ValueError(f"{cond.id}: unknown indicator {name}")
                    if catalog[base].is_rate:
                        # a ratio of yearly sums can be pooled over years; a rate cannot
                        raise ValueError(f"{cond.id}: write the rate {name} as its parts")


def load_targets(path: Path | None = None) -> TargetSet:
    """Read and check `catalog/targets.yaml` (or `path`) against the indicator catalog."""
    if path is None:
        return _default_targets()
    targets = TargetSet.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    targets.check_against(load_catalog())
    return targets


@cache
def _default_targets() -> TargetSet:
    return load_targets(CATALOG_DIR / "targets.yaml")


# --- expressions ------------------------------------------------------------------------------
@cache
def _parse(expr: str) -> ast.expr:
    tree = ast.parse(expr, mode="eval").body
    for node in ast.walk(tree):
        allowed = (ast.BinOp, ast.Name, ast.Constant, ast.Load, ast.Call, *_BINARY)
        if not isinstance(node, allowed):
            raise ValueError(f"'{expr}': only + - * / ( ), numbers and indicator codes")
        if isinstance(node, ast.Constant) and not isinstance(node.value, int | float):
            raise ValueError(f"'{expr}': {node.value!r} is not a number")
        if isinstance(node, ast.Call) and not (
            isinstance(node.func, ast.Name)
            and node.func.id in _FUNCTIONS
            and len(node.args) == 1
            and isinstance(node.args[0], ast.Name)
            and not node.keywords
        ):
            raise ValueError(f"'{expr}': functions are {', '.join(_FUNCTIONS)}(indicator)")
    return tree


def _names(node: ast.expr) -> set[tuple[str | None, str]]:
    if isinstance(node, ast.Call):
        return {(node.func.id, node.args[0].id)}  # type: ignore[attr-defined]
    if isinstance(node, ast.Name):
        return {(None, node.id)}
    if isinstance(node, ast.BinOp):
        return _names(node.left) | _names(node.right)
    return set()


@dataclass
class YearFigures:
    """One calendar year's consolidated figures for the bloc (from `rpt_year__indicators`)."""

    year: int
    months: int
    closed: bool
    values: dict[str, float] = field(default_factory=dict)
    units: dict[str, float] = field(default_factory=dict)
    units_positive: dict[str, float] = field(default_factory=dict)

    def lookup(self, function: str | None, name: str) -> float | None:
        source = {None: self.values, "units": self.units, "units_positive": self.units_positive}
        table = source[function]
        if name in table:
            return table[name]
        if function is None and "__" in name:
            # a rating nobody got: 0 when the rating itself was reported this year
            base = name.rsplit("__", 1)[0] + "__"
            if any(k.startswith(base) for k in self.values):
                return 0.0
        return None


Lookup = Callable[[str | None, str], float | None]


def evaluate(expr: str, lookup: Lookup) -> float | None:
    """The expression's value, None when a name has no data or a division is by zero.

    `lookup(function, name)` gives a value: function None for the indicator itself.

    >>> data = {(None, "a"): 1, (None, "b"): 3, ("units", "x"): 4}
    >>> evaluate("100 * a / (a + b)", lambda f, n: data.get((f, n)))
    25.0
    >>> evaluate("units_positive(x) / units(x)", lambda f, n: data.get((f, n))) is None
    True
    """

    def walk(node: ast.expr) -> float | None:
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name | ast.Call):
            [(function, name)] = _names(node)
            found = lookup(function, name)
            return None if found is None else float(found)
        assert isinstance(node, ast.BinOp)
        left, right = walk(node.left), walk(node.right)
        if left is None or right is None:
            return None
        if isinstance(node.op, ast.Div) and right == 0:
            return None
        return _BINARY[type(node.op)](left, right)

    return walk(_parse(expr))


# --- assessment -------------------------------------------------------------------------------
def _uses_flows(cond: Condition, catalog: Catalog) -> bool:
    for _, name in cond.names:
        base = name.rsplit("__", 1)[0] if "__" in name else name
        if catalog[base].time_aggregation == "flow":
            return True
    return False


def _combine(statuses: Sequence[str]) -> str:
    """A term's (or a target's) status from its assessed parts: one failure fails it."""
    if not statuses:
        return MISSING
    if NOT_MET in statuses:
        return NOT_MET
    if MISSING in statuses:
        return MISSING
    return EXCEEDED if EXCEEDED in statuses else MET


def _pooled(cond: Condition, years: Sequence[YearFigures]) -> float | None:
    """The condition over several years: its inputs summed (a ratio of sums, never a mean of
    ratios), and for a quantity divided by the number of years (a yearly average)."""
    if not years:
        return None

    def lookup(function: str | None, name: str) -> float | None:
        found = [y.lookup(function, name) for y in years]
        return None if any(v is None for v in found) else sum(found)  # type: ignore[arg-type]

    value = evaluate(cond.expr, lookup)
    if value is None or cond.unit == "%":
        return value
    return value / (sum(y.months for y in years) / 12)


def assess_condition(
    cond: Condition, years: Sequence[YearFigures], catalog: Catalog
) -> dict[str, Any]:
    """One condition: its value and status in each closed year, and over the term."""
    flows = _uses_flows(cond, catalog)
    rows, assessed = [], []
    for year in (y for y in years if y.closed):
        value = evaluate(cond.expr, year.lookup)
        if flows and year.months < 12:
            status = PARTIAL_YEAR
        elif cond.due_year is not None and year.year < cond.due_year:
            status = NOT_DUE
        else:
            status = cond.status(value)
            assessed.append(year)
        rows.append({"year": year.year, "months": year.months, "value": value, "status": status})
    closed = [y for y in years if y.closed]
    last = closed[-1] if closed else None
    if cond.due_year is not None and (last is None or last.year < cond.due_year):
        latest = evaluate(cond.expr, last.lookup) if last else None
        term = {"value": latest, "status": NOT_DUE, "year": last.year if last else None}
    else:
        statuses = [r["status"] for r in rows if r["status"] not in (NOT_DUE, PARTIAL_YEAR)]
        # A yearly average of a flow is over the whole range, part years included, as the
        # draft's sentences say it (2.078 admitted in 3 years: 693 a year); a rate is pooled
        # over the years it was assessed in.
        pooled = [y for y in years if y.months] if flows and cond.unit != "%" else assessed
        term = {"value": _pooled(cond, pooled), "status": _combine(statuses), "year": None}
    return {
        "id": cond.id,
        "label": cond.label,
        "expr": cond.expr,
        "unit": cond.unit,
        "comparator": cond.comparator,
        "threshold": cond.threshold,
        "requirement": requirement(cond),
        "flows": flows,
        # the indicator itself when the expression is one code (Phụ lục 1 prints its average)
        "code": cond.expr if cond.expr.isidentifier() else None,
        "progress": cond.progress,
        "due_year": cond.due_year,
        "years": rows,
        "term": term,
        "revisions": [
            {
                "threshold": r.threshold,
                "requirement": requirement(cond.revised(r)),
                "source": r.source,
                "status": cond.revised(r).status(term["value"])
                if term["status"] != NOT_DUE
                else NOT_DUE,
            }
            for r in cond.revisions
        ],
    }


def requirement(cond: Condition) -> dict[str, Any]:
    """What the condition asks, as parts the templates word: trên / ít nhất / từ … đến."""
    word = {">": "trên", ">=": "ít nhất", "between": "từ"}[cond.comparator]
    if cond.comparator == ">=" and cond.unit == "%" and cond.threshold == 100:
        word = None
    low, high = cond.threshold if isinstance(cond.threshold, tuple) else (cond.threshold, None)
    return {"word": word, "low": Decimal(str(low)), "high": high, "unit": cond.unit}


def assess(
    targets: TargetSet, years: Sequence[YearFigures], catalog: Catalog | None = None
) -> dict[str, Any]:
    """Every target's conditions and status; `met` counts the targets đạt or vượt."""
    catalog = catalog or load_catalog()
    out = []
    for target in targets.targets:
        conditions = [assess_condition(c, years, catalog) for c in target.conditions]
        due = [c["term"]["status"] for c in conditions if c["term"]["status"] != NOT_DUE]
        status = _combine(due) if due else NOT_DUE
        status_vi = STATUS_VI[status]
        if due and len(due) < len(conditions):
            # Met on what is due so far: it counts as met, and says the rest is not yet due.
            status_vi += " phần đã đến hạn; phần còn lại chưa đến hạn"
        out.append(
            {
                "number": target.number,
                "text": target.text,
                "revised_text": target.revised_text,
                "conditions": conditions,
                "status": status,
                "status_vi": status_vi,
            }
        )
    for item in out:
        for cond in item["conditions"]:
            cond["term"]["status_vi"] = STATUS_VI[cond["term"]["status"]]
            for row in cond["years"]:
                row["status_vi"] = STATUS_VI[row["status"]]
            for rev in cond["revisions"]:
                rev["status_vi"] = STATUS_VI[rev["status"]]
    met = [t["number"] for t in out if t["status"] in (MET, EXCEEDED)]
    return {
        "targets": out,
        "total": len(out),
        "met": len(met),
        "not_met": [t["number"] for t in out if t["status"] == NOT_MET],
        "missing": [t["number"] for t in out if t["status"] == MISSING],
        "not_due": [t["number"] for t in out if t["status"] == NOT_DUE],
        "years": [y.year for y in years if y.closed],
    }
