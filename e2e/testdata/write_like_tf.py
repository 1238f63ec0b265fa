"""Writes a TFRecord file of tf.train.Examples the way TensorFlow's tf.io.TFRecordWriter would,
with pytfrecord's own framing and the python protobuf runtime, for tfprep to read back.

The records cover every Feature kind: bytes_list (printable, binary, empty and several values),
float_list (including values that are not exact decimals, extremes and signed zero), int64_list
(including both int64 extremes) and a Feature with no list set. With --gzip the whole stream is
GZIP-compressed, as compression_type="GZIP". Prints a JSON document of what was written: for each
record its offset in the uncompressed stream and its features by name (kind and values), bytes values in
base64, floats as the float32 value's repr, int64s as strings (exact).
"""

import argparse
import base64
import gzip
import json
import struct
import sys
import tempfile

import pytfrecord


def float32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


RECORDS = [
    [
        ("label", "int64_list", [3]),
        ("name", "bytes_list", [b"chip_0001"]),
        ("scores", "float_list", [0.1, -2.5, 1e-3, 3.4028234663852886e38, -0.0]),
    ],
    [
        ("blob", "bytes_list", [bytes(range(256)), b"", "héllo wörld".encode("utf-8")]),
        ("ids", "int64_list", [-(2 ** 63), 2 ** 63 - 1, 0, -1]),
        ("empty", "none", []),
        ("weights", "float_list", [1.5, 1.0 / 3.0, 1.17549435e-38]),
    ],
    [
        ("nothing", "float_list", []),
        ("x", "bytes_list", [b"\x00\xff" * 50]),
    ],
]


def build(example_pb2, features):
    example = example_pb2.Example()
    for name, kind, values in features:
        feature = example.features.feature[name]
        if kind == "none":
            # Touching the map entry stores a Feature with no list set.
            feature.SetInParent()
        else:
            getattr(feature, kind).value.extend(values)
    return example


def describe(value, kind):
    if kind == "bytes_list":
        return base64.b64encode(value).decode("ascii")
    if kind == "float_list":
        return repr(float32(value))
    return str(value)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--proto-root", required=True)
    ap.add_argument("--gzip", action="store_true")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as gen:
        example_pb2 = pytfrecord.load_example_pb2(args.proto_root, gen)
        stream = bytearray()
        written = []
        for features in RECORDS:
            example = build(example_pb2, features)
            data = example.SerializeToString(deterministic=True)
            written.append({
                "offset": len(stream),
                "features": {
                    name: {"kind": kind, "values": [describe(v, kind) for v in values]}
                    for name, kind, values in features
                },
            })
            stream += pytfrecord.frame(data)
    raw = gzip.compress(bytes(stream)) if args.gzip else bytes(stream)
    with open(args.out, "wb") as f:
        f.write(raw)
    json.dump({"records": written}, sys.stdout, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
