# heddle: see README.md. Every target works on a fresh machine with only Go installed.
GO ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: run test ci bench lint e2e

## run: explore every race case and print the table of verdicts (race detector on:
## data races are among the verdicts).
run:
	$(GO) run -race ./cmd/heddle run --all

## test: the whole test suite under the race detector.
test:
	$(GO) test -race -count=1 -timeout 20m ./...

## ci: the gate: every case as a verdict, then the test suite.
ci:
	$(GO) run -race ./cmd/heddle run --all --junit heddle-junit.xml
	$(MAKE) test

## bench: the runtime and checker benchmarks (compare runs with benchstat).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 6 ./harness/ ./checkers/

## lint: gofmt, go vet and a pinned staticcheck.
lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

## e2e: the browser tests: one failure page of every case and a 100,000-event page
## rendered in headless Chromium (no console errors, a timeline of non-zero size),
## screenshots kept under $(E2E_OUT), and the large page's time to first render. It
## installs nothing: without Chromium it says how to get one.
E2E_OUT ?= $(or $(TMPDIR),/tmp)/heddle-e2e
e2e:
	@chrome="$${HEDDLE_CHROMIUM:-$$(command -v chromium || command -v chromium-browser || command -v google-chrome || command -v google-chrome-stable || true)}"; \
	if [ -z "$$chrome" ]; then \
		echo "make e2e needs Chromium or Chrome, and installs nothing. Install it, then run make e2e again:"; \
		echo "    sudo apt-get install -y chromium    # Debian, Ubuntu"; \
		echo "or set HEDDLE_CHROMIUM to a Chrome or Chromium binary."; \
		exit 1; \
	fi
	mkdir -p $(E2E_OUT)
	HEDDLE_E2E=1 $(GO) test -race -count=1 -run 'Browser' -v -outputdir $(E2E_OUT) ./cmd/heddle/
	HEDDLE_E2E=1 $(GO) test -count=1 -run '^$$' -bench 'BrowserLargePage' -benchtime 3x ./cmd/heddle/
	@echo "pages and screenshots: $(E2E_OUT)/heddle-pages"
