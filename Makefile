# heddle: see README.md. Every target works on a fresh machine with only Go installed.
GO ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: run test ci bench lint cover mutate

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
## hour a case; never part of test). MUTATE_FLAGS adds flags, e.g.
## make mutate CASES=mq MUTATE_FLAGS="--seeds 200 --json".
CASES ?= duplicator metaclient mq replica routingtable
mutate:
	@for c in $(CASES); do $(GO) run -race ./cmd/heddle mutate $$c $(MUTATE_FLAGS) || exit 1; done

## bench: the runtime and checker benchmarks (compare runs with benchstat).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 6 ./harness/ ./checkers/

## lint: gofmt, go vet and a pinned staticcheck.
lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
