# Targets for building, testing and trying the reactor. `make test` and
# `make demo` start the local Dovecot, Postfix and PostgreSQL they need.

GO ?= go
BIN := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all build test test-short bench demo env-up env-down vet fmt clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/reactor ./cmd/reactor
	$(GO) build -o $(BIN)/mailfill ./tools/mailfill

# The full suite against the real services; a missing service fails it.
test: env-up
	. .testenv/env.sh && MAILREACTOR_TEST_REQUIRE=1 $(GO) test -race -count=1 -timeout 30m ./...

# Unit tests only: tests that need the services skip and say which
# variable is missing.
test-short:
	$(GO) test -short ./...

bench: env-up
	scripts/bench.sh

demo: env-up build
	scripts/demo.sh

env-up:
	scripts/testenv.sh up

env-down:
	scripts/testenv.sh down

vet:
	$(GO) vet ./...
	test -z "$$(gofmt -l .)"

fmt:
	gofmt -w .

clean:
	rm -rf $(BIN)
