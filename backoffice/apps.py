from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    name = "backoffice"
    verbose_name = "Staff workspace"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from backoffice.signin.session import stamp_session_on_sign_in

        # Every way of signing in (login page, tests' force_login) starts the clock.
        user_logged_in.connect(stamp_session_on_sign_in, dispatch_uid="staff_session_started")
