"""Reads a dataset written by `tfprep convert --spec planet` the way the seed's tf.keras code does,
without TensorFlow and without any of tfprep's code, and checks every record against the source
CSV and JPEGs.

For each shard listed in dataset.json: the TFRecord framing is parsed and every CRC-32C verified
(pytfrecord), GZIP shards are gunzipped as compression_type="GZIP" would, each record is parsed as
a tf.train.Example with the python protobuf runtime, and the seed's _parse_record is applied:
"image", "weather_labels" and "ground_labels" as single bytes values decoded as little-endian
float32 (tf.io.decode_raw) and reshaped to (128, 128, 3), (4,), (13,). Each record's image is
compared with the Keras path recomputed with PIL for its image_name:

    img = Image.open(images/NAME.jpg); img = img.convert("RGB") if img.mode != "RGB"
    img = img.resize((128, 128), Image.NEAREST); x = np.asarray(img, dtype=np.float32) / 255.

(keras.utils.load_img + img_to_array / 255). With --max-levels 0 (the default) images must be
bit-identical; a larger bound (pure-Go decoder builds) allows that many 0..255 levels per value
and --mean-levels on average per image. Labels must equal ast.literal_eval of the CSV cells, every
CSV row must appear exactly once across the splits, and record counts must match dataset.json.

Prints one JSON line: records, splits, shards, mismatches and the largest image distance seen,
and exits 1 when anything does not match (each problem is described on stderr).
"""

import argparse
import ast
import csv
import json
import os
import sys
import tempfile

import numpy as np
from PIL import Image

import pytfrecord

SHAPES = {"image": (128, 128, 3), "weather_labels": (4,), "ground_labels": (13,)}
LABELS = ("weather_labels", "ground_labels")


def parse_record(example, path, index):
    """The seed's _parse_record: three FixedLenFeature([], tf.string) + decode_raw(tf.float32)."""
    out = {}
    feature = example.features.feature
    for name, shape in SHAPES.items():
        values = feature[name].bytes_list.value if name in feature else []
        if len(values) != 1:
            raise ValueError("%s record %d: %s has %d bytes values, want 1" % (path, index, name, len(values)))
        out[name] = np.frombuffer(values[0], dtype="<f4").reshape(shape)
    names = feature["image_name"].bytes_list.value
    if len(names) != 1:
        raise ValueError("%s record %d: image_name has %d values, want 1" % (path, index, len(names)))
    out["image_name"] = names[0].decode("utf-8")
    return out


def keras_pixels(path):
    img = Image.open(path)
    if img.mode != "RGB":
        img = img.convert("RGB")
    img = img.resize((128, 128), Image.NEAREST)
    return np.asarray(img, dtype=np.float32) / 255.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--proto-root", required=True)
    ap.add_argument("--max-levels", type=int, default=0)
    ap.add_argument("--mean-levels", type=float, default=0.0)
    args = ap.parse_args()

    problems = []

    def problem(msg):
        problems.append(msg)
        print(msg, file=sys.stderr)

    with tempfile.TemporaryDirectory() as gen:
        example_pb2 = pytfrecord.load_example_pb2(args.proto_root, gen)

        with open(args.csv, newline="") as f:
            rows = {}
            for line, row in enumerate(csv.DictReader(f), start=2):
                rows[row["image_name"]] = (line, row)

        with open(os.path.join(args.dataset, "dataset.json")) as f:
            manifest = json.load(f)

        seen = {}
        splits = {}
        shards = 0
        records = 0
        image_mismatches = 0
        label_mismatches = 0
        worst_levels = 0
        worst_mean = 0.0
        pixels_cache = {}
        for split in manifest["splits"]:
            split_records = 0
            for shard in split["shards"]:
                path = os.path.join(args.dataset, shard["file"])
                shards += 1
                shard_records = 0
                for offset, data in pytfrecord.read_records(path):
                    example = example_pb2.Example()
                    example.ParseFromString(data)
                    rec = parse_record(example, path, shard_records)
                    where = "%s:%d (record %d, %s)" % (shard["file"], offset, shard_records, rec["image_name"])
                    shard_records += 1
                    name = rec["image_name"]
                    if name in seen:
                        problem("%s: image_name also in %s" % (where, seen[name]))
                    seen[name] = where
                    if name not in rows:
                        problem("%s: not a row of %s" % (where, args.csv))
                        continue
                    line, row = rows[name]
                    for label in LABELS:
                        want = np.array(ast.literal_eval(row[label]), dtype=np.float32)
                        if rec[label].tobytes() != want.tobytes():
                            label_mismatches += 1
                            problem("%s: %s = %s, CSV line %d says %s" % (where, label, rec[label].tolist(), line, row[label]))
                    if name not in pixels_cache:
                        pixels_cache[name] = keras_pixels(os.path.join(args.images, name + ".jpg"))
                    want = pixels_cache[name]
                    got = rec["image"]
                    if got.tobytes() == want.tobytes():
                        continue
                    levels = np.abs(np.rint(got.astype(np.float64) * 255) - np.rint(want.astype(np.float64) * 255))
                    max_levels, mean_levels = int(levels.max()), float(levels.mean())
                    worst_levels, worst_mean = max(worst_levels, max_levels), max(worst_mean, mean_levels)
                    if max_levels > args.max_levels or mean_levels > args.mean_levels:
                        image_mismatches += 1
                        problem("%s: image differs from Keras/PIL by up to %d levels (mean %.4f)" % (where, max_levels, mean_levels))
                if shard_records != shard["records"]:
                    problem("%s: %d records, dataset.json says %d" % (shard["file"], shard_records, shard["records"]))
                split_records += shard_records
            if split_records != split["records"]:
                problem("split %s: %d records, dataset.json says %d" % (split["name"], split_records, split["records"]))
            splits[split["name"]] = split_records
            records += split_records

        for name, (line, _) in sorted(rows.items(), key=lambda kv: kv[1][0]):
            if name not in seen:
                problem("%s line %d: %s is in no split" % (args.csv, line, name))
        if manifest["rows"]["written"] != records:
            problem("dataset.json rows.written = %d, read %d records" % (manifest["rows"]["written"], records))

    print(json.dumps({
        "records": records,
        "csv_rows": len(rows),
        "splits": splits,
        "shards": shards,
        "image_mismatches": image_mismatches,
        "label_mismatches": label_mismatches,
        "max_levels": worst_levels,
        "max_mean_levels": worst_mean,
        "problems": len(problems),
    }, sort_keys=True))
    return 1 if problems else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except pytfrecord.FramingError as e:
        print(e, file=sys.stderr)
        sys.exit(1)
