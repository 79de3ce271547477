# The diffusers side of the side-by-side bench: one StableDiffusionPipeline (torch CPU, float32, SDPA attention) in
# its own process, warmed up with a 1-step generation, then RUNS timed generations (Euler, guidance 7.5, batch 1,
# PNG encoded as HyperGen does); prints one JSON line with the same fields as hack/src/bench/generate-child.ts.
# Usage: python3 hack/bench/diffusers_generate.py DIFFUSERS_FOLDER SIZE STEPS RUNS
import io
import json
import os
import resource
import sys
import time

import torch
from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline
from transformers import CLIPTextConfig, CLIPTextModel

# transformers 5 validates config types strictly; JSON writers that print 1.0 as 1 (JavaScript's) give ints.
FLOAT_KEYS = ("initializer_factor", "initializer_range", "attention_dropout", "dropout", "layer_norm_eps")


def text_encoder(folder: str) -> CLIPTextModel:
    with open(os.path.join(folder, "text_encoder", "config.json"), encoding="utf-8") as f:
        raw = json.load(f)
    fields = {k: float(v) if k in FLOAT_KEYS and isinstance(v, int) else v for k, v in raw.items()}
    return CLIPTextModel.from_pretrained(folder, subfolder="text_encoder", config=CLIPTextConfig(**fields))


def main() -> None:
    folder, size, steps, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    started = time.perf_counter()
    pipe = StableDiffusionPipeline.from_pretrained(
        folder, text_encoder=text_encoder(folder), torch_dtype=torch.float32, safety_checker=None, requires_safety_checker=False
    )
    pipe.scheduler = EulerDiscreteScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    load_seconds = time.perf_counter() - started
    step_times: list[float] = []
    begun: list[float] = []
    pipe.unet.register_forward_pre_hook(lambda *_: begun.append(time.perf_counter()))
    pipe.unet.register_forward_hook(lambda *_: step_times.append(time.perf_counter() - begun[-1]))
    decode = pipe.vae.decode
    vae_times: list[float] = []

    def timed_decode(*args, **kwargs):
        t = time.perf_counter()
        out = decode(*args, **kwargs)
        vae_times.append(time.perf_counter() - t)
        return out

    pipe.vae.decode = timed_decode

    def generate(n_steps: int) -> float:
        t = time.perf_counter()
        with torch.inference_mode():
            image = pipe(
                "a photo of an astronaut riding a horse on the moon",
                num_inference_steps=n_steps,
                guidance_scale=7.5,
                height=size,
                width=size,
                generator=torch.Generator("cpu").manual_seed(42),
            ).images[0]
        image.save(io.BytesIO(), format="png")
        return time.perf_counter() - t

    generate(1)
    totals, per_run_steps, vae = [], [], []
    for _ in range(runs):
        step_times.clear()
        vae_times.clear()
        totals.append(generate(steps))
        per_run_steps.append(list(step_times))
        vae.append(sum(vae_times))
    figures = {
        "device": f"cpu (torch {torch.__version__}, {torch.get_num_threads()} threads)",
        "totals": totals,
        "steps": per_run_steps,
        "vae": vae,
        "loadSeconds": load_seconds,
        "maxRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
