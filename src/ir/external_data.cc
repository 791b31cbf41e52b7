#include "ir/external_data.h"

#include <onnx/onnx_pb.h>

#include <filesystem>
#include <fstream>

#include "ir/error.h"

namespace concord {

namespace fs = std::filesystem;

std::string ResolveExternalLocation(const std::string& location, const std::string& base_dir,
                                    const std::string& what) {
  if (location.empty()) Fail(ErrorKind::kInput, "{}: external data has an empty location", what);
  if (location.find('\0') != std::string::npos) {
    Fail(ErrorKind::kInput, "{}: external data location contains a NUL byte", what);
  }
  fs::path loc(location);
  if (loc.is_absolute() || location[0] == '/' || location[0] == '\\') {
    Fail(ErrorKind::kInput,
         "{}: external data location '{}' is absolute; it must be relative to the model's folder",
         what, location);
  }
  for (const auto& part : loc) {
    if (part == "..") {
      Fail(ErrorKind::kInput, "{}: external data location '{}' escapes the model's folder ('..')",
           what, location);
    }
  }
  std::error_code ec;
  fs::path base = fs::weakly_canonical(base_dir.empty() ? fs::path(".") : fs::path(base_dir), ec);
  fs::path full = fs::path(base) / loc;
  if (!fs::exists(full, ec)) {
    Fail(ErrorKind::kInput, "{}: external data file '{}' not found next to the model", what,
         location);
  }
  fs::path real = fs::canonical(full, ec);
  if (ec)
    Fail(ErrorKind::kInput, "{}: cannot resolve external data '{}': {}", what, location,
         ec.message());
  auto rel = real.lexically_relative(base);
  if (rel.empty() || *rel.begin() == "..") {
    Fail(ErrorKind::kInput,
         "{}: external data '{}' resolves (through a symlink) outside the model's folder", what,
         location);
  }
  if (!fs::is_regular_file(real, ec)) {
    Fail(ErrorKind::kInput, "{}: external data '{}' is not a regular file", what, location);
  }
  return real.string();
}

std::string ReadExternalData(const onnx::TensorProto& proto, const std::string& base_dir,
                             const std::string& what, uint64_t expected_bytes) {
  std::string location;
  uint64_t offset = 0;
  int64_t length = -1;
  for (const auto& kv : proto.external_data()) {
    try {
      if (kv.key() == "location") {
        location = kv.value();
      } else if (kv.key() == "offset") {
        offset = std::stoull(kv.value());
      } else if (kv.key() == "length") {
        length = std::stoll(kv.value());
      }
    } catch (const std::exception&) {
      Fail(ErrorKind::kInput, "{}: external data {} '{}' is not a number", what, kv.key(),
           kv.value());
    }
  }
  std::string path = ResolveExternalLocation(location, base_dir, what);
  uint64_t size = fs::file_size(path);
  if (length >= 0 && static_cast<uint64_t>(length) != expected_bytes) {
    Fail(ErrorKind::kInput, "{}: external data length {} does not match the tensor's {} bytes",
         what, length, expected_bytes);
  }
  if (offset > size || expected_bytes > size - offset) {
    Fail(ErrorKind::kInput,
         "{}: external data '{}' is {} bytes; offset {} + {} bytes runs past its end", what,
         location, size, offset, expected_bytes);
  }
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  std::string bytes(expected_bytes, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(expected_bytes));
  if (static_cast<uint64_t>(in.gcount()) != expected_bytes) {
    Fail(ErrorKind::kInput, "{}: short read from external data '{}'", what, location);
  }
  return bytes;
}

}  // namespace concord
