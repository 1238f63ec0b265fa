"""TFRecord framing and tf.train.Example protos for tfprep's end-to-end tests, written
independently of tfprep from TensorFlow's format description: each record is

    uint64 length (little-endian)
    uint32 masked CRC-32C of the 8 length bytes
    length bytes of data
    uint32 masked CRC-32C of the data

with mask(crc) = ((crc >> 15) | (crc << 17)) + 0xa282ead8 (mod 2**32). A whole file may be a
GZIP stream (TensorFlow's compression_type="GZIP"). Only the standard library is used here, so
nothing of tfprep's Go code (or Go's hash/crc32) is trusted by the reader.
"""

import gzip
import importlib
import os
import struct
import subprocess
import sys

_CASTAGNOLI = 0x82F63B78  # CRC-32C polynomial, bit-reversed


def _make_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ _CASTAGNOLI if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _make_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    table = _TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc(data):
    crc = crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


class FramingError(Exception):
    pass


def open_stream(path):
    """The uncompressed bytes of a TFRecord file, gunzipped when its name ends in .gz."""
    with open(path, "rb") as f:
        raw = f.read()
    if path.endswith(".gz"):
        return gzip.decompress(raw)
    return raw


def read_records(path):
    """Yields (offset, data) for every record of path, checking both CRCs of each."""
    stream = open_stream(path)
    offset = 0
    while offset < len(stream):
        if len(stream) - offset < 12:
            raise FramingError("%s: offset %d: truncated header" % (path, offset))
        header = stream[offset:offset + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", stream[offset + 8:offset + 12])
        if length_crc != masked_crc(header):
            raise FramingError("%s: offset %d: length CRC mismatch" % (path, offset))
        end = offset + 12 + length + 4
        if end > len(stream):
            raise FramingError("%s: offset %d: truncated record" % (path, offset))
        data = stream[offset + 12:offset + 12 + length]
        (data_crc,) = struct.unpack("<I", stream[end - 4:end])
        if data_crc != masked_crc(data):
            raise FramingError("%s: offset %d: data CRC mismatch" % (path, offset))
        yield offset, data
        offset = end


def frame(data):
    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", masked_crc(header)) + data + struct.pack("<I", masked_crc(data))


def load_example_pb2(proto_root, out_dir):
    """Compiles tensorflow/core/example/{feature,example}.proto under proto_root with protoc
    into out_dir and imports the generated example_pb2 module."""
    protos = [os.path.join("tensorflow", "core", "example", name)
              for name in ("feature.proto", "example.proto")]
    subprocess.run(["protoc", "-I", proto_root, "--python_out", out_dir] + protos, check=True)
    sys.path.insert(0, out_dir)
    return importlib.import_module("tensorflow.core.example.example_pb2")
