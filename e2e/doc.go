// Package e2e holds tfprep's end-to-end tests against an independent reader and writer: Python
// (Debian's python3 with numpy, Pillow 9.4 and the protobuf runtime, plus protoc) reading what
// `tfprep convert` wrote exactly as the seed's tf.keras Planet code does, and writing TFRecord
// files that `tfprep verify` and `tfprep cat` must read back.
//
// The Python side (testdata/*.py) uses none of tfprep's code: it frames TFRecords itself with a
// table-driven CRC-32C, gunzips GZIP shards, parses tf.train.Example with protobuf classes that
// protoc generates from tfrecord/example/proto at test time, and recomputes every image the Keras
// way (PIL open, convert("RGB"), resize nearest to 128x128, float32 / 255).
//
// The tests build cmd/tfprep with the ambient environment (CGO_ENABLED included) and skip, saying
// why, when /usr/bin/python3, one of its modules or protoc is missing. On Debian:
//
//	apt-get install -y python3-pil python3-numpy python3-protobuf protobuf-compiler
package e2e
