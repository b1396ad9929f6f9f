"""The demo app sits outside the domain: accounts and debits never import it."""

import ast

import pytest

from tests.conftest import PROJECT_DIR

DOMAIN_APPS = ("accounts", "debits")


def _imported_modules(path):
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module


@pytest.mark.parametrize("app", DOMAIN_APPS)
def test_the_domain_never_imports_the_demo(app):
    offenders = [
        f"{path.relative_to(PROJECT_DIR)}: {module}"
        for path in sorted((PROJECT_DIR / app).rglob("*.py"))
        for module in _imported_modules(path)
        if module == "demo" or module.startswith("demo.")
    ]
    assert offenders == []
