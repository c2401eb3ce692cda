#!/usr/bin/env bash
# Regenerates harness/graph/src/pb.rs from onnx.proto of the onnx==1.22.0 wheel (needs protoc and network).
# The output is committed, so ordinary builds need neither.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download --no-deps --only-binary=:all: -q onnx==1.22.0 -d "$work"
mkdir -p "$work/proto" "$work/gen/src" "$work/out"
unzip -q -j "$work"/onnx-1.22.0-*.whl onnx/onnx.proto -d "$work/proto"
cat > "$work/gen/Cargo.toml" <<TOML
[package]
name = "pbgen"
version = "0.0.0"
edition = "2021"
[dependencies]
prost-build = "0.14"
[workspace]
TOML
cat > "$work/gen/src/main.rs" <<RS
fn main() {
    prost_build::Config::new().bytes(["."]).out_dir("$work/out")
        .compile_protos(&["$work/proto/onnx.proto"], &["$work/proto"]).expect("protoc");
}
RS
cargo run -q --manifest-path "$work/gen/Cargo.toml"
{ head -4 "$root/harness/graph/src/pb.rs"; echo; cat "$work/out/onnx.rs"; } > "$work/pb.rs"
mv "$work/pb.rs" "$root/harness/graph/src/pb.rs"
echo "regenerated harness/graph/src/pb.rs"
