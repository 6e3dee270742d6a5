"""The unit registry CSV (SPEC §4.1): reading, checking line by line, storing."""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from tonghop.db import connect
from tonghop.registry import RegistryError, Unit, read_registry, store_registry

HEADER = "unit_code,name,sector,form,valid_from,valid_to\n"


def _write(tmp_path: Path, text: str, bom: bool = False) -> Path:
    path = tmp_path / "registry.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def test_reads_units_with_nfc_names_and_dates(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "Đảng bộ Sở Y tế")
    assert decomposed != "Đảng bộ Sở Y tế"
    path = _write(
        tmp_path,
        HEADER
        + f"TCCS001,{decomposed},agency,dang_bo,1999-06-20,\n"
        + "TCCS002, Chi bộ Công ty Lâm sản ,private,chi_bo,2010-01-01,2022-03-31\n"
        + "\n",
        bom=True,
    )
    units = read_registry(path)
    assert units == [
        Unit("TCCS001", "Đảng bộ Sở Y tế", "agency", "dang_bo", date(1999, 6, 20), None),
        Unit(
            "TCCS002",
            "Chi bộ Công ty Lâm sản",
            "private",
            "chi_bo",
            date(2010, 1, 1),
            date(2022, 3, 31),
        ),
    ]
    assert unicodedata.is_normalized("NFC", units[0].name)


def test_unit_active_on_includes_both_ends() -> None:
    unit = Unit("U", "n", "soe", "chi_bo", date(2021, 1, 1), date(2022, 6, 30))
    assert not unit.active_on(date(2020, 12, 31))
    assert unit.active_on(date(2021, 1, 1))
    assert unit.active_on(date(2022, 6, 30))
    assert not unit.active_on(date(2022, 7, 1))
    assert Unit("V", "n", "soe", "chi_bo", date(2021, 1, 1), None).active_on(date(2099, 1, 1))


def test_columns_in_another_order_are_read_by_name(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "name,unit_code,valid_to,valid_from,form,sector\n"
        "Đảng bộ Khu công nghiệp Lễ Môn,TCCS009,,2015-05-05,dang_bo,industrial_zone\n",
    )
    (unit,) = read_registry(path)
    assert (unit.unit_code, unit.sector, unit.form, unit.valid_from) == (
        "TCCS009",
        "industrial_zone",
        "dang_bo",
        date(2015, 5, 5),
    )


@pytest.mark.parametrize(
    ("rows", "line", "needle"),
    [
        (
            "TCCS001,A,agency,dang_bo,2000-01-01,\nTCCS002,B,ngoai,chi_bo,2000-01-01,\n",
            3,
            "khối 'ngoai' không hợp lệ",
        ),
        ("TCCS001,A,agency,to_chuc,2000-01-01,\n", 2, "loại hình 'to_chuc' không hợp lệ"),
        (
            "TCCS001,A,agency,dang_bo,20/06/1999,\n",
            2,
            "ngày '20/06/1999' không đúng dạng YYYY-MM-DD",
        ),
        ("TCCS001,A,agency,dang_bo,1999-06-20,2022-13-01\n", 2, "ngày '2022-13-01'"),
        (
            "TCCS001,A,agency,dang_bo,2000-01-01,\nX,B,soe,chi_bo,2000-01-01,\n"
            "TCCS001,C,soe,chi_bo,2000-01-01,\n",
            4,
            "mã đơn vị 'TCCS001' bị trùng",
        ),
        (",A,agency,dang_bo,2000-01-01,\n", 2, "thiếu mã đơn vị"),
    ],
)
def test_bad_rows_are_refused_with_their_line(
    tmp_path: Path, rows: str, line: int, needle: str
) -> None:
    path = _write(tmp_path, HEADER + rows)
    with pytest.raises(RegistryError) as caught:
        read_registry(path)
    message = str(caught.value)
    assert f"dòng {line}:" in message
    assert needle in message
    assert str(path) in message


def test_missing_column_is_refused_at_line_one(tmp_path: Path) -> None:
    path = _write(tmp_path, "unit_code,name,sector,valid_from,valid_to\nU,A,agency,2000-01-01,\n")
    with pytest.raises(RegistryError, match="dòng 1: thiếu cột form"):
        read_registry(path)


def test_missing_file_and_empty_registry(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="Không tìm thấy tệp danh mục đơn vị"):
        read_registry(tmp_path / "khong-co.csv")
    with pytest.raises(RegistryError, match="không có đơn vị nào"):
        read_registry(_write(tmp_path, HEADER + "\n"))


def test_store_registry_replaces_the_previous_one(tmp_path: Path) -> None:
    first = [
        Unit("A", "Đảng bộ A", "agency", "dang_bo", date(2000, 1, 1), None),
        Unit("B", "Chi bộ B", "soe", "chi_bo", date(2000, 1, 1), date(2021, 6, 30)),
    ]
    second = [Unit("C", "Chi bộ C", "private", "chi_bo", date(2020, 7, 1), None)]
    con = connect(tmp_path)
    try:
        store_registry(con, first)
        assert con.execute(
            "select unit_code, valid_to from registry_units order by 1"
        ).fetchall() == [("A", None), ("B", date(2021, 6, 30))]
        store_registry(con, second)
        assert con.execute("select * from registry_units").fetchall() == [
            ("C", "Chi bộ C", "private", "chi_bo", date(2020, 7, 1), None)
        ]
    finally:
        con.close()


def test_store_registry_writes_nothing_when_it_is_the_same_one(tmp_path: Path) -> None:
    units = [
        Unit("A", "Đảng bộ A", "agency", "dang_bo", date(2000, 1, 1), None, "a@example.vn"),
        Unit("B", "Chi bộ B", "soe", "chi_bo", date(2000, 1, 1), date(2021, 6, 30)),
    ]
    con = connect(tmp_path)
    try:
        assert store_registry(con, units) is True
        stored = con.execute("select * from registry_units order by 1").fetchall()
        assert store_registry(con, list(reversed(units))) is False  # same units, other order
        assert con.execute("select * from registry_units order by 1").fetchall() == stored
        # Any difference is written, a contact's address included.
        moved = [units[0], replace(units[1], valid_to=None)]
        assert store_registry(con, moved) is True
        assert con.execute(
            "select valid_to from registry_units where unit_code = 'B'"
        ).fetchall() == [(None,)]
        readdressed = [replace(units[0], contact_email="moi@example.vn"), moved[1]]
        assert store_registry(con, readdressed) is True
        assert con.execute("select contact_email from unit_contacts").fetchall() == [
            ("moi@example.vn",)
        ]
    finally:
        con.close()


def test_store_registry_keeps_the_old_one_when_the_new_one_fails(tmp_path: Path) -> None:
    old = [Unit("A", "Đảng bộ A", "agency", "dang_bo", date(2000, 1, 1), None)]
    duplicated = [
        Unit("B", "B", "soe", "chi_bo", date(2000, 1, 1), None),
        Unit("B", "B again", "soe", "chi_bo", date(2000, 1, 1), None),
    ]
    con = connect(tmp_path)
    try:
        store_registry(con, old)
        with pytest.raises(Exception, match="(?i)constraint"):
            store_registry(con, duplicated)
        assert con.execute("select unit_code from registry_units").fetchall() == [("A",)]
    finally:
        con.close()


def test_the_registry_file_stored_last_is_not_read_again(tmp_path: Path, monkeypatch) -> None:
    """Every run loads the registry: the file stored last is not read again while the stored
    registry is unchanged; another file, or a registry changed since, is read and stored."""
    import tonghop.registry as registry
    from tonghop.pipeline import load_registry

    workspace = tmp_path / "ws"
    path = _write(
        tmp_path,
        "unit_code,name,sector,form,valid_from,valid_to,contact_email\n"
        + "A,Đảng bộ A,agency,dang_bo,2000-01-01,,a@example.vn\n"
        + "B,Chi bộ B,soe,chi_bo,2000-01-01,2021-06-30,\n",
    )
    reads = []
    real_read = registry.read_registry
    monkeypatch.setattr(registry, "read_registry", lambda p: reads.append(p) or real_read(p))

    def stored() -> list[tuple]:
        con = connect(workspace)
        try:
            return con.execute(
                "select unit_code, valid_to from registry_units order by 1"
            ).fetchall()
        finally:
            con.close()

    assert load_registry(workspace, path) == 2 and len(reads) == 1
    assert load_registry(workspace, path) == 2 and len(reads) == 1  # the same file: not read
    assert stored() == [("A", None), ("B", date(2021, 6, 30))]

    con = connect(workspace)
    con.execute("delete from registry_units where unit_code = 'B'")  # changed behind its back
    con.close()
    assert load_registry(workspace, path) == 2 and len(reads) == 2
    assert stored() == [("A", None), ("B", date(2021, 6, 30))]

    con = connect(workspace)
    con.execute("delete from unit_contacts")  # a contact lost is a change too
    con.close()
    assert load_registry(workspace, path) == 2 and len(reads) == 3
    con = connect(workspace)
    assert con.execute("select * from unit_contacts").fetchall() == [("A", "a@example.vn")]
    con.close()

    path.write_text(HEADER + "A,Đảng bộ A,agency,dang_bo,2000-01-01,\n", encoding="utf-8")
    assert load_registry(workspace, path) == 1 and len(reads) == 4  # another file: read
    assert stored() == [("A", None)]

    path.write_text(HEADER + "A,Đảng bộ A,khong-ro,dang_bo,2000-01-01,\n", encoding="utf-8")
    with pytest.raises(RegistryError, match="dòng 2: khối 'khong-ro'"):
        load_registry(workspace, path)  # a bad file is refused, even after a good one
    assert stored() == [("A", None)]
    with pytest.raises(RegistryError, match="Không tìm thấy tệp danh mục đơn vị"):
        load_registry(tmp_path / "moi", tmp_path / "khong-co.csv")
    assert not (tmp_path / "moi").exists()  # refused before the workspace was made


# --- the registry's history (SPEC §4.1: predecessors, end_reason) ----------------------------

HISTORY = "unit_code,name,sector,form,valid_from,valid_to,predecessors,end_reason\n"


def test_history_columns_are_read_and_stored(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        HISTORY + "A,Đảng bộ A,soe,dang_bo,2010-01-01,2022-06-30,,merged\n"
        "B,Đảng bộ B,soe,dang_bo,2010-01-01,2022-06-30,,merged\n"
        "C,Đảng bộ C,soe,dang_bo,2022-07-01,,A; B,\n"
        "D,Chi bộ D,private,chi_bo,2010-01-01,2021-03-31,,transferred_out\n",
    )
    units = {u.unit_code: u for u in read_registry(path)}
    assert units["C"].predecessors == ("A", "B")
    assert (units["A"].end_reason, units["D"].end_reason, units["C"].end_reason) == (
        "merged",
        "transferred_out",
        None,
    )
    con = connect(tmp_path / "ws")
    try:
        store_registry(con, list(units.values()))
        assert con.execute("select * from unit_predecessors order by all").fetchall() == [
            ("C", "A"),
            ("C", "B"),
        ]
        assert con.execute("select * from unit_end_reasons order by all").fetchall() == [
            ("A", "merged"),
            ("B", "merged"),
            ("D", "transferred_out"),
        ]
    finally:
        con.close()


@pytest.mark.parametrize(
    ("rows", "needle"),
    [
        ("A,A,soe,dang_bo,2010-01-01,,,merged\n", "có lý do kết thúc 'merged' nhưng không có"),
        ("A,A,soe,dang_bo,2010-01-01,2020-01-01,,gone\n", "lý do kết thúc 'gone' không hợp lệ"),
        ("A,A,soe,dang_bo,2010-01-01,,Z,\n", "đơn vị tiền thân 'Z' không có trong danh mục"),
        ("A,A,soe,dang_bo,2010-01-01,,B,\nB,B,soe,dang_bo,2010-01-01,,,\n", "chưa có ngày"),
    ],
)
def test_a_history_that_cannot_be_is_refused_with_its_line(
    tmp_path: Path, rows: str, needle: str
) -> None:
    path = _write(tmp_path, HISTORY + rows)
    with pytest.raises(RegistryError, match="dòng 2:") as caught:
        read_registry(path)
    assert needle in str(caught.value)


def test_a_registry_without_history_signs_as_before(tmp_path: Path) -> None:
    """The validation and consolidation fingerprints of an old workspace stay what they were."""
    from tonghop.registry import registry_signature

    path = _write(tmp_path, HEADER + "A,Đảng bộ A,soe,dang_bo,2010-01-01,\n")
    con = connect(tmp_path / "ws")
    try:
        store_registry(con, read_registry(path))
        assert len(registry_signature(con)) == 2
        store_registry(con, [replace(read_registry(path)[0], valid_to=date(2020, 1, 1),
                                     end_reason="dissolved")])  # fmt: skip
        assert len(registry_signature(con)) == 3
    finally:
        con.close()
