# Each user-facing target builds .venv first, so `make run` and `make test` are
# the only commands a new user types (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PIP_FLAGS := --quiet --disable-pip-version-check --no-input

# Debian packages the suite uses: xmlsec1 and pdfsig check our signatures independently,
# the fonts carry Vietnamese glyphs for the PDF stamp, chromium runs the dashboard's browser
# tests (Debian's: no browser is ever downloaded), softhsm2 is a real PKCS#11 token for the
# hardware-key tests. Installed only when missing.
SYSTEM_PACKAGES := xmlsec1 poppler-utils fonts-liberation2 fonts-dejavu-core chromium softhsm2
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run example test conformance lint typecheck bench clean system-packages simulate-axis screenshots

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11 or newer is required (found: $$($(PYTHON) --version))"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(BIN)/python -m pip install $(PIP_FLAGS) -e '.[dev]'
	@touch $(STAMP)

system-packages:
	@missing=""; \
	command -v xmlsec1 >/dev/null || missing="$$missing xmlsec1"; \
	command -v pdfsig >/dev/null || missing="$$missing poppler-utils"; \
	[ -f /usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf ] || missing="$$missing fonts-liberation2"; \
	[ -f /usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf ] || missing="$$missing fonts-dejavu-core"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v softhsm2-util >/dev/null || missing="$$missing softhsm2"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# The whole gateway on this machine: embedded store and queue, the axis simulator, demo
# data and a development PKI, all under demo-data/ (see devtools/demo.py). Ctrl-C stops it.
run: $(STAMP)
	$(BIN)/edxml-gateway demo

# The edxml library's own walk-through: build the example record into a package, validate
# it, sign it with a development PKI, verify the signature, and sign/verify its PDF.
KEYS := build/keys
CRLS := --crl $(KEYS)/crl/root.crl --crl $(KEYS)/crl/intermediate.crl
AGENCY := $(KEYS)/agencies/000.00.01.H42
example: $(STAMP) system-packages
	@mkdir -p build
	$(BIN)/python -m edxml build config/examples/record.json -o build/example.edxml
	$(BIN)/python -m edxml validate build/example.edxml
	@test -f $(KEYS)/README.txt || $(BIN)/python -m devtools dev-ca $(KEYS)
	$(BIN)/python -m edxml sign build/example.edxml --key $(AGENCY).p12 --password-file $(AGENCY).p12.password -o build/example.signed.edxml
	$(BIN)/python -m edxml verify build/example.signed.edxml --trust $(KEYS)/trust $(CRLS)
	$(BIN)/python -m edxml inspect build/example.signed.edxml
	$(BIN)/python -m edxml pdf-sign config/examples/files/05_UBND-VP_trien_khai_lien_thong.pdf --number 05/UBND-VP \
		--key $(AGENCY).key.pem --cert $(AGENCY).chain.pem -o build/05_UBND-VP.signed.pdf
	$(BIN)/python -m edxml pdf-verify build/05_UBND-VP.signed.pdf --trust $(KEYS)/trust $(CRLS)

# The national-axis simulator alone (REST + SOAP), for a local QLVB team to test against.
SIM_PORT ?= 8765
simulate-axis: $(STAMP)
	$(BIN)/edxml-gateway simulate-axis --config config/axis-simulator.json --port $(SIM_PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/hadolint Dockerfile

typecheck: $(STAMP)
	$(BIN)/mypy

test: system-packages lint typecheck
	$(BIN)/python -m pytest

# Only the conformance suite: the official SDK and edXML reader (../shared/peer/jars, or the
# folder named by EDXML_PEER_JARS) against our packages, simulator and facade. make test
# runs it too when the jars are there.
conformance: $(STAMP)
	$(BIN)/python -m pytest tests/conformance

# The README's screenshots of the dashboard, taken by its browser test (make test saves them
# in a temporary folder, never over the tracked ones).
screenshots: $(STAMP) system-packages
	EDXML_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -q tests/gateway/test_dashboard.py \
		tests/gateway/test_received_page.py -k "browser and not postgresql"

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build demo-data .pytest_cache .mypy_cache .ruff_cache .hypothesis
