"""DreamBooth-LoRA training of one person's adapter on a base model.

After diffusers' examples/dreambooth/train_dreambooth_lora_{sdxl,flux}.py: face-centred crops,
latents and text embeddings cached once, LoRA (peft) on the attention projections, AdamW, bf16
autocast and gradient checkpointing on CUDA, fixed seed, checkpoints for resume, output a
diffusers-format LoRA `.safetensors` with metadata.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from workers.pipeline.base import (
    check_family,
    default_resolution,
    denoiser,
    load_pipeline,
    model_revision,
    resolve_device,
)

logger = logging.getLogger(__name__)

ADAPTER_FILENAME = "adapter.safetensors"
CHECKPOINT_FILENAME = "checkpoint.pt"
ADAPTER_FORMAT = "diffusers-lora"
# diffusers reads the LoraConfig (rank, alpha, targets) of an adapter from this safetensors key.
DIFFUSERS_LORA_METADATA_KEY = "lora_adapter_metadata"

SDXL_TARGET_MODULES = ["to_q", "to_k", "to_v", "to_out.0"]
# FLUX's double-stream blocks also project the text stream (add_*_proj, to_add_out).
FLUX_TARGET_MODULES = [*SDXL_TARGET_MODULES, "add_q_proj", "add_k_proj", "add_v_proj", "to_add_out"]
# FLUX.1-dev is guidance-distilled; the diffusers recipe trains with its default guidance of 3.5.
FLUX_TRAINING_GUIDANCE = 3.5
# The face takes about this share of the crop's width.
FACE_WIDTH_SHARE = 0.42


class TrainingCancelled(Exception):
    """should_continue() returned False; the last checkpoint is kept and no adapter is written."""

    def __init__(self, step: int) -> None:
        super().__init__(f"training cancelled after step {step}")
        self.step = step


@dataclass
class TrainConfig:
    rank: int = 16
    alpha: int = 16
    steps: int = 800
    learning_rate: float = 1e-4
    resolution: int | None = None  # None: the model's default sample size (1024 for SDXL/FLUX.1)
    batch_size: int = 1
    checkpoint_every: int = 100
    seed: int = 0
    trigger_token: str = "ohwx"  # noqa: S105 (a rare word for the subject, not a secret)
    class_word: str = "person"
    gradient_checkpointing: bool = True  # only applied on CUDA
    target_modules: list[str] | None = None  # None: the family's attention projections
    max_grad_norm: float = 1.0
    weight_decay: float = 1e-4

    @property
    def instance_prompt(self) -> str:
        return f"a photo of {self.trigger_token} {self.class_word}"

    def target_modules_for(self, family: str) -> list[str]:
        if self.target_modules is not None:
            return list(self.target_modules)
        return list(SDXL_TARGET_MODULES if check_family(family) == "sdxl" else FLUX_TARGET_MODULES)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainResult:
    adapter_path: Path
    sha256: str
    size_bytes: int
    metadata: dict[str, str]
    steps: int
    final_loss: float
    resumed_from_step: int  # 0 when the run started fresh
    losses: list[float] = field(default_factory=list, repr=False)  # this call's steps only


def face_centred_crop(
    image: Image.Image, face_box: tuple[int, int, int, int] | None, resolution: int
) -> Image.Image:
    """Square crop centred on the face (left, top, right, bottom in pixels), the face taking about
    42% of the width, shifted to stay inside the image and resized to `resolution`. Without a
    face box: the centre square."""
    image = image.convert("RGB")
    width, height = image.size
    limit = min(width, height)
    if face_box is None:
        side = limit
        centre_x, centre_y = width / 2, height / 2
    else:
        left, top, right, bottom = face_box
        face_side = max(right - left, bottom - top, 1)
        side = min(max(round(face_side / FACE_WIDTH_SHARE), 1), limit)
        centre_x, centre_y = (left + right) / 2, (top + bottom) / 2
    x0 = int(round(min(max(centre_x - side / 2, 0), width - side)))
    y0 = int(round(min(max(centre_y - side / 2, 0), height - side)))
    crop = image.crop((x0, y0, x0 + side, y0 + side))
    return crop.resize((resolution, resolution), Image.Resampling.LANCZOS)


def _pixels(crops: list[Image.Image]) -> torch.Tensor:
    """PIL crops to a (N, 3, H, W) float tensor in [-1, 1]."""
    array = np.stack([np.asarray(crop, dtype=np.float32) for crop in crops])
    return torch.from_numpy(array).permute(0, 3, 1, 2) / 127.5 - 1.0


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _atomic_torch_save(payload: dict[str, Any], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def _step_generator(seed: int, step: int) -> torch.Generator:
    """Noise, timesteps and latent samples of step N depend only on (seed, N): a resumed run draws
    exactly what an uninterrupted one would have."""
    return torch.Generator(device="cpu").manual_seed(seed * 1_000_003 + step)


def _batch_indices(seed: int, step: int, batch_size: int, count: int) -> list[int]:
    """Epoch-wise shuffled order over the images, a pure function of (seed, step)."""
    indices = []
    for position in range(step * batch_size, (step + 1) * batch_size):
        epoch, offset = divmod(position, count)
        order = torch.randperm(count, generator=torch.Generator().manual_seed(seed * 7919 + epoch))
        indices.append(int(order[offset]))
    return indices


def _existing_target_modules(model: torch.nn.Module, wanted: list[str]) -> list[str]:
    names = [name for name, _ in model.named_modules()]
    present = [t for t in wanted if any(n == t or n.endswith("." + t) for n in names)]
    if not present:
        raise ValueError(f"none of the LoRA target modules {wanted} exist in the model")
    return present


@dataclass
class CachedInputs:
    """Everything the training loop needs from the VAE and text encoders, computed once."""

    latent_mean: torch.Tensor  # (N, C, h, w), float32, scaled (and shifted for FLUX)
    latent_std: torch.Tensor
    prompt_embeds: torch.Tensor
    pooled_prompt_embeds: torch.Tensor
    add_time_ids: torch.Tensor | None = None  # SDXL
    text_ids: torch.Tensor | None = None  # FLUX
    vae_scale_factor: int = 8


@torch.no_grad()
def _cache_inputs(
    pipe, family: str, pixels: torch.Tensor, prompt: str, resolution: int
) -> CachedInputs:
    device = pipe.device
    vae = pipe.vae
    latent_means, latent_stds = [], []
    for start in range(0, pixels.shape[0], 4):
        batch = pixels[start : start + 4].to(device=device, dtype=vae.dtype)
        dist = vae.encode(batch).latent_dist
        latent_means.append(dist.mean.float())
        latent_stds.append(dist.std.float())
    mean, std = torch.cat(latent_means), torch.cat(latent_stds)
    shift = getattr(vae.config, "shift_factor", None) or 0.0
    scale = vae.config.scaling_factor
    # Sampling happens per step (as the recipe does); store the scaled distribution.
    mean, std = (mean - shift) * scale, std * scale
    vae_scale_factor = 2 ** (len(vae.config.block_out_channels) - 1)

    if family == "sdxl":
        prompt_embeds, _, pooled, _ = pipe.encode_prompt(
            prompt=prompt, device=device, num_images_per_prompt=1, do_classifier_free_guidance=False
        )
        add_time_ids = pipe._get_add_time_ids(
            (resolution, resolution),
            (0, 0),
            (resolution, resolution),
            dtype=prompt_embeds.dtype,
            text_encoder_projection_dim=pipe.text_encoder_2.config.projection_dim,
        ).to(device)
        return CachedInputs(mean, std, prompt_embeds, pooled, add_time_ids=add_time_ids,
                       vae_scale_factor=vae_scale_factor)  # fmt: skip
    prompt_embeds, pooled, text_ids = pipe.encode_prompt(
        prompt=prompt, prompt_2=None, device=device, num_images_per_prompt=1
    )
    return CachedInputs(mean, std, prompt_embeds, pooled, text_ids=text_ids,
                   vae_scale_factor=vae_scale_factor)  # fmt: skip


def _sdxl_loss(model, scheduler, cached: CachedInputs, latents, generator, device) -> torch.Tensor:
    bsz = latents.shape[0]
    noise = torch.randn(latents.shape, generator=generator).to(device)
    timesteps = torch.randint(
        0, scheduler.config.num_train_timesteps, (bsz,), generator=generator
    ).to(device)
    noisy = scheduler.add_noise(latents, noise, timesteps)
    prediction = model(
        noisy.to(model.dtype),
        timesteps,
        encoder_hidden_states=cached.prompt_embeds.expand(bsz, -1, -1),
        added_cond_kwargs={
            "text_embeds": cached.pooled_prompt_embeds.expand(bsz, -1),
            "time_ids": cached.add_time_ids.expand(bsz, -1),
        },
        return_dict=False,
    )[0]
    if scheduler.config.prediction_type == "v_prediction":
        target = scheduler.get_velocity(latents, noise, timesteps)
    else:
        target = noise
    return F.mse_loss(prediction.float(), target.float())


def _flux_loss(model, scheduler, cached: CachedInputs, latents, generator, device) -> torch.Tensor:
    from diffusers import FluxPipeline

    bsz, channels, height, width = latents.shape
    noise = torch.randn(latents.shape, generator=generator).to(device)
    # Uniform timestep density and unit loss weighting: the recipe's default scheme "none".
    u = torch.rand(bsz, generator=generator)
    indices = (u * scheduler.config.num_train_timesteps).long()
    timesteps = scheduler.timesteps[indices].to(device)
    sigmas = scheduler.sigmas[indices].to(device=device, dtype=latents.dtype).view(-1, 1, 1, 1)
    noisy = (1.0 - sigmas) * latents + sigmas * noise
    packed = FluxPipeline._pack_latents(noisy, bsz, channels, height, width)
    image_ids = FluxPipeline._prepare_latent_image_ids(
        bsz, height // 2, width // 2, device, model.dtype
    )
    guidance = None
    if model.config.guidance_embeds:
        guidance = torch.full((bsz,), FLUX_TRAINING_GUIDANCE, device=device)
    prediction = model(
        hidden_states=packed.to(model.dtype),
        timestep=timesteps / 1000,
        guidance=guidance,
        pooled_projections=cached.pooled_prompt_embeds.expand(bsz, -1),
        encoder_hidden_states=cached.prompt_embeds.expand(bsz, -1, -1),
        txt_ids=cached.text_ids,
        img_ids=image_ids,
        return_dict=False,
    )[0]
    prediction = FluxPipeline._unpack_latents(
        prediction,
        height=height * cached.vae_scale_factor,
        width=width * cached.vae_scale_factor,
        vae_scale_factor=cached.vae_scale_factor,
    )
    target = noise - latents  # flow matching: the velocity from data to noise
    return F.mse_loss(prediction.float(), target.float())


def training_objective(pipe, family: str) -> tuple[Any, Callable[..., torch.Tensor]]:
    """The noise scheduler and loss of the family's recipe: DDPM noise prediction for SDXL, flow
    matching for FLUX."""
    from diffusers import DDPMScheduler, FlowMatchEulerDiscreteScheduler

    if check_family(family) == "sdxl":
        return DDPMScheduler.from_config(pipe.scheduler.config), _sdxl_loss
    return FlowMatchEulerDiscreteScheduler.from_config(pipe.scheduler.config), _flux_loss


def training_autocast(device: torch.device, dtype: torch.dtype):
    if device.type == "cuda" and dtype == torch.bfloat16:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def prepare_lora_training(
    model: torch.nn.Module, family: str, config: TrainConfig, *, gradient_checkpointing: bool
) -> tuple[list[str], list[torch.nn.Parameter], torch.optim.Optimizer]:
    """Freeze the denoiser, add the LoRA (peft, gaussian init, seeded) and make its optimizer."""
    from peft import LoraConfig

    model.requires_grad_(False)
    target_modules = _existing_target_modules(model, config.target_modules_for(family))
    on_cuda = next(model.parameters()).device.type == "cuda"
    with torch.random.fork_rng(devices=[torch.cuda.current_device()] if on_cuda else []):
        torch.manual_seed(config.seed)  # the gaussian init of lora_A
        model.add_adapter(
            LoraConfig(
                r=config.rank,
                lora_alpha=config.alpha,
                init_lora_weights="gaussian",
                target_modules=target_modules,
            )
        )
    lora_params = [p for p in model.parameters() if p.requires_grad]
    for param in lora_params:
        param.data = param.data.float()  # the optimizer works on float32 masters
    if gradient_checkpointing:
        model.enable_gradient_checkpointing()
    model.train()
    optimizer = torch.optim.AdamW(
        lora_params,
        lr=config.learning_rate,
        betas=(0.9, 0.999),
        weight_decay=config.weight_decay,
        eps=1e-8,
    )
    return target_modules, lora_params, optimizer


def train_step(
    model: torch.nn.Module,
    scheduler,
    loss_fn: Callable[..., torch.Tensor],
    cached: CachedInputs,
    optimizer: torch.optim.Optimizer,
    lora_params: list[torch.nn.Parameter],
    config: TrainConfig,
    step: int,
    autocast,
) -> float:
    """One optimizer step (0-based `step`); its randomness depends only on (seed, step)."""
    device = cached.latent_mean.device
    generator = _step_generator(config.seed, step)
    count = cached.latent_mean.shape[0]
    index = torch.tensor(_batch_indices(config.seed, step, config.batch_size, count))
    eps = torch.randn(cached.latent_mean[index].shape, generator=generator).to(device)
    latents = cached.latent_mean[index] + cached.latent_std[index] * eps
    with autocast:
        loss = loss_fn(model, scheduler, cached, latents, generator, device)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(lora_params, config.max_grad_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(loss.detach().item())


@torch.no_grad()
def denoising_loss(
    pipe,
    family: str,
    images: list[Image.Image],
    face_boxes: list[tuple[int, int, int, int] | None],
    *,
    resolution: int,
    prompt: str,
    seed: int = 0,
    samples: int = 16,
) -> float:
    """The training objective on these images with fixed noise and timesteps, through `pipe`'s
    denoiser as it is now (with whatever adapter is active): lower means the model has learned
    the images better. For evaluating adapters; `pipe` is not modified."""
    check_family(family)
    crops = [
        face_centred_crop(im, box, resolution) for im, box in zip(images, face_boxes, strict=True)
    ]
    cached = _cache_inputs(pipe, family, _pixels(crops), prompt, resolution)
    scheduler, loss_fn = training_objective(pipe, family)
    model = denoiser(pipe)
    losses = [
        float(
            loss_fn(
                model, scheduler, cached, cached.latent_mean, _step_generator(seed, k), pipe.device
            )
        )
        for k in range(samples)
    ]
    return float(np.mean(losses))


def _fingerprint(revision: str, config: TrainConfig, crops: list[Image.Image], family: str) -> str:
    """What a checkpoint must match to be resumed: same base, same settings, same crops."""
    digest = hashlib.sha256()
    digest.update(json.dumps([revision, family, config.to_dict()], sort_keys=True).encode())
    for crop in crops:
        digest.update(crop.tobytes())
    return digest.hexdigest()


def _lora_state_dict_for_file(model, family: str) -> dict[str, torch.Tensor]:
    """peft's key names (`...to_q.lora_A.weight`) under the component prefix, as the FLUX recipe
    saves them. diffusers loads these natively for both families; the SDXL recipe's
    convert_state_dict_to_diffusers renames only attention keys (`to_q.lora.down`), and a file
    that mixes both namings loads with the renamed keys silently dropped."""
    from peft.utils import get_peft_model_state_dict

    prefix = "unet" if family == "sdxl" else "transformer"
    state = get_peft_model_state_dict(model)
    return {
        f"{prefix}.{k}": v.detach().to("cpu", torch.float32).contiguous() for k, v in state.items()
    }


def _diffusers_lora_metadata(model, family: str) -> str:
    prefix = "unet" if family == "sdxl" else "transformer"
    config = model.peft_config["default"].to_dict()
    config = {k: sorted(v) if isinstance(v, set) else v for k, v in config.items()}
    return json.dumps({f"{prefix}.{k}": v for k, v in config.items()}, sort_keys=True, default=str)


def write_adapter_file(model, family: str, path: Path, metadata: dict[str, str]) -> None:
    """Write the model's LoRA ("default" adapter) as a diffusers-loadable .safetensors, atomically,
    with our metadata plus the LoraConfig that diffusers reads back (rank, alpha, targets)."""
    from safetensors.torch import save_file

    file_metadata = {
        **metadata,
        DIFFUSERS_LORA_METADATA_KEY: _diffusers_lora_metadata(model, family),
    }
    tmp = path.with_name(path.name + ".tmp")
    save_file(_lora_state_dict_for_file(model, family), str(tmp), metadata=file_metadata)
    os.replace(tmp, path)


def train_lora(
    *,
    model_dir: Path,
    family: str,
    images: list[Image.Image],
    face_boxes: list[tuple[int, int, int, int] | None],
    config: TrainConfig,
    work_dir: Path,
    progress: Callable[[int, int, float], None] | None = None,
    should_continue: Callable[[], bool] | None = None,
    device: Any = None,
    dtype: torch.dtype | None = None,
) -> TrainResult:
    """Train a LoRA for one person; resume from work_dir's checkpoint when there is one.

    Writes work_dir/adapter.safetensors (atomically) and returns its hash and metadata. The final
    checkpoint stays in work_dir (a retry then only rewrites the adapter); the caller removes
    work_dir once the adapter is stored.
    """
    from peft.utils import get_peft_model_state_dict, set_peft_model_state_dict
    from tqdm.auto import tqdm

    check_family(family)
    if not images:
        raise ValueError("train_lora needs at least one image")
    if len(face_boxes) != len(images):
        raise ValueError("face_boxes must have one entry (or None) per image")
    if config.steps < 1 or config.batch_size < 1 or config.checkpoint_every < 1:
        raise ValueError("steps, batch_size and checkpoint_every must be positive")
    model_dir, work_dir = Path(model_dir), Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    device, dtype = resolve_device(device, dtype)
    on_cuda = device.type == "cuda"
    revision = model_revision(model_dir)

    pipe = load_pipeline(model_dir, family, device=device, dtype=dtype)
    resolution = config.resolution or default_resolution(pipe)
    multiple = pipe.vae_scale_factor * (2 if family == "flux" else 1)
    if resolution % multiple:
        raise ValueError(f"resolution must be a multiple of {multiple} for this model")
    crops = [
        face_centred_crop(im, box, resolution) for im, box in zip(images, face_boxes, strict=True)
    ]
    cached = _cache_inputs(pipe, family, _pixels(crops), config.instance_prompt, resolution)
    scheduler, loss_fn = training_objective(pipe, family)
    model = denoiser(pipe)
    # Only the denoiser is trained: free the VAE and text encoders.
    del pipe
    gc.collect()
    if on_cuda:
        torch.cuda.empty_cache()

    target_modules, lora_params, optimizer = prepare_lora_training(
        model, family, config, gradient_checkpointing=on_cuda and config.gradient_checkpointing
    )

    fingerprint = _fingerprint(revision, config, crops, family)
    checkpoint_path = work_dir / CHECKPOINT_FILENAME
    start_step, final_loss = 0, float("nan")
    if checkpoint_path.exists():
        checkpoint = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
        if checkpoint.get("fingerprint") == fingerprint:
            set_peft_model_state_dict(model, checkpoint["lora"])
            optimizer.load_state_dict(checkpoint["optimizer"])
            torch.set_rng_state(checkpoint["rng_cpu"])
            if on_cuda and checkpoint.get("rng_cuda") is not None:
                torch.cuda.set_rng_state(checkpoint["rng_cuda"])
            start_step, final_loss = int(checkpoint["step"]), float(checkpoint["loss"])
            logger.info("resuming LoRA training from step %d", start_step)
        else:
            logger.warning("ignoring checkpoint in %s: it is for other inputs", work_dir)

    def save_checkpoint(step: int, loss: float) -> None:
        _atomic_torch_save(
            {
                "fingerprint": fingerprint,
                "step": step,
                "loss": loss,
                "lora": {k: v.detach().cpu() for k, v in get_peft_model_state_dict(model).items()},
                "optimizer": optimizer.state_dict(),
                "rng_cpu": torch.get_rng_state(),
                "rng_cuda": torch.cuda.get_rng_state() if on_cuda else None,
            },
            checkpoint_path,
        )

    autocast = training_autocast(device, dtype)
    losses: list[float] = []
    bar = tqdm(
        total=config.steps,
        initial=start_step,
        desc="lora",
        disable=not sys.stderr.isatty(),
        leave=False,
    )
    step = start_step
    try:
        while step < config.steps:
            if should_continue is not None and not should_continue():
                raise TrainingCancelled(step)
            loss = train_step(
                model, scheduler, loss_fn, cached, optimizer, lora_params, config, step, autocast
            )
            step += 1
            final_loss = loss
            losses.append(final_loss)
            if step % config.checkpoint_every == 0 or step == config.steps:
                save_checkpoint(step, final_loss)
            bar.update(1)
            bar.set_postfix(loss=f"{final_loss:.4f}")
            if progress is not None:
                progress(step, config.steps, final_loss)
    finally:
        bar.close()

    model.eval()
    metadata = {
        "format": ADAPTER_FORMAT,
        "base_model_revision": revision,
        "family": family,
        "rank": str(config.rank),
        "alpha": str(config.alpha),
        "steps": str(config.steps),
        "trigger_token": config.trigger_token,
        "class_word": config.class_word,
        "resolution": str(resolution),
        "target_modules": json.dumps(target_modules),
    }
    adapter_path = work_dir / ADAPTER_FILENAME
    write_adapter_file(model, family, adapter_path, metadata)
    return TrainResult(
        adapter_path=adapter_path,
        sha256=_sha256_file(adapter_path),
        size_bytes=adapter_path.stat().st_size,
        metadata=metadata,
        steps=config.steps,
        final_loss=final_loss,
        resumed_from_step=start_step,
        losses=losses,
    )
