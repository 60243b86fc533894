#!/usr/bin/env python3
"""Per-layer evidence of a `compbench reproduce lpvit` run, from its rows.csv (markdown).

    python3 scripts/lpvit_layers.py <run>/rows.csv [flops_kept]

1. The per-layer sparsity each 16×16 block-prune configuration chose at `flops_kept`
   (default 0.5): rows are one per configuration (first hardware row).
2. The distortion proxy against the measured single-layer output distortion (the taylor2 rows
   with measure_distortion): Spearman of δ = term 1 + term 2 and of term 1 alone; term 2 over
   term 1 and the damping's share of term 2 (medians over layers at s = 0.5).
3. Both Taylor terms per layer at s = 25 / 50 / 75 % (taylor2 at `flops_kept`): the curves'
   shape.
4. How much the allocation moves between configurations that differ only in their label (the
   method seed, hence the calibration images, is derived from the label; fine-tuning and KD
   come after the allocation): mean |Δs| over layers between pairs.
"""
import csv
import sys

KINDS = ["qkv", "proj", "fc1", "fc2"]
NAMES = [f"{KINDS[(i - 1) % 4]}{(i - 1) // 4}" for i in range(1, 17)]


def num(x):
    return float(x) if x not in ("", None) else float("nan")


def main():
    rows = list(csv.DictReader(open(sys.argv[1])))
    want = sys.argv[2] if len(sys.argv) > 2 else "0.5"
    configs = {}
    for r in rows:
        if r["method"] != "block-prune":
            continue
        key = (r["label"], r["p_method_flops_kept"], r["p_method_block_rows"], r["p_method_block_cols"])
        configs.setdefault(key, r)
    at = {k[0]: r for k, r in configs.items() if k[1] == want and k[2] == "16" and k[3] == "16"}

    print(f"### Per-layer sparsity at {want} of the pruned layers' FLOPs (16×16 blocks)\n")
    print("| label | accuracy % | " + " | ".join(NAMES) + " |")
    print("|---|---:|" + "---:|" * 16)
    for label, r in at.items():
        sp = " | ".join(f"{num(r[f'method_layer{i}_sparsity']):.2f}" for i in range(1, 17))
        print(f"| {label} | {100 * num(r['accuracy']):.2f} | {sp} |")

    print("\n### Proxy against measured single-layer distortion (taylor2)\n")
    print("| flops kept | Spearman δ (term 1 + 2) | Spearman term 1 only | term 2 / term 1 | damping share of term 2 |")
    print("|---:|---:|---:|---:|---:|")
    for k, r in configs.items():
        if k[0] == "taylor2" and r.get("method_distortion_spearman"):
            print(f"| {k[1]} | {num(r['method_distortion_spearman']):.3f} | "
                  f"{num(r.get('method_distortion_spearman_term1')):.3f} | "
                  f"{num(r.get('method_rank1_over_diag')):.3g} | {num(r.get('method_damping_share')):.3g} |")

    r = at.get("taylor2")
    if r is not None and r.get("method_layer1_diag_s50"):
        print(f"\n### Taylor terms per layer (taylor2, calibration of the {want} row)\n")
        print("| layer | term 1 at 25 / 50 / 75 % | term 2 at 25 / 50 / 75 % |")
        print("|---|---|---|")
        for i in range(1, 17):
            d = " / ".join(f"{num(r[f'method_layer{i}_diag_s{p}']):.2e}" for p in (25, 50, 75))
            q = " / ".join(f"{num(r[f'method_layer{i}_rank1_s{p}']):.2e}" for p in (25, 50, 75))
            print(f"| {NAMES[i - 1]} | {d} | {q} |")

    print(f"\n### Allocation spread between labels with the same allocation parameters ({want})\n")
    print("| pair | mean abs. difference of layer sparsity |")
    print("|---|---:|")
    pairs = [("taylor2", "taylor2-ft"), ("taylor2", "taylor2-ft-kd"), ("taylor2-ft", "taylor2-ft-kd"),
             ("taylor1", "taylor1-ft"), ("l1", "l1-ft")]
    for a, b in pairs:
        if a in at and b in at:
            d = [abs(num(at[a][f"method_layer{i}_sparsity"]) - num(at[b][f"method_layer{i}_sparsity"]))
                 for i in range(1, 17)]
            print(f"| {a} / {b} | {sum(d) / len(d):.3f} |")


if __name__ == "__main__":
    main()
