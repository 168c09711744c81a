"""Tiny pipelines: built from the real classes, saved, reloaded from local files, generating."""

import json

import pytest
import torch

from workers.pipeline.base import (
    default_resolution,
    detect_family,
    load_pipeline,
    model_revision,
    pick_device,
)
from workers.pipeline.tiny import (
    TINY_BUILD_VERSION,
    build_clip_tokenizer,
    build_full_size_denoiser,
    build_t5_tokenizer,
    build_tiny_pipeline,
)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """The tiny models gain nothing from intra-op threads, and on a shared CI machine the
    threads' spin-waits slow these tests down several times over."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module", params=["sdxl", "flux"])
def tiny_model(request, tmp_path_factory):
    family = request.param
    return family, build_tiny_pipeline(family, tmp_path_factory.getbasetemp() / f"tiny-{family}")


def test_pick_device_is_cpu_float32_without_cuda():
    if torch.cuda.is_available():
        assert pick_device() == (torch.device("cuda"), torch.bfloat16)
    else:
        assert pick_device() == (torch.device("cpu"), torch.float32)


def test_tiny_build_is_idempotent_and_revision_stable(tiny_model):
    family, model_dir = tiny_model
    index = json.loads((model_dir / "model_index.json").read_text())
    expected_class = {"sdxl": "StableDiffusionXLPipeline", "flux": "FluxPipeline"}[family]
    assert index["_class_name"] == expected_class
    assert detect_family(model_dir) == family
    revision = model_revision(model_dir)
    assert len(revision) == 64
    mtime = (model_dir / "model_index.json").stat().st_mtime_ns

    assert build_tiny_pipeline(family, model_dir) == model_dir

    assert (model_dir / "model_index.json").stat().st_mtime_ns == mtime
    assert model_revision(model_dir) == revision
    # No half-built staging directories are left next to it.
    staging = [p for p in model_dir.parent.iterdir() if p.name.startswith(f".{model_dir.name}.")]
    assert staging == []


def test_a_tiny_build_from_an_older_version_is_rebuilt(tmp_path):
    model_dir = build_tiny_pipeline("flux", tmp_path / "tiny")
    marker = model_dir / "likeness_tiny.json"
    marker.write_text(json.dumps({"family": "flux", "seed": 0, "version": 0}))
    (model_dir / "leftover.txt").write_text("from the old build")

    assert build_tiny_pipeline("flux", model_dir) == model_dir

    assert json.loads(marker.read_text())["version"] == TINY_BUILD_VERSION
    assert not (model_dir / "leftover.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny"]


def test_tiny_build_is_deterministic(tmp_path):
    first = build_tiny_pipeline("sdxl", tmp_path / "a", seed=3)
    second = build_tiny_pipeline("sdxl", tmp_path / "b", seed=3)
    weights = "unet/diffusion_pytorch_model.safetensors"
    assert (first / weights).read_bytes() == (second / weights).read_bytes()
    assert model_revision(first) == model_revision(second)


def test_tiny_reloads_from_local_files_and_generates_default_size(tiny_model):
    family, model_dir = tiny_model
    pipe = load_pipeline(model_dir, family)
    kwargs = {"guidance_scale": 3.5} if family == "flux" else {}

    result = pipe(
        "a photo of ohwx person",
        num_inference_steps=2,
        generator=torch.Generator().manual_seed(0),
        **kwargs,
    )

    side = default_resolution(pipe)
    assert side == {"sdxl": 64, "flux": 128}[family]
    assert result.images[0].size == (side, side)
    assert pipe.device.type == "cpu"


def test_clip_tokenizer_keeps_trigger_whole_and_encodes_anything():
    tokenizer = build_clip_tokenizer()
    tokens = tokenizer.tokenize("a photo of ohwx person")
    assert "ohwx</w>" in tokens
    ids = tokenizer("Zürich 😀 portrait, 35mm!").input_ids
    assert tokenizer.unk_token_id not in ids[1:-1]  # byte-level: nothing is unknown
    assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id
    padded = tokenizer("hi", padding="max_length", max_length=77).input_ids
    assert len(padded) == 77


def test_t5_tokenizer_has_t5_special_tokens_and_unknowns():
    tokenizer = build_t5_tokenizer()
    assert (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id) == (0, 1, 2)
    ids = tokenizer("a photo of ohwx person 😀").input_ids
    assert tokenizer.convert_ids_to_tokens(ids[3]) == "▁ohwx"
    assert ids[-1] == tokenizer.eos_token_id
    assert tokenizer.unk_token_id in ids


@pytest.mark.parametrize(
    ("family", "parameters"),
    [("sdxl", 2_567_463_684), ("flux", 11_901_408_320)],
)
def test_full_size_denoisers_have_the_published_sizes(family, parameters):
    # On the meta device nothing is allocated; the parameter count checks the configs.
    model = build_full_size_denoiser(family, device="meta", dtype=torch.bfloat16)
    assert sum(p.numel() for p in model.parameters()) == parameters
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
