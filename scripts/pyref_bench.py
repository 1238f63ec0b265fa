"""The seed's Python path, one step at a time, on the chips of `go run ./scripts/ladder -make DIR`:
the reference that scripts/bench-ladder.sh runs interleaved with tfprep's ladder on the same files.

Each step repeats the previous ones and adds one, as Keras' load_img + img_to_array / 255. and
TensorFlow's TFRecordWriter do:

    decode    Image.open(BytesIO(file bytes)).convert("RGB")        (PIL 9.4, libjpeg ISLOW)
    resize    .resize((128, 128), Image.NEAREST)                  (load_img's target_size)
    float32   np.asarray(img, dtype="float32") / 255.             (img_to_array / 255.)
    example   tf.train.Example (image, weather_labels, ground_labels as raw float32 bytes,
              image_name) .SerializeToString()
    tfrecord  + TFRecord framing, CRC-32C by crcmod's C extension (e2e/testdata/pytfrecord.py
              frames the same way but computes CRC-32C in pure Python, ~100x slower than
              TensorFlow's C++ writer, which would not be a fair reference)
    write     + write to a file

Prints one JSON line per step: {"impl": "python", "step": ..., "images_per_s": ...}.
Usage: /usr/bin/python3 scripts/pyref_bench.py DIR   (Debian: python3-pil python3-numpy
python3-protobuf python3-crcmod protobuf-compiler)
"""

import ast
import csv
import io
import json
import os
import struct
import sys
import tempfile
import time

import crcmod.predefined
import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e", "testdata"))
import pytfrecord  # noqa: E402  (protoc-generated example_pb2)

_crc32c = crcmod.predefined.mkCrcFun("crc-32c")


def masked_crc(data):
    crc = _crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def frame(data):
    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", masked_crc(header)) + data + struct.pack("<I", masked_crc(data))


def main():
    root = sys.argv[1]
    with open(os.path.join(root, "planet.csv"), newline="") as f:
        rows = [(r["image_name"],
                 np.array(ast.literal_eval(r["weather_labels"]), dtype=np.float32).tobytes(),
                 np.array(ast.literal_eval(r["ground_labels"]), dtype=np.float32).tobytes())
                for r in csv.DictReader(f)]
    with tempfile.TemporaryDirectory() as tmp:
        example_pb2 = pytfrecord.load_example_pb2(
            os.path.join(HERE, "..", "tfrecord", "example", "proto"), tmp)
        out_path = os.path.join(tmp, "shard")

        def load(name):
            with open(os.path.join(root, "images", name + ".jpg"), "rb") as f:
                img = Image.open(io.BytesIO(f.read()))
                return img.convert("RGB") if img.mode != "RGB" else img

        def resized(name):
            return load(name).resize((128, 128), Image.NEAREST)

        def array(name):
            return np.asarray(resized(name), dtype="float32") / 255.

        def example(row):
            name, weather, ground = row
            ex = example_pb2.Example()
            feats = ex.features.feature
            feats["image"].bytes_list.value.append(array(name).tobytes())
            feats["weather_labels"].bytes_list.value.append(weather)
            feats["ground_labels"].bytes_list.value.append(ground)
            feats["image_name"].bytes_list.value.append(name.encode("utf-8"))
            return ex.SerializeToString()

        steps = [
            ("decode", lambda row, out: load(row[0]).load()),
            ("resize", lambda row, out: resized(row[0])),
            ("float32", lambda row, out: array(row[0])),
            ("example", lambda row, out: example(row)),
            ("tfrecord", lambda row, out: frame(example(row))),
            ("write", lambda row, out: out.write(frame(example(row)))),
        ]
        for step, run in steps:
            start = time.perf_counter()
            with open(out_path, "wb") as out:
                for row in rows:
                    run(row, out)
            elapsed = time.perf_counter() - start
            print(json.dumps({"impl": "python", "step": step, "images": len(rows),
                              "images_per_s": len(rows) / elapsed}), flush=True)


if __name__ == "__main__":
    main()
