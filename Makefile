# Entry points named in the README. Each runs scripts/setup first, which
# installs what is missing and is quick when everything is present.
GO ?= go
export PATH := $(PATH):/usr/local/go/bin

.PHONY: setup demo test build vet lint bench

setup:
	@scripts/setup

build: setup
	$(GO) build -o bin/ ./cmd/...

demo: setup
	scripts/demo

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: files above need formatting' >&2; exit 1; }
	$(GO) vet ./...

lint: vet
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

test: setup vet
	$(GO) test -race -p 1 -timeout 20m ./...
	scripts/perf-regression --quick

bench: setup
	$(GO) test -run '^$$' -bench . -benchtime 1x ./...
