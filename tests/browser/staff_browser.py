"""What the browser walk needs around Playwright: Debian's Chromium, staff sign-in with the
second factor, axe-core on each page, keyboard focus and screenshots."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.db import connections

from tests.conftest import PROJECT_DIR, service_unavailable

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# axe-core from npm (package-lock.json, installed by scripts/setup): injected into
# each page from this file, never fetched from a CDN.
AXE = PROJECT_DIR / "node_modules" / "axe-core" / "axe.min.js"
# What the walk saves: every step, in both languages (git-ignored).
SCREENSHOTS = PROJECT_DIR / "var" / "screenshots"
# The README's two, replaced only with UPDATE_SCREENSHOTS=1.
DOCS_SCREENSHOTS = PROJECT_DIR / "docs" / "screenshots"
# Violations that block the walk; moderate and minor ones are reported by axe only.
BLOCKING_IMPACTS = {"serious", "critical"}
CJK = re.compile(r"[\u4e00-\u9fff]")


@contextmanager
def launched_chromium(chromium_path: str) -> Iterator:
    """Debian's Chromium under Playwright's sync API (never Playwright's own browser
    download), closed afterwards with the database connections opened meanwhile.

    That API keeps an event loop in this thread, where the test also reads the
    database; nothing runs concurrently with the loop, so Django's async guard is
    lifted for the block. Inside it a test's queries run on a connection of their
    own (another context): left open, it would keep the test database in use.
    """
    from playwright.sync_api import sync_playwright

    os.environ.setdefault("PLAYWRIGHT_BROWSERS_PATH", "0")
    guard = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
            try:
                yield browser
            finally:
                browser.close()
                connections.close_all()
    finally:
        if guard is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = guard


def require_axe() -> Path:
    if not AXE.exists():
        service_unavailable(f"axe-core at {AXE.relative_to(PROJECT_DIR)} (run scripts/setup)")
    return AXE


def totp_code(device) -> str:
    """The code the staff member's authenticator app shows now, from the device's key."""
    from django_otp.oath import totp

    code = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{code:0{device.digits}d}"


@dataclass
class PageChecks:
    """Runs axe-core on each page the walk visits and keeps what it found."""

    language: str
    violations: list[str] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def check(self, page, name: str) -> None:
        started = time.monotonic()
        page.add_script_tag(path=str(AXE))
        result = page.evaluate(
            """async () => {
                const r = await axe.run(document, {resultTypes: ["violations"]});
                return r.violations.map(v => ({
                    id: v.id, impact: v.impact, help: v.help,
                    targets: v.nodes.slice(0, 3).map(n => n.target.join(" ")),
                }));
            }"""
        )
        self.pages.append(name)
        self.seconds += time.monotonic() - started
        for violation in result:
            if violation["impact"] in BLOCKING_IMPACTS:
                self.violations.append(
                    f"{self.language} {name}: {violation['id']} ({violation['impact']}) "
                    f"{violation['help']} at {violation['targets']}"
                )
        if self.language == "zh-hans":
            assert page.locator("html").get_attribute("lang") == "zh-hans", name
            assert CJK.search(page.locator("body").inner_text()), f"{name} shows no Chinese"
        else:
            assert page.locator("html").get_attribute("lang") == "en", name


def screenshot(page, name: str, *, docs_name: str | None = None) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if docs_name and os.environ.get("UPDATE_SCREENSHOTS") == "1":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS_SCREENSHOTS / docs_name), full_page=True)
    return path


def sign_in(page, base_url: str, user, password: str, device) -> None:
    page.goto(f"{base_url}/")
    page.wait_for_url("**/login/**")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", password)
    page.click("form.stacked button[type=submit]")
    page.wait_for_url("**/login/verify/**")
    page.fill("input[name=otp_token]", totp_code(device))
    page.click("form.stacked button[type=submit]")
    page.wait_for_url(f"{base_url}/")


def tab_until(page, selector: str, *, presses: int = 60) -> int:
    """Press Tab until the element matching ``selector`` has the focus; how many presses."""
    target = page.locator(selector).first
    for count in range(1, presses + 1):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return count
    pytest.fail(f"Tab never reached {selector} in {presses} presses")
