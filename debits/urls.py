from django.urls import path

from debits import views

app_name = "debits"

urlpatterns = [
    path("runs/", views.run_list, name="run_list"),
    path("cards/<int:pk>/", views.card_detail, name="card_detail"),
    path("mandates/<int:pk>/resync/", views.resync_mandate_now, name="resync_mandate_now"),
]
