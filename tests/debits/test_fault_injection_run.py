"""The fault-injection run at CI size: 10,000 instalments collected while workers are
SIGKILLed, Redis restarts empty, the network fails and customers change passwords;
nothing lost, nothing collected twice, the money equal on both sides.

The run is bench/fault_injection.py, in a process of its own with its own
database (beside the test database), its own redis-server, workers and beat;
this test runs it and reads its table. docs/reliability.md says what it proves.
"""

import re
import shutil
import subprocess  # nosec B404 # runs our own bench script
import sys

import pytest
from django.db import connection

from tests.conftest import PROJECT_DIR, service_unavailable
from tests.workers import database_url_for_workers, free_port

# Seeding and migrating take half a minute, the faults one or two, settling up to five.
RUN_TIMEOUT_SECONDS = 600


def _row(output: str, name: str) -> str:
    match = re.search(rf"^\| {re.escape(name)}\s*\| (.*) \|$", output, re.MULTILINE)
    assert match, f"no {name!r} row in:\n{output[-3000:]}"
    return match.group(1)


@pytest.mark.postgres
@pytest.mark.timeout(RUN_TIMEOUT_SECONDS + 60)
def test_ten_thousand_instalments_through_kills_broker_restarts_and_network_faults(tmp_path):
    if shutil.which("redis-server") is None:
        service_unavailable("redis-server (the run restarts a broker of its own)")
    database = database_url_for_workers().rsplit("/", 1)
    done = subprocess.run(  # noqa: S603 # nosec B603 # our own script, fixed arguments
        [sys.executable, "bench/fault_injection.py", "--instalments", "10000",
         "--database-url", f"{database[0]}/{connection.settings_dict['NAME']}_fault_run",
         "--redis-port", str(free_port()), "--logs", str(tmp_path)],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS,
    )  # fmt: skip
    output = done.stdout + done.stderr
    print(done.stdout)  # the run's table, in the test's report (pytest -rA)
    assert done.returncode == 0, output[-6000:]
    kills = int(_row(output, "worker kills (SIGKILL)").split()[0])
    in_flight = int(re.search(r"(\d+) with gateway calls in flight", output).group(1))
    assert kills >= 20 and in_flight > 0
    assert int(_row(output, "broker restarts (data lost)")) >= 3
    assert _row(output, "duplicates (must be 0)") == "0"
    assert _row(output, "lost (must be 0)") == "0"
    assert _row(output, "money mismatched (must be 0)").startswith("0 ")
