from django.urls import path

from backoffice.complaints import views

app_name = "complaints"

urlpatterns = [
    path("", views.complaint_queue, name="queue"),
    path("new/customer/<int:customer_id>/", views.log_complaint_page, name="log"),
    path("approvals/", views.approvals, name="approvals"),
    path("reports/", views.report, name="report"),
    path("reports/export.csv", views.report_export, name="report_export"),
    path("cards/<int:card_id>/timeline/", views.card_timeline, name="card_timeline"),
    path("<int:pk>/", views.complaint_detail, name="detail"),
    path("<int:pk>/assign/", views.assign, name="assign"),
    path("<int:pk>/extend/", views.extend, name="extend"),
    path("<int:pk>/decide/", views.decide, name="decide"),
    path("<int:pk>/close/", views.close, name="close"),
    path("<int:pk>/reopen/", views.reopen, name="reopen"),
    path("<int:pk>/remedy/", views.remedy, name="remedy"),
    path("<int:pk>/compensate/", views.compensate, name="compensate"),
    path(
        "compensations/<int:pk>/approve/",
        views.compensation_approve,
        name="compensation_approve",
    ),
    path("compensations/<int:pk>/reject/", views.compensation_reject, name="compensation_reject"),
    path(
        "compensations/<int:pk>/confirm/",
        views.compensation_confirm,
        name="compensation_confirm",
    ),
]
