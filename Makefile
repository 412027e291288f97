# The two commands: `make run` (the product on http://127.0.0.1:8000/) and `make test`.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed

MO := locale/fr/LC_MESSAGES/django.mo

.PHONY: run test lint fuzz bench worker beat messages clean

$(PY):
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(RUNTIME): requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(DEV): requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@ $(RUNTIME)

# French catalogs: compiled from the committed .po files (pure Python, no gettext needed).
$(MO): locale/fr/LC_MESSAGES/django.po | $(RUNTIME)
	$(PY) -m babel.messages.frontend compile --domain django --directory locale

# Extract new strings into the .po files (needs GNU gettext), then translate them.
messages: $(RUNTIME)
	$(PY) manage.py makemessages -l fr --no-obsolete --ignore=.venv --ignore=tests --ignore=bench
	$(MAKE) $(MO)

run: $(RUNTIME) $(MO)
	mkdir -p var/mail
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo ""
	@echo "  Hub:          http://127.0.0.1:8000/hub/"
	@echo "  Demo admin:   admin@acme.example / acme-demo-password"
	@echo "  Public site:  http://127.0.0.1:8000/sites/acme/"
	@echo "  Emails:       written under var/mail/"
	@echo ""
	$(PY) manage.py runserver 127.0.0.1:8000

test: $(DEV) $(MO)
	$(PY) -m pytest

lint: $(DEV)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m bandit --quiet --recursive orgs sites signup alerts mail selfsignup --severity-level high

# The long property-based runs: 10,000 sign-ups and 2,000 settings submissions.
fuzz: $(DEV) $(MO)
	$(PY) -m pytest -m fuzz

# Benchmarks: a dedicated database (created if missing; its tables are emptied) and Redis DB 1.
bench: export DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/selfsignup_bench
bench: export REDIS_URL ?= redis://127.0.0.1:6379/1
bench: $(DEV) $(MO)
	@command -v wrk >/dev/null || { echo "make bench needs wrk: apt-get install wrk"; exit 1; }
	$(PY) -m bench

worker: $(RUNTIME) $(MO)
	$(PY) -m celery -A selfsignup worker -l $(or $(LOG_LEVEL),INFO)

beat: $(RUNTIME)
	mkdir -p var
	$(PY) -m celery -A selfsignup beat -l $(or $(LOG_LEVEL),INFO) -s var/celerybeat-schedule

clean:
	rm -rf $(VENV) var staticfiles
