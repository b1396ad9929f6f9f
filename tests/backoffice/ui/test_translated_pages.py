"""Every staff page, rendered in each language, with nothing left in English.

The catalogues are compiled here (``compilemessages``), then each page of the
access-matrix walk is opened as a superuser working in Chinese and in English.
On a Chinese page every visible text (and every placeholder, label, title and
button) is read back: an English word, or a raw code that has a label, is an
untranslated string and fails the test with the page and the text.

What may stay Latin on a Chinese page: the world's data is made Chinese or
carries digits (usernames, references), and ``LATIN_ALLOWED`` names the few
terms that are the same in both languages. The Django admin is rendered but not
read: its model and field names are not part of the workspace's catalogue.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.template import Context, Template
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts.models import Card, StaffUser
from accounts.staff_access_models import StaffChangeRequest
from backoffice.complaints.models import Complaint
from backoffice.ui.labels import LABELS
from debits.models import Alert, CollectionPause
from tests.backoffice.test_access_matrix import (  # noqa: F401  # ``world`` is a fixture
    MATRIX,
    all_url_patterns,
    row_for,
    world,
)
from tests.conftest import sign_in_verified
from tests.factories import StaffUserFactory

PO_FILE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
MO_FILE = PO_FILE.with_suffix(".mo")
# Where the product's translatable strings are: the apps and the templates.
SOURCE_DIRECTORIES = ("accounts", "backoffice", "debits", "demo", "simulator", "templates")

# Latin text that is the same on a Chinese page: abbreviations Chinese staff
# write in Latin letters, and the language switch's "English" (a language is
# offered in its own name).
LATIN_ALLOWED = frozenset({"ATM", "CSV", "English", "ID", "QR", "SMS", "TOTP", "ms", "5xx"})


_WORD = re.compile(r"[A-Za-z0-9_.@'’:/#?=&%-]+")
_ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}(?:['’-][A-Za-z]+)*")
_KNOWN_CODES = frozenset(code for labels in LABELS.values() for code in labels)
_READ_ATTRIBUTES = ("placeholder", "title", "aria-label", "alt")


class _VisibleText(HTMLParser):
    """The text a person sees or hears on a page, attribute texts included."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        attributes = dict(attrs)
        for name in _READ_ATTRIBUTES:
            if attributes.get(name):
                self.texts.append(attributes[name])
        if tag == "input" and attributes.get("type") in ("submit", "button", "reset"):
            self.texts.append(attributes.get("value") or "")

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.texts.append(data.strip())


def untranslated_text(html: str) -> list[str]:
    """The texts of a Chinese page that hold an English word or a raw code."""
    parser = _VisibleText()
    parser.feed(html)
    found = []
    for text in parser.texts:
        for token in _WORD.findall(text):
            word = token.strip(".:'’,#?")
            if word in _KNOWN_CODES and ("_" in word or "." in word):
                found.append(text)
                break
            if word in LATIN_ALLOWED or any(ch.isdigit() for ch in word) or "_" in word:
                continue
            if _ENGLISH_WORD.fullmatch(word):
                found.append(text)
                break
    return found


def _compile_catalogues() -> None:
    if not shutil.which("msgfmt"):
        pytest.fail("GNU gettext's msgfmt is needed to compile the catalogues (scripts/setup)")
    call_command("compilemessages", ignore_patterns=[".venv", "var", "node_modules"], verbosity=0)


# --- The catalogue -----------------------------------------------------------------


def test_the_chinese_catalogue_compiles_and_translates_every_message():
    _compile_catalogues()
    assert MO_FILE.exists() and MO_FILE.stat().st_mtime >= PO_FILE.stat().st_mtime
    checked = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", "/dev/null", str(PO_FILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert "untranslated" not in checked.stderr and "fuzzy" not in checked.stderr, checked.stderr
    with translation.override("zh-hans"):
        assert translation.gettext("Debit runs") == "扣款批次"


def test_every_string_marked_for_translation_is_in_the_chinese_catalogue(
    tmp_path, settings, monkeypatch
):
    """makemessages over the code finds no message the committed catalogue lacks.

    It runs from a scratch directory that links to the sources, so it writes only
    the scratch copy of the catalogue, never the committed one."""
    scratch = tmp_path / "locale" / "zh_Hans" / "LC_MESSAGES"
    scratch.mkdir(parents=True)
    shutil.copy(PO_FILE, scratch / "django.po")
    sources = tmp_path / "sources"
    sources.mkdir()
    for name in SOURCE_DIRECTORIES:
        (sources / name).symlink_to(Path(settings.BASE_DIR) / name)
    settings.LOCALE_PATHS = [tmp_path / "locale"]
    monkeypatch.chdir(sources)
    call_command("makemessages", locale=["zh_Hans"], symlinks=True, no_obsolete=True, verbosity=0)
    extracted = subprocess.run(
        ["msgattrib", "--untranslated", "--no-location", str(scratch / "django.po")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    missing = re.findall(r'^msgid "(.+)"$', extracted, flags=re.M)
    assert not missing, "marked but not translated in locale/zh_Hans:\n" + "\n".join(missing)


# --- The check itself ---------------------------------------------------------------


def test_the_check_finds_an_english_string_left_on_a_chinese_page():
    _compile_catalogues()
    page = Template(
        "<h1>{% translate 'Debit runs' %}</h1><p>Page left in English</p>"
        "<input placeholder='Type here'><td>insufficient_funds</td>"
        "<td>批次 #12 · LN0000000042 · ATM · staff12</td>"
    )
    with translation.override("zh-hans"):
        html = page.render(Context({}))
    assert untranslated_text(html) == ["Page left in English", "Type here", "insufficient_funds"]


# --- Every page in each language ----------------------------------------------------


def _chinese_world() -> None:
    """The world's visible free text in Chinese, so English left on a page is the UI's."""
    StaffUser.objects.update(first_name="芳", last_name="王")
    Card.objects.update(product_name="车贷卡")
    CollectionPause.objects.update(reason="系统维护")
    # The world's alerts are raised with test wording; a detector's own wording is
    # translated (tests/debits/test_alerts.py).
    Alert.objects.update(
        message="代扣协议长时间未同步", message_template="", message_params={}, dedup_key="对账-1"
    )
    StaffChangeRequest.objects.update(reason="代理组长工作")
    Complaint.objects.update(description="自动还款失败，还被收了滞纳金。")


def _pages(the_world):
    for pattern in all_url_patterns():
        if pattern.name is None:
            continue
        row = row_for(pattern.name)
        if row is None or (row.public and pattern.name != "customers:password_reset_form"):
            continue
        kwargs = row.kwargs(the_world) if row.kwargs else {}
        if kwargs is None:
            continue
        url = reverse(pattern.name, kwargs=kwargs)
        yield pattern.name, row, f"{url}?{row.query}" if row.query else url


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_every_staff_page_renders_in_each_language_with_no_untranslated_string(
    language,
    world,  # noqa: F811
):
    _compile_catalogues()
    staff = StaffUserFactory(is_superuser=True, language=language, first_name="芳", last_name="王")
    _chinese_world()
    client = sign_in_verified(Client(), staff)
    problems = []
    rendered = 0
    for name, row, url in _pages(world):
        if row.method == "post":
            response = sign_in_verified(Client(), staff).post(url)
        else:
            response = client.get(url)
        if response.status_code >= 500:
            problems.append(f"{name} {url}: HTTP {response.status_code}")
            continue
        if response.status_code != 200 or "text/html" not in response["Content-Type"]:
            continue  # a redirect, a download, or a page even a superuser may not open
        rendered += 1
        html = response.content.decode()
        expected_lang = 'lang="zh-hans"' if language == "zh-hans" else 'lang="en"'
        if not name.startswith("admin:") and expected_lang not in html:
            problems.append(f"{name} {url}: not rendered in {language}")
        if language == "zh-hans" and not name.startswith("admin:"):
            for text in untranslated_text(html):
                problems.append(f"{name} {url}: untranslated {text!r}")
    assert rendered > 20
    assert not problems, "\n".join(problems)


def test_the_public_pages_follow_a_chinese_browser():
    _compile_catalogues()
    browser = Client(HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9,en;q=0.5")
    for url in ("/login/", "/reset/"):
        html = browser.get(url).content.decode()
        assert 'lang="zh-hans"' in html, url
        assert not untranslated_text(html), (url, untranslated_text(html))
