"""Test photos made from real images shipped with scikit-image, returned as file bytes.

The person is `skimage.data.astronaut()` (Eileen Collins, a 512x512 portrait; her face box is
about 90 px wide there). "Selfies" paste her, upscaled with LANCZOS, onto a larger canvas
whose background is another real skimage photo, so each variant differs in framing and
background the way separate photos do. scikit-image ships no second usable face photo (the
cameraman is in profile behind his camera and is not detected; lfw_subset faces are 25x25),
so different_person is tested with embeddings at the checks level.

What counts as a near duplicate (and so is built to be one, or not): the same shot re-encoded,
resized, lightly cropped or recoloured, or mirrored. The same person at another position,
scale and background is a different photo, even though here it comes from the same pixels.

Every factory is cached: each image is built once per test session.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from functools import cache

import numpy as np
import pillow_heif
from PIL import Image, ImageCms, ImageEnhance, ImageFilter
from skimage import data as skdata

pillow_heif.register_heif_opener()

# Face box of the astronaut in her 512x512 image (dlib HOG, upsample 0), left/top/right/bottom.
ASTRONAUT_FACE_512 = (179, 83, 267, 171)


@cache
def astronaut() -> Image.Image:
    return Image.fromarray(skdata.astronaut())


@cache
def _background(name: str, size: tuple[int, int]) -> Image.Image:
    pixels = getattr(skdata, name)()
    image = Image.fromarray(pixels).convert("RGB")
    return image.resize(size, Image.Resampling.BICUBIC)


def selfie(
    *,
    canvas: tuple[int, int] = (1600, 1200),
    background: str = "coffee",
    person: int = 1100,
    at: tuple[int, int] = (250, 60),
    mirror: bool = False,
    noise: float = 0.0,
    seed: int = 0,
) -> Image.Image:
    """The astronaut scaled to `person` px square, pasted at `at` on a real-photo background.
    `noise` adds Gaussian sensor-like noise (std in 0..255 units) so JPEGs get realistic sizes."""
    image = _background(background, canvas).copy()
    portrait = astronaut().resize((person, person), Image.Resampling.LANCZOS)
    if mirror:
        portrait = portrait.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    image.paste(portrait, at)
    if noise:
        image = Image.fromarray(_add_noise(np.asarray(image), noise, seed))
    return image


def _add_noise(pixels: np.ndarray, std: float, seed: int) -> np.ndarray:
    """Gaussian noise from a 512x512 tile repeated over the image (cheap for 12 MP)."""
    rng = np.random.default_rng(seed)
    tile = np.rint(rng.normal(0.0, std, (512, 512, 3))).astype(np.int16)
    reps = (-(-pixels.shape[0] // 512), -(-pixels.shape[1] // 512), 1)
    noise = np.tile(tile, reps)[: pixels.shape[0], : pixels.shape[1]]
    return np.clip(pixels.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def encode(image: Image.Image, fmt: str = "JPEG", **params) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        params.setdefault("quality", 90)
    image.save(out, fmt, **params)
    return out.getvalue()


# --- Acceptable photos ------------------------------------------------------------------------


@cache
def good_variants() -> tuple[bytes, ...]:
    """Five different acceptable JPEG 'selfies' of the same person (landscape, portrait and
    square; different backgrounds, positions, scales; one mirrored, one brighter)."""
    return (
        encode(selfie()),
        encode(
            ImageEnhance.Brightness(
                selfie(canvas=(1200, 1600), background="brick", person=1150, at=(30, 330))
            ).enhance(1.1)
        ),
        encode(
            selfie(canvas=(1500, 1500), background="grass", person=1250, at=(180, 200), mirror=True)
        ),
        encode(selfie(canvas=(2000, 1500), background="rocket", person=1350, at=(500, 100))),
        encode(selfie(canvas=(1300, 1700), background="gravel", person=1200, at=(60, 100))),
    )


@cache
def good_jpeg() -> bytes:
    return good_variants()[0]


@cache
def good_png() -> bytes:
    return encode(
        selfie(canvas=(1400, 1200), background="hubble_deep_field", person=1050, at=(200, 120)),
        "PNG",
    )


@cache
def good_webp() -> bytes:
    return encode(
        selfie(canvas=(1200, 1400), background="coffee", person=1100, at=(50, 250)),
        "WEBP",
        quality=90,
    )


@cache
def good_heic() -> bytes:
    return encode(
        selfie(canvas=(1600, 1200), background="brick", person=1100, at=(420, 90)),
        "HEIF",
        quality=90,
        enc_params={"preset": "ultrafast"},  # x265's default preset takes seconds
    )


_BACKGROUNDS = ("coffee", "rocket", "grass", "brick", "gravel", "hubble_deep_field", "chelsea")


@cache
def photo_12mp(seed: int = 0) -> bytes:
    """A 12 MP JPEG 'selfie' (4000x3000, or 3000x4000 for every third seed) with sensor-like
    noise, ~2 MB. Seeds vary orientation, background, scale, position and mirroring, so a set of
    them are distinct photos (no near duplicates among seeds 0-19)."""
    canvas = (3000, 4000) if seed % 3 == 1 else (4000, 3000)
    person = 2300 + (seed * 97) % 700
    at = (
        (seed * 811) % (canvas[0] - person),
        20 + (seed * 283) % (canvas[1] - 20 - person),
    )
    return encode(
        selfie(
            canvas=canvas,
            background=_BACKGROUNDS[seed % len(_BACKGROUNDS)],
            person=person,
            at=at,
            mirror=bool(seed % 2),
            noise=4.0,
            seed=seed,
        ),
        quality=90,
    )


@cache
def rotated_with_exif() -> bytes:
    """Upright selfie stored rotated 90 degrees counter-clockwise with EXIF Orientation 6
    ("rotate 90 clockwise to display"): only exif_transpose makes the face detectable."""
    upright = selfie(canvas=(1600, 1200), background="grass", person=1100, at=(300, 80))
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(stored, exif=exif.tobytes())


GPS_LATITUDE = (52.0, 31.0, 12.34)
XMP_PACKET = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="Likeness test"/>'
    b'</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
)


@cache
def with_gps_and_xmp() -> bytes:
    """An acceptable selfie carrying camera make/model, GPS position, XMP, a comment and an
    sRGB ICC profile — everything that must not survive the re-encode."""
    image = selfie(canvas=(1500, 1200), background="rocket", person=1080, at=(380, 100))
    exif = Image.Exif()
    exif[0x010F] = "TestMaker"  # Make
    exif[0x0110] = "TestPhone 12"  # Model
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = GPS_LATITUDE
    gps[3] = "E"
    gps[4] = (13.0, 24.0, 56.78)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return encode(
        image, exif=exif.tobytes(), xmp=XMP_PACKET, comment=b"home address", icc_profile=srgb
    )


# --- Rejected for quality ---------------------------------------------------------------------


@cache
def blurred() -> bytes:
    return encode(selfie().filter(ImageFilter.GaussianBlur(6)))


@cache
def darkened() -> bytes:
    return encode(ImageEnhance.Brightness(selfie()).enhance(0.22))


@cache
def over_exposed() -> bytes:
    return encode(ImageEnhance.Brightness(selfie()).enhance(1.7))


@cache
def face_cut_off() -> bytes:
    """Close-up whose frame cuts through the forehead: the face box reaches past the top."""
    return encode(selfie(canvas=(1400, 1200), background="coffee", person=2400, at=(-500, -400)))


@cache
def face_too_small() -> bytes:
    """A person far from the camera: face ~170 px in a 3000x2250 frame (7% of the short side);
    found only by the detector's second, upsampled pass."""
    return encode(selfie(canvas=(3000, 2250), background="coffee", person=1000, at=(1000, 700)))


@cache
def tiny() -> bytes:
    return encode(astronaut().resize((200, 200), Image.Resampling.LANCZOS))


@cache
def no_face() -> bytes:
    """A real photo without a person (the coffee cup), at a phone-like size."""
    return encode(_background("coffee", (1600, 1200)))


# --- Duplicates -------------------------------------------------------------------------------


@cache
def near_duplicate() -> bytes:
    """good_jpeg re-saved the way a messaging app would: 90% size, quality 70, a little cropped."""
    image = Image.open(io.BytesIO(good_jpeg())).convert("RGB")
    image = image.crop((16, 12, image.width - 16, image.height - 12))
    image = image.resize((image.width * 9 // 10, image.height * 9 // 10), Image.Resampling.LANCZOS)
    return encode(image, quality=70)


@cache
def mirrored_duplicate() -> bytes:
    image = Image.open(io.BytesIO(good_jpeg())).convert("RGB")
    return encode(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), quality=88)


@cache
def png_pair_same_pixels() -> tuple[bytes, bytes]:
    """The same pixels twice as PNG, once with a text chunk: different bytes, same picture."""
    from PIL import PngImagePlugin

    image = selfie(canvas=(1400, 1100), background="grass", person=1000, at=(300, 60))
    meta = PngImagePlugin.PngInfo()
    meta.add_text("Comment", "exported again")
    return encode(image, "PNG"), encode(image, "PNG", pnginfo=meta)


# --- Hostile and broken files -----------------------------------------------------------------


@cache
def truncated_jpeg() -> bytes:
    data = good_jpeg()
    return data[: len(data) // 2]


HTML_AS_JPG = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>\n"
SVG_AS_JPG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="512" height="512">'
    b'<circle cx="256" cy="256" r="200"/></svg>'
)


@cache
def random_bytes() -> bytes:
    return random.Random(1234).randbytes(50_000)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))
        + kind
        + payload
        + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)
    )


@cache
def png_bomb_header(width: int = 60000, height: int = 60000) -> bytes:
    """A valid-looking 8-bit RGB PNG claiming width x height with a tiny IDAT: decoding it would
    need ~10 GB; it must be refused from the header."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


@cache
def gif_photo() -> bytes:
    return encode(selfie().convert("P"), "GIF")


@cache
def bmp_photo() -> bytes:
    return encode(selfie(), "BMP")


def oversized_file(size: int = 21 * 1024 * 1024) -> bytes:
    """A JPEG signature followed by padding, larger than the 20 MB limit."""
    return b"\xff\xd8\xff\xe0" + bytes(size - 4)
