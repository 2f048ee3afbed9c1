# The two commands a newcomer needs: `make run` and `make test`. Both build .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-clock bench clean

# The tests that depend on the time of day, and the instants CI runs them at besides the pinned
# default: after Monday's close, a Saturday, the day after Thanksgiving (closes 13:00), and now.
CLOCK_TESTS := tests/domain tests/engine tests/e2e/test_guards_end_to_end.py tests/e2e/test_guard_rails.py
CLOCK_INSTANTS := 2026-12-07T16:30:00-05:00 2026-12-12T11:00:00-05:00 2026-11-27T13:30:00-05:00 now

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("NovAlgo needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/novalgo serve

test: $(STAMP)
	$(BIN)/python -m pytest

test-clock: $(STAMP)
	@failed=""; for instant in $(CLOCK_INSTANTS); do \
		echo "== time-sensitive tests at NOVALGO_TEST_NOW=$$instant"; \
		NOVALGO_TEST_NOW=$$instant $(BIN)/python -m pytest -q $(CLOCK_TESTS) || failed="$$failed $$instant"; \
	done; \
	if [ -n "$$failed" ]; then echo "== failed at:$$failed"; exit 1; fi

bench: $(STAMP)
	$(BIN)/python bench/ack.py

clean:
	rm -rf $(VENV) build *.egg-info
