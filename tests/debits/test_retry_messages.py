"""A skip reason inside a "not retried" message reads as part of the sentence, in both
languages (a label is a heading: capitalised and terse)."""

import re

import pytest
from django.utils import translation

from debits.labels import SKIP_REASON_IN_SENTENCE, SKIP_REASON_LABELS
from debits.selectors import NotRetried, not_retried_messages
from debits.services.eligibility import SkipReason

REASONS = [reason.value for reason in SkipReason]


def _message(reason: str, detail: str = "") -> str:
    [line] = not_retried_messages(
        [
            NotRetried(
                attempt_id=7, reason=reason, label=str(SKIP_REASON_LABELS[reason]), detail=detail
            )
        ]
    )
    return line


def test_every_skip_reason_has_a_form_that_reads_inside_a_sentence():
    assert set(REASONS) <= set(SKIP_REASON_IN_SENTENCE)


@pytest.mark.parametrize("reason", REASONS)
def test_a_not_retried_message_carries_no_capital_in_mid_sentence(reason):
    line = _message(reason)

    assert line.startswith("Not retried because ")
    embedded = line.removeprefix("Not retried because ").split(": attempt")[0]
    assert embedded[0].islower(), line
    assert embedded == str(SKIP_REASON_IN_SENTENCE[reason])
    assert line.endswith(": attempt #7.")


def test_the_detail_follows_the_reason_in_brackets():
    line = _message("collection_paused_card", detail="Fraud review")
    assert (
        line == "Not retried because collection is paused for the card (Fraud review): attempt #7."
    )


@pytest.mark.parametrize("reason", REASONS)
def test_in_chinese_the_whole_message_is_chinese(reason):
    with translation.override("zh-hans"):
        line = _message(reason)
    assert line.startswith("未重试，原因是")
    assert not re.search(r"[A-Za-z]", line.replace("#7", "")), line
