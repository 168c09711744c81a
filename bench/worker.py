"""Generation jobs across several people's adapters: resident base pipeline vs reload per job.

CPU, tiny models built into a temporary directory. Prints one JSON object:

    python bench/worker.py [--jobs 12] [--adapters 3] [--family sdxl|flux]

Each job generates `--images` images for one person (adapters in round-robin order, the worst
order for a cache). "resident" is the worker as built: one Generator for all jobs, its first
load included in the per-job figure; "reload" is the baseline: load the pipeline and the adapter
again for every job. swap_median_ms is the time to make a job's adapter active in the resident
Generator (loading it the first time it is seen). hotswap_* is a second resident Generator with
hotswap=True (one slot, weights copied in place). The three run job by job in turn.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402, I001
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from workers.pipeline.base import load_pipeline  # noqa: E402
from workers.pipeline.generate import Generator  # noqa: E402
from workers.pipeline.tiny import build_tiny_pipeline  # noqa: E402
from workers.pipeline.train import TrainConfig, train_lora  # noqa: E402


def make_adapters(model_dir: Path, family: str, count: int, root: Path) -> list[Path]:
    """Quick real trainings (a few steps on synthetic photos), one per person."""
    rng = np.random.default_rng(0)
    paths = []
    for person in range(count):
        photos = [
            Image.fromarray(rng.integers(0, 255, (96, 96, 3), dtype=np.uint8)) for _ in range(2)
        ]
        result = train_lora(
            model_dir=model_dir,
            family=family,
            images=photos,
            face_boxes=[None, None],
            config=TrainConfig(steps=3, learning_rate=1e-2, resolution=32, seed=person),
            work_dir=root / f"adapter-{person}",
            device="cpu",
        )
        paths.append(result.adapter_path)
    return paths


def job_requests(jobs: int, adapters: list[Path], images: int, steps: int) -> list[dict]:
    return [
        {
            "adapter": (adapters[job % len(adapters)], f"person-{job % len(adapters)}"),
            "prompt": "a photo of ohwx person, studio light",
            "negative_prompt": "blurry",
            "seeds": list(range(job * images, (job + 1) * images)),
            "steps": steps,
            "guidance": 4.0,
            "width": None,
            "height": None,
            "batch_size": images,
        }
        for job in range(jobs)
    ]


def run_interleaved(model_dir: Path, family: str, requests: list[dict]) -> dict[str, float]:
    """The three ways run job by job in turn, so that load from other processes on the machine
    falls on all of them alike."""
    started = {}
    resident = {}
    totals = {"resident": 0.0, "hotswap": 0.0, "reload": 0.0}
    swaps: dict[str, list[float]] = {"resident": [], "hotswap": []}
    loads: list[float] = []
    for mode, hotswap in (("resident", False), ("hotswap", True)):
        started[mode] = time.perf_counter()
        resident[mode] = Generator(model_dir, family, device="cpu", hotswap=hotswap)
        totals[mode] += time.perf_counter() - started[mode]  # the first load counts
    for request in requests:
        for mode, generator in resident.items():
            begin = time.perf_counter()
            generator.use(request["adapter"])
            swaps[mode].append(time.perf_counter() - begin)
            generator.generate(**request)
            totals[mode] += time.perf_counter() - begin
        begin = time.perf_counter()
        pipe = load_pipeline(model_dir, family, device="cpu")
        loads.append(time.perf_counter() - begin)
        Generator.from_pipeline(pipe, family).generate(**request)
        del pipe
        totals["reload"] += time.perf_counter() - begin
    jobs = len(requests)
    return {
        "resident_seconds_per_job": totals["resident"] / jobs,
        "hotswap_seconds_per_job": totals["hotswap"] / jobs,
        "reload_seconds_per_job": totals["reload"] / jobs,
        "swap_median_ms": 1000 * statistics.median(swaps["resident"]),
        "hotswap_swap_median_ms": 1000 * statistics.median(swaps["hotswap"]),
        "pipeline_load_median_ms": 1000 * statistics.median(loads),
        "pipeline_loads": resident["resident"].pipeline_loads,
        "adapter_loads": resident["resident"].adapter_loads,
        "hotswap_adapter_loads": resident["hotswap"].adapter_loads,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=12)
    parser.add_argument("--adapters", type=int, default=3)
    parser.add_argument("--family", choices=["sdxl", "flux"], default="sdxl")
    parser.add_argument("--images", type=int, default=4, help="images per job")
    parser.add_argument("--steps", type=int, default=8, help="denoising steps per image")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads (1: tiny models gain nothing from more, and on a shared "
        "machine their spin-waits make timings erratic)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory(prefix="likeness-bench-") as tmp:
        root = Path(tmp)
        model_dir = build_tiny_pipeline(args.family, root / f"tiny-{args.family}")
        adapters = make_adapters(model_dir, args.family, args.adapters, root)
        requests = job_requests(args.jobs, adapters, args.images, args.steps)
        # Warm-up (lazy initialisation in torch/diffusers) outside the measurement.
        warm_up = Generator(model_dir, args.family, device="cpu")
        warm_up.generate(**requests[0])
        del warm_up
        result = run_interleaved(model_dir, args.family, requests)

    print(
        json.dumps(
            {
                "jobs": args.jobs,
                "adapters": args.adapters,
                "resident_seconds_per_job": round(result["resident_seconds_per_job"], 4),
                "reload_seconds_per_job": round(result["reload_seconds_per_job"], 4),
                "reload_over_resident": round(
                    result["reload_seconds_per_job"] / result["resident_seconds_per_job"], 2
                ),
                "swap_median_ms": round(result["swap_median_ms"], 2),
                "reload_overhead_seconds_per_job": round(
                    result["reload_seconds_per_job"] - result["resident_seconds_per_job"], 4
                ),
                "pipeline_load_median_ms": round(result["pipeline_load_median_ms"], 1),
                "hotswap_resident_seconds_per_job": round(result["hotswap_seconds_per_job"], 4),
                "hotswap_swap_median_ms": round(result["hotswap_swap_median_ms"], 2),
                "resident_pipeline_loads": result["pipeline_loads"],
                "resident_adapter_loads": result["adapter_loads"],
                "hotswap_adapter_loads": result["hotswap_adapter_loads"],
                "family": args.family,
                "images_per_job": args.images,
                "steps": args.steps,
                "device": "cpu",
                "threads": args.threads,
            }
        )
    )


if __name__ == "__main__":
    main()
