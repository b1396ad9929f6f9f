"""How long ``manage.py seed_demo --customers N`` takes on a fresh database, and its peak memory.

SQLite (a file in a temporary directory) by default; ``--database-url`` for PostgreSQL.
Migrations run first and are not timed. Prints the figures and the command to reproduce.

    .venv/bin/python bench/seed_demo_bench.py
    .venv/bin/python bench/seed_demo_bench.py \\
        --database-url postgres://postgres@127.0.0.1:5432/bo_bench --recreate
"""

import argparse
import os
import platform
import resource
import shlex
import subprocess  # nosec B404 # starts our own processes, never a shell
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

PROJECT_DIR = Path(__file__).resolve().parent.parent


def recreate_postgres_database(url: str) -> None:
    """Drop and create the database named in ``url`` (only with --recreate)."""
    import psycopg
    from psycopg import sql

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def run(args: list[str], env: dict[str, str]) -> None:
    subprocess.run(  # noqa: S603 # nosec B603 # our own manage.py with our own arguments
        [sys.executable, "manage.py", *args], cwd=PROJECT_DIR, env=env, check=True
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", help="postgres://... (default: a fresh SQLite file)")
    parser.add_argument(
        "--recreate",
        action="store_true",
        help="Drop and re-create the PostgreSQL database first (it must not hold real data).",
    )
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="seed-bench-") as tmp:
        url = options.database_url or f"sqlite:///{tmp}/bench.sqlite3"
        if options.database_url and options.recreate:
            recreate_postgres_database(url)
        env = dict(os.environ, DATABASE_URL=url, DEBUG="true")
        run(["migrate", "--noinput", "-v0"], env)
        migrate_peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss

        started = time.perf_counter()
        run(["seed_demo", "--customers", str(options.customers), "--seed", str(options.seed)], env)
        elapsed = time.perf_counter() - started
        # ru_maxrss of children is the largest of any child waited for (KiB on Linux).
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss

    backend = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    print()
    print(f"seed_demo --customers {options.customers:,} on {backend}")
    print(f"  wall time:   {elapsed:.1f} s ({options.customers / elapsed:,.0f} customers/s)")
    print(f"  peak memory: {peak_kib / 1024:.0f} MiB (max RSS of any child process)")
    if peak_kib == migrate_peak_kib:
        print("               (that peak was reached by migrate, not seed_demo)")
    print(
        f"  machine:     {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    reproduce = [
        ".venv/bin/python",
        "bench/seed_demo_bench.py",
        "--customers",
        str(options.customers),
    ]
    if options.database_url:
        reproduce += ["--database-url", options.database_url, "--recreate"]
    print(f"  reproduce:   {shlex.join(reproduce)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
