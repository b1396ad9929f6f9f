#!/bin/sh
# Run once per release, on one machine, before restarting backoffice.target:
# migrations, static files and the compiled catalogues.
set -eu
cd /srv/backoffice
set -a; . /etc/backoffice/env; set +a
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py collectstatic --noinput
.venv/bin/python manage.py compilemessages --ignore=.venv -v0
