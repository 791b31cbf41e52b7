#include "ir/tensor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace concord {
namespace {

TEST(Half, Float16KnownBitPatterns) {
  // Values and bit patterns from IEEE 754 binary16 tables.
  EXPECT_EQ(Float16(1.0f).bits, 0x3c00);
  EXPECT_EQ(Float16(-2.0f).bits, 0xc000);
  EXPECT_EQ(Float16(65504.0f).bits, 0x7bff);
  EXPECT_EQ(Float16(65520.0f).bits, 0x7c00);        // rounds to +inf
  EXPECT_EQ(Float16(5.9604645e-08f).bits, 0x0001);  // smallest subnormal
  EXPECT_EQ(Float16(2.9802322e-08f).bits, 0x0000);  // half of it: ties to even -> 0
  EXPECT_EQ(Float16(1.0009765625f).bits, 0x3c01);   // 1 + 2^-10
  EXPECT_EQ(Float16(1.00048828125f).bits, 0x3c00);  // 1 + 2^-11: tie -> even
  EXPECT_EQ(Float16(1.00146484375f).bits, 0x3c02);  // 1 + 3*2^-11: tie -> even (up)
  EXPECT_TRUE(std::isnan(Float16::ToFloat(Float16(NAN).bits)));
  EXPECT_EQ(Float16::ToFloat(0x3555), 0.333251953125f);
  EXPECT_EQ(Float16::ToFloat(0x0001), 5.9604645e-08f);
  EXPECT_EQ(Float16::ToFloat(0xfc00), -std::numeric_limits<float>::infinity());
}

TEST(Half, BFloat16RoundsToNearestEven) {
  EXPECT_EQ(BFloat16(1.0f).bits, 0x3f80);
  EXPECT_EQ(BFloat16(3.140625f).bits, 0x4049);
  EXPECT_EQ(BFloat16::ToFloat(0x4049), 3.140625f);
  EXPECT_EQ(BFloat16(1.00390625f).bits, 0x3f80);  // 1 + 2^-8 is a tie -> even
  EXPECT_TRUE(std::isnan(BFloat16::ToFloat(BFloat16(NAN).bits)));
}

TEST(Tensor, ShapeAndStrides) {
  Tensor t(DType::kFloat32, {2, 3, 4});
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.nbytes(), 96u);
  EXPECT_EQ(Strides({2, 3, 4}), (std::vector<int64_t>{12, 4, 1}));
  Tensor s = Tensor::Scalar<int64_t>(7);
  EXPECT_EQ(s.rank(), 0);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(Tensor(DType::kInt32, {3, 0}).numel(), 0);
}

TEST(Tensor, RejectsHostileShapes) {
  EXPECT_THROW(Tensor(DType::kFloat32, {-1, 3}), Error);
  EXPECT_THROW(Tensor(DType::kFloat32, {int64_t{1} << 40, int64_t{1} << 40}), Error);
  EXPECT_THROW(Tensor(DType::kFloat64, {int64_t{1} << 31, 4}), Error);  // 64 GiB > limit
}

TEST(Tensor, CastFollowsOnnxRules) {
  Tensor f = Tensor::FromVector<float>({4}, {1.5f, -2.7f, 0.0f, 300.0f});
  Tensor i = f.CastTo(DType::kInt32);
  EXPECT_EQ(i.data<int32_t>()[0], 1);  // truncation toward zero
  EXPECT_EQ(i.data<int32_t>()[1], -2);
  Tensor b = f.CastTo(DType::kBool);
  EXPECT_TRUE(b.data<bool>()[0]);
  EXPECT_FALSE(b.data<bool>()[2]);
  Tensor s = Tensor::FromVector<std::string>({3}, {"1.5", "INF", "-NaN"}).CastTo(DType::kFloat32);
  EXPECT_EQ(s.data<float>()[0], 1.5f);
  EXPECT_TRUE(std::isinf(s.data<float>()[1]));
  EXPECT_TRUE(std::isnan(s.data<float>()[2]));
  Tensor h = f.CastTo(DType::kFloat16);
  EXPECT_EQ(h.data<Float16>()[0].bits, 0x3e00);
}

TEST(Tensor, AccessWithWrongTypeIsABug) {
  Tensor t(DType::kFloat32, {1});
  EXPECT_DEATH(t.data<int32_t>(), "accessed as int32");
}

}  // namespace
}  // namespace concord
