"""Run the dbt project of `sql/` in-process (dbt's `dbtRunner`) on a workspace's DuckDB file."""

from __future__ import annotations

import copyreg
import dataclasses
import hashlib
import importlib.metadata
import io
import json
import os
import pickle
import sys
import tempfile
import threading
import time
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
    """dbt's command line for the project, with its target under `work_dir`. No log, on screen
    or in a file: dbt formats every line of either before it looks at its level, and its lines
    cost more than creating a view; what failed comes back in the run's results (DbtRunError),
    each model's result through `run_dbt`'s `on_node`, the SQL run in `work_dir/target/run`."""
    return [
        command,
        "--project-dir", str(project_dir),
        "--profiles-dir", str(project_dir),
        "--target-path", str(work_dir / "target"),
        "--log-path", str(work_dir / "logs"),
        "--vars", json.dumps(dbt_vars),
        "--log-level", "none",
        "--log-level-file", "none",
        "--no-write-json",
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
# for every workspace and parsing it (the dearest part of a small run) is done once. Kept pickled:
# each run gets its own copy by unpickling it (dbt's `Manifest.deepcopy` goes through mashumaro's
# dictionaries, ten times dearer).
_MANIFESTS: dict[tuple[str, str, str], bytes] = {}
# A manifest loaded by start_in_background, not yet given to a run: the next run takes it.
_SPARE: dict[tuple[str, str, str], Manifest] = {}
_PARSING = threading.Lock()

# The packages whose versions a stored manifest was made with: another version of any of them
# parses again (their classes are what is pickled, dbt's macros are in the manifest).
_DBT_PACKAGES = ("dbt-core", "dbt-adapters", "dbt-common", "dbt-duckdb", "mashumaro")
MANIFEST_FILE = "tonghop-manifest-{key}.pickle"
STALE_SECONDS = 24 * 3600


def manifest_cache_dir() -> Path:
    """Where a parsed manifest is kept for the next processes: `TONGHOP_CACHE_DIR`, else
    tonghop's folder of the user's cache (`XDG_CACHE_HOME`, else ~/.cache)."""
    if os.environ.get("TONGHOP_CACHE_DIR"):
        return Path(os.environ["TONGHOP_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tonghop"


def manifest_key(project_dir: Path, name: str) -> str:
    """What a stored manifest is valid for: the project's files, the DuckDB file's name, the
    versions of Python, dbt and its packages."""
    versions = [f"{d}=={importlib.metadata.version(d)}" for d in _DBT_PACKAGES]
    basis = [project_signature(project_dir), name, sys.version, *versions]
    return hashlib.sha256("\n".join(basis).encode()).hexdigest()[:32]


def parsed_project(
    project_dir: Path = SQL_DIR, database: Path | None = None, work_dir: Path | None = None
) -> Manifest:
    """dbt's manifest of the project as it is now for `database` (a file named tonghop.duckdb
    when None), parsed once (a copy: a run compiles into its manifest's nodes).

    Once per process, and across processes: a parse is stored (pickled: loading it costs a
    tenth of dbt's partial parse, which decodes its msgpack through classes it builds first)
    in the workspace's `work_dir` and in `manifest_cache_dir()`, named by `manifest_key`, and
    a new process loads it from either instead of parsing. A parse is done in `work_dir` when
    given, where dbt keeps its partial parse; else in a temporary folder."""
    name = database.name if database is not None else DB_NAME
    key = (str(project_dir.resolve()), project_signature(project_dir), name)
    with _PARSING:
        if key not in _MANIFESTS:
            _MANIFESTS[key], manifest = _stored_or_parsed(project_dir, name, database, work_dir)
            return manifest
        if key in _SPARE:
            return _SPARE.pop(key)
        data = _MANIFESTS[key]
    return pickle.loads(data)  # noqa: S301 (pickled by this process or _store, same user)


def start_in_background(
    database: Path | None = None, work_dir: Path | None = None, project_dir: Path = SQL_DIR
) -> threading.Thread:
    """Start dbt in a thread: import it and load (or parse) the project's manifest for
    `database`, so that a consolidation later in this process (`run_dbt`) finds both done. A run
    calls it before the stages that come first (collect, validate), whose time it then shares;
    a failure here is left for the consolidation to meet and report."""

    def start() -> None:
        name = database.name if database is not None else DB_NAME
        key = (str(project_dir.resolve()), project_signature(project_dir), name)
        try:
            manifest = parsed_project(project_dir, database, work_dir)
        except Exception:  # noqa: BLE001 (run_dbt parses again and says why it cannot)
            return
        with _PARSING:
            _SPARE[key] = manifest

    thread = threading.Thread(target=start, name="tonghop-dbt-start", daemon=True)
    thread.start()
    return thread


def _stored_or_parsed(
    project_dir: Path, name: str, database: Path | None, work_dir: Path | None
) -> tuple[bytes, Manifest]:
    """The manifest an earlier process stored for the same key, else a parse, then stored where
    it was missing: pickled, and as an object no one else holds."""
    file_name = MANIFEST_FILE.format(key=manifest_key(project_dir, name))
    folders = [work_dir] if work_dir is not None else []
    if project_dir.resolve() == SQL_DIR.resolve():  # not a copy changed for a test
        folders.append(manifest_cache_dir())
    tried = []  # the folders whose file is missing or cannot be read: written again
    for folder in folders:
        stored = _load(folder / file_name)
        if stored is not None:
            data, manifest = stored
            break
        tried.append(folder)
    else:
        if database is not None and work_dir is not None:
            manifest = _parse(project_dir, database, work_dir)
        else:
            with tempfile.TemporaryDirectory(prefix="tonghop-dbt-") as tmp:
                manifest = _parse(project_dir, Path(tmp) / name, Path(tmp))
        data = _pickled(manifest)
    for folder in folders:
        if folder in tried or not (folder / file_name).exists():
            _store(data, folder / file_name)
    return data, manifest


def _pickled(manifest: Manifest) -> bytes:
    """The manifest pickled by its fields, without the lookups dbt builds from them when first
    asked (dbt's own `Manifest.__reduce_ex__` lists the fields out of order since `fixtures`)."""
    from dbt.contracts.graph.manifest import Manifest

    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = copyreg.dispatch_table.copy()
    pickler.dispatch_table[Manifest] = lambda m: (_manifest, (_fields(m),))
    pickler.dump(manifest)
    return buffer.getvalue()


def _fields(manifest: Manifest) -> dict:
    return {
        f.name: getattr(manifest, f.name)
        for f in dataclasses.fields(manifest)
        if not f.name.startswith("_")
    }


def _manifest(fields: dict) -> Manifest:
    """A manifest from its fields (unpickling `_pickled`)."""
    from dbt.contracts.graph.manifest import Manifest

    return Manifest(**fields)


def _load(path: Path) -> tuple[bytes, Manifest] | None:
    """A stored manifest, pickled and loaded, or None when there is none or it cannot be read as
    one."""
    from dbt.contracts.graph.manifest import Manifest

    try:
        data = path.read_bytes()
        manifest = pickle.loads(data)  # noqa: S301 (written by _store, same user)
    except Exception:  # noqa: BLE001 (missing, damaged, or of another version: parse again)
        return None
    return (data, manifest) if isinstance(manifest, Manifest) else None


def _store(data: bytes, path: Path) -> None:
    """Keep a pickled manifest for the next processes (written whole, then renamed into place,
    so a process reading it meanwhile sees no file or the whole one), and remove the folder's
    manifests of other keys left a day ago or more (another version of the project or of dbt);
    nothing when the folder cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:
            tmp.write(data)
        os.replace(tmp.name, path)
        for other in path.parent.glob(MANIFEST_FILE.format(key="*")):
            if other != path and time.time() - other.stat().st_mtime > STALE_SECONDS:
                other.unlink(missing_ok=True)
    except OSError:
        return


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
