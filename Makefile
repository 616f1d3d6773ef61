# heddle: see README.md. Every target works on a fresh machine with only Go installed.
GO ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: run test ci bench lint e2e cover mutate unmodified xsync bench-unmodified

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

## cover: statement coverage of each system's fixed path over 200 seeds, with
## the lines that never ran (counters and profiles under $(COVERDIR)).
COVERDIR ?= .heddle-cover
cover:
	$(GO) run -race ./cmd/heddle run --all --cover $(COVERDIR)

## mutate: mutation testing of each case's fixed variant (long: minutes to an
## hour a case; never part of test). It fails at the first case that kills
## less than MUTATE_MIN of its mutants that are not marked equivalent.
## MUTATE_FLAGS adds flags, e.g.
## make mutate CASES=mq MUTATE_FLAGS="--seeds 200 --json".
CASES ?= duplicator metaclient mq replica routingtable
MUTATE_MIN ?= 0.9
mutate:
	@for c in $(CASES); do $(GO) run -race ./cmd/heddle mutate $$c --min-kill-rate $(MUTATE_MIN) $(MUTATE_FLAGS) || exit 1; done

## unmodified: heddle test on the plain Go programs of testdata/unmodified, at
## the issue's full budget: each bug found with its kind within 1,000 seeds and
## each fixed twin passing 1,000 seeds (make test runs the twins on 200).
unmodified:
	HEDDLE_FULL=1 $(GO) test -race -count=1 -run 'TestUnmodifiedPrograms|TestRewriteCache' -v ./harness/gotest/driver/

## xsync: golang.org/x/sync@v0.25.0's own errgroup, semaphore and singleflight
## tests under heddle test, 200 seeds per test (about eight minutes on two cores;
## make test runs 20 seeds), and a bug injected into a copy of singleflight found.
## It downloads the module through the module proxy, and skips saying so when it
## cannot.
xsync:
	HEDDLE_XSYNC=1 $(GO) test -race -count=1 -timeout 40m -run 'TestXSync' -v ./harness/gotest/driver/

## bench-unmodified: per program of testdata/unmodified, heddle test's first
## failing seed and failing fraction against plain go test -race's failing
## fraction, and the per-seed cost of a rewritten test against the plain test.
bench-unmodified:
	$(GO) test -run '^$$' -bench 'Unmodified|PerSeed' -benchtime 1x -timeout 60m -v ./harness/gotest/driver/

## bench: seeds per second of every case's fixed variant in process, and the
## cost of a scheduling step, without and with -race (the race/plain ratio of
## CPU ns/step per case at the end); the CPU a seed costs heddle against the
## same seed in real mode (plain Go), both builds; the ping-pong switch
## against Go's (ratio heddle/native, steps per round trip) in both builds,
## and Go's own switch with -race against without; then the checker
## benchmarks. A few minutes. BENCH_COUNT=6 repeats each for benchstat.
BENCH_COUNT ?= 1
BENCH_OUT ?= $(or $(TMPDIR),/tmp)/heddle-bench
bench:
	@mkdir -p $(BENCH_OUT)
	$(GO) test -run '^$$' -bench 'FixedSeed' -benchtime 2s -count $(BENCH_COUNT) ./scenarios/catalog/ > $(BENCH_OUT)/cases.txt; \
		status=$$?; cat $(BENCH_OUT)/cases.txt; exit $$status
	$(GO) test -race -run '^$$' -bench 'FixedSeed' -benchtime 2s -count $(BENCH_COUNT) ./scenarios/catalog/ > $(BENCH_OUT)/cases-race.txt; \
		status=$$?; cat $(BENCH_OUT)/cases-race.txt; exit $$status
	@echo "CPU ns a step with -race / without, per case (CPU time: steadier than wall time on a shared machine):"
	@awk 'FNR==1{f++} /^BenchmarkFixedSeed/{for(i=3;i<NF;i++) if($$(i+1)=="cpu-ns/step"){n[f,$$1]+=$$i; c[f,$$1]++; names[$$1]=1}} \
		END{for(k in names) printf "  %-45s %6.0f / %6.0f = %.1fx\n", k, n[2,k]/c[2,k], n[1,k]/c[1,k], (n[2,k]/c[2,k])/(n[1,k]/c[1,k])}' \
		$(BENCH_OUT)/cases.txt $(BENCH_OUT)/cases-race.txt | sort
	$(GO) test -run '^$$' -bench 'RealSeed' -benchtime 5x -count $(BENCH_COUNT) ./scenarios/catalog/ > $(BENCH_OUT)/real.txt; \
		status=$$?; cat $(BENCH_OUT)/real.txt; exit $$status
	$(GO) test -race -run '^$$' -bench 'RealSeed' -benchtime 5x -count $(BENCH_COUNT) ./scenarios/catalog/ > $(BENCH_OUT)/real-race.txt; \
		status=$$?; cat $(BENCH_OUT)/real-race.txt; exit $$status
	@echo "CPU ms a seed, heddle (deterministic) against plain Go (real mode), each without / with -race:"
	@awk 'FNR==1{f++} /^Benchmark(Fixed|Real)Seed/{split($$1,a,"/"); k=a[2]; sub(/-[0-9]+$$/,"",k); \
		for(i=3;i<NF;i++){ if($$(i+1)=="cpu-seeds/s"){n[f,k]+=1000/$$i; c[f,k]++} if($$(i+1)=="cpu-ns/seed"){n[f,k]+=$$i/1e6; c[f,k]++} } names[k]=1} \
		END{for(k in names) printf "  %-14s heddle %6.2f / %6.2f   plain Go %6.1f / %6.1f\n", k, n[1,k]/c[1,k], n[2,k]/c[2,k], n[3,k]/c[3,k], n[4,k]/c[4,k]}' \
		$(BENCH_OUT)/cases.txt $(BENCH_OUT)/cases-race.txt $(BENCH_OUT)/real.txt $(BENCH_OUT)/real-race.txt | sort
	$(GO) test -run '^$$' -bench 'PingPong|RunSmallProgram' -count $(BENCH_COUNT) ./harness/ > $(BENCH_OUT)/harness.txt; \
		status=$$?; cat $(BENCH_OUT)/harness.txt; exit $$status
	$(GO) test -race -run '^$$' -bench 'PingPong|RunSmallProgram' -count $(BENCH_COUNT) ./harness/ > $(BENCH_OUT)/harness-race.txt; \
		status=$$?; cat $(BENCH_OUT)/harness-race.txt; exit $$status
	@echo "ns a switch with -race / without: Go's own channel switch (the floor of a step's ratio: under -race a step hands over like it) and heddle's:"
	@awk 'FNR==1{f++} /^BenchmarkPingPong\//{for(i=3;i<NF;i++) if($$(i+1)=="ns/switch"){n[f,$$1]+=$$i; c[f,$$1]++; names[$$1]=1}} \
		END{for(k in names) printf "  %-45s %6.0f / %6.0f = %.1fx\n", k, n[2,k]/c[2,k], n[1,k]/c[1,k], (n[2,k]/c[2,k])/(n[1,k]/c[1,k])}' \
		$(BENCH_OUT)/harness.txt $(BENCH_OUT)/harness-race.txt | sort
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCH_COUNT) ./checkers/

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
