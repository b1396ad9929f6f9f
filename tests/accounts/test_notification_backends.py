"""Notification backends name the recipient masked wherever a server could keep it."""

import io
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from accounts.notifications import (
    ConsoleNotificationBackend,
    HttpNotificationBackend,
    Notification,
)

PHONE = "13912345678"
MESSAGE = Notification(
    channel="sms",
    recipient=PHONE,
    subject="Set your card password",
    body="open https://bank.example/reset/SECRETTOKEN123/ within 15 minutes",
    topic="password_reset_link",
)


def test_the_console_backend_prints_the_phone_masked():
    stream = io.StringIO()
    ConsoleNotificationBackend(stream=stream).send(MESSAGE)
    assert PHONE not in stream.getvalue()
    assert "139****5678" in stream.getvalue()


def test_the_gateway_backend_delivers_the_message_and_logs_only_the_masked_phone(settings, caplog):
    received = []

    class Gateway(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            received.append(self.headers.get("Authorization"))
            self.send_response(202)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    settings.NOTIFICATION_GATEWAY_URL = f"http://127.0.0.1:{server.server_port}/messages"
    settings.NOTIFICATION_GATEWAY_API_KEY = "gateway-key"
    caplog.set_level(logging.DEBUG)
    HttpNotificationBackend().send(MESSAGE)
    thread.join(5)
    server.server_close()
    assert received[0]["to"] == PHONE
    assert "SECRETTOKEN123" in received[0]["body"]
    assert received[1] == "Bearer gateway-key"
    assert PHONE not in caplog.text and "SECRETTOKEN123" not in caplog.text
    assert any(getattr(r, "recipient_masked", "") == "139****5678" for r in caplog.records)
