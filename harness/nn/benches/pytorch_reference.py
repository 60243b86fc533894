#!/usr/bin/env python3
"""The compbench-nn models and default recipes in PyTorch, for epoch-time and accuracy ratios.

Not run in CI. Usage:
    python3 harness/nn/benches/pytorch_reference.py --model cnn [--epochs N] [--threads 2] [--data DIR]
Prints one JSON object per model:
    {"model","epochs","epoch_s","train_s","test_accuracy","params"}
The architectures, initialization family (PyTorch defaults), normalization, optimizer,
schedule (linear warm-up then cosine), label smoothing and batch size match
harness/nn/src/{models,train}; the data order and initial values do not (different RNGs).
"""
import argparse, gzip, json, math, os, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN, STD = 0.2860, 0.3530
# Mirrors TrainConfig::for_model (epochs, lr, weight_decay, warmup_epochs, label_smoothing).
RECIPES = {
    "mlp": dict(epochs=15, lr=1e-3, wd=1e-4, warmup=0.5, smoothing=0.0),
    "cnn": dict(epochs=10, lr=2e-3, wd=1e-4, warmup=0.5, smoothing=0.0),
    "vit": dict(epochs=4, lr=2e-3, wd=0.05, warmup=0.5, smoothing=0.0),
}
MIN_LR_RATIO = 0.01


def load_idx(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rb") as f:
        data = f.read()
    nd = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def find(data_dir, name):
    for d in [data_dir, os.path.join(data_dir, "fashion-mnist")]:
        for n in [name + ".gz", name]:
            if os.path.exists(os.path.join(d, n)):
                return os.path.join(d, n)
    raise SystemExit(f"{name} not found under {data_dir}; run `compbench data fetch`")


def load(data_dir):
    def split(img, lab):
        x = load_idx(find(data_dir, img)).astype(np.float32) / 255.0
        x = torch.from_numpy((x - MEAN) / STD).unsqueeze(1)
        y = torch.from_numpy(load_idx(find(data_dir, lab)).astype(np.int64))
        return x, y
    return split("train-images-idx3-ubyte", "train-labels-idx1-ubyte"), split("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(784, 256), nn.Linear(256, 128), nn.Linear(128, 10)

    def forward(self, x):
        x = x.flatten(1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 16, 3, padding=1), nn.Conv2d(16, 32, 3, padding=1)
        self.fc1, self.fc2 = nn.Linear(1568, 128), nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


class Block(nn.Module):
    def __init__(self, d, heads, hidden):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc1, self.fc2 = nn.Linear(d, hidden), nn.Linear(hidden, d)

    def forward(self, x):
        b, t, d = x.shape
        dh = d // self.heads
        qkv = self.qkv(self.ln1(x)).reshape(b, t, 3, self.heads, dh).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        p = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(dh), dim=-1)
        x = x + self.proj((p @ v).transpose(1, 2).reshape(b, t, d))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class Vit(nn.Module):
    def __init__(self, d=64, depth=4, heads=4, mlp_ratio=2, patch=4):
        super().__init__()
        self.patch, t = patch, (28 // patch) ** 2
        self.patch_embed = nn.Linear(patch * patch, d)
        self.pos = nn.Parameter(torch.randn(t, d) * 0.02)
        self.blocks = nn.ModuleList([Block(d, heads, d * mlp_ratio) for _ in range(depth)])
        self.ln_f, self.head = nn.LayerNorm(d), nn.Linear(d, 10)

    def forward(self, x):
        b, p = x.shape[0], self.patch
        x = x.reshape(b, 1, 28 // p, p, 28 // p, p).permute(0, 2, 4, 1, 3, 5).reshape(b, -1, p * p)
        x = self.patch_embed(x) + self.pos
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln_f(x.mean(1)))


def lr_at(step, total, spe, r):
    warm = round(r["warmup"] * spe)
    if step < warm:
        return r["lr"] * (step + 1) / warm
    t = min((step - warm) / max(total - warm, 1), 1.0)
    lo = r["lr"] * MIN_LR_RATIO
    return lo + 0.5 * (r["lr"] - lo) * (1 + math.cos(math.pi * t))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["mlp", "cnn", "vit", "all"], default="all")
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default=os.environ.get("COMPBENCH_DATA", "/usr/share/datasets"))
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    (xtr, ytr), (xte, yte) = load(a.data)
    for name in ["mlp", "cnn", "vit"] if a.model == "all" else [a.model]:
        r = dict(RECIPES[name])
        if a.epochs:
            r["epochs"] = a.epochs
        model = {"mlp": Mlp, "cnn": Cnn, "vit": Vit}[name]()
        opt = torch.optim.AdamW(model.parameters(), lr=r["lr"], weight_decay=r["wd"], eps=1e-5)
        bs, n = 128, len(ytr)
        spe = math.ceil(n / bs)
        total, step, times = spe * r["epochs"], 0, []
        start = time.time()
        for _ in range(r["epochs"]):
            t0 = time.time()
            model.train()
            perm = torch.randperm(n)
            for i in range(0, n, bs):
                idx = perm[i:i + bs]
                for g in opt.param_groups:
                    g["lr"] = lr_at(step, total, spe, r)
                loss = F.cross_entropy(model(xtr[idx]), ytr[idx], label_smoothing=r["smoothing"])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
            times.append(time.time() - t0)
        train_s = time.time() - start
        model.eval()
        with torch.no_grad():
            correct = sum((model(xte[i:i + 500]).argmax(1) == yte[i:i + 500]).sum().item() for i in range(0, len(yte), 500))
        print(json.dumps({
            "model": name, "epochs": r["epochs"], "epoch_s": sum(times) / len(times), "train_s": train_s,
            "test_accuracy": correct / len(yte), "params": sum(p.numel() for p in model.parameters()),
        }), flush=True)


if __name__ == "__main__":
    main()
