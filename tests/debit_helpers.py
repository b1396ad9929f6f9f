"""Helpers for the debit engine's tests: instalments whose mandate the network knows."""

import datetime as dt

import pytest
from django.utils import timezone

from debits.gateways import get_gateway
from debits.models import Mandate
from tests.factories import InstalmentFactory, MandateFactory


def bind_at_network(mandate: Mandate) -> Mandate:
    """Give the mandate the agreement the simulated network holds for its card's version."""
    binding = get_gateway().bind_agreement(
        mandate_reference=mandate.reference,
        card_reference=mandate.card.network_reference,
        account_fingerprint=mandate.settlement_account_fingerprint,
        credential_version=mandate.card.credential_version,
    )
    Mandate.objects.filter(pk=mandate.pk).update(
        gateway_agreement_token=binding.agreement_token,
        synced_credential_version=binding.credential_version,
    )
    mandate.refresh_from_db()
    return mandate


def due_instalment(*, due_date: dt.date | None = None, mandate_kwargs=None, **kwargs):
    """An instalment due (today by default) under an active mandate bound at the network."""
    instalment = InstalmentFactory(due_date=due_date or timezone.localdate(), **kwargs)
    mandate = MandateFactory(loan=instalment.loan, **(mandate_kwargs or {}))
    bind_at_network(mandate)
    return instalment, mandate


@pytest.fixture
def eager_celery():
    """Run tasks in-process where they are sent (chunk tasks enqueued on commit)."""
    from backoffice.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous
