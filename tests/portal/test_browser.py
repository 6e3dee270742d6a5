"""The portal's acceptance path in a real headless Chromium (Debian's, driven by Playwright):
a unit's link from `tonghop units link` downloads its form, uploads it with a planted digit
slip and sees the finding with its cell and suggested value within 10 seconds; another unit's
link neither shows the first unit nor uploads for it; a steward signs in, corrects the value
after seeing its effect, and the next draft carries the correction."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from tests.conftest import free_port
from tests.e2e.test_review_page import CHROMIUM, FLAGS, needs_chromium
from tonghop import pipeline
from tonghop.cli import app as cli
from tonghop.generate import generate
from tonghop.periods import PeriodRange
from tonghop.portal.app import PortalConfig, create_app
from tonghop.portal.auth import hash_password
from tonghop.portal.store import PortalStore
from tonghop.report.draft import render_report
from tonghop.settings import load_settings

pytestmark = pytest.mark.slow

PERIOD = "2024"
PASSWORD = "mat-khau-can-bo-thu"
# a sentence whose parts do not add up to its total (35 stated, 37 computed)
CONTRADICTION = (
    "Thi hành kỷ luật 35 đảng viên, trong đó khiển trách 20 đảng viên, cảnh cáo 10 đảng viên, "
    "cách chức 03 đảng viên, khai trừ 04 đảng viên."
)


def _swap_last_two(value: int) -> int:
    """The value with its last two digits swapped (a typist's slip); they must differ."""
    text = str(value)
    assert len(text) >= 2 and text[-1] != text[-2], value
    return int(text[:-2] + text[-1] + text[-2])


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A bloc of 6 units collected and validated for 2024 (as `tonghop run` leaves it)."""
    root = tmp_path_factory.mktemp("portal-browser")
    bloc = generate(6, root / "bloc", error_share=0.0)
    ws = root / "ws"
    pipeline.load_registry(ws, bloc.registry)
    pipeline.collect_files(ws, pipeline.read_source(str(bloc.source(2023))))
    batch = pipeline.collect_files(ws, pipeline.read_source(str(bloc.source(2024))))
    pipeline.validate_scope(
        ws, pipeline.load_catalog(), PeriodRange.parse(PERIOD), batch.batch_id, "r1"
    )
    return bloc, ws


@pytest.fixture(scope="module")
def server(workspace):
    import uvicorn

    _, ws = workspace
    store = PortalStore(ws)
    store.add_user("thu", "steward", hash_password(PASSWORD))
    store.add_user("lanh-dao", "owner", hash_password(PASSWORD))
    port = free_port()
    app = create_app(PortalConfig(ws, out=ws.parent / "out"))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not running.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the portal did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    running.should_exit = True
    thread.join(timeout=30)


def _link(ws: Path, unit: str, base: str) -> str:
    result = CliRunner().invoke(
        cli, ["units", "link", unit, "--workspace", str(ws), "--base-url", base]
    )
    assert result.exit_code == 0, result.output
    url = result.stdout.strip().splitlines()[0]
    assert url.startswith(f"{base}/don-vi/") and len(url.rsplit("/", 1)[1]) >= 40
    return url


def _members(path: Path) -> int:
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["indicator_code"] == "members_total":
                return int(float(row["value"]))
    raise AssertionError(f"no members_total in {path}")


def _plant(form: Path, out: Path) -> tuple[str, int, int]:
    """Swap two digits of members_total in the downloaded form: (cell, typed, right value)."""
    book = openpyxl.load_workbook(form)
    sheet = book["BaoCao"]
    for row in sheet.iter_rows():
        if row[1].value == "members_total":
            cell = row[4]
            right = int(cell.value)
            cell.value = _swap_last_two(right)
            book.save(out)
            return f"BaoCao!{cell.coordinate}", cell.value, right
    raise AssertionError("members_total is not in the form")


def _sign_in(page, server: str, name: str, path: str) -> None:  # noqa: ANN001 - a Page
    page.goto(f"{server}{path}")
    page.fill("input[name=ten]", name)
    page.fill("input[name=mat_khau]", PASSWORD)
    page.click("form button")


@needs_chromium
def test_unit_uploads_steward_corrects_draft_carries_it(workspace, server, tmp_path) -> None:
    from playwright.sync_api import expect, sync_playwright

    bloc, ws = workspace
    units = sorted(p.stem for p in bloc.source(2024).glob("*.csv"))
    # a unit whose total's last two digits differ, so that swapping them is a slip
    unit = next(u for u in units if len({*str(_members(bloc.source(2024) / f"{u}.csv"))[-2:]}) == 2)
    other = next(u for u in units if u != unit)
    mine, theirs = _link(ws, unit, server), _link(ws, other, server)

    # A loaded machine answers slowly; only the unit's findings are held to 10 seconds.
    expect.set_options(timeout=30_000)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_context(accept_downloads=True).new_page()
        page.set_default_timeout(60_000)

        # the unit downloads its pre-filled form and sends it back with a planted slip
        page.goto(mine)
        expect(page.locator("h1")).to_contain_text(unit)
        with page.expect_download() as download:
            page.click("#tai-bieu-mau")
        form = tmp_path / "form.xlsx"
        download.value.save_as(form)
        cell, typed, right = _plant(form, tmp_path / f"{unit}-{PERIOD}.xlsx")
        page.set_input_files("#gui-tep input[name=file]", str(tmp_path / f"{unit}-{PERIOD}.xlsx"))
        started = time.monotonic()
        page.click("#gui-tep button")
        finding = page.locator("#phat-hien tr", has_text="Tổng số đảng viên").first
        expect(finding).to_contain_text(cell, timeout=10_000)
        assert time.monotonic() - started < 10
        expect(finding).to_contain_text(f"{typed:,}".replace(",", "."))
        expect(finding.locator(".suggested")).to_have_text(f"{right:,}".replace(",", "."))
        expect(page.locator("#thu")).to_contain_text(unit)

        # another unit's link neither shows this unit nor uploads for it
        page.goto(theirs)
        expect(page.locator("h1")).to_contain_text(other)
        assert unit not in page.content()
        page.set_input_files("#gui-tep input[name=file]", str(tmp_path / f"{unit}-{PERIOD}.xlsx"))
        page.click("#gui-tep button")
        expect(page.locator("#tu-choi")).to_contain_text(f"đơn vị {unit} kỳ {PERIOD}")

        # a steward signs in, finds it in the queue, sees the effect, then corrects it
        page.goto(f"{server}/kiem-tra?don_vi={unit}")
        expect(page).to_have_url(f"{server}/dang-nhap?tiep=/kiem-tra")
        _sign_in(page, server, "thu", "/kiem-tra")
        page.goto(f"{server}/kiem-tra?don_vi={unit}&trang_thai=open")
        page.locator("#hang-doi tr", has_text="members_total_sum").locator("a").click()
        correct = page.locator("#hieu-chinh")
        expect(correct.locator("input[name=gia_tri]")).to_have_value(str(right))
        correct.locator("input[name=ghi_chu]").fill("Gõ nhầm thứ tự hai chữ số")
        correct.locator("input[name=nguon]").fill("điện thoại với đơn vị")
        correct.locator("button").click()
        expect(page.locator("#tac-dong")).to_contain_text(
            f"{typed:,} → {right:,}".replace(",", ".")
        )
        page.click("#xac-nhan button")
        expect(page.locator("#da-ghi")).to_be_visible()
        expect(page.locator("#trang-thai")).to_contain_text("đã hiệu chỉnh")
        expect(page.locator("#lich-su")).to_contain_text("thu (cổng thông tin)")
        page.click("header button")  # sign out

        # the next draft carries the corrected value: the bloc's total, summed from the files
        out = ws.parent / "out"
        context = pipeline.consolidate(ws, pipeline.load_catalog(), PeriodRange.parse(PERIOD))
        render_report(context, load_settings(None), out)
        figures = json.loads((out / "figures.json").read_text(encoding="utf-8"))
        (total,) = [f for f in figures if f["id"] == "cutoff.members_total"]
        assert total["value"] == sum(_members(bloc.source(2024) / f"{u}.csv") for u in units)

        # the owner reads that draft and has an edited copy checked
        _sign_in(page, server, "lanh-dao", "/bao-cao")
        expect(page.locator("#tep-du-thao")).to_contain_text("figures.json")
        page.click("#xem-du-thao")
        expect(page.locator("[data-figure='cutoff.members_total']").first).to_have_text(
            total["text"]
        )
        page.go_back()
        edited = tmp_path / "du-thao-da-sua.md"
        edited.write_text(
            (out / "bao-cao.md").read_text(encoding="utf-8") + "\n\n" + CONTRADICTION + "\n",
            encoding="utf-8",
        )
        page.set_input_files("#kiem-tra-du-thao input[name=file]", str(edited))
        page.click("#kiem-tra-du-thao button")
        contradiction = page.locator("#cho-can-xem tr:has(td.kind:text-is('sum'))")
        expect(contradiction.locator(".stated")).to_have_text("35")
        expect(contradiction.locator(".computed")).to_have_text("37")

        # the unit sends its form corrected: the finding goes, the slip stays on record
        page.goto(mine)
        page.set_input_files("#gui-tep input[name=file]", str(form))
        page.click("#gui-tep button")
        expect(page.locator("#ket-qua")).to_contain_text("không có lỗi")
        expect(page.locator("#lan-nop tr", has_text="đã được thay thế")).to_have_count(2)
        browser.close()

    # the workspace the portal wrote opens in a new process, as the next run opens it
    status = subprocess.run(
        [sys.executable, "-m", "tonghop.cli", "status", "--workspace", str(ws), "--period", PERIOD],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert status.returncode == 0, status.stderr
    assert f"{unit}\t" in status.stdout
