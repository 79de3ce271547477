# Reference images for HyperGen's VAE tiling (issue 19), made by upstream diffusers unchanged: each case of
# server/test/fixtures/vae-tiling/cases.json run through the parity pipeline folder it names
# (server/test/fixtures/parity/diffusers/MODEL) with `pipe.vae.enable_tiling()` (AutoencoderKL.tiled_decode: latent
# tiles of sample_size / 2**(len(block_out_channels)-1), overlap factor 0.25, linear blend), exactly as
# refs/torch-seed of the parity data were made otherwise: torch.Generator("cpu").manual_seed(seed + i) per image,
# output_type="np", saved losslessly as uint8 (x * 255).round(). Writes refs/MODEL/CASE_i.png and provenance.json.
# Usage: python3 hack/parity/diffusers_vae_tiling.py   (a python with torch, diffusers and transformers)
import json
import os

import diffusers
import numpy as np
import torch
import transformers
from diffusers import DiffusionPipeline
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "server", "test", "fixtures")
OUT = os.path.join(ROOT, "vae-tiling")
SCHEDULERS = {"euler": diffusers.EulerDiscreteScheduler, "dpmpp_2m": diffusers.DPMSolverMultistepScheduler}


def main() -> None:
    with open(os.path.join(OUT, "cases.json"), encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    pipes = {}
    for case in cases:
        model, body = case["model"], case["body"]
        if model not in pipes:
            pipe = DiffusionPipeline.from_pretrained(os.path.join(ROOT, "parity", "diffusers", model), torch_dtype=torch.float32)
            pipe.vae.enable_tiling()
            pipe.set_progress_bar_config(disable=True)
            pipes[model] = pipe
        pipe = pipes[model]
        pipe.scheduler = SCHEDULERS[body["scheduler"]].from_config(pipe.scheduler.config)
        width, height = (int(v) for v in body["size"].split("x"))
        n = body["n"]
        images = pipe(
            body["prompt"],
            num_inference_steps=body["num_inference_steps"],
            guidance_scale=body["guidance_scale"],
            height=height,
            width=width,
            num_images_per_prompt=n,
            generator=[torch.Generator("cpu").manual_seed(body["seed"] + i) for i in range(n)],
            output_type="np",
        ).images
        os.makedirs(os.path.join(OUT, "refs", model), exist_ok=True)
        for i, image in enumerate(images):
            Image.fromarray((image * 255).round().astype(np.uint8)).save(os.path.join(OUT, "refs", model, f"{case['id']}_{i}.png"))
    provenance = {
        "diffusers": diffusers.__version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "made_by": "hack/parity/diffusers_vae_tiling.py",
        "vae": "pipe.vae.enable_tiling() (AutoencoderKL defaults: tile_sample_min_size = sample_size, overlap 0.25)",
    }
    with open(os.path.join(OUT, "provenance.json"), "w", encoding="utf-8") as f:
        json.dump(provenance, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
