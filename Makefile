# lorweb: the two contract commands are `make demo` and `make test`.
# Both install missing system packages first (quietly when all are present) and run lorweb with
# OPENBLAS_CORETYPE unset: some machines preset it to Haswell, which halves sgemm speed.

SHELL := /bin/bash
APT_PACKAGES := libopenblas-dev liblapacke-dev libpng-dev libgraphviz-dev libcairo2-dev libjpeg62-turbo-dev pkg-config
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
RUN := env -u OPENBLAS_CORETYPE
LORWEB := .build/release/lorweb

.PHONY: deps build-info build release demo test docs notebooks notebooks-check notebook-packages notebooks-outputs study bench fuzz sanitize clean

deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null \
	    || { echo "apt-get install failed for:$$missing" >&2; exit 1; }; \
	fi

# The commit `lorweb --version` and every report name: written into a git-ignored header, and the
# one C file that reads it touched, only when the commit changes (so nothing else rebuilds).
BUILD_INFO := Sources/CBuildInfo/commit.h
build-info:
	@commit=$$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown); \
	if [ "$$commit" != unknown ] && [ -n "$$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$$commit-dirty"; fi; \
	line="#define LORWEB_COMMIT \"$$commit\""; \
	if [ "$$(cat $(BUILD_INFO) 2>/dev/null)" != "$$line" ]; then echo "$$line" > $(BUILD_INFO); touch Sources/CBuildInfo/cbuildinfo.c; fi

build: deps build-info
	swift build

release: deps build-info
	swift build -c release --product lorweb

DEMO := demo-out

# The main job on the shipped default model (models/small-world/lorweb): edit the shipped example
# triplets, then score it on a small unseen subset of a freshly generated small world.
demo: release
	@mkdir -p $(DEMO)/edits
	$(RUN) $(LORWEB) edit --triplets models/small-world/examples/triplets.csv --out-dir $(DEMO)/edits
	$(RUN) $(LORWEB) synth --out $(DEMO)/smallworld --force
	$(RUN) $(LORWEB) eval --data $(DEMO)/smallworld --split unseen --limit-per-task 1 --no-prompts --out $(DEMO)/eval_unseen.json
	@echo "make demo: results in $(CURDIR)/$(DEMO) (edits/, eval_unseen.json, eval_unseen.png)"

test: deps build-info
	$(RUN) swift build --build-tests
	$(RUN) swift test --skip-build
	$(MAKE) notebooks

# docs/commands.md from `lorweb <command> --help` (the help text is the source; CLITests'
# CommandsDocTests fails while the file is stale). Any build of lorweb gives the same help.
DOCS_BIN ?= .build/debug/lorweb
docs: build
	$(RUN) python3 tools/docs/commands.py --bin $(DOCS_BIN)

# Checks that the cells of notebooks/*.ipynb are what tools/notebooks/make_notebooks.py writes (the
# generator is the source), then executes them headlessly on the shipped models (LORWEB_MODEL /
# LORWEB_SINGLE_MODEL override them); the Python packages come from PyPI when missing.
# notebooks-outputs regenerates them with their outputs, which are committed so that they read on a
# repository page: run it after changing the generator or the shipped models.
NOTEBOOK_PACKAGES := nbclient nbformat ipykernel numpy pandas matplotlib pillow
notebooks-check:
	python3 tools/notebooks/make_notebooks.py --check

notebook-packages:
	@python3 -c "import nbclient, nbformat, ipykernel, numpy, pandas, matplotlib, PIL" 2>/dev/null \
	  || python3 -m pip install --quiet $(NOTEBOOK_PACKAGES) \
	  || { echo "pip install failed for: $(NOTEBOOK_PACKAGES)" >&2; exit 1; }

notebooks: notebooks-check release notebook-packages
	$(RUN) LORWEB_BIN=$(CURDIR)/$(LORWEB) python3 tools/notebooks/run_notebooks.py

notebooks-outputs: release notebook-packages
	$(RUN) LORWEB_BIN=$(CURDIR)/$(LORWEB) python3 tools/notebooks/make_notebooks.py --execute

# The generalization study (issue 11): trains every variant on one small world, one thread per
# job and two jobs at a time, evaluates each, and writes reports/generalization/README.md. Hours of
# CPU; resumable (finished runs are skipped, a killed training resumes from its checkpoint).
# Work goes to study-out/; the metrics and the report are committed.
STUDY_PACKAGES := numpy matplotlib
study: release
	@python3 -c "import numpy, matplotlib" 2>/dev/null \
	  || python3 -m pip install --quiet $(STUDY_PACKAGES) \
	  || { echo "pip install failed for: $(STUDY_PACKAGES)" >&2; exit 1; }
	$(RUN) python3 tools/study/study.py
	$(RUN) python3 tools/study/report.py

# lorweb alone; `python3 tools/peer/compare.py` runs it side by side with PyTorch (needs torch).
bench: release
	for t in 1 2; do \
	  $(RUN) $(LORWEB) bench ops --threads $$t && \
	  $(RUN) $(LORWEB) bench train-step --threads $$t && \
	  $(RUN) $(LORWEB) bench edit --threads $$t && \
	  $(RUN) $(LORWEB) bench clip --threads $$t && \
	  $(RUN) $(LORWEB) bench analysis --threads $$t || exit 1; \
	done

# libFuzzer harnesses (Fuzz/, a separate package) for every reader of untrusted input, each run
# FUZZ_SECONDS at nice 19; findings go to Fuzz/.build/findings/<harness>/. SwiftPM passes its two
# --sanitize values as two -sanitize flags and swiftc keeps only the last, so the combined flag is
# given again; products are built one by one because building the whole graph would also link
# lorweb's own main against libFuzzer's.
FUZZ_SECONDS ?= 60
FUZZ_HARNESSES := safetensors png jpeg config analogy-folder triplets
fuzz: deps
	@# SwiftPM keeps the planned source list of a path dependency: drop it so new files count.
	rm -f Fuzz/.build/release.yaml Fuzz/.build/*/release/description.json
	cd Fuzz && for h in $(FUZZ_HARNESSES); do \
	  swift build -c release --product fuzz-$$h --sanitize fuzzer \
	    -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address || exit 1; \
	done
	SECONDS_EACH=$(FUZZ_SECONDS) Fuzz/run.sh $(FUZZ_HARNESSES)

# The test suite under AddressSanitizer, then UndefinedBehaviorSanitizer, each in its own build
# folder so the normal build is untouched. The CLI tests run the sanitized lorweb too.
# Leak checking is off here: at exit it reports fontconfig's, libdispatch's and the Swift
# runtime's allocations, which are not ours; the fuzzers run LeakSanitizer on the readers.
# swiftc has no -sanitize=undefined on Linux (Swift code traps on overflow and bad indices in
# debug builds anyway), so UBSan instruments the C targets (CImageIO, Yams' libyaml).
sanitize: deps
	$(RUN) swift build --build-tests --sanitize address --scratch-path .build-address
	ASAN_OPTIONS=detect_leaks=0 $(RUN) swift test --skip-build --sanitize address --scratch-path .build-address
	$(RUN) swift build --build-tests --scratch-path .build-undefined \
	  -Xcc -fsanitize=undefined -Xcc -fno-sanitize-recover=all -Xswiftc -Xclang-linker -Xswiftc -fsanitize=undefined
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(RUN) swift test --skip-build --scratch-path .build-undefined

clean:
	rm -rf .build .build-address .build-undefined Fuzz/.build
