# guildhall developer tasks. Go is expected at /usr/local/go/bin or on PATH.
export PATH := /usr/local/go/bin:$(PATH)

GO       ?= go
FUZZTIME ?= 30s
TESTTIMEOUT ?= 10m
BIN      ?= bin

.PHONY: run test test-e2e fuzz bench build vet clean loadtest

REPLICAS ?= 2

## run: a development cluster (REPLICAS replicas, two channels each, the sign-in API,
## an in-process Redis and a throwaway PostgreSQL), no setup needed
run:
	$(GO) run ./cmd/guildhall dev -replicas $(REPLICAS)

## test: every test with the race detector
test:
	$(GO) test -race -count=1 -timeout=$(TESTTIMEOUT) ./...

## test-e2e: the end-to-end tests alone (also part of make test): one replica in-process,
## and three `guildhall serve` processes on a real redis-server and PostgreSQL
test-e2e:
	$(GO) test -race -count=1 -timeout=$(TESTTIMEOUT) ./e2e/...

## fuzz: every fuzz target in the repository for FUZZTIME each
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
		for name in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$name ($(FUZZTIME))"; \
			$(GO) test -run=^$$ -fuzz=^$$name$$ -fuzztime=$(FUZZTIME) $$pkg; \
		done; \
	done

## bench: every benchmark, with allocations
bench:
	$(GO) test -run=^$$ -bench=. -benchmem ./...

## build: the binaries into $(BIN)/
build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

## vet: go vet and a gofmt check
vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## loadtest: every ghload scenario against a spawned 3-replica cluster
## (redis-server, PostgreSQL, 3 x guildhall serve); table on stdout, JSON in
## $(BIN)/loadtest.json. Exits non-zero on any loss, duplicate or violation.
LOADTEST_FLAGS ?= -sessions 200 -duration 10s -warmup 2s -drain 10s \
	-stage-size 50 -town-rate 2 -world-rate 40 -whisper-rate 1000 \
	-login-rate 20 -sema-names 4
loadtest: build
	$(BIN)/ghload -spawn 3 -binary $(BIN)/guildhall -scenario all -quiet \
		$(LOADTEST_FLAGS) -json $(BIN)/loadtest.json

clean:
	rm -rf $(BIN)
