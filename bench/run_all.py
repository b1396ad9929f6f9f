"""Every benchmark, side by side in one run, gathered into docs/benchmarks.md.

Runs each script of the suite one after the other (never two at once: they
would measure each other), each on a database of its own
(``<--database-prefix>_<section>``) and the one Redis database given, and
writes ``--output`` with the machine's description (cores, memory, CPU model,
PostgreSQL and Redis versions, date, commit) and, per section, the exact
command that reproduces it and everything it printed.

    .venv/bin/python bench/run_all.py                      # the issue's sizes: 1,000,000
    .venv/bin/python bench/run_all.py --customers 2000 --instalments 2000 --mandates 2000

A section whose script is not there (the staff pages' one until it is merged)
is listed as skipped; a section that fails is reported with the end of its
error output and the others still run. Exits non-zero if any section failed.
"""

import argparse
import datetime as dt
import os
import platform
import re
import shlex
import subprocess  # nosec B404 # runs our own bench scripts, never a shell
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
BENCH_DIR = PROJECT_DIR / "bench"
PYTHON = ".venv/bin/python"
DEFAULT_PREFIX = "postgres://postgres@127.0.0.1:5432/bo_benchsuite"
DEFAULT_BROKER = "redis://127.0.0.1:6379/8"
SECTION_KEYS = ("seed", "debits", "resync", "staff", "reconciliation")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class Section:
    key: str
    title: str
    script: str
    arguments: list[str]
    what: str
    status: str = "not run"
    seconds: float = 0.0
    output: str = ""
    errors: str = ""
    dropped: list[str] = field(default_factory=list)

    @property
    def command(self) -> str:
        return shlex.join([PYTHON, f"bench/{self.script}", *self.arguments])


def parse_options(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000, help="book to seed")
    parser.add_argument("--instalments", type=int, default=1_000_000, help="due at month-end")
    parser.add_argument(
        "--latency-instalments",
        type=int,
        help="instalments due in the 20 ms runs (default: --instalments)",
    )
    parser.add_argument("--mandates", type=int, help="reconciled (default: --customers)")
    parser.add_argument(
        "--resync-instalments",
        type=int,
        help="due in the run the re-syncs are measured during (default: --instalments); "
        "it only has to outlast the password changes",
    )
    parser.add_argument("--workers", default="1,2,4", help="debit worker process counts")
    parser.add_argument("--latencies", default="0,20", help="simulator latencies, ms")
    parser.add_argument("--naive-sample", type=int, default=2000)
    parser.add_argument("--changes", type=int, default=300, help="password changes in the run")
    parser.add_argument("--staff-requests", type=int, default=100, help="per page or search")
    parser.add_argument(
        "--staff-concurrency", type=int, default=2, help="staff requests at once (load)"
    )
    parser.add_argument("--only", help="comma-separated sections: " + ", ".join(SECTION_KEYS))
    parser.add_argument("--database-prefix", default=DEFAULT_PREFIX)
    parser.add_argument("--broker-url", default=DEFAULT_BROKER)
    parser.add_argument("--output", default="docs/benchmarks.md")
    parser.add_argument(
        "--timeout", type=int, default=3 * 60 * 60, help="seconds allowed per section"
    )
    options = parser.parse_args(argv)
    for name in (
        "customers", "instalments", "naive_sample", "changes", "staff_requests",
        "staff_concurrency",
    ):  # fmt: skip
        if getattr(options, name) < (0 if name == "naive_sample" else 1):
            parser.error(f"--{name.replace('_', '-')} must be positive")
    options.mandates = options.mandates or options.customers
    options.latency_instalments = options.latency_instalments or options.instalments
    options.resync_instalments = options.resync_instalments or options.instalments
    return options


def sections_for(o: argparse.Namespace) -> list[Section]:
    db = o.database_prefix
    broker = ["--broker-url", o.broker_url]
    return [
        Section(
            "seed",
            "Seeding the book",
            "seed_book.py",
            ["--customers", str(o.customers), "--database-url", f"{db}_book"],
            "A book of customers, cards, credentials, loans with their whole schedules and "
            "bound mandates, by COPY; rows per second per table and peak memory.",
        ),
        Section(
            "debits",
            "Month-end debit run",
            "debit_throughput.py",
            [
                *("--instalments", str(o.instalments)),
                *("--latency-instalments", str(o.latency_instalments)),
                *("--workers", o.workers),
                *("--latencies", o.latencies),
                *("--naive-sample", str(o.naive_sample)),
                *("--database-url", f"{db}_debits"),
                *broker,
                "--fresh",
            ],
            "The month-end run over the due instalments with the simulator at each latency, "
            "with each number of worker processes, beside the naive one-row loop; SQL "
            "statements per instalment and the hot queries' plans.",
        ),
        Section(
            "resync",
            "Re-sync during the month-end run",
            "resync_during_run.py",
            [
                *("--instalments", str(o.resync_instalments)),
                "--gateway-latency-ms",
                o.latencies.split(",")[-1],
                *("--changes", str(o.changes)),
                *("--database-url", f"{db}_resync"),
                *broker,
            ],
            "Password change -> every mandate of the card re-synced, p50/p99, measured while "
            "the month-end run collects (debits and re-syncs on separate worker pools).",
        ),
        Section(
            "staff",
            "Staff pages",
            "staff_pages.py",
            [
                *("--customers", str(o.customers)),
                # The lighter INSERT ... SELECT book (three instalments a loan): the pages
                # read the same tables, and the seed section already times the full one.
                *("--seeder", "sql"),
                *("--requests", str(o.staff_requests)),
                *("--concurrency", str(o.staff_concurrency)),
                *("--database-url", f"{db}_staff"),
            ],
            "Search, customer 360°, run page, complaint queue and operations dashboard: "
            "p50/p95 under concurrent requests, with their query counts.",
        ),
        Section(
            "reconciliation",
            "Reconciliation pass",
            "reconciliation_pass.py",
            [
                *("--mandates", str(o.mandates)),
                *("--database-url", f"{db}_reconciliation"),
                *broker,
                "--fresh",
            ],
            "A full pass of every active mandate against the network's agreements: time and "
            "peak memory.",
        ),
    ]


def accepted_options(script: Path) -> set[str]:
    """The options a script's --help lists: a script still growing may lack some."""
    result = subprocess.run(  # noqa: S603 # nosec B603 # our own script, our own arguments
        [sys.executable, str(script), "--help"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return set(re.findall(r"(--[a-z][a-z0-9-]*)", result.stdout))


def keep_accepted(arguments: list[str], accepted: set[str]) -> tuple[list[str], list[str]]:
    kept, dropped, index = [], [], 0
    while index < len(arguments):
        option = arguments[index]
        takes_value = index + 1 < len(arguments) and not arguments[index + 1].startswith("--")
        chunk = arguments[index : index + (2 if takes_value else 1)]
        (kept if option in accepted else dropped).extend(chunk)
        index += len(chunk)
    return kept, dropped


def run_section(section: Section, timeout: int) -> None:
    script = BENCH_DIR / section.script
    if not script.exists():
        section.status = "skipped: script not in this checkout"
        return
    section.arguments, section.dropped = keep_accepted(section.arguments, accepted_options(script))
    print(f"\n== {section.title}\n$ {section.command}", flush=True)
    started = time.perf_counter()
    try:
        result = subprocess.run(  # noqa: S603 # nosec B603 # our own script, our own arguments
            [sys.executable, str(script), *section.arguments],
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        section.seconds = time.perf_counter() - started
        section.status = f"failed: over {timeout} s"
        section.output = _text(exc.stdout)
        return
    section.seconds = time.perf_counter() - started
    section.output = ANSI.sub("", result.stdout).strip()
    # Progress bars draw on stderr; keep its last lines only when they explain a failure.
    section.errors = "\n".join(ANSI.sub("", result.stderr).strip().splitlines()[-20:])
    section.status = "ok" if result.returncode == 0 else f"failed: exit {result.returncode}"
    print(section.output, flush=True)
    if result.returncode:
        print(section.errors, file=sys.stderr, flush=True)


def _text(value) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def machine_description(options: argparse.Namespace) -> list[tuple[str, str]]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    memory = next(
        (
            f"{int(line.split()[1]) / 2**20:.1f} GiB"
            for line in _read("/proc/meminfo").splitlines()
            if line.startswith("MemTotal:")
        ),
        "unknown",
    )
    load = " ".join(_read("/proc/loadavg").split()[:3]) or "unknown"
    return [
        ("Date", dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("Commit", _git("rev-parse", "--short", "HEAD")),
        ("CPU", f"{cpu}, {os.cpu_count()} cores"),
        ("Memory", memory),
        ("Load average at start (1, 5, 15 min)", load),
        ("OS", f"{platform.system()} {platform.release()} ({platform.machine()})"),
        ("Python", platform.python_version()),
        ("PostgreSQL", _postgres_version(options.database_prefix)),
        ("Redis", _redis_version(options.broker_url)),
    ]


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _git(*arguments: str) -> str:
    result = subprocess.run(  # noqa: S603 # nosec B603 B607 # git, fixed arguments
        ["git", *arguments],  # noqa: S607
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or "unknown"


def _postgres_version(prefix: str) -> str:
    import psycopg

    url = prefix.rsplit("/", 1)[0] + "/postgres"
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            return conn.execute("SELECT version()").fetchone()[0].split(" on ")[0]
    except psycopg.Error as exc:
        return f"unreachable ({exc.__class__.__name__})"


def _redis_version(url: str) -> str:
    import redis

    try:
        return (
            "Redis "
            + redis.Redis.from_url(url, socket_connect_timeout=5).info("server")["redis_version"]
        )
    except redis.RedisError as exc:
        return f"unreachable ({exc.__class__.__name__})"


KEPT_START, KEPT_END = "<!-- kept: hand-written, kept across runs -->", "<!-- /kept -->"


def kept_block(previous: str) -> str:
    """The hand-written block of the previous report (what the figures mean, the targets
    met and missed), which a new run keeps in place after the summary."""
    start, end = previous.find(KEPT_START), previous.find(KEPT_END)
    return previous[start : end + len(KEPT_END)] if 0 <= start < end else ""


def report(
    options, sections: list[Section], machine, total: float, command: str, kept: str = ""
) -> str:
    lines = [
        "# Benchmarks",
        "",
        "Every figure below comes from one run of one command, on the machine described, "
        "each benchmark on a database of its own, one after the other. Regenerate with:",
        "",
        "```",
        command,
        "```",
        "",
        f"Sizes: {options.customers:,} customers seeded, {options.instalments:,} instalments due "
        f"at month-end, {options.mandates:,} mandates reconciled"
        + (
            "."
            if min(options.customers, options.instalments, options.mandates) >= 1_000_000
            else " (some smaller than the 1,000,000 the targets name: see each section)."
        ),
        "",
        "## The machine",
        "",
        "| | |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in machine),
        "",
        "The machine is shared: figures measured while others work on it are lower than "
        "the machine can give (see the load average above).",
        "",
        "## Summary",
        "",
        "| Section | Status | Wall time |",
        "|---|---|---|",
        *(
            f"| [{s.title}](#{_anchor(s.title)}) | {s.status} | {s.seconds:.0f} s |"
            for s in sections
        ),
        "",
        f"Total: {total / 60:.1f} minutes.",
        "",
        *([kept, ""] if kept else []),
    ]
    for section in sections:
        lines += [f"## {section.title}", "", section.what, ""]
        if section.status.startswith("skipped"):
            lines += [f"Skipped: `bench/{section.script}` is not in this checkout.", ""]
            continue
        lines += ["Reproduce this section alone:", "", "```", section.command, "```", ""]
        if section.dropped:
            lines += [
                f"(Not passed, the script does not take them: `{shlex.join(section.dropped)}`.)",
                "",
            ]
        lines += ["```", section.output or "(no output)", "```", ""]
        if section.status != "ok":
            lines += [f"**{section.status}.** End of its error output:", "", "```"]
            lines += [section.errors or "(none)", "```", ""]
    return "\n".join(lines)


def _anchor(title: str) -> str:
    return re.sub(r"[^a-z0-9 -]", "", title.lower()).replace(" ", "-")


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    sections = sections_for(options)
    if options.only:
        wanted = set(options.only.split(","))
        unknown = wanted - {s.key for s in sections}
        if unknown:
            print(f"run_all: unknown section(s): {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        sections = [s for s in sections if s.key in wanted]
    command = shlex.join([PYTHON, "bench/run_all.py", *(argv or sys.argv[1:])])
    machine = machine_description(options)
    started = time.perf_counter()
    for section in sections:
        run_section(section, options.timeout)
    total = time.perf_counter() - started
    output = PROJECT_DIR / options.output
    kept = kept_block(output.read_text()) if output.exists() else ""
    output.write_text(report(options, sections, machine, total, command, kept) + "\n")
    print(f"\nwrote {options.output} ({total / 60:.1f} minutes)")
    for section in sections:
        print(f"  {section.title:<36} {section.status:<40} {section.seconds:>7.0f} s")
    print(f"reproduce: {command}")
    return 1 if any(s.status.startswith("failed") for s in sections) else 0


if __name__ == "__main__":
    sys.exit(main())
