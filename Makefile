PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test test-fast demo install clean-venv

$(STAMP): requirements.txt requirements-web.txt pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first and alone, so nothing else can pull a CUDA build
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -r requirements.txt -r requirements-web.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q -x -rs -p no:cacheprovider

# the tests not marked slow: about 2 minutes on 2 cores (560 tests; the whole suite about 8)
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -x -rs -p no:cacheprovider -m "not slow"

demo: $(STAMP)
	$(BIN)/motiongan demo --out demo_out

clean-venv:
	rm -rf $(VENV)
