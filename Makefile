# The usual targets. `make run` and `make test` are the two commands the
# README promises work on a fresh machine.

GO      ?= go
PKGS    := ./...
BIN     := bin/slhf

.PHONY: all build run test unit vet lint tidy-check fmt bench fuzz clean

all: vet build unit

build:
	$(GO) build -o $(BIN) ./cmd/slhf

# The main job on the embedded broker and bundled real data.
run: build
	./$(BIN) run --summary-json slhf-state/summary.json

# Everything CI runs: installs what the tests need, starts real Kafka
# brokers (4.x and 3.9.x) on 127.0.0.1, runs every Go and Python test.
test:
	./scripts/test.sh

unit:
	$(GO) test -race $(PKGS)

vet:
	$(GO) vet $(PKGS)

tidy-check:
	$(GO) mod tidy -diff

fmt:
	gofmt -w $$(git ls-files '*.go')

lint:
	golangci-lint run

bench:
	$(GO) test -run '^$$' -bench . -benchmem -cpu 1 ./schemas/ ./learner/ ./sinks/

# Every decoder has a fuzz target; a run count, not a duration, avoids a
# Go 1.26 fuzzing quirk that ends timed runs with "context deadline exceeded".
FUZZN ?= 200000x
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecodePreferences$$' -fuzztime $(FUZZN) ./schemas/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeResponses$$' -fuzztime $(FUZZN) ./schemas/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeRefined$$' -fuzztime $(FUZZN) ./schemas/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodePreferences$$' -fuzztime $(FUZZN) ./schemas/datasets/
	$(GO) test -run '^$$' -fuzz '^FuzzParseConversation$$' -fuzztime $(FUZZN) ./schemas/datasets/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeCheckpoint$$' -fuzztime $(FUZZN) ./sinks/
	$(GO) test -run '^$$' -fuzz '^FuzzRestore$$' -fuzztime $(FUZZN) ./learner/

clean:
	rm -rf bin slhf-state
