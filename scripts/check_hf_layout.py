#!/usr/bin/env python3
"""Checks a model (or PEFT adapter) folder written by vl4j against what the Hugging Face tools write and read,
with plain Python, and with PyTorch when it is installed (no safetensors or transformers package needed).

    check_hf_layout.py OUT [SOURCE]       OUT: model folder or adapter folder; SOURCE: the model it came from

Every .safetensors file is checked as the safetensors library reads it (u64 header length, a JSON object starting
with '{', data offsets contiguous from 0 to the end of the file, sizes = dtype x shape) and as it writes it (header
padded with spaces to 8 bytes, metadata {"format": "pt"}, tensors ordered by dtype alignment then name);
model.safetensors.index.json as transformers writes it (json.dumps(indent=2, sort_keys=True) + newline, metadata
total_size, every tensor in weight_map, shard names model-0000i-of-0000N.safetensors). With SOURCE: the same tensor
names, shapes and dtypes as the source, and tensors whose bytes did not change are listed. With PyTorch: every tensor
is built as a torch tensor of its dtype and shape, and unchanged ones compared with torch.equal.
Prints one line per finding; exit 0 when everything holds.
"""
import json
import os
import re
import struct
import sys

# safetensors' Dtype enum order (larger alignment later): files lay tensors out from the last to the first
DTYPE_ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64"]
DTYPE_SIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
              "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8}

problems = []


def fail(msg):
    problems.append(msg)
    print("FAIL " + msg)


def read_safetensors(path, strict=True):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    raw = data[8:8 + n]
    if not raw.startswith(b"{"):
        fail(f"{path}: header does not start with '{{'")
    if n % 8 != 0:
        fail(f"{path}: header length {n} is not padded to 8 bytes")
    header = json.loads(raw.decode("utf-8"))
    meta = header.pop("__metadata__", None)
    if strict and meta != {"format": "pt"}:
        fail(f"{path}: metadata {meta}, transformers writes {{'format': 'pt'}}")
    names = list(header.keys())
    want = sorted(names, key=lambda k: (-DTYPE_ORDER.index(header[k]["dtype"]), k.encode("utf-8")))
    if strict and names != want:
        fail(f"{path}: tensors not in safetensors' order (dtype alignment, then name)")
    pos = 0
    for k in sorted(names, key=lambda k: header[k]["data_offsets"][0]):
        e = header[k]
        b, end = e["data_offsets"]
        size = DTYPE_SIZE[e["dtype"]]
        for d in e["shape"]:
            size *= d
        if b != pos or end - b != size:
            fail(f"{path}: tensor {k} offsets {e['data_offsets']} (expected [{pos}, {pos + size}])")
        pos = end
    if 8 + n + pos != len(data):
        fail(f"{path}: data section ends at {8 + n + pos}, the file has {len(data)} bytes")
    return header, data[8 + n:]


def load_folder(folder, strict=True):
    """name -> (dtype, shape, bytes); strict: also hold the files to how the Python tools write them."""
    tensors = {}
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        text = open(index, encoding="utf-8").read()
        idx = json.loads(text)
        if strict and text != json.dumps(idx, indent=2, sort_keys=True) + "\n":
            fail(f"{index}: not json.dumps(indent=2, sort_keys=True) + newline")
        if set(idx) != {"metadata", "weight_map"} or "total_size" not in idx["metadata"]:
            fail(f"{index}: keys {sorted(idx)} / metadata {idx.get('metadata')}")
        shards = sorted(set(idx["weight_map"].values()))
        n = len(shards)
        if shards != ["model-%05d-of-%05d.safetensors" % (i + 1, n) for i in range(n)]:
            fail(f"{index}: shard names {shards}")
        total = 0
        for shard in shards:
            header, body = read_safetensors(os.path.join(folder, shard), strict)
            listed = {k for k, v in idx["weight_map"].items() if v == shard}
            if listed != set(header):
                fail(f"{shard}: holds {len(header)} tensors, the index lists {len(listed)} for it")
            for k, e in header.items():
                b, end = e["data_offsets"]
                tensors[k] = (e["dtype"], e["shape"], body[b:end])
                total += end - b
        if total != idx["metadata"]["total_size"]:
            fail(f"{index}: total_size {idx['metadata']['total_size']}, the shards hold {total} bytes")
        return tensors
    for name in ("model.safetensors", "adapter_model.safetensors"):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            header, body = read_safetensors(path, strict)
            for k, e in header.items():
                b, end = e["data_offsets"]
                tensors[k] = (e["dtype"], e["shape"], body[b:end])
            return tensors
    fail(f"{folder}: no model.safetensors, index or adapter_model.safetensors")
    return tensors


def main():
    out = sys.argv[1]
    source = sys.argv[2] if len(sys.argv) > 2 else None
    tensors = load_folder(out)
    adapter = os.path.join(out, "adapter_config.json")
    if os.path.exists(adapter):
        text = open(adapter, encoding="utf-8").read()
        cfg = json.loads(text)
        if text.rstrip("\n") != json.dumps(cfg, indent=2, sort_keys=True):
            fail(f"{adapter}: not json.dumps(indent=2, sort_keys=True)")
        for k in tensors:
            if not re.fullmatch(r"base_model\.model\..+\.lora_[AB]\.weight", k):
                fail(f"{adapter}: key {k} is not a PEFT LoRA key")
    unchanged = 0
    if source:
        src = load_folder(source, strict=False)
        if set(src) != set(tensors):
            fail(f"tensor names differ from the source: {sorted(set(src) ^ set(tensors))[:5]}")
        for k in sorted(set(src) & set(tensors)):
            if src[k][1] != tensors[k][1]:
                fail(f"{k}: shape {tensors[k][1]}, the source's is {src[k][1]}")
            if src[k][0] == tensors[k][0] and src[k][2] == tensors[k][2]:
                unchanged += 1
        for f in sorted(os.listdir(source)):
            if f.endswith(".json") and "index" not in f and not os.path.exists(os.path.join(out, f)):
                fail(f"{f} of the source is not in {out}")
    try:
        import torch
        tdt = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64,
               "I32": torch.int32, "U8": torch.uint8, "I8": torch.int8, "F64": torch.float64}
        for k, (dt, shape, raw) in tensors.items():
            t = torch.frombuffer(bytearray(raw), dtype=tdt[dt]).reshape(shape) if raw else torch.empty(shape, dtype=tdt[dt])
            if source and src[k][0] == dt and src[k][2] == raw:
                s = torch.frombuffer(bytearray(src[k][2]), dtype=tdt[dt]).reshape(src[k][1])
                if not torch.equal(s, t):
                    fail(f"{k}: torch sees different values")
        with_torch = f", read with torch {torch.__version__}"
    except ImportError:
        with_torch = " (torch not installed: bytes only)"
    dtypes = sorted({v[0] for v in tensors.values()})
    print(f"{'OK' if not problems else 'FAILED'} {out}: {len(tensors)} tensors {dtypes}"
          + (f", {unchanged} byte-identical to the source" if source else "") + with_torch)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
