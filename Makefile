# coursehook: `make run` runs the stack locally, `make test` runs every test.
SHELL := /bin/bash

TEMPORAL_CLI_VERSION := v1.5.1
# The production server release: docker-compose.yml's images and the local
# cluster's binaries (deploy/temporal/VERSION is the one place to change it).
TEMPORAL_SERVER_VERSION := $(shell cat deploy/temporal/VERSION)
TEMPORAL_SERVER_DIR := bin/temporal-server-$(TEMPORAL_SERVER_VERSION)
STATICCHECK_VERSION  := v0.8.2
ERRCHECK_VERSION     := v1.30.0
WORKFLOWCHECK_VERSION := v0.6.0
BIN := $(CURDIR)/bin

.PHONY: run test build docs lint check bench bench-cluster bench-cluster-smoke microbench clean cluster-bins cluster-up cluster-down soak-cluster

run: build bin/temporal
	./scripts/run.sh

build:
	go build -o bin/ ./worker ./starter ./codec/genkey
	go build -o bin/sendgrid-sign ./sgevents/sign
	go build -o bin/coursehookctl ./ctl

# The Temporal CLI carries the dev server and the Web UI. Newer tags cannot be
# built with `go install`; this one is pinned and cached in bin/ (ignored).
bin/temporal:
	GOBIN=$(BIN) go install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION)

# temporal-server and temporal-sql-tool of the production release, built
# from the module proxy into a folder of their version (ignored, kept until
# the version changes), with the PostgreSQL schema and the image's config
# template that their module carries. About 10 minutes the first time.
cluster-bins: bin/temporal $(TEMPORAL_SERVER_DIR)/.built

$(TEMPORAL_SERVER_DIR)/.built:
	./scripts/build-temporal-server.sh $(TEMPORAL_SERVER_VERSION) $(TEMPORAL_SERVER_DIR)

# The production topology on this machine (scripts/cluster.sh; README.md,
# "Production cluster").
cluster-up:
	./scripts/cluster.sh up

cluster-down:
	./scripts/cluster.sh down

# docs/configuration.md is generated from config.Settings; the config tests
# fail while it is stale.
docs:
	go test ./config/ -run TestConfigurationReference -count=1 -args -update

bin/staticcheck:
	GOBIN=$(BIN) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

bin/errcheck:
	GOBIN=$(BIN) go install github.com/kisielk/errcheck@$(ERRCHECK_VERSION)

# Temporal's determinism check of workflow code, as samples-go runs it.
bin/workflowcheck:
	GOBIN=$(BIN) go install go.temporal.io/sdk/contrib/tools/workflowcheck@$(WORKFLOWCHECK_VERSION)

# errcheck leaves tests alone (a test's failed cleanup fails nothing that
# matters) and skips what .lint/errcheck-excludes.txt lists, with why;
# elsewhere an ignored error is written `_ =`. workflowcheck follows every
# workflow into what it calls; a false positive carries
# //workflowcheck:ignore and a comment saying why it is safe.
lint: bin/staticcheck bin/errcheck bin/workflowcheck
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "not gofmt-formatted:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	$(BIN)/staticcheck ./...
	$(BIN)/errcheck -ignoretests -exclude .lint/errcheck-excludes.txt ./...
	$(BIN)/workflowcheck ./...

test: bin/temporal cluster-bins lint
	go test -race -count=1 -timeout 20m ./...

# make bench BURST=5000 adds the cohort burst; BENCH_FLAGS passes any other
# flag of the benchmark program (go run ./bench -h).
BURST ?= 0
bench: bin/temporal
	go run ./bench --burst $(BURST) --write BENCHMARKS.md $(BENCH_FLAGS)

# The same rows on the production cluster (scripts/cluster.sh's topology),
# with one and with two worker processes; the table goes into BENCHMARKS.md's
# cluster section.
bench-cluster: bin/temporal cluster-bins
	go run ./bench --cluster --write BENCHMARKS.md $(BENCH_FLAGS)

# The bench's rows on the cluster, 20 events each, as a check that
# bench-cluster works (about a minute).
bench-cluster-smoke: bin/temporal cluster-bins
	BENCH_CLUSTER_SMOKE=1 go test -count=1 -run '^TestClusterSmoke$$' ./bench

# 1,000 events over 10 minutes on the production cluster, with its faults
# repeated and flaky providers; prints what was lost (README.md, "Production
# cluster"). SOAK_FLAGS='-soak-events 200 -soak-duration 2m' for a short one.
soak-cluster: cluster-bins
	go test -count=1 -v -run '^TestClusterSoak$$' -timeout 45m ./integration/production -args -soak $(SOAK_FLAGS)

microbench: bin/temporal
	go test -run '^$$' -bench . -benchmem -count 5 ./...

clean:
	rm -rf bin/worker bin/starter bin/genkey bin/coursehookctl
