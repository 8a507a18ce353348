# Oculto's two set-up commands are `make demo` and `make test`; `make bench`
# prints performance figures. Every target installs what it is missing.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
ADDR ?= 127.0.0.1:8787
DEMO_DB ?= .oculto/demo.db
WASM_TARGET_DIR := target/wasm

FUZZ_SECS ?= 60
FUZZ_SMOKE_SECS ?= 3

.PHONY: demo build widget test lint unit e2e wasm doc bench clean fit fuzz fuzz-smoke

## demo: build and start the verifier with the demo site on http://$(ADDR)/
demo: build widget
	@mkdir -p $(dir $(DEMO_DB))
	@echo "Starting Oculto on http://$(ADDR)/ (Ctrl-C to stop)"
	./target/release/oculto serve --demo --addr $(ADDR) --store sqlite://$(DEMO_DB)

## build: the release binary
build:
	@scripts/deps.sh rust
	cargo build --release -p oculto-verifier

## widget: the wasm widget, its npm files (pkg/) and what the verifier serves (pkg/dist/)
widget:
	scripts/build-widget.sh

## test: every test: formatting, lints, Rust unit and HTTP tests, wasm build, docs, fuzz smoke, browser
test: lint widget doc unit fuzz-smoke e2e
	@echo "make test: all passed"

lint:
	@scripts/deps.sh rust
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo fmt --check --manifest-path fuzz/Cargo.toml

unit:
	@scripts/deps.sh redis
	cargo build -p oculto-verifier --bin oculto
	cargo test --workspace

## e2e: the browser tests: Chromium drives the built widget against real verifiers
e2e: widget
	@scripts/deps.sh browser
	cargo build -p oculto-verifier --bin oculto
	OCULTO_BIN=target/debug/oculto node --test tests/e2e/

## fuzz: every cargo-fuzz target for FUZZ_SECS seconds each (stable toolchain; see README, Fuzzing)
fuzz:
	scripts/fuzz.sh $(FUZZ_SECS)

## fuzz-smoke: every fuzz target for a few seconds, from its seeds, unoptimized (part of `make test`)
fuzz-smoke:
	FUZZ_BUILD=dev FUZZ_FRESH=1 scripts/fuzz.sh $(FUZZ_SMOKE_SECS)

## wasm: check that the shared types and the widget build for wasm32-unknown-unknown
wasm:
	@eval "$$(scripts/deps.sh wasm)"; \
	  echo "wasm32 build with: $$WASM_CARGO"; \
	  env CARGO_TARGET_DIR=$(WASM_TARGET_DIR) RUSTFLAGS="--cfg getrandom_backend=\"wasm_js\" $$WASM_RUSTFLAGS" \
	    $$WASM_CARGO build --profile wasm --target wasm32-unknown-unknown $$WASM_FLAGS -p oculto-shared -p oculto-widget

doc:
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace

## bench: /verify throughput, latency and memory; challenge generation; OCR resistance; the scorer
## against traces and against an off-the-shelf humanised cursor in Chromium (prints figures)
bench: widget
	@scripts/deps.sh bench
	bench/verify.sh
	cargo build --release -p oculto-verifier --bin oculto
	./target/release/oculto challenge bench
	@if [ -x bench/ocr.sh ]; then bench/ocr.sh; else echo "bench: no OCR report yet (bench/ocr.sh, issue 4)"; fi
	bench/eval.sh
	OCULTO_BIN=./target/release/oculto bench/solvers.sh

clean:
	cargo clean
	rm -rf fuzz/target

## fit: re-fit the behaviour model into verifier/src/model.json (needs ../shared/data)
fit:
	scripts/fit.sh
