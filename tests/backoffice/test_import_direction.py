"""Imports run one way: workspace -> debits -> accounts; gateways import no domain
model; the domain never imports the demo or the simulator.

The contracts are in pyproject.toml ([tool.importlinter]); CI runs ``lint-imports``
too. This test makes a broken contract fail the suite as well, with the offending
import chain in its output.
"""

from pathlib import Path

from importlinter.cli import EXIT_STATUS_SUCCESS, lint_imports

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_imports_run_from_the_workspace_to_debits_to_accounts_never_back(monkeypatch, capsys):
    monkeypatch.chdir(PROJECT_ROOT)
    status = lint_imports(
        config_filename=str(PROJECT_ROOT / "pyproject.toml"), no_cache=True, no_logo=True
    )
    assert status == EXIT_STATUS_SUCCESS, capsys.readouterr().out
