"""Runs the official SamAutomaticMaskGenerator on testdata/sam-tiny's model and images (testdata/sam-tiny-oracle).

The shared fixture's two generator runs keep one record each; these runs keep many (NMS thresholds of 1.0,
low stability thresholds), so the order of records, the filters, crops and min_mask_region_area are checked too.

Needs PyTorch, torchvision, OpenCV and Pillow (Debian: python3-torch python3-torchvision python3-opencv python3-pil)
and the official code (github.com/facebookresearch/segment-anything, commit dca509f) on PYTHONPATH:
    PYTHONPATH=/path/to/segment-anything python3 scripts/sam_amg_oracle.py RUNS.json OUT.json
RUNS.json: {"name": {"image": "synth_77x131.png", "params": {...SamAutomaticMaskGenerator kwargs...}}, ...}
(the runs are kept in the output). The HF SamModel weights are mapped back to the official names.
"""
import json, os, struct, sys
from functools import partial
import numpy as np, torch
from PIL import Image
from segment_anything.modeling import ImageEncoderViT, PromptEncoder, MaskDecoder, TwoWayTransformer, Sam
from segment_anything import SamAutomaticMaskGenerator, SamPredictor

FIX = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'testdata', 'sam-tiny')

def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        h = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, e in h.items():
        if k == '__metadata__':
            continue
        a, b = e['data_offsets']
        out[k] = torch.from_numpy(np.frombuffer(data[a:b], dtype=np.float32).reshape(e['shape']).copy())
    return out

def official_name(k):
    r = k
    r = r.replace('vision_encoder.', 'image_encoder.').replace('patch_embed.projection', 'patch_embed.proj')
    r = r.replace('image_encoder.layers.', 'image_encoder.blocks.')
    if r.startswith('image_encoder.blocks.'):
        r = r.replace('.layer_norm1', '.norm1').replace('.layer_norm2', '.norm2')
    r = r.replace('neck.conv1', 'neck.0').replace('neck.layer_norm1', 'neck.1').replace('neck.conv2', 'neck.2').replace('neck.layer_norm2', 'neck.3')
    r = r.replace('shared_image_embedding.positional_embedding', 'prompt_encoder.pe_layer.positional_encoding_gaussian_matrix')
    r = r.replace('prompt_encoder.point_embed.', 'prompt_encoder.point_embeddings.')
    for a, b in [('conv1', '0'), ('layer_norm1', '1'), ('conv2', '3'), ('layer_norm2', '4'), ('conv3', '6')]:
        r = r.replace('prompt_encoder.mask_embed.' + a, 'prompt_encoder.mask_downscaling.' + b)
    if r.startswith('mask_decoder.transformer.layers.'):
        for i in range(1, 5):
            r = r.replace('.layer_norm%d' % i, '.norm%d' % i)
    r = r.replace('layer_norm_final_attn', 'norm_final_attn')
    r = r.replace('mask_decoder.upscale_conv1', 'mask_decoder.output_upscaling.0').replace('mask_decoder.upscale_layer_norm', 'mask_decoder.output_upscaling.1').replace('mask_decoder.upscale_conv2', 'mask_decoder.output_upscaling.3')
    if 'output_hypernetworks_mlps' in r or 'iou_prediction_head' in r:
        r = r.replace('.layers.0.', '.layers.1.').replace('.proj_in.', '.layers.0.').replace('.proj_out.', '.layers.2.')
    return r

def build(cfg_path=FIX + '/model/config.json', weights=FIX + '/model/model.safetensors'):
    cfg = json.load(open(cfg_path))
    v, p, d = cfg['vision_config'], cfg['prompt_encoder_config'], cfg['mask_decoder_config']
    e = v['image_size'] // v['patch_size']
    sam = Sam(
        image_encoder=ImageEncoderViT(depth=v['num_hidden_layers'], embed_dim=v['hidden_size'], img_size=v['image_size'],
                                      mlp_ratio=v['mlp_dim'] / v['hidden_size'], norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
                                      num_heads=v['num_attention_heads'], patch_size=v['patch_size'], qkv_bias=True, use_rel_pos=True,
                                      global_attn_indexes=v['global_attn_indexes'], window_size=v['window_size'], out_chans=v['output_channels']),
        prompt_encoder=PromptEncoder(embed_dim=p['hidden_size'], image_embedding_size=(e, e), input_image_size=(v['image_size'],) * 2,
                                     mask_in_chans=p['mask_input_channels']),
        mask_decoder=MaskDecoder(num_multimask_outputs=d['num_multimask_outputs'],
                                 transformer=TwoWayTransformer(depth=d['num_hidden_layers'], embedding_dim=d['hidden_size'], mlp_dim=d['mlp_dim'],
                                                               num_heads=d['num_attention_heads']),
                                 transformer_dim=d['hidden_size'], iou_head_depth=d['iou_head_depth'], iou_head_hidden_dim=d['iou_head_hidden_dim']),
        pixel_mean=[123.675, 116.28, 103.53], pixel_std=[58.395, 57.12, 57.375])
    sd = {official_name(k): t for k, t in read_safetensors(weights).items()}
    sam.load_state_dict(sd, strict=True)
    sam.eval()
    return sam

def run(sam, image_path, params):
    img = np.array(Image.open(image_path).convert('RGB'))
    gen = SamAutomaticMaskGenerator(sam, output_mode='uncompressed_rle', **params)
    with torch.no_grad():
        anns = gen.generate(img)
    recs = []
    for a in anns:
        recs.append({'rle': {'size': a['segmentation']['size'], 'counts': [int(c) for c in a['segmentation']['counts']]},
                     'area': int(a['area']), 'bbox_xywh': [int(x) for x in a['bbox']], 'predicted_iou': float(a['predicted_iou']),
                     'stability_score': float(a['stability_score']), 'point_coords': a['point_coords'],
                     'crop_box_xywh': [int(x) for x in a['crop_box']]})
    return recs

if __name__ == '__main__':
    torch.set_num_threads(1)
    sam = build()
    runs = json.load(open(sys.argv[1]))
    out = {}
    for name, r in runs.items():
        out[name] = {'image': r['image'], 'params': r['params'], 'records': run(sam, FIX + '/images/' + r['image'], r['params'])}
        print(name, len(out[name]['records']), file=sys.stderr)
    json.dump(out, open(sys.argv[2], 'w'))
