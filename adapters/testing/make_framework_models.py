"""Makes small seeded framework models with their ONNX twins, for the framework-env tests.

    .venv-torch/bin/python adapters/testing/make_framework_models.py torch OUT
        OUT/net.pt (TorchScript), OUT/net.pt2 (torch.export), OUT/net.xml+.bin (OpenVINO IR,
        ov.convert_model + save_model(compress_to_fp16=False)), OUT/torch_twin.onnx
        (torch.onnx, TorchScript exporter, opset 17), OUT/x_nchw.npy
    .venv-tf/bin/python adapters/testing/make_framework_models.py tf OUT
        OUT/net.keras, OUT/net_saved/ (SavedModel, Model.export), OUT/net.tflite
        (TFLiteConverter, fp32), OUT/tf_twin.onnx (tf2onnx, opset 17), OUT/x_nhwc.npy

Both nets are conv -> batch norm (randomized statistics, so activations are not near zero) ->
relu -> flatten -> dense, seeded. The ONNX twins come from the frameworks' own exporters, so a
native run and the twin on Concord's reference interpreter are independent computations.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np


def make_torch(out: str) -> None:
    import warnings
    warnings.filterwarnings("ignore")
    import torch
    import openvino as ov

    torch.manual_seed(0)

    class Net(torch.nn.Module):  # type: ignore[misc]  # torch is Any where mypy runs
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
            self.bn = torch.nn.BatchNorm2d(8)
            self.act = torch.nn.ReLU()
            self.fc = torch.nn.Linear(8 * 8 * 8, 10)

        def forward(self, x: Any) -> Any:
            return self.fc(torch.flatten(self.act(self.bn(self.conv(x))), 1))

    net = Net().eval()
    with torch.no_grad():
        net.bn.running_mean.uniform_(-0.5, 0.5)
        net.bn.running_var.uniform_(0.5, 2.0)
        net.bn.weight.uniform_(0.5, 1.5)
        net.bn.bias.uniform_(-0.5, 0.5)
    x = torch.from_numpy(np.random.RandomState(1).uniform(-1, 1, (1, 3, 8, 8)).astype(np.float32))
    np.save(os.path.join(out, "x_nchw.npy"), x.numpy())
    torch.jit.save(torch.jit.trace(net, x), os.path.join(out, "net.pt"))
    program = torch.export.export(net, (x,))
    torch.export.save(program, os.path.join(out, "net.pt2"))
    torch.onnx.export(net, (x,), os.path.join(out, "torch_twin.onnx"), input_names=["x"],
                      output_names=["logits"], opset_version=17, dynamo=False)
    ir = ov.convert_model(program, input=[1, 3, 8, 8])
    ov.save_model(ir, os.path.join(out, "net.xml"), compress_to_fp16=False)


def make_tf(out: str) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf
    import tf2onnx

    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 3), batch_size=1, name="x")
    h = keras.layers.Conv2D(8, 3, padding="same", name="conv")(inp)
    bn = keras.layers.BatchNormalization(name="bn")
    h = keras.layers.ReLU(name="relu")(bn(h))
    h = keras.layers.Flatten(name="flat")(h)
    model = keras.Model(inp, keras.layers.Dense(10, name="dense")(h))
    rng = np.random.RandomState(2)
    gamma, beta, mean, var = bn.get_weights()
    bn.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.uniform(-0.5, 0.5, beta.shape),
                    rng.uniform(-0.5, 0.5, mean.shape), rng.uniform(0.5, 2.0, var.shape)])
    x = np.random.RandomState(1).uniform(-1, 1, (1, 8, 8, 3)).astype(np.float32)
    np.save(os.path.join(out, "x_nhwc.npy"), x)
    model.save(os.path.join(out, "net.keras"))
    model.export(os.path.join(out, "net_saved"), verbose=False)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    with open(os.path.join(out, "net.tflite"), "wb") as f:
        f.write(converter.convert())
    spec = (tf.TensorSpec((1, 8, 8, 3), tf.float32, name="x"),)
    tf2onnx.convert.from_keras(model, input_signature=spec, opset=17,
                               output_path=os.path.join(out, "tf_twin.onnx"))


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("torch", "tf"):
        print("usage: make_framework_models.py torch|tf OUT", file=sys.stderr)
        return 2
    os.makedirs(argv[2], exist_ok=True)
    (make_torch if argv[1] == "torch" else make_tf)(argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
