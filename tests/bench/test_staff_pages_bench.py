"""The staff-pages benchmark runs end to end on a small book with each seeder, so a
column the models gain never breaks it unnoticed (its seeders write raw SQL)."""

import subprocess  # nosec B404 # runs our own bench script
import sys

import pytest
from django.db import connection

from tests.conftest import PROJECT_DIR
from tests.workers import database_url_for_workers


@pytest.mark.postgres
@pytest.mark.parametrize("seeder", ["sql", "book"])
def test_the_staff_pages_benchmark_seeds_and_measures_every_page(seeder):
    server = database_url_for_workers().rsplit("/", 1)[0]
    name = f"{connection.settings_dict['NAME']}_staff_{seeder}"
    done = subprocess.run(  # noqa: S603 # nosec B603 # our own script, fixed arguments
        [sys.executable, "bench/staff_pages.py", "--customers", "1000", "--requests", "2",
         "--concurrency", "2", "--seeder", seeder, "--fresh",
         "--database-url", f"{server}/{name}"],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    for page in ("customer 360", "debit run page", "complaint queue", "operations dashboard",
                 "landing page"):  # fmt: skip
        assert page in done.stdout, done.stdout[-3000:]
    assert "Reproduce with:" in done.stdout
