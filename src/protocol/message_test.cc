#include "protocol/message.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <thread>

#include "protocol/channel.h"
#include "protocol/values.h"

namespace concord::protocol {
namespace {

Message Sample() {
  Message m;
  m.type = MessageType::kData;
  PutValues(
      &m, {"x", "s", "none"},
      {Value(Tensor::FromVector<float>({2}, {1.5f, -2.0f})),
       Value::Sequence({Tensor::FromVector<int64_t>({1}, {7})}, DType::kInt64), Value::None()});
  return m;
}

TEST(Frame, RoundTrip) {
  std::string frame = EncodeFrame(Sample());
  // Header layout is part of the contract (adapters/concord_protocol.py speaks it too).
  EXPECT_EQ(frame.substr(0, 4), "CNC1");
  EXPECT_EQ(static_cast<uint8_t>(frame[4]), 3);
  Message back = DecodeFrame(frame);
  auto values = GetValues(back);
  ASSERT_EQ(values.size(), 3u);
  EXPECT_EQ(values[0].first, "x");
  EXPECT_EQ(values[0].second.tensor.data<float>()[1], -2.0f);
  EXPECT_EQ(values[1].second.sequence.at(0).data<int64_t>()[0], 7);
  EXPECT_TRUE(values[2].second.is_none());
}

// The same bytes are checked by adapters/testing/test_concord_protocol.py: both ends of the
// protocol encode this MODEL frame identically.
TEST(Frame, SequenceOfMapsRoundTrip) {
  MapValue labels{Tensor::FromVector<std::string>({2}, {"cat", "dog"}),
                  Tensor::FromVector<float>({2}, {0.25f, 0.75f})};
  MapValue ids{Tensor::FromVector<int64_t>({1}, {-3}), Tensor::FromVector<float>({1}, {1.5f})};
  Message m;
  m.type = MessageType::kOutput;
  PutValues(&m, {"labels", "ids", "empty"},
            {Value::MapSequence({labels, labels}, DType::kString, DType::kFloat32),
             Value::MapSequence({ids}, DType::kInt64, DType::kFloat32),
             Value::MapSequence({}, DType::kString, DType::kFloat32)});
  EXPECT_EQ(m.meta["kinds"], nlohmann::json({"sequence", "sequence", "sequence"}));
  auto values = GetValues(DecodeFrame(EncodeFrame(m)));
  ASSERT_EQ(values.size(), 3u);
  const Value& l = values[0].second;
  ASSERT_TRUE(l.is_map_sequence());
  EXPECT_EQ(l.Describe(), "seq<map<string,float>>[2]");
  EXPECT_TRUE(l.maps[1].keys.BitwiseEqual(labels.keys));
  EXPECT_TRUE(l.maps[1].values.BitwiseEqual(labels.values));
  const Value& i = values[1].second;
  ASSERT_TRUE(i.is_map_sequence());
  EXPECT_EQ(i.maps[0].keys.data<int64_t>()[0], -3);
  EXPECT_EQ(i.maps[0].values.data<float>()[0], 1.5f);
  EXPECT_TRUE(values[2].second.is_map_sequence());
  EXPECT_TRUE(values[2].second.maps.empty());
}

TEST(Frame, MatchesTheGoldenFrameSharedWithPython) {
  std::ifstream in("src/protocol/testdata/model_frame.bin", std::ios::binary);
  ASSERT_TRUE(in) << "run from the source folder";
  std::string golden((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Message m;
  m.type = MessageType::kModel;
  m.meta = {{"env", {{"backend", "ort"}, {"device", "cpu"}, {"options", {{"opt", "3"}}}}},
            {"name", "m.onnx"}};
  m.blobs = {"xy", ""};
  EXPECT_EQ(EncodeFrame(m), golden);
  Message back = DecodeFrame(golden);
  EXPECT_EQ(back.type, MessageType::kModel);
  EXPECT_EQ(back.meta, m.meta);
  EXPECT_EQ(back.blobs, m.blobs);
}

TEST(Frame, StrictDecoding) {
  std::string good = EncodeFrame(Sample());
  auto expect_bad = [](std::string f, const char* needle, Limits lim = {}) {
    try {
      DecodeFrame(f, lim);
      FAIL() << "accepted: " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  std::string f = good;
  f[0] = 'X';
  expect_bad(f, "bad magic");
  f = good;
  f[4] = 99;
  expect_bad(f, "unknown message type 99");
  f = good;
  f[6] = 1;
  expect_bad(f, "reserved");
  expect_bad(good.substr(0, good.size() - 5), "header says");
  expect_bad(good.substr(0, 10), "truncated header");
  expect_bad(good, "exceeds", Limits{64});
  f = good;
  f[12] = static_cast<char>(0xff);  // body_len absurd
  f[19] = 0x7f;
  expect_bad(f, "exceeds");
  Message m;
  m.blobs = {"abc"};
  f = EncodeFrame(m);
  f[f.size() - 3 - 8] = 9;  // blob length 9 > 3 bytes present
  expect_bad(f, "runs past");
  m = Message();
  f = EncodeFrame(m);
  f.replace(kHeaderSize, 2, "[]");
  expect_bad(f, "not a JSON object");
  Message wrong_names = Sample();
  wrong_names.meta["names"].push_back("extra");
  EXPECT_THROW(GetValues(DecodeFrame(EncodeFrame(wrong_names))), Error);
}

TEST(Channel, SocketPairExchangeTimeoutAndHangup) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  Channel a(sv[0], sv[0], "peer-a", true);
  {
    Channel b(sv[1], sv[1], "peer-b", true);
    std::thread t([&] {
      Message got = b.Receive(5000);
      Message reply;
      reply.type = MessageType::kOk;
      reply.meta = {{"echo", got.meta["names"][0]}};
      b.Send(reply);
    });
    Message r = a.Call(Sample(), 5000);
    t.join();
    EXPECT_EQ(r.meta["echo"], "x");
    EXPECT_THROW(a.Receive(50), Error);  // nothing sent: times out
  }
  try {  // peer closed
    a.Receive(1000);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("closed"), std::string::npos) << e.what();
  }
}

TEST(Channel, ErrorReplyBecomesTypedError) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  Channel a(sv[0], sv[0], "worker", true);
  Channel b(sv[1], sv[1], "client", true);
  b.Send(ErrorMessage(ErrorKind::kUnsupported, "op Foo not supported"));
  try {
    Message m;
    a.Call(m, 1000);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("op Foo"), std::string::npos);
  }
}

}  // namespace
}  // namespace concord::protocol
