"""Run the compiled rules through Great Expectations: one expectation per rule, Data Docs.

Each rule of `expectations/rules.yaml` (and each one derived from the catalog) is its own
expectation, with its rule id and indicator codes in `meta`, its severity, and its Vietnamese
statement as the description the Data Docs show. The rules of one frame and kind form a group
whose query (`RuleGroup.query`) returns the failing rows of all of them, tagged with their rule
id; every rule of the group asks GX for that query's rows, which GX runs once
(tonghop.validation.gx_adapter), so a rule more costs no scan more. One suite per frame.
GX's internals are reached only through the adapter; this module uses GX's public API.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from tonghop.catalog import Catalog
from tonghop.db import db_path
from tonghop.rules import CompiledRule, fused_query
from tonghop.validation.findings import CONSOLIDATED_KIND
from tonghop.validation.messages import describe_rule

DATA_DOCS_SITE = "tonghop"

# What a group of rules checks.
KIND_LABELS = {
    "bounds": "Giá trị trong giới hạn cho phép",
    "sum": "Tổng bằng tổng các thành phần",
    "part_le_whole": "Phần không lớn hơn toàn thể",
    "ratio": "Tỷ lệ khớp với tử số và mẫu số",
    "stock_flow": "Số cuối kỳ khớp với đầu kỳ và biến động",
    "completeness": "Đủ báo cáo của các đơn vị",
    "duplicate": "Không trùng báo cáo",
    "type": "Giá trị là số",
    "unknown_unit": "Đơn vị có trong danh mục",
    "unknown_indicator": "Chỉ tiêu có trong danh mục",
    "plausibility": "Giá trị hợp lý so với các kỳ trước",
    "policy": "Đúng quy định",
    CONSOLIDATED_KIND: "Số tổng hợp khớp với các phần",
}

# GX's failure severity for a rule's: an error stops a figure, a warning asks a steward to look.
_GX_SEVERITY = {"error": "critical", "warning": "warning"}


@dataclass(frozen=True)
class RuleGroup:
    """The rules of one frame and kind, whose failing rows one query returns.

    Each failing row comes back as `rule_id` and `failing_row` (the rule's own row as JSON).
    """

    frame: str
    kind: str
    rules: tuple[CompiledRule, ...]

    @property
    def query(self) -> str:
        fused = fused_query(self.rules)
        if fused is not None:
            return fused
        return "\nunion all\n".join(
            f"select '{r.rule_id}' as rule_id, to_json(failing)::varchar as failing_row "
            f"from ({r.query}) failing"
            for r in self.rules
        )

    @property
    def description(self) -> str:
        ids = ", ".join(r.rule_id for r in self.rules)
        return f"{KIND_LABELS.get(self.kind, self.kind)} ({len(self.rules)} quy tắc: {ids})"


def group_rules(rules: list[CompiledRule]) -> list[RuleGroup]:
    """The rules grouped by frame and kind, in their first appearance's order."""
    groups: dict[tuple[str, str], list[CompiledRule]] = {}
    for rule in rules:
        groups.setdefault((rule.frame, rule.kind), []).append(rule)
    return [RuleGroup(frame, kind, tuple(members)) for (frame, kind), members in groups.items()]


def rule_expectation(rule: CompiledRule, group: RuleGroup, catalog: Catalog | None):  # noqa: ANN201
    """The GX expectation of one rule: its group's query, its own verdict and result."""
    from tonghop.validation.gx_adapter import RuleExpectation

    return RuleExpectation(
        rule_id=rule.rule_id,
        unexpected_rows_query=group.query,
        description=describe_rule(rule, catalog),
        notes=_notes(rule),
        severity=_GX_SEVERITY.get(rule.severity, "critical"),
        meta={
            "rule_id": rule.rule_id,
            "indicators": list(rule.indicators),
            "kind": rule.kind,
            "severity": rule.severity,
        },
    )


def _notes(rule: CompiledRule) -> str:
    """What the Data Docs show beside a rule: its severity and the indicators it reads."""
    severity = "lỗi" if rule.severity == "error" else "cảnh báo"
    codes = ", ".join(rule.indicators) or "theo từng dòng"
    return f"Mức độ: {severity}. Chỉ tiêu: {codes}. Nhóm: {KIND_LABELS.get(rule.kind, rule.kind)}."


def run_expectations(
    workspace: Path,
    rules: list[CompiledRule],
    docs_dir: Path | None = None,
    catalog: Catalog | None = None,
) -> dict[str, list[dict]]:
    """Run the rules through GX on DuckDB, one expectation per rule; failing rows by rule.

    With `docs_dir`, the suites run through a GX Checkpoint whose UpdateDataDocsAction writes a
    Data Docs site there (`index.html`), replacing what an earlier run wrote. With `catalog`,
    the Data Docs name indicators by their labels.
    """
    import great_expectations as gx

    from tonghop.validation.connection import connection_string
    from tonghop.validation.gx_adapter import (
        close_datasource,
        enable_duckdb_in_gx,
        ephemeral_context,
        raised,
    )

    enable_duckdb_in_gx()
    context = ephemeral_context()
    datasource = context.data_sources.add_sql(
        "tonghop", connection_string=connection_string(db_path(workspace))
    )
    if docs_dir is not None:
        add_data_docs_site(context, docs_dir)
    groups = group_rules(rules)
    failing: dict[str, list[dict]] = {}
    definitions = []
    try:
        for frame in dict.fromkeys(g.frame for g in groups):
            # a frame in the in-memory database is named in full: `frames.val_wide`
            schema, _, table = frame.rpartition(".")
            asset = datasource.add_table_asset(table, table_name=table, schema_name=schema or None)
            batch = asset.add_batch_definition_whole_table(f"{table}_all")
            # The suite is built whole, then stored once (adding one by one re-stores it each time).
            suite = context.suites.add(
                gx.ExpectationSuite(
                    name=f"tonghop_{table}",
                    expectations=[
                        rule_expectation(rule, group, catalog)
                        for group in groups
                        if group.frame == frame
                        for rule in group.rules
                    ],
                )
            )
            definitions.append(
                context.validation_definitions.add(
                    gx.ValidationDefinition(name=f"tonghop_{table}", data=batch, suite=suite)
                )
            )
        if docs_dir is None:
            results = [d.run(result_format="COMPLETE") for d in definitions]
        else:
            results = _run_checkpoint(context, definitions)
        for result in results:
            for outcome in result.results:
                rule_id = outcome.expectation_config.meta["rule_id"]
                error = raised(outcome.exception_info)
                if error:
                    raise RuntimeError(f"Great Expectations could not run rule {rule_id}: {error}")
                if not outcome.success:
                    failing[rule_id] = outcome.result["details"]["unexpected_rows"]
    finally:
        close_datasource(datasource)
    order = {r.rule_id: i for i, r in enumerate(rules)}
    return {
        rule_id: [json.loads(row["failing_row"]) for row in failing[rule_id]]
        for rule_id in sorted(failing, key=order.__getitem__)
    }


def add_data_docs_site(context, docs_dir: Path) -> None:  # noqa: ANN001 - a GX context
    """A local Data Docs site in `docs_dir` (emptied first: the site shows one run)."""
    if docs_dir.exists():
        shutil.rmtree(docs_dir)
    docs_dir.mkdir(parents=True)
    context.add_data_docs_site(
        site_name=DATA_DOCS_SITE,
        site_config={
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(docs_dir.resolve()),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )


def _run_checkpoint(context, definitions: list) -> list:  # noqa: ANN001 - GX objects
    """Run the validation definitions through one Checkpoint that updates the Data Docs."""
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    checkpoint = context.checkpoints.add(
        gx.Checkpoint(
            name="tonghop",
            validation_definitions=definitions,
            actions=[UpdateDataDocsAction(name="data_docs", site_names=[DATA_DOCS_SITE])],
            result_format="COMPLETE",
        )
    )
    return list(checkpoint.run().run_results.values())
