"""The set-based hot path: a chunk costs the same few statements whatever its size, the
claim's own statement refuses an agreement a password change made stale while the
chunk was being claimed, and a run collects its first chunks before its selection
has read the whole book."""

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Card
from debits.models import DebitAttempt, DebitRun, DebitRunChunk, Instalment, SkippedInstalment
from debits.services import collect_debit_chunk, run_debit_job
from debits.services.chunks import claim_chunk
from debits.services.eligibility import SkipReason
from simulator.models import SimulatedCollection
from tests.debit_helpers import due_instalment, eager_celery  # noqa: F401 # fixture
from tests.race import race

pytestmark = pytest.mark.usefixtures("collect_path")


def _statements_for_a_chunk(size: int) -> int:
    ids = [due_instalment()[0].pk for _ in range(size)]
    run = DebitRun.objects.create(run_date=timezone.localdate(), kind=DebitRun.Kind.MANUAL)
    with CaptureQueriesContext(connection) as queries:
        summary = collect_debit_chunk(run_id=run.pk, instalment_ids=ids)
    assert summary.outcomes == {"succeeded": size}
    assert Instalment.objects.filter(pk__in=ids, state=Instalment.State.PAID).count() == size
    return len(queries)


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_chunk_costs_the_same_statements_whatever_its_size_on_the_batch_path(collect_path):
    small, large = _statements_for_a_chunk(5), _statements_for_a_chunk(60)
    if collect_path == "batch":
        # Engine and simulator together; no statement per instalment anywhere.
        assert small == large <= 25
    else:
        # One call per instalment: the simulator's two statements each, nothing more.
        assert large - small == 2 * 55


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_password_change_committed_while_a_chunk_is_claimed_is_refused_by_the_claim():
    instalment, mandate = due_instalment()
    run = DebitRun.objects.create(run_date=timezone.localdate(), kind=DebitRun.Kind.MANUAL)

    def claim():
        return claim_chunk(run=run, instalment_ids=[instalment.pk])

    def change_password():
        # The rules already read the card at v1; the bank's row moves on before the insert.
        Card.objects.filter(pk=mandate.card_id).update(
            credential_version=F("credential_version") + 1
        )

    claimed, changed = race(
        claim, change_password, at="debits.services.chunks._insert_claimed_attempts_pg"
    )
    assert changed.won and claimed.won
    claims, skipped = claimed.value
    assert claims == [] and skipped == 1
    assert not DebitAttempt.objects.filter(instalment=instalment).exists()
    skip = SkippedInstalment.objects.get(run=run, instalment=instalment)
    assert skip.reason == SkipReason.MANDATE_OUT_OF_SYNC
    assert not SimulatedCollection.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("eager_celery")
def test_a_run_collects_its_first_chunks_before_its_selection_has_read_the_whole_book(
    monkeypatch,
):
    monkeypatch.setattr("debits.services.runs.SELECTION_BATCH", 3)
    monkeypatch.setattr("debits.services.runs.CHUNK_SIZE", 2)
    ids = [due_instalment()[0].pk for _ in range(7)]
    # Chunk tasks run in this process as each page commits (eager, no test transaction).
    run = run_debit_job(on_date=timezone.localdate(), kind=DebitRun.Kind.MANUAL)
    run.refresh_from_db()
    chunks = list(DebitRunChunk.objects.filter(run=run).order_by("number"))
    assert [len(c.instalment_ids) for c in chunks] == [2, 2, 2, 1]
    assert sorted(i for c in chunks for i in c.instalment_ids) == sorted(ids)
    assert chunks[0].finished_at < run.selection_finished_at
    assert run.state == DebitRun.State.COMPLETED and run.chunks_done == run.chunks_total == 4
    assert run.selected_count == run.succeeded_count == 7
