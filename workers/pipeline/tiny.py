"""Tiny random-weight pipelines of the real classes, and full-size denoisers for GPU benchmarks.

The tiny pipelines let every code path (load, train, save, hot-swap, generate) run for real on
CPU in seconds. Their tokenizers are made here from inline vocabularies; nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from workers.pipeline.base import check_family, quiet_loading, resolve_device

# Words given whole-word tokens; everything else still tokenizes (byte-level BPE for CLIP,
# single characters or <unk> for the T5 Unigram model).
_COMMON_WORDS_TEXT = """
a an the of in on at with and photo portrait person man woman studio light lighting
background suit dress shirt smiling close up headshot professional outdoor indoor soft
natural dramatic black white blue grey gray green red warm cold office city park beach
wearing looking camera high quality detailed sharp blurry bad low
"""
_COMMON_WORDS = tuple(_COMMON_WORDS_TEXT.split())

# Bump when the tiny models change: older builds on disk are then rebuilt, not reused.
TINY_BUILD_VERSION = 1
TINY_MARKER = "likeness_tiny.json"

CLIP_MAX_LENGTH = 77
T5_MAX_LENGTH = 512

# Published config of stabilityai/stable-diffusion-xl-base-1.0, unet/config.json.
SDXL_BASE_UNET_CONFIG: dict[str, Any] = {
    "act_fn": "silu",
    "addition_embed_type": "text_time",
    "addition_embed_type_num_heads": 64,
    "addition_time_embed_dim": 256,
    "attention_head_dim": [5, 10, 20],
    "block_out_channels": [320, 640, 1280],
    "center_input_sample": False,
    "class_embed_type": None,
    "class_embeddings_concat": False,
    "conv_in_kernel": 3,
    "conv_out_kernel": 3,
    "cross_attention_dim": 2048,
    "cross_attention_norm": None,
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    "downsample_padding": 1,
    "dual_cross_attention": False,
    "encoder_hid_dim": None,
    "encoder_hid_dim_type": None,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 2,
    "mid_block_only_cross_attention": None,
    "mid_block_scale_factor": 1,
    "mid_block_type": "UNetMidBlock2DCrossAttn",
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "num_attention_heads": None,
    "num_class_embeds": None,
    "only_cross_attention": False,
    "out_channels": 4,
    "projection_class_embeddings_input_dim": 2816,
    "resnet_out_scale_factor": 1.0,
    "resnet_skip_time_act": False,
    "resnet_time_scale_shift": "default",
    "sample_size": 128,
    "time_cond_proj_dim": None,
    "time_embedding_act_fn": None,
    "time_embedding_dim": None,
    "time_embedding_type": "positional",
    "timestep_post_act": None,
    "transformer_layers_per_block": [1, 2, 10],
    "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    "upcast_attention": None,
    "use_linear_projection": True,
}

# Published config of black-forest-labs/FLUX.1-dev, transformer/config.json.
FLUX_DEV_TRANSFORMER_CONFIG: dict[str, Any] = {
    "attention_head_dim": 128,
    "axes_dims_rope": [16, 56, 56],
    "guidance_embeds": True,
    "in_channels": 64,
    "joint_attention_dim": 4096,
    "num_attention_heads": 24,
    "num_layers": 19,
    "num_single_layers": 38,
    "patch_size": 1,
    "pooled_projection_dim": 768,
}

# Published scheduler configs of the same two models.
SDXL_SCHEDULER_CONFIG: dict[str, Any] = {
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "interpolation_type": "linear",
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "sample_max_value": 1.0,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "timestep_spacing": "leading",
    "trained_betas": None,
    "use_karras_sigmas": False,
}
FLUX_SCHEDULER_CONFIG: dict[str, Any] = {
    "base_image_seq_len": 256,
    "base_shift": 0.5,
    "max_image_seq_len": 4096,
    "max_shift": 1.15,
    "num_train_timesteps": 1000,
    "shift": 3.0,
    "use_dynamic_shifting": True,
}


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP byte-level alphabet: every byte maps to one printable unicode character."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in codes), strict=True))


def clip_vocab_and_merges() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """A CLIP-style byte-level BPE vocabulary: 256 byte symbols (plain and word-final) plus
    merges that spell the common words, the trigger token and the special tokens at the end."""
    alphabet = list(_bytes_to_unicode().values())
    vocab: dict[str, int] = {}
    for symbol in alphabet + [s + "</w>" for s in alphabet]:
        vocab.setdefault(symbol, len(vocab))
    merges: list[tuple[str, str]] = []
    for word in (*_COMMON_WORDS, "ohwx", "sks"):
        if len(word) < 2:
            continue
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        left = pieces[0]
        for right in pieces[1:]:
            merged = left + right
            if merged not in vocab:
                merges.append((left, right))
                vocab[merged] = len(vocab)
            left = merged
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return vocab, merges


def build_clip_tokenizer():
    from transformers import CLIPTokenizer

    vocab, merges = clip_vocab_and_merges()
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=CLIP_MAX_LENGTH)


def build_t5_tokenizer():
    """A T5-style Unigram tokenizer: <pad>=0, </s>=1, <unk>=2, then whole words and characters."""
    from transformers import T5Tokenizer

    pieces: list[tuple[str, float]] = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -2.0)]
    printable = [chr(c) for c in range(33, 127)]
    pieces += [("▁" + word, -3.0) for word in (*_COMMON_WORDS, "ohwx") if len(word) > 1]
    pieces += [("▁" + ch, -5.5) for ch in printable]
    pieces += [(ch, -6.0) for ch in printable]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=T5_MAX_LENGTH)


def _clip_text_config(vocab_size: int, bos: int, eos: int, pad: int):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=CLIP_MAX_LENGTH,
        layer_norm_eps=1e-5,
        hidden_act="gelu",
        projection_dim=32,
        bos_token_id=bos,
        eos_token_id=eos,
        pad_token_id=pad,
    )


def _sdxl_components() -> dict[str, Any]:
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    tokenizer = build_clip_tokenizer()
    tokenizer_2 = build_clip_tokenizer()
    text_config = _clip_text_config(
        len(tokenizer), tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id
    )
    text_encoder = CLIPTextModel(text_config)
    text_encoder_2 = CLIPTextModelWithProjection(text_config)
    time_embed_dim = 8
    unet = UNet2DConditionModel(
        sample_size=32,
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        transformer_layers_per_block=1,
        # SDXL concatenates the hidden states of both text encoders.
        cross_attention_dim=text_config.hidden_size * 2,
        addition_embed_type="text_time",
        addition_time_embed_dim=time_embed_dim,
        projection_class_embeddings_input_dim=text_config.projection_dim + 6 * time_embed_dim,
        norm_num_groups=16,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(16, 32),
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=8,
        sample_size=64,
        scaling_factor=0.13025,
    )
    scheduler = EulerDiscreteScheduler.from_config(SDXL_SCHEDULER_CONFIG)
    return {
        "unet": unet,
        "scheduler": scheduler,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "text_encoder_2": text_encoder_2,
        "tokenizer_2": tokenizer_2,
        "image_encoder": None,
        "feature_extractor": None,
    }


def _flux_components() -> dict[str, Any]:
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxTransformer2DModel
    from transformers import CLIPTextModel, T5Config, T5EncoderModel

    tokenizer = build_clip_tokenizer()
    tokenizer_2 = build_t5_tokenizer()
    text_config = _clip_text_config(
        len(tokenizer), tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id
    )
    text_encoder = CLIPTextModel(text_config)
    t5_config = T5Config(
        vocab_size=len(tokenizer_2),
        d_model=32,
        d_kv=8,
        d_ff=37,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        dropout_rate=0.0,
        feed_forward_proj="gated-gelu",
        is_encoder_decoder=False,
        use_cache=False,
        pad_token_id=tokenizer_2.pad_token_id,
        eos_token_id=tokenizer_2.eos_token_id,
        decoder_start_token_id=tokenizer_2.pad_token_id,
    )
    text_encoder_2 = T5EncoderModel(t5_config)
    latent_channels = 4
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=latent_channels * 4,  # 2x2 patches of latents are packed into channels
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=t5_config.d_model,
        pooled_projection_dim=text_config.hidden_size,
        guidance_embeds=True,  # as FLUX.1-dev: guidance-distilled
        axes_dims_rope=(4, 4, 8),
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(16,),
        down_block_types=("DownEncoderBlock2D",),
        up_block_types=("UpDecoderBlock2D",),
        layers_per_block=1,
        latent_channels=latent_channels,
        norm_num_groups=8,
        sample_size=32,
        use_quant_conv=False,
        use_post_quant_conv=False,
        shift_factor=0.0609,
        scaling_factor=1.5035,
    )
    scheduler = FlowMatchEulerDiscreteScheduler.from_config(FLUX_SCHEDULER_CONFIG)
    return {
        "scheduler": scheduler,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": tokenizer,
        "text_encoder_2": text_encoder_2,
        "tokenizer_2": tokenizer_2,
        "transformer": transformer,
        "image_encoder": None,
        "feature_extractor": None,
    }


@torch.no_grad()
def _make_vae_trained_like(vae, family: str) -> None:
    """Give the random VAE two properties of a trained one that training relies on: a nearly
    deterministic posterior (tiny std) and scaling/shift factors that bring latents to zero mean
    and unit variance (measured on smooth synthetic images)."""
    channels = vae.config.latent_channels
    moments = vae.quant_conv if vae.quant_conv is not None else vae.encoder.conv_out
    moments.weight[channels:].zero_()
    moments.bias[channels:].fill_(-12.0)  # log-variance: std = exp(-6)
    generator = torch.Generator().manual_seed(1234)
    coarse = torch.rand(16, 3, 8, 8, generator=generator)
    images = F.interpolate(coarse, size=(64, 64), mode="bicubic", align_corners=False)
    latents = vae.encode(images.clamp(0, 1) * 2 - 1).latent_dist.mean
    shift = float(latents.mean()) if family == "flux" else None
    centred = latents - (shift or 0.0)
    vae.register_to_config(scaling_factor=round(1.0 / float(centred.std()), 5), shift_factor=shift)


def build_tiny_pipeline(family: str, out_dir: Path, seed: int = 0) -> Path:
    """Build a tiny random-weight pipeline of `family` and save it to out_dir (idempotent)."""
    from diffusers import FluxPipeline, StableDiffusionXLPipeline

    check_family(family)
    out_dir = Path(out_dir)
    if (out_dir / "model_index.json").exists() and not _is_stale_tiny_build(out_dir):
        return out_dir
    quiet_loading()
    out_dir.parent.mkdir(parents=True, exist_ok=True)

    # Weights depend only on the seed; the global RNG is restored afterwards.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if family == "sdxl":
            pipe = StableDiffusionXLPipeline(**_sdxl_components(), add_watermarker=False)
        else:
            pipe = FluxPipeline(**_flux_components())
        _make_vae_trained_like(pipe.vae, family)

    # Save next to the target and rename, so a half-written directory is never mistaken for a model.
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; workers may run as another user
    try:
        pipe.save_pretrained(staging, safe_serialization=True)
        marker = {"family": family, "seed": seed, "version": TINY_BUILD_VERSION}
        (staging / TINY_MARKER).write_text(json.dumps(marker))
        if out_dir.exists() and _is_stale_tiny_build(out_dir):
            stale = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.stale.", dir=out_dir.parent))
            os.replace(out_dir, stale / out_dir.name)
            shutil.rmtree(stale, ignore_errors=True)
        if out_dir.exists() and not any(out_dir.iterdir()):
            out_dir.rmdir()
        try:
            os.replace(staging, out_dir)
        except OSError:
            # Another process finished the same build first: use theirs.
            if not (out_dir / "model_index.json").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def _is_stale_tiny_build(model_dir: Path) -> bool:
    """A tiny model built by an older version of this module (a directory without the marker
    is someone else's model and is never touched)."""
    marker = model_dir / TINY_MARKER
    if not marker.exists():
        return False
    # Builds from before the marker had a version are version 1.
    return json.loads(marker.read_text()).get("version", 1) != TINY_BUILD_VERSION


@contextmanager
def _default_device_and_dtype(device: torch.device, dtype: torch.dtype):
    """Create modules directly on `device` in `dtype` (random init of billions of parameters on
    CPU in float32 first would take minutes and twice the memory)."""
    previous_dtype = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            yield
    finally:
        torch.set_default_dtype(previous_dtype)


def _as_dtype(model, dtype: torch.dtype):
    if any(p.dtype != dtype for p in model.parameters() if p.is_floating_point()):
        model = model.to(dtype=dtype)
    return model.eval()


def build_full_size_denoiser(family: str, device: Any = None, dtype: torch.dtype | None = None):
    """The SDXL base 1.0 UNet or the FLUX.1-dev transformer with random weights, built directly on
    `device` in `dtype` (for speed benchmarks: speed does not depend on the weight values)."""
    from diffusers import FluxTransformer2DModel, UNet2DConditionModel

    check_family(family)
    device, dtype = resolve_device(device, dtype)
    with _default_device_and_dtype(device, dtype):
        if family == "sdxl":
            model = UNet2DConditionModel(**SDXL_BASE_UNET_CONFIG)
        else:
            model = FluxTransformer2DModel(**FLUX_DEV_TRANSFORMER_CONFIG)
    return _as_dtype(model, dtype)


def build_full_size_pipeline(family: str, device: Any = None, dtype: torch.dtype | None = None):
    """A StableDiffusionXLPipeline/FluxPipeline of full-size random-weight components (published
    configs of SDXL base 1.0 / FLUX.1-dev: denoiser, VAE, CLIP-L, OpenCLIP-bigG or T5-XXL) with
    this module's small local tokenizers; in memory only, for GPU speed benchmarks."""
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        FlowMatchEulerDiscreteScheduler,
        FluxPipeline,
        StableDiffusionXLPipeline,
    )
    from transformers import (
        CLIPTextConfig,
        CLIPTextModel,
        CLIPTextModelWithProjection,
        T5Config,
        T5EncoderModel,
    )

    check_family(family)
    device, dtype = resolve_device(device, dtype)
    tokenizer = build_clip_tokenizer()
    special = {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    clip_l = CLIPTextConfig(
        vocab_size=49408,
        hidden_size=768,
        intermediate_size=3072,
        num_hidden_layers=12,
        num_attention_heads=12,
        max_position_embeddings=77,
        hidden_act="quick_gelu",
        projection_dim=768,
        **special,
    )
    vae_config = {
        "in_channels": 3,
        "out_channels": 3,
        "block_out_channels": (128, 256, 512, 512),
        "down_block_types": ("DownEncoderBlock2D",) * 4,
        "up_block_types": ("UpDecoderBlock2D",) * 4,
        "layers_per_block": 2,
        "norm_num_groups": 32,
        "sample_size": 1024,
    }
    denoiser = build_full_size_denoiser(family, device, dtype)
    with _default_device_and_dtype(device, dtype):
        text_encoder = _as_dtype(CLIPTextModel(clip_l), dtype)
        if family == "sdxl":
            clip_big_g = CLIPTextConfig(
                vocab_size=49408,
                hidden_size=1280,
                intermediate_size=5120,
                num_hidden_layers=32,
                num_attention_heads=20,
                max_position_embeddings=77,
                hidden_act="gelu",
                projection_dim=1280,
                **special,
            )
            text_encoder_2 = _as_dtype(CLIPTextModelWithProjection(clip_big_g), dtype)
            vae = _as_dtype(
                AutoencoderKL(**vae_config, latent_channels=4, scaling_factor=0.13025), dtype
            )
        else:
            t5_xxl = T5Config(
                vocab_size=32128,
                d_model=4096,
                d_kv=64,
                d_ff=10240,
                num_layers=24,
                num_heads=64,
                feed_forward_proj="gated-gelu",
                is_encoder_decoder=False,
                use_cache=False,
                dropout_rate=0.0,
            )
            text_encoder_2 = _as_dtype(T5EncoderModel(t5_xxl), dtype)
            vae = _as_dtype(
                AutoencoderKL(
                    **vae_config,
                    latent_channels=16,
                    use_quant_conv=False,
                    use_post_quant_conv=False,
                    shift_factor=0.1159,
                    scaling_factor=0.3611,
                ),
                dtype,
            )
    if family == "sdxl":
        pipe = StableDiffusionXLPipeline(
            vae=vae,
            text_encoder=text_encoder,
            text_encoder_2=text_encoder_2,
            tokenizer=tokenizer,
            tokenizer_2=build_clip_tokenizer(),
            unet=denoiser,
            scheduler=EulerDiscreteScheduler.from_config(SDXL_SCHEDULER_CONFIG),
            add_watermarker=False,
        )
    else:
        pipe = FluxPipeline(
            scheduler=FlowMatchEulerDiscreteScheduler.from_config(FLUX_SCHEDULER_CONFIG),
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            text_encoder_2=text_encoder_2,
            tokenizer_2=build_t5_tokenizer(),
            transformer=denoiser,
        )
    pipe.set_progress_bar_config(disable=True)
    return pipe
