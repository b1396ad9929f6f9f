from django.urls import path

from backoffice.collection import views

app_name = "collection"

urlpatterns = [
    path("runs/", views.run_list, name="run_list"),
    path("runs/new/", views.start_run, name="start_run"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("runs/<int:pk>/progress.json", views.run_progress, name="run_progress"),
    path("attempts/", views.attempt_list, name="attempt_list"),
    path("attempts/retry/", views.retry_attempts, name="retry_attempts"),
    path("attempts/export.csv", views.attempt_export, name="attempt_export"),
    path("pauses/", views.pause_list, name="pause_list"),
    path("pauses/new/", views.pause_create, name="pause_create"),
    path("pauses/<int:pk>/resume/", views.pause_resume, name="pause_resume"),
    path("fees/<int:pk>/waive/", views.fee_waive, name="fee_waive"),
    path("fees/<int:pk>/approve/", views.fee_approve, name="fee_approve"),
]
