"""The process definitions (Procfile, compose.yaml, systemd) start real modules on real queues."""

import re
import runpy
import shlex
from importlib import import_module
from pathlib import Path

import pytest
import yaml
from celery.utils.imports import symbol_by_name
from django.conf import settings
from django.core.management import get_commands

from backoffice.beat import SingleBeatScheduler
from tests.conftest import PROJECT_DIR

SYSTEMD = PROJECT_DIR / "deploy" / "systemd"


def procfile() -> dict[str, str]:
    entries = {}
    for line in (PROJECT_DIR / "Procfile").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, command = line.split(":", 1)
            assert name not in entries, f"process type {name} defined twice"
            entries[name.strip()] = command.strip()
    return entries


def compose_commands() -> dict[str, list[str]]:
    services = yaml.safe_load((PROJECT_DIR / "compose.yaml").read_text())["services"]
    return {name: service["command"] for name, service in services.items() if "command" in service}


def systemd_commands() -> dict[str, list[str]]:
    commands = {}
    for unit in sorted(SYSTEMD.glob("*.service")):
        (line,) = [x for x in unit.read_text().splitlines() if x.startswith("ExecStart=")]
        commands[unit.stem] = shlex.split(line.removeprefix("ExecStart="))
    return commands


def program(argv: list[str]) -> str:
    return Path(argv[0]).name


def worker_queues(argv: list[str]) -> list[str]:
    assert argv[argv.index("-A") + 1] == "backoffice"
    return argv[argv.index("-Q") + 1].split(",")


def every_queue_with_work() -> set[str]:
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    return routed | {settings.CELERY_TASK_DEFAULT_QUEUE}


def all_definitions() -> dict[str, dict[str, list[str]]]:
    return {
        "Procfile": {
            name: shlex.split(command) for name, command in procfile().items() if name != "release"
        },
        "compose.yaml": {
            name: argv for name, argv in compose_commands().items() if name != "release"
        },
        "systemd": systemd_commands(),
    }


@pytest.mark.parametrize("source", ["Procfile", "compose.yaml", "systemd"])
def test_each_queue_has_its_own_worker_pool_and_exactly_one_beat(source):
    commands = all_definitions()[source]
    pools = [argv for argv in commands.values() if program(argv) == "celery" and "worker" in argv]
    beats = [argv for argv in commands.values() if program(argv) == "celery" and "beat" in argv]
    assert len(beats) == 1
    assert "-A" in beats[0] and beats[0][beats[0].index("-A") + 1] == "backoffice"
    queues = [worker_queues(argv) for argv in pools]
    # One queue per pool, so month-end debits never sit in front of a re-sync.
    assert all(len(q) == 1 for q in queues), queues
    assert sorted(q[0] for q in queues) == sorted(every_queue_with_work())
    # Debit chunks are long: a process takes one at a time.
    (debits,) = [argv for argv, q in zip(pools, queues, strict=True) if q == ["debits"]]
    assert debits[debits.index("--prefetch-multiplier") + 1] == "1"
    # Each pool a name of its own, so two pools on one machine do not clash.
    names = [argv[argv.index("-n") + 1].split("@")[0] for argv in pools]
    assert sorted(names) == sorted(q[0] for q in queues)


@pytest.mark.parametrize("source", ["Procfile", "compose.yaml", "systemd"])
def test_the_web_process_is_gunicorn_with_the_projects_config_and_a_real_wsgi_app(source):
    (web,) = [argv for argv in all_definitions()[source].values() if program(argv) == "gunicorn"]
    config = PROJECT_DIR / web[web.index("-c") + 1]
    assert config == PROJECT_DIR / "backoffice" / "gunicorn.conf.py"
    module, attribute = runpy.run_path(str(config))["wsgi_app"].split(":")
    assert callable(getattr(import_module(module), attribute))


def test_the_celery_app_and_the_beat_scheduler_are_the_ones_the_commands_name():
    assert import_module("backoffice.celery").app.main == "backoffice"
    assert symbol_by_name(settings.CELERY_BEAT_SCHEDULER) is SingleBeatScheduler


def test_the_release_step_runs_management_commands_that_exist():
    commands = get_commands()
    for source, release in [
        ("Procfile", procfile()["release"]),
        ("compose.yaml", compose_commands()["release"][-1]),
        ("systemd", (SYSTEMD / "backoffice-release.sh").read_text()),
    ]:
        used = re.findall(r"manage\.py (\w+)", release)
        assert {"migrate", "collectstatic"} <= set(used), source
        assert set(used) <= set(commands), source


def test_the_systemd_target_starts_every_unit_there_is():
    target = (SYSTEMD / "backoffice.target").read_text()
    (wants,) = [line for line in target.splitlines() if line.startswith("Wants=")]
    assert sorted(wants.removeprefix("Wants=").split()) == sorted(
        unit.name for unit in SYSTEMD.glob("*.service")
    )
