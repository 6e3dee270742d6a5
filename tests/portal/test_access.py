"""Every page and action of the portal with the wrong role, no session, a stale CSRF token, and
a unit's link used for another unit: refused (SPEC §4.6); the sign-in rate-limited; a unit's
name from the registry shown, never run."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
from starlette.testclient import TestClient  # noqa: E402 - Starlette warns of httpx

from tests.conftest import generated_workspace
from tonghop.db import open_db
from tonghop.portal.app import PortalConfig, create_app
from tonghop.portal.auth import MAX_FAILURES, hash_password
from tonghop.portal.store import PortalStore

PASSWORD = "mat-khau-thu-nghiem"
EVIL = '<script>document.title="pwned"</script>'
# Every area's pages and actions: (method, path, role that opens it)
ROUTES = [
    ("GET", "/kiem-tra", "steward"),
    ("GET", "/kiem-tra/abc", "steward"),
    ("POST", "/kiem-tra/abc/xem-truoc", "steward"),
    ("POST", "/kiem-tra/abc/ap-dung", "steward"),
    ("GET", "/bao-cao", "owner"),
    ("GET", "/bao-cao/tep/bao-cao.html", "owner"),
    ("POST", "/bao-cao/kiem-tra-du-thao", "owner"),
    ("GET", "/van-hanh", "operator"),
]
ROLES = ("steward", "owner", "operator")


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    root = tmp_path_factory.mktemp("portal-access")
    bloc, workspace, _ = generated_workspace(root, units=4)
    with open_db(workspace) as con:
        rows = con.execute("select unit_code from registry_units order by 1").fetchall()
        units = [u for (u,) in rows]
        con.execute("update registry_units set name = ? where unit_code = ?", [EVIL, units[1]])
    store = PortalStore(workspace)
    for role in ROLES:
        store.add_user(f"nguoi-{role}", role, hash_password(PASSWORD))
    links = {u: store.add_link(u, "2024", datetime.now() + timedelta(days=3)) for u in units[:2]}
    app = create_app(PortalConfig(workspace))
    return app, store, workspace, units, links


def _client(app, role: str | None = None) -> TestClient:  # noqa: ANN001
    client = TestClient(app, follow_redirects=False)
    if role is not None:
        answer = client.post("/dang-nhap", data={"ten": f"nguoi-{role}", "mat_khau": PASSWORD})
        assert answer.status_code == 303, answer.text
    return client


def _csrf(client: TestClient, path: str) -> str:
    page = client.get(path).text
    marker = 'name="csrf" value="'
    return page[page.index(marker) + len(marker) :].split('"', 1)[0]


def _call(client: TestClient, method: str, path: str, **kwargs):  # noqa: ANN202
    if method == "GET":
        return client.get(path)
    return client.post(path, **kwargs)


def _unit_csv(unit: str, period: str = "2024") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["unit_code", "period", "indicator_code", "value"])
    writer.writerow([unit, period, "members_total", "40"])
    return out.getvalue().encode()


def test_without_a_session_every_page_but_a_link_asks_to_sign_in(portal) -> None:
    app, *_ = portal
    client = _client(app)
    for method, path, _ in ROUTES:
        answer = _call(client, method, path, data={"csrf": "x"})
        if method == "GET":
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/dang-nhap"), path
        else:
            assert answer.status_code == 401, path
    assert client.get("/").headers["location"].startswith("/dang-nhap")


def test_a_role_opens_its_own_area_only(portal) -> None:
    app, *_ = portal
    for role in ROLES:
        client = _client(app, role)
        for method, path, opens in ROUTES:
            answer = _call(client, method, path, data={"csrf": "x"})
            if opens != role:
                assert answer.status_code == 403, (role, path, answer.status_code)
            else:
                assert answer.status_code not in (401, 403) or method == "POST", (role, path)


def test_a_form_without_the_sessions_csrf_token_is_refused(portal) -> None:
    app, *_ = portal
    client = _client(app, "steward")
    answer = client.post(
        "/kiem-tra/abc/ap-dung", data={"hanh_dong": "accept", "ghi_chu": "đúng", "csrf": "x"}
    )
    assert answer.status_code == 403
    assert "Biểu mẫu đã cũ" in answer.text
    token = _csrf(client, "/kiem-tra")
    # with the right token the action reaches the finding (which does not exist)
    answer = client.post(
        "/kiem-tra/abc/ap-dung", data={"hanh_dong": "accept", "ghi_chu": "đúng", "csrf": token}
    )
    assert answer.status_code == 404
    assert "Không tìm thấy phát hiện" in answer.text


def test_a_units_link_opens_its_own_unit_and_no_other(portal) -> None:
    app, store, workspace, units, links = portal
    first, second = units[:2]
    client = _client(app)
    page = client.get(f"/don-vi/{links[first]}")
    assert page.status_code == 200
    assert first in page.text and second not in page.text
    form = client.get(f"/don-vi/{links[first]}/bieu-mau.xlsx")
    assert form.status_code == 200 and form.content[:2] == b"PK"
    # the second unit's link cannot upload for the first: refused, nothing loaded
    with open_db(workspace) as con:
        before = con.execute("select count(*) from submissions").fetchone()[0]
    answer = client.post(
        f"/don-vi/{links[second]}",
        files={"file": (f"{first}.csv", _unit_csv(first), "text/csv")},
    )
    assert answer.status_code == 422
    assert f"đơn vị {first} kỳ 2024" in answer.text
    assert f"chỉ nhận báo cáo của đơn vị {second}" in answer.text
    answer = client.post(
        f"/don-vi/{links[first]}",
        files={"file": (f"{first}.csv", _unit_csv(first, "2023"), "text/csv")},
    )
    assert answer.status_code == 422 and f"đơn vị {first} kỳ 2023" in answer.text
    with open_db(workspace) as con:
        assert con.execute("select count(*) from submissions").fetchone()[0] == before
    # a link never given, a revoked one and an expired one open nothing
    assert client.get("/don-vi/khong-co-duong-dan-nay").status_code == 404
    third = units[2]
    revoked = store.add_link(third, "2024", datetime.now() + timedelta(days=1))
    assert store.revoke_links(third, "2024") == 1
    assert client.get(f"/don-vi/{revoked}").status_code == 410
    assert client.post(f"/don-vi/{revoked}", files={"file": ("a.csv", b"x")}).status_code == 410
    expired = store.add_link(third, "2024", datetime.now() - timedelta(seconds=1))
    assert client.get(f"/don-vi/{expired}").status_code == 410
    # a signed-in account is no unit: a link is the only way to a unit's page
    assert _client(app, "steward").get(f"/don-vi/{links[second]}").status_code == 200


def test_a_units_name_is_shown_escaped(portal) -> None:
    app, _, _, units, links = portal
    page = _client(app).get(f"/don-vi/{links[units[1]]}")
    assert EVIL not in page.text
    assert "&lt;script&gt;document.title=&#34;pwned&#34;&lt;/script&gt;" in page.text
    assert "script-src" not in page.headers["content-security-policy"]  # none allowed at all


def test_uploads_are_bounded_in_size(portal) -> None:
    app, _, _, units, links = portal
    client = _client(app)
    big = b"unit_code,period,indicator_code,value\n" + b"x" * (6 * 1024 * 1024)
    answer = client.post(f"/don-vi/{links[units[0]]}", files={"file": ("big.csv", big)})
    assert answer.status_code == 413


def test_sign_in_is_rate_limited(portal) -> None:
    app, store, *_ = portal
    from tonghop.portal.auth import hash_password as hashed

    store.add_user("bi-doan", "steward", hashed(PASSWORD))
    # from an address of its own: the address is locked out too, not only the name
    client = TestClient(app, follow_redirects=False, client=("192.0.2.7", 50000))
    for _ in range(MAX_FAILURES):
        answer = client.post("/dang-nhap", data={"ten": "bi-doan", "mat_khau": "sai-mat-khau!"})
        assert answer.status_code == 401
    answer = client.post("/dang-nhap", data={"ten": "bi-doan", "mat_khau": PASSWORD})
    assert answer.status_code == 429
    assert "thử lại sau" in answer.text
    assert "tonghop_phien" not in answer.headers.get("set-cookie", "")
    other = TestClient(app, follow_redirects=False, client=("192.0.2.7", 50001))
    answer = other.post("/dang-nhap", data={"ten": "nguoi-owner", "mat_khau": PASSWORD})
    assert answer.status_code == 429  # the same address, another name


def test_an_upload_waits_for_a_run_writing_the_workspace(portal) -> None:
    from tonghop.locking import workspace_turn
    from tonghop.portal.uploads import UPLOADS_DIR

    app, _, workspace, units, links = portal
    app.state.portal.intake.wait_seconds = 1
    data = _unit_csv(units[0])
    with open_db(workspace) as con:
        before = con.execute("select count(*) from submissions").fetchone()[0]
    with workspace_turn(workspace, lambda line: None):  # a run holds the workspace
        answer = _client(app).post(
            f"/don-vi/{links[units[0]]}", files={"file": ("bao-cao.csv", data, "text/csv")}
        )
    assert answer.status_code == 200
    assert "vẫn đang được một lần chạy khác ghi" in answer.text
    assert "Tệp đã được giữ lại" in answer.text
    assert "Could not set lock" not in answer.text
    with open_db(workspace) as con:
        assert con.execute("select count(*) from submissions").fetchone()[0] == before
    kept = list((workspace / "portal" / UPLOADS_DIR).glob("*.csv"))
    assert data in [path.read_bytes() for path in kept]


def test_the_operator_sees_each_units_standing(portal) -> None:
    app, _, _, units, _ = portal
    page = _client(app, "operator").get("/van-hanh?ky=2024")
    assert page.status_code == 200
    for unit in units:
        assert unit in page.text
    assert "đã nộp" in page.text
    assert _client(app, "operator").get("/van-hanh?ky=20x4").status_code == 400


def test_the_commands_make_an_account_and_revoke_a_link(portal) -> None:
    from typer.testing import CliRunner

    from tonghop.cli import app as cli

    app, _, workspace, units, _ = portal
    runner = CliRunner()
    ws = ["--workspace", str(workspace)]
    made = runner.invoke(
        cli, ["users", "add", "chuyen-vien", "--role", "owner", *ws, "--password-stdin"],
        input=f"{PASSWORD}\n",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    client = TestClient(app, follow_redirects=False, client=("192.0.2.9", 1))
    answer = client.post("/dang-nhap", data={"ten": "chuyen-vien", "mat_khau": PASSWORD})
    assert answer.status_code == 303 and answer.headers["location"] == "/bao-cao"
    short = runner.invoke(cli, ["users", "add", "x", "--role", "owner", *ws, "--password-stdin"],
                          input="ngan\n")  # fmt: skip
    assert short.exit_code == 2 and "ít nhất" in short.output
    assert runner.invoke(cli, ["users", "add", "x", "--role", "admin", *ws]).exit_code == 2

    printed = runner.invoke(cli, ["units", "link", units[3], *ws, "--period", "2024"])
    assert printed.exit_code == 0, printed.output
    url = printed.stdout.strip().splitlines()[0]
    assert url.startswith("http://127.0.0.1:8000/don-vi/")
    path = url.removeprefix("http://127.0.0.1:8000")
    assert client.get(path).status_code == 200
    revoked = runner.invoke(cli, ["units", "link", units[3], *ws, "--revoke"])
    assert revoked.exit_code == 0 and "Đã thu hồi 1 đường dẫn" in revoked.output
    assert client.get(path).status_code == 410
    unknown = runner.invoke(cli, ["units", "link", "KHONG-CO", *ws])
    assert unknown.exit_code == 2 and "không có trong danh mục" in unknown.output
