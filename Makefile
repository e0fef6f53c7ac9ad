# The two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast lint system-deps bench clean

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $(STAMP)

# Runs everything on embedded defaults: SQLite under ./var/, in-process Redis.
demo: $(STAMP) system-deps
	$(VENV)/bin/supervise demo

# The whole suite, real PostgreSQL, Redis, RTSP server and browser included,
# after the linter and the formatter: a lint or format fault fails CI.
test: $(STAMP) system-deps lint
	$(VENV)/bin/python -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Everything but the slow real-service tests, for quick local iteration.
test-fast: $(STAMP)
	$(VENV)/bin/python -m pytest -q -m "not slow"

# Debian packages: the RTSP server for demo cameras and video tests, Chromium
# for browser tests, a CJK font for PDFs. Installed only when missing.
system-deps:
	@sh .ci/system-deps

bench: $(STAMP)
	for b in bench/*.py; do $(VENV)/bin/python $$b || exit 1; done

clean:
	rm -rf $(VENV) var .pytest_cache
