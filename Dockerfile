# The one image every process of compose.yaml runs: web, the worker pools, beat.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/app/.venv/bin:$PATH
RUN apt-get update && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.lock pyproject.toml ./
RUN python -m venv .venv && .venv/bin/pip install --no-cache-dir --require-hashes -r requirements.lock
COPY . .
# Development settings for the build step only: compiling catalogues needs no secret.
RUN DEBUG=true python manage.py compilemessages --ignore=.venv -v0
# Never root: the processes need no privilege, and the image holds the code only.
RUN useradd --system --uid 10001 backoffice && mkdir -p var staticfiles \
    && chown -R backoffice var staticfiles
USER backoffice
EXPOSE 8000
CMD ["gunicorn", "-c", "backoffice/gunicorn.conf.py"]
