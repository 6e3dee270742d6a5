"""The validation's public API, for its callers; the code lives in `tonghop.validation`.

Build the frames (`validation.frames`), run the rules in GX by group (`validation.suites`; the
Data Docs show each rule, `validation.data_docs`; GX's internals fenced in
`validation.gx_adapter`), word the findings (`validation.messages`), name suspect fields
(`validation.suspects`), store them (`validation.store`) and keep the incremental state
(`validation.state`); `validation.run.validate` does it all.
"""

from tonghop.validation.data_docs import DATA_DOCS_SITE
from tonghop.validation.findings import CONSOLIDATED_KIND, Finding
from tonghop.validation.frames import (
    MASK_PLACES,
    prepare_frames,
    write_catalog_table,
    write_period_table,
)
from tonghop.validation.messages import build_findings, describe_rule, word_message
from tonghop.validation.run import import_gx_meanwhile, parse_periods, validate
from tonghop.validation.state import last_validation, touched_units, validation_fingerprint
from tonghop.validation.store import load_findings, store_consolidated_findings, store_findings
from tonghop.validation.suites import RuleGroup, group_rules, run_expectations

__all__ = [
    "CONSOLIDATED_KIND",
    "DATA_DOCS_SITE",
    "MASK_PLACES",
    "Finding",
    "RuleGroup",
    "build_findings",
    "describe_rule",
    "group_rules",
    "import_gx_meanwhile",
    "last_validation",
    "load_findings",
    "parse_periods",
    "prepare_frames",
    "run_expectations",
    "store_consolidated_findings",
    "store_findings",
    "touched_units",
    "validate",
    "validation_fingerprint",
    "word_message",
    "write_catalog_table",
    "write_period_table",
]
