"""The charts are real PNG files of the size the draft places them at."""

from __future__ import annotations

import struct

from tonghop.report import charts
from tonghop.report.templates import load_wording

WORDING = load_wording()["charts"]
SIZE = (round(charts.WIDTH_IN * charts.DPI), round(charts.HEIGHT_IN * charts.DPI))


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_members_by_sector(tmp_path):
    start = {"agency": 9509, "soe": 3340, "private": 2036, "industrial_zone": 599}
    cutoff = {"agency": 9916, "soe": 2233, "private": 1356, "industrial_zone": 598}
    path = charts.members_by_sector(start, cutoff, WORDING["members_by_sector"], tmp_path / "a.png")
    assert png_size(path) == SIZE


def test_ratings_by_year(tmp_path):
    years = [
        {"year": 2021, "members_rated": 100, "members_rated_excellent": 15,
         "members_rated_good": 80, "members_rated_complete": 4, "members_rated_incomplete": 1},
        {"year": 2022, "members_rated": 90, "members_rated_excellent": 14,
         "members_rated_good": 72, "members_rated_complete": 3, "members_rated_incomplete": 1},
    ]  # fmt: skip
    path = charts.ratings_by_year(years, WORDING["ratings_by_year"], tmp_path / "b.png")
    assert png_size(path) == SIZE


def test_admissions_by_year_is_the_same_bytes_on_a_rerun(tmp_path):
    years = [
        {"year": 2020, "months": 6, "admitted": 380},
        {"year": 2021, "months": 12, "admitted": 660},
    ]
    first = charts.admissions_by_year(years, 600, WORDING["admissions_by_year"], tmp_path / "c.png")
    again = charts.admissions_by_year(years, 600, WORDING["admissions_by_year"], tmp_path / "d.png")
    assert png_size(first) == SIZE
    assert first.read_bytes() == again.read_bytes()
