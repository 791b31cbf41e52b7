// The layer of a framework model that an ONNX twin's node comes from, in that framework's own
// terms, read from what the real exporters leave in the twin:
//   torch module   torch.onnx dynamo: the node's "pkg.torch.onnx.name_scopes" metadata
//                  (['', 'layer1', 'layer1.0', 'layer1.0.bn1', '<fx node>'] -> layer1.0.bn1;
//                  ['', 'div'] -> forward:div, an op of the root module's own forward);
//                  a parameter input named like a state-dict key (layer1.0.conv1.weight);
//                  TorchScript export scopes (/layer1/layer1.0/conv1/Conv -> layer1.0.conv1);
//                  litert-torch TFLite tensor names kept by tf2onnx
//                  (...ResNet/torch.nn.modules.container.Sequential_layer1/..._0/...Conv2d_conv1;2
//                  -> layer1.0.conv1);
//   keras layer    tf2onnx names from Keras, SavedModel and TFLite graphs
//                  (StatefulPartitionedCall/resnet50_1/conv1_conv_1/convolution -> conv1_conv;
//                  fused TFLite ops list every layer, ';'-separated);
//   onnx node      nothing above: the node's own name.
// Fused nodes name every layer they hold, joined by " + ", in order of appearance.
#pragma once

#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

namespace concord::localize {

struct LayerName {
  std::string name;    // "layer1.0.conv1", "conv1_conv + conv1_bn", or the node's name
  std::string scheme;  // "torch module" | "keras layer" | "onnx node"
};

// The layer node `index` of a model's main graph comes from.
LayerName LayerOf(const onnx::GraphProto& graph, int index);

// The layers named by one exporter-made name (a node or tensor name), "" when none is readable.
std::vector<std::string> LayersInName(const std::string& name, std::string* scheme);

}  // namespace concord::localize
