// Concord's runtime protocol (Kenning's message set) — framing and messages.
//
// One enum of message types and one frame layout, used over stdio pipes (local worker
// processes) and TCP (`concord serve` targets). A frame is
//
//   offset  size  field
//   0       4     magic "CNC1"
//   4       1     type (MessageType)
//   5       3     zero
//   8       4     meta_len   (u32, little-endian) — JSON metadata bytes
//   12      8     body_len   (u64, little-endian) — blob section bytes
//   20      ...   meta (UTF-8 JSON object), then body: blobs, each u64 length + bytes
//
// Tensors travel as ONNX TensorProto bytes (sequences as SequenceProto), one blob each, in the
// order named by meta["names"]. Decoding is strict: wrong magic, unknown type, non-zero
// padding, lengths over the limits, blob lengths that do not exactly fill the body, or meta that
// is not a JSON object are all ProtocolError (Error kind kInput) — never a crash, never an
// allocation larger than the limits.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ir/error.h"

namespace concord::protocol {

inline constexpr uint32_t kVersion = 1;
inline constexpr size_t kHeaderSize = 20;
inline constexpr uint32_t kMaxMetaBytes = 16u << 20;

enum class MessageType : uint8_t {
  kHello = 1,    // client -> server: {version, token, client}; server -> client: {version,
                 // capabilities, ...}
  kModel = 2,    // {name, env, sha256}; blob 0 = ONNX model bytes
  kData = 3,     // {names: [...], kinds: [...]}; one blob per input
  kProcess = 4,  // {taps: bool, repeat: N, warmup: N}
  kOutput = 5,   // {names, kinds, timing_ms: {...}}; one blob per output
  kStats = 6,    // request {} / reply {inference_ms: [...], cpu_percent, rss_bytes, ...}
  kOk = 7,       // generic success reply, meta may carry details
  kError = 8,    // {kind, message}
  kTaps = 9,     // {names, kinds}; one blob per intermediate tensor
  kBye = 10,     // client is done; server closes the connection
};

const char* MessageTypeName(MessageType t);

struct Message {
  MessageType type = MessageType::kOk;
  nlohmann::json meta = nlohmann::json::object();
  std::vector<std::string> blobs;
};

struct Limits {
  uint64_t max_frame_bytes = 2ull << 30;  // header + meta + body
};

// Encodes a message into one frame.
std::string EncodeFrame(const Message& m);
// The 20-byte header alone, for any type byte (tests build malformed frames with it).
std::string EncodeHeader(uint8_t type, uint32_t meta_len, uint64_t body_len);
// Parses a 20-byte header; returns meta_len and body_len. Throws on a bad header.
void DecodeHeader(const uint8_t* header, MessageType* type, uint32_t* meta_len, uint64_t* body_len,
                  const Limits& limits);
// Parses meta + body (the bytes after the header).
Message DecodeBody(MessageType type, const std::string& meta, const std::string& body);
// Convenience: a whole frame in one buffer (used by the fuzz harness and tests).
Message DecodeFrame(const std::string& frame, const Limits& limits = {});

[[noreturn]] void ProtocolFail(const std::string& what);

Message ErrorMessage(ErrorKind kind, const std::string& message);

}  // namespace concord::protocol
