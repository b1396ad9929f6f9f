from django.urls import path

from backoffice.dashboard import views

# No namespace: "dashboard" is the landing page every sign-in step redirects to.
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
]
