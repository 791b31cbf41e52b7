#include "protocol/message.h"

#include <cstring>

namespace concord::protocol {

namespace {

constexpr char kMagic[4] = {'C', 'N', 'C', '1'};

void PutU32(std::string* s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutU64(std::string* s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint32_t GetU32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}
uint64_t GetU64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

}  // namespace

const char* MessageTypeName(MessageType t) {
  switch (t) {
    case MessageType::kHello:
      return "HELLO";
    case MessageType::kModel:
      return "MODEL";
    case MessageType::kData:
      return "DATA";
    case MessageType::kProcess:
      return "PROCESS";
    case MessageType::kOutput:
      return "OUTPUT";
    case MessageType::kStats:
      return "STATS";
    case MessageType::kOk:
      return "OK";
    case MessageType::kError:
      return "ERROR";
    case MessageType::kTaps:
      return "TAPS";
    case MessageType::kBye:
      return "BYE";
  }
  return "?";
}

void ProtocolFail(const std::string& what) {
  throw Error(ErrorKind::kInput, "protocol error: " + what);
}

Message ErrorMessage(ErrorKind kind, const std::string& message) {
  Message m;
  m.type = MessageType::kError;
  m.meta = {{"kind", ErrorKindName(kind)}, {"message", message}};
  return m;
}

std::string EncodeHeader(uint8_t type, uint32_t meta_len, uint64_t body_len) {
  std::string out(kMagic, 4);
  out.push_back(static_cast<char>(type));
  out.append(3, '\0');
  PutU32(&out, meta_len);
  PutU64(&out, body_len);
  return out;
}

std::string EncodeFrame(const Message& m) {
  std::string meta = m.meta.dump();
  uint64_t body_len = 0;
  for (const auto& b : m.blobs) body_len += 8 + b.size();
  std::string out =
      EncodeHeader(static_cast<uint8_t>(m.type), static_cast<uint32_t>(meta.size()), body_len);
  out.reserve(kHeaderSize + meta.size() + body_len);
  out += meta;
  for (const auto& b : m.blobs) {
    PutU64(&out, b.size());
    out += b;
  }
  return out;
}

void DecodeHeader(const uint8_t* h, MessageType* type, uint32_t* meta_len, uint64_t* body_len,
                  const Limits& limits) {
  if (std::memcmp(h, kMagic, 4) != 0) ProtocolFail("bad magic (not a Concord frame)");
  uint8_t t = h[4];
  if (t < static_cast<uint8_t>(MessageType::kHello) ||
      t > static_cast<uint8_t>(MessageType::kBye)) {
    ProtocolFail(fmt::format("unknown message type {}", t));
  }
  if (h[5] || h[6] || h[7]) ProtocolFail("non-zero reserved header bytes");
  *type = static_cast<MessageType>(t);
  *meta_len = GetU32(h + 8);
  *body_len = GetU64(h + 12);
  if (*meta_len > kMaxMetaBytes)
    ProtocolFail(
        fmt::format("metadata of {} bytes exceeds the {}-byte limit", *meta_len, kMaxMetaBytes));
  if (*body_len > limits.max_frame_bytes ||
      kHeaderSize + *meta_len + *body_len > limits.max_frame_bytes) {
    ProtocolFail(fmt::format("frame of {} bytes exceeds the {}-byte limit",
                             kHeaderSize + *meta_len + *body_len, limits.max_frame_bytes));
  }
}

Message DecodeBody(MessageType type, const std::string& meta, const std::string& body) {
  Message m;
  m.type = type;
  if (meta.empty()) {
    m.meta = nlohmann::json::object();
  } else {
    m.meta = nlohmann::json::parse(meta, nullptr, /*allow_exceptions=*/false);
    if (m.meta.is_discarded() || !m.meta.is_object()) ProtocolFail("metadata is not a JSON object");
  }
  size_t pos = 0;
  while (pos < body.size()) {
    if (body.size() - pos < 8) ProtocolFail("truncated blob length");
    uint64_t len = GetU64(reinterpret_cast<const uint8_t*>(body.data() + pos));
    pos += 8;
    if (len > body.size() - pos)
      ProtocolFail(fmt::format("blob of {} bytes runs past the frame", len));
    m.blobs.emplace_back(body.substr(pos, len));
    pos += len;
  }
  return m;
}

Message DecodeFrame(const std::string& frame, const Limits& limits) {
  if (frame.size() < kHeaderSize) ProtocolFail("truncated header");
  MessageType type;
  uint32_t meta_len;
  uint64_t body_len;
  DecodeHeader(reinterpret_cast<const uint8_t*>(frame.data()), &type, &meta_len, &body_len, limits);
  if (frame.size() != kHeaderSize + meta_len + body_len) {
    ProtocolFail(fmt::format("frame is {} bytes, header says {}", frame.size(),
                             kHeaderSize + meta_len + body_len));
  }
  return DecodeBody(type, frame.substr(kHeaderSize, meta_len),
                    frame.substr(kHeaderSize + meta_len));
}

}  // namespace concord::protocol
