# tfprep — see README.md. Two commands need no set-up: `make demo` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := bin/tfprep
# CGO is on when libjpeg-turbo's headers are present (scripts/ensure-libjpeg.sh installs them
# when it can); otherwise the pure-Go decoder is built and a notice says so.
CGO := $(shell scripts/ensure-libjpeg.sh)
export CGO_ENABLED := $(CGO)

.PHONY: all build install worker test test-purego demo bench proto fmt vet clean

all: build

# Fully static (libjpeg-turbo and libc linked in): what distributed runners' workers can run.
STATIC := -tags netgo,osusergo -ldflags '-linkmode external -extldflags "-static"'
HOST := $(shell $(GO) env GOOS)/$(shell $(GO) env GOARCH)

# On linux/amd64 with cgo, bin/tfprep is static, so that it stages itself as the workers' binary
# on Dataflow, Flink, Spark and Prism job servers (docs/RUNNERS.md).
build:
ifeq ($(CGO) $(HOST),1 linux/amd64)
	$(GO) build $(STATIC) -o $(BIN) ./cmd/tfprep
else
	$(GO) build -o $(BIN) ./cmd/tfprep
endif

# Copies bin/tfprep onto the PATH: $(PREFIX)/bin when PREFIX is given, else $(go env GOPATH)/bin.
install: build
	@dest="$${PREFIX:+$$PREFIX/bin}"; dest="$${dest:-$$($(GO) env GOPATH)/bin}"; \
	mkdir -p "$$dest" && cp $(BIN) "$$dest/tfprep" && echo "installed $$dest/tfprep"

# The static linux/amd64 binary with libjpeg-turbo for --worker_binary, from any host with a
# C toolchain for linux/amd64.
worker:
	CGO_ENABLED=1 GOOS=linux GOARCH=amd64 $(GO) build $(STATIC) -o bin/tfprep-linux-amd64 ./cmd/tfprep

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# The race detector runs on the packages where it is affordable.
RACE_PKGS := ./tfrecord/... ./schema/... ./trainer/... ./imageprep/...

# The end-to-end test reads shards with Python as the seed does; scripts/ensure-python.sh installs its
# Debian packages when run as root, and otherwise stops with the command to run.
test: fmt vet
	scripts/ensure-python.sh
	$(GO) test -timeout 30m ./...
	$(GO) test -race $(RACE_PKGS)

# The pure-Go image decoder build (what Beam's cross-compiled workers get).
test-purego:
	CGO_ENABLED=0 $(GO) test ./imageprep/... ./tfrecord/... ./schema/...

demo: build
	rm -rf out/demo
	$(BIN) convert --spec planet --csv testdata/demo/planet.csv --images testdata/demo/images \
		--out out/demo --splits train=0.8,validation=0.2 --shards 2 --seed 42
	$(BIN) verify out/demo
	$(BIN) read out/demo --shuffle 64 --batch 16
	$(BIN) train out/demo

# Medians over -count runs; see the README's performance table for what each measures.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./tfrecord/... ./imageprep/... ./schema/...
	$(GO) test -run '^$$' -bench . -benchtime 10x -count 5 ./trainer/
	$(GO) test -run '^$$' -bench . -count 5 ./pipeline/

proto:
	scripts/genproto.sh

clean:
	rm -rf bin out
