# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Both create .venv when missing, install torch pinned first (a CPU wheel here; an
# unpinned torch would pull several GB of CUDA packages), then the three packages
# editable with their test extras. A stamp file makes a second run skip the install.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_PIN := torch==2.13.0
STAMP := $(VENV)/.robopref-installed
export MUJOCO_GL ?= egl
# the label page's browser tests drive Debian's chromium (playwright never downloads one)
CHROMIUM := /usr/bin/chromium
CHROMIUM_STAMP := $(VENV)/.chromium-installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install demo test test-slow bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(STAMP): $(PY) pyproject.toml envs/pyproject.toml hardware/pyproject.toml
	$(PIP) install --quiet $(TORCH_PIN)
	$(PIP) install --quiet -e ".[test,app]" -e "envs[test,metaworld,robosuite]" -e "hardware[test]"
	@$(PY) -c "import torch, sys; v = torch.__version__.split('+')[0]; sys.exit(0 if v == '2.13.0' else 'torch ' + torch.__version__ + ' installed, expected 2.13.0')"
	touch $(STAMP)

install: $(STAMP)

# Installs chromium only when it is missing (apt-get; sudo when not root). If it cannot be
# installed, the browser tests skip and say why; everything else still runs.
$(CHROMIUM_STAMP): | $(PY)
	@if [ ! -x $(CHROMIUM) ]; then \
	  echo "installing chromium for the label-page browser tests (apt-get)" >&2; \
	  ( $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null ) \
	    || echo "could not install chromium: the browser tests will be skipped" >&2; \
	fi
	@[ -x $(CHROMIUM) ] && touch $(CHROMIUM_STAMP) || true

demo: $(STAMP)
	$(PY) -m robopref.demo

test: $(STAMP) $(CHROMIUM_STAMP)
	@$(PY) -m pytest -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a failure" >&2; exit 1; fi; exit $$rc

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

# benchmark-only packages: imitation 1.0.1 is the reference the reward benchmark compares
# against; --no-deps because its pins (gymnasium 0.29, sb3 2.2) would downgrade ours.
BENCH_STAMP := $(VENV)/.bench-deps-installed
$(BENCH_STAMP): $(STAMP)
	$(PIP) install --quiet --no-deps imitation==1.0.1
	$(PIP) install --quiet stable-baselines3 seals sacred scikit-learn
	touch $(BENCH_STAMP)

bench: $(STAMP) $(BENCH_STAMP)
	@for f in benchmarks/bench_*.py; do echo "# $$f" >&2; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache
