# Uptime: `make run` starts the whole monitor, `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
# make run's processes: Procfile.run (one web worker, beat inside the worker)
# by default; PROCFILE=Procfile runs production's web, worker and beat.
PROCFILE ?= Procfile.run

.PHONY: run probe test test-service test-browser install migrate lint format bench bench-quick bench-small clean

PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check

# One stamp per requirements state: a fresh clone installs, later runs don't.
# `make run` needs only the runtime packages; tests, lint and bench add the
# development ones (which include the runtime ones, so both stamps are fresh).
$(VENV)/.runtime: requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements.txt
	@touch $@

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) -r requirements-dev.txt
	@touch $(VENV)/.runtime $@

install: $(VENV)/.installed

migrate: $(VENV)/.runtime
	$(BIN)/python manage.py migrate --noinput

# honcho SIGKILLs what has not stopped 5 s after its SIGTERM; the worker's warm
# shutdown (finish running checks, stop the pool) takes longer. And Ctrl-C
# makes honcho exit 130, which make would report as an error: it is a stop
# asked for. (exec: the shell leaves, so Ctrl-C reaches honcho alone.)
define HONCHO_RUN
import sys
import honcho.command, honcho.manager
honcho.manager.KILL_WAIT = 30
try:
    honcho.command.main()
except SystemExit as stop:
    sys.exit(0 if stop.code == 130 else stop.code)
endef
export HONCHO_RUN

run: migrate
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@echo "Uptime on http://127.0.0.1:$(PORT)/  (Ctrl-C stops web, worker and beat)"
	exec $(BIN)/python -c "$$HONCHO_RUN" --procfile $(PROCFILE) start --port $(PORT)

# A location's probe process (README, "Locations"): needs UPTIME_LOCATION,
# UPTIME_LOCATION_TOKEN and CELERY_BROKER_URL, and no database.
probe: install
	@test -n "$$UPTIME_LOCATION" -a "$$UPTIME_LOCATION" != default || \
		{ echo "Set UPTIME_LOCATION (and UPTIME_LOCATION_TOKEN, CELERY_BROKER_URL)."; exit 2; }
	exec $(BIN)/celery --app uptime worker --pool threads --concurrency $${UPTIME_PROBE_THREADS:-8} \
		--without-gossip --without-mingle --without-heartbeat --loglevel INFO

test: install
	$(BIN)/pytest -m "not service and not browser"

# The service-backed suite: real PostgreSQL, Redis, Celery worker and beat.
SERVICE_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/uptime
SERVICE_BROKER_URL   ?= redis://127.0.0.1:6379/15
test-service: install
	DATABASE_URL=$(SERVICE_DATABASE_URL) CELERY_BROKER_URL=$(SERVICE_BROKER_URL) \
	UPTIME_TEST_REDIS_URL=$(SERVICE_BROKER_URL) $(BIN)/pytest -m service tests/service

# The browser suite: Debian's Chromium (apt-get install chromium) driven by
# Playwright against the monitor started as `make run` starts it. A missing
# browser fails it; screenshots go to UPTIME_ARTIFACTS_DIR (.ci/artifacts/).
test-browser: install
	$(BIN)/pytest -m browser -rs tests/browser

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Benchmarks print figures (they need PostgreSQL and Redis on 127.0.0.1).
# BENCH_ARGS go to bench/pipeline.py, e.g. the issue's three locations:
#   make bench BENCH_ARGS="--locations 3 --sites 50000"
BENCH_ARGS ?=
bench: install
	bench/run $(BENCH_ARGS)

bench-quick: install
	bench/run --quick $(BENCH_ARGS)

# The small end (1,000 sites at 20 s on the Procfile's processes), the real
# world's mix of targets, and how checks resume after a stall.
bench-small: install
	$(BIN)/python bench/small_end.py
	$(BIN)/python bench/small_end.py --target mix --idle-seconds 0
	$(BIN)/python bench/stall.py

# Alert delivery: 1,000 monitors down at once, each to three channels on local
# stand-ins (unpaced webhooks), then Slack + Discord + webhook at their pacing.
.PHONY: bench-notify
bench-notify: install
	$(BIN)/python bench/notify.py
	$(BIN)/python bench/notify.py --scenario paced

clean:
	rm -rf var/broker var/static
