"""deployments/prefect.yaml as a worker reads it: entrypoints that are modules of the installed
package (a worker and a Dask worker import them from any folder), no pull step, no parameter a
run must give, and TONGHOP_HOME read by each process from its own environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from tonghop.paths import DEPLOYMENTS_DIR


def _deployments() -> dict:
    return yaml.safe_load((DEPLOYMENTS_DIR / "prefect.yaml").read_text(encoding="utf-8"))


def test_entrypoints_are_modules_and_nothing_is_pulled():
    from prefect.flows import load_flow_from_entrypoint

    config = _deployments()
    assert config["pull"] == []  # `prefect deploy` adds no working directory of its own
    for deployment in config["deployments"]:
        entrypoint = deployment["entrypoint"]
        assert entrypoint.startswith("tonghop.flows.") and ".py" not in entrypoint, entrypoint
        flow = load_flow_from_entrypoint(entrypoint)
        assert flow.fn.__module__ == entrypoint.split(":")[0]  # what a Dask worker imports
        # only the periods are set: the rest comes from the settings the Variable names
        assert set(deployment["parameters"]["params"]) == {"period"}, deployment["name"]


def test_no_deployment_parameter_is_required():
    """Each flow's form asks for nothing: a run given one parameter (or none) is valid."""
    from prefect.utilities.callables import parameter_schema

    from tonghop.flows import collect, consolidate_render, remind, run, validate

    for flow in (
        collect.collect_submissions,
        validate.validate_submissions,
        consolidate_render.consolidate_and_render,
        remind.remind,
        run.run,
    ):
        schema = parameter_schema(flow)
        assert not schema.required, flow.name
        assert all(not d.get("required") for d in schema.definitions.values()), flow.name


def test_tonghop_home_of_the_process_environment_is_honoured(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TONGHOP_HOME"] = str(tmp_path)
    probe = "import tonghop.paths as p; print(p.CATALOG_DIR)"
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "catalog")
