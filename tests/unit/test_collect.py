"""Collect: reading long CSVs, archiving received bytes, loading them with their provenance.

Over 500 lines: one file for the collect package's behaviour, its cases sharing the CSVs and
workspaces defined once at the top.
"""

from __future__ import annotations

import hashlib
import random
import stat
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from tests.conftest import collected_rows
from tonghop.collect import (
    SourceFile,
    _plain_csv_groups,
    _regular_csv_groups,
    archive_files,
    archive_path,
    collect,
    parse_csv,
    parse_number,
    read_archived,
    read_chunk,
    read_source,
    read_values,
)
from tonghop.db import connect
from tonghop.parse import UnreadableFile
from tonghop.runners import chunk_parser, read_ahead, task_runner
from tonghop.settings import CollectSettings, IntakeSettings, load_settings

HEADER = "unit_code,period,indicator_code,value\n"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# parse_csv ---------------------------------------------------------------------------------


def test_parse_csv_reads_rows_with_their_line_numbers() -> None:
    data = HEADER + "TCCS001,2023-H1,members_total,412\nTCCS001,2023-H1,members_official,400\n"
    parsed = parse_csv("a.csv", data.encode())
    assert parsed.file_format == "csv"
    assert [
        (v.unit_code, v.period, v.indicator_code, v.raw, v.location) for v in parsed.values
    ] == [
        ("TCCS001", "2023-H1", "members_total", "412", "dòng 2"),
        ("TCCS001", "2023-H1", "members_official", "400", "dòng 3"),
    ]
    assert all(v.note is None for v in parsed.values)


def test_parse_csv_accepts_a_byte_order_mark() -> None:
    data = b"\xef\xbb\xbf" + (HEADER + "TCCS001,2023-H1,members_total,412\n").encode()
    parsed = parse_csv("bom.csv", data)
    assert len(parsed.values) == 1
    assert parsed.values[0].unit_code == "TCCS001"
    assert parsed.values[0].raw == "412"


def test_parse_csv_accepts_semicolons() -> None:
    data = "unit_code;period;indicator_code;value\nTCCS002;2023-H2;members_total;55\n"
    parsed = parse_csv("semi.csv", data.encode())
    value = parsed.values[0]
    assert (value.unit_code, value.period, value.indicator_code, value.raw) == (
        "TCCS002",
        "2023-H2",
        "members_total",
        "55",
    )


def test_parse_csv_keeps_the_optional_note_and_header_case() -> None:
    data = (
        "Unit_Code,PERIOD,indicator_code,value,note\n"
        "TCCS001,2023-H1,members_total,412,Số liệu đến 30/6\n"
        "TCCS001,2023-H1,members_official,400,\n"
    )
    parsed = parse_csv("note.csv", data.encode())
    assert [v.note for v in parsed.values] == ["Số liệu đến 30/6", None]


def test_parse_csv_normalises_to_nfc() -> None:
    decomposed = "Ghi chu\u0301"  # "Ghi chú" with a combining acute accent
    data = HEADER.replace("\n", ",note\n") + f"TCCS001,2023-H1,members_total,1,{decomposed}\n"
    parsed = parse_csv("nfc.csv", data.encode())
    assert parsed.values[0].note == "Ghi chú"


def test_parse_csv_skips_blank_lines_and_pads_short_rows() -> None:
    data = HEADER + "\nTCCS001,2023-H1,members_total\n,,,\n"
    parsed = parse_csv("short.csv", data.encode())
    assert len(parsed.values) == 1
    assert parsed.values[0].raw == ""
    assert parsed.values[0].location == "dòng 3"
    assert parsed.warnings and "dòng 3" in parsed.warnings[0]


def test_parse_csv_missing_column_names_file_and_line_one() -> None:
    data = "unit_code,period,value\nTCCS001,2023-H1,412\n"
    with pytest.raises(UnreadableFile) as caught:
        parse_csv("thieu-cot.csv", data.encode())
    message = str(caught.value)
    assert "'thieu-cot.csv'" in message
    assert "dòng 1" in message
    assert "indicator_code" in message
    assert "thiếu cột" in message


@pytest.mark.parametrize("data", [b"", b"  \n\r\n"])
def test_parse_csv_empty_file(data: bytes) -> None:
    with pytest.raises(UnreadableFile, match="Tệp 'rong.csv' rỗng"):
        parse_csv("rong.csv", data)


def test_parse_csv_header_only_has_no_values() -> None:
    with pytest.raises(UnreadableFile, match="không có dòng số liệu"):
        parse_csv("header.csv", HEADER.encode())


def test_parse_csv_reads_windows_1258_and_says_so() -> None:
    # "Đạng" as Windows-1258 writes it: the dot below is a combining byte after the vowel
    header = "unit_code,period,indicator_code,value,note\n"
    data = (header + "TCCS001,2023-H1,members_total,412,").encode() + b"\xd0a\xf2ng\n"
    parsed = parse_csv("cu.csv", data)
    assert parsed.values[0].raw == "412"
    assert parsed.values[0].note == "Đạng"
    assert any("Windows-1258" in w and "cu.csv" in w for w in parsed.warnings)


# Collect reads CSVs without building a RawValue per value (read_chunk): the same groups,
# numbers and warnings, in the same order, as parse_csv then read_values.
_CSV_CASES = {
    "plain": HEADER + "D1,2024,members_total,120\nD1,2024,members_admitted,4\n",
    "two units, interleaved": HEADER
    + "D1,2024,members_total,1.117\nD2,2024,members_total,51,23\nD1,2024,members_admitted,x\n"
    + "D2,2024,members_admitted,1,500\nD1,2023,members_total,7\n",
    "semicolons, note, short row, blank line": "\ufeffUnit_Code;Period;Indicator_Code;Value;Note\n"
    + "D1;2024;members_total;12;ghi chú\n\n;;;\nD1;2024;members_admitted\n"
    + "D1;2024;members_rated;1.234;\n",
    "windows-1258": None,
    # the same unit written with spaces, a digit that is not ASCII, a whole number too long
    "spaces, wide digits": HEADER
    + "D1,2024,members_total,12\n D1 ,2024,members_admitted,\uff13\nD1, 2024,members_rated,"
    + "1234567890123456\n",
    # what a spreadsheet or Python's csv module writes: CRLF, one unit, a ratio, a note
    "crlf, one unit": "unit_code,period,indicator_code,value,note\r\n"
    + "D1,2024,members_total,1.117,\r\nD1,2024,members_rated_good_pct,51,23,\r\n"
    + "D1 ,2024 ,members_admitted, 7 ,tăng\r\nD1,2024,members_rated,0012,\r\n",
    "crlf, one unit, no note, digits too long": "unit_code,period,indicator_code,value\r\n"
    + "D1,2024,members_total,12\r\nD1,2024,members_rated,1234567890123456\r\n",
    # a carriage return alone ends a row for the csv module; a row longer than the header
    "lone carriage return, long row": HEADER
    + "D1,2024,members_total,1.117\rD1,2024,members_admitted,3\nD1,2024,members_rated,4,x\n",
}
# Files read with str.split by columns (_plain_csv_groups), the csv module reading the others.
_PLAIN_CASES = {"plain", "crlf, one unit, no note, digits too long"}


@pytest.mark.parametrize("case", sorted(_CSV_CASES))
def test_read_chunk_reads_a_csv_as_parse_csv_then_read_values(case: str) -> None:
    text = _CSV_CASES[case]
    # None: "Đạng" as Windows-1258 writes it, the dot below a combining byte after the vowel
    data = (
        b"unit_code,period,indicator_code,value,note\nD1,2024,members_total,5,\xd0a\xf2ng\n"
        if text is None
        else text.encode()
    )
    parsed = parse_csv("a.csv", data)
    groups = read_values("a.csv", parsed)
    assert read_chunk([("a.csv", data, None)]) == [("loaded", "csv", groups, parsed.warnings)]
    assert parsed.warnings or case in _PLAIN_CASES
    assert (_plain_csv_groups("a.csv", data) is not None) == (case in _PLAIN_CASES)


def _edited_files(rng: random.Random, bases: list[bytes], pieces: list[bytes], count: int):
    """`count` files, each one of `bases` with 1 to 3 random edits: a piece inserted (60 %) or
    1 to 4 bytes deleted, at a random place."""
    for _ in range(count):
        data = bytearray(rng.choice(bases))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(data) + 1)
            if rng.random() < 0.6:
                data[at:at] = rng.choice(pieces)
            else:
                del data[at : at + rng.randint(1, 4)]
        yield bytes(data)


def test_plain_csvs_read_by_columns_give_what_the_csv_module_gives() -> None:
    # Seeded edits of plain files (cells, delimiters, line ends, blank and short rows, spaces):
    # whenever the by-columns reading takes a file, it gives the csv module's groups and
    # warnings exactly, or the file has no values and the csv module's path refuses it.
    rng = random.Random(20261128)
    bases = [
        (HEADER + "D1,2024,members_total,120\nD1,2024,members_rated_good_pct,51.23\n").encode(),
        b"unit_code,period,indicator_code,value,note\r\nD1,2024,members_total,1.117,a\r\n"
        b"D1,2024,members_admitted,4,\r\n",
    ]
    pieces = [b",", b";", b"\t", b"\r", b"\n", b"\r\n", b" ", b"\x0b", b"1.5", b"1,5", b"x",
              b"12345678901234567", b"D2", b"2023", b",,,", b"\n\n", b'"', b"\xc3\xa2"]  # fmt: skip
    taken = 0
    for data in _edited_files(rng, bases, pieces, 3000):
        plain = _plain_csv_groups("e.csv", data)
        if plain is None:
            continue
        taken += 1
        parsed = parse_csv("e.csv", data)
        assert plain == (read_values("e.csv", parsed), parsed.warnings), data
    assert taken > 300  # the edits left enough files plain to test the reading


def test_a_cell_over_the_csv_modules_limit_rejects_the_file_not_the_batch(tmp_path: Path) -> None:
    long_note = b"unit_code,period,indicator_code,value,note\nD9,2024,members_total,5,"
    huge = long_note + b"x" * 200_000 + b"\n"
    files = [
        SourceFile("dai.csv", huge),
        SourceFile("tot.csv", (HEADER + "D1,2024,x,1\n").encode()),
    ]
    con = connect(tmp_path)
    try:
        result = collect(con, tmp_path, files, batch_id="b1")
    finally:
        con.close()
    assert result.loaded == ["tot.csv"]
    [rejected] = result.rejected
    assert rejected["file"] == "dai.csv"
    assert "'dai.csv', dòng 2" in rejected["reason"] and "131.072 ký tự" in rejected["reason"]
    assert read_archived(tmp_path, rejected["sha256"]) == huge


# parse_number ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("14103", 14103.0),
        ("51.23", 51.23),
        (" 7 ", 7.0),
        ("-3", -3.0),
        ("+4", 4.0),
        (".5", 0.5),
        ("1e3", 1000.0),
        ("12a", None),
        ("1.234,5", 1234.5),
        ("51,23", 51.23),
        ("nan", None),
        ("inf", None),
        ("1e999", None),
        ("", None),
    ],
)
def test_parse_number(raw: str, expected: float | None) -> None:
    assert parse_number(raw) == expected


# archive_files -----------------------------------------------------------------------------


def test_archive_file_is_content_addressed_and_read_only(tmp_path: Path) -> None:
    data = b"unit_code,period\n"
    sha = _sha(data)
    archive_files(tmp_path, [(sha, "sub/Bao Cao.CSV", data)])
    assert archive_path(sha, "sub/Bao Cao.CSV") == f"archive/{sha[:2]}/{sha}.csv"
    assert read_archived(tmp_path, sha) == data
    stored = [p for p in (tmp_path / "archive").rglob("*") if p.is_file()]
    assert {stat.S_IMODE(p.stat().st_mode) for p in stored} == {0o444}
    assert not [p for p in stored if p.name.endswith(".tmp")]


def test_archive_file_never_rewrites(tmp_path: Path) -> None:
    data = b"first"
    sha = _sha(data)
    archive_files(tmp_path, [(sha, "a.csv", data)])
    archive_files(tmp_path, [(sha, "other-name.csv", b"something else")])
    assert archive_path(sha, "a.csv") == archive_path(sha, "other-name.csv")
    assert read_archived(tmp_path, sha) == b"first"


def test_archive_file_drops_an_odd_suffix(tmp_path: Path) -> None:
    data = b"x"
    sha = _sha(data)
    archive_files(tmp_path, [(sha, "weird.c$v", data)])
    assert archive_path(sha, "weird.c$v") == f"archive/{sha[:2]}/{sha}"
    assert read_archived(tmp_path, sha) == data


def test_archive_files_makes_a_chunk_durable_at_once_in_one_pack(tmp_path: Path) -> None:
    received = [(_sha(d), f"u{i}.CSV", d) for i, d in enumerate(b"value %d" % i for i in range(60))]
    archive_files(tmp_path, received)
    # what is already archived is not stored again: the second pack holds only the new file
    archive_files(tmp_path, [*received[:2], (_sha(b"new"), "moi.xlsx", b"new")])
    packs = sorted((tmp_path / "archive" / "packs").glob("*.pack"))
    assert [p.read_bytes() for p in packs] == [b"".join(d for _, _, d in received), b"new"]
    for sha, _name, data in [*received, (_sha(b"new"), "moi.xlsx", b"new")]:
        assert read_archived(tmp_path, sha) == data


# collect -----------------------------------------------------------------------------------

FILE_A = (
    HEADER + "TCCS001,2023-H1,members_total,412\n"
    "TCCS001,2023-H1,members_official,400\n"
    "TCCS001,2023-H1,members_probationary,12\n"
).encode()
FILE_TWO_UNITS = (
    "unit_code,period,indicator_code,value,note\n"
    "TCCS002,2023-H1,members_total,30,\n"
    "TCCS003,2023-H1,members_total,25,đã rà soát\n"
    "TCCS003,2023-H1,members_official,12a,\n"
).encode()
FILE_CORRUPT = b"unit_code,period,value\nTCCS004,2023-H1,7\n"


def _files() -> list[SourceFile]:
    return [
        SourceFile("a.csv", FILE_A),
        SourceFile("hong.csv", FILE_CORRUPT),
        SourceFile("nhieu-don-vi.csv", FILE_TWO_UNITS),
    ]


def test_collect_loads_new_files_with_provenance(tmp_path: Path) -> None:
    con = connect(tmp_path)
    try:
        result = collect(con, tmp_path, _files(), batch_id="b1")
        assert result.batch_id == "b1"
        assert result.seen == 3
        assert result.loaded == ["a.csv", "nhieu-don-vi.csv"]
        assert result.skipped == []

        received = con.execute(
            "select original_name, sha256, archive_path, size_bytes, status from received_files "
            "order by original_name"
        ).fetchall()
        assert received == [
            (
                "a.csv",
                _sha(FILE_A),
                f"archive/{_sha(FILE_A)[:2]}/{_sha(FILE_A)}.csv",
                len(FILE_A),
                "loaded",
            ),
            (
                "hong.csv",
                _sha(FILE_CORRUPT),
                f"archive/{_sha(FILE_CORRUPT)[:2]}/{_sha(FILE_CORRUPT)}.csv",
                len(FILE_CORRUPT),
                "rejected",
            ),
            (
                "nhieu-don-vi.csv",
                _sha(FILE_TWO_UNITS),
                f"archive/{_sha(FILE_TWO_UNITS)[:2]}/{_sha(FILE_TWO_UNITS)}.csv",
                len(FILE_TWO_UNITS),
                "loaded",
            ),
        ]
        for _name, sha256, _archived, _size, _status in received:
            assert hashlib.sha256(read_archived(tmp_path, sha256)).hexdigest() == sha256

        submissions = con.execute(
            "select unit_code, period, original_name, sha256, batch_id, file_format "
            "from submissions order by unit_code"
        ).fetchall()
        assert submissions == [
            ("TCCS001", "2023-H1", "a.csv", _sha(FILE_A), "b1", "csv"),
            ("TCCS002", "2023-H1", "nhieu-don-vi.csv", _sha(FILE_TWO_UNITS), "b1", "csv"),
            ("TCCS003", "2023-H1", "nhieu-don-vi.csv", _sha(FILE_TWO_UNITS), "b1", "csv"),
        ]
        values = con.execute(
            "select s.unit_code, v.indicator_code, v.raw_value, v.value, v.location, v.note "
            "from submitted_values v join submissions s using (submission_id) "
            "order by s.unit_code, v.location"
        ).fetchall()
        assert values == [
            ("TCCS001", "members_total", "412", 412.0, "dòng 2", None),
            ("TCCS001", "members_official", "400", 400.0, "dòng 3", None),
            ("TCCS001", "members_probationary", "12", 12.0, "dòng 4", None),
            ("TCCS002", "members_total", "30", 30.0, "dòng 2", None),
            ("TCCS003", "members_total", "25", 25.0, "dòng 3", "đã rà soát"),
            ("TCCS003", "members_official", "12a", None, "dòng 4", None),
        ]
        sightings = con.execute(
            "select source_name, batch_id from file_sightings order by source_name"
        ).fetchall()
        assert sightings == [("a.csv", "b1"), ("hong.csv", "b1"), ("nhieu-don-vi.csv", "b1")]
    finally:
        con.close()


def test_collect_defers_checkpoints_and_restores_the_threshold(tmp_path: Path) -> None:
    con = connect(tmp_path)
    setting = "select current_setting('checkpoint_threshold')"
    try:
        (before,) = con.execute(setting).fetchone()
        during: list[str] = []
        collect(
            con,
            tmp_path,
            _files(),
            batch_id="b1",
            progress=lambda done, total: during.append(con.execute(setting).fetchone()[0]),
        )
        assert set(during) == {"953.6 MiB"}  # 1GB, as DuckDB shows it
        assert con.execute(setting).fetchone()[0] == before

        def fail(done: int, total: int) -> None:
            raise RuntimeError("hỏng giữa chừng")

        with pytest.raises(RuntimeError, match="hỏng giữa chừng"):
            collect(
                con, tmp_path, [SourceFile("moi.csv", FILE_A + b"M1")], batch_id="b2", progress=fail
            )
        assert con.execute(setting).fetchone()[0] == before
    finally:
        con.close()


def test_collect_rejects_a_corrupt_file_with_its_reason(tmp_path: Path) -> None:
    con = connect(tmp_path)
    try:
        result = collect(con, tmp_path, _files(), batch_id="b1")
        sha = _sha(FILE_CORRUPT)
        assert len(result.rejected) == 1
        rejected = result.rejected[0]
        assert rejected["file"] == "hong.csv"
        assert rejected["sha256"] == sha
        assert rejected["archived_as"] == f"archive/{sha[:2]}/{sha}.csv"
        assert "'hong.csv'" in rejected["reason"] and "dòng 1" in rejected["reason"]
        assert "indicator_code" in rejected["reason"]
        stored_reason = con.execute(
            "select reason from received_files where sha256 = ?", [sha]
        ).fetchone()[0]
        assert stored_reason == rejected["reason"]
        # the rejected file is archived untouched and loads nothing
        assert read_archived(tmp_path, rejected["sha256"]) == FILE_CORRUPT
        assert (
            con.execute("select count(*) from submissions where sha256 = ?", [sha]).fetchone()[0]
            == 0
        )
    finally:
        con.close()


def test_collect_twice_skips_files_already_received(tmp_path: Path) -> None:
    con = connect(tmp_path)
    try:
        collect(con, tmp_path, _files(), batch_id="b1")
        counts_before = [
            con.execute(f"select count(*) from {t}").fetchone()[0]
            for t in ("received_files", "submissions", "submitted_values")
        ]
        assert counts_before == [3, 3, 6]
        again = collect(con, tmp_path, _files(), batch_id="b2")
        assert again.loaded == []
        assert again.skipped == ["a.csv", "hong.csv", "nhieu-don-vi.csv"]
        # the rejected file is still reported, so nothing is dropped silently
        assert [r["file"] for r in again.rejected] == ["hong.csv"]
        counts_after = [
            con.execute(f"select count(*) from {t}").fetchone()[0]
            for t in ("received_files", "submissions", "submitted_values")
        ]
        assert counts_after == counts_before
        assert (
            con.execute("select count(*) from file_sightings where batch_id = 'b2'").fetchone()[0]
            == 3
        )
    finally:
        con.close()


def test_collect_same_bytes_under_a_new_name_is_skipped(tmp_path: Path) -> None:
    con = connect(tmp_path)
    try:
        result = collect(
            con, tmp_path, [SourceFile("a.csv", FILE_A), SourceFile("a-copy.csv", FILE_A)]
        )
        assert result.loaded == ["a.csv"]
        assert result.skipped == ["a-copy.csv"]
        assert con.execute("select count(*) from submissions").fetchone()[0] == 1
    finally:
        con.close()


def test_collect_a_file_with_two_units_makes_two_submissions(tmp_path: Path) -> None:
    con = connect(tmp_path)
    try:
        collect(con, tmp_path, [SourceFile("nhieu-don-vi.csv", FILE_TWO_UNITS)])
        rows = con.execute(
            "select s.unit_code, count(v.indicator_code) from submissions s "
            "join submitted_values v using (submission_id) group by s.unit_code order by 1"
        ).fetchall()
        assert rows == [("TCCS002", 1), ("TCCS003", 2)]
        ids = [r[0] for r in con.execute("select submission_id from submissions").fetchall()]
        assert len(set(ids)) == 2
    finally:
        con.close()


def test_collect_resubmission_gets_a_higher_seq(tmp_path: Path) -> None:
    corrected = FILE_A.replace(b"412", b"413")
    con = connect(tmp_path)
    try:
        collect(con, tmp_path, [SourceFile("a.csv", FILE_A)])
        collect(con, tmp_path, [SourceFile("a.csv", corrected)])
        rows = con.execute(
            "select s.sha256, v.value from submissions s join submitted_values v "
            "using (submission_id) where v.indicator_code = 'members_total' order by s.seq"
        ).fetchall()
        assert rows == [(_sha(FILE_A), 412.0), (_sha(corrected), 413.0)]
    finally:
        con.close()


def test_read_source_lists_files_sorted_and_skips_hidden(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.csv").write_bytes(b"2")
    (tmp_path / "a.csv").write_bytes(b"1")
    (tmp_path / ".hidden.csv").write_bytes(b"3")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "y.csv").write_bytes(b"4")
    files = read_source(str(tmp_path))
    assert [(f.name, f.data) for f in files] == [("a.csv", b"1"), ("b/x.csv", b"2")]


def test_read_source_keeps_no_memory_mapping_per_file(tmp_path: Path) -> None:
    """A national batch is 120,000 files: each file's bytes must not hold a memory mapping of
    its own (Linux allows a process 65,530), or no thread can start after read_source."""
    maps = Path("/proc/self/maps")
    if not maps.exists():
        pytest.skip("no /proc: not Linux")
    for i in range(3000):
        (tmp_path / f"TCCS{i:05d}-2024.csv").write_text(
            f"unit_code,period,indicator_code,value\nTCCS{i:05d},2024,members_total,{i}\n",
            encoding="utf-8",
        )
    before = len(maps.read_text().splitlines())
    files = read_source(str(tmp_path))
    after = len(maps.read_text().splitlines())
    assert len(files) == 3000
    assert files[7].data == (tmp_path / files[7].name).read_bytes()
    assert after - before < 300


def test_read_source_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="Không đọc được nguồn dữ liệu"):
        read_source(str(tmp_path / "khong-co"))


# parsing elsewhere: a task runner's `parse` hook ------------------------------------------


def test_collect_parsed_elsewhere_writes_the_same_rows(tmp_path: Path) -> None:
    # Chunks of one file, finishing in reverse order: the writer still takes them in file order.
    files = [
        *_files(),
        SourceFile("a-copy.csv", FILE_A),
        SourceFile("a-sua.csv", FILE_A.replace(b"412", b"413")),
    ]
    submitted: list[list] = []

    def slow_first(items: list) -> list:
        time.sleep(0.05 * (len(files) - len(submitted)))
        return read_chunk(items)

    def parse(chunks):  # noqa: ANN001, ANN202
        def submit(items: list):  # noqa: ANN202
            submitted.append(items)
            return pool.submit(slow_first, items)

        return read_ahead(submit, chunks, in_flight=len(files))

    here, there = tmp_path / "here", tmp_path / "there"
    with ThreadPoolExecutor(len(files)) as pool:
        for workspace, hook in ((here, None), (there, parse)):
            workspace.mkdir()
            con = connect(workspace)
            try:
                result = collect(con, workspace, files, chunk_files=1, parse=hook)
                assert result.loaded == ["a.csv", "nhieu-don-vi.csv", "a-sua.csv"]
                assert result.skipped == ["a-copy.csv"]
                rows = collected_rows(con)
            finally:
                con.close()
            if hook is None:
                expected = rows
    # The copy was never sent to be parsed; every other file was, one chunk each.
    assert [[name for name, _data, _problem in items] for items in submitted] == [
        ["a.csv"],
        ["hong.csv"],
        ["nhieu-don-vi.csv"],
        ["a-sua.csv"],
    ]
    assert rows == expected
    assert [r[0] for r in rows["submissions"]] == [1, 2, 3, 4]


def test_chunks_are_written_together_once_they_hold_enough_values(
    tmp_path: Path, monkeypatch
) -> None:
    """A transaction takes whole chunks up to `WRITE_MIN_VALUES`: the rows do not change."""
    import tonghop.collect.batch as collect_module

    real_write = collect_module._write
    files = [*_files(), SourceFile("a-sua.csv", FILE_A.replace(b"412", b"413"))]
    outcomes = {}
    for least in (1, 10**9):
        writes: list[int] = []

        def counted(con, rows, writes=writes) -> None:  # noqa: ANN001
            writes.append(len(rows.files))
            real_write(con, rows)

        monkeypatch.setattr(collect_module, "WRITE_MIN_VALUES", least)
        monkeypatch.setattr(collect_module, "_write", counted)
        workspace = tmp_path / str(least)
        workspace.mkdir()
        con = connect(workspace)
        try:
            collect(con, workspace, files, chunk_files=1)
            outcomes[least] = (writes, collected_rows(con))
        finally:
            con.close()
    # One chunk a file: each chunk holding values is written at once; the broken file's chunk
    # (no value) waits for the next. With a high threshold, one transaction at the end.
    assert outcomes[1][0] == [1, 2, 1, 0]
    assert outcomes[10**9][0] == [4]
    assert outcomes[1][1] == outcomes[10**9][1]


def test_collect_archives_a_big_batch_in_a_process_of_its_own(tmp_path: Path, monkeypatch) -> None:
    """The archive process also reads the forms: the rows are those of parsing them here."""
    import tonghop.collect.batch as collect_module
    from tonghop.catalog import load_catalog
    from tonghop.forms import write_form

    form = tmp_path / "bieu-mau.xlsx"
    unit = {"unit_code": "TCCS042", "name": "Chi bộ Hội Chữ thập đỏ tỉnh", "sector": "agency"}
    write_form(form, {**unit, "form": "chi_bo"}, "2023", load_catalog(), {"members_total": 17})
    files = [
        *_files(),
        SourceFile("bieu-mau.xlsx", form.read_bytes()),
        SourceFile("a-sua.csv", FILE_A.replace(b"412", b"413")),
        SourceFile("hong.xlsx", b"PK\x03\x04 not a zip"),
    ]
    outcomes = {}
    real_read_chunk = collect_module.read_chunk
    parsed_here: list[str] = []

    def read_no_form(items):  # noqa: ANN001, ANN202 - collect's own parse, in this process only
        parsed_here.extend(name for name, _data, _problem in items)
        return real_read_chunk(items)

    for where, least in (("here", 10**9), ("process", 1)):
        monkeypatch.setattr(collect_module, "ARCHIVE_PROCESS_MIN_FILES", least)
        if where == "process":
            monkeypatch.setattr(collect_module, "read_chunk", read_no_form)
        archiver = collect_module._archiver(len(files))
        assert isinstance(archiver, ProcessPoolExecutor) == (where == "process")
        archiver.shutdown()
        workspace = tmp_path / where
        workspace.mkdir()
        con = connect(workspace)
        try:
            result = collect(con, workspace, files, chunk_files=2)
            rows = collected_rows(con)
        finally:
            con.close()
        archive = {r[0]: read_archived(workspace, r[0]) for r in rows["received_files"]}
        modes = {stat.S_IMODE(p.stat().st_mode) for p in (workspace / "archive").rglob("*.*")}
        outcomes[where] = (result.loaded, result.rejected, rows, archive, modes)
    assert outcomes["process"] == outcomes["here"]
    # This process parsed the CSVs; the forms were read in the archive process.
    assert sorted(parsed_here) == ["a-sua.csv", "a.csv", "hong.csv", "nhieu-don-vi.csv"]
    loaded, rejected, rows, archive, modes = outcomes["process"]
    assert loaded == ["a.csv", "nhieu-don-vi.csv", "bieu-mau.xlsx", "a-sua.csv"]
    assert [r["file"] for r in rejected] == ["hong.csv", "hong.xlsx"]
    (form_submission,) = [s for s in rows["submissions"] if s[6] == "bieu-mau.xlsx"]
    assert form_submission[3:5] == ("TCCS042", "2023")
    form_values = [v[2:5] for v in rows["submitted_values"] if v[0] == form_submission[1]]
    assert [(code, raw, float(value)) for code, raw, value in form_values] == [
        ("members_total", "17", 17.0)
    ]
    # Every file received is archived untouched, read-only, found by its sha256.
    assert sorted(archive.values()) == sorted(f.data for f in files)
    assert modes == {0o444}


def test_collect_settings_choose_the_task_runner() -> None:
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    thread = task_runner(CollectSettings(task_runner="thread", chunks_in_flight=3))
    # Prefect's task runners compare equal when they run as many workers.
    assert thread == ThreadPoolTaskRunner(max_workers=3) != ThreadPoolTaskRunner(max_workers=4)
    remote = task_runner(CollectSettings(task_runner="dask", dask_address="tcp://10.0.0.5:8786"))
    assert isinstance(remote, DaskTaskRunner) and remote.address == "tcp://10.0.0.5:8786"
    local = task_runner(CollectSettings(task_runner="dask", dask_workers=3))
    assert local.address is None
    assert local.cluster_kwargs["n_workers"] == 3
    assert local.cluster_kwargs["host"] == "127.0.0.1"


def test_the_default_runner_parses_in_the_flow_with_no_task() -> None:
    def parse_task(items):  # never submitted: `flow` starts no runner
        raise AssertionError("a task was submitted")

    assert CollectSettings().task_runner == "flow"
    with chunk_parser(CollectSettings(), parse_task) as parse:
        assert parse is None  # collect parses each chunk itself (tonghop.collect.collect)


@pytest.mark.parametrize(
    ("collect_settings", "message"),
    [
        ({"task_runner": "ray"}, "collect.task_runner 'ray' không hợp lệ: chọn 'flow'"),
        ({"task_runner": "thread", "dask_address": "tcp://may-chu:8786"}, "đang là 'thread'"),
        (
            {"task_runner": "dask", "dask_address": "may-chu:8786"},
            "cần địa chỉ bộ lập lịch Dask dạng tcp://may-chu:8786",
        ),
        ({"dask_address": "tcp://may-chu:8786"}, "chỉ dùng với collect.task_runner: dask"),
    ],
)
def test_collect_settings_refuse_a_bad_value_in_vietnamese(
    tmp_path: Path, collect_settings: dict, message: str
) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(yaml.safe_dump({"collect": collect_settings}), encoding="utf-8")
    with pytest.raises(ValidationError, match=message):
        load_settings(path)


def test_collect_settings_read_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(
        "collect:\n  task_runner: dask\n  dask_address: tcp://10.0.0.5:8786\n  chunk_files: 200\n",
        encoding="utf-8",
    )
    assert load_settings(path).collect == CollectSettings(
        task_runner="dask", dask_address="tcp://10.0.0.5:8786", chunk_files=200
    )
    assert load_settings(None).collect.task_runner == "flow"


def test_duckdb_memory_limit_from_the_environment(tmp_path, monkeypatch):
    """An operator caps DuckDB's memory (TONGHOP_DUCKDB_MEMORY_LIMIT); a bad value is refused
    in Vietnamese, naming the variable."""
    from tonghop.db import MEMORY_LIMIT_ENV, connect

    monkeypatch.setenv(MEMORY_LIMIT_ENV, "512MB")
    con = connect(tmp_path)
    try:
        limit = con.execute("select current_setting('memory_limit')").fetchone()[0]
    finally:
        con.close()
    assert limit in ("488.2 MiB", "512.0 MB", "500.0 MiB"), limit
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "nhiều")
    with pytest.raises(ValueError, match="TONGHOP_DUCKDB_MEMORY_LIMIT='nhiều' không hợp lệ"):
        connect(tmp_path)


# numbers as clerks write them, in a CSV (the reader itself: test_numbers.py) -------------


def test_an_ambiguous_value_is_refused_naming_file_row_and_both_readings() -> None:
    data = (HEADER + 'D1,2024,revenue_bn_vnd,"1.976"\nD1,2024,members_total,12\n').encode()
    [(status, _fmt, groups, warnings)] = read_chunk([("a.csv", data, None)])
    assert status == "loaded"
    [(_key, rows)] = groups
    assert [(r[0], r[2]) for r in rows] == [("revenue_bn_vnd", None), ("members_total", 12.0)]
    [warning] = warnings
    assert "'a.csv', dòng 2" in warning and "1976" in warning and "1,976" in warning


@pytest.mark.parametrize(
    ("row", "code", "meant"),
    [
        ("D1,2024,employees,1,532", "employees", 1532.0),
        ("D1,2024,revenue_bn_vnd,1,532", "revenue_bn_vnd", None),
        ("D1,2024,revenue_bn_vnd,491,5", "revenue_bn_vnd", 491.5),
        ("D1,2024,members_total,4,x", "members_total", None),
    ],
)
def test_a_value_cut_at_an_unquoted_comma_is_never_read_as_its_first_part(row, code, meant):
    data = (HEADER + row + "\nD1,2024,members_official,3\n").encode()
    [(status, _fmt, [(_key, rows)], warnings)] = read_chunk([("a.csv", data, None)])
    assert status == "loaded"
    assert rows[0][0] == code
    assert rows[0][2] == meant
    assert rows[1][2] == 3.0  # the unit's other values stay in
    assert any("dòng 2" in w and "nhiều hơn 4 cột" in w for w in warnings)


def test_a_csv_of_a_million_rows_is_refused_before_parsing(tmp_path: Path) -> None:
    data = HEADER.encode() + b"D1,2024,members_total,1\n" * 1_000_000
    started = time.process_time()
    [(status, reason)] = read_chunk([("trieu-dong.csv", data, None)])
    assert status == "rejected"
    assert "'trieu-dong.csv'" in reason and "1.000.001 dòng" in reason
    assert time.process_time() - started < 5  # counted on the bytes, never parsed


# files that must not stop a run -------------------------------------------------------------


def test_special_files_are_received_with_a_reason_never_opened(tmp_path: Path) -> None:
    import os
    import socket

    (tmp_path / "a.csv").write_text(HEADER + "D1,2024,members_total,1\n")
    os.mkfifo(tmp_path / "ong.csv")
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind("cam.csv")
    finally:
        os.chdir(here)
    with open(os.fsencode(tmp_path) + b"/t\xean.csv", "wb") as handle:
        handle.write(b"x")
    files = {f.name: f for f in read_source(str(tmp_path))}
    assert sorted(files) == ["a.csv", "cam.csv", "ong.csv", "t\\xean.csv"]
    assert files["a.csv"].problem is None
    assert "ống dẫn có tên" in files["ong.csv"].problem
    assert "socket" in files["cam.csv"].problem
    assert "UTF-8" in files["t\\xean.csv"].problem and files["t\\xean.csv"].data == b"x"
    assert files["ong.csv"].data != files["cam.csv"].data  # two stand-ins, never one sha256


def test_a_file_over_the_limit_is_kept_unread_and_one_far_over_it_not_read(tmp_path: Path):
    (tmp_path / "lon.csv").write_bytes(b"x" * 5000)
    (tmp_path / "qua-lon.csv").write_bytes(b"x" * 50_000)
    over, far = read_source(str(tmp_path), IntakeSettings(max_file_bytes=1024))
    assert over.name == "lon.csv" and over.data == b"x" * 5000  # archived as it is
    assert "vượt giới hạn 1.024 byte" in over.problem
    assert "intake.max_file_bytes = 1024" in over.problem  # the setting that says so
    assert far.name == "qua-lon.csv" and len(far.data) < 1000  # a line standing in for it
    assert "hơn 10 lần" in far.problem and "50.000 byte" in far.problem


def test_a_file_below_folders_deeper_than_path_max_is_read(tmp_path: Path) -> None:
    from tests.data.bad.make_corpus import write_deep

    name = write_deep(tmp_path, [f"{i:02d}" + "d" * 200 for i in range(22)], "a.csv", b"du lieu")
    assert len(str(tmp_path / name)) > 4096
    [received] = read_source(str(tmp_path))
    assert (received.name, received.data, received.problem) == (name, b"du lieu", None)


def test_a_remote_file_far_over_the_limit_is_not_read() -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.mkdir("/nguon-xa")
    fs.pipe("/nguon-xa/a.csv", b"x" * 50)
    fs.pipe("/nguon-xa/b.csv", b"x" * 50_000)
    try:
        small, far = read_source("memory://nguon-xa", IntakeSettings(max_file_bytes=1024))
    finally:
        fs.rm("/nguon-xa", recursive=True)
    assert (small.name, small.data, small.problem) == ("a.csv", b"x" * 50, None)
    assert far.name == "b.csv" and len(far.data) < 1000 and "50.000 byte" in far.problem


def test_intake_limits_are_settings_checked_and_named_in_each_reason(tmp_path: Path) -> None:
    import openpyxl
    from pydantic import ValidationError

    from tonghop.catalog import load_catalog
    from tonghop.forms import write_form
    from tonghop.settings import load_settings

    with pytest.raises(ValidationError, match="max_form_column '1A' không hợp lệ"):
        IntakeSettings(max_form_column="1A")
    with pytest.raises(ValidationError):
        IntakeSettings(max_csv_lines=0)
    settings_file = tmp_path / "s.yaml"
    settings_file.write_text("intake:\n  max_csv_lines: 120\n  max_form_column: g\n")
    limits = load_settings(settings_file).intake
    assert (limits.max_csv_lines, limits.max_form_columns) == (120, 7)
    assert limits.max_file_bytes == 20 * 1024 * 1024  # the defaults where the file is silent

    source = tmp_path / "src"
    source.mkdir()
    rows = "".join(f"U1,2023,members_total,{i}\n" for i in range(150))
    (source / "U1.csv").write_text("unit_code,period,indicator_code,value\n" + rows)
    unit = {"unit_code": "U2", "name": "Chi bộ U2", "sector": "agency", "form": "chi_bo"}
    write_form(source / "U2.xlsx", unit, "2023", load_catalog(), {"members_total": 5})
    workbook = openpyxl.load_workbook(source / "U2.xlsx")
    workbook["BaoCao"]["H12"] = "ghi chú của đơn vị"  # beside the form, past column G
    workbook.save(source / "U2.xlsx")
    files = read_source(str(source), limits)
    con = connect(tmp_path / "ws")
    try:
        result = collect(con, tmp_path / "ws", files)
    finally:
        con.close()
    reasons = {r["file"]: r["reason"] for r in result.rejected}
    assert "vượt giới hạn 120 dòng" in reasons["U1.csv"]
    assert "intake.max_csv_lines = 120" in reasons["U1.csv"]
    assert "biểu mẫu chỉ tới cột G, thiết lập intake.max_form_column" in reasons["U2.xlsx"]
    # the defaults read both
    assert read_chunk([(f.name, f.data, None) for f in files])[0][0] == "loaded"


def test_regular_csvs_read_by_columns_give_what_the_csv_module_gives_row_by_row() -> None:
    # Seeded edits of files with a byte-order mark, quotes, Vietnamese notes, semicolons, a
    # value cut at an unquoted comma and a repeated header: whenever the by-columns reading
    # of the csv module's rows (_regular_csv_groups) takes a file, it gives the row-by-row
    # reading's groups and warnings exactly.
    rng = random.Random(20261207)
    bases = [
        (HEADER + "D1,2024,members_total,120\nD1,2024,members_rated_good_pct,51.23\n").encode(),
        b"unit_code,period,indicator_code,value,note\r\nD1,2024,members_total,1.117,a\r\n"
        b"D1,2024,members_admitted,4,\r\n",
        '\ufeffunit_code;period;indicator_code;value;note\nD1;2024;members_total;"1,5";'
        '"ghi chú ""x"""\nD1;2024;members_rated_good_pct;"51,23";\n'.encode(),
        b'unit_code,period,indicator_code,value,note\nD1,2024,members_total,"1,532",x\n'
        b"D1,2024,members_admitted,1,500\n",
    ]
    pieces = [b",", b";", b"\t", b"\r", b"\n", b"\r\n", b" ", b"1.5", b"1,5", b"x", b"500.5",
              b"12345678901234567", b"D2", b"2023", b",,,", b"\n\n", b'"', b"\xc3\xa2", b"\xd0",
              b"\xef\xbb\xbf", b"\x00", b"\xef\xbc\x93", HEADER.encode()]  # fmt: skip
    taken = 0
    for data in _edited_files(rng, bases, pieces, 3000):
        regular = _regular_csv_groups("e.csv", data)
        if regular is None:
            continue
        taken += 1
        parsed = parse_csv("e.csv", data)
        assert regular == (read_values("e.csv", parsed), parsed.warnings), data
    assert taken > 300
