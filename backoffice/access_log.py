"""gunicorn's access log without reset tokens (loaded by backoffice/gunicorn.conf.py).

An access log line is written for ``GET /reset/<token>/`` (and a staff
member's ``/staff/password-reset/<token>/``) before Django ever sees the
request, so gunicorn's own logger is the place to blank the token: every atom
of the line (request line, path, query, referer, any header) goes through the
same redaction as the application's logs.
"""

from gunicorn.glogging import Logger

from backoffice.log import redact_reset_tokens


class RedactingAccessLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {
            key: redact_reset_tokens(value) if isinstance(value, str) else value
            for key, value in atoms.items()
        }
