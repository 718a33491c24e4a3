# The two commands of the README are `make run` and `make test`; `make help` lists the rest.
GO      ?= go
BIN     := bin
PKGS    := ./...

.PHONY: help build run test test-short lint bench e2e clean

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

lint: ## gofmt, go vet (and staticcheck when installed)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: files above need formatting'; exit 1; }
	$(GO) vet $(PKGS)
	@if command -v staticcheck >/dev/null; then staticcheck $(PKGS); else echo 'staticcheck not installed: skipped'; fi

bench: build ## load benchmarks of the real binaries; writes docs/performance.md
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./e2e/bench/ -args -write-doc ../../docs/performance.md

clean: ## remove build output and the embedded databases
	rm -rf $(BIN) data
