"""Decode, normalise and measure one uploaded photo; face detection and face embeddings.

The only module in the project that imports dlib. Pure Python: no Django. The verdict logic
(reason codes, thresholds, set-level checks) lives in `apps.photos.checks`.

What analyze_photo does with the bytes it is given, in order:

1. File gate, before decoding: size limit, content sniffing (magic bytes; the file name and
   Content-Type are never consulted), Pillow restricted to JPEG/PNG/WebP/HEIF, pixel count from
   the header against max_pixels (and Pillow's decompression-bomb guard, never disabled).
2. Decode once. JPEGs use libjpeg's DCT scaling (Image.draft) straight to the stored size
   (~2048 px long side), far cheaper than a full-resolution decode plus a resample. EXIF
   orientation is applied, an ICC profile is converted to sRGB, alpha is flattened onto white.
3. Detect faces with dlib's HOG detector on a copy of ~800 px long side (upsample 0; a second
   pass with upsample 1 only when no face is found), then measure the main face on the
   decoded image: sharpness, exposure, landmarks and the 128-d descriptor (dlib ResNet).
4. Re-encode from a fresh pixel buffer, so no EXIF, GPS, XMP, ICC, comments or embedded
   thumbnails can survive, as RGB JPEG (quality 92), plus a square 512 px face crop.

Coordinates: `width`, `height`, `faces` and `face_box` are in the oriented original image's
pixels; the stored JPEG may be smaller (`accepted_width`/`accepted_height`,
`accepted_face_box`).

dlib models are loaded lazily, once per process, under a lock; dlib objects are not documented
as thread-safe, so each model is called under its own lock.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import logging
import math
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import dlib
import numpy as np
import pillow_heif
from PIL import Image, ImageCms, ImageOps

from apps.photos import checks
from apps.photos.checks import embedding_distance, robust_mean_embedding

__all__ = [
    "FaceDetection",
    "PhotoAnalysis",
    "PhotoRejected",
    "analyze_photo",
    "embedding_distance",
    "face_candidates",
    "face_embedding_for_image",
    "preload_models",
    "robust_mean_embedding",
]

logger = logging.getLogger(__name__)

pillow_heif.register_heif_opener()

# Pillow plugin ids Image.open may try; JPEG also yields "MPO" (multi-picture, from phones).
_PILLOW_FORMATS = ("JPEG", "PNG", "WEBP", "HEIF")
_REPORTED_FORMAT = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "HEIF": "HEIF"}
# ISO-BMFF brands of HEVC-coded HEIF (what phones write as .heic); AVIF is not accepted.
_HEVC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}
# Sharpness: the grey face box is resized to this square (near the smallest accepted face, so
# small faces are barely upscaled and large ones are judged at the same scale) and its contrast
# normalised to this standard deviation, so a dark or flat face does not read as blurry.
_SHARPNESS_SIZE = 128
_SHARPNESS_REF_STD = 40.0
_EMBED_FACE_PX = 200  # face box width the landmark/descriptor crop is scaled down to
_SRGB_PROFILE = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


class PhotoRejected(Exception):
    """A photo that cannot be used; `code` is a reason code from apps.photos.checks.REASONS.

    analyze_photo reports problems as reasons instead of raising; this is for callers that
    prefer an exception (e.g. `raise PhotoRejected(analysis.reasons[0])`)."""

    def __init__(self, code: str, message: str | None = None) -> None:
        self.code = code
        super().__init__(message or checks.REASONS.get(code, code))


@dataclass
class FaceDetection:
    box: tuple[int, int, int, int]  # left, top, right, bottom in the oriented original image
    score: float  # HOG detector score (0 is dlib's default cut-off; clear faces score 1-3)


@dataclass
class PhotoAnalysis:
    """Everything measured about one upload. `metrics` (JSON-safe numbers) holds: file_bytes;
    once decoded: width, height, brightness, dark_clip, bright_clip (whole image, 0..255 luma,
    fractions <= 3 / >= 252), face_count, face_candidates (raw HOG detections), detect_passes,
    decode_ms, detect_ms, encode_ms; with a face: face_width (original px), face_ratio,
    face_edge_gap, sharpness, face_brightness, face_dark_clip, face_bright_clip, embed_ms;
    always total_ms."""

    # sha256 of the uploaded bytes as received: available for every upload, even rejected ones,
    # and equal for the same file uploaded twice (the service can check it before decoding).
    sha256: str
    # sha256 of the normalised pixels (the stored image's RGB bytes and size): equal when the
    # same picture arrives with different metadata or in another lossless container.
    pixel_hash: str | None = None
    phash: int | None = None  # 64-bit DCT perceptual hash (unsigned) for near duplicates
    phash_mirror: int | None = None  # the same hash of the mirror image (selfie cameras)
    width: int = 0  # oriented original size
    height: int = 0
    format: str | None = None  # "JPEG", "PNG", "WEBP" or "HEIF"; None when not recognised
    faces: list[FaceDetection] = field(default_factory=list)  # counted faces, main face first
    face_box: tuple[int, int, int, int] | None = None  # the main face (set even if several)
    embedding: list[float] | None = None  # 128-d dlib descriptor of the main face
    metrics: dict[str, Any] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)  # single-photo reasons; [] = acceptable
    accepted_jpeg: bytes | None = None  # clean re-encoded JPEG; None if it could not be decoded
    face_crop_jpeg: bytes | None = None
    accepted_width: int | None = None  # size of accepted_jpeg
    accepted_height: int | None = None
    accepted_face_box: tuple[int, int, int, int] | None = None  # face_box in accepted_jpeg pixels

    @property
    def accepted(self) -> bool:
        return not self.reasons and self.accepted_jpeg is not None


# --- dlib models ------------------------------------------------------------------------------


@dataclass
class _Models:
    detector: Any
    shape_predictor: Any
    encoder: Any
    detector_lock: threading.Lock = field(default_factory=threading.Lock)
    encoder_lock: threading.Lock = field(default_factory=threading.Lock)


_models: _Models | None = None
_models_lock = threading.Lock()


def _model_dir() -> str:
    # `import face_recognition_models` fails (its __init__ needs pkg_resources); find the
    # package directory without importing it.
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("face-recognition-models is not installed")
    return os.path.join(list(spec.submodule_search_locations)[0], "models")


def _get_models() -> _Models:
    global _models
    if _models is None:
        with _models_lock:
            if _models is None:
                directory = _model_dir()
                _models = _Models(
                    detector=dlib.get_frontal_face_detector(),
                    shape_predictor=dlib.shape_predictor(
                        os.path.join(directory, "shape_predictor_5_face_landmarks.dat")
                    ),
                    encoder=dlib.face_recognition_model_v1(
                        os.path.join(directory, "dlib_face_recognition_resnet_model_v1.dat")
                    ),
                )
    return _models


def preload_models() -> None:
    """Load the dlib models now (e.g. at worker start) instead of on the first photo."""
    _get_models()


# --- Decoding ---------------------------------------------------------------------------------


class _Gate(Exception):
    """Internal: the file gate refused the bytes with `code`."""

    def __init__(self, code: str, detected_format: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.detected_format = detected_format


def _sniff(data: bytes) -> str | None:
    """The format the content says it is, from magic bytes only."""
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[4:8] == b"ftyp":
        major = data[8:12]
        box_size = int.from_bytes(data[:4], "big")
        compatible = {data[i : i + 4] for i in range(16, min(box_size, 64, len(data)) - 3, 4)}
        if major in _HEVC_BRANDS or compatible & _HEVC_BRANDS:
            return "HEIF"
        # A generic HEIF still ("mif1") that is not AVIF: pillow_heif decodes HEVC only.
        if major in (b"mif1", b"msf1") and not compatible & {b"avif", b"avis"}:
            return "HEIF"
    return None


def _pixel_limit(limits: dict[str, Any]) -> int:
    pillow_limit = Image.MAX_IMAGE_PIXELS
    if pillow_limit is None:  # someone disabled Pillow's guard: ours still applies
        return int(limits["max_pixels"])
    return int(min(limits["max_pixels"], pillow_limit))


def _to_rgb(img: Image.Image, icc: bytes | None = None) -> Image.Image:
    """RGB, sRGB: flatten alpha onto white, convert an embedded ICC profile when it is not sRGB."""
    icc = icc or img.info.get("icc_profile")
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        wide = np.asarray(img, dtype=np.float64)
        top = 65535.0 if wide.max() > 255 else 255.0
        img = Image.fromarray((wide * (255.0 / top)).clip(0, 255).astype(np.uint8), "L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(canvas, rgba)
    if icc and img.mode in ("RGB", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            description = ImageCms.getProfileDescription(source) or ""
            if img.mode == "CMYK" or "srgb" not in description.lower().replace(" ", ""):
                return ImageCms.profileToProfile(img, source, _SRGB_PROFILE, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # an unreadable profile is dropped; the pixels are used as they are
    return img.convert("RGB") if img.mode != "RGB" else img


def _decode(data: bytes, limits: dict[str, Any]) -> tuple[Image.Image, str, tuple[int, int]]:
    """The oriented RGB image at most accepted_max_side long, its format and original size."""
    sniffed = _sniff(data)
    if sniffed is None:
        raise _Gate(checks.UNSUPPORTED_FORMAT)
    try:
        img = Image.open(io.BytesIO(data), formats=_PILLOW_FORMATS)
    except Image.DecompressionBombError as exc:
        raise _Gate(checks.TOO_MANY_PIXELS, sniffed) from exc
    except Exception as exc:  # any parser failure on hostile input
        raise _Gate(checks.CORRUPT, sniffed) from exc
    reported = _REPORTED_FORMAT.get(img.format or "")
    if reported is None:
        raise _Gate(checks.UNSUPPORTED_FORMAT)
    width, height = img.size
    if width <= 0 or height <= 0:
        raise _Gate(checks.CORRUPT, reported)
    if width * height > _pixel_limit(limits):
        raise _Gate(checks.TOO_MANY_PIXELS, reported)

    target = int(limits["accepted_max_side"])
    if reported == "JPEG":
        # Largest DCT reduction that still leaves >= 90% of the stored size: 4000x3000 decodes
        # directly at 2000x1500.
        scale = 1
        for candidate in (8, 4, 2):
            if max(width, height) / candidate >= 0.9 * target:
                scale = candidate
                break
        if scale > 1:
            img.draft("RGB", (width // scale, height // scale))
    try:
        img.load()
    except Image.DecompressionBombError as exc:
        raise _Gate(checks.TOO_MANY_PIXELS, reported) from exc
    except Exception as exc:  # truncated or malformed data
        raise _Gate(checks.CORRUPT, reported) from exc
    try:
        oriented = ImageOps.exif_transpose(img)
    except Exception:  # malformed EXIF: the pixels are fine, keep them as stored
        logger.info("photo EXIF orientation unreadable; using the stored orientation")
        oriented = img
    try:
        rgb = _to_rgb(oriented, img.info.get("icc_profile"))
    except Exception as exc:  # a pixel mode Pillow cannot convert
        raise _Gate(checks.CORRUPT, reported) from exc
    if oriented.size != img.size:  # orientations 5-8 swap width and height
        width, height = height, width
    if max(rgb.size) > target:
        factor = target / max(rgb.size)
        new_size = (max(1, round(rgb.width * factor)), max(1, round(rgb.height * factor)))
        rgb = rgb.resize(new_size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return rgb, reported, (width, height)


# --- Measurements -----------------------------------------------------------------------------


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    matrix = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    matrix[0] /= math.sqrt(2.0)
    return matrix


_DCT32 = _dct_matrix(32)


def _phash_bits(gray32: np.ndarray) -> int:
    coefficients = _DCT32 @ gray32 @ _DCT32.T
    low = coefficients[:8, :8].ravel()
    bits = low > np.median(low)
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def perceptual_hashes(gray: Image.Image) -> tuple[int, int]:
    """64-bit DCT perceptual hash (pHash: 32x32 grey, 8x8 lowest frequencies above their median)
    of the image and of its mirror image."""
    small = np.asarray(gray.resize((32, 32), Image.Resampling.BOX), dtype=np.float64)
    return _phash_bits(small), _phash_bits(small[:, ::-1])


def _laplacian_variance(gray: np.ndarray) -> float:
    g = gray.astype(np.float32)
    lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4.0 * g[1:-1, 1:-1]
    return float(lap.var())


def face_sharpness(face_gray: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of a grey face crop (already resized to the fixed
    square), scaled by (reference std / crop std)^2: contrast-independent, so exposure problems
    are reported as exposure, not as blur."""
    contrast = max(float(face_gray.std()), 1.0)
    return _laplacian_variance(face_gray) * (_SHARPNESS_REF_STD / contrast) ** 2


def _clamp_box(box: tuple[float, float, float, float], size: tuple[int, int]) -> tuple[int, ...]:
    left, top, right, bottom = box
    return (
        max(0, min(size[0] - 1, int(round(left)))),
        max(0, min(size[1] - 1, int(round(top)))),
        max(1, min(size[0], int(round(right)))),
        max(1, min(size[1], int(round(bottom)))),
    )


def _detection_grey(image: Image.Image, max_side: int | None) -> tuple[np.ndarray, float]:
    """Grey copy at most max_side long (None: full size) for HOG, and its scale to `image`."""
    grey = image.convert("L")
    scale = 1.0 if max_side is None else min(1.0, max_side / max(image.size))
    if scale < 1.0:
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        grey = grey.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(grey), scale


def _hog(
    grey: np.ndarray, scale: float, upsample: int, adjust_threshold: float
) -> list[tuple[tuple[float, float, float, float], float]]:
    """HOG candidates scoring >= adjust_threshold as (box in original pixels, score)."""
    models = _get_models()
    with models.detector_lock:
        rects, scores, _ = models.detector.run(grey, upsample, adjust_threshold)
    return [
        (
            (r.left() / scale, r.top() / scale, (r.right() + 1) / scale, (r.bottom() + 1) / scale),
            float(score),
        )
        for r, score in zip(rects, scores, strict=True)
    ]


def _detect(
    image: Image.Image, limits: dict[str, Any]
) -> tuple[list[tuple[tuple[float, float, float, float], float]], np.ndarray, dict[str, int]]:
    """HOG candidates in `image` pixels, the grey detection copy, and pass/candidate counts.
    Upsample 0 finds faces >= ~80 px on the detection copy; only when it finds none does a
    second pass with upsample 1 (about 4x the cost) look for faces down to ~40 px. Small
    patterns fool HOG more often (a coin in skimage's coins photo scores 0.08 there), so that
    pass keeps only confident candidates."""
    grey, scale = _detection_grey(image, int(limits["detect_max_side"]))
    confident = limits["confident_face_min_score"]
    candidates = _hog(grey, scale, 0, min(limits["face_min_score"], confident))
    passes = 1
    if not any(score >= limits["face_min_score"] for _, score in candidates):
        passes = 2
        candidates = _hog(grey, scale, 1, confident)
    return candidates, grey, {"detect_passes": passes, "face_candidates": len(candidates)}


def face_candidates(
    image: Image.Image,
    *,
    upsample: int = 0,
    adjust_threshold: float = 0.0,
    max_side: int | None = 800,
) -> list[FaceDetection]:
    """Raw HOG detections (no filtering), for diagnostics and benchmarks: the detector run once
    on a grey copy at most max_side long (None: full resolution), boxes in `image` pixels."""
    grey, scale = _detection_grey(image.convert("RGB"), max_side)
    return [
        FaceDetection(box=_int_box(box), score=score)
        for box, score in _hog(grey, scale, upsample, adjust_threshold)
    ]


def _embed(image: Image.Image, box: tuple[float, float, float, float]) -> list[float]:
    """128-d descriptor of the face in `box`: 5-point landmarks and dlib's ResNet, computed on a
    crop around the face scaled so the face is ~200 px wide (the chip is 150x150 anyway)."""
    models = _get_models()
    left, top, right, bottom = box
    face_w = max(1.0, right - left)
    pad = 0.5 * face_w
    region = _clamp_box((left - pad, top - pad, right + pad, bottom + pad), image.size)
    crop = image.crop(region)
    factor = min(1.0, _EMBED_FACE_PX / face_w)
    if factor < 1.0:
        crop = crop.resize(
            (max(1, round(crop.width * factor)), max(1, round(crop.height * factor))),
            Image.Resampling.BILINEAR,
            reducing_gap=2.0,
        )
    pixels = np.ascontiguousarray(np.asarray(crop))
    rect = dlib.rectangle(
        int(round((left - region[0]) * factor)),
        int(round((top - region[1]) * factor)),
        int(round((right - region[0]) * factor)),
        int(round((bottom - region[1]) * factor)),
    )
    with models.encoder_lock:
        shape = models.shape_predictor(pixels, rect)
        descriptor = models.encoder.compute_face_descriptor(pixels, shape, 0)
    return [float(x) for x in descriptor]


def _face_crop_jpeg(
    image: Image.Image, box: tuple[float, float, float, float], limits: dict[str, Any]
) -> bytes:
    left, top, right, bottom = box
    side = (right - left) * (1 + 2 * limits["face_crop_margin"])
    side = min(side, image.width, image.height)
    cx, cy = (left + right) / 2, (top + bottom) / 2
    x0 = min(max(0.0, cx - side / 2), image.width - side)
    y0 = min(max(0.0, cy - side / 2), image.height - side)
    crop = image.crop((round(x0), round(y0), round(x0 + side), round(y0 + side)))
    size = int(limits["face_crop_size"])
    crop = crop.resize((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return _encode_jpeg(crop, int(limits["face_crop_jpeg_quality"]))


def _encode_jpeg(image: Image.Image, quality: int) -> bytes:
    # A fresh image from raw pixels carries no info dict: no EXIF, XMP, ICC, comment, thumbnail.
    clean = Image.frombytes("RGB", image.size, image.convert("RGB").tobytes())
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=quality)
    return out.getvalue()


# --- Public API -------------------------------------------------------------------------------


def analyze_photo(data: bytes, *, thresholds: dict | None = None) -> PhotoAnalysis:
    """Check one uploaded photo. Never raises for bad input: unusable files come back with a
    file-gate reason and accepted_jpeg None; decodable ones with their single-photo reasons
    (possibly none), the clean JPEG and the face crop. Set-level checks: checks.evaluate_set."""
    started = time.perf_counter()
    limits = checks.resolve_thresholds(thresholds)
    result = PhotoAnalysis(sha256=hashlib.sha256(data).hexdigest())
    metrics = result.metrics
    metrics["file_bytes"] = len(data)

    if len(data) > limits["max_file_bytes"]:
        result.format = _sniff(data[:64])
        result.reasons = [checks.FILE_TOO_LARGE]
        metrics["total_ms"] = _ms(started)
        return result
    if not data:
        result.reasons = [checks.CORRUPT]  # an empty upload is a broken transfer
        metrics["total_ms"] = _ms(started)
        return result
    try:
        image, result.format, (result.width, result.height) = _decode(data, limits)
    except _Gate as gate:
        logger.info("photo rejected at file gate: %s", gate.code)
        result.format = gate.detected_format
        result.reasons = [gate.code]
        metrics["total_ms"] = _ms(started)
        return result
    metrics["decode_ms"] = _ms(started)
    result.accepted_width, result.accepted_height = image.size
    # Original pixels per stored pixel (1 unless the photo was reduced for storage).
    to_original = result.width / image.width

    detect_started = time.perf_counter()
    candidates, gray, det_info = _detect(image, limits)
    metrics.update(det_info)
    metrics["detect_ms"] = _ms(detect_started)
    metrics["brightness"] = float(gray.mean())
    metrics["dark_clip"] = float((gray <= 3).mean())
    metrics["bright_clip"] = float((gray >= 252).mean())
    gray_image = Image.fromarray(gray)
    result.phash, result.phash_mirror = perceptual_hashes(gray_image)

    # select_faces compares sizes and overlaps only, so stored-image boxes are fine here.
    chosen = checks.select_faces(
        [(_int_box(box), score) for box, score in candidates], thresholds=limits
    )
    result.faces = [
        FaceDetection(
            box=_clamp_box(_scaled(candidates[i][0], to_original), (result.width, result.height)),
            score=candidates[i][1],
        )
        for i in chosen
    ]
    metrics["face_count"] = len(chosen)
    metrics["width"], metrics["height"] = result.width, result.height

    if chosen:
        box = candidates[chosen[0]][0]  # stored-image pixels, may reach outside the frame
        result.face_box = result.faces[0].box
        result.accepted_face_box = _clamp_box(box, image.size)
        face_w = box[2] - box[0]
        metrics["face_width"] = face_w * to_original
        metrics["face_ratio"] = face_w / min(image.size)
        metrics["face_edge_gap"] = (
            min(box[0], box[1], image.width - box[2], image.height - box[3]) / face_w
        )
        face_gray = image.crop(result.accepted_face_box).convert("L")
        face_gray = face_gray.resize(
            (_SHARPNESS_SIZE, _SHARPNESS_SIZE), Image.Resampling.BILINEAR, reducing_gap=2.0
        )
        face_pixels = np.asarray(face_gray)
        metrics["sharpness"] = face_sharpness(face_pixels)
        metrics["face_brightness"] = float(face_pixels.mean())
        metrics["face_dark_clip"] = float((face_pixels <= 3).mean())
        metrics["face_bright_clip"] = float((face_pixels >= 252).mean())

        embed_started = time.perf_counter()
        result.embedding = _embed(image, box)
        metrics["embed_ms"] = _ms(embed_started)
        result.face_crop_jpeg = _face_crop_jpeg(image, box, limits)

    result.reasons = checks.photo_reasons(metrics, thresholds=limits)

    encode_started = time.perf_counter()
    result.pixel_hash = hashlib.sha256(
        f"{image.width}x{image.height}:".encode() + image.tobytes()
    ).hexdigest()
    result.accepted_jpeg = _encode_jpeg(image, int(limits["accepted_jpeg_quality"]))
    metrics["encode_ms"] = _ms(encode_started)
    metrics["total_ms"] = _ms(started)
    return result


def face_embedding_for_image(
    image: Image.Image, *, thresholds: dict | None = None
) -> tuple[tuple[int, int, int, int], list[float]] | None:
    """(box, 128-d descriptor) of the main face in an already-decoded image (e.g. a generated
    portrait), or None when no face is found. The main face is chosen as in analyze_photo (the
    widest confident detection), with the same detector and embedder, so distances to upload
    embeddings are comparable. The box is in `image` pixels; the image is used as given (no
    EXIF orientation)."""
    limits = checks.resolve_thresholds(thresholds)
    rgb = _to_rgb(image)
    candidates, _, _ = _detect(rgb, limits)
    chosen = checks.select_faces(
        [(_int_box(box), score) for box, score in candidates], thresholds=limits
    )
    if not chosen:
        return None
    box = candidates[chosen[0]][0]
    return _clamp_box(box, rgb.size), _embed(rgb, box)


def _scaled(box: tuple[float, float, float, float], factor: float) -> tuple[float, ...]:
    return tuple(v * factor for v in box)


def _int_box(box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    return (round(box[0]), round(box[1]), round(box[2]), round(box[3]))


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000.0, 2)
