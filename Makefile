# coursehook: `make run` runs the stack locally, `make test` runs every test.
SHELL := /bin/bash

TEMPORAL_CLI_VERSION := v1.5.1
STATICCHECK_VERSION  := v0.8.2
BIN := $(CURDIR)/bin

.PHONY: run test build lint check bench microbench clean

run: build bin/temporal
	./scripts/run.sh

build:
	go build -o bin/ ./worker ./starter ./codec/genkey
	go build -o bin/coursehookctl ./ctl

# The Temporal CLI carries the dev server and the Web UI. Newer tags cannot be
# built with `go install`; this one is pinned and cached in bin/ (ignored).
bin/temporal:
	GOBIN=$(BIN) go install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION)

bin/staticcheck:
	GOBIN=$(BIN) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: bin/staticcheck
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "not gofmt-formatted:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	$(BIN)/staticcheck ./...

test: bin/temporal lint
	go test -race -count=1 -timeout 20m ./...

# make bench BURST=5000 adds the cohort burst; BENCH_FLAGS passes any other
# flag of the benchmark program (go run ./bench -h).
BURST ?= 0
bench: bin/temporal
	go run ./bench --burst $(BURST) --write BENCHMARKS.md $(BENCH_FLAGS)

microbench: bin/temporal
	go test -run '^$$' -bench . -benchmem -count 5 ./...

clean:
	rm -rf bin/worker bin/starter bin/genkey bin/coursehookctl
