"""The shipped gunicorn configuration writes no reset token to its access log."""

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from tests.conftest import PROJECT_DIR
from tests.production import production_environment

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

GUNICORN = Path(sys.executable).with_name("gunicorn")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url() -> str:
    conf = connection.settings_dict
    password = f":{conf['PASSWORD']}" if conf.get("PASSWORD") else ""
    return (
        f"postgres://{conf['USER']}{password}@{conf['HOST'] or '127.0.0.1'}:"
        f"{conf['PORT'] or 5432}/{conf['NAME']}"
    )


def _get(port: int, path: str, **headers: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        headers={"Host": "backoffice.example", "X-Forwarded-Proto": "https", **headers},
    )

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        return opener.open(request, timeout=20).status
    except urllib.error.HTTPError as error:
        return error.code


def test_real_gunicorn_output_holds_no_reset_token(tmp_path):
    port = _free_port()
    customer_token = secrets.token_urlsafe(32)
    staff_token = secrets.token_urlsafe(32)
    env = {
        **os.environ,
        **production_environment(),
        "DATABASE_URL": _database_url(),
        "BEHIND_TLS_PROXY": "true",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
    }
    output = tmp_path / "gunicorn.log"
    with output.open("w") as sink:
        server = subprocess.Popen(
            [str(GUNICORN), "-c", "backoffice/gunicorn.conf.py"],
            cwd=PROJECT_DIR,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    status = _get(port, f"/reset/{customer_token}/")
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        pytest.fail("gunicorn did not start:\n" + output.read_text())
                    time.sleep(0.3)
            assert status == 302
            assert _get(port, f"/staff/password-reset/{staff_token}/") == 302
            referer = f"https://backoffice.example/reset/{customer_token}/"
            # Any answer will do: the line is about the Referer header it logs.
            _get(port, "/staff/password-reset/", Referer=referer)
        finally:
            server.terminate()
            server.wait(timeout=30)
    log = output.read_text()
    assert "GET /reset/[redacted]/" in log, log
    assert "GET /staff/password-reset/[redacted]/" in log, log
    assert '"https://backoffice.example/reset/[redacted]/"' in log, log
    assert customer_token not in log
    assert staff_token not in log
