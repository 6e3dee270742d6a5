"""The report's document settings: who issues it, its number, date, title, recipients, signer.

Without a settings file the draft borrows no one's identity: the issuing body, number, place,
date, term and signatory are bracketed placeholders that every format highlights. An office
sets its own in a YAML file read by `load_settings` (docs/report.md; the sample bloc's, marked
as a sample, is `data/sample/bao-cao.yaml`).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Annotated, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    computed_field,
    field_validator,
    model_validator,
)

from tonghop.formatting import ngay
from tonghop.periods import Period

# A flow's `settings` parameter: prefect.yaml renders an unset $TONGHOP_SETTINGS as "", which
# means no settings file.
SettingsPath = Annotated[Path | None, BeforeValidator(lambda value: value or None)]

DATE_PLACEHOLDER = "[ngày … tháng … năm …]"

# Where a deployed flow whose `settings` parameter is left empty finds its settings file: the
# Prefect Variable (set once on the server, read by every worker), else the worker's variable.
SETTINGS_VARIABLE = "tonghop_settings"
SETTINGS_ENV = "TONGHOP_SETTINGS"
# A deployed flow's `settings` parameter, as its form in the Prefect UI explains it.
SETTINGS_HELP = (
    "Tệp YAML thiết lập (hạn nộp, thư mục: paths, báo lỗi: notify); trống: tệp mà biến Prefect "
    f"{SETTINGS_VARIABLE} chỉ tới, sau đó biến môi trường {SETTINGS_ENV} của worker"
)
# A deployed flow's periods by default: the last six, up to the one today falls in.
ROLLING_PERIODS = "current-5..current"


class SettingsError(ValueError):
    """A settings file that cannot be used, said in Vietnamese with what to do."""


class Margins(BaseModel):
    """Page margins in millimetres (Hướng dẫn 36-HD/VPTW: top, bottom 20; left 30; right 15)."""

    model_config = ConfigDict(extra="forbid")

    top: float = Field(default=20, gt=0)
    bottom: float = Field(default=20, gt=0)
    left: float = Field(default=30, gt=0)
    right: float = Field(default=15, gt=0)


class DeliverySettings(BaseModel):
    """Where the draft goes after a run: an outbox folder, and by email when a server is set.

    Email stays off until `smtp_host` and at least one address in `owners` are given.
    """

    model_config = ConfigDict(extra="forbid")

    outbox: Path | None = Field(
        default=None, description="Thư mục hộp thư đi; mặc định OUT/outbox (một thư mục mỗi lần)"
    )
    owners: list[str] = Field(default_factory=list, description="Địa chỉ email người nhận dự thảo")
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, gt=0, lt=65536)
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password_env: str | None = Field(
        default=None, description="Tên biến môi trường chứa mật khẩu SMTP (không ghi mật khẩu)"
    )
    sender: str = "tonghop@localhost"
    base_url: str | None = Field(
        default=None,
        description="Địa chỉ web nơi thư mục kết quả (OUT) được công bố, ví dụ "
        "https://tep.vanphong.vn/tonghop/; trống: liên kết trong Prefect chỉ ghi đường dẫn",
    )

    @property
    def email_enabled(self) -> bool:
        return bool(self.smtp_host and self.owners)


class NotifySettings(BaseModel):
    """How the operator hears of a failed run, and how units are reminded: SMTP and/or a webhook.

    No secret is written here: the SMTP password comes from a Prefect Secret block
    (`smtp_password_block`) or an environment variable (`smtp_password_env`).
    """

    model_config = ConfigDict(extra="forbid")

    operators: list[str] = Field(
        default_factory=list, description="Địa chỉ email nhận báo lỗi lần chạy"
    )
    webhook_url: str | None = Field(default=None, description="URL nhận báo lỗi (POST JSON)")
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, gt=0, lt=65536)
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password_block: str | None = Field(
        default=None, description="Tên khối Secret của Prefect chứa mật khẩu SMTP"
    )
    smtp_password_env: str | None = Field(
        default=None, description="Tên biến môi trường chứa mật khẩu SMTP"
    )
    sender: str = "tonghop@localhost"


class ScheduleSettings(BaseModel):
    """When each period is due, and on which days around that date units are reminded."""

    model_config = ConfigDict(extra="forbid")

    due_dates: dict[str, dt.date] = Field(
        default_factory=dict, description="Hạn nộp của từng kỳ, ví dụ 2023-H1: 2023-06-20"
    )
    remind_days: list[int] = Field(
        default_factory=lambda: [-3, 1, 5],
        description="Nhắc đơn vị chưa nộp: số ngày so với hạn (âm: trước hạn, dương: sau hạn)",
    )

    cadence: Literal["year", "half-year", "quarter"] = Field(
        default="half-year",
        description="Chu kỳ báo cáo, để tính kỳ 'current'/'previous': year (năm), half-year "
        "(6 tháng), quarter (quý)",
    )

    def due(self, period: str) -> dt.date | None:
        """The due date of a period, when the settings give one."""
        return self.due_dates.get(period)

    def current_period(self, today: dt.date) -> Period:
        """The period of the cadence that today falls in (its report is the one under way)."""
        if self.cadence == "year":
            return Period.parse(str(today.year))
        if self.cadence == "quarter":
            return Period.parse(f"{today.year}-Q{(today.month - 1) // 3 + 1}")
        return Period.parse(f"{today.year}-H{1 if today.month <= 6 else 2}")

    def resolve(self, text: str, today: dt.date) -> str:
        """A period or range with `current`, `previous`, `current-5` … resolved for today; an
        explicit one (2023-H1, 2020-H2..2023-H1) as it is.

        >>> ScheduleSettings().resolve("current-5..current", dt.date(2026, 12, 6))
        '2024-H1..2026-H2'
        """
        return "..".join(self._resolve_one(part.strip(), today) for part in text.split(".."))

    def _resolve_one(self, text: str, today: dt.date) -> str:
        word = _PERIOD_WORD.fullmatch(text)
        if word is None:
            return text
        steps = (-1 if word["word"] == "previous" else 0) + int(word["steps"] or 0)
        return self.current_period(today).shift(steps).code


# A deployment's period given from today: current, previous, current-5 (five periods back).
_PERIOD_WORD = re.compile(r"(?P<word>current|previous)(?P<steps>[+-]\d+)?")


TaskRunnerName = Literal["flow", "thread", "dask"]
TASK_RUNNERS = get_args(TaskRunnerName)


class CollectSettings(BaseModel):
    """Where the collect flows parse received files: the flow itself, chunk by chunk, beside
    the archive process (`flow`, the default); one Prefect task a chunk on threads of the flow's
    process (`thread`); or on a Dask cluster through prefect-dask (`dask`; docs/operations.md,
    "Many units").

    Only parsing moves; archiving and every DuckDB write stay in the flow's process. On one
    machine `flow` is the fastest: at 60,000 units a whole run took 33.8 s against 38.3 s with
    tasks on threads (medians of 8 alternating pairs; benchmarks/RESULTS.md): threads share the
    interpreter lock, and 120 task runs cost the flow and the Prefect server processor time.
    """

    model_config = ConfigDict(extra="forbid")

    task_runner: TaskRunnerName = Field(
        default="flow",
        description="flow: chính tiến trình flow đọc từng phần; thread: mỗi phần một tác vụ "
        "Prefect trên các luồng của tiến trình flow; dask: một cụm Dask (prefect-dask)",
    )
    dask_address: str | None = Field(
        default=None,
        description="Địa chỉ bộ lập lịch Dask có sẵn (tcp://may-chu:8786); trống: cụm Dask cục bộ",
    )
    dask_workers: int = Field(
        default=2, ge=1, description="Số tiến trình của cụm Dask cục bộ (khi không có địa chỉ)"
    )
    chunk_files: int = Field(
        default=500, ge=1, description="Số tệp của một phần (thread, dask: một tác vụ mỗi phần)"
    )
    chunks_in_flight: int = Field(
        default=4,
        ge=1,
        description="Số phần được đọc cùng lúc, trước khi phần đầu được ghi (thread, dask)",
    )

    @field_validator("task_runner", mode="before")
    @classmethod
    def _known_runner(cls, value: object) -> object:
        if value not in TASK_RUNNERS:
            raise ValueError(
                f"collect.task_runner '{value}' không hợp lệ: chọn 'flow' (mặc định, chính "
                "tiến trình flow đọc tệp), 'thread' (mỗi phần một tác vụ trên các luồng của "
                "tiến trình flow) hoặc 'dask' (một cụm Dask qua prefect-dask)"
            )
        return value

    @field_validator("dask_address")
    @classmethod
    def _scheduler_address(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"(tcp|tls)://\S+:\d{1,5}", value):
            raise ValueError(
                f"collect.dask_address '{value}' không hợp lệ: cần địa chỉ bộ lập lịch Dask "
                "dạng tcp://may-chu:8786 (hoặc tls://...)"
            )
        return value

    @model_validator(mode="after")
    def _address_needs_dask(self) -> CollectSettings:
        if self.dask_address and self.task_runner != "dask":
            raise ValueError(
                "collect.dask_address chỉ dùng với collect.task_runner: dask "
                f"(đang là '{self.task_runner}')"
            )
        return self


class PathSettings(BaseModel):
    """Where the deployed flows read and write when a run's parameter leaves it out: one place
    to set them, so a run given only `today` (or nothing) still knows its workspace."""

    model_config = ConfigDict(extra="forbid")

    source: str | None = Field(
        default=None, description="Thư mục hoặc URL fsspec chứa các tệp báo cáo của đơn vị"
    )
    registry: Path | None = Field(default=None, description="Tệp CSV danh mục đơn vị")
    workspace: Path | None = Field(
        default=None, description="Thư mục làm việc: tệp DuckDB và kho lưu tệp đã nhận"
    )
    out: Path | None = Field(default=None, description="Thư mục kết quả (dự thảo, findings.json)")


MEBIBYTE = 1024 * 1024
_COLUMN_LETTERS = re.compile(r"[A-Z]{1,3}")


def column_number(letters: str) -> int:
    """A spreadsheet column's number from its letters.

    >>> column_number("A"), column_number("AZ"), column_number("XFD")
    (1, 52, 16384)
    """
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number


class IntakeSettings(BaseModel):
    """The limits a received file is read within (docs/intake.md, "Limits"): one runaway file
    is rejected with the limit it passed, in bounded time and memory, and the run goes on.

    A unit's report is kilobytes: a form is about 15 KB zipped, six columns and a few hundred
    rows; a long CSV about fifty lines a unit. The defaults leave a bundled district's file far
    inside and no bomb near them.
    """

    # frozen: hashable, the default of every received file's limits (collect.SourceFile)
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_file_bytes: int = Field(
        default=20 * MEBIBYTE,
        ge=1024,
        description="Dung lượng tối đa của một tệp được đọc (byte); lớn hơn: lưu, không đọc",
    )
    read_over_limit_times: int = Field(
        default=10,
        ge=1,
        description="Tệp vượt giới hạn vẫn được đọc để lưu kho tới chừng này lần giới hạn; "
        "lớn hơn nữa: không đọc, kho chỉ lưu một dòng ghi nhận",
    )
    max_csv_lines: int = Field(
        default=200_000, ge=100, description="Số dòng tối đa của một tệp CSV dạng dài"
    )
    max_form_rows: int = Field(
        default=5_000, ge=100, description="Dòng xa nhất một trang của biểu mẫu Excel được có"
    )
    max_form_column: str = Field(
        default="AZ", description="Cột xa nhất một trang của biểu mẫu Excel được có (chữ cột)"
    )
    max_unzipped_bytes: int = Field(
        default=50 * MEBIBYTE,
        ge=MEBIBYTE,
        description="Tổng dung lượng giải nén tối đa của một tệp .xlsx (byte)",
    )
    max_zip_ratio: int = Field(
        default=200,
        ge=10,
        description="Tỷ lệ nén tối đa của một phần trên 1 MB trong tệp .xlsx ('bom nén')",
    )

    @field_validator("max_form_column", mode="before")
    @classmethod
    def _column_letters(cls, value: object) -> object:
        text = str(value).strip().upper()
        if not _COLUMN_LETTERS.fullmatch(text) or not 6 <= column_number(text) <= 16384:
            raise ValueError(
                f"intake.max_form_column '{value}' không hợp lệ: cần chữ cột Excel từ F (cột "
                "cuối của biểu mẫu) tới XFD, ví dụ AZ"
            )
        return text

    @property
    def max_form_columns(self) -> int:
        return column_number(self.max_form_column)

    @property
    def read_at_most_bytes(self) -> int:
        """Past this size a file is not read at all (`read_over_limit_times` the limit)."""
        return self.max_file_bytes * self.read_over_limit_times


class LetterSettings(BaseModel):
    """Who signs the feedback letters to units (`thu-phan-hoi/`): the office, not the committee."""

    model_config = ConfigDict(extra="forbid")

    signer_for: str = "[T/L hoặc K/T]"
    signer_title: str = "[Chức vụ người ký]"
    signer_name: str = "[Họ và tên người ký]"
    recipients: list[str] = Field(default_factory=lambda: ["Như trên,", "Lưu VT."])


class ReportSettings(BaseModel):
    """What the header block, title and closing of the draft say; a bracketed value is a
    placeholder the drafting office must fill (no default is a real committee's)."""

    model_config = ConfigDict(extra="forbid")

    superior_body: str = "[Tên cấp ủy cấp trên]"
    issuing_body: str = "[Tên cơ quan ban hành]"
    bloc_name: str = "[Tên đảng bộ]"
    number: str = "[số, ký hiệu]"
    place: str = "[Địa danh]"
    date: dt.date | None = None
    congress: str = "[…]"
    term: str = "[nhiệm kỳ]"
    title: str = "BÁO CÁO"
    subtitle: list[str] = Field(default_factory=lambda: ["[Trích yếu nội dung báo cáo]"])
    signer_for: str = "[T/M cấp ủy]"
    signer_title: str = "[Chức vụ người ký]"
    signer_name: str = "[Họ và tên người ký]"
    recipients: list[str] = Field(default_factory=lambda: ["[Nơi nhận]", "Lưu VT."])
    # the sourced-figures file of outside figures (tonghop.external); relative to this file
    external_figures: Path | None = None
    letters: LetterSettings = Field(default_factory=LetterSettings)
    margins_mm: Margins = Field(default_factory=Margins)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    collect: CollectSettings = Field(default_factory=CollectSettings)
    paths: PathSettings = Field(default_factory=PathSettings)
    intake: IntakeSettings = Field(default_factory=IntakeSettings)

    @computed_field
    @property
    def place_date(self) -> str:
        """The header's "Thanh Hóa, ngày 06 tháng 7 năm 2023"; the date a placeholder until
        it is set (an office often dates a text only when it is signed)."""
        when = ngay(self.date) if self.date else DATE_PLACEHOLDER
        return f"{self.place}, {when}"


def settings_path(path: Path | str | None) -> Path | None:
    """The settings file a flow was given, else the one the Prefect Variable `tonghop_settings`
    names, else the one `TONGHOP_SETTINGS` names, else None."""
    chosen = path or _settings_variable() or os.environ.get(SETTINGS_ENV)
    return Path(chosen) if chosen else None


def _settings_variable() -> str | None:
    """The Prefect Variable naming the settings file, when a Prefect API is at hand."""
    from prefect.context import FlowRunContext
    from prefect.settings import PREFECT_API_URL

    # Outside a flow run without a server (tonghop run before its API is up): none to ask.
    if FlowRunContext.get() is None and not PREFECT_API_URL.value():
        return None
    from prefect.variables import Variable

    try:
        value = Variable.get(SETTINGS_VARIABLE, default=None, _sync=True)
    except Exception:  # the API unreachable: the worker's environment variable decides
        return None
    return str(value) if value else None


def required_settings_path(path: Path | str | None, what: str) -> Path:
    """`settings_path`, refused in Vietnamese when neither the parameter nor the variable is set."""
    chosen = settings_path(path)
    if chosen is None:
        raise SettingsError(
            f"Chưa có tệp thiết lập cho {what}: đặt biến Prefect {SETTINGS_VARIABLE} (prefect "
            f"variable set {SETTINGS_VARIABLE} /duong/dan/settings.yaml), tham số settings "
            f"của lần chạy hoặc biến môi trường {SETTINGS_ENV} của worker "
            "(docs/operations.md, Thiết lập)"
        )
    return chosen


def load_settings(path: Path | None = None) -> ReportSettings:
    """Read settings from a YAML file; keys left out keep their placeholders.

    >>> load_settings(None).number
    '[số, ký hiệu]'
    """
    if path is None:
        return ReportSettings()
    if not Path(path).is_file():
        raise SettingsError(
            f"Không tìm thấy tệp thiết lập '{path}' (cần một tệp YAML, không phải thư mục); "
            f"kiểm tra biến Prefect {SETTINGS_VARIABLE}, tham số settings hoặc biến môi trường "
            f"{SETTINGS_ENV}"
        )
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: cần một bảng khóa: giá trị (YAML mapping)")
    settings = ReportSettings.model_validate(data)
    if settings.external_figures is not None and not settings.external_figures.is_absolute():
        settings.external_figures = Path(path).parent / settings.external_figures
    return settings
