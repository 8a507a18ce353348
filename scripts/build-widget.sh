#!/usr/bin/env bash
# Builds the widget: Rust -> wasm32 -> wasm-bindgen glue -> wasm-opt, then
#   pkg/        the npm package's files (ES module entry, types, worker, wasm)
#   pkg/dist/   what the verifier serves at /widget/: content-hashed names for
#               long caching, the oculto.js loader, manifest.json with SRI hashes
set -euo pipefail
cd "$(dirname "$0")/.."

WB_VERSION=$(sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' widget/Cargo.toml)
OUT=target/wasm
PROFILE=wasm

eval "$(scripts/deps.sh wasm)"
if ! wasm-bindgen --version 2>/dev/null | grep -q " $WB_VERSION\$"; then
  echo "build-widget: installing wasm-bindgen-cli $WB_VERSION (once)" >&2
  cargo install wasm-bindgen-cli --version "$WB_VERSION" >&2
fi
# wasm-opt from npm's binaryen: Debian's (version 108) mangles the externref
# table that wasm-bindgen now emits.
WASM_OPT=node_modules/.bin/wasm-opt
[ -x "$WASM_OPT" ] || npm install --no-audit --no-fund >&2

echo "build-widget: cargo ($WASM_CARGO)" >&2
env CARGO_TARGET_DIR=$OUT RUSTFLAGS="--cfg getrandom_backend=\"wasm_js\" $WASM_RUSTFLAGS" $WASM_CARGO build --profile $PROFILE \
  --target wasm32-unknown-unknown $WASM_FLAGS -p oculto-widget

rm -rf target/widget-bindgen && mkdir -p target/widget-bindgen
wasm-bindgen --target web --no-typescript --out-dir target/widget-bindgen \
  "$OUT/wasm32-unknown-unknown/$PROFILE/oculto_widget.wasm"

rm -rf pkg && mkdir -p pkg/dist
if [ -x "$WASM_OPT" ]; then
  "$WASM_OPT" -Oz --enable-bulk-memory --enable-reference-types --enable-multivalue --enable-sign-ext \
    --enable-nontrapping-float-to-int --enable-mutable-globals \
    target/widget-bindgen/oculto_widget_bg.wasm -o pkg/oculto_widget_bg.wasm
else
  echo "build-widget: no wasm-opt, shipping the unoptimised wasm" >&2
  cp target/widget-bindgen/oculto_widget_bg.wasm pkg/
fi
cp target/widget-bindgen/oculto_widget.js pkg/
cp widget/js/api.js widget/js/index.js widget/js/worker.js widget/js/index.d.ts pkg/

python3 - <<'PY'
import base64, hashlib, json, pathlib
pkg = pathlib.Path("pkg"); dist = pkg / "dist"
def h(b): return hashlib.sha256(b).hexdigest()[:12]
def sri(b): return "sha384-" + base64.b64encode(hashlib.sha384(b).digest()).decode()

# npm: the loader with plain names.
loader = pathlib.Path("widget/js/oculto.js").read_text()
plain = loader.replace("__API__", "api.js").replace("__GLUE__", "oculto_widget.js").replace("__WASM__", "oculto_widget_bg.wasm")
(pkg / "oculto.js").write_text(plain)

# dist: content-hashed names, each file pointing at the others' hashed names.
wasm = (pkg / "oculto_widget_bg.wasm").read_bytes()
wasm_name = f"oculto_widget_bg.{h(wasm)}.wasm"
glue = (pkg / "oculto_widget.js").read_text().replace("oculto_widget_bg.wasm", wasm_name).encode()
glue_name = f"oculto_widget.{h(glue)}.js"
api = (pkg / "api.js").read_text().replace("./oculto_widget.js", "./" + glue_name).encode()
api_name = f"api.{h(api)}.js"
boot = loader.replace("__API__", api_name).replace("__GLUE__", glue_name).replace("__WASM__", wasm_name).encode()
files = {wasm_name: wasm, glue_name: glue, api_name: api, "oculto.js": boot}
for name, data in files.items():
    (dist / name).write_bytes(data)
manifest = {"loader": "oculto.js", "files": {n: {"bytes": len(d), "integrity": sri(d)} for n, d in files.items()}}
(dist / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
print("build-widget: pkg/dist ready")
for n, d in files.items():
    print(f"  {n:40} {len(d):7} B  {sri(d)}")
PY
