"""Run the dbt project of `sql/` in-process (dbt's `dbtRunner`) on a workspace's DuckDB file."""

from __future__ import annotations

import hashlib
import json
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tonghop.db import DB_NAME
from tonghop.paths import SQL_DIR

if TYPE_CHECKING:
    from dbt.contracts.graph.manifest import Manifest


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


def project_signature(project_dir: Path = SQL_DIR) -> str:
    """The sha256 of every file of the dbt project (models, tests, macros, configuration)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in project_dir.rglob("*") if p.is_file() and p.suffix in _PROJECT):
        digest.update(path.relative_to(project_dir).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


_PROJECT = {".sql", ".yml", ".yaml"}

# The parsed project of each (folder, project_signature, DuckDB file name) in this process. The
# manifest names each relation's database, which dbt-duckdb takes from the file's name (every
# workspace's is tonghop.duckdb); the rest of a workspace is the profile's vars (the file's
# folder, DuckDB's configuration), which dbt reads again from each invocation's arguments to
# connect, and the models' SQL is rendered when a run compiles it. So the manifest is the same
# for every workspace and parsing it (the dearest part of a small run) is done once.
_MANIFESTS: dict[tuple[str, str, str], Manifest] = {}
_PARSING = threading.Lock()


def parsed_project(
    project_dir: Path = SQL_DIR, database: Path | None = None, work_dir: Path | None = None
) -> Manifest:
    """dbt's manifest of the project as it is now for `database` (a file named tonghop.duckdb
    when None), parsed once per process (a copy: a run compiles into its manifest's nodes).

    Parsed in `work_dir` when given, where dbt keeps its partial parse of the workspace's last
    runs (a new process consolidating a workspace again parses only what changed); else in a
    temporary folder."""
    name = database.name if database is not None else DB_NAME
    key = (str(project_dir.resolve()), project_signature(project_dir), name)
    with _PARSING:
        if key not in _MANIFESTS:
            if database is not None and work_dir is not None:
                _MANIFESTS[key] = _parse(project_dir, database, work_dir)
            else:
                with tempfile.TemporaryDirectory(prefix="tonghop-dbt-") as tmp:
                    _MANIFESTS[key] = _parse(project_dir, Path(tmp) / name, Path(tmp))
        return _MANIFESTS[key].deepcopy()


def _parse(project_dir: Path, database: Path, work_dir: Path) -> Manifest:
    """`dbt parse` of the project for `database`, its target and logs in `work_dir`."""
    from dbt.cli.main import dbtRunner

    outcome = dbtRunner().invoke(_arguments("parse", project_dir, work_dir, _vars(database, {})))
    if not outcome.success:
        raise DbtRunError("parse", [], outcome.exception)
    return outcome.result


def _vars(database: Path, connection_config: dict[str, str]) -> dict[str, str]:
    """The profile's vars: the DuckDB file and the configuration dbt must open it with."""
    dbt_vars = {"tonghop_duckdb": str(database)}
    if "custom_user_agent" in connection_config:
        dbt_vars["tonghop_user_agent"] = connection_config["custom_user_agent"]
    return dbt_vars


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

    args = _arguments(command, project_dir, work_dir, _vars(database, connection_config or {}))
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

    manifest = parsed_project(project_dir, database, work_dir)
    outcome = dbtRunner(manifest=manifest, callbacks=[finished]).invoke(args)
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
    """Every model of the dbt project, by name, from its manifest."""
    manifest = parsed_project(project_dir)
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
