"""The synthetic bloc (tonghop.generate) the benchmarks and the unseen-bloc test build on: its
clean units pass every rule, warnings included, and each planted error is found where planted."""

from __future__ import annotations

from tonghop import pipeline
from tonghop.catalog import load_catalog
from tonghop.generate import generate
from tonghop.periods import PeriodRange


def test_clean_units_raise_nothing_and_planted_errors_are_found(tmp_path):
    bloc = generate(80, tmp_path / "bloc", excel_share=0.1, error_share=0.05)
    workspace = tmp_path / "ws"
    pipeline.load_registry(workspace, bloc.registry)
    pipeline.collect_files(workspace, pipeline.read_source(str(bloc.source(2023))))
    batch = pipeline.collect_files(workspace, pipeline.read_source(str(bloc.source(2024))))
    findings = pipeline.validate_scope(
        workspace, load_catalog(), PeriodRange.parse("2024"), batch.batch_id, "t"
    )
    clean = [f for f in findings if f.unit_code not in bloc.planted]
    assert clean == [], [(f.unit_code, f.rule_id, f.message) for f in clean]
    errors = {f.unit_code for f in findings if f.severity == "error"}
    assert errors == set(bloc.planted)
