"""Our mandates against the network's own agreements: the full pass on crafted books."""

import pytest

from debits.models import Alert, Mandate, MandateSync, ReconciliationPass
from debits.services import reconcile_agreements
from debits.services.agreement_reconciliation import chunk_bounds
from simulator.faults import script_fault
from simulator.ledger import revoke_agreement
from simulator.models import SimulatedAgreement
from tests.debit_helpers import bind_at_network
from tests.factories import MandateFactory

pytestmark = pytest.mark.django_db


def bound_mandates(count: int) -> list[Mandate]:
    return [bind_at_network(MandateFactory()) for _ in range(count)]


def last_pass() -> ReconciliationPass:
    return ReconciliationPass.objects.order_by("-pk").first()


def test_a_book_that_matches_the_network_passes_clean():
    bound_mandates(3)
    report = reconcile_agreements()
    run = last_pass()
    assert report.found == 0
    assert (run.checked, run.mismatched, run.chunks_done) == (3, 0, run.chunks_total)
    assert run.finished_at is not None
    assert not MandateSync.objects.exists() and not Alert.objects.exists()


def test_an_agreement_the_network_lost_is_bound_again():
    lost, kept = bound_mandates(2)
    SimulatedAgreement.objects.filter(mandate_reference=lost.reference).delete()
    report = reconcile_agreements()
    assert (report.found, report.repaired) == (1, 1)
    sync = MandateSync.objects.get()
    assert sync.mandate == lost and sync.trigger == MandateSync.Trigger.RECONCILIATION
    assert SimulatedAgreement.objects.filter(mandate_reference=lost.reference).exists()
    lost.refresh_from_db()
    network = SimulatedAgreement.objects.get(mandate_reference=lost.reference)
    assert lost.gateway_agreement_token == network.token


def test_a_token_or_version_that_differs_from_the_network_is_repaired():
    token_differs, version_differs = bound_mandates(2)
    Mandate.objects.filter(pk=token_differs.pk).update(gateway_agreement_token="agr-ours-only")
    Mandate.objects.filter(pk=version_differs.pk).update(synced_credential_version=0)
    report = reconcile_agreements()
    assert (report.found, report.repaired) == (2, 2)
    for mandate in (token_differs, version_differs):
        mandate.refresh_from_db()
        network = SimulatedAgreement.objects.get(mandate_reference=mandate.reference)
        assert mandate.gateway_agreement_token == network.token
        assert mandate.synced_credential_version == network.credential_version


def test_a_revoked_agreement_raises_one_alert_and_is_not_re_bound_behind_the_customer():
    (mandate,) = bound_mandates(1)
    revoke_agreement(mandate_reference=mandate.reference)
    reconcile_agreements()
    reconcile_agreements()
    alert = Alert.objects.get(resolved_at__isnull=True)
    assert alert.mandate == mandate and alert.occurrences == 2
    assert alert.severity == Alert.Severity.CRITICAL
    assert not MandateSync.objects.exists()
    SimulatedAgreement.objects.filter(mandate_reference=mandate.reference).update(revoked=False)
    reconcile_agreements()
    alert.refresh_from_db()
    assert alert.resolved_at is not None


def test_a_mismatch_the_network_will_not_repair_raises_the_book_alert_until_a_pass_is_clean():
    (mandate,) = bound_mandates(1)
    SimulatedAgreement.objects.filter(mandate_reference=mandate.reference).delete()
    script_fault(mandate_reference=mandate.reference, outcome="bind_unavailable", times=1)
    reconcile_agreements()
    alert = Alert.objects.get(dedup_key="agreement_mismatch:book", resolved_at__isnull=True)
    assert "1 of 1" in alert.message
    assert last_pass().unrepaired == 1
    reconcile_agreements()  # the binding works again
    alert.refresh_from_db()
    assert alert.resolved_at is not None and last_pass().repaired == 1


def test_chunks_cover_every_active_mandate_exactly_once():
    mandates = bound_mandates(7)
    Mandate.objects.filter(pk=mandates[3].pk).update(state=Mandate.State.SUSPENDED)
    bounds = chunk_bounds(chunk_size=3)
    covered = [
        pk
        for after, last in bounds
        for pk in Mandate.objects.filter(
            state=Mandate.State.ACTIVE, pk__gt=after, pk__lte=last
        ).values_list("pk", flat=True)
    ]
    active = sorted(m.pk for m in mandates if m.pk != mandates[3].pk)
    assert covered == active and len(bounds) == 2


def test_fanned_out_chunks_finish_the_pass(django_capture_on_commit_callbacks):
    from backoffice.celery import app

    bound_mandates(4)
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            reconcile_agreements(fan_out=True)
    finally:
        app.conf.task_always_eager = False
    run = last_pass()
    assert run.finished_at is not None and run.checked == 4


def test_a_dry_run_counts_mismatches_and_repairs_nothing():
    (mandate,) = bound_mandates(1)
    SimulatedAgreement.objects.filter(mandate_reference=mandate.reference).delete()
    report = reconcile_agreements(dry_run=True)
    assert report.found == 1 and report.repaired == 0
    assert not MandateSync.objects.exists() and not Alert.objects.exists()
