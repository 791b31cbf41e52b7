// SharedRegion and values in shared memory: both ends of a run read and write one region
// (here: one process plays both sides through a second mapping of the same file, as the worker
// maps the descriptor it inherited).
#include "protocol/shared_region.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "protocol/values.h"

namespace concord::protocol {
namespace {

// One tensor of every element type that travels in shared memory, with bytes that differ per
// element (so an offset or a size off by one shows).
std::vector<Value> EveryDType(std::vector<std::string>* names) {
  std::vector<Value> values;
  for (int32_t code = 1; code <= 28; ++code) {
    DType dt = static_cast<DType>(code);
    if (!TravelsShared(dt)) continue;
    Tensor t(dt, {2, 3});
    auto* bytes = static_cast<uint8_t*>(t.raw());
    for (size_t i = 0; i < t.nbytes(); ++i) bytes[i] = static_cast<uint8_t>(i * 7 + code);
    if (dt == DType::kBool) {
      for (size_t i = 0; i < t.nbytes(); ++i) bytes[i] = i % 2;
    }
    names->push_back(DTypeName(dt));
    values.emplace_back(std::move(t));
  }
  return values;
}

std::vector<const Value*> Pointers(const std::vector<Value>& values) {
  std::vector<const Value*> out;
  for (const auto& v : values) out.push_back(&v);
  return out;
}

TEST(SharedRegion, TypesThatTravelShared) {
  for (DType dt :
       {DType::kFloat32, DType::kFloat16, DType::kBFloat16, DType::kBool, DType::kInt64,
        DType::kUInt64, DType::kFloat8E4M3FN, DType::kFloat8E5M2FNUZ, DType::kComplex128}) {
    EXPECT_TRUE(TravelsShared(dt)) << DTypeName(dt);
  }
  for (DType dt : {DType::kString, DType::kInt4, DType::kUInt4, DType::kFloat4E2M1, DType::kInt2,
                   DType::kFloat8E8M0, DType::kFloat6E2M3, DType::kFloat6E3M2, DType::kUndefined}) {
    EXPECT_FALSE(TravelsShared(dt)) << DTypeName(dt);
  }
}

TEST(SharedRegion, EveryDTypeRoundTripsBitForBitAndStringsStayBlobs) {
  auto region = SharedRegion::Create(4096, "concord-test");
  std::vector<std::string> names;
  std::vector<Value> values = EveryDType(&names);
  names.push_back("text");
  values.emplace_back(Tensor::FromVector<std::string>({2}, {"a", "bc"}));
  names.push_back("seq");
  values.push_back(Value::Sequence({Tensor::FromVector<int64_t>({1}, {7})}, DType::kInt64));
  Message m;
  m.type = MessageType::kOutput;
  uint64_t end = PutValues(&m, names, Pointers(values), region.get(), 100);
  const auto& kinds = m.meta["kinds"];
  for (size_t i = 0; i + 2 < values.size(); ++i) {
    EXPECT_EQ(kinds[i], "shm") << names[i];
    EXPECT_TRUE(m.blobs[i].empty());
    uint64_t offset = m.meta["shm"][i]["offset"];
    EXPECT_EQ(offset % SharedRegion::kAlignment, 0u);
    EXPECT_GE(offset, 100u);
  }
  EXPECT_EQ(kinds[values.size() - 2], "tensor");
  EXPECT_EQ(kinds[values.size() - 1], "sequence");
  EXPECT_TRUE(m.meta["shm"][values.size() - 1].is_null());
  EXPECT_GT(end, 100u);
  auto back = GetValues(DecodeFrame(EncodeFrame(m)), region.get());
  ASSERT_EQ(back.size(), values.size());
  for (size_t i = 0; i + 1 < values.size(); ++i) {
    EXPECT_EQ(back[i].first, names[i]);
    EXPECT_TRUE(back[i].second.tensor.BitwiseEqual(values[i].tensor)) << names[i];
  }
  EXPECT_EQ(back.back().second.sequence.at(0).data<int64_t>()[0], 7);
}

TEST(SharedRegion, GrowsForALargeTensorAndThePeerMapsTheNewSize) {
  auto region = SharedRegion::Create(4096, "concord-test");
  uint64_t initial = region->size();
  // The peer's view: a second mapping of the same file, refreshed from the frame as a worker does.
  int peer_fd = ::dup(region->fd());
  ASSERT_GE(peer_fd, 0);
  Tensor big(DType::kFloat32, {3, 1000, 1000});
  for (int64_t i = 0; i < big.numel(); ++i) big.data<float>()[i] = static_cast<float>(i);
  Message m;
  m.type = MessageType::kProcess;
  std::vector<Value> values = {Value(big)};
  PutValues(&m, {"x"}, Pointers(values), region.get(), 0);
  EXPECT_GT(region->size(), initial);
  EXPECT_GE(region->size(), big.nbytes());
  EXPECT_EQ(m.meta["shm_size"].get<uint64_t>(), region->size());
  struct stat st {};
  ASSERT_EQ(::fstat(peer_fd, &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), region->size());
  ::close(peer_fd);
  auto back = GetValues(m, region.get());
  EXPECT_TRUE(back.at(0).second.tensor.BitwiseEqual(big));
}

TEST(SharedRegion, CorruptDescriptorsAreProtocolErrors) {
  auto region = SharedRegion::Create(4096, "concord-test");
  std::vector<Value> values = {Value(Tensor::FromVector<float>({4}, {1, 2, 3, 4}))};
  Message good;
  good.type = MessageType::kOutput;
  PutValues(&good, {"x"}, Pointers(values), region.get(), 0);
  auto expect_protocol_error = [&](const Message& m, const std::string& needle, SharedRegion* r) {
    try {
      GetValues(m, r);
      ADD_FAILURE() << "accepted " << m.meta.dump();
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInput) << e.what();
      EXPECT_NE(std::string(e.what()).find("protocol error"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  Message m = good;
  m.meta["shm"][0]["offset"] = region->size() - 8;  // runs 8 bytes past the end
  expect_protocol_error(m, "outside", region.get());
  m = good;
  m.meta["shm"][0]["offset"] = 1ull << 62;
  expect_protocol_error(m, "outside", region.get());
  m = good;
  m.meta["shm"][0]["shape"] = {1ll << 40, 1ll << 40};
  expect_protocol_error(m, "'x'", region.get());
  m = good;
  m.meta["shm"][0]["offset"] = -5;
  expect_protocol_error(m, "descriptor", region.get());
  m = good;
  m.meta["shm"][0]["dtype"] = static_cast<int>(DType::kString);
  expect_protocol_error(m, "cannot travel", region.get());
  m = good;
  m.meta["shm"] = nlohmann::json::array();
  expect_protocol_error(m, "one entry per value", region.get());
  m = good;
  m.meta["shm_size"] = region->size() * 4;  // larger than the file
  expect_protocol_error(m, "says shared memory is", region.get());
  expect_protocol_error(good, "has none", nullptr);
}

TEST(SharedRegion, ShrinkingIsRefused) {
  auto region = SharedRegion::Create(1 << 16, "concord-test");
  EXPECT_NE(::ftruncate(region->fd(), 4096), 0) << "the file must be sealed against shrinking";
  EXPECT_NO_THROW(region->At(0, region->size(), "whole region")[region->size() - 1] = 1);
}

}  // namespace
}  // namespace concord::protocol
