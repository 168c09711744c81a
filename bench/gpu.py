"""GPU speed of the ML pipeline on full-size SDXL base 1.0 / FLUX.1-dev architectures.

Weights are random (speed does not depend on their values); shapes and configs are the
published ones (workers/pipeline/tiny.py). At 1024x1024 in bf16, for each family:

* train: one LoRA training step (rank 16, attention projections, gradient checkpointing, bf16
  autocast, AdamW) through train.py's own step function: ms per step, peak memory, and TFLOP/s
  from torch.utils.flop_counter.FlopCounterMode run over one whole step (forward, checkpoint
  recompute and backward as actually executed).
* generate: seconds per image for `--images` images in one batch, 30 steps (SDXL, CFG 5) or
  28 steps (FLUX, embedded guidance 3.5): through Generator.generate with a LoRA adapter active
  (what a worker runs), the same with no adapter, and a plain hand-written diffusers denoising
  loop (encode prompt, scheduler + denoiser loop, VAE decode) as the baseline. TFLOP/s counts the
  denoiser's FLOPs only (FlopCounterMode on one forward) over the loop's denoising time.

    python bench/gpu.py [--family sdxl|flux|both] [--images 4] [--train-steps 10]
    python bench/gpu.py --smoke   # tiny models on CPU: checks the script, measures nothing

Prints one JSON object; {"error": "no CUDA device"} (exit status 1) without a GPU.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

LORA_RANK = 16
PROMPT = "a photo of ohwx person, studio portrait, soft light"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, fn):
    synchronize(device)
    started = time.perf_counter()
    result = fn()
    synchronize(device)
    return time.perf_counter() - started, result


def latent_side(pipe, resolution: int) -> int:
    return resolution // pipe.vae_scale_factor


def denoiser_inputs(pipe, family: str, batch: int, resolution: int) -> dict:
    """Random inputs of the right shapes for one denoiser forward."""
    from diffusers import FluxPipeline

    device, dtype = pipe.device, pipe.dtype
    side = latent_side(pipe, resolution)
    if family == "sdxl":
        unet = pipe.unet
        text_dim = pipe.text_encoder.config.hidden_size + pipe.text_encoder_2.config.hidden_size
        return {
            "sample": torch.randn(
                batch, unet.config.in_channels, side, side, device=device, dtype=dtype
            ),
            "timestep": torch.full((batch,), 500, device=device),
            "encoder_hidden_states": torch.randn(batch, 77, text_dim, device=device, dtype=dtype),
            "added_cond_kwargs": {
                "text_embeds": torch.randn(
                    batch, pipe.text_encoder_2.config.projection_dim, device=device, dtype=dtype
                ),
                "time_ids": torch.tensor(
                    [[resolution, resolution, 0, 0, resolution, resolution]] * batch,
                    device=device,
                    dtype=dtype,
                ),
            },
        }
    transformer = pipe.transformer
    channels = transformer.config.in_channels // 4
    latents = torch.randn(batch, channels, side, side, device=device, dtype=dtype)
    text_tokens = 512
    return {
        "hidden_states": FluxPipeline._pack_latents(latents, batch, channels, side, side),
        "timestep": torch.full((batch,), 0.5, device=device, dtype=dtype),
        "guidance": torch.full((batch,), 3.5, device=device, dtype=torch.float32),
        "pooled_projections": torch.randn(
            batch, transformer.config.pooled_projection_dim, device=device, dtype=dtype
        ),
        "encoder_hidden_states": torch.randn(
            batch, text_tokens, transformer.config.joint_attention_dim, device=device, dtype=dtype
        ),
        "txt_ids": torch.zeros(text_tokens, 3, device=device, dtype=dtype),
        "img_ids": FluxPipeline._prepare_latent_image_ids(
            batch, side // 2, side // 2, device, dtype
        ),
    }


def forward_flops(model, inputs: dict) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(**inputs)
    return int(counter.get_total_flops())


@torch.no_grad()
def plain_loop(pipe, family: str, images: int, steps: int, guidance: float, resolution: int):
    """The denoising loop written out by hand with diffusers parts. Returns (total seconds,
    denoising-loop seconds)."""
    from diffusers import FluxPipeline
    from diffusers.pipelines.flux.pipeline_flux import calculate_shift

    device, dtype = pipe.device, pipe.dtype
    scheduler = type(pipe.scheduler).from_config(pipe.scheduler.config)
    generator = torch.Generator().manual_seed(0)
    side = latent_side(pipe, resolution)
    synchronize(device)
    started = time.perf_counter()
    if family == "sdxl":
        embeds, negative, pooled, negative_pooled = pipe.encode_prompt(
            PROMPT,
            device=device,
            num_images_per_prompt=images,
            do_classifier_free_guidance=True,
            negative_prompt="",
        )
        time_ids = pipe._get_add_time_ids(
            (resolution, resolution),
            (0, 0),
            (resolution, resolution),
            dtype=embeds.dtype,
            text_encoder_projection_dim=pipe.text_encoder_2.config.projection_dim,
        ).to(device)
        text = torch.cat([negative, embeds])
        conditioning = {
            "text_embeds": torch.cat([negative_pooled, pooled]),
            "time_ids": time_ids.repeat(2 * images, 1),
        }
        scheduler.set_timesteps(steps, device=device)
        shape = (images, pipe.unet.config.in_channels, side, side)
        latents = torch.randn(shape, generator=generator).to(device, dtype)
        latents = latents * scheduler.init_noise_sigma
        synchronize(device)
        loop_started = time.perf_counter()
        for t in scheduler.timesteps:
            model_input = scheduler.scale_model_input(torch.cat([latents] * 2), t)
            noise = pipe.unet(
                model_input,
                t,
                encoder_hidden_states=text,
                added_cond_kwargs=conditioning,
                return_dict=False,
            )[0]
            unconditional, conditional = noise.chunk(2)
            noise = unconditional + guidance * (conditional - unconditional)
            latents = scheduler.step(noise, t, latents, return_dict=False)[0]
        synchronize(device)
        loop_seconds = time.perf_counter() - loop_started
        pipe.vae.decode(latents / pipe.vae.config.scaling_factor, return_dict=False)
    else:
        embeds, pooled, text_ids = pipe.encode_prompt(
            prompt=PROMPT, prompt_2=None, device=device, num_images_per_prompt=images
        )
        side = 2 * (resolution // (pipe.vae_scale_factor * 2))
        channels = pipe.transformer.config.in_channels // 4
        latents = torch.randn((images, channels, side, side), generator=generator).to(device, dtype)
        packed = FluxPipeline._pack_latents(latents, images, channels, side, side)
        image_ids = FluxPipeline._prepare_latent_image_ids(
            images, side // 2, side // 2, device, dtype
        )
        config = scheduler.config
        mu = calculate_shift(
            packed.shape[1],
            config.get("base_image_seq_len", 256),
            config.get("max_image_seq_len", 4096),
            config.get("base_shift", 0.5),
            config.get("max_shift", 1.15),
        )
        sigmas = np.linspace(1.0, 1 / steps, steps)  # as FluxPipeline
        scheduler.set_timesteps(sigmas=sigmas, device=device, mu=mu)
        guidance_input = torch.full((images,), guidance, device=device, dtype=torch.float32)
        synchronize(device)
        loop_started = time.perf_counter()
        for t in scheduler.timesteps:
            velocity = pipe.transformer(
                hidden_states=packed,
                timestep=t.expand(images).to(dtype) / 1000,
                guidance=guidance_input,
                pooled_projections=pooled,
                encoder_hidden_states=embeds,
                txt_ids=text_ids,
                img_ids=image_ids,
                return_dict=False,
            )[0]
            packed = scheduler.step(velocity, t, packed, return_dict=False)[0]
        synchronize(device)
        loop_seconds = time.perf_counter() - loop_started
        latents = FluxPipeline._unpack_latents(
            packed, resolution, resolution, pipe.vae_scale_factor
        )
        latents = latents / pipe.vae.config.scaling_factor + pipe.vae.config.shift_factor
        pipe.vae.decode(latents, return_dict=False)
    synchronize(device)
    return time.perf_counter() - started, loop_seconds


def random_adapter(model, family: str, path: Path) -> Path:
    """A rank-16 LoRA on the default targets with random (non-zero) weights, saved as train.py
    saves adapters, then removed from the model again."""
    from peft import LoraConfig

    from workers.pipeline.train import TrainConfig, _existing_target_modules, write_adapter_file

    targets = _existing_target_modules(model, TrainConfig().target_modules_for(family))
    model.add_adapter(
        LoraConfig(
            r=LORA_RANK, lora_alpha=LORA_RANK, init_lora_weights="gaussian", target_modules=targets
        )
    )
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(std=1e-3)
    write_adapter_file(model, family, path, {"family": family, "rank": str(LORA_RANK)})
    model.delete_adapters(["default"])
    return path


def bench_generation(pipe, family: str, args, resolution: int, workdir: Path) -> dict:
    from workers.pipeline.generate import Generator

    device = pipe.device
    steps = args.sdxl_steps if family == "sdxl" else args.flux_steps
    guidance = 5.0 if family == "sdxl" else 3.5
    model = pipe.unet if family == "sdxl" else pipe.transformer
    flops = forward_flops(model, denoiser_inputs(pipe, family, 1, resolution))
    per_image_step = flops * (2 if family == "sdxl" else 1)  # SDXL runs CFG: two passes

    adapter = (random_adapter(model, family, workdir / f"{family}-adapter.safetensors"), "bench")
    generator = Generator.from_pipeline(pipe, family)
    request = {
        "prompt": PROMPT,
        "negative_prompt": "",
        "seeds": list(range(args.images)),
        "steps": steps,
        "guidance": guidance,
        "width": resolution,
        "height": resolution,
        "batch_size": args.images,
    }
    warm = request | {"steps": 2}
    generator.generate(adapter=adapter, **warm)  # warm-up, and loads the adapter
    plain_loop(pipe, family, args.images, 2, guidance, resolution)

    lora_seconds, _ = timed(device, lambda: generator.generate(adapter=adapter, **request))
    base_seconds, _ = timed(device, lambda: generator.generate(adapter=None, **request))
    plain_seconds, loop_seconds = plain_loop(pipe, family, args.images, steps, guidance, resolution)
    pipe.unload_lora_weights()

    denoiser_flops = per_image_step * steps * args.images
    return {
        "steps": steps,
        "images": args.images,
        "guidance": guidance,
        "denoiser_tflop_per_forward_image": round(flops / 1e12, 3),
        "generator_lora_seconds_per_image": round(lora_seconds / args.images, 3),
        "generator_base_seconds_per_image": round(base_seconds / args.images, 3),
        "plain_loop_seconds_per_image": round(plain_seconds / args.images, 3),
        "generator_lora_over_plain": round(lora_seconds / plain_seconds, 3),
        "plain_loop_denoise_tflops_per_s": round(denoiser_flops / loop_seconds / 1e12, 1),
        "generator_lora_end_to_end_tflops_per_s": round(denoiser_flops / lora_seconds / 1e12, 1),
    }


def bench_training(pipe, family: str, args, resolution: int) -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    from workers.pipeline.train import (
        CachedInputs,
        TrainConfig,
        prepare_lora_training,
        train_step,
        training_autocast,
        training_objective,
    )

    device, dtype = pipe.device, pipe.dtype
    model = pipe.unet if family == "sdxl" else pipe.transformer
    side = latent_side(pipe, resolution)
    channels = model.config.in_channels // (1 if family == "sdxl" else 4)
    # What train_lora caches from the VAE and text encoders, as random tensors of the same shapes.
    latents = torch.randn(4, channels, side, side, device=device)
    inputs = denoiser_inputs(pipe, family, 1, resolution)
    if family == "sdxl":
        cached = CachedInputs(
            latent_mean=latents,
            latent_std=torch.full_like(latents, 1e-3),
            prompt_embeds=inputs["encoder_hidden_states"],
            pooled_prompt_embeds=inputs["added_cond_kwargs"]["text_embeds"],
            add_time_ids=inputs["added_cond_kwargs"]["time_ids"],
            vae_scale_factor=pipe.vae_scale_factor,
        )
    else:
        cached = CachedInputs(
            latent_mean=latents,
            latent_std=torch.full_like(latents, 1e-3),
            prompt_embeds=inputs["encoder_hidden_states"],
            pooled_prompt_embeds=inputs["pooled_projections"],
            text_ids=inputs["txt_ids"],
            vae_scale_factor=pipe.vae_scale_factor,
        )
    config = TrainConfig(rank=LORA_RANK, alpha=LORA_RANK, resolution=resolution, batch_size=1)
    checkpointing = device.type == "cuda"
    _, lora_params, optimizer = prepare_lora_training(
        model, family, config, gradient_checkpointing=checkpointing
    )
    scheduler, loss_fn = training_objective(pipe, family)
    autocast = training_autocast(device, dtype)

    def step(index: int) -> float:
        return train_step(
            model, scheduler, loss_fn, cached, optimizer, lora_params, config, index, autocast
        )

    for index in range(args.warmup_steps):
        step(index)
    with FlopCounterMode(display=False) as counter:
        step(args.warmup_steps)
    step_flops = counter.get_total_flops()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    seconds, _ = timed(
        device,
        lambda: [step(args.warmup_steps + 1 + i) for i in range(args.train_steps)],
    )
    result = {
        "rank": LORA_RANK,
        "batch_size": 1,
        "gradient_checkpointing": checkpointing,
        "lora_parameters": sum(p.numel() for p in lora_params),
        "ms_per_step": round(1000 * seconds / args.train_steps, 1),
        "tflop_per_step": round(step_flops / 1e12, 3),
        "tflops_per_s": round(step_flops * args.train_steps / seconds / 1e12, 1),
    }
    if device.type == "cuda":
        result["peak_memory_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 1)
    model.disable_gradient_checkpointing()
    model.delete_adapters(["default"])
    return result


def bench_family(
    family: str, args, device: torch.device, dtype: torch.dtype, workdir: Path
) -> dict:
    from workers.pipeline.tiny import build_full_size_pipeline, build_tiny_pipeline

    build_seconds = 0.0
    if args.smoke:
        from workers.pipeline.base import load_pipeline

        model_dir = build_tiny_pipeline(family, workdir / f"tiny-{family}")
        pipe = load_pipeline(model_dir, family, device=device, dtype=dtype)
        resolution = 32
    else:
        build_seconds, pipe = timed(device, lambda: build_full_size_pipeline(family, device, dtype))
        resolution = args.resolution
    model = pipe.unet if family == "sdxl" else pipe.transformer
    result: dict = {
        "resolution": resolution,
        "build_seconds": round(build_seconds, 1) if not args.smoke else None,
        "denoiser_parameters": sum(p.numel() for p in model.parameters()),
    }
    try:
        result["generate"] = bench_generation(pipe, family, args, resolution, workdir)
        result["train"] = bench_training(pipe, family, args, resolution)
    finally:
        del pipe, model
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=["sdxl", "flux", "both"], default="both")
    parser.add_argument("--images", type=int, default=4)
    parser.add_argument("--sdxl-steps", type=int, default=30)
    parser.add_argument("--flux-steps", type=int, default=28)
    parser.add_argument("--train-steps", type=int, default=10)
    parser.add_argument("--warmup-steps", type=int, default=3)
    parser.add_argument("--resolution", type=int, default=1024)
    parser.add_argument("--smoke", action="store_true", help="tiny models on CPU, few steps")
    args = parser.parse_args()

    if args.smoke:
        device, dtype = torch.device("cpu"), torch.float32
        args.sdxl_steps = args.flux_steps = 3
        args.train_steps, args.warmup_steps, args.images = 2, 1, 2
    elif not torch.cuda.is_available():
        print(json.dumps({"error": "no CUDA device"}))
        return 1
    else:
        device, dtype = torch.device("cuda"), torch.bfloat16

    import diffusers

    report: dict = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu (smoke)",
        "dtype": str(dtype).removeprefix("torch."),
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
    }
    families = ["sdxl", "flux"] if args.family == "both" else [args.family]
    failed = False
    with tempfile.TemporaryDirectory(prefix="likeness-gpu-bench-") as tmp:
        for family in families:
            if family == "flux" and device.type == "cuda":
                memory = torch.cuda.get_device_properties(device).total_memory / 2**30
                if memory < 60:
                    report["flux"] = {"skipped": f"{memory:.0f} GiB of GPU memory; FLUX needs ~60"}
                    continue
            try:
                report[family] = bench_family(family, args, device, dtype, Path(tmp))
            except Exception as error:  # report what failed, keep the other family's numbers
                failed = True
                report[family] = {"error": repr(error), "trace": traceback.format_exc(limit=5)}
    print(json.dumps(report))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
