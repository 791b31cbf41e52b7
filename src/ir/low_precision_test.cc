// Low-precision element conversions against hand-computed bit patterns (formats from the ONNX
// spec's "Float stored in 8 bits" / "4 bit floating point" / "4 bit integer" pages, and the OCP
// MX spec's FP6 E2M3 / E3M2).
#include "ir/low_precision.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "ir/random.h"
#include "ir/tensor.h"

namespace concord {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

uint8_t Enc(DType dt, double v, bool saturate = true) {
  return LowPrecisionFromDouble(dt, v, saturate);
}

TEST(LowPrecision, Float8E4M3FN) {
  const DType t = DType::kFloat8E4M3FN;
  EXPECT_EQ(Enc(t, 448), 0x7E);   // max: exponent 1111, mantissa 110
  EXPECT_EQ(Enc(t, 1000), 0x7E);  // saturates
  EXPECT_EQ(Enc(t, -1000), 0xFE);
  EXPECT_EQ(Enc(t, 1000, false), 0x7F);  // no inf: overflow is NaN
  EXPECT_EQ(Enc(t, -kInf, false), 0xFF);
  EXPECT_EQ(Enc(t, kInf), 0x7E);  // saturate clamps inf too
  EXPECT_EQ(Enc(t, kNaN), 0x7F);
  EXPECT_EQ(Enc(t, 1.0), 0x38);           // exponent 7 = bias
  EXPECT_EQ(Enc(t, 0.001953125), 0x01);   // 2^-9, the smallest subnormal
  EXPECT_EQ(Enc(t, 0.0009765625), 0x00);  // 2^-10: halfway to 0, ties to even (0)
  EXPECT_EQ(Enc(t, 0.0029296875), 0x02);  // 1.5 * 2^-9: halfway, ties to even (2)
  EXPECT_EQ(Enc(t, -0.0), 0x80);
  EXPECT_EQ(Enc(t, 464), 0x7E);  // halfway 448/480: even mantissa 110
  EXPECT_EQ(Enc(t, 17), 0x58);   // 16 = 2^4: exponent 4 + 7 = 1011; 17 is
                                 // halfway 16/18: the even 16
  EXPECT_EQ(Enc(t, 19), 0x5A);   // halfway 18/20: 20 (mantissa 010)
  EXPECT_EQ(LowPrecisionToDouble(t, 0x7E), 448);
  EXPECT_EQ(LowPrecisionToDouble(t, 0xC0), -2);
  EXPECT_EQ(LowPrecisionToDouble(t, 0x07), 7 * 0.001953125);  // largest subnormal
  EXPECT_TRUE(std::isnan(LowPrecisionToDouble(t, 0x7F)));
  EXPECT_TRUE(std::isnan(LowPrecisionToDouble(t, 0xFF)));
  EXPECT_TRUE(std::signbit(LowPrecisionToDouble(t, 0xFF)));
  EXPECT_EQ(LowPrecisionToDouble(t, 0x78), 256);  // exponent 1111 is finite in E4M3FN
}

TEST(LowPrecision, Float8E4M3FNUZ) {
  const DType t = DType::kFloat8E4M3FNUZ;
  EXPECT_EQ(Enc(t, 240), 0x7F);  // bias 8: 1.875 * 2^7
  EXPECT_EQ(Enc(t, 241), 0x7F);
  EXPECT_EQ(Enc(t, 256, false), 0x80);  // overflow is the NaN code 0x80
  EXPECT_EQ(Enc(t, kNaN), 0x80);
  EXPECT_EQ(Enc(t, -0.0), 0x00);  // no negative zero
  EXPECT_EQ(Enc(t, -1e-9), 0x00);
  EXPECT_EQ(Enc(t, 1.0), 0x40);
  EXPECT_TRUE(std::isnan(LowPrecisionToDouble(t, 0x80)));
  EXPECT_EQ(LowPrecisionToDouble(t, 0xFF), -240);
}

TEST(LowPrecision, Float8E5M2) {
  const DType t = DType::kFloat8E5M2;
  EXPECT_EQ(Enc(t, 57344), 0x7B);         // max
  EXPECT_EQ(Enc(t, 61440), 0x7B);         // saturating
  EXPECT_EQ(Enc(t, 61440, false), 0x7C);  // halfway to 65536, even -> overflow -> inf
  EXPECT_EQ(Enc(t, 61439, false), 0x7B);
  EXPECT_EQ(Enc(t, -kInf, false), 0xFC);
  EXPECT_EQ(Enc(t, -kInf), 0xFB);
  EXPECT_EQ(Enc(t, kNaN), 0x7E);
  EXPECT_EQ(Enc(t, 1.0), 0x3C);
  EXPECT_EQ(LowPrecisionToDouble(t, 0x7C), kInf);
  EXPECT_EQ(LowPrecisionToDouble(t, 0xFC), -kInf);
  EXPECT_TRUE(std::isnan(LowPrecisionToDouble(t, 0x7D)));
  EXPECT_EQ(LowPrecisionToDouble(t, 0x01), std::ldexp(1.0, -16));
}

TEST(LowPrecision, Float8E5M2FNUZ) {
  const DType t = DType::kFloat8E5M2FNUZ;
  EXPECT_EQ(Enc(t, 57344), 0x7F);  // bias 16: 1.75 * 2^15
  EXPECT_EQ(Enc(t, kInf, false), 0x80);
  EXPECT_EQ(Enc(t, -0.0), 0x00);
  EXPECT_EQ(LowPrecisionToDouble(t, 0x01), std::ldexp(1.0, -17));
  EXPECT_TRUE(std::isnan(LowPrecisionToDouble(t, 0x80)));
}

TEST(LowPrecision, Float4E2M1) {
  const DType t = DType::kFloat4E2M1;
  const double values[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
  for (uint8_t c = 0; c < 8; ++c) {
    EXPECT_EQ(LowPrecisionToDouble(t, c), values[c]);
    EXPECT_EQ(LowPrecisionToDouble(t, static_cast<uint8_t>(c | 8)), -values[c]);
    EXPECT_EQ(Enc(t, values[c]), c);
  }
  EXPECT_EQ(Enc(t, 0.25), 0x0);  // ties to even
  EXPECT_EQ(Enc(t, 0.75), 0x2);
  EXPECT_EQ(Enc(t, 5), 0x6);
  EXPECT_EQ(Enc(t, 7, false), 0x7);  // always saturates: no inf, no NaN
  EXPECT_EQ(Enc(t, -kInf, false), 0xF);
  EXPECT_EQ(Enc(t, -0.0), 0x8);
}

// E2M3: sign bit 5, exponent bits 4-3 (bias 1), mantissa bits 2-0. Subnormals m/8 (0.125 ..
// 0.875), normals 1..1.875, 2..3.75, 4..7.5; no inf, no NaN.
TEST(LowPrecision, Float6E2M3) {
  const DType t = DType::kFloat6E2M3;
  for (uint8_t c = 0; c < 8; ++c) {
    EXPECT_EQ(LowPrecisionToDouble(t, c), c / 8.0);  // subnormals
    EXPECT_EQ(LowPrecisionToDouble(t, static_cast<uint8_t>(8 + c)), 1 + c / 8.0);
    EXPECT_EQ(LowPrecisionToDouble(t, static_cast<uint8_t>(16 + c)), 2 + c / 4.0);
    EXPECT_EQ(LowPrecisionToDouble(t, static_cast<uint8_t>(24 + c)), 4 + c / 2.0);
    EXPECT_EQ(LowPrecisionToDouble(t, static_cast<uint8_t>(32 + 24 + c)), -(4 + c / 2.0));
  }
  EXPECT_EQ(Enc(t, 7.5), 0x1F);  // max: exponent 11, mantissa 111
  EXPECT_EQ(Enc(t, -7.5), 0x3F);
  EXPECT_EQ(Enc(t, 7.75), 0x1F);        // halfway to 8 rounds up, past max: saturates
  EXPECT_EQ(Enc(t, 1e9, false), 0x1F);  // always saturates, saturate=0 or not
  EXPECT_EQ(Enc(t, kInf, false), 0x1F);
  EXPECT_EQ(Enc(t, -kInf), 0x3F);
  EXPECT_EQ(Enc(t, kNaN), 0x20);   // no NaN: +NaN becomes -0 (ml_dtypes flips the sign)
  EXPECT_EQ(Enc(t, -kNaN), 0x00);  // and -NaN +0
  EXPECT_EQ(Enc(t, -0.0), 0x20);
  EXPECT_EQ(Enc(t, 1.0), 0x08);     // exponent 1 = bias
  EXPECT_EQ(Enc(t, 0.125), 0x01);   // 2^-3, the smallest subnormal
  EXPECT_EQ(Enc(t, 0.0625), 0x00);  // halfway to 0: ties to even (0)
  EXPECT_EQ(Enc(t, 0.1875), 0x02);  // halfway 1/8 and 2/8: the even 2/8
  EXPECT_EQ(Enc(t, 0.9375), 0x08);  // halfway 0.875 (largest subnormal, odd) and 1.0
  EXPECT_EQ(Enc(t, 2.125), 0x10);   // halfway 2 (mantissa 000) and 2.25: 2
  EXPECT_EQ(Enc(t, 2.375), 0x12);   // halfway 2.25 and 2.5 (mantissa 010): 2.5
  EXPECT_EQ(Enc(t, -0.5), 0x24);    // subnormal 4/8 with the sign
}

// E3M2: sign bit 5, exponent bits 4-2 (bias 3), mantissa bits 1-0. Subnormals m/16, smallest
// normal 0.25, max 1.75 * 2^4 = 28; no inf, no NaN.
TEST(LowPrecision, Float6E3M2) {
  const DType t = DType::kFloat6E3M2;
  EXPECT_EQ(LowPrecisionToDouble(t, 0x01), 0.0625);
  EXPECT_EQ(LowPrecisionToDouble(t, 0x03), 0.1875);  // largest subnormal
  EXPECT_EQ(LowPrecisionToDouble(t, 0x04), 0.25);    // smallest normal
  EXPECT_EQ(LowPrecisionToDouble(t, 0x0C), 1);
  EXPECT_EQ(LowPrecisionToDouble(t, 0x1F), 28);
  EXPECT_EQ(LowPrecisionToDouble(t, 0x3F), -28);
  EXPECT_EQ(LowPrecisionToDouble(t, 0x30), -2);
  EXPECT_TRUE(std::signbit(LowPrecisionToDouble(t, 0x20)));  // -0
  EXPECT_EQ(Enc(t, 28), 0x1F);
  EXPECT_EQ(Enc(t, 30, false), 0x1F);  // halfway 28 (odd) and 32: up, then saturates
  EXPECT_EQ(Enc(t, -28.5), 0x3F);
  EXPECT_EQ(Enc(t, 26), 0x1E);  // halfway 24 (mantissa 10) and 28: 24
  EXPECT_EQ(Enc(t, 18), 0x1C);  // halfway 16 and 20: 16
  EXPECT_EQ(Enc(t, kInf, false), 0x1F);
  EXPECT_EQ(Enc(t, kNaN), 0x20);
  EXPECT_EQ(Enc(t, 1.0), 0x0C);
  EXPECT_EQ(Enc(t, -2.0), 0x30);
  EXPECT_EQ(Enc(t, 0.03125), 0x00);  // half the smallest subnormal: ties to 0
  EXPECT_EQ(Enc(t, 0.09375), 0x02);  // halfway 1/16 and 2/16: 2/16
  EXPECT_EQ(Enc(t, 0.21875), 0x04);  // halfway 0.1875 (odd) and 0.25
}

TEST(LowPrecision, Float8E8M0) {
  const DType t = DType::kFloat8E8M0;
  EXPECT_EQ(LowPrecisionToDouble(t, 127), 1);
  EXPECT_EQ(LowPrecisionToDouble(t, 0), std::ldexp(1.0, -127));
  EXPECT_TRUE(std::isnan(LowPrecisionToDouble(t, 0xFF)));
  EXPECT_EQ(ToFloat8E8M0(1.5f, true, E8M0Rounding::kUp), 128);
  EXPECT_EQ(ToFloat8E8M0(1.5f, true, E8M0Rounding::kDown), 127);
  EXPECT_EQ(ToFloat8E8M0(1.25f, true, E8M0Rounding::kNearest), 127);
  EXPECT_EQ(ToFloat8E8M0(1.5f, true, E8M0Rounding::kNearest), 128);
  EXPECT_EQ(ToFloat8E8M0(1.0f, true, E8M0Rounding::kUp), 127);
  EXPECT_EQ(ToFloat8E8M0(std::numeric_limits<float>::infinity(), true, E8M0Rounding::kUp), 0xFF);
  // The largest float rounds up past 2^127 only without saturation (and wraps like uint8).
  EXPECT_EQ(ToFloat8E8M0(std::numeric_limits<float>::max(), true, E8M0Rounding::kUp), 0xFE);
  EXPECT_EQ(ToFloat8E8M0(std::numeric_limits<float>::max(), false, E8M0Rounding::kUp), 0xFF);
}

TEST(LowPrecision, IntegersTruncateAndWrap) {
  EXPECT_EQ(static_cast<int8_t>(Enc(DType::kInt4, 7.9)), 7);
  EXPECT_EQ(static_cast<int8_t>(Enc(DType::kInt4, -8.5)), -8);
  EXPECT_EQ(static_cast<int8_t>(Enc(DType::kInt4, 9)), -7);     // 0b1001
  EXPECT_EQ(static_cast<int8_t>(Enc(DType::kInt4, -100)), -4);  // -100 & 15 = 12
  EXPECT_EQ(Enc(DType::kUInt4, 17), 1);
  EXPECT_EQ(Enc(DType::kUInt4, kNaN), 0);
  EXPECT_EQ(static_cast<int8_t>(Enc(DType::kInt2, 2)), -2);
  EXPECT_EQ(Enc(DType::kUInt2, 7), 3);
  EXPECT_EQ(LowPrecisionToDouble(DType::kInt4, 0xF8), -8);
  EXPECT_EQ(LowPrecisionToDouble(DType::kUInt2, 3), 3);
  int lo = 0, hi = 0;
  ASSERT_TRUE(LowPrecisionIntRange(DType::kInt2, &lo, &hi));
  EXPECT_EQ(lo, -2);
  EXPECT_EQ(hi, 1);
  EXPECT_FALSE(LowPrecisionIntRange(DType::kFloat4E2M1, &lo, &hi));
}

TEST(LowPrecision, SizesAndNames) {
  EXPECT_EQ(DTypeSize(DType::kInt4), 1u);  // one code per byte in memory
  EXPECT_EQ(StoredBytes(DType::kInt4, 3), 2u);
  EXPECT_EQ(StoredBytes(DType::kUInt2, 5), 2u);
  EXPECT_EQ(StoredBytes(DType::kFloat8E5M2, 5), 5u);
  EXPECT_EQ(DTypeFromName("float8e4m3fn"), DType::kFloat8E4M3FN);
  EXPECT_STREQ(DTypeName(DType::kFloat4E2M1), "float4e2m1");
  EXPECT_TRUE(IsValidDType(26));
  EXPECT_TRUE(IsValidDType(28));
  EXPECT_FALSE(IsValidDType(29));
  EXPECT_EQ(StoredBytes(DType::kFloat6E2M3, 4), 3u);  // 24 bits
  EXPECT_EQ(StoredBytes(DType::kFloat6E3M2, 5), 4u);  // 30 bits
  EXPECT_EQ(StoredBytes(DType::kFloat6E3M2, 1), 1u);
  EXPECT_EQ(StoredBytes(DType::kFloat6E3M2, 0), 0u);
  EXPECT_EQ(StoredBytes(DType::kFloat6E2M3, uint64_t{1} << 62), uint64_t{3} << 60);
  EXPECT_EQ(PackedBits(DType::kFloat6E2M3), 6);
  EXPECT_EQ(PackedBits(DType::kFloat8E4M3FN), 0);
  EXPECT_EQ(DTypeFromName("float6e3m2"), DType::kFloat6E3M2);
  EXPECT_STREQ(DTypeName(DType::kFloat6E2M3), "float6e2m3");
  EXPECT_TRUE(IsLowPrecision(DType::kFloat6E3M2));
}

TEST(LowPrecision, TensorCastTo) {
  Tensor f = Tensor::FromVector<float>({3}, {1000, -0.5f, 1});
  Tensor q = f.CastTo(DType::kFloat8E4M3FN);
  EXPECT_EQ(q.codes()[0], 0x7E);
  EXPECT_EQ(q.codes()[1], 0xB0);
  EXPECT_EQ(q.GetDouble(2), 1.0);
  Tensor back = q.CastTo(DType::kFloat32);
  EXPECT_EQ(back.data<float>()[0], 448.0f);
  // int64 -> int4 wraps from the exact integer (2^53 + 9 is not a double).
  Tensor i = Tensor::FromVector<int64_t>({1}, {(int64_t{1} << 53) + 9});
  EXPECT_EQ(static_cast<int8_t>(i.CastTo(DType::kInt4).codes()[0]), -7);
}

// Generated inputs stay inside each type's range: integers 0..9 clamped (int4 tops out at 7,
// uint2 at 3), floats in [-1, 1].
TEST(LowPrecision, RandomTensorsAreInRange) {
  Tensor i4 = RandomTensor(DType::kInt4, {200}, 7);
  Tensor u2 = RandomTensor(DType::kUInt2, {200}, 7);
  Tensor f8 = RandomTensor(DType::kFloat8E5M2, {200}, 7);
  bool saw_top = false;
  for (int64_t i = 0; i < 200; ++i) {
    EXPECT_GE(i4.GetDouble(i), 0);
    EXPECT_LE(i4.GetDouble(i), 7);
    saw_top = saw_top || i4.GetDouble(i) == 7;
    EXPECT_LE(u2.GetDouble(i), 3);
    EXPECT_LE(std::fabs(f8.GetDouble(i)), 1.0);
  }
  EXPECT_TRUE(saw_top);  // 7, 8 and 9 all clamp to 7
}

}  // namespace
}  // namespace concord
