# lorweb: the two contract commands are `make demo` and `make test`.
# Both install missing system packages first (quietly when all are present) and run lorweb with
# OPENBLAS_CORETYPE unset: some machines preset it to Haswell, which halves sgemm speed.

SHELL := /bin/bash
APT_PACKAGES := libopenblas-dev liblapacke-dev libpng-dev libgraphviz-dev libcairo2-dev libjpeg62-turbo-dev pkg-config
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
RUN := env -u OPENBLAS_CORETYPE
LORWEB := .build/release/lorweb

.PHONY: deps build release demo test notebooks bench clean

deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null \
	    || { echo "apt-get install failed for:$$missing" >&2; exit 1; }; \
	fi

build: deps
	swift build

release: deps
	swift build -c release --product lorweb

# Until the LoRWeB pipeline lands, the main job is the kernel benchmark.
demo: release
	@echo "make demo: the training/inference pipeline is not built yet; running 'lorweb bench ops' instead."
	$(RUN) $(LORWEB) bench ops

test: deps
	$(RUN) swift build --build-tests
	$(RUN) swift test --skip-build
	$(MAKE) notebooks

# Executes notebooks/*.ipynb headlessly on the shipped models (LORWEB_MODEL / LORWEB_SINGLE_MODEL
# override them); the Python packages come from PyPI when missing.
NOTEBOOK_PACKAGES := nbclient nbformat ipykernel numpy pandas matplotlib pillow
notebooks: release
	@python3 -c "import nbclient, nbformat, ipykernel, numpy, pandas, matplotlib, PIL" 2>/dev/null \
	  || python3 -m pip install --quiet $(NOTEBOOK_PACKAGES) \
	  || { echo "pip install failed for: $(NOTEBOOK_PACKAGES)" >&2; exit 1; }
	$(RUN) LORWEB_BIN=$(CURDIR)/$(LORWEB) python3 tools/run_notebooks.py

bench: release
	$(RUN) $(LORWEB) bench ops --threads 1
	$(RUN) $(LORWEB) bench model --threads 1
	$(RUN) $(LORWEB) bench ops --threads 2
	$(RUN) $(LORWEB) bench model --threads 2

clean:
	rm -rf .build
