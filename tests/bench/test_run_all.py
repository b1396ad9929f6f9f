"""The benchmark suite's one command: each section calls its script with options it takes."""

import sys

import pytest

from tests.conftest import PROJECT_DIR

sys.path.insert(0, str(PROJECT_DIR / "bench"))
import run_all  # noqa: E402 # the bench scripts run with bench/ on sys.path


def test_options_a_script_does_not_take_are_left_out_with_their_values():
    kept, dropped = run_all.keep_accepted(
        ["--customers", "10", "--fresh", "--paths", "batch", "--broker-url", "redis://x/8"],
        {"--customers", "--broker-url", "--fresh"},
    )
    assert kept == ["--customers", "10", "--fresh", "--broker-url", "redis://x/8"]
    assert dropped == ["--paths", "batch"]


def test_every_section_is_known_by_its_key_and_runs_on_a_database_of_its_own():
    options = run_all.parse_options(["--customers", "100", "--instalments", "50"])
    sections = run_all.sections_for(options)
    assert tuple(s.key for s in sections) == run_all.SECTION_KEYS
    urls = [s.arguments[s.arguments.index("--database-url") + 1] for s in sections]
    assert len(set(urls)) == len(urls)
    assert all(url.startswith(run_all.DEFAULT_PREFIX + "_") for url in urls)
    assert options.mandates == 100 and options.latency_instalments == 50


@pytest.mark.parametrize(
    "script", ["seed_book.py", "resync_during_run.py", "staff_pages.py", "debit_throughput.py"]
)
def test_the_suites_own_scripts_take_every_option_it_passes(script):
    (section,) = [s for s in run_all.sections_for(run_all.parse_options([])) if s.script == script]
    _, dropped = run_all.keep_accepted(
        section.arguments, run_all.accepted_options(PROJECT_DIR / "bench" / script)
    )
    assert dropped == []


def test_the_page_names_the_sizes_the_machine_and_each_sections_command():
    options = run_all.parse_options(["--customers", "2000"])
    sections = run_all.sections_for(options)
    sections[0].status, sections[0].output = "ok", "seed_book: 2,000 customers"
    sections[3].status = "skipped: script not in this checkout"
    page = run_all.report(
        options, sections, [("CPU", "test CPU, 2 cores")], 12.0, "python bench/run_all.py"
    )
    assert "some smaller than the 1,000,000 the targets name" in page
    assert "| CPU | test CPU, 2 cores |" in page
    assert sections[0].command in page and "seed_book: 2,000 customers" in page
    assert "Skipped: `bench/staff_pages.py` is not in this checkout." in page


def test_a_new_run_keeps_the_hand_written_block_of_the_last_page_after_its_summary():
    options = run_all.parse_options(["--customers", "2000"])
    sections = run_all.sections_for(options)
    block = f"{run_all.KEPT_START}\n## Targets\n\nMissed by 3x.\n{run_all.KEPT_END}"
    previous = f"# Benchmarks\n\nold figures\n\n{block}\n\n## Old section\n"

    kept = run_all.kept_block(previous)
    page = run_all.report(options, sections, [], 1.0, "python bench/run_all.py", kept)

    assert kept == block
    assert page.index("## Summary") < page.index("Missed by 3x.") < page.index("## Seeding")
    assert "old figures" not in page and run_all.kept_block("no block here") == ""
