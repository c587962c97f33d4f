# The two commands a new machine needs:  `make run`  and  `make test`.
# Everything else here is what those two call.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# open-clip-torch only ships the CLIP BPE vocabulary we read; its dependencies
# (torchvision) must not come along.
OPEN_CLIP := open-clip-torch==3.3.0
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/test

.PHONY: run test test-sqlite test-postgres browsers lint schema benchmark check-deploy

$(STAMP): requirements.txt
	@echo "Installing the requirements into $(VENV) (first run only, a few minutes)…"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps $(OPEN_CLIP)
	touch $(STAMP)

var/secret_key:
	mkdir -p var
	$(PY) -c "import secrets; print(secrets.token_urlsafe(50))" > $@

## Run the service: web + worker, migrations, model (offline demo model if needed), admin login.
# manage.py itself reads (or generates) var/secret_key when SECRET_KEY is not set.
run: $(STAMP)
	@echo "Starting: migrate, choose the scoring model, then web + worker (Ctrl-C stops)…"
	@set -a; [ ! -f .env ] || . ./.env; set +a; $(PY) -u manage.py serve

## Run the whole test suite: lint, migrations check, schema, tests on SQLite and PostgreSQL.
test: $(STAMP) browsers lint check-deploy
	SECRET_KEY=test-only $(PY) manage.py makemigrations --check --dry-run
	SECRET_KEY=test-only $(PY) manage.py spectacular --validate --fail-on-warn --file /tmp/schema.yml
	$(MAKE) test-sqlite test-postgres

# The variables README "Production" names; Django's deployment checklist must report nothing.
PRODUCTION_ENV := DEPLOYMENT=production DEBUG=0 ALLOWED_HOSTS=catalog.example.com \
	CSRF_TRUSTED_ORIGINS=https://catalog.example.com SECURE_SSL_REDIRECT=1 \
	SECURE_PROXY_SSL_HEADER=1 SECURE_HSTS_SECONDS=31536000 SECURE_HSTS_INCLUDE_SUBDOMAINS=1 \
	SECURE_HSTS_PRELOAD=1 SESSION_COOKIE_SECURE=1 CSRF_COOKIE_SECURE=1 \
	REDIS_URL=redis://127.0.0.1:6379/0

check-deploy: $(STAMP)
	$(PRODUCTION_ENV) SECRET_KEY="$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))')" \
		$(PY) manage.py check --deploy --fail-level WARNING

test-sqlite: $(STAMP)
	SECRET_KEY=test-only $(PY) -m pytest

test-postgres: $(STAMP)
	SECRET_KEY=test-only DATABASE_URL=$(POSTGRES_URL) $(PY) -m pytest -m "not browser and not backend_agnostic"

## Debian's Chromium for the browser test (Playwright's own download does not work offline).
browsers:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
		|| echo "Chromium could not be installed: the browser test will be skipped."; \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	SECRET_KEY=lint-only $(VENV)/bin/lint-imports

## Performance figures reported in README.md.
benchmark: $(STAMP) var/secret_key
	SECRET_KEY="$$(cat var/secret_key)" $(PY) benchmarks/run_all.py
