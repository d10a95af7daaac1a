"""A synthetic S3-Rec-format dataset with the counts of a real one (for timing the bench).

The biggest S3-Rec Amazon file, ``Sports_and_Outdoors.txt``, has 35,598 users, 18,357 items
and 296,337 interactions; it is not in the shared data. This writes a file of exactly that
size in the same format (``user item item …`` per line, ids from 1, 5-core-like lengths:
at least 5 items per user, no repeats within a user), plus ``<name>_item2attributes.json``
and a P5-style ``datamaps.json`` so that the items have attribute names as text. It is
meant for timing and memory only — its numbers say nothing about real recommendation
quality — and is written OUTSIDE the project (e.g. ``/work/extra-data``).

How users behave: items belong to topics; item popularity is Zipf-like within and across
topics; every user has one or two topics; each next item is, with probability 0.5, one of
the previous item's ten fixed successors (a sequential pattern), else a popular item of
the user's topics (0.35) or of the whole catalogue (0.15). Lengths are ``5 +`` a
lognormal draw, scaled so that the total matches.

    python -m experiments.bench.synthetic_s3rec --out /work/extra-data       # Sports size
    onefeed replay --dataset s3rec:Sports_synthetic --data-dir /work/extra-data ...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SPORTS = {"users": 35_598, "items": 18_357, "interactions": 296_337}


def lengths(n_users: int, total: int, rng: np.random.Generator) -> np.ndarray:
    """Per-user sequence lengths (``>= 5``) summing to ``total``."""
    extra = rng.lognormal(mean=0.5, sigma=1.1, size=n_users)
    extra *= (total - 5 * n_users) / extra.sum()
    out = 5 + np.floor(extra).astype(np.int64)
    short = total - out.sum()
    out[rng.choice(n_users, size=int(short), replace=False)] += 1
    return out


def generate(
    n_users: int, n_items: int, total: int, seed: int = 0, n_topics: int = 300
) -> tuple[list[list[int]], np.ndarray]:
    """Sequences (0-based item ids) and the topic of every item.

    Returns:
        ``(sequences, topic)``; every item occurs at least once.
    """
    rng = np.random.default_rng([seed, 0x53503])
    n_topics = max(1, min(n_topics, n_items // 20))
    topic = rng.permutation(np.arange(n_items) % n_topics)  # every topic has items
    pop = 1.0 / (1.0 + rng.permutation(n_items)) ** 0.8
    members = [np.nonzero(topic == t)[0] for t in range(n_topics)]
    member_p = [pop[m] / pop[m].sum() for m in members]
    successors = np.empty((n_items, 10), dtype=np.int64)
    for t, m in enumerate(members):
        successors[m] = rng.choice(m, size=(len(m), 10), p=member_p[t])
    global_draws = iter(rng.choice(n_items, size=2 * total, p=pop / pop.sum()).tolist())
    seqs: list[list[int]] = []
    for length in lengths(n_users, total, rng):
        topics = rng.choice(n_topics, size=int(rng.integers(1, 3)), replace=False)
        seq: list[int] = []
        seen: set[int] = set()
        while len(seq) < length:
            r = rng.random()
            if seq and r < 0.5:
                item = int(successors[seq[-1], rng.integers(10)])
            elif r < 0.85:
                t = int(rng.choice(topics))
                item = int(rng.choice(members[t], p=member_p[t]))
            else:
                item = next(global_draws)
            if item not in seen:
                seen.add(item)
                seq.append(item)
        seqs.append(seq)
    used = np.zeros(n_items, dtype=bool)
    for s in seqs:
        used[s] = True
    for item in np.nonzero(~used)[0]:  # every item occurs: replace a random later position
        while True:
            s = seqs[int(rng.integers(len(seqs)))]
            pos = int(rng.integers(1, len(s)))
            if item not in s:
                s[pos] = int(item)
                break
    return seqs, topic


def write(out: Path, name: str, seqs: list[list[int]], topic: np.ndarray, seed: int = 0) -> None:
    """Write ``amazon-s3rec/<name>.txt``, its attributes and ``amazon-p5-datamaps``."""
    rng = np.random.default_rng([seed, 0xA77])
    n_items = len(topic)
    n_brands = max(n_items // 20, 1)
    brand = rng.integers(0, n_brands, size=n_items)
    # attribute ids (1-based, in datamap order): brands, then topics as categories
    n_topics = int(topic.max()) + 1
    item_attrs = {
        str(i + 1): [int(brand[i]) + 1, n_brands + int(topic[i]) + 1] for i in range(n_items)
    }
    names = {str(b + 1): f"Brand{b}" for b in range(n_brands)}
    names.update({str(n_brands + t + 1): f"Sports > Topic{t}" for t in range(n_topics)})
    counts: dict[str, int] = {}
    for attrs in item_attrs.values():
        for a in attrs:
            counts[str(a)] = counts.get(str(a), 0) + 1
    used = sorted(int(a) for a in counts)
    # S3-Rec keeps attributes on >= 1 item here and numbers them 1.. in datamap id order
    renumber = {a: i + 1 for i, a in enumerate(used)}
    s3 = {k: [renumber[a] for a in v] for k, v in item_attrs.items()}
    data = out / "amazon-s3rec"
    data.mkdir(parents=True, exist_ok=True)
    with (data / f"{name}.txt").open("w", encoding="ascii") as f:
        for u, s in enumerate(seqs, start=1):
            f.write(f"{u} " + " ".join(str(i + 1) for i in s) + "\n")
    (data / f"{name}_item2attributes.json").write_text(json.dumps(s3), encoding="utf-8")
    maps = {
        "id2attribute": {str(a): names[str(a)] for a in used},
        "attributeid2num": {str(a): counts[str(a)] for a in used},
    }
    maps_dir = out / "amazon-p5-datamaps" / name.lower()
    maps_dir.mkdir(parents=True, exist_ok=True)
    (maps_dir / "datamaps.json").write_text(json.dumps(maps), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="data directory to write into")
    ap.add_argument("--name", default="Sports_synthetic")
    ap.add_argument("--users", type=int, default=SPORTS["users"])
    ap.add_argument("--items", type=int, default=SPORTS["items"])
    ap.add_argument("--interactions", type=int, default=SPORTS["interactions"])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    seqs, topic = generate(args.users, args.items, args.interactions, args.seed)
    write(args.out, args.name, seqs, topic, args.seed)
    n = sum(len(s) for s in seqs)
    path = args.out / "amazon-s3rec" / f"{args.name}.txt"
    print(f"wrote {path}: {len(seqs)} users, {len(topic)} items, {n} interactions")


if __name__ == "__main__":
    main()
