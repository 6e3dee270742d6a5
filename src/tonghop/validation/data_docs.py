"""The Data Docs: each rule its own expectation with its own result.

GX validates one expectation per group of rules (tonghop.validation.suites): one expectation
per rule would cost GX's own work per expectation, more than a fifth of validate
(benchmarks/RESULTS.md). The Data Docs are written from the same results split by rule: a suite
of one expectation per rule (rule id, indicator codes, kind and severity in `meta`, the rule's
Vietnamese statement as its description) and a result per rule (its own failing rows), rendered
by GX's site builder (tonghop.validation.gx_adapter.render_validation_results), then rewritten to
work offline (tonghop.validation.offline_docs).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tonghop.catalog import Catalog
from tonghop.rules import CompiledRule, group_query
from tonghop.validation.messages import describe_rule
from tonghop.validation.offline_docs import make_offline

DATA_DOCS_SITE = "tonghop"

# GX's failure severity for a rule's: an error stops a figure, a warning asks a steward to look.
_GX_SEVERITY = {"error": "critical", "warning": "warning"}


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


def rule_expectation(rule: CompiledRule, query: str, catalog: Catalog | None):  # noqa: ANN201
    """The GX expectation of one rule: the rule's own query in its group's shape
    (`tonghop.rules.group_query` of the rule alone, the rows its group's query returns naming
    it), or `query`, its group's, for a rule without a query of its own. A rule's own query,
    not its group's: a group of a hundred fused rules would otherwise carry a hundred copies
    of its query into the results GX stores, copies and renders."""
    from tonghop.validation.gx_adapter import RuleExpectation

    severity = "lỗi" if rule.severity == "error" else "cảnh báo"
    return RuleExpectation(
        rule_id=rule.rule_id,
        unexpected_rows_query=group_query((rule,)) if rule.query else query,
        description=describe_rule(rule, catalog),
        notes=f"Mức độ: {severity}. Chỉ tiêu: {', '.join(rule.indicators) or 'theo từng dòng'}.",
        severity=_GX_SEVERITY.get(rule.severity, "critical"),
        meta={
            "rule_id": rule.rule_id,
            "indicators": list(rule.indicators),
            "kind": rule.kind,
            "severity": rule.severity,
        },
    )


def split_by_rule(result, groups: list, catalog: Catalog | None) -> tuple:  # noqa: ANN001
    """A suite of one expectation per rule and its result, from a suite run by group.

    `result`: GX's result of a suite of group expectations (`meta["group"]`: the group's index
    in `groups`), run with result format COMPLETE.
    """
    import great_expectations as gx
    from great_expectations.core import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )

    expectations, outcomes = [], []
    for outcome in result.results:
        group = groups[outcome.expectation_config.meta["group"]]
        rows = (outcome.result or {}).get("details", {}).get("unexpected_rows", [])
        query = group.query
        for rule in group.rules:
            expectation = rule_expectation(rule, query, catalog)
            own = [row for row in rows if row["rule_id"] == rule.rule_id]
            expectations.append(expectation)
            outcomes.append(
                ExpectationValidationResult(
                    success=not own,
                    expectation_config=expectation.configuration,
                    result={"observed_value": len(own), "details": {"unexpected_rows": own}},
                    exception_info=outcome.exception_info,
                )
            )
    passed = sum(1 for o in outcomes if o.success)
    statistics = {
        "evaluated_expectations": len(outcomes),
        "successful_expectations": passed,
        "unsuccessful_expectations": len(outcomes) - passed,
        "success_percent": 100 * passed / len(outcomes) if outcomes else None,
    }
    suite = gx.ExpectationSuite(name=result.suite_name, expectations=expectations)
    by_rule = ExpectationSuiteValidationResult(
        success=passed == len(outcomes),
        results=outcomes,
        suite_name=result.suite_name,
        statistics=statistics,
        meta=result.meta,
        batch_id=result.batch_id,
    )
    return suite, by_rule


def write_data_docs(context, results: list, groups: list, catalog: Catalog | None) -> None:  # noqa: ANN001
    """Write the Data Docs of a run by group, each rule shown as its own expectation, then make
    them load nothing from the internet (tonghop.validation.offline_docs)."""
    from tonghop.validation.gx_adapter import render_validation_results

    runs = [split_by_rule(result, groups, catalog) for result in results]
    render_validation_results(context, DATA_DOCS_SITE, runs)
    site = context.variables.data_docs_sites[DATA_DOCS_SITE]
    make_offline(Path(site["store_backend"]["base_directory"]))
