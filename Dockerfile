FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# Static files and message catalogs are built into the image; the key here only serves the build.
RUN SECRET_KEY=build-only-key-0123456789-abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ \
    DEBUG=0 ALLOWED_HOSTS=localhost SITE_URL=http://localhost python manage.py collectstatic --noinput \
    && python -m babel.messages.frontend compile --domain django --directory locale
RUN useradd --create-home app && mkdir -p /app/var && chown -R app /app/var
USER app
EXPOSE 8000
CMD ["gunicorn", "selfsignup.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2", "--access-logfile", "-"]
