# The two commands of the README are `make run` and `make test`; `make help` lists the rest.
GO      ?= go
BIN     := bin
PKGS    := ./...

.PHONY: help build run test test-short lint bench e2e screenshots clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build both binaries into bin/
	$(GO) build -o $(BIN)/auth-server ./auth-server
	$(GO) build -o $(BIN)/resource-server ./resource-server

run: build ## start both servers on the embedded SQLite default (Ctrl-C stops both)
	@./scripts/run.sh

test: ## the whole test suite with -race (PostgreSQL tests run when TEST_DATABASE_URL is set)
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

test-short: ## unit tests only, no end-to-end suite
	$(GO) test -race -count=1 -short $(PKGS)

lint: ## gofmt, go vet, staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: files above need formatting'; exit 1; }
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(PKGS)

# bench: micro-benchmarks first (their output goes into the report), then the load benchmark's
# test binary, run on CPU 1 (taskset) while it pins the servers to CPU 0. PostgreSQL rows run
# when TEST_DATABASE_URL is set. Under 10 minutes on 2 CPUs. BENCH_SCALE=1 adds the scale
# phase (the rows again on a generated database of 1,000,000 users, and the session cleanup at
# that size; see docs/performance.md for how long it takes).
BENCH_LOAD_CPU := $(shell command -v taskset >/dev/null 2>&1 && [ "$$(nproc --all)" -ge 2 ] && echo taskset -c 1)
bench: build ## load benchmarks of the real binaries (+ PostgreSQL with TEST_DATABASE_URL); writes docs/performance.md
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./resource-server/verifier/ ./auth-server/internal/tokens/ ./auth-server/internal/store/ ./auth-server/internal/server/ > $(BIN)/micro-bench.txt 2>&1 || { cat $(BIN)/micro-bench.txt; exit 1; }
	@cat $(BIN)/micro-bench.txt
	$(GO) test -c -o $(BIN)/e2e-bench.test ./e2e/bench/
	cd e2e/bench && $(BENCH_LOAD_CPU) ../../$(BIN)/e2e-bench.test -test.run '^$$' -test.bench . -test.benchtime 1x -test.timeout $(if $(BENCH_SCALE),60m,30m) \
		-bin ../../$(BIN) -micro ../../$(BIN)/micro-bench.txt -command 'make bench$(if $(BENCH_SCALE), BENCH_SCALE=1)' \
		$(if $(BENCH_SCALE),-scale) -write-doc ../../docs/performance.md

screenshots: ## the hosted pages at 320 and 1280 px, from the browser test, into docs/screenshots
	SCREENSHOTS_DIR=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run 'TestHostedPages' ./e2e/

clean: ## remove build output and the embedded databases
	rm -rf $(BIN) data
