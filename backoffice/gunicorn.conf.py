"""gunicorn settings for the web process: ``gunicorn -c backoffice/gunicorn.conf.py``.

Values come from the environment (GUNICORN_*) with production defaults. The
access log goes to stdout through ``RedactingAccessLogger``, which blanks the
token of every reset link (customers' and staff) before the line is written.
"""

import os

wsgi_app = "backoffice.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
# Requests are short; a debit run is a Celery job, never a web request.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# The TLS proxy in front: only its address may set X-Forwarded-* (see docs/security.md).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
logger_class = "backoffice.access_log.RedactingAccessLogger"
# Combined log format plus the request id the application tags its own lines with.
access_log_format = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %({x-request-id}i)s'
)
