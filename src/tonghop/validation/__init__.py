"""Validation: the rules of `expectations/rules.yaml` run through Great Expectations on DuckDB.

One module per step, in the order a validation runs (`run.validate`):

- `frames`: build the validation frames in DuckDB (the current submissions in scope);
- `suites`: group the rules, one GX expectation per group and a suite per frame, and run them;
- `data_docs`: the Data Docs, each rule shown as its own expectation with its own result;
- `gx_adapter`: every use of GX's internals (DuckDB, every failing row, the Data Docs' results),
  behind `tests/contracts/test_gx_contract.py`; `connection`: the DuckDB configuration it shares;
- `messages`: word each failing row as a Vietnamese finding (`findings.Finding`);
- `suspects`: name the suspect field of balance findings (tonghop.localize);
- `store`: replace the findings of the scope in the workspace, read them back;
- `state`: what incremental validation remembers and which units a batch touched.

`tonghop.validate` re-exports the public functions for the callers.
"""
