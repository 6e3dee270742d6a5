"""`tonghop archive` on a real workspace of the sample bloc: get, verify, pack; and a rerun
after the archive folder was deleted.

Bytes are compared with the source files themselves and hashlib, and packs read from their
documented layout (an index line `sha256 offset length` a file), not through the archive's code.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.test_archive import packed_files as _packed
from tonghop import pipeline
from tonghop.paths import SAMPLE_DIR

SOURCE = SAMPLE_DIR / "submissions"


def _source() -> dict[str, tuple[str, bytes]]:
    """The sample's files by sha256: (name, bytes), read straight from disk."""
    files = {}
    for path in sorted(p for p in SOURCE.rglob("*") if p.is_file()):
        data = path.read_bytes()
        files.setdefault(
            hashlib.sha256(data).hexdigest(), (path.relative_to(SOURCE).as_posix(), data)
        )
    return files


def _tonghop(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tonghop.cli", "archive", *args], capture_output=True, timeout=300
    )


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    workspace = tmp_path_factory.mktemp("archive") / "ws"
    pipeline.load_registry(workspace, SAMPLE_DIR / "registry.csv")
    pipeline.collect_files(workspace, pipeline.read_source(str(SOURCE)))
    return workspace


def test_every_received_file_comes_back_byte_for_byte(workspace: Path) -> None:
    source = _source()
    assert _packed(workspace) == {sha: data for sha, (_, data) in source.items()}
    csv = next(sha for sha, (name, _) in source.items() if name.endswith(".csv"))
    xlsx = next(sha for sha, (name, _) in source.items() if name.endswith(".xlsx"))
    for sha256 in (csv, xlsx):
        got = _tonghop("get", sha256, "--workspace", str(workspace))
        assert got.returncode == 0, got.stderr.decode()
        assert got.stdout == source[sha256][1]
    unknown = _tonghop("get", "0" * 64, "--workspace", str(workspace))
    assert unknown.returncode != 0 and unknown.stdout == b""
    assert "không có tệp nào có sha256 " + "0" * 64 in unknown.stderr.decode()


def test_verify_names_deleted_and_altered_files(workspace: Path, tmp_path: Path) -> None:
    copy = tmp_path / "ws"
    shutil.copytree(workspace, copy)
    clean = _tonghop("verify", "--workspace", str(copy))
    assert clean.returncode == 0, clean.stdout.decode()
    source = _source()
    assert f"{len(source)} nguyên vẹn, 0 bị mất" in clean.stdout.decode()

    first, second = sorted((copy / "archive" / "packs").glob("*.idx"))[:2]
    lost = [line.split()[0] for line in first.read_text().splitlines()]
    first.with_suffix(".pack").unlink()
    altered, offset, _length = second.read_text().splitlines()[0].split()
    pack = second.with_suffix(".pack")
    data = bytearray(pack.read_bytes())
    data[int(offset)] ^= 0x20
    pack.chmod(0o644)
    pack.write_bytes(bytes(data))

    found = _tonghop("verify", "--workspace", str(copy))
    assert found.returncode == 1
    out = found.stdout.decode()
    assert f"bị thay đổi: {altered}  {source[altered][0]}" in out
    for sha256 in lost:
        assert f"bị mất: {sha256}  {source[sha256][0]}" in out
    assert f"{len(lost) + 1} bị mất hoặc bị thay đổi" in out


def test_a_loose_workspace_works_and_is_packed(workspace: Path, tmp_path: Path) -> None:
    copy = tmp_path / "ws"
    shutil.copytree(workspace, copy)
    # The archive as workspaces kept it before packs: one read-only file per sha256.
    for sha256, data in _packed(copy).items():
        path = copy / "archive" / sha256[:2] / sha256
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o444)
    shutil.rmtree(copy / "archive" / "packs")
    source = _source()
    assert _tonghop("verify", "--workspace", str(copy)).returncode == 0
    rerun = pipeline.collect_files(copy, pipeline.read_source(str(SOURCE)))
    assert rerun.archive == [] and rerun.loaded == []

    packed = _tonghop("pack", "--workspace", str(copy))
    assert packed.returncode == 0, packed.stderr.decode()
    assert f"Đã chuyển {len(source)} tệp" in packed.stdout.decode()
    assert sorted(p.name for p in (copy / "archive").iterdir()) == ["packs"]
    assert _packed(copy) == {sha: data for sha, (_, data) in source.items()}
    assert _tonghop("verify", "--workspace", str(copy)).returncode == 0


def test_a_deleted_archive_is_found_and_restored_from_the_source(
    workspace: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "ws"
    shutil.copytree(workspace, copy)
    shutil.rmtree(copy / "archive")
    rerun = pipeline.collect_files(copy, pipeline.read_source(str(SOURCE)))
    source = _source()
    assert len(rerun.archive) == len(source)
    assert all(p["restored"] for p in rerun.archive)
    assert _packed(copy) == {sha: data for sha, (_, data) in source.items()}
