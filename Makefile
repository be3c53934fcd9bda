# Ark's build. Only Go is needed: everything else is built from pinned modules.
SHELL := /usr/bin/env bash
GO ?= go
DATA_DIR ?= _output/data
PORT ?= 8443
BENCH_TIME ?= 20x

.PHONY: all build test unit verify run bench codegen controlplane clean

all: build

## build: compile bin/ark-apiserver
build:
	$(GO) build -o bin/ark-apiserver ./cmd/ark-apiserver

## test: verify, then every test (unit and in-process integration)
test: verify
	$(GO) test ./... -count=1 -timeout 20m

## unit: the tests without the integration suite (quick)
unit:
	$(GO) test $$($(GO) list ./... | grep -v /test/) -count=1

## verify: formatting, vet, generated code and go.mod are up to date
verify:
	@out="$$(gofmt -l cmd pkg test hack)"; if [[ -n "$$out" ]]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff
	hack/verify-codegen.sh

## codegen: regenerate deepcopy, conversion, defaults, OpenAPI, clientset, listers, informers
codegen:
	hack/update-codegen.sh

## run: serve Ark standalone on 127.0.0.1:$(PORT) with data in $(DATA_DIR)
run: build
	bin/ark-apiserver --standalone --data-dir $(DATA_DIR) --secure-port $(PORT)

## bench: list 10,000 backups through the API from a file bucket and from fake GCS
bench:
	$(GO) test ./test/integration -run '^$$' -bench BenchmarkListBackups -benchtime $(BENCH_TIME) -timeout 60m

## controlplane: build kube-apiserver, kube-controller-manager, etcd and kwok into _output/bin (cached)
controlplane:
	hack/controlplane/build.sh

clean:
	rm -rf bin _output/data
