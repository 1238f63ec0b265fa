#!/usr/bin/env bash
# Regenerates tfrecord/example's Go code from TensorFlow's example.proto and
# feature.proto (run by "make proto"). The .pb.go files are committed, so only
# someone changing the .proto files needs protoc.
#
# Tools: Debian's protobuf-compiler (protoc 3.21) and protoc-gen-go (1.28.1,
# APIv2, whose output runs on google.golang.org/protobuf v1.36). They are
# installed with apt-get when missing and we are root.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v protoc >/dev/null || ! command -v protoc-gen-go >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "genproto: installing protobuf-compiler and protoc-gen-go ..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q protobuf-compiler protoc-gen-go >/dev/null ||
      { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q protobuf-compiler protoc-gen-go >/dev/null; }
  else
    echo "genproto: need protoc and protoc-gen-go (Debian: apt-get install protobuf-compiler protoc-gen-go)" >&2
    exit 1
  fi
fi

# The .proto files keep TensorFlow's own paths (tensorflow/core/example/...)
# so that the descriptors registered at run time match TensorFlow's. Their
# go_package option puts the code in package examplepb, apart from the
# hand-written fast path in package example (both define a type Feature).
src=tfrecord/example/proto
out=tfrecord/example/examplepb
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
protoc -I "$src" --go_out="$tmp" --go_opt=paths=source_relative \
  "$src"/tensorflow/core/example/feature.proto "$src"/tensorflow/core/example/example.proto
# paths=source_relative mirrors the proto directories; the Go package is flat.
mkdir -p "$out"
mv "$tmp"/tensorflow/core/example/*.pb.go "$out"/
echo "genproto: $(protoc --version), $(protoc-gen-go --version)" >&2
