// Quantization in a target model: QuantizeLinear -> DequantizeLinear pairs inserted on an edge
// (activations) and DequantizeLinear of an integer initializer (weights), as
// `concord convert --pass quantize_int8` writes them, and the error each one introduces.
//
// A quantized tensor's error is measured between its float value and its QDQ'd value:
//   activation  the Q node's float input and the DQ node's output, both from the target's own
//               tapped run (so upstream quantization does not count twice), worst over sets;
//   weight      the source model's float initializer (the DQ input's name without the
//               "_quantized" suffix, else the consumer's input at the same position in the
//               source) and the DQ node's output.
// max_abs is the largest |float - qdq|, rel_error is max_abs / max|float| (0 when all zero).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "localize/align.h"

namespace concord::localize {

struct QuantizedTensor {
  std::string tensor;                  // the float tensor that is quantized
  std::string kind;                    // "activation" or "weight"
  std::string quantize;                // Q node ("" for a weight)
  std::string dequantize;              // DQ node
  std::string dequantized;             // the DQ node's output
  std::vector<std::string> consumers;  // nodes that read the dequantized value
  std::string source_tensor;           // weight: the source's float initializer, once measured
  bool measured = false;
  double max_abs = 0;
  double rel_error = 0;
};

// The QDQ structure of `target`, in graph order (no values needed).
std::vector<QuantizedTensor> FindQuantizedTensors(const Model& target);

// True when node `index` of the target is part of a QDQ pair or reads a dequantized value.
bool IsQuantizationNode(const Model& target, const std::vector<QuantizedTensor>& q, int index);

// Fills max_abs/rel_error from the target's tapped values (and the source's initializers).
void MeasureQuantization(const Model& source, const Model& target, const SideValues& tv,
                         std::vector<QuantizedTensor>* q);

nlohmann::json QuantizationJson(const std::vector<QuantizedTensor>& q);

}  // namespace concord::localize
