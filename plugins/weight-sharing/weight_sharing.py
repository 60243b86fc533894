#!/usr/bin/env python3
"""Weight sharing by k-means (Han, Mao & Dally, "Deep Compression", ICLR 2016, section 3).

Each layer's weights are clustered into 2^bits values by 1-D k-means with linear
initialization (the paper's best-performing initialization: centroids evenly spaced between
the layer's min and max weight). Every weight is replaced by its centroid, so the layer is
stored as bits-wide indices plus a codebook of 2^bits f32 values. Unlike the paper, the
shared centroids are not fine-tuned afterwards.

Speaks compbench's external-method protocol 1 (docs/external-methods.md): one JSON request
on stdin, one JSON response on stdout. numpy is the only dependency.
"""
import json
import struct
import sys

import numpy as np

PROTOCOL = 1


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    body = raw[8 + n :]
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        if meta["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} is {meta['dtype']}, expected F32")
        b, e = meta["data_offsets"]
        out[name] = np.frombuffer(body[b:e], dtype="<f4").reshape(meta["shape"])
    return out


def write_safetensors(path, tensors):
    header, chunks, offset = {}, [], 0
    for name, arr in tensors.items():
        data = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for c in chunks:
            f.write(c)


def kmeans_1d(values, clusters, iterations):
    """Lloyd's k-means on scalars with linear initialization. Returns (centroids, labels)."""
    lo, hi = float(values.min()), float(values.max())
    centroids = np.linspace(lo, hi, clusters, dtype=np.float64)
    x = values.astype(np.float64)
    labels = None
    for _ in range(iterations):
        # With sorted centroids, the nearest one is found from the midpoints between them.
        centroids.sort()
        mids = (centroids[1:] + centroids[:-1]) / 2.0
        new = np.searchsorted(mids, x)
        if labels is not None and np.array_equal(new, labels):
            break
        labels = new
        sums = np.bincount(labels, weights=x, minlength=clusters)
        counts = np.bincount(labels, minlength=clusters)
        used = counts > 0
        # An empty cluster keeps its centroid (it stores no weight, so it changes nothing).
        centroids[used] = sums[used] / counts[used]
    centroids.sort()
    mids = (centroids[1:] + centroids[:-1]) / 2.0
    labels = np.searchsorted(mids, x)
    return centroids.astype(np.float32), labels


def main():
    req = json.load(sys.stdin)
    if req["protocol"] != PROTOCOL:
        sys.exit(f"weight-sharing speaks protocol {PROTOCOL}, got {req['protocol']}")
    p = req["params"]
    bits, iterations, which = int(p["bits"]), int(p["iterations"]), p["layers"]
    model = read_safetensors(req["model"]["weights"])
    out, layers = {}, []
    err, energy = 0.0, 0.0
    for layer in req["layers"]:
        name = layer["name"]
        w = model[f"{name}.weight"]
        entry = {"name": name}
        if which == "hidden" and (layer["first"] or layer["last"]):
            out[f"{name}.weight"] = w
        else:
            centroids, labels = kmeans_1d(w.reshape(-1), 1 << bits, iterations)
            shared = centroids[labels].reshape(w.shape)
            out[f"{name}.weight"] = shared
            entry["storage"] = {"index_bits": bits, "value_bits": 32}
            err += float(((shared.astype(np.float64) - w) ** 2).sum())
            energy += float((w.astype(np.float64) ** 2).sum())
        layers.append(entry)
        print(f"weight-sharing: {name} {layer['k']}x{layer['n']} done", file=sys.stderr)
    write_safetensors(req["output"], out)
    json.dump(
        {
            "protocol": PROTOCOL,
            "weights": req["output"],
            "layers": layers,
            "metrics": {"relative_weight_error": err / energy if energy > 0 else 0.0},
            "notes": [
                "weight sharing by k-means with linear initialization (Deep Compression section 3); "
                "the shared centroids are not fine-tuned afterwards, unlike the paper"
            ],
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
