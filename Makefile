# guildhall developer tasks. Go is expected at /usr/local/go/bin or on PATH.
export PATH := /usr/local/go/bin:$(PATH)

GO       ?= go
FUZZTIME ?= 30s
TESTTIMEOUT ?= 10m
BIN      ?= bin

.PHONY: run test fuzz bench build vet clean

## run: one replica with two channels and the sign-in API, no setup needed
run:
	$(GO) run ./cmd/guildhall dev

## test: every test with the race detector
test:
	$(GO) test -race -count=1 -timeout=$(TESTTIMEOUT) ./...

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

clean:
	rm -rf $(BIN)
