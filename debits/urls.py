from django.urls import path

from debits import views

app_name = "debits"

urlpatterns = [
    path("runs/", views.run_list, name="run_list"),
]
