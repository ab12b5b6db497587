#!/usr/bin/python3
"""PyTorch autograd baseline for `vl4j bench --train`: training steps of DeepSeek-VL-1.3B on the same shapes.

The model is built from plain torch modules with random weights of the 1.3B checkpoint's shapes: SigLIP-L/16 at 384
(exact GELU, LayerNorm eps 1e-6, final norm), the mlp_gelu aligner (1024 -> 2048 -> 2048), the 24-layer LLaMA (hidden
2048, 16 heads, SwiGLU 5632, RMSNorm eps 1e-6, rotate-half RoPE, vocabulary 102,400). Two setups, as vl4j's:

  stage1       only the aligner trains: the tower runs without gradients, and the gradient flows back through the
               frozen language model to the image rows
  stage3_lora  rank-r LoRA adapters (alpha 2r, PEFT's start: A kaiming-uniform, B zero) on q/k/v/o/gate/up/down of
               every layer; every other weight frozen

One sample per step (or --batch-size copies): BOS ... the image's 576 rows at --image-start ... text, --seq-len
positions in all, the loss at the last --supervised rows but one (where vl4j's caption or answer is). A step is
timed in four phases, as vl4j times its own:
  forward    tower (no grad), aligner, embedding lookup with the image rows spliced in, every decoder layer, final norm
  loss       lm_head at the supervised rows only, cross-entropy (mean), and its gradient back to the final hidden rows
  backward   from there back through the language model (and the aligner)
  optimizer  clip_grad_norm_(1.0), AdamW (betas 0.9/0.95, eps 1e-8, weight decay 0.1), zero_grad
--checkpoint-activations on recomputes each decoder layer in backward (torch.utils.checkpoint, non-reentrant).

Precision: --dtype auto takes bf16 autocast (frozen weights in bf16, trained ones fp32) where the CPU has a bf16 dot
product (avx512_bf16 or amx_bf16), else fp32, the precision vl4j computes in. Debian's torch links the reference BLAS
for fp32 (a few GFLOP/s): put OpenBLAS in front (see /work/shared/bench/README.md or this project's README) — the
script warns when it finds the reference BLAS.

Usage:
  /usr/bin/python3 scripts/train_torch_bench.py [--like BENCH.json] [--stages 1,3] [--checkpoint-activations on|off|both]
      [--seq-len 640] [--image-start 1] [--supervised N] [--batch-size 1] [--lora-rank 8] [--runs 3] [--threads 2]
      [--dtype auto|fp32|bf16] [--size 1.3b|tiny]
--like takes the shapes (stages, activation modes, sequence length, image position, supervised rows, batch size, LoRA
rank) from the JSON `vl4j bench --train --json` printed. Prints one `RESULT {json}` line per configuration, its fields
named as the configs of vl4j's JSON (step_s, forward_s, loss_s, backward_s, optimizer_s, cpu_s, tokens_per_s,
peak_rss_mb, ...).
"""
import argparse
import contextlib
import json
import math
import os
import platform
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint

SIZES = {
    # vision width, depth, heads, mlp; image, patch; aligner out; LM hidden, layers, heads, ffn, vocab
    "1.3b": dict(vw=1024, vd=24, vh=16, vm=4096, img=384, patch=16, d=2048, layers=24, heads=16, ffn=5632, vocab=102400),
    "tiny": dict(vw=64, vd=2, vh=4, vm=128, img=384, patch=16, d=64, layers=2, heads=4, ffn=160, vocab=1000),
}
IMAGE_TOKENS = 576
META = {"device": "meta"}      # modules are built without memory, then allocated once (to_empty) and filled


# ----------------------------------------------------------------- memory and host
def peak_rss_mb():
    """VmHWM: the resident set's high-water mark (since the last reset_peak_rss)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return -1


def reset_peak_rss():
    """Linux resets VmHWM to the current RSS when 5 is written to clear_refs; False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def blas_library():
    """The BLAS this process loaded (after a first matrix product), read from its memory map."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if ".so" in line}
    except OSError:
        return "unknown"
    for lib in sorted(libs):
        if "openblas" in lib or "mkl" in lib or "blis" in lib:
            return lib
    for lib in sorted(libs):
        if "libblas" in lib:
            return lib
    return "unknown"


# ----------------------------------------------------------------- SigLIP-L/16 @ 384 (timm VisionTransformer, no head)
class VitBlock(nn.Module):
    def __init__(self, dim, heads, mlp):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-6, **META)
        self.qkv = nn.Linear(dim, 3 * dim, **META)
        self.proj = nn.Linear(dim, dim, **META)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6, **META)
        self.fc1 = nn.Linear(dim, mlp, **META)
        self.fc2 = nn.Linear(mlp, dim, **META)

    def forward(self, x):                                                   # x [B, N, C]
        b, n, c = x.shape
        qkv = self.qkv(self.norm1(x)).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]                                    # [B, heads, N, hd]
        a = ((q * (c // self.heads) ** -0.5) @ k.transpose(-2, -1)).softmax(-1) @ v
        x = x + self.proj(a.transpose(1, 2).reshape(b, n, c))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))               # exact (erf) GELU


class SigLip(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, s["vw"], s["patch"], s["patch"], **META)
        self.pos_embed = nn.Parameter(torch.empty(1, (s["img"] // s["patch"]) ** 2, s["vw"], **META))
        self.blocks = nn.ModuleList([VitBlock(s["vw"], s["vh"], s["vm"]) for _ in range(s["vd"])])
        self.norm = nn.LayerNorm(s["vw"], eps=1e-6, **META)

    def forward(self, pixels):                                              # [B, 3, 384, 384] -> [B, 576, C]
        x = self.patch_embed(pixels).flatten(2).transpose(1, 2) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.norm(x)


# ----------------------------------------------------------------- aligner (mlp_gelu, depth 2)
class Aligner(nn.Module):
    def __init__(self, inp, out):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(inp, out, **META), nn.GELU(), nn.Linear(out, out, **META))

    def forward(self, f):
        return self.layers(f)


# ----------------------------------------------------------------- LLaMA-style language model
class RmsNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(d, **META))
        self.eps = eps

    def forward(self, x):
        xf = x.float()
        return self.weight * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype)


class LoraLinear(nn.Module):
    """PEFT's LoRA on a frozen linear layer: y = base(x) + B(A(x)) * alpha / r."""

    def __init__(self, base, r, alpha):
        super().__init__()
        self.base = base
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.scaling = alpha / r

    def forward(self, x):
        return self.base(x) + (x @ self.lora_A.t() @ self.lora_B.t()) * self.scaling


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], -1)


class DecoderLayer(nn.Module):
    PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")

    def __init__(self, d, heads, ffn):
        super().__init__()
        self.heads, self.hd = heads, d // heads
        self.input_layernorm = RmsNorm(d)
        self.q_proj = nn.Linear(d, d, bias=False, **META)
        self.k_proj = nn.Linear(d, d, bias=False, **META)
        self.v_proj = nn.Linear(d, d, bias=False, **META)
        self.o_proj = nn.Linear(d, d, bias=False, **META)
        self.post_attention_layernorm = RmsNorm(d)
        self.gate_proj = nn.Linear(d, ffn, bias=False, **META)
        self.up_proj = nn.Linear(d, ffn, bias=False, **META)
        self.down_proj = nn.Linear(ffn, d, bias=False, **META)

    def forward(self, x, cos, sin, mask):                                   # x [B, T, D]
        b, t, d = x.shape
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(b, t, self.heads, self.hd).transpose(1, 2)  # [B, heads, T, hd]
        k = self.k_proj(h).view(b, t, self.heads, self.hd).transpose(1, 2)
        v = self.v_proj(h).view(b, t, self.heads, self.hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        a = ((q * self.hd ** -0.5) @ k.transpose(-2, -1) + mask).softmax(-1) @ v
        x = x + self.o_proj(a.transpose(1, 2).reshape(b, t, d))
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class LanguageModel(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.heads = s["heads"]
        self.embed_tokens = nn.Embedding(s["vocab"], s["d"], **META)
        self.layers = nn.ModuleList([DecoderLayer(s["d"], s["heads"], s["ffn"]) for _ in range(s["layers"])])
        self.norm = RmsNorm(s["d"])
        self.lm_head = nn.Linear(s["d"], s["vocab"], bias=False, **META)

    def hidden(self, x, checkpoint):                                        # input rows [B, T, D] -> final-normed rows
        t, hd = x.shape[1], x.shape[2] // self.heads
        inv = 1.0 / (10000.0 ** (torch.arange(0, hd, 2).float() / hd))
        angles = torch.outer(torch.arange(t).float(), inv)
        emb = torch.cat([angles, angles], -1)
        cos, sin = emb.cos().to(x.dtype), emb.sin().to(x.dtype)
        mask = torch.full((t, t), float("-inf"), dtype=x.dtype).triu(1)
        for layer in self.layers:
            if checkpoint:
                x = torch.utils.checkpoint.checkpoint(layer, x, cos, sin, mask, use_reentrant=False)
            else:
                x = layer(x, cos, sin, mask)
        return self.norm(x)


class DeepSeekVl(nn.Module):
    def __init__(self, s):
        super().__init__()
        self.vision = SigLip(s)
        self.aligner = Aligner(s["vw"], s["d"])
        self.language_model = LanguageModel(s)


def build(size, dtype):
    """Random weights of the shapes, allocated once (built on the meta device, then filled)."""
    s = SIZES[size]
    m = DeepSeekVl(s).to_empty(device="cpu")
    with torch.no_grad():
        for name, p in m.named_parameters():
            if p.dim() > 1:
                p.uniform_(-0.03, 0.03)
            elif "norm" in name and name.endswith("weight"):
                p.fill_(1.0)
            else:
                p.zero_()
    m.requires_grad_(False)
    if dtype == torch.bfloat16:
        m.to(torch.bfloat16)
    return m, s


# ----------------------------------------------------------------- a configuration's steps
def attach_lora(lm, r, alpha):
    params = []
    for layer in lm.layers:
        for name in DecoderLayer.PROJECTIONS:
            module = getattr(layer, name)
            base = module.base if isinstance(module, LoraLinear) else module
            lora = LoraLinear(base, r, alpha)
            setattr(layer, name, lora)
            params += [lora.lora_A, lora.lora_B]
    return params


def detach_lora(lm):
    for layer in lm.layers:
        for name in DecoderLayer.PROJECTIONS:
            module = getattr(layer, name)
            if isinstance(module, LoraLinear):
                setattr(layer, name, module.base)


def run_config(model, s, cfg, args, dtype):
    lm = model.language_model
    model.requires_grad_(False)
    detach_lora(lm)
    if cfg["stage"] == 1:
        params = list(model.aligner.parameters())
        for p in params:
            p.data = p.data.float()
            p.requires_grad_(True)
    else:
        params = attach_lora(lm, cfg["lora_rank"], 2 * cfg["lora_rank"])
    optimizer = torch.optim.AdamW(params, lr=1e-3 if cfg["stage"] == 1 else 2e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    b, t, start, n_sup = cfg["batch_size"], cfg["seq_len"], cfg["image_start"], cfg["supervised"]
    ids = torch.randint(0, s["vocab"], (b, t))
    pixels = torch.rand(b, 3, s["img"], s["img"]) * 2 - 1
    rows = torch.arange(t - 1 - n_sup, t - 1)                                # the logits at p predict labels[p + 1]
    targets = torch.randint(0, s["vocab"], (b, n_sup))
    trains_aligner = cfg["stage"] == 1
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if dtype == torch.bfloat16 else contextlib.nullcontext()

    def step():
        times = {}
        t0 = time.perf_counter()
        with autocast:
            with torch.no_grad():
                features = model.vision(pixels.to(dtype))                    # [B, 576, 1024]
            t1 = time.perf_counter()
            times["vision"] = t1 - t0
            with torch.set_grad_enabled(trains_aligner):
                image_rows = model.aligner(features)                        # [B, 576, 2048]
            t2 = time.perf_counter()
            times["aligner"] = t2 - t1
            with torch.no_grad():
                x = lm.embed_tokens(ids)                                    # [B, T, 2048]
            x = torch.cat([x[:, :start], image_rows.to(x.dtype), x[:, start + IMAGE_TOKENS:]], 1)
            hidden = lm.hidden(x, cfg["checkpoint_activations"])
        t3 = time.perf_counter()
        times["llm_forward"] = t3 - t2
        h = hidden.detach().requires_grad_(True)
        with autocast:
            logits = lm.lm_head(h[:, rows])                                 # [B, S, V] at the supervised rows only
        loss = F.cross_entropy(logits.float().reshape(-1, s["vocab"]), targets.reshape(-1))
        loss.backward()
        t4 = time.perf_counter()
        times["loss"] = t4 - t3
        hidden.backward(h.grad)
        t5 = time.perf_counter()
        times["backward"] = t5 - t4
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        t6 = time.perf_counter()
        times["optimizer"] = t6 - t5
        times["step"] = t6 - t0
        return loss.item(), times

    own_rss = reset_peak_rss()
    first_loss = None
    timed = []
    for run in range(args.runs + 1):                                        # run 0 warms up
        c0 = time.process_time()
        loss, times = step()
        times["cpu"] = time.process_time() - c0
        print(f"torch: {cfg['name']}, activations {'recomputed' if cfg['checkpoint_activations'] else 'kept'}: "
              f"{'warm-up step' if run == 0 else f'step {run}/{args.runs}'} {times['step']:.2f} s", file=sys.stderr, flush=True)
        if run == 0:
            first_loss = loss
        else:
            timed.append(times)

    def stats(key):
        v = [x[key] for x in timed]
        return {"median": statistics.median(v), "min": min(v), "max": max(v)}

    step_s = stats("step")
    forward = [x["vision"] + x["aligner"] + x["llm_forward"] for x in timed]
    out = dict(cfg)
    out.update({
        "trains": "aligner" if cfg["stage"] == 1 else "lora",
        "trainable_params": sum(p.numel() for p in params),
        "step_s": step_s["median"], "step_s_min": step_s["min"], "step_s_max": step_s["max"],
        "forward_s": statistics.median(forward), "loss_s": stats("loss")["median"], "backward_s": stats("backward")["median"],
        "optimizer_s": stats("optimizer")["median"], "cpu_s": stats("cpu")["median"],
        "tokens_per_s": b * t / step_s["median"],
        "phases_s": {k: stats(k) for k in ("vision", "aligner", "llm_forward", "loss", "backward", "optimizer")},
        "first_loss": first_loss,
        "peak_rss_mb": peak_rss_mb(), "peak_rss_scope": "config" if own_rss else "process",
    })
    if cfg["stage"] == 1:
        for p in params:
            p.requires_grad_(False)
    return out


# ----------------------------------------------------------------- main
def configs(args):
    if args.like:
        with open(args.like) as f:
            bench = json.load(f)
        keep = ("name", "stage", "lora_rank", "checkpoint_activations", "batch_size", "seq_len", "image_start", "supervised")
        return [{k: c[k] for k in keep} for c in bench["configs"]]
    modes = {"off": [False], "on": [True], "both": [False, True]}[args.checkpoint_activations]
    supervised = args.supervised if args.supervised else args.seq_len - 1 - args.image_start - IMAGE_TOKENS + 1
    out = []
    for stage in [int(x) for x in args.stages.split(",")]:
        if stage not in (1, 3):
            raise SystemExit("--stages takes 1 and 3")
        for mode in modes:
            out.append({"name": "stage1" if stage == 1 else "stage3_lora", "stage": stage,
                        "lora_rank": 0 if stage == 1 else args.lora_rank, "checkpoint_activations": mode,
                        "batch_size": args.batch_size, "seq_len": args.seq_len, "image_start": args.image_start,
                        "supervised": supervised})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--like", help="take the shapes from vl4j bench --train --json's output")
    ap.add_argument("--stages", default="1,3")
    ap.add_argument("--checkpoint-activations", default="both", choices=["on", "off", "both"])
    ap.add_argument("--seq-len", type=int, default=640)
    ap.add_argument("--image-start", type=int, default=1)
    ap.add_argument("--supervised", type=int, default=0, help="default: every row after the image")
    ap.add_argument("--batch-size", type=int, default=1)
    ap.add_argument("--lora-rank", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dtype", default="auto", choices=["auto", "fp32", "bf16"])
    ap.add_argument("--size", default="1.3b", choices=sorted(SIZES))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    flags = cpu_flags()
    bf16_dot = bool(flags & {"avx512_bf16", "amx_bf16"})
    name = args.dtype if args.dtype != "auto" else ("bf16" if bf16_dot else "fp32")
    dtype = torch.bfloat16 if name == "bf16" else torch.float32
    t0 = time.perf_counter()
    model, s = build(args.size, dtype)
    build_s = time.perf_counter() - t0
    torch.ones(8, 8) @ torch.ones(8, 8)
    blas = blas_library()
    if dtype == torch.float32 and "openblas" not in blas and "mkl" not in blas and "blis" not in blas:
        print(f"torch: warning: fp32 products go to {blas} (the reference BLAS computes a few GFLOP/s); put OpenBLAS in "
              "front: apt-get download libopenblas0-pthread && dpkg -x libopenblas0-pthread_*.deb DIR && "
              "LD_LIBRARY_PATH=DIR/usr/lib/x86_64-linux-gnu/openblas-pthread", file=sys.stderr)
    host = {"cpu": cpu_name(), "cpus": len(os.sched_getaffinity(0)), "avx512": "avx512f" in flags,
            "bf16_dot": bf16_dot}
    for cfg in configs(args):
        res = run_config(model, s, cfg, args, dtype)
        res.update({"torch": torch.__version__, "dtype": name, "threads": args.threads, "blas": blas, "host": host,
                    "params_M": sum(p.numel() for p in model.parameters()) / 1e6, "build_s": build_s, "size": args.size})
        print("RESULT " + json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
