"""What a received file says about itself, believed within reason (docs/architecture.md, Intake).

A file whose units or periods disagree with what its name or folder says is held for review;
a resubmission covering at most half of what the unit last sent for the period is held as a
partial file; an old file seen again after a newer one superseded it is a notice, never loaded
again. Held files are recorded as rejected, with a reason that starts with `HELD`, and each
(unit, period) they hold in `held_files`; validation makes each hold and notice a finding
(`tonghop.validation.held`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath

import duckdb

from tonghop.collect.values import Groups

HELD = "Tạm giữ để xem xét"
# A period as tonghop writes one (tonghop.periods), standing alone in a name or a folder.
_PERIOD_HINT = re.compile(r"(?<![A-Za-z0-9])(\d{4}(?:-[HQ][1-4])?)(?![A-Za-z0-9])")
_TOKEN = re.compile(r"[A-Za-z0-9]+")
_DIGIT = re.compile(r"[0-9]")


IDENTITY, PARTIAL = "identity", "partial"


def _when(at: datetime) -> str:
    return at.strftime("%d/%m/%Y %H:%M")


@dataclass(frozen=True)
class Hold:
    """Why a parsed file is held, not loaded: its kind (`IDENTITY`, `PARTIAL`) and the reason."""

    kind: str
    reason: str
    # units its name or folder names, known to the workspace, that the file holds no values of:
    # the hold is theirs to hear of too (the file was likely theirs)
    named: tuple[str, ...] = ()


@dataclass
class _Current:
    """A unit's current submission for a period: its file, when, how many values it holds."""

    sha256: str
    name: str
    received_at: datetime
    values: int
    submission_id: str | None = None  # read from the workspace: its codes looked up if asked
    codes: set[str] | None = None  # loaded by this run: the codes it holds values of


@dataclass
class Intake:
    """What the workspace already holds that a new file is judged against, kept up to date as
    a collect run loads files."""

    units: set[str]
    current: dict[tuple[str, str], _Current]
    # sha256 -> (received at, (unit, period) of each of its submissions)
    received: dict[str, tuple[datetime, list[tuple[str, str]]]]
    last_seen: set[str]  # sha256s the previous batch saw at the source
    noticed: set[str] = field(default_factory=set)
    con: duckdb.DuckDBPyConnection | None = None

    @classmethod
    def of(cls, con: duckdb.DuckDBPyConnection) -> Intake:
        """The workspace's registry units, current submissions and last batch's sightings."""
        units = {
            u
            for (u,) in con.execute(
                "select unit_code from registry_units union select unit_code from submissions"
            ).fetchall()
        }
        rows = con.execute(
            "with cur as (select unit_code, period, arg_max(submission_id, seq) as sid, "
            "arg_max(sha256, seq) as sha256, arg_max(original_name, seq) as name, "
            "arg_max(received_at, seq) as at from submissions group by all) "
            "select c.unit_code, c.period, c.sha256, c.name, c.at, count(v.submission_id), c.sid "
            "from cur c left join submitted_values v "
            "on v.submission_id = c.sid and v.raw_value <> '' group by all"
        ).fetchall()
        current = {(u, p): _Current(s, n, at, k, sid) for u, p, s, n, at, k, sid in rows}
        received: dict[str, tuple[datetime, list[tuple[str, str]]]] = {}
        for sha256, at, unit, period in con.execute(
            "select sha256, received_at, unit_code, period from submissions"
        ).fetchall():
            received.setdefault(sha256, (at, []))[1].append((unit, period))
        last_seen = {
            s
            for (s,) in con.execute(
                "select distinct sha256 from file_sightings where batch_id = "
                "(select arg_max(batch_id, seen_at) from file_sightings)"
            ).fetchall()
        }
        return cls(units, current, received, last_seen, con=con)

    def judge(self, name: str, groups: Groups) -> tuple[Hold | None, list[str]]:
        """Why a parsed file is held (None: it loads), and warnings to keep with it."""
        held = self._identity(name, groups)
        if held:
            return held, []
        warnings = []
        for (unit, period), rows in groups:
            before = self.current.get((unit, period))
            if before is None:
                continue
            count = sum(1 for row in rows if row[1] != "")
            if count >= before.values:
                continue
            if 2 * count <= before.values:
                return Hold(
                    PARTIAL,
                    f"{HELD}: tệp '{name}' chỉ có {count} chỉ tiêu cho đơn vị {unit} kỳ "
                    f"{period}, không quá một nửa {before.values} chỉ tiêu của lần nộp hiện "
                    f"hành (tệp '{before.name}' nhận ngày {_when(before.received_at)}). Tệp "
                    "nộp thiếu không thay thế báo cáo đầy đủ: số liệu hiện hành được giữ "
                    "nguyên; đề nghị đơn vị gửi lại báo cáo đầy đủ (gồm cả số liệu đã sửa).",
                ), []
            dropped = sorted(self._codes(before) - {row[0] for row in rows if row[1] != ""})
            warnings.append(
                f"Tệp '{name}' có {count} chỉ tiêu cho đơn vị {unit} kỳ {period}, ít hơn "
                f"{before.values} chỉ tiêu của lần nộp trước (tệp '{before.name}'); tệp này "
                f"thay lần nộp trước, {before.values - count} chỉ tiêu không còn số liệu"
                + (f": {', '.join(dropped)}." if dropped else ".")
            )
        return None, warnings

    def loaded(self, sha256: str, name: str, at: datetime, groups: Groups) -> None:
        """Record a file just loaded: its submissions are now current."""
        for (unit, period), rows in groups:
            filled = [row[0] for row in rows if row[1] != ""]
            self.current[(unit, period)] = _Current(
                sha256, name, at, len(filled), codes=set(filled)
            )
            self.units.add(unit)
        self.received[sha256] = (at, [key for key, _ in groups])

    def _codes(self, current: _Current) -> set[str]:
        """The codes a current submission holds values of."""
        if current.codes is not None or self.con is None:
            return current.codes or set()
        rows = self.con.execute(
            "select distinct indicator_code from submitted_values "
            "where submission_id = ? and raw_value <> ''",
            [current.submission_id],
        ).fetchall()
        return {code for (code,) in rows}

    def restored(self, sha256: str, name: str) -> str | None:
        """The notice for a received file seen again after a newer one superseded it, that the
        previous batch did not see (it was put back); None otherwise."""
        if sha256 in self.last_seen or sha256 in self.noticed or sha256 not in self.received:
            return None
        at, keys = self.received[sha256]
        newer = [self.current[k] for k in keys if k in self.current]
        if not keys or not newer or any(c.sha256 == sha256 for c in newer):
            return None
        self.noticed.add(sha256)
        latest = max(newer, key=lambda c: c.received_at)
        return (
            f"Tệp '{name}' đã nhận ngày {_when(at)}, đã được thay bằng tệp '{latest.name}' "
            f"nhận ngày {_when(latest.received_at)}; tệp cũ không được dùng lại (số liệu hiện "
            "hành vẫn theo tệp mới hơn). Nếu đơn vị muốn dùng lại số liệu cũ, đề nghị gửi lại "
            "thành tệp mới."
        )

    def _identity(self, name: str, groups: Groups) -> Hold | None:
        """The hold of a file whose units or periods are not those its name says."""
        parts = PurePosixPath(name).parts
        words = [*parts[:-1], PurePosixPath(parts[-1]).stem] if parts else []
        units = sorted({u for (u, _), _ in groups})
        # a word is a unit code when tonghop knows it, or written like the file's own codes
        shapes = {_shape(u) for u in units}
        named_units = {
            t
            for w in words
            for t in _TOKEN.findall(w)
            if t in self.units or (_DIGIT.search(t) and _shape(t) in shapes)
        }
        named_periods = {p for w in words for p in _PERIOD_HINT.findall(w)}
        periods = sorted({p for (_, p), _ in groups})
        odd_units = [u for u in units if named_units and u not in named_units]
        odd_periods = [
            p for p in periods if named_periods and not any(_same(p, h) for h in named_periods)
        ]
        if not odd_units and not odd_periods:
            return None
        said = []
        if odd_units:
            said.append(
                f"tên/thư mục ghi đơn vị {', '.join(sorted(named_units))} nhưng số liệu trong "
                f"tệp là của đơn vị {', '.join(units)}"
            )
        if odd_periods:
            said.append(
                f"tên/thư mục ghi kỳ {', '.join(sorted(named_periods))} nhưng số liệu trong "
                f"tệp là của kỳ {', '.join(periods)}"
            )
        reason = (
            f"{HELD}: tệp '{name}' {'; '.join(said)}. Tệp không được nạp đè lên số liệu của "
            "đơn vị/kỳ nào; đề nghị cán bộ tổng hợp kiểm tra với đơn vị gửi tệp và đơn vị gửi "
            "lại tệp đúng tên, đúng mã đơn vị và kỳ báo cáo."
        )
        named = sorted(u for u in named_units if u in self.units and u not in units)
        return Hold(IDENTITY, reason, tuple(named) if odd_units else ())


def _shape(code: str) -> str:
    """A code with its digits as 9s: TCCS001 and TCCS002 are written alike.

    >>> _shape("TCCS001"), _shape("B43a")
    ('TCCS999', 'B99a')
    """
    return _DIGIT.sub("9", code)


def _same(period: str, hint: str) -> bool:
    """Whether a file's period agrees with one its name gives (a year covers its halves).

    >>> _same("2023-H1", "2023"), _same("2023", "2023-H2"), _same("2023-H1", "2023-H2")
    (True, True, False)
    """
    return period == hint or period.startswith(f"{hint}-") or hint.startswith(f"{period}-")
