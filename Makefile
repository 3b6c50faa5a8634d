# mtnode — build, test, install. The logic lives in scripts/; targets stay thin.
GO       ?= go
PREFIX   ?= $(HOME)/bin-10100
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo devel)
LDFLAGS  := -s -w -X main.version=$(VERSION)
BIN      := bin
# Programs built into bin/, and plugins built into bin/plugins/.
PROGRAMS := mtnode $(notdir $(wildcard cmd/mt-test-*))
PLUGINS  := $(notdir $(wildcard cmd/mt-demo))
FUZZTIME ?= 10s
BENCHCOUNT ?= 5

.PHONY: all build run test test-short test-integration fuzz bench bench-http bench-rpc proto verify install clean

all: build

build:
	@mkdir -p $(BIN)/plugins
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ $(addprefix ./cmd/,$(PROGRAMS))
	@for p in $(PLUGINS); do echo "$(GO) build -o $(BIN)/plugins/$$p ./cmd/$$p"; \
		$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/plugins/$$p ./cmd/$$p || exit 1; done

# run: a node on the embedded demo config (nothing is written; Ctrl-C stops it).
run: build
	$(BIN)/mtnode run --demo --set Node.pluginsDir=$(CURDIR)/$(BIN)/plugins

# test: the whole suite, with the race detector, plus a short fuzz pass.
test:
	./scripts/test.sh

test-short:
	$(GO) test -short -race ./...

test-integration: build
	$(GO) test -race -run Integration ./cmd/...

fuzz:
	FUZZTIME=$(FUZZTIME) ./scripts/fuzz.sh

bench:
	BENCHCOUNT=$(BENCHCOUNT) ./scripts/bench.sh

bench-http: build
	./scripts/bench-http.sh

bench-rpc: build
	./scripts/bench-rpc.sh

proto:
	./scripts/genproto.sh

verify:
	./scripts/verify.sh

install: build
	PREFIX=$(PREFIX) BIN=$(BIN) ./install.sh

clean:
	rm -rf $(BIN)
