"""Benchmark the photo upload checks (apps.photos.analysis) and print JSON.

    .venv/bin/python bench/photo_checks.py [--repeat 21]

Measures, in one run on this machine:
- photo_12mp_*: analyze_photo on a 4000x3000 JPEG (the astronaut on a real-photo background,
  with sensor-like noise: ~2 MB, like a phone's 12 MP photo). Target: median <= 300 ms.
- decode_12mp_*: a full-resolution Pillow decode of the same file (the floor a naive pipeline
  pays before any check) and the DCT-scaled decode analyze_photo actually does.
- baseline_fullres_*: the naive approach for comparison: full decode + HOG detection at full
  resolution, before any embedding or encoding.
- set20_*: 20 distinct 12 MP photos, analyze_photo each + evaluate_set, end to end, in one
  process (target: <= 4 s) and split over 2 worker processes (the cpu queue runs several).
- hog_false_positives: on real photos without a face (scikit-image's) and with one face, how
  often raw HOG detections (dlib's default cut-off, upsample 1 as face_recognition does) would
  claim a face or a second face, against the verdict analyze_photo gives.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402
from skimage import data as skdata  # noqa: E402

from apps.photos import analysis, checks  # noqa: E402
from tests.photos import images  # noqa: E402

NO_FACE_IMAGES = (
    "brick",
    "cat",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "colorwheel",
    "grass",
    "gravel",
    "horse",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "page",
    "retina",
    "rocket",
    "text",
)


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 1)


def _timed(function, repeat: int, cpu_times: list[float] | None = None) -> list[float]:
    """Wall-clock seconds per call; CPU seconds of this process go to cpu_times if given (on a
    shared machine the wall clock also counts time spent waiting for a core)."""
    times = []
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        function()
        times.append(time.perf_counter() - started)
        if cpu_times is not None:
            cpu_times.append(time.process_time() - cpu_started)
    return times


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(np.ceil(0.95 * len(ordered))) - 1)]


def _full_decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _draft_decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.draft("RGB", (image.width // 2, image.height // 2))
    image.load()
    return image


def _analyze_in_worker(data: bytes) -> dict:
    result = analysis.analyze_photo(data)
    return {
        "sha256": result.sha256,
        "pixel_hash": result.pixel_hash,
        "phash": result.phash,
        "phash_mirror": result.phash_mirror,
        "embedding": result.embedding,
        "reasons": result.reasons,
        "accepted_jpeg": result.accepted_jpeg is not None,
    }


def _warm_worker() -> None:
    analysis.preload_models()


def _no_face_photos() -> dict[str, Image.Image]:
    photos = {}
    for name in NO_FACE_IMAGES:
        image = Image.fromarray(getattr(skdata, name)()).convert("RGB")
        photos[f"{name}@native"] = image
        scale = 1600 / max(image.size)  # phone-like size, so the downscaled path runs too
        photos[f"{name}@1600"] = image.resize(
            (round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC
        )
    return photos


def _one_face_photos() -> dict[str, bytes]:
    photos = {f"variant{i}": data for i, data in enumerate(images.good_variants())}
    for name in ("good_png", "good_webp", "good_heic", "rotated_with_exif", "with_gps_and_xmp"):
        photos[name] = getattr(images, name)()
    photos["astronaut@512"] = images.encode(images.astronaut(), "PNG")
    for seed in range(20):
        photos[f"12mp_seed{seed}"] = images.photo_12mp(seed)
    return photos


def hog_false_positives() -> dict:
    naive_spurious, ours_spurious, naive_candidates = [], [], {}
    no_face = _no_face_photos()
    for name, image in no_face.items():
        raw = analysis.face_candidates(image, upsample=1)
        naive_candidates[name] = len(raw)
        if raw:
            naive_spurious.append(name)
        result = analysis.analyze_photo(images.encode(image, "PNG"))
        if result.faces:
            ours_spurious.append(name)

    naive_multi, ours_multi, ours_missed, extra = [], [], [], {}
    for name, data in _one_face_photos().items():
        result = analysis.analyze_photo(data)
        oriented = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
        raw = analysis.face_candidates(oriented, upsample=1)
        if len(raw) > 1:
            naive_multi.append(name)
            extra[name] = [round(face.score, 2) for face in raw]
        if "multiple_faces" in result.reasons:
            ours_multi.append(name)
        if not result.faces:
            ours_missed.append(name)
    one_face_total = len(_one_face_photos())
    return {
        "no_face_images": len(no_face),
        "no_face_naive_claims_face": len(naive_spurious),
        "no_face_naive_claims_face_names": naive_spurious,
        "no_face_ours_claims_face": len(ours_spurious),
        "no_face_ours_claims_face_names": ours_spurious,
        "one_face_images": one_face_total,
        "one_face_naive_sees_several": len(naive_multi),
        "one_face_naive_sees_several_scores": extra,
        "one_face_ours_multiple_faces_verdict": len(ours_multi),
        "one_face_ours_multiple_faces_names": ours_multi,
        "one_face_ours_missed": len(ours_missed),
        "naive": "dlib detector(image, upsample=1), default cut-off 0, on the <=800 px copy",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--skip-false-positives", action="store_true")
    args = parser.parse_args()

    load_before = round(os.getloadavg()[0], 2)
    started = time.perf_counter()
    analysis.preload_models()
    model_load_ms = _ms(time.perf_counter() - started)

    photo = images.photo_12mp(0)
    analysis.analyze_photo(photo)  # warm caches

    full_decode = _timed(lambda: _full_decode(photo), args.repeat)
    draft_decode = _timed(lambda: _draft_decode(photo), args.repeat)
    stage_metrics: list[dict] = []

    def check() -> None:
        stage_metrics.append(analysis.analyze_photo(photo).metrics)

    photo_cpu: list[float] = []
    photo_times = _timed(check, args.repeat, photo_cpu)

    full_image = _full_decode(photo).convert("RGB")
    baseline_hog = _timed(lambda: analysis.face_candidates(full_image, max_side=None), 3)
    baseline_total = _timed(
        lambda: analysis.face_candidates(_full_decode(photo).convert("RGB"), max_side=None), 3
    )

    set_photos = [images.photo_12mp(seed) for seed in range(20)]
    set_started, set_cpu_started = time.perf_counter(), time.process_time()
    set_results = [analysis.analyze_photo(data) for data in set_photos]
    set_reasons = checks.evaluate_set(set_results)
    set20_seconds = time.perf_counter() - set_started
    set20_cpu_seconds = time.process_time() - set_cpu_started

    with ProcessPoolExecutor(max_workers=2, initializer=_warm_worker) as pool:
        list(pool.map(_analyze_in_worker, set_photos[:2]))  # start and warm both workers
        parallel_started = time.perf_counter()
        rows = list(pool.map(_analyze_in_worker, set_photos))
        checks.evaluate_set(rows)
        set20_parallel_seconds = time.perf_counter() - parallel_started

    def stage(key: str) -> float:
        return round(statistics.median(m[key] for m in stage_metrics), 1)

    report = {
        "photo_12mp_median_ms": _ms(statistics.median(photo_times)),
        "photo_12mp_p95_ms": _ms(_p95(photo_times)),
        "photo_12mp_cpu_median_ms": _ms(statistics.median(photo_cpu)),
        "photo_12mp_stages_median_ms": {
            name: stage(f"{name}_ms") for name in ("decode", "detect", "embed", "encode", "total")
        },
        "photo_12mp_bytes": len(photo),
        "decode_12mp_median_ms": _ms(statistics.median(full_decode)),
        "decode_12mp_dct_half_median_ms": _ms(statistics.median(draft_decode)),
        "baseline_fullres_hog_ms": _ms(statistics.median(baseline_hog)),
        "baseline_fullres_decode_and_hog_ms": _ms(statistics.median(baseline_total)),
        "speedup_vs_baseline_decode_and_hog": round(
            statistics.median(baseline_total) / statistics.median(photo_times), 1
        ),
        "set20_seconds": round(set20_seconds, 2),
        "set20_cpu_seconds": round(set20_cpu_seconds, 2),
        "set20_seconds_2_processes": round(set20_parallel_seconds, 2),
        "set20_accepted": sum(
            1 for r, s in zip(set_results, set_reasons, strict=True) if not r.reasons and not s
        ),
        "model_load_ms": model_load_ms,
        "repeat": args.repeat,
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_1m_before": load_before,
            "load_average_1m": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
        },
    }
    if not args.skip_false_positives:
        report["hog_false_positives"] = hog_false_positives()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
