"""Moving the simulator's books out of ``debits`` keeps an existing database's rows.

(A fresh database is the other path: the test database itself is built by
running every migration from nothing.)
"""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE_THE_MOVE = [
    ("debits", "0006_instalment_due_check_rounded_to_the_cent"),
    ("simulator", None),
]
MOVED = ("simulatedagreement", "simulatedcollection", "simulatedfault", "simulatedpresentation")


def _migrate(targets):
    """Migrate to the targets; returns the models as they stand there."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state([t for t in targets if t[1] is not None]).apps


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_database_from_before_the_move_keeps_the_simulators_rows():
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        old = _migrate(BEFORE_THE_MOVE)
        # The old database's content types belong to debits.
        ContentType.objects.filter(app_label="simulator", model__in=MOVED).update(
            app_label="debits"
        )
        ContentType.objects.clear_cache()
        content_type_ids = dict(
            ContentType.objects.filter(app_label="debits", model__in=MOVED).values_list(
                "model", "pk"
            )
        )
        old.get_model("debits", "SimulatedAgreement").objects.create(
            mandate_reference="MD-OLD", token="agr-MD-OLD-v1", credential_version=1
        )
        old.get_model("debits", "SimulatedCollection").objects.create(
            idempotency_key="k-old",
            mandate_reference="MD-OLD",
            agreement_token="agr-MD-OLD-v1",
            amount_minor=1028000,
            outcome="succeeded",
            gateway_reference="SIMOLD",
        )
        old.get_model("debits", "SimulatedFault").objects.create(
            mandate_reference="MD-OLD", outcome="account_closed", remaining=1
        )
        old.get_model("debits", "SimulatedPresentation").objects.create(
            request_key="collect:k-old", count=2
        )

        new = _migrate(latest)

        agreement = new.get_model("simulator", "SimulatedAgreement").objects.get()
        assert (agreement.mandate_reference, agreement.token, agreement.card_reference) == (
            "MD-OLD",
            "agr-MD-OLD-v1",
            "",
        )
        assert new.get_model("simulator", "SimulatedCollection").objects.get().outcome == (
            "succeeded"
        )
        assert new.get_model("simulator", "SimulatedFault").objects.get().remaining == 1
        assert new.get_model("simulator", "SimulatedPresentation").objects.get().count == 2
        assert not new.get_model("simulator", "SimulatedCardCredential").objects.exists()
        ContentType.objects.clear_cache()
        assert (
            dict(
                ContentType.objects.filter(app_label="simulator", model__in=MOVED).values_list(
                    "model", "pk"
                )
            )
            == content_type_ids
        ), "admin history and permissions follow the models"
    finally:
        _migrate(latest)
        ContentType.objects.clear_cache()
