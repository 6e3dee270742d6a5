"""The parameters the deployed flows share, each optional: a path a run leaves out comes from
the settings' `paths:`, the settings file from the Prefect Variable `tonghop_settings`
(`tasks.run_settings`), so a run given one parameter, or none, is a valid run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field

from tonghop.settings import ROLLING_PERIODS, SETTINGS_HELP, SettingsPath

Source = Annotated[
    str | None,
    Field(
        description="Thư mục hoặc URL fsspec chứa các tệp báo cáo của đơn vị; trống: "
        "paths.source của tệp thiết lập"
    ),
]
Registry = Annotated[
    Path | None, Field(description="Tệp CSV danh mục đơn vị (SPEC §4.1); trống: paths.registry")
]
Workspace = Annotated[
    Path | None,
    Field(description="Thư mục làm việc (DuckDB, kho lưu); trống: paths.workspace"),
]
Out = Annotated[
    Path | None,
    Field(description="Thư mục kết quả: findings.json, rejected.json, bao-cao.*; trống: paths.out"),
]
Periods = Annotated[
    str,
    Field(
        description="Kỳ (2024) hoặc khoảng kỳ (2020-H2..2023-H1); current-5..current (mặc "
        "định): sáu kỳ tới kỳ hiện tại, tính theo ngày chạy và schedule.cadence"
    ),
]
Settings = Annotated[SettingsPath, Field(description=SETTINGS_HELP)]

__all__ = ["ROLLING_PERIODS", "Out", "Periods", "Registry", "Settings", "Source", "Workspace"]
