"""The PyTorch side of `vl4j bench sam`: the official segment-anything code on the same weights, image and prompts.

  python3 scripts/sam_torch_bench.py synth DIR [--seed 0]
      writes a random-weight SAM-B (the official build_sam_vit_b initialisation) in the Hugging Face SamModel layout,
      for vl4j and this script alike (375 MB)
  python3 scripts/sam_torch_bench.py bench DIR IMAGE [--threads 2] [--prompts 16] [--runs 3]
                                               [--points-per-side 32] [--pred-iou-thresh 0.88] [--stability-score-thresh 0.95]
      prints one JSON object: encoder_s, prompt_s (SamPredictor.predict: prompt encoder, decoder and postprocessing
      of one point prompt, multimask), amg_s (SamAutomaticMaskGenerator.generate, the image encoding excluded), amg_masks
      (medians over the runs, after a warm-up)

Needs PyTorch, torchvision, OpenCV and Pillow (Debian: python3-torch python3-torchvision python3-opencv python3-pil)
and the official code on PYTHONPATH (github.com/facebookresearch/segment-anything, commit dca509f). The prompts are
the ones `vl4j bench sam` uses: point i at ((0.5 + 0.618034·i) mod 1, (0.5 + 0.381966·i) mod 1) of the image, label 1.
"""
import argparse, json, os, statistics, struct, sys, time
import numpy as np, torch
from PIL import Image
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sam_amg_oracle import build, official_name
from segment_anything import SamAutomaticMaskGenerator, SamPredictor, build_sam_vit_b


def hf_name(official):
    """The inverse of official_name: an official segment-anything tensor name in the HF SamModel layout."""
    r = official
    for a, b in [('image_encoder.', 'vision_encoder.'), ('patch_embed.proj.', 'patch_embed.projection.'),
                 ('vision_encoder.blocks.', 'vision_encoder.layers.'),
                 ('prompt_encoder.pe_layer.positional_encoding_gaussian_matrix', 'shared_image_embedding.positional_embedding'),
                 ('prompt_encoder.point_embeddings.', 'prompt_encoder.point_embed.'), ('norm_final_attn', 'layer_norm_final_attn')]:
        r = r.replace(a, b)
    if r.startswith('vision_encoder.layers.'):
        r = r.replace('.norm1.', '.layer_norm1.').replace('.norm2.', '.layer_norm2.')
    for a, b in [('0', 'conv1'), ('1', 'layer_norm1'), ('2', 'conv2'), ('3', 'layer_norm2')]:
        r = r.replace('vision_encoder.neck.' + a + '.', 'vision_encoder.neck.' + b + '.')
    for a, b in [('0', 'conv1'), ('1', 'layer_norm1'), ('3', 'conv2'), ('4', 'layer_norm2'), ('6', 'conv3')]:
        r = r.replace('prompt_encoder.mask_downscaling.' + a + '.', 'prompt_encoder.mask_embed.' + b + '.')
    if r.startswith('mask_decoder.transformer.layers.'):
        for i in range(1, 5):
            r = r.replace('.norm%d.' % i, '.layer_norm%d.' % i)
    for a, b in [('0', 'upscale_conv1'), ('1', 'upscale_layer_norm'), ('3', 'upscale_conv2')]:
        r = r.replace('mask_decoder.output_upscaling.' + a + '.', 'mask_decoder.' + b + '.')
    if 'output_hypernetworks_mlps' in r or 'iou_prediction_head' in r:
        r = r.replace('.layers.0.', '.proj_in.').replace('.layers.2.', '.proj_out.').replace('.layers.1.', '.layers.0.')
    return r


SAM_B_CONFIG = {
    "architectures": ["SamModel"], "model_type": "sam",
    "vision_config": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "image_size": 1024, "patch_size": 16,
                      "mlp_dim": 3072, "window_size": 14, "global_attn_indexes": [2, 5, 8, 11], "output_channels": 256,
                      "num_pos_feats": 128, "layer_norm_eps": 1e-6, "qkv_bias": True, "use_abs_pos": True, "use_rel_pos": True,
                      "hidden_act": "gelu", "num_channels": 3},
    "prompt_encoder_config": {"hidden_size": 256, "image_size": 1024, "patch_size": 16, "mask_input_channels": 16,
                              "num_point_embeddings": 4, "hidden_act": "gelu", "layer_norm_eps": 1e-6},
    "mask_decoder_config": {"hidden_size": 256, "num_hidden_layers": 2, "num_attention_heads": 8, "mlp_dim": 2048,
                            "attention_downsample_rate": 2, "num_multimask_outputs": 3, "iou_head_depth": 3,
                            "iou_head_hidden_dim": 256, "hidden_act": "relu", "layer_norm_eps": 1e-6},
}


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        b = t.detach().contiguous().float().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def synth(folder, seed):
    torch.manual_seed(seed)
    sam = build_sam_vit_b()
    tensors = {hf_name(k): v for k, v in sam.state_dict().items() if not k.startswith('pixel_')}
    assert all(official_name(k) == o for k, o in zip(tensors, (k for k in sam.state_dict() if not k.startswith('pixel_')))), 'name map'
    os.makedirs(folder, exist_ok=True)
    write_safetensors(os.path.join(folder, 'model.safetensors'), tensors)
    json.dump(SAM_B_CONFIG, open(os.path.join(folder, 'config.json'), 'w'), indent=1)
    print('wrote', folder, len(tensors), 'tensors', file=sys.stderr)


def points(n, w, h):
    return [(((0.5 + 0.618034 * i) % 1.0) * w, ((0.5 + 0.381966 * i) % 1.0) * h) for i in range(n)]


def bench(a):
    torch.set_num_threads(a.threads)
    sam = build(os.path.join(a.model, 'config.json'), os.path.join(a.model, 'model.safetensors'))
    img = np.array(Image.open(a.image).convert('RGB'))
    h, w = img.shape[:2]
    pred = SamPredictor(sam)
    enc, prompt, amg, masks = [], [], [], 0
    with torch.no_grad():
        for run in range(a.runs + 1):
            t0 = time.perf_counter()
            pred.set_image(img)
            t1 = time.perf_counter()
            ps = points(a.prompts, w, h)
            times = []
            for x, y in ps:
                s = time.perf_counter()
                pred.predict(np.array([[x, y]]), np.array([1]), multimask_output=True)
                times.append(time.perf_counter() - s)
            gen = SamAutomaticMaskGenerator(sam, points_per_side=a.points_per_side, pred_iou_thresh=a.pred_iou_thresh,
                                            stability_score_thresh=a.stability_score_thresh, output_mode='uncompressed_rle')
            t2 = time.perf_counter()
            out = gen.generate(img)
            t3 = time.perf_counter()
            if run > 0:
                enc.append(t1 - t0)
                prompt.append(statistics.median(times))
                amg.append(t3 - t2 - (t1 - t0))
                masks = len(out)
    print(json.dumps({"threads": a.threads, "torch": torch.__version__, "image": [h, w], "encoder_s": statistics.median(enc),
                      "prompt_s": statistics.median(prompt), "amg_s": statistics.median(amg), "amg_masks": masks,
                      "points_per_side": a.points_per_side, "pred_iou_thresh": a.pred_iou_thresh,
                      "stability_score_thresh": a.stability_score_thresh}))


if __name__ == '__main__':
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest='cmd', required=True)
    s = sub.add_parser('synth')
    s.add_argument('dir')
    s.add_argument('--seed', type=int, default=0)
    b = sub.add_parser('bench')
    b.add_argument('model')
    b.add_argument('image')
    b.add_argument('--threads', type=int, default=2)
    b.add_argument('--prompts', type=int, default=16)
    b.add_argument('--runs', type=int, default=3)
    b.add_argument('--points-per-side', type=int, default=32)
    b.add_argument('--pred-iou-thresh', type=float, default=0.88)
    b.add_argument('--stability-score-thresh', type=float, default=0.95)
    a = p.parse_args()
    synth(a.dir, a.seed) if a.cmd == 'synth' else bench(a)
