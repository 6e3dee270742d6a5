"""Run the dbt project of `sql/` in-process (dbt's `dbtRunner`) on a workspace's DuckDB file."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tonghop.paths import SQL_DIR


@dataclass(frozen=True)
class NodeResult:
    """What dbt did with one node: a model built, a data test or a unit test run."""

    name: str
    resource_type: str  # model, test, unit_test, ...
    status: str  # success, error, skipped (models); pass, fail, warn, error (tests)
    seconds: float
    message: str | None = None
    failures: int | None = None

    @property
    def failed(self) -> bool:
        return self.status in ("error", "fail")


class DbtRunError(RuntimeError):
    """dbt did not build or test everything it was asked to; the message names what failed."""

    def __init__(self, command: str, failed: list[NodeResult], cause: BaseException | None):
        self.failed = failed
        lines = [f"{n.resource_type} {n.name}: {n.status} ({n.message})" for n in failed]
        if cause is not None:
            lines.append(f"{type(cause).__name__}: {cause}")
        super().__init__(f"dbt {command} không chạy hết: " + "; ".join(lines))


def _node_result(result) -> NodeResult:  # noqa: ANN001
    """A dbt `RunResult` as a NodeResult."""
    node = result.node
    return NodeResult(
        name=node.name,
        resource_type=str(node.resource_type),
        status=str(result.status),
        seconds=float(result.execution_time or 0.0),
        message=result.message,
        failures=result.failures,
    )


def _arguments(command: str, project_dir: Path, work_dir: Path, dbt_vars: dict) -> list[str]:
    """dbt's command line for the project, with its target and logs under `work_dir`."""
    return [
        command,
        "--project-dir", str(project_dir),
        "--profiles-dir", str(project_dir),
        "--target-path", str(work_dir / "target"),
        "--log-path", str(work_dir / "logs"),
        "--vars", json.dumps(dbt_vars),
        "--quiet",
        "--no-use-colors",
        "--no-send-anonymous-usage-stats",
    ]  # fmt: skip


def run_dbt(
    command: str,
    database: Path,
    work_dir: Path,
    project_dir: Path = SQL_DIR,
    connection_config: dict[str, str] | None = None,
    full_refresh: bool = False,
    select: str | None = None,
    exclude: str | None = None,
    on_node: Callable[[NodeResult], None] | None = None,
) -> list[NodeResult]:
    """Run `dbt COMMAND` (`run`, `build`, `test`) on `database`; each node's result, in the order
    they finished. `on_node` is called as each one finishes (a flow task logs it).

    dbt writes its target and logs under `work_dir`, never into `project_dir` (read-only in an
    installed package). The profile (`sql/profiles.yml`) takes the file's path and DuckDB's
    configuration as vars: in one process dbt-duckdb's `duckdb.connect` shares the instance of
    a connection already open on the file only when the configuration is the same
    (`connection_config`, tonghop.db's). Raises DbtRunError when a node fails or dbt cannot run.
    """
    from dbt.cli.main import dbtRunner

    config = connection_config or {}
    dbt_vars = {"tonghop_duckdb": str(database)}
    if "custom_user_agent" in config:
        dbt_vars["tonghop_user_agent"] = config["custom_user_agent"]
    args = _arguments(command, project_dir, work_dir, dbt_vars)
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", select]
    if exclude:
        args += ["--exclude", exclude]

    def finished(event) -> None:  # noqa: ANN001
        if on_node is not None and event.info.name == "NodeFinished":
            info = event.data.node_info
            run = event.data.run_result
            on_node(
                NodeResult(
                    name=info.node_name,
                    resource_type=info.resource_type,
                    status=run.status,
                    seconds=float(run.execution_time or 0.0),
                    message=run.message or None,
                )
            )

    outcome = dbtRunner(callbacks=[finished]).invoke(args)
    results = [_node_result(r) for r in getattr(outcome.result, "results", None) or []]
    if not outcome.success:
        raise DbtRunError(command, [r for r in results if r.failed], outcome.exception)
    return results


@dataclass(frozen=True)
class ProjectModel:
    """A model of the dbt project as dbt's manifest describes it."""

    name: str
    layer: str  # the folder under sql/: staging, intermediate, marts
    materialized: str  # view, table, incremental
    depends_on: tuple[str, ...]  # the models it reads (`ref`)
    sources: tuple[str, ...]  # the raw tables it reads (`source`)


def project_models(project_dir: Path = SQL_DIR) -> list[ProjectModel]:
    """Every model of the dbt project, by name, from the manifest `dbt parse` makes (in a
    temporary folder)."""
    import tempfile

    from dbt.cli.main import dbtRunner

    with tempfile.TemporaryDirectory(prefix="tonghop-dbt-") as tmp:
        work = Path(tmp)
        dbt_vars = {"tonghop_duckdb": str(work / "parse.duckdb")}
        arguments = _arguments("parse", project_dir, work, dbt_vars) + ["--no-partial-parse"]
        outcome = dbtRunner().invoke(arguments)
    if not outcome.success:
        raise DbtRunError("parse", [], outcome.exception)
    manifest = outcome.result
    models = []
    for node in manifest.nodes.values():
        if node.resource_type != "model":
            continue
        depends = node.depends_on.nodes
        models.append(
            ProjectModel(
                name=node.name,
                layer=Path(node.original_file_path).parts[0],
                materialized=node.config.materialized,
                depends_on=tuple(
                    sorted(manifest.nodes[d].name for d in depends if d in manifest.nodes)
                ),
                sources=tuple(
                    sorted(manifest.sources[d].name for d in depends if d in manifest.sources)
                ),
            )
        )
    return sorted(models, key=lambda m: m.name)
