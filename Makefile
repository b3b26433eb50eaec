# NotaryLink: `make run` starts the platform on embedded defaults, `make test` runs every test.
# Both bootstrap their own virtual environment in .venv.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8080
PYTEST_ARGS ?=

.PHONY: install run test lint bench system-deps clean-venv

install: $(STAMP)

# One step per trap in ../shared/SETUP-NOTES.md: setuptools<82 before anything imports
# face_recognition, and face_recognition itself without its `dlib` (source-only) dependency.
# The editable install also compiles media/_core.c (the forwarding core), media/_frames.c
# (the frame-assembling receive buffer), media/_rtp.c (the RTP parse) and media/_remb.c (the
# receive-side bandwidth estimator) in place.
$(STAMP): pyproject.toml media/_core.c media/_frames.c media/_rtp.c media/_remb.c
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip 'setuptools<82' wheel
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps 'face_recognition==1.3.0'
	$(PY) -c "import face_recognition, aiortc, minio, sqlalchemy; print('environment ready')"
	touch $(STAMP)

run: install
	HOST=$(HOST) PORT=$(PORT) $(BIN)/notarylink serve --host $(HOST) --port $(PORT) --local-s3

# Debian packages the tests need: real Chromium, ffmpeg for the fake camera, a CJK font so
# that Chinese pages render (screenshots) and certificates can embed one.
DEBIAN_PACKAGES := chromium ffmpeg fonts-wqy-microhei

system-deps:
	@missing=""; \
	for pkg in $(DEBIAN_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$pkg 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

test: install system-deps
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The benchmark also runs Janus side by side (issue 8, tests/bench/compare.py): only `make bench`
# installs it, the tests never need it.
BENCH_DEBIAN_PACKAGES := janus

bench: install system-deps
	$(MAKE) --no-print-directory system-deps DEBIAN_PACKAGES="$(BENCH_DEBIAN_PACKAGES)"
	$(BIN)/pytest -m bench -s tests/bench $(PYTEST_ARGS)

clean-venv:
	rm -rf $(VENV)
