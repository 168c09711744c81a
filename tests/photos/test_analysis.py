"""apps.photos.analysis on real images (tests/photos/images.py): file gate, decoding and
normalisation, metadata stripping, face checks, duplicates and same-person embeddings."""

from __future__ import annotations

import io
import threading
import time
import tracemalloc
from functools import cache

import numpy as np
import pytest
from PIL import Image

from apps.photos import analysis, checks
from apps.photos.analysis import (
    FaceDetection,
    PhotoAnalysis,
    PhotoRejected,
    analyze_photo,
    embedding_distance,
    face_embedding_for_image,
)

from . import images

PILLOW_PIXEL_GUARD = 89_478_485  # Pillow's default Image.MAX_IMAGE_PIXELS


@cache
def analysed(name: str) -> PhotoAnalysis:
    """analyze_photo of an images.<name>() factory, once per session."""
    return analyze_photo(getattr(images, name)())


@cache
def analysed_variant(index: int) -> PhotoAnalysis:
    return analyze_photo(images.good_variants()[index])


def _open(jpeg: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(jpeg))
    image.load()
    return image


def assert_clean_jpeg(jpeg: bytes) -> Image.Image:
    """A plain RGB JPEG with no metadata of any kind."""
    image = _open(jpeg)
    assert image.format == "JPEG"
    assert image.mode == "RGB"
    assert len(image.getexif()) == 0
    for key in ("exif", "xmp", "icc_profile", "comment", "photoshop"):
        assert key not in image.info, key
    for marker in (b"Exif", b"GPS", b"http://ns.adobe.com/xap", b"ICC_PROFILE", b"<x:xmpmeta"):
        assert marker not in jpeg, marker
    # Only the baseline segments Pillow writes: SOI, APP0 (JFIF), DQT, SOF0, DHT, SOS.
    assert jpeg[2:4] == b"\xff\xe0"
    assert b"\xff\xe1" not in jpeg[: jpeg.index(b"\xff\xda")]  # no APP1 (EXIF/XMP) segment
    return image


# --- Accepted photos --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt", "size"),
    [
        ("good_jpeg", "JPEG", (1600, 1200)),
        ("good_png", "PNG", (1400, 1200)),
        ("good_webp", "WEBP", (1200, 1400)),
        ("good_heic", "HEIF", (1600, 1200)),
    ],
)
def test_good_photo_in_each_format_is_accepted(name, fmt, size):
    result = analysed(name)
    assert result.reasons == []
    assert result.accepted
    assert result.format == fmt
    assert (result.width, result.height) == size
    assert len(result.faces) == 1
    assert isinstance(result.faces[0], FaceDetection)
    assert result.face_box == result.faces[0].box
    left, top, right, bottom = result.face_box
    assert 0 <= left < right <= size[0] and 0 <= top < bottom <= size[1]
    assert len(result.embedding) == 128
    assert all(isinstance(x, float) for x in result.embedding)
    assert len(result.sha256) == 64 and len(result.pixel_hash) == 64
    assert 0 <= result.phash < 2**64 and 0 <= result.phash_mirror < 2**64

    stored = assert_clean_jpeg(result.accepted_jpeg)
    assert stored.size == size == (result.accepted_width, result.accepted_height)
    crop = assert_clean_jpeg(result.face_crop_jpeg)
    assert crop.size == (512, 512)
    for key in ("sharpness", "face_brightness", "brightness", "dark_clip", "bright_clip"):
        assert isinstance(result.metrics[key], float), key
    for key in ("face_ratio", "detect_ms", "embed_ms", "decode_ms", "encode_ms", "total_ms"):
        assert result.metrics[key] > 0, key


def test_all_good_variants_are_accepted_as_the_same_person():
    results = [analysed_variant(i) for i in range(len(images.good_variants()))]
    assert [r.reasons for r in results] == [[]] * 5
    assert checks.evaluate_set(results) == [[]] * 5
    for other in results[1:]:
        assert embedding_distance(results[0].embedding, other.embedding) < 0.3


def test_12mp_photo_is_stored_at_about_2048_px_with_face_box_in_original_pixels():
    result = analyze_photo(images.photo_12mp(0))
    assert result.reasons == []
    assert (result.width, result.height) == (4000, 3000)
    # DCT-scaled decode: 1/2 of 4000x3000 is within 90% of the 2048 px cap.
    assert (result.accepted_width, result.accepted_height) == (2000, 1500)
    assert _open(result.accepted_jpeg).size == (2000, 1500)
    left, top, right, bottom = result.face_box
    a_left, a_top, a_right, a_bottom = result.accepted_face_box
    assert abs(left / 2 - a_left) <= 2 and abs(right / 2 - a_right) <= 2
    assert abs(top / 2 - a_top) <= 2 and abs(bottom / 2 - a_bottom) <= 2
    assert 0.12 < result.metrics["face_ratio"] < 0.2


def test_large_png_is_downscaled_to_the_cap():
    image = images.selfie(canvas=(3000, 2250), person=2000, at=(500, 100))
    result = analyze_photo(images.encode(image, "PNG", compress_level=1))
    assert result.reasons == []
    assert (result.width, result.height) == (3000, 2250)
    assert (result.accepted_width, result.accepted_height) == (2048, 1536)


def test_metadata_is_stripped():
    source = images.with_gps_and_xmp()
    # The upload really carries everything that must go.
    original = Image.open(io.BytesIO(source))
    assert original.getexif().get_ifd(0x8825)  # GPS
    assert "xmp" in original.info and "icc_profile" in original.info
    for marker in (b"Exif", b"http://ns.adobe.com/xap", b"TestMaker", b"home address"):
        assert marker in source

    result = analyze_photo(source)
    assert result.reasons == []
    for jpeg in (result.accepted_jpeg, result.face_crop_jpeg):
        assert_clean_jpeg(jpeg)
        assert b"TestMaker" not in jpeg and b"home address" not in jpeg


def test_exif_orientation_is_applied_before_face_detection():
    source = images.rotated_with_exif()
    stored = Image.open(io.BytesIO(source))
    assert stored.size == (1200, 1600)
    assert stored.getexif()[0x0112] == 6
    # As stored (sideways) the detector finds no face: orientation must come first.
    assert face_embedding_for_image(stored.convert("RGB")) is None

    result = analyze_photo(source)
    assert result.reasons == []
    assert (result.width, result.height) == (1600, 1200)
    upright = assert_clean_jpeg(result.accepted_jpeg)
    assert upright.size == (1600, 1200)
    assert 0x0112 not in upright.getexif()
    assert embedding_distance(result.embedding, analysed("good_jpeg").embedding) < 0.3


def test_analysis_is_deterministic():
    again = analyze_photo(images.good_jpeg())
    first = analysed("good_jpeg")
    assert again.accepted_jpeg == first.accepted_jpeg
    assert (again.sha256, again.pixel_hash, again.phash) == (
        first.sha256,
        first.pixel_hash,
        first.phash,
    )
    assert again.embedding == first.embedding


# --- Rejected for quality ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reasons"),
    [
        ("blurred", ["blurry"]),
        ("darkened", ["too_dark"]),
        ("over_exposed", ["too_bright", "clipped"]),
        ("face_cut_off", ["face_cut_off"]),
        ("face_too_small", ["face_too_small"]),
        ("tiny", ["too_small", "face_too_small", "blurry"]),
        ("no_face", ["no_face"]),
    ],
)
def test_quality_problems(name, reasons):
    result = analysed(name)
    assert result.reasons == reasons
    assert not result.accepted
    # Decodable, so the clean JPEG exists (the service decides whether to keep it).
    assert_clean_jpeg(result.accepted_jpeg)
    if "no_face" in reasons:
        assert result.faces == [] and result.face_box is None and result.embedding is None
        assert result.face_crop_jpeg is None
    else:
        assert len(result.faces) == 1 and len(result.embedding) == 128


def test_quality_measurements_point_the_right_way():
    good = analysed("good_jpeg").metrics
    assert analysed("blurred").metrics["sharpness"] < good["sharpness"] / 10
    assert analysed("darkened").metrics["face_brightness"] < 50 < good["face_brightness"]
    assert analysed("over_exposed").metrics["face_bright_clip"] > 0.15
    assert analysed("face_cut_off").metrics["face_edge_gap"] < 0
    assert analysed("face_too_small").metrics["face_ratio"] < 0.12
    # The small face was found by the second, upsampled detector pass; good photos need one.
    assert analysed("face_too_small").metrics["detect_passes"] == 2
    assert good["detect_passes"] == 1


def test_blur_does_not_depend_on_resolution():
    """Sharpness is measured on the face resized to a fixed square, so the same sharp photo
    at 12 MP and at 2 MP scores alike."""
    small = analysed("good_jpeg").metrics["sharpness"]
    large = analyze_photo(images.photo_12mp(0)).metrics["sharpness"]
    assert small > 30 and large > 30
    assert 0.4 < small / large < 2.5


def test_thresholds_can_be_overridden():
    strict = analyze_photo(images.good_jpeg(), thresholds={"min_sharpness": 10_000.0})
    assert strict.reasons == ["blurry"]
    with pytest.raises(KeyError):
        analyze_photo(images.good_jpeg(), thresholds={"no_such_check": 1})


# --- File gate: hostile and broken files ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "payload", "code", "fmt"),
    [
        ("truncated JPEG", images.truncated_jpeg, "corrupt", "JPEG"),
        ("HTML named .jpg", lambda: images.HTML_AS_JPG, "unsupported_format", None),
        ("SVG named .jpg", lambda: images.SVG_AS_JPG, "unsupported_format", None),
        ("random bytes", images.random_bytes, "unsupported_format", None),
        ("empty file", lambda: b"", "corrupt", None),
        ("GIF", images.gif_photo, "unsupported_format", None),
        ("BMP", images.bmp_photo, "unsupported_format", None),
        (
            "JPEG signature then garbage",
            lambda: b"\xff\xd8\xff\xe0" + b"x" * 500,
            "corrupt",
            "JPEG",
        ),
        ("PNG signature only", lambda: b"\x89PNG\r\n\x1a\n", "corrupt", "PNG"),
        ("over 20 MB", images.oversized_file, "file_too_large", "JPEG"),
    ],
)
def test_file_gate(name, payload, code, fmt):
    result = analyze_photo(payload())
    assert result.reasons == [code], name
    assert result.format == fmt
    assert result.accepted_jpeg is None and result.face_crop_jpeg is None
    assert result.faces == [] and result.embedding is None and result.phash is None
    assert len(result.sha256) == 64


def test_avif_is_not_taken_for_heic():
    avif_header = b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + bytes(64)
    assert analyze_photo(avif_header).reasons == ["unsupported_format"]


def test_jpeg_claiming_60000_squared_pixels_is_refused_from_the_header():
    small = images.encode(Image.new("RGB", (16, 16), (120, 100, 90)))
    sof = small.index(b"\xff\xc0")  # SOF0: length(2) precision(1) height(2) width(2)
    bomb = bytearray(small)
    bomb[sof + 5 : sof + 9] = (60000).to_bytes(2, "big") * 2
    started = time.perf_counter()
    result = analyze_photo(bytes(bomb))
    assert result.reasons == ["too_many_pixels"]
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("CMYK JPEG", lambda: images.encode(images.selfie().convert("CMYK"))),
        ("greyscale JPEG", lambda: images.encode(images.selfie().convert("L"))),
        ("progressive JPEG", lambda: images.encode(images.selfie(), progressive=True)),
        ("RGBA PNG", lambda: images.encode(images.selfie().convert("RGBA"), "PNG")),
        (
            "16-bit grey PNG",
            lambda: images.encode(
                Image.fromarray(np.asarray(images.selfie().convert("L"), dtype=np.uint16) * 257),
                "PNG",
            ),
        ),
        ("lossless WebP", lambda: images.encode(images.selfie(), "WEBP", lossless=True, method=0)),
    ],
)
def test_other_pixel_modes_become_plain_rgb(name, make):
    result = analyze_photo(make())
    assert result.reasons == [], name
    assert assert_clean_jpeg(result.accepted_jpeg).size == (1600, 1200)


def test_png_renamed_jpg_is_judged_by_content():
    """The API takes bytes only: a name or Content-Type never reaches it. PNG bytes (whatever
    the upload was called) are read as PNG."""
    result = analysed("good_png")
    assert result.format == "PNG" and result.reasons == []


def test_png_claiming_60000_squared_pixels_is_refused_from_the_header():
    bomb = images.png_bomb_header()
    assert len(bomb) < 200
    tracemalloc.start()
    started = time.perf_counter()
    result = analyze_photo(bomb)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.reasons == ["too_many_pixels"]
    assert result.format == "PNG" and result.accepted_jpeg is None
    assert elapsed < 0.5
    assert peak < 5 * 1024 * 1024
    assert Image.MAX_IMAGE_PIXELS == PILLOW_PIXEL_GUARD  # the guard is never disabled


def test_pixel_limit_applies_below_pillows_guard():
    """A plausible size (8000x7000 = 56 MP, under Pillow's 89 MP guard) is refused by
    max_pixels before decoding, and the limit is configurable."""
    header_only = images.png_bomb_header(8000, 7000)
    assert analyze_photo(header_only).reasons == ["too_many_pixels"]
    small_limit = {"max_pixels": 1_000_000}
    assert analyze_photo(images.good_jpeg(), thresholds=small_limit).reasons == ["too_many_pixels"]


def test_file_size_limit_is_configurable():
    result = analyze_photo(images.good_jpeg(), thresholds={"max_file_bytes": 10_000})
    assert result.reasons == ["file_too_large"]


def test_photo_rejected_carries_a_code_and_advice():
    error = PhotoRejected("corrupt")
    assert error.code == "corrupt"
    assert str(error) == checks.REASONS["corrupt"]


# --- Duplicates -------------------------------------------------------------------------------


def test_same_file_twice_is_an_exact_duplicate():
    first, second = analysed("good_jpeg"), analyze_photo(images.good_jpeg())
    assert first.sha256 == second.sha256
    assert checks.evaluate_set([first, second]) == [[], ["duplicate"]]


def test_same_pixels_in_different_files_are_duplicates():
    plain, with_text = images.png_pair_same_pixels()
    assert plain != with_text
    a, b = analyze_photo(plain), analyze_photo(with_text)
    assert a.sha256 != b.sha256
    assert a.pixel_hash == b.pixel_hash
    assert checks.evaluate_set([a, b]) == [[], ["duplicate"]]


@pytest.mark.parametrize("name", ["near_duplicate", "mirrored_duplicate"])
def test_resaved_or_mirrored_copy_is_a_near_duplicate(name):
    copy, original = analysed(name), analysed("good_jpeg")
    assert copy.reasons == []
    assert copy.sha256 != original.sha256 and copy.pixel_hash != original.pixel_hash
    assert checks.evaluate_set([original, copy]) == [[], ["duplicate"]]
    # ... also against an already-accepted photo stored as a database row.
    row = {
        "sha256": original.sha256,
        "pixel_hash": original.pixel_hash,
        "phash": original.phash,
        "embedding": original.embedding,
    }
    assert checks.evaluate_set([copy], existing=[row]) == [["duplicate"]]


def test_different_framings_of_the_same_person_are_not_duplicates():
    results = [analysed_variant(i) for i in range(5)] + [
        analysed("good_png"),
        analysed("good_webp"),
        analysed("good_heic"),
    ]
    assert checks.evaluate_set(results) == [[]] * len(results)


# --- Same person (embeddings) -----------------------------------------------------------------


def test_embeddings_of_the_same_person_are_close():
    """dlib's operating point is 0.6; the same face through blur, darkening, rescaling and
    mirroring stays below it."""
    reference = analysed("good_jpeg").embedding
    for name in ("good_png", "good_heic", "darkened", "blurred", "tiny", "mirrored_duplicate"):
        assert embedding_distance(reference, analysed(name).embedding) < 0.6, name


def test_different_person_flagged_with_a_perturbed_real_embedding():
    """No second real face ships with the installed packages; a real embedding moved 0.9 away
    (a typical distance between different people) stands in for one."""
    accepted = [analysed_variant(i) for i in range(3)]
    rng = np.random.default_rng(0)
    direction = rng.normal(size=128)
    direction *= 0.9 / np.linalg.norm(direction)
    stranger = {
        "sha256": "stranger",
        "pixel_hash": "stranger-px",
        "phash": 0,
        "embedding": list(np.asarray(accepted[0].embedding) + direction),
        "reasons": [],
        "accepted_jpeg": True,
    }
    assert checks.evaluate_set([*accepted, stranger]) == [[], [], [], ["different_person"]]
    rows = [{"sha256": a.sha256, "phash": a.phash, "embedding": a.embedding} for a in accepted]
    assert checks.evaluate_set([stranger], existing=rows) == [["different_person"]]


def test_face_embedding_for_generated_images():
    image = images.selfie(canvas=(1024, 1024), background="grass", person=900, at=(60, 80))
    found = face_embedding_for_image(image)
    assert found is not None
    box, embedding = found
    assert len(embedding) == 128
    left, top, right, bottom = box
    face_512 = images.ASTRONAUT_FACE_512
    scale = 900 / 512
    assert abs(left - (60 + face_512[0] * scale)) < 40
    assert abs(top - (80 + face_512[1] * scale)) < 40
    assert embedding_distance(embedding, analysed("good_jpeg").embedding) < 0.3
    assert face_embedding_for_image(Image.open(io.BytesIO(images.no_face()))) is None


def test_spurious_detection_as_wide_as_the_face_is_not_taken_for_it():
    """In good_heic HOG also fires weakly on the suit's patch with a box as wide as the face;
    the confident detection is the face, for uploads and for scoring generated images."""
    image = Image.open(io.BytesIO(images.good_heic())).convert("RGB")
    raw = analysis.face_candidates(image)
    assert len(raw) == 2
    weak, strong = sorted(raw, key=lambda face: face.score)
    assert weak.score < 0.3 < 0.9 < strong.score
    assert weak.box[2] - weak.box[0] >= strong.box[2] - strong.box[0]
    assert analysed("good_heic").face_box == strong.box
    box, embedding = face_embedding_for_image(image)
    assert box == strong.box
    assert embedding_distance(embedding, analysed("good_jpeg").embedding) < 0.3


def test_concurrent_analyses_agree():
    """Models load once per process and each is used under its own lock."""
    outputs: dict[int, PhotoAnalysis] = {}

    def work(index: int) -> None:
        outputs[index] = analyze_photo(images.good_variants()[index % 2])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outputs[0].embedding == outputs[2].embedding == analysed_variant(0).embedding
    assert outputs[1].accepted_jpeg == outputs[3].accepted_jpeg
    assert analysis._get_models() is analysis._get_models()
