"""A steward's decision from the portal's forms: read and checked as `tonghop review` checks
it, and said in one sentence before it is applied (the confirmation page)."""

from __future__ import annotations

from typing import Any

import duckdb

from tonghop.catalog import load_catalog
from tonghop.numbers import read_number
from tonghop.portal.views import current_value_text
from tonghop.review import ReviewError
from tonghop.review_page import number

ACTIONS = ("accept", "correct", "reject")


def read_decision(form: Any, finding: dict) -> dict[str, Any]:
    """The steward's decision from a form, checked as the command line checks it; ReviewError
    with what is missing."""
    action = str(form.get("hanh_dong", ""))
    if action not in ACTIONS:
        raise ReviewError("Chọn chấp nhận, hiệu chỉnh hoặc yêu cầu nộp lại")
    decision: dict[str, Any] = {"action": action, "note": str(form.get("ghi_chu", "")).strip()}
    if action == "correct":
        code = str(form.get("chi_tieu", "")) or finding["suspect"] or ""
        if code not in finding["indicators"]:
            raise ReviewError(f"Chỉ tiêu '{code}' không thuộc phát hiện này")
        catalog = load_catalog()
        kind = catalog[code].value_type if code in catalog else None
        value, _ = read_number(str(form.get("gia_tri", "")).strip(), kind)
        if value is None:
            raise ReviewError("Giá trị hiệu chỉnh phải là một số")
        decision |= {
            "indicator": code,
            "value": value,
            "source": str(form.get("nguon", "")).strip(),
        }
        if not decision["source"]:
            raise ReviewError("Cần ghi nguồn của số liệu đúng (ví dụ: điện thoại với đơn vị)")
    if not decision["note"]:
        raise ReviewError("Cần ghi chú (lý do)")
    return decision


def effect(con: duckdb.DuckDBPyConnection, finding: dict, decision: dict) -> str:
    """What the decision will change, in one Vietnamese sentence, before it is applied."""
    who = f"đơn vị {finding['unit_code']} kỳ {finding['period']}"
    if decision["action"] == "accept":
        blocked = (
            " Báo cáo không còn bị loại khỏi tổng hợp vì lỗi này."
            if finding["severity"] == "error"
            else ""
        )
        return f"Số liệu của {who} được giữ nguyên như đơn vị báo cáo.{blocked}"
    if decision["action"] == "reject":
        return (
            f"Báo cáo của {who} bị loại khỏi tổng hợp cho đến khi đơn vị nộp bản mới; thư phản "
            "hồi gửi đơn vị ghi yêu cầu này."
        )
    code = decision["indicator"]
    label = indicator_label(finding, code)
    before = current_value_text(con, finding["submission_id"], code)
    return (
        f"{label} ({code}) trong báo cáo của {who}: {before} → {number(decision['value'])}. "
        "Lần tổng hợp tiếp theo dùng giá trị mới; số đơn vị báo cáo vẫn được lưu nguyên."
    )


def indicator_label(finding: dict, code: str) -> str:
    for item in finding["numbers"]:
        if item["code"] == code:
            return item["label"]
    return finding["suspect_label"] if finding.get("suspect") == code else code
