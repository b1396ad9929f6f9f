"""What the benchmark scripts share: their own PostgreSQL database, migrated.

The scripts run as ``.venv/bin/python bench/<script>.py`` from the project
root, so this directory is first on ``sys.path`` and they import this module
by its plain name.
"""

import sys
from pathlib import Path
from urllib.parse import urlparse

PROJECT_DIR = Path(__file__).resolve().parent.parent


def ensure_database(url: str, *, fresh: bool) -> None:
    """Create the database named in ``url`` if missing; with ``fresh``, drop it first."""
    import psycopg
    from psycopg import sql

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if fresh:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def prepare_database(url: str, *, fresh: bool) -> None:
    """The database in ``url`` made (see ensure_database), Django set up on it and migrated.

    DATABASE_URL and DJANGO_SETTINGS_MODULE must already be in ``os.environ``.
    """
    ensure_database(url, fresh=fresh)
    sys.path.insert(0, str(PROJECT_DIR))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
