"""The failure notice: its bilingual text, and the webhook channel against a real HTTP server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from tonghop.notify import failure_message, notify
from tonghop.settings import NotifySettings


def test_webhook_receives_the_bilingual_notice():
    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:  # noqa: ANN002
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        subject, body = failure_message("tonghop-validate", "blue-owl", "http://ui/r/1", "hết giờ")
        sent = notify(NotifySettings(webhook_url=url), subject, body, {"error": "hết giờ"})
    finally:
        server.shutdown()
    assert sent == [url]
    assert received[0]["error"] == "hết giờ"
    assert "Lần chạy 'blue-owl'" in received[0]["text"]
    assert "Run 'blue-owl' of flow 'tonghop-validate' failed." in received[0]["text"]


def test_nothing_configured_sends_nothing():
    assert notify(NotifySettings(), "s", "b", {}) == []
