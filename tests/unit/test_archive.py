"""The packed archive: bytes kept whole, found by sha256, a crash's torn pack ignored, loose
files of older workspaces read and packed, damage found by the check and by verify.

Packs are read back here from their documented layout (an index line `sha256 offset length`
a file), not through the archive's reader, and compared with hashlib's digests of the inputs.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from tonghop.collect import SourceFile, archive_files, collect, read_archived
from tonghop.collect.archive import check_archive, pack_loose, verify_archive
from tonghop.collect.packs import discard_torn
from tonghop.db import connect

HEADER = "unit_code,period,indicator_code,value\n"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def packed_files(workspace: Path) -> dict[str, bytes]:
    """Every file the packs' indexes name, read by offset and length from its pack (the
    e2e tests read packs with it too)."""
    stored = {}
    for index in sorted((workspace / "archive" / "packs").glob("*.idx")):
        pack = index.with_suffix(".pack").read_bytes()
        for line in index.read_text(encoding="ascii").splitlines():
            sha256, offset, length = line.split()
            stored[sha256] = pack[int(offset) : int(offset) + int(length)]
    return stored


def _received(n: int, start: int = 0) -> list[tuple[str, str, bytes]]:
    files = [f"{HEADER}TCCS{i:03d},2023-H1,members_total,{i * 7}\n".encode() for i in range(n)]
    return [(_sha(d), f"u{i}.csv", d) for i, d in enumerate(files[start:], start)]


def test_packed_files_come_back_byte_for_byte(tmp_path: Path) -> None:
    received = [*_received(30), ("", "empty.csv", b""), ("", "bin.xlsx", bytes(range(256)) * 9)]
    received = [(_sha(d), name, d) for _, name, d in received]
    archive_files(tmp_path, received[:20])
    archive_files(tmp_path, received[10:])
    stored = packed_files(tmp_path)
    assert stored == {_sha(d): d for _, _, d in received}
    for sha256, _name, data in received:
        assert read_archived(tmp_path, sha256) == data
    packs = tmp_path / "archive" / "packs"
    assert len(list(packs.glob("*.pack"))) == 2  # one a call: durable once a pack
    assert {stat.S_IMODE(p.stat().st_mode) for p in packs.iterdir()} == {0o444}


def test_a_torn_pack_is_never_read_and_is_removed(tmp_path: Path) -> None:
    committed = _received(5)
    archive_files(tmp_path, committed)
    packs = tmp_path / "archive" / "packs"
    # What a crash mid-pack leaves: bytes of a pack cut short, an index being written.
    torn = _received(8, start=5)
    (packs / "99999999999999999999-dead.pack").write_bytes(b"".join(d for *_, d in torn)[:50])
    (packs / ".99999999999999999999-dead.idx.tmp").write_text(f"{torn[0][0]} 0 ")
    assert read_archived(tmp_path, torn[0][0]) is None
    assert sorted(discard_torn(os.fspath(tmp_path))) == [
        ".99999999999999999999-dead.idx.tmp",
        "99999999999999999999-dead.pack",
    ]
    assert packed_files(tmp_path) == {sha: d for sha, _, d in committed}
    archive_files(tmp_path, committed + torn)  # the rerun archives the rest
    assert packed_files(tmp_path) == {sha: d for sha, _, d in committed + torn}


def _loose(workspace: Path, received: list[tuple[str, str, bytes]]) -> list[Path]:
    """Archive files one each, as workspaces did before packs."""
    paths = []
    for sha256, _name, data in received:
        path = workspace / "archive" / sha256[:2] / f"{sha256}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(0o444)
        paths.append(path)
    return paths


def test_loose_files_are_read_andpacked_files(tmp_path: Path) -> None:
    received = _received(12)
    paths = _loose(tmp_path, received)
    for sha256, _name, data in received:
        assert read_archived(tmp_path, sha256) == data
    assert check_archive(tmp_path, [(sha, len(d)) for sha, _, d in received]) == []
    # one loose file altered on disk: left where it is and named, never packed as its hash
    paths[3].chmod(0o644)
    paths[3].write_bytes(b"sua tay")
    archive_files(tmp_path, received[:2])  # already held loose: nothing stored again
    assert not (tmp_path / "archive" / "packs").exists()

    moved, altered = pack_loose(tmp_path)
    assert (moved, altered) == (11, [os.fspath(paths[3])])
    assert [p for p in paths if p.exists()] == [paths[3]]
    good = [r for i, r in enumerate(received) if i != 3]
    assert packed_files(tmp_path) == {sha: d for sha, _, d in good}
    assert verify_archive(tmp_path, [sha for sha, _, _ in received]) == {received[3][0]: "altered"}


def test_verify_finds_a_deleted_and_an_altered_file(tmp_path: Path) -> None:
    first, second = _received(4), _received(7, start=4)
    archive_files(tmp_path, first)
    archive_files(tmp_path, second)
    packs = sorted((tmp_path / "archive" / "packs").glob("*.pack"))
    packs[0].unlink()  # every file of the first pack lost
    pack = packs[1]
    data = bytearray(pack.read_bytes())
    data[0] ^= 1  # the first file of the second pack altered, its length the same
    pack.chmod(0o644)
    pack.write_bytes(bytes(data))
    everything = [sha for sha, _, _ in first + second]
    expected = {sha: "missing" for sha, _, _ in first} | {second[0][0]: "altered"}
    assert verify_archive(tmp_path, everything) == expected
    # the per-run check sees the loss (a presence and length check), not the altered byte
    sizes = [(sha, len(d)) for sha, _, d in first + second]
    assert check_archive(tmp_path, sizes) == [sha for sha, _, _ in first]


def test_each_collect_restores_lost_files_from_the_source_and_names_the_others(
    tmp_path: Path,
) -> None:
    received = _received(6)
    files = [SourceFile(name, data) for _, name, data in received]
    con = connect(tmp_path)
    try:
        first = collect(con, tmp_path, files)
        assert first.archive == []
        for pack in (tmp_path / "archive" / "packs").iterdir():
            pack.unlink()  # the archive folder's packs deleted by hand
        # the source still has five of the six files; the sixth was taken away
        again = collect(con, tmp_path, files[1:])
    finally:
        con.close()
    assert [(p["file"], p["restored"]) for p in again.archive] == [
        (name, name != "u0.csv") for _, name, _ in received
    ]
    lost = [r for r in again.rejected if r["sha256"] == received[0][0]]
    assert len(lost) == 1 and "không còn" in lost[0]["reason"]
    assert packed_files(tmp_path) == {sha: d for sha, _, d in received[1:]}
