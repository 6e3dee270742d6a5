"""Run the compiled rules through Great Expectations on DuckDB: suites of rule groups.

The rules of one frame and kind form a group whose query (`RuleGroup.query`) returns the
failing rows of all of them, tagged with their rule id: one GX expectation per group, one suite
per frame, so GX's work does not grow with the number of rules. With a Data Docs folder, the
results are then written split by rule, each rule its own expectation with its own result
(tonghop.validation.data_docs). GX's internals are reached only through
tonghop.validation.gx_adapter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tonghop.catalog import Catalog
from tonghop.db import db_path
from tonghop.rules import CompiledRule, group_query
from tonghop.validation.data_docs import add_data_docs_site, write_data_docs
from tonghop.validation.findings import CONSOLIDATED_KIND

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
        return group_query(self.rules)

    @property
    def description(self) -> str:
        ids = ", ".join(r.rule_id for r in self.rules)
        return f"{KIND_LABELS.get(self.kind, self.kind)} ({len(self.rules)} quy tắc: {ids})"


def group_rules(rules: list[CompiledRule]) -> list[RuleGroup]:
    """The rules grouped by frame, kind and fused shape, in their first appearance's order
    (a kind's rules of two shapes, the unit's own history and its peers', run as two scans
    rather than as a union of one query per rule)."""
    groups: dict[tuple[str, str, str], list[CompiledRule]] = {}
    for rule in rules:
        groups.setdefault((rule.frame, rule.kind, rule.fuse or ""), []).append(rule)
    return [RuleGroup(frame, kind, tuple(members)) for (frame, kind, _), members in groups.items()]


def run_expectations(
    workspace: Path,
    rules: list[CompiledRule],
    docs_dir: Path | None = None,
    catalog: Catalog | None = None,
) -> dict[str, list[dict]]:
    """Run the rules through GX on DuckDB, one expectation per group; failing rows by rule.

    Each group's expectation is a `FailingRowsExpectation`, which runs its query once and keeps
    every row it returns, so no failure is ever capped away. With `docs_dir`, a Data Docs site
    there (`index.html`) shows each rule as its own expectation, replacing what an earlier run
    wrote; with `catalog`, it names indicators by their labels.
    """
    import great_expectations as gx

    from tonghop.validation.connection import connection_string
    from tonghop.validation.gx_adapter import (
        FailingRowsExpectation,
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
                        FailingRowsExpectation(
                            unexpected_rows_query=group.query,
                            description=group.description,
                            meta={
                                "group": index,
                                "kind": group.kind,
                                "rule_ids": [r.rule_id for r in group.rules],
                            },
                        )
                        for index, group in enumerate(groups)
                        if group.frame == frame
                    ],
                )
            )
            definitions.append(
                context.validation_definitions.add(
                    gx.ValidationDefinition(name=f"tonghop_{table}", data=batch, suite=suite)
                )
            )
        results = [d.run(result_format="COMPLETE") for d in definitions]
        for result in results:
            for outcome in result.results:
                group = groups[outcome.expectation_config.meta["group"]]
                error = raised(outcome.exception_info)
                if error:
                    ids = ", ".join(r.rule_id for r in group.rules)
                    raise RuntimeError(f"Great Expectations could not run rules {ids}: {error}")
                for row in [] if outcome.success else outcome.result["details"]["unexpected_rows"]:
                    failing.setdefault(row["rule_id"], []).append(json.loads(row["failing_row"]))
        if docs_dir is not None:
            write_data_docs(context, results, groups, catalog)
    finally:
        close_datasource(datasource)
    return failing
