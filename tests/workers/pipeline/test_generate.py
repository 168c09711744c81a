"""Generator: one resident base pipeline, adapters swapped per job, seeds reproducible."""

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata

from workers.pipeline import generate as generate_module
from workers.pipeline.generate import (
    GeneratedSample,
    Generator,
    get_generator,
    render_prompt,
)
from workers.pipeline.tiny import build_tiny_pipeline
from workers.pipeline.train import TrainConfig, train_lora


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """The tiny models gain nothing from intra-op threads, and on a shared CI machine the
    threads' spin-waits slow these tests down several times over."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


REQUEST = {
    "prompt": "a photo of ohwx person, studio light",
    "negative_prompt": "blurry",
    "seeds": [11, 12, 13],
    "steps": 3,
    "guidance": 4.0,
    "width": 32,
    "height": 32,
}


def _train_adapters(family, tmp_path_factory, count, **config):
    model_dir = build_tiny_pipeline(family, tmp_path_factory.getbasetemp() / f"tiny-{family}")
    photos = [Image.fromarray(skdata.astronaut()), Image.fromarray(skdata.chelsea())]
    paths = []
    for seed in range(count):
        work_dir = tmp_path_factory.mktemp(f"{family}-adapter-{seed}")
        result = train_lora(
            model_dir=model_dir,
            family=family,
            images=photos,
            face_boxes=[None, None],
            config=TrainConfig(steps=3, learning_rate=1e-2, resolution=32, seed=seed, **config),
            work_dir=work_dir,
        )
        paths.append(result.adapter_path)
    return model_dir, paths


@pytest.fixture(scope="module")
def sdxl_adapters(tmp_path_factory):
    return _train_adapters("sdxl", tmp_path_factory, 3, rank=4, alpha=4)


@pytest.fixture(scope="module")
def flux_adapters(tmp_path_factory):
    return _train_adapters("flux", tmp_path_factory, 2, rank=4, alpha=4)


def pixels(samples: list[GeneratedSample]) -> np.ndarray:
    return np.stack([np.asarray(s.image) for s in samples])


def test_render_prompt_puts_the_subject_in_the_template():
    prompt = render_prompt(
        "portrait of {subject}, grey backdrop", trigger_token="ohwx", class_word="woman"
    )
    assert prompt == "portrait of ohwx woman, grey backdrop"


@pytest.mark.parametrize("hotswap", [False, True], ids=["named", "hotswap"])
def test_swapping_adapters_changes_images_and_swapping_back_reproduces_them(hotswap, sdxl_adapters):
    model_dir, (path_a, path_b, _) = sdxl_adapters
    generator = Generator(model_dir, "sdxl", hotswap=hotswap)
    pipe = generator.pipe

    base = pixels(generator.generate(adapter=None, **REQUEST))
    first_a = pixels(generator.generate(adapter=(path_a, "person-a"), **REQUEST))
    first_b = pixels(generator.generate(adapter=(path_b, "person-b"), **REQUEST))
    again_a = pixels(generator.generate(adapter=(path_a, "person-a"), **REQUEST))
    base_again = pixels(generator.generate(adapter=None, **REQUEST))

    assert not np.array_equal(first_a, base)
    assert not np.array_equal(first_a, first_b)
    assert np.array_equal(again_a, first_a)
    assert np.array_equal(base_again, base)
    # The base pipeline was loaded once and never replaced.
    assert generator.pipe is pipe
    assert generator.pipeline_loads == 1
    # Named mode keeps both people resident; hotswap mode copied A back into its one slot.
    assert generator.adapter_loads == (2 if not hotswap else 3)


def test_same_seed_same_image_and_samples_record_their_parameters(sdxl_adapters):
    model_dir, (path_a, _, _) = sdxl_adapters
    generator = Generator(model_dir, "sdxl")
    adapter = (path_a, "person-a")

    samples = generator.generate(adapter=adapter, batch_size=2, **REQUEST)
    repeat = generator.generate(adapter=adapter, batch_size=2, **REQUEST)

    assert [s.seed for s in samples] == [11, 12, 13]
    assert np.array_equal(pixels(samples), pixels(repeat))
    assert not np.array_equal(pixels(samples[:1]), pixels(samples[1:2]))
    assert samples[0].image.size == (32, 32)
    assert samples[0].prompt == REQUEST["prompt"]
    assert samples[0].negative_prompt == "blurry"
    assert samples[0].params | {"base_model_revision": "x"} == {
        "family": "sdxl",
        "base_model_revision": "x",
        "adapter": "person-a",
        "steps": 3,
        "guidance": 4.0,
        "width": 32,
        "height": 32,
        "batch_size": 2,
        "scheduler": "EulerDiscreteScheduler",
        "device": "cpu",
        "dtype": "float32",
        "negative_prompt_used": True,
    }


def test_a_seed_gives_the_same_image_in_any_batch(sdxl_adapters):
    model_dir, (path_a, _, _) = sdxl_adapters
    generator = Generator(model_dir, "sdxl")
    request = REQUEST | {"seeds": [5, 6, 7, 8]}

    batched = generator.generate(adapter=(path_a, "a"), batch_size=4, **request)
    alone = generator.generate(adapter=(path_a, "a"), batch_size=1, **request)

    difference = np.abs(pixels(batched).astype(int) - pixels(alone).astype(int))
    # Batched matmuls may round differently in the last bit; nothing more.
    assert difference.max() <= 2 and difference.mean() < 0.05


def test_least_recently_used_adapter_is_evicted(sdxl_adapters):
    model_dir, (path_a, path_b, path_c) = sdxl_adapters
    generator = Generator(model_dir, "sdxl", max_adapters=2)
    first_a = pixels(generator.generate(adapter=(path_a, "a"), **REQUEST))
    generator.generate(adapter=(path_b, "b"), **REQUEST)
    generator.ensure_adapter(path_a, "a")  # a is now the most recently used

    generator.generate(adapter=(path_c, "c"), **REQUEST)

    assert generator.loaded_adapters == ["a", "c"]
    assert sorted(generator.pipe.get_list_adapters()["unet"]) == sorted(
        generator._pipe_name(name) for name in ("a", "c")
    )
    loads = generator.adapter_loads
    assert np.array_equal(pixels(generator.generate(adapter=(path_a, "a"), **REQUEST)), first_a)
    assert generator.adapter_loads == loads  # a was still resident


def test_set_active_needs_a_loaded_adapter(sdxl_adapters):
    model_dir, _ = sdxl_adapters
    generator = Generator(model_dir, "sdxl")
    with pytest.raises(KeyError):
        generator.set_active("nobody")


def test_hotswap_falls_back_to_a_fresh_load_for_other_target_modules(
    sdxl_adapters, tmp_path_factory
):
    model_dir, (path_a, _, _) = sdxl_adapters
    _, (narrow,) = _train_adapters("sdxl", tmp_path_factory, 1, target_modules=["to_q"], rank=4)
    generator = Generator(model_dir, "sdxl", hotswap=True)
    first_a = pixels(generator.generate(adapter=(path_a, "a"), **REQUEST))

    narrow_images = pixels(generator.generate(adapter=(narrow, "narrow"), **REQUEST))
    again_a = pixels(generator.generate(adapter=(path_a, "a"), **REQUEST))

    assert not np.array_equal(narrow_images, first_a)
    assert np.array_equal(again_a, first_a)
    assert generator.pipeline_loads == 1


def test_flux_adapters_swap_and_negative_prompt_is_not_used(flux_adapters):
    model_dir, (path_a, path_b) = flux_adapters
    generator = Generator(model_dir, "flux")
    request = REQUEST | {"guidance": 3.5}

    first_a = generator.generate(adapter=(path_a, "a"), **request)
    first_b = generator.generate(adapter=(path_b, "b"), **request)
    again_a = generator.generate(adapter=(path_a, "a"), **request | {"negative_prompt": "other"})
    base = generator.generate(adapter=None, **request)

    assert not np.array_equal(pixels(first_a), pixels(first_b))
    assert not np.array_equal(pixels(first_a), pixels(base))
    # FLUX.1-dev style: no negative prompt without true CFG, so changing it changes nothing.
    assert np.array_equal(pixels(again_a), pixels(first_a))
    assert first_a[0].params["negative_prompt_used"] is False
    assert first_a[0].image.size == (32, 32)
    assert generator.pipeline_loads == 1


def test_get_generator_keeps_one_generator_per_model(sdxl_adapters, monkeypatch):
    model_dir, _ = sdxl_adapters
    monkeypatch.setattr(generate_module, "_GENERATORS", {})

    first = get_generator(model_dir, "sdxl")
    second = get_generator(model_dir / "." / "", "sdxl")

    assert first is second
    assert first.pipeline_loads == 1
