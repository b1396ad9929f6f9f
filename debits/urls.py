from django.urls import path

from debits import collection_views, views

app_name = "debits"

urlpatterns = [
    path("runs/", views.run_list, name="run_list"),
    path("runs/new/", collection_views.start_run, name="start_run"),
    path("runs/<int:pk>/", collection_views.run_detail, name="run_detail"),
    path("runs/<int:pk>/progress.json", collection_views.run_progress, name="run_progress"),
    path("attempts/", collection_views.attempt_list, name="attempt_list"),
    path("attempts/retry/", collection_views.retry_attempts, name="retry_attempts"),
    path("attempts/export.csv", collection_views.attempt_export, name="attempt_export"),
    path("pauses/", collection_views.pause_list, name="pause_list"),
    path("pauses/new/", collection_views.pause_create, name="pause_create"),
    path("pauses/<int:pk>/resume/", collection_views.pause_resume, name="pause_resume"),
    path("fees/<int:pk>/waive/", collection_views.fee_waive, name="fee_waive"),
    path("fees/<int:pk>/approve/", collection_views.fee_approve, name="fee_approve"),
    path("cards/<int:pk>/", views.card_detail, name="card_detail"),
    path("mandates/<int:pk>/resync/", views.resync_mandate_now, name="resync_mandate_now"),
]
