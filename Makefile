# Ark's build. Only Go is needed: everything else is built from pinned modules.
SHELL := /usr/bin/env bash
GO ?= go
DATA_DIR ?= _output/data
LOCAL_DIR ?= _output/local
PORT ?= 8443
BENCH_TIME ?= 20x

.PHONY: all build test unit e2e verify run run-standalone bench bench-restore bench-backup bench-list codegen controlplane s3server azurite promtool image chart clean

all: build

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -X github.com/arkproject/ark/pkg/version.Version=$(VERSION) -X github.com/arkproject/ark/pkg/version.Commit=$(COMMIT)

## build: compile bin/ark-apiserver and the ark CLI (bin/ark, and bin/kubectl-ark for kubectl)
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/ark-apiserver ./cmd/ark-apiserver
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/ark ./cmd/ark
	cp bin/ark bin/kubectl-ark

## test: verify, then every test: unit, in-process integration, and end-to-end on a local cluster
test: verify controlplane s3server azurite promtool
	$(GO) test $$($(GO) list ./... | grep -v /test/e2e) -count=1 -timeout 30m
	$(GO) test ./test/e2e/... -p 1 -count=1 -timeout 40m

## unit: the tests without the integration and end-to-end suites (quick)
unit:
	$(GO) test $$($(GO) list ./... | grep -v /test/) -count=1 -timeout 30m

## e2e: only the end-to-end suites (local cluster): test/e2e, test/e2e/tenancy (attacks on tenancy) and test/e2e/faults (a shared, hostile, fallible bucket)
e2e: controlplane
	$(GO) test ./test/e2e/... -p 1 -count=1 -v

## verify: formatting, vet, generated code and go.mod are up to date
verify:
	@out="$$(gofmt -l cmd pkg test hack charts artifacts)"; if [[ -n "$$out" ]]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) mod tidy -diff
	hack/verify-codegen.sh

## image: build the ark-apiserver OCI image (static binary, CA certificates, non-root) into _output/image without Docker; IMAGE_ARCHS=amd64,arm64 makes a multi-platform index
# Dated SOURCE_DATE_EPOCH (the commit's time unless given), so the same binary gives the same digest.
IMAGE_ARCHS ?= amd64
image:
	for arch in $$(echo '$(IMAGE_ARCHS)' | tr , ' '); do \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o _output/bin/linux-$$arch/ark-apiserver ./cmd/ark-apiserver || exit 1; \
	done
	SOURCE_DATE_EPOCH="$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct 2>/dev/null || echo 0)}" $(GO) run ./hack/image \
		-binary '_output/bin/linux-{arch}/ark-apiserver' -arch '$(IMAGE_ARCHS)' -version '$(VERSION)' -commit '$(COMMIT)' \
		-out _output/image -tarball '_output/ark-apiserver-image-linux-{arch}.tar'

## chart: lint the Helm chart charts/ark and package it into _output/charts/ark-<version>.tgz with Helm's Go library (no helm binary); prints the path
# Dated SOURCE_DATE_EPOCH (the commit's time unless given), so the same chart gives the same archive.
chart:
	@SOURCE_DATE_EPOCH="$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct 2>/dev/null || echo 0)}" $(GO) run ./hack/chart -chart charts/ark -out _output/charts

## codegen: regenerate deepcopy, conversion, defaults, OpenAPI, clientset, listers, informers
codegen:
	hack/update-codegen.sh

## run: a local Kubernetes control plane with Ark registered as an APIService (Ctrl-C stops it)
run: build controlplane
	$(GO) build -o _output/bin/ark-localcluster ./test/localcluster/cmd/ark-localcluster
	_output/bin/ark-localcluster --dir $(LOCAL_DIR)

## run-standalone: serve Ark alone (no kube-apiserver) on 127.0.0.1:$(PORT) with data in $(DATA_DIR)
run-standalone: build
	bin/ark-apiserver --standalone --data-dir $(DATA_DIR) --secure-port $(PORT)

## bench: list 10,000 backups through the API (file bucket, fake GCS, versitygw S3, Azurite); back up 1k-100k objects (items/s, peak heap); live heap the backup index holds per backup
bench: s3server azurite
	$(GO) test ./test/integration -run '^$$' -bench BenchmarkListBackups -benchtime $(BENCH_TIME) -timeout 60m
	$(GO) test ./pkg/backup -run '^$$' -bench BenchmarkBackup -benchtime 3x
	$(GO) test ./pkg/registry/backup -run '^$$' -bench BenchmarkIndexHeapPerBackup -benchtime 1x

## bench-restore: restore N (default 10,000) objects through the local cluster, REPS (default 3) times against a plain 16-worker client, and preview the same restore; medians and ratios (goals: restore <= 1.1x plain, preview <= 1.0x restore)
N ?= 10000
REPS ?= 3
bench-restore: build controlplane
	$(GO) run ./test/bench/restore -n $(N) -reps $(REPS)

## bench-backup: back up N (default 30,000 here) config maps of 1 KiB through the local cluster; time against a raw paginated LIST, ark-apiserver's peak RSS
# N defaults to bench-restore's 10,000 above; a backup is measured at 30,000 unless N is given.
BACKUP_N ?= $(if $(filter command line environment,$(origin N)),$(N),30000)
# ENCRYPT=1 also backs up into an encrypted location each repetition and reports the ratio.
bench-backup: build controlplane
	$(GO) run ./test/bench/backup -n $(BACKUP_N) $(if $(ENCRYPT),-encrypt)

## bench-list: N (default 10,000 here) backups of seven files each in the bucket, through the local cluster: load time, first page and kubectl get latency, idle CPU per poll, RSS per backup, watch freshness
LIST_N ?= $(if $(filter command line environment,$(origin N)),$(N),10000)
bench-list: build controlplane
	$(GO) run ./test/bench/list -n $(LIST_N)

## controlplane: build kube-apiserver, kube-controller-manager, kube-scheduler, etcd, kwok and kubectl into _output/bin (cached)
controlplane:
	hack/controlplane/build.sh

## s3server: build the S3-compatible server (versitygw) the S3 backend's tests run against into _output/bin (cached)
s3server:
	hack/s3server/build.sh

## promtool: build Prometheus's promtool (pinned), which tests the alerting rules in artifacts/monitoring, into _output/bin (cached)
promtool:
	hack/promtool/build.sh

## azurite: install the Azure Blob emulator (Azurite, pinned, from npm; needs node and npm) the Azure backend's tests run against into _output/azurite (cached)
azurite:
	hack/azurite/install.sh

clean:
	rm -rf bin _output/data
