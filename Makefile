# The two set-up commands of the README are `make run` and `make test`.
# Everything else here is a step they depend on.
SHELL := /bin/bash
.DEFAULT_GOAL := help
NPM_STAMP := node_modules/.installed
CONFIG ?= deploy/config

.PHONY: help deps system-deps gen build run test lint typecheck circular test-unit test-integration test-e2e fuzz bench-store bench bench-quick bench-memory bench-soak bench-ladder adaptive-plot clean

help:
	@echo "make run    install, build and start the service (memory backend, $(CONFIG))"
	@echo "make test   install and run every check: lint, typecheck, unit, integration, e2e"
	@echo "make build  build only (then: node dist/cli.js --help)"

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

deps: $(NPM_STAMP)

# Debian packages the tests need (python3 gRPC client); installs them when missing.
system-deps:
	@scripts/ensure-system-packages.sh

gen: deps
	npx buf generate

build: gen
	npx tsc -p tsconfig.build.json
	@chmod +x dist/cli.js

run: build
	node dist/cli.js serve --config $(CONFIG) --backend memory --log-level info --log-format text

lint: deps
	npx biome check --error-on-warnings .

typecheck: gen
	npx tsc -p tsconfig.json --noEmit

# No import cycles in src/. That src/core/ imports nothing outside it is a unit test
# (test/unit/core/core-isolation.test.ts), run by test-unit and test.
circular: gen
	npx madge --circular --extensions ts src

test-unit: gen
	npx vitest run test/unit test/contract

test-integration: build
	npx vitest run test/integration

test-e2e: build system-deps
	npx vitest run test/e2e

test: deps system-deps build lint typecheck circular
	npx vitest run

# The fuzzers of test/fuzz (requests, YAML, /json, /auth) for FUZZ_SECONDS each (default 60);
# `make test` runs them for a few seconds each.
fuzz: build system-deps
	FUZZ_SECONDS=$${FUZZ_SECONDS:-60} npx vitest run test/fuzz

# Redis store throughput vs redis-benchmark on the same Redis (prints a table; ~1 minute).
bench-store: gen system-deps
	npx vitest run --config bench/vitest.config.ts

# End-to-end service benchmarks (h2load and the Node load generator) against ceilings measured
# in the same run; rewrites BENCHMARKS.md. bench-quick: < 2 minutes; bench: the full matrix,
# about 11 minutes on 2 cores. See docs/performance.md.
bench: build
	@scripts/ensure-bench-packages.sh
	npx tsc -p bench/tsconfig.json
	node dist/bench/bench/run.js

bench-quick: build
	@scripts/ensure-bench-packages.sh
	npx tsc -p bench/tsconfig.json
	node dist/bench/bench/run.js --quick

# RSS of the Redis-backed service at half its maximum load for 10 minutes (SOAK_MINUTES); rewrites BENCHMARKS-soak.md.
bench-soak: build
	@scripts/ensure-bench-packages.sh
	npx tsc -p bench/tsconfig.json
	node dist/bench/bench/soak.js

# One Redis-backed service with default settings under open-loop load at 10%..120% of its
# measured maximum; prints a markdown table and a JSON line (~2 minutes). LADDER_ARGS are
# passed on, e.g. LADDER_ARGS='--cli ../other-worktree/dist/cli.js'. See docs/performance.md.
bench-ladder: build
	@scripts/ensure-bench-packages.sh
	npx tsc -p bench/tsconfig.json
	node dist/bench/bench/load-ladder.js $(LADDER_ARGS)

# Redis bytes per key (each algorithm vs the SET-with-TTL floor) and the memory backend's heap
# and RSS for 1,000,000 keys; prints JSON (stdout) and a markdown table (stderr). ~1 minute.
bench-memory: build
	@scripts/ensure-bench-packages.sh
	npx tsc -p bench/tsconfig.json
	node dist/bench/bench/memory-footprint.js

# The picture of docs/adaptive.md from a real run (~45 s): the built service (memory backend), an
# upstream failing from 10 s to 20 s, outcomes fed back over Envoy's access-log stream; writes
# bench/results/adaptive-scenario.csv and docs/img/adaptive-error-rate.svg, prints reaction and
# recovery times.
adaptive-plot: build
	npx tsc -p bench/tsconfig.json
	node dist/bench/bench/adaptive-scenario.js

clean:
	rm -rf dist src/gen node_modules
