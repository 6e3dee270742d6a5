"""Rules: `expectations/rules.yaml` and the catalog compiled into SQL for GX to run.

- `spec`: the rule set as written (pydantic models, `load_rules`);
- `compiled`: a compiled rule, its frames (`LONG`, `WIDE`) and SQL helpers, `fused_query`,
  `group_query`;
- `linear`: rules of the form `left op right` (stock-flow, policy, sum, part ≤ whole);
- `checks`: the fixed queries of presence, identity and form rules;
- `compiler`: every rule of the set and the catalog as queries (`compile_rules`).
"""

from tonghop.rules.compiled import LONG, WIDE, CompiledRule, fused_query, group_query, q
from tonghop.rules.compiler import allowed_text, compile_rules
from tonghop.rules.linear import LinearRule, Term, linear_rule, linear_rules
from tonghop.rules.spec import (
    ConsolidatedRuleSpec,
    DerivedSpec,
    LocalizationSpec,
    PlausibilitySpec,
    RuleSet,
    RuleSpec,
    load_rules,
)

__all__ = [
    "LONG",
    "WIDE",
    "CompiledRule",
    "ConsolidatedRuleSpec",
    "DerivedSpec",
    "LinearRule",
    "LocalizationSpec",
    "PlausibilitySpec",
    "RuleSet",
    "RuleSpec",
    "Term",
    "allowed_text",
    "compile_rules",
    "fused_query",
    "group_query",
    "linear_rule",
    "linear_rules",
    "load_rules",
    "q",
]
