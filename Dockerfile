# The portal's image: one image, three processes (web, worker, beat), chosen by
# the command. See docker-compose.yml for the production topology.
FROM python:3.11-slim

# PYTHONPATH: the code runs from /app, where templates/ and static/ live beside
# the packages, not from the copy pip puts in site-packages.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    DJANGO_SETTINGS_MODULE=portal.settings \
    DATA_DIR=/var/lib/portal \
    PORTAL_PRODUCTION=1

WORKDIR /app

# Dependencies first, pinned by the lock file, so that a code change does not
# reinstall them.
COPY pyproject.toml requirements.lock ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -c requirements.lock -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Static files are collected into the image, where WhiteNoise serves them; the
# data folder belongs to the unprivileged user that runs every process.
COPY . .
RUN pip install -c requirements.lock . \
    && useradd --system --create-home --uid 10001 --home-dir /home/portal portal \
    && mkdir -p "$DATA_DIR" \
    && SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput -v0 \
    && chown -R portal:portal "$DATA_DIR"

USER portal
EXPOSE 8000

# The web process; the worker and beat override the command (docker-compose.yml).
# Same flags as `manage.py runportal` (portal/management/commands/runportal.py);
# uvicorn takes its number of processes from WEB_CONCURRENCY.
ENV WEB_CONCURRENCY=2
CMD ["python", "-m", "uvicorn", "portal.asgi:application", "--host", "0.0.0.0", "--port", "8000", \
     "--no-access-log", "--ws", "websockets-sansio", "--lifespan", "on"]
