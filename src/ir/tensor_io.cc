#include "ir/tensor_io.h"

#include <onnx/onnx_pb.h>
#include <zip.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>

#include "ir/external_data.h"

namespace concord {

namespace fs = std::filesystem;

std::string ReadFileBytes(const std::string& path, uint64_t max_bytes) {
  std::error_code ec;
  if (!fs::exists(path, ec)) Fail(ErrorKind::kInput, "{}: no such file", path);
  if (fs::is_directory(path, ec))
    Fail(ErrorKind::kInput, "{}: is a directory, expected a file", path);
  uint64_t size = fs::file_size(path, ec);
  if (ec) Fail(ErrorKind::kInput, "{}: cannot stat: {}", path, ec.message());
  if (size > max_bytes) {
    Fail(ErrorKind::kInput, "{}: file is {} bytes, larger than the {}-byte limit", path, size,
         max_bytes);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) Fail(ErrorKind::kInput, "{}: cannot open for reading", path);
  std::string bytes(size, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  if (static_cast<uint64_t>(in.gcount()) != size) Fail(ErrorKind::kInput, "{}: short read", path);
  return bytes;
}

void WriteFileAtomic(const std::string& path, const std::string& bytes) {
  fs::path p(path);
  if (p.has_parent_path()) fs::create_directories(p.parent_path());
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) Fail(ErrorKind::kInput, "{}: cannot open for writing", tmp);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) Fail(ErrorKind::kInput, "{}: write failed", tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) Fail(ErrorKind::kInput, "{}: cannot rename into place: {}", path, ec.message());
}

// ---------------------------------------------------------------------------------------------
// TensorProto

namespace {

// Unpacks ONNX's packed sub-byte data into one code per byte, sign-extending int4/int2. The
// packed types are one bit stream, low bits first: element i takes bits [i * b, (i + 1) * b),
// so a 6-bit element may straddle two bytes (x0 | (x1 & 3) << 6, x1 >> 2 | (x2 & 15) << 4, ...).
void UnpackCodes(const uint8_t* packed, Tensor* t) {
  const int bits = PackedBits(t->dtype());
  const uint32_t mask = (1u << bits) - 1;
  const bool sign_extend = t->dtype() == DType::kInt4 || t->dtype() == DType::kInt2;
  uint8_t* dst = t->codes();
  const uint64_t last = StoredBytes(t->dtype(), static_cast<uint64_t>(t->numel()));
  for (int64_t i = 0; i < t->numel(); ++i) {
    const uint64_t bit = static_cast<uint64_t>(i) * static_cast<uint64_t>(bits);
    const uint64_t byte = bit / 8;
    uint32_t word = packed[byte];
    if (byte + 1 < last) word |= static_cast<uint32_t>(packed[byte + 1]) << 8;
    auto c = static_cast<uint8_t>((word >> (bit % 8)) & mask);
    if (sign_extend && (c >> (bits - 1)) != 0) c = static_cast<uint8_t>(c | ~mask);
    dst[i] = c;
  }
}

std::string PackCodes(const Tensor& t) {
  const int bits = PackedBits(t.dtype());
  const uint32_t mask = (1u << bits) - 1;
  std::string out(StoredBytes(t.dtype(), static_cast<uint64_t>(t.numel())), '\0');
  auto* dst = reinterpret_cast<uint8_t*>(out.data());
  const uint8_t* src = t.codes();
  for (int64_t i = 0; i < t.numel(); ++i) {
    const uint64_t bit = static_cast<uint64_t>(i) * static_cast<uint64_t>(bits);
    const uint32_t word = (src[i] & mask) << (bit % 8);
    dst[bit / 8] = static_cast<uint8_t>(dst[bit / 8] | (word & 0xFF));
    if (word > 0xFF) dst[bit / 8 + 1] = static_cast<uint8_t>(dst[bit / 8 + 1] | (word >> 8));
  }
  return out;
}

template <typename T, typename Repeated>
void CopyRepeated(const Repeated& src, Tensor* t, const std::string& what, const char* field) {
  if (static_cast<int64_t>(src.size()) != t->numel()) {
    Fail(ErrorKind::kInput, "{}: {} has {} values, shape {} needs {}", what, field, src.size(),
         ShapeToString(t->shape()), t->numel());
  }
  T* dst = t->data<T>();
  for (int i = 0; i < src.size(); ++i) dst[i] = static_cast<T>(src[i]);
}

}  // namespace

Tensor TensorFromProto(const onnx::TensorProto& proto, const std::string& base_dir,
                       const std::string& what) {
  if (!IsValidDType(proto.data_type())) {
    Fail(ErrorKind::kInput, "{}: unknown element type {}", what, proto.data_type());
  }
  DType dt = static_cast<DType>(proto.data_type());
  if (proto.has_segment())
    Fail(ErrorKind::kUnsupported, "{}: segmented tensors are not supported", what);
  Shape shape(proto.dims().begin(), proto.dims().end());
  for (int64_t d : shape) {
    if (d < 0)
      Fail(ErrorKind::kInput, "{}: negative dimension in shape {}", what, ShapeToString(shape));
  }
  NumElements(shape);  // bounds check before allocating
  std::string external;
  const std::string* raw = nullptr;
  if (proto.data_location() == onnx::TensorProto::EXTERNAL) {
    if (dt == DType::kString)
      Fail(ErrorKind::kInput, "{}: string tensors cannot be external", what);
    uint64_t expected = StoredBytes(dt, static_cast<uint64_t>(NumElements(shape)));
    external = ReadExternalData(proto, base_dir, what, expected);
    raw = &external;
  } else if (proto.has_raw_data()) {
    if (dt == DType::kString)
      Fail(ErrorKind::kInput, "{}: string tensors cannot use raw_data", what);
    raw = &proto.raw_data();
  }
  // Check the payload against the shape before allocating anything shape-sized.
  const uint64_t numel = static_cast<uint64_t>(NumElements(shape));
  const uint64_t stored = StoredBytes(dt, numel);
  if (raw != nullptr && raw->size() != stored) {
    Fail(ErrorKind::kInput, "{}: raw data is {} bytes, {} {} needs {}", what, raw->size(),
         DTypeName(dt), ShapeToString(shape), stored);
  }
  // The 4- and 2-bit types keep one packed byte per int32_data entry; every other type (float6
  // included: its low six bits) one element.
  const bool packed_int32 = PackedBits(dt) == 4 || PackedBits(dt) == 2;
  const uint64_t need = packed_int32 ? stored : numel;
  if (raw == nullptr) {
    uint64_t have = 0;
    switch (dt) {
      case DType::kFloat32:
        have = static_cast<uint64_t>(proto.float_data_size());
        break;
      case DType::kComplex64:
        have = static_cast<uint64_t>(proto.float_data_size()) / 2;
        break;
      case DType::kFloat64:
        have = static_cast<uint64_t>(proto.double_data_size());
        break;
      case DType::kComplex128:
        have = static_cast<uint64_t>(proto.double_data_size()) / 2;
        break;
      case DType::kInt64:
        have = static_cast<uint64_t>(proto.int64_data_size());
        break;
      case DType::kUInt64:
      case DType::kUInt32:
        have = static_cast<uint64_t>(proto.uint64_data_size());
        break;
      case DType::kString:
        have = static_cast<uint64_t>(proto.string_data_size());
        break;
      default:
        have = static_cast<uint64_t>(proto.int32_data_size());
        break;
    }
    if (have != need) {
      Fail(ErrorKind::kInput, "{}: tensor has {} values, {} {} needs {}", what, have, DTypeName(dt),
           ShapeToString(shape), need);
    }
  }
  Tensor t(dt, shape);
  if (raw != nullptr) {
    if (PackedBits(dt) > 0) {
      UnpackCodes(reinterpret_cast<const uint8_t*>(raw->data()), &t);
    } else if (!raw->empty()) {
      std::memcpy(t.raw(), raw->data(), raw->size());
    }
    return t;
  }
  if (IsLowPrecision(dt)) {
    // int32_data holds each code (or packed byte) in its low 8 bits; float6 codes in the low 6
    // (the rest must be zero: masked, as onnx.numpy_helper does).
    const uint8_t keep = PackedBits(dt) == 6 ? 0x3F : 0xFF;
    std::vector<uint8_t> low(static_cast<size_t>(proto.int32_data_size()));
    for (int i = 0; i < proto.int32_data_size(); ++i)
      low[static_cast<size_t>(i)] = static_cast<uint8_t>(proto.int32_data(i)) & keep;
    if (packed_int32) {
      UnpackCodes(low.data(), &t);
    } else if (!low.empty()) {
      std::memcpy(t.codes(), low.data(), low.size());
    }
    return t;
  }
  switch (dt) {
    case DType::kFloat32:
      CopyRepeated<float>(proto.float_data(), &t, what, "float_data");
      break;
    case DType::kFloat64:
      CopyRepeated<double>(proto.double_data(), &t, what, "double_data");
      break;
    case DType::kInt64:
      CopyRepeated<int64_t>(proto.int64_data(), &t, what, "int64_data");
      break;
    case DType::kUInt64:
      CopyRepeated<uint64_t>(proto.uint64_data(), &t, what, "uint64_data");
      break;
    case DType::kUInt32:
      CopyRepeated<uint32_t>(proto.uint64_data(), &t, what, "uint64_data");
      break;
    case DType::kInt32:
      CopyRepeated<int32_t>(proto.int32_data(), &t, what, "int32_data");
      break;
    case DType::kInt16:
      CopyRepeated<int16_t>(proto.int32_data(), &t, what, "int32_data");
      break;
    case DType::kInt8:
      CopyRepeated<int8_t>(proto.int32_data(), &t, what, "int32_data");
      break;
    case DType::kUInt16:
      CopyRepeated<uint16_t>(proto.int32_data(), &t, what, "int32_data");
      break;
    case DType::kUInt8:
      CopyRepeated<uint8_t>(proto.int32_data(), &t, what, "int32_data");
      break;
    case DType::kBool:
      CopyRepeated<bool>(proto.int32_data(), &t, what, "int32_data");
      break;
    case DType::kFloat16:
    case DType::kBFloat16: {
      // Half types store their bit patterns in int32_data.
      if (static_cast<int64_t>(proto.int32_data_size()) != t.numel()) {
        Fail(ErrorKind::kInput, "{}: int32_data has {} values, shape {} needs {}", what,
             proto.int32_data_size(), ShapeToString(shape), t.numel());
      }
      auto* dst = static_cast<uint16_t*>(t.raw());
      for (int i = 0; i < proto.int32_data_size(); ++i) {
        dst[i] = static_cast<uint16_t>(proto.int32_data(i));
      }
      break;
    }
    case DType::kString: {
      CopyRepeated<std::string>(proto.string_data(), &t, what, "string_data");
      break;
    }
    case DType::kComplex64: {
      if (proto.float_data_size() != 2 * t.numel()) {
        Fail(ErrorKind::kInput, "{}: complex64 needs {} floats, has {}", what, 2 * t.numel(),
             proto.float_data_size());
      }
      if (t.nbytes()) std::memcpy(t.raw(), proto.float_data().data(), t.nbytes());
      break;
    }
    case DType::kComplex128: {
      if (proto.double_data_size() != 2 * t.numel()) {
        Fail(ErrorKind::kInput, "{}: complex128 needs {} doubles, has {}", what, 2 * t.numel(),
             proto.double_data_size());
      }
      if (t.nbytes()) std::memcpy(t.raw(), proto.double_data().data(), t.nbytes());
      break;
    }
    default:
      Fail(ErrorKind::kInput, "{}: unsupported element type {}", what, DTypeName(dt));
  }
  return t;
}

void TensorToProto(const Tensor& tensor, const std::string& name, onnx::TensorProto* proto) {
  proto->Clear();
  if (!name.empty()) proto->set_name(name);
  proto->set_data_type(static_cast<int32_t>(tensor.dtype()));
  for (int64_t d : tensor.shape()) proto->add_dims(d);
  if (tensor.dtype() == DType::kString) {
    const std::string* s = tensor.data<std::string>();
    for (int64_t i = 0; i < tensor.numel(); ++i) proto->add_string_data(s[i]);
  } else if (PackedBits(tensor.dtype()) > 0) {
    proto->set_raw_data(PackCodes(tensor));
  } else {
    proto->set_raw_data(tensor.raw(), tensor.nbytes());
  }
}

NamedTensor ReadTensorPb(const std::string& path) {
  std::string bytes = ReadFileBytes(path, kMaxTensorBytes + (1u << 20));
  onnx::TensorProto proto;
  if (!proto.ParseFromString(bytes)) {
    Fail(ErrorKind::kInput, "{}: not a valid ONNX TensorProto (protobuf parse failed)", path);
  }
  fs::path p(path);
  return {proto.name(), TensorFromProto(proto, p.parent_path().string(), path)};
}

void WriteTensorPb(const std::string& path, const Tensor& tensor, const std::string& name) {
  onnx::TensorProto proto;
  TensorToProto(tensor, name, &proto);
  WriteFileAtomic(path, proto.SerializeAsString());
}

// ---------------------------------------------------------------------------------------------
// NumPy

namespace {

const char* NpyDescr(DType dt) {
  switch (dt) {
    case DType::kFloat32:
      return "<f4";
    case DType::kFloat64:
      return "<f8";
    case DType::kFloat16:
      return "<f2";
    case DType::kInt8:
      return "|i1";
    case DType::kInt16:
      return "<i2";
    case DType::kInt32:
      return "<i4";
    case DType::kInt64:
      return "<i8";
    case DType::kUInt8:
      return "|u1";
    case DType::kUInt16:
      return "<u2";
    case DType::kUInt32:
      return "<u4";
    case DType::kUInt64:
      return "<u8";
    case DType::kBool:
      return "|b1";
    case DType::kComplex64:
      return "<c8";
    case DType::kComplex128:
      return "<c16";
    default:
      return nullptr;
  }
}

DType DTypeFromNpyDescr(const std::string& d, const std::string& what) {
  static const std::map<std::string, DType> kMap = {
      {"f4", DType::kFloat32},   {"f8", DType::kFloat64},    {"f2", DType::kFloat16},
      {"i1", DType::kInt8},      {"i2", DType::kInt16},      {"i4", DType::kInt32},
      {"i8", DType::kInt64},     {"u1", DType::kUInt8},      {"u2", DType::kUInt16},
      {"u4", DType::kUInt32},    {"u8", DType::kUInt64},     {"b1", DType::kBool},
      {"c8", DType::kComplex64}, {"c16", DType::kComplex128}};
  if (d.size() < 2) Fail(ErrorKind::kInput, "{}: bad dtype descr '{}'", what, d);
  char order = d[0];
  if (order == '>')
    Fail(ErrorKind::kUnsupported, "{}: big-endian arrays ('{}') are not supported", what, d);
  if (order != '<' && order != '|' && order != '=') {
    Fail(ErrorKind::kInput, "{}: bad dtype descr '{}'", what, d);
  }
  auto it = kMap.find(d.substr(1));
  if (it == kMap.end()) Fail(ErrorKind::kUnsupported, "{}: unsupported NumPy dtype '{}'", what, d);
  return it->second;
}

}  // namespace

Tensor ParseNpy(const std::string& bytes, const std::string& what) {
  static const char kMagic[] = "\x93NUMPY";
  if (bytes.size() < 10 || bytes.compare(0, 6, kMagic, 6) != 0) {
    Fail(ErrorKind::kInput, "{}: not a NumPy .npy file (bad magic)", what);
  }
  uint8_t major = static_cast<uint8_t>(bytes[6]);
  size_t header_len;
  size_t offset;
  if (major == 1) {
    header_len =
        static_cast<uint8_t>(bytes[8]) | (static_cast<size_t>(static_cast<uint8_t>(bytes[9])) << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) Fail(ErrorKind::kInput, "{}: truncated .npy header", what);
    header_len = 0;
    for (int i = 0; i < 4; ++i)
      header_len |= static_cast<size_t>(static_cast<uint8_t>(bytes[8 + i])) << (8 * i);
    offset = 12;
  } else {
    Fail(ErrorKind::kInput, "{}: unsupported .npy version {}", what, major);
  }
  if (header_len > bytes.size() - offset)
    Fail(ErrorKind::kInput, "{}: truncated .npy header", what);
  std::string header = bytes.substr(offset, header_len);
  offset += header_len;
  std::smatch m;
  static const std::regex kDescr(R"('descr'\s*:\s*'([^']*)')");
  static const std::regex kFortran(R"('fortran_order'\s*:\s*(True|False))");
  static const std::regex kShape(R"('shape'\s*:\s*\(([^)]*)\))");
  if (!std::regex_search(header, m, kDescr))
    Fail(ErrorKind::kInput, "{}: .npy header has no descr", what);
  DType dt = DTypeFromNpyDescr(m[1].str(), what);
  if (!std::regex_search(header, m, kFortran))
    Fail(ErrorKind::kInput, "{}: .npy header has no fortran_order", what);
  if (m[1].str() == "True")
    Fail(ErrorKind::kUnsupported, "{}: Fortran-order arrays are not supported", what);
  if (!std::regex_search(header, m, kShape))
    Fail(ErrorKind::kInput, "{}: .npy header has no shape", what);
  Shape shape;
  std::string dims = m[1].str();
  static const std::regex kInt(R"(\d+)");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), kInt); it != std::sregex_iterator();
       ++it) {
    std::string s = it->str();
    if (s.size() > 18) Fail(ErrorKind::kInput, "{}: absurd dimension {}", what, s);
    shape.push_back(std::stoll(s));
  }
  uint64_t need = static_cast<uint64_t>(NumElements(shape)) * DTypeSize(dt);
  if (bytes.size() - offset != need) {
    Fail(ErrorKind::kInput, "{}: .npy payload is {} bytes, {} {} needs {}", what,
         bytes.size() - offset, DTypeName(dt), ShapeToString(shape), need);
  }
  Tensor t(dt, shape);
  if (t.nbytes()) std::memcpy(t.raw(), bytes.data() + offset, t.nbytes());
  return t;
}

Tensor ReadNpy(const std::string& path) {
  return ParseNpy(ReadFileBytes(path, kMaxTensorBytes + (1u << 20)), path);
}

std::string SerializeNpy(const Tensor& tensor) {
  const char* descr = NpyDescr(tensor.dtype());
  if (descr == nullptr) {
    Fail(ErrorKind::kUnsupported, "cannot write {} tensors as .npy", DTypeName(tensor.dtype()));
  }
  std::string shape = "(";
  for (size_t i = 0; i < tensor.shape().size(); ++i) {
    shape += std::to_string(tensor.shape()[i]);
    if (tensor.shape().size() == 1 || i + 1 < tensor.shape().size()) shape += ", ";
  }
  shape += ")";
  std::string header =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape);
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out = std::string("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>((header.size() >> 8) & 0xff);
  out += header;
  out.append(static_cast<const char*>(tensor.raw()), tensor.nbytes());
  return out;
}

void WriteNpy(const std::string& path, const Tensor& tensor) {
  WriteFileAtomic(path, SerializeNpy(tensor));
}

std::vector<NamedTensor> ReadNpz(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) Fail(ErrorKind::kInput, "{}: no such file", path);
  int err = 0;
  zip_t* za = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &err);
  if (za == nullptr) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, err);
    std::string msg = zip_error_strerror(&ze);
    zip_error_fini(&ze);
    Fail(ErrorKind::kInput, "{}: not a valid .npz (zip) archive: {}", path, msg);
  }
  std::vector<NamedTensor> out;
  try {
    zip_int64_t n = zip_get_num_entries(za, 0);
    for (zip_int64_t i = 0; i < n; ++i) {
      zip_stat_t st;
      if (zip_stat_index(za, i, 0, &st) != 0)
        Fail(ErrorKind::kInput, "{}: cannot stat entry {}", path, i);
      std::string name = st.name;
      if (st.size > kMaxTensorBytes)
        Fail(ErrorKind::kInput, "{}: entry '{}' is too large", path, name);
      zip_file_t* zf = zip_fopen_index(za, i, 0);
      if (zf == nullptr)
        Fail(ErrorKind::kInput, "{}: cannot open entry '{}': {}", path, name, zip_strerror(za));
      std::string bytes(st.size, '\0');
      zip_int64_t got = zip_fread(zf, bytes.data(), st.size);
      zip_fclose(zf);
      if (got < 0 || static_cast<zip_uint64_t>(got) != st.size) {
        Fail(ErrorKind::kInput, "{}: entry '{}' is truncated or corrupt", path, name);
      }
      if (name.size() > 4 && name.substr(name.size() - 4) == ".npy") name.resize(name.size() - 4);
      out.push_back({name, ParseNpy(bytes, path + ":" + name)});
    }
  } catch (...) {
    zip_discard(za);
    throw;
  }
  zip_discard(za);
  return out;
}

void WriteNpz(const std::string& path, const std::vector<NamedTensor>& tensors) {
  std::string tmp = path + ".tmp";
  fs::remove(tmp);
  int err = 0;
  zip_t* za = zip_open(tmp.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  if (za == nullptr) Fail(ErrorKind::kInput, "{}: cannot create archive", path);
  std::vector<std::string> payloads;
  payloads.reserve(tensors.size());
  for (const auto& nt : tensors) {
    payloads.push_back(SerializeNpy(nt.tensor));
    zip_source_t* src = zip_source_buffer(za, payloads.back().data(), payloads.back().size(), 0);
    if (src == nullptr || zip_file_add(za, (nt.name + ".npy").c_str(), src, ZIP_FL_OVERWRITE) < 0) {
      if (src) zip_source_free(src);
      zip_discard(za);
      Fail(ErrorKind::kInput, "{}: cannot add '{}'", path, nt.name);
    }
  }
  if (zip_close(za) != 0) {
    std::string msg = zip_strerror(za);
    zip_discard(za);
    Fail(ErrorKind::kInput, "{}: cannot write archive: {}", path, msg);
  }
  fs::rename(tmp, path);
}

}  // namespace concord
