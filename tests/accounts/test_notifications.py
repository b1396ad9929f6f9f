import io
import logging

from accounts.notifications import (
    ConsoleNotificationBackend,
    FileNotificationBackend,
    Notification,
)
from backoffice.log import RedactResetTokenFilter

MESSAGE = Notification(
    channel="sms",
    recipient="13800000001",
    subject="Set your card password",
    body="open https://bank.example/reset/SECRETTOKEN123/ within 15 minutes",
    topic="password_reset_link",
)


def test_the_console_backend_prints_to_stdout_and_not_to_the_logs(caplog):
    caplog.set_level(logging.DEBUG)
    stream = io.StringIO()
    ConsoleNotificationBackend(stream=stream).send(MESSAGE)
    assert "SECRETTOKEN123" in stream.getvalue()
    assert "SECRETTOKEN123" not in caplog.text


def test_the_file_backend_writes_one_owner_only_file_per_message(tmp_path):
    backend = FileNotificationBackend(directory=tmp_path / "outbox")
    backend.send(MESSAGE)
    backend.send(MESSAGE)
    files = sorted((tmp_path / "outbox").iterdir())
    assert len(files) == 2
    assert files[0].stat().st_mode & 0o777 == 0o600
    assert "To: 13800000001" in files[0].read_text()


def test_an_access_log_line_with_a_reset_link_is_redacted():
    record = logging.makeLogRecord(
        {"msg": '"%s" %s %s', "args": ("GET /reset/SECRETTOKEN123/ HTTP/1.1", 302, 0)}
    )
    assert RedactResetTokenFilter().filter(record)
    assert "SECRETTOKEN123" not in record.getMessage()
    assert "/reset/[redacted]/" in record.getMessage()
    plain = logging.makeLogRecord({"msg": '"GET /reset/ HTTP/1.1" 200 512'})
    RedactResetTokenFilter().filter(plain)
    assert plain.getMessage() == '"GET /reset/ HTTP/1.1" 200 512'
