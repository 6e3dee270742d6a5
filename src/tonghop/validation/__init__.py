"""Validation: the rules of `expectations/rules.yaml` run through Great Expectations on DuckDB.

One module per step, in the order a validation runs (`run.validate`):

- `frames`: build the validation frames in DuckDB (the current submissions in scope);
- `suites`: one GX expectation per rule, suites per frame, Checkpoint and Data Docs;
- `gx_adapter`: every use of GX's internals (DuckDB, every failing row), behind a contract test;
- `messages`: word each failing row as a Vietnamese finding;
- `suspects`: name the suspect field of balance findings (tonghop.localize);
- `store`: replace the findings of the scope in the workspace, read them back;
- `state`: what incremental validation remembers and which units a batch touched.

`tonghop.validate` re-exports the public functions for the callers.
"""
