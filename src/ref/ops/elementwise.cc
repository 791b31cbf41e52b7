// Element-wise math, comparison and logic ops with multidirectional broadcasting.
// Each op is one functor plus one registration line over the shared kernels below.
#include <cmath>
#include <limits>

#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

template <typename T>
constexpr bool kIsUnsigned = std::is_unsigned_v<T> && !std::is_same_v<T, bool>;

// ---- binary arithmetic -----------------------------------------------------------------------

void RequireSameType(const KernelContext& ctx, const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype()) {
    ctx.Fail("inputs have different element types: {} and {}", DTypeName(a.dtype()),
             DTypeName(b.dtype()));
  }
}

template <typename Op>
std::vector<Value> BinaryArith(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  RequireSameType(ctx, a, b);
  return Out(DispatchNumeric(ctx, a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    return BroadcastBinary<T, T, T>(ctx, a, b, a.dtype(), [&](T x, T y) {
      return Down<T>(Op::template Apply<ComputeT<T>>(ctx, Up(x), Up(y)));
    });
  }));
}

// Integer add/sub/mul wrap around (two's complement), computed in unsigned to avoid UB.
template <typename T, typename F>
T Wrap(T x, T y, F f) {
  if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(f(static_cast<U>(x), static_cast<U>(y)));
  } else {
    return f(x, y);
  }
}

struct AddOp {
  template <typename T>
  static T Apply(const KernelContext&, T x, T y) {
    return Wrap(x, y, [](auto a, auto b) { return static_cast<decltype(a)>(a + b); });
  }
};
struct SubOp {
  template <typename T>
  static T Apply(const KernelContext&, T x, T y) {
    return Wrap(x, y, [](auto a, auto b) { return static_cast<decltype(a)>(a - b); });
  }
};
struct MulOp {
  template <typename T>
  static T Apply(const KernelContext&, T x, T y) {
    return Wrap(x, y, [](auto a, auto b) { return static_cast<decltype(a)>(a * b); });
  }
};
struct DivOp {
  template <typename T>
  static T Apply(const KernelContext& ctx, T x, T y) {
    if constexpr (std::is_integral_v<T>) {
      if (y == 0) ctx.Fail("integer division by zero");
      if constexpr (std::is_signed_v<T>) {
        if (x == std::numeric_limits<T>::min() && y == -1) return x;  // wraps
      }
    }
    return static_cast<T>(x / y);
  }
};

// Opset 1-6 binary ops: no implicit broadcasting; with broadcast=1, B's shape must match a
// contiguous run of A's dims starting at `axis` (default: A's trailing dims).
template <typename Op>
std::vector<Value> LegacyBinaryArith(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (ctx.GetInt("broadcast", 0) == 0) {
    if (a.shape() != b.shape()) {
      ctx.Fail("shapes {} and {} differ and broadcast=0 (opset < 7 has no implicit broadcasting)",
               ShapeToString(a.shape()), ShapeToString(b.shape()));
    }
    return BinaryArith<Op>(ctx);
  }
  int64_t axis = ctx.GetInt("axis", a.rank() - b.rank());
  if (b.rank() > a.rank() || axis < 0 || axis + b.rank() > a.rank()) {
    ctx.Fail("cannot broadcast {} onto {} at axis {}", ShapeToString(b.shape()),
             ShapeToString(a.shape()), axis);
  }
  Shape aligned(static_cast<size_t>(a.rank()), 1);
  for (int i = 0; i < b.rank(); ++i) {
    int64_t d = b.dim(i);
    if (d != 1 && d != a.dim(static_cast<int>(axis) + i)) {
      ctx.Fail("cannot broadcast {} onto {} at axis {}", ShapeToString(b.shape()),
               ShapeToString(a.shape()), axis);
    }
    aligned[static_cast<size_t>(axis + i)] = d;
  }
  Tensor b2 = b.Reshaped(aligned);
  RequireSameType(ctx, a, b2);
  return Out(DispatchNumeric(ctx, a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    return BroadcastBinary<T, T, T>(ctx, a, b2, a.dtype(), [&](T x, T y) {
      return Down<T>(Op::template Apply<ComputeT<T>>(ctx, Up(x), Up(y)));
    });
  }));
}

// ---- Pow: base and exponent may have different types (opset 12+) ----------------------------

std::vector<Value> Pow(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  return Out(DispatchNumeric(ctx, a.dtype(), [&](auto ta) {
    using TA = typename decltype(ta)::type;
    return DispatchNumeric(ctx, b.dtype(), [&](auto tb) {
      using TB = typename decltype(tb)::type;
      return BroadcastBinary<TA, TB, TA>(ctx, a, b, a.dtype(), [](TA x, TB y) {
        if constexpr (std::is_integral_v<TA>) {
          if constexpr (std::is_integral_v<TB>) {
            if (y >= 0) {  // exact integer power
              TA r = 1, base = x;
              for (auto e = static_cast<uint64_t>(y); e; e >>= 1) {
                if (e & 1)
                  r = Wrap(r, base, [](auto p, auto q) { return static_cast<decltype(p)>(p * q); });
                base = Wrap(base, base,
                            [](auto p, auto q) { return static_cast<decltype(p)>(p * q); });
              }
              return r;
            }
          }
          return static_cast<TA>(std::pow(static_cast<double>(x), ToDouble(y)));
        } else {
          return Down<TA>(
              static_cast<ComputeT<TA>>(std::pow(Up(x), static_cast<ComputeT<TA>>(ToDouble(y)))));
        }
      });
    });
  }));
}

// ---- Mod: fmod=0 is Python-style (sign of divisor), fmod=1 is C fmod --------------------------

// NumPy's float remainder (np.mod, which Mod-28's reference uses): fmod, moved by one divisor
// when its sign differs from the divisor's; a zero result takes the divisor's sign. This gives
// the special cases the spec lists: x = +-inf or y = 0 -> NaN; y = +-inf -> x or y. Computed in
// the type NumPy uses (float for float16/bfloat16/float32, double for float64).
template <typename C>
C PythonFloatMod(C x, C y) {
  C r = std::fmod(x, y);
  if (y == 0 || std::isnan(r)) return r;
  if (r == 0) return std::copysign(C(0), y);
  if ((r < 0) != (y < 0)) r += y;
  return r;
}

// Mod-10/13 allow fmod=0 on integers only; Mod-28 also on floats (kFloatPython).
template <bool kFloatPython>
std::vector<Value> Mod(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  RequireSameType(ctx, a, b);
  bool fmod = ctx.GetInt("fmod", 0) != 0;
  if (!fmod && !kFloatPython && IsFloating(a.dtype()))
    ctx.Fail("fmod=0 is only valid for integer types before opset 28");
  return Out(DispatchNumeric(ctx, a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    return BroadcastBinary<T, T, T>(ctx, a, b, a.dtype(), [&](T x, T y) -> T {
      if constexpr (kIsFloatLike<T>) {
        if (!fmod) return Down<T>(PythonFloatMod(Up(x), Up(y)));
        return Down<T>(std::fmod(Up(x), Up(y)));
      } else {
        if (y == 0) ctx.Fail("integer modulo by zero");
        if constexpr (std::is_signed_v<T>) {
          if (y == -1) return 0;
          T r = static_cast<T>(x % y);
          if (!fmod && r != 0 && ((r < 0) != (y < 0))) r = static_cast<T>(r + y);
          return r;
        } else {
          return static_cast<T>(x % y);
        }
      }
    });
  }));
}

// ---- comparisons -------------------------------------------------------------------------------

template <typename Op>
std::vector<Value> Compare(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  RequireSameType(ctx, a, b);
  return Out(DispatchAll(ctx, a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kIsComplex<T>) {
      ctx.Unsupported("complex comparison");
      return Tensor();
    } else {
      return BroadcastBinary<T, T, bool>(ctx, a, b, DType::kBool, [](const T& x, const T& y) {
        if constexpr (kIsHalf<T>) {
          return Op{}(static_cast<float>(x), static_cast<float>(y));
        } else {
          return Op{}(x, y);
        }
      });
    }
  }));
}

// ---- logic -------------------------------------------------------------------------------------

template <typename Op>
std::vector<Value> Logic(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (a.dtype() != DType::kBool || b.dtype() != DType::kBool) ctx.Fail("inputs must be bool");
  return Out(BroadcastBinary<bool, bool, bool>(ctx, a, b, DType::kBool, Op{}));
}

std::vector<Value> Not(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.dtype() != DType::kBool) ctx.Fail("input must be bool");
  return Out(MapUnary<bool>(ctx, x, DType::kBool, [](bool v) { return !v; }));
}

// x shifted by y bits, as ONNX's reference: a shift outside [0, bits) gives 0, except a right
// shift of a negative signed value, which gives -1 (all sign bits). Right shifts of signed values
// are arithmetic; left shifts work on the unsigned bit pattern (bits shifted out are lost).
template <typename T>
T ShiftBits(T x, T y, bool left) {
  constexpr int kBits = static_cast<int>(sizeof(T) * 8);
  if constexpr (std::is_signed_v<T>) {
    if (y < 0 || y >= kBits) return (!left && x < 0) ? T(-1) : T(0);
    using U = std::make_unsigned_t<T>;
    if (left) return static_cast<T>(static_cast<U>(static_cast<U>(x) << y));
    return static_cast<T>(x >> y);  // arithmetic shift (C++20)
  } else {
    if (y >= static_cast<T>(kBits)) return 0;
    return left ? static_cast<T>(x << y) : static_cast<T>(x >> y);
  }
}

// BitShift-11 takes unsigned integers; BitShift-28 signed ones too (kSigned).
template <bool kSigned>
std::vector<Value> BitShift(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  RequireSameType(ctx, a, b);
  bool left = ctx.GetString("direction", "") == "LEFT";
  if (!left && ctx.GetString("direction", "") != "RIGHT")
    ctx.Fail("direction must be LEFT or RIGHT");
  return Out(DispatchNumeric(ctx, a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kIsUnsigned<T> || (kSigned && kIsIntLike<T>)) {
      return BroadcastBinary<T, T, T>(ctx, a, b, a.dtype(),
                                      [left](T x, T y) { return ShiftBits(x, y, left); });
    } else {
      ctx.Fail("BitShift-{} needs {}integers, got {}", kSigned ? 28 : 11,
               kSigned ? "" : "unsigned ", DTypeName(a.dtype()));
      return Tensor();
    }
  }));
}

template <typename Op>
std::vector<Value> Bitwise(KernelContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  RequireSameType(ctx, a, b);
  return Out(DispatchNumeric(ctx, a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kIsIntLike<T>) {
      return BroadcastBinary<T, T, T>(ctx, a, b, a.dtype(),
                                      [](T x, T y) { return static_cast<T>(Op{}(x, y)); });
    } else {
      ctx.Fail("bitwise ops need integers, got {}", DTypeName(a.dtype()));
      return Tensor();
    }
  }));
}

std::vector<Value> BitwiseNot(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  return Out(DispatchNumeric(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kIsIntLike<T>) {
      return MapUnary<T>(ctx, x, x.dtype(), [](T v) { return static_cast<T>(~v); });
    } else {
      ctx.Fail("BitwiseNot needs integers");
      return Tensor();
    }
  }));
}

// ---- Where -------------------------------------------------------------------------------------

std::vector<Value> Where(KernelContext& ctx) {
  const Tensor& c = ctx.input(0);
  const Tensor& x = ctx.input(1);
  const Tensor& y = ctx.input(2);
  if (c.dtype() != DType::kBool) ctx.Fail("condition must be bool");
  RequireSameType(ctx, x, y);
  Shape out_shape = BroadcastShapes(ctx, {c.shape(), x.shape(), y.shape()});
  return Out(DispatchAll(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    Tensor out(x.dtype(), out_shape);
    const bool* pc = c.data<bool>();
    const T* px = x.data<T>();
    const T* py = y.data<T>();
    T* po = out.data<T>();
    std::array<std::vector<int64_t>, 3> strides = {BroadcastStrides(c.shape(), out_shape),
                                                   BroadcastStrides(x.shape(), out_shape),
                                                   BroadcastStrides(y.shape(), out_shape)};
    ForEachBroadcast<3>(out_shape, strides, [&](int64_t o, const std::array<int64_t, 3>& off) {
      po[o] = pc[off[0]] ? px[off[1]] : py[off[2]];
    });
    return out;
  }));
}

// ---- variadic Sum / Mean / Max / Min ------------------------------------------------------------

template <typename Op, bool kMean = false>
std::vector<Value> Variadic(KernelContext& ctx) {
  if (ctx.num_inputs() == 0) ctx.Fail("needs at least one input");
  Tensor acc = ctx.input(0);
  for (size_t i = 1; i < ctx.num_inputs(); ++i) {
    const Tensor& b = ctx.input(i);
    RequireSameType(ctx, acc, b);
    acc = DispatchNumeric(ctx, acc.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      return BroadcastBinary<T, T, T>(ctx, acc, b, acc.dtype(),
                                      [](T x, T y) { return Down<T>(Op{}(Up(x), Up(y))); });
    });
  }
  if constexpr (kMean) {
    double n = static_cast<double>(ctx.num_inputs());
    acc = DispatchFloat(ctx, acc.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      return MapUnary<T>(ctx, acc, acc.dtype(),
                         [n](T v) { return Down<T>(static_cast<ComputeT<T>>(Up(v) / n)); });
    });
  }
  return Out(std::move(acc));
}

struct PlusF {
  template <typename T>
  T operator()(T a, T b) const {
    return static_cast<T>(a + b);
  }
};
struct MaxF {
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<T>::quiet_NaN();
    }
    return a < b ? b : a;
  }
};
struct MinF {
  template <typename T>
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<T>::quiet_NaN();
    }
    return b < a ? b : a;
  }
};

// ---- unary math
// ----------------------------------------------------------------------------------

// Float-only unary op: F is applied in ComputeT (float for halves, else T).
template <typename F>
std::vector<Value> UnaryFloat(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  return Out(DispatchFloat(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    return MapUnary<T>(ctx, x, x.dtype(),
                       [](T v) { return Down<T>(static_cast<ComputeT<T>>(F{}(Up(v)))); });
  }));
}

// Numeric unary op (ints too).
template <typename F>
std::vector<Value> UnaryNumeric(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  return Out(DispatchNumeric(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    return MapUnary<T>(ctx, x, x.dtype(),
                       [](T v) { return Down<T>(static_cast<ComputeT<T>>(F{}(Up(v)))); });
  }));
}

#define CONCORD_UNARY(NAME, EXPR) \
  struct NAME {                   \
    template <typename T>         \
    T operator()(T x) const {     \
      return EXPR;                \
    }                             \
  };
CONCORD_UNARY(SqrtF, std::sqrt(x))
CONCORD_UNARY(ExpF, std::exp(x))
CONCORD_UNARY(LogF, std::log(x))
CONCORD_UNARY(ReciprocalF, T(1) / x)
CONCORD_UNARY(FloorF, std::floor(x))
CONCORD_UNARY(CeilF, std::ceil(x))
CONCORD_UNARY(RoundF, std::nearbyint(x))  // round half to even under the default FP mode
CONCORD_UNARY(SinF, std::sin(x))
CONCORD_UNARY(CosF, std::cos(x))
CONCORD_UNARY(TanF, std::tan(x))
CONCORD_UNARY(AsinF, std::asin(x))
CONCORD_UNARY(AcosF, std::acos(x))
CONCORD_UNARY(AtanF, std::atan(x))
CONCORD_UNARY(SinhF, std::sinh(x))
CONCORD_UNARY(CoshF, std::cosh(x))
CONCORD_UNARY(TanhF, std::tanh(x))
CONCORD_UNARY(AsinhF, std::asinh(x))
CONCORD_UNARY(AcoshF, std::acosh(x))
CONCORD_UNARY(AtanhF, std::atanh(x))
CONCORD_UNARY(ErfF, std::erf(x))
#undef CONCORD_UNARY

struct AbsF {
  template <typename T>
  T operator()(T x) const {
    if constexpr (std::is_unsigned_v<T>)
      return x;
    else
      return x < T(0) ? static_cast<T>(-x) : x;
  }
};
struct NegF {
  template <typename T>
  T operator()(T x) const {
    if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
      return static_cast<T>(-static_cast<std::make_unsigned_t<T>>(x));
    } else {
      return static_cast<T>(-x);
    }
  }
};
struct SignF {
  template <typename T>
  T operator()(T x) const {
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(x)) return x;
    }
    return x > T(0) ? T(1) : (x < T(0) ? static_cast<T>(-1) : T(0));
  }
};

// IsNaN / IsInf on float8 (opset 20+): by each code's value.
template <typename Pred>
Tensor ClassifyLowPrecision(const Tensor& x, Pred pred) {
  Tensor out(DType::kBool, x.shape());
  for (int64_t i = 0; i < x.numel(); ++i) out.data<bool>()[i] = pred(x.GetDouble(i));
  return out;
}

std::vector<Value> IsNaN(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (IsLowPrecision(x.dtype()))
    return Out(ClassifyLowPrecision(x, [](double v) { return std::isnan(v); }));
  return Out(DispatchFloat(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    return MapUnary<T>(ctx, x, DType::kBool, [](T v) { return std::isnan(Up(v)); });
  }));
}

std::vector<Value> IsInf(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  bool pos = ctx.GetInt("detect_positive", 1) != 0;
  bool neg = ctx.GetInt("detect_negative", 1) != 0;
  if (IsLowPrecision(x.dtype())) {
    return Out(ClassifyLowPrecision(
        x, [pos, neg](double v) { return std::isinf(v) && ((v > 0 && pos) || (v < 0 && neg)); }));
  }
  return Out(DispatchFloat(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    return MapUnary<T>(ctx, x, DType::kBool, [pos, neg](T v) {
      auto f = Up(v);
      return std::isinf(f) && ((f > 0 && pos) || (f < 0 && neg));
    });
  }));
}

}  // namespace

void RegisterElementwiseOps(Registry& r) {
  // Opset 1-6 used an explicit `broadcast`/`axis` attribute pair; 7+ broadcasts implicitly.
  r.Add("", "Add", 1, LegacyBinaryArith<AddOp>);
  r.Add("", "Sub", 1, LegacyBinaryArith<SubOp>);
  r.Add("", "Mul", 1, LegacyBinaryArith<MulOp>);
  r.Add("", "Div", 1, LegacyBinaryArith<DivOp>);
  r.Add("", "Add", 7, BinaryArith<AddOp>);
  r.Add("", "Sub", 7, BinaryArith<SubOp>);
  r.Add("", "Mul", 7, BinaryArith<MulOp>);
  r.Add("", "Div", 7, BinaryArith<DivOp>);
  r.Add("", "Pow", 1, Pow);
  r.Add("", "Mod", 10, Mod<false>);
  r.Add("", "Mod", 28, Mod<true>);

  r.Add("", "Equal", 1, Compare<std::equal_to<>>);
  r.Add("", "Less", 1, Compare<std::less<>>);
  r.Add("", "Greater", 1, Compare<std::greater<>>);
  r.Add("", "LessOrEqual", 12, Compare<std::less_equal<>>);
  r.Add("", "GreaterOrEqual", 12, Compare<std::greater_equal<>>);

  r.Add("", "And", 1, Logic<std::logical_and<>>);
  r.Add("", "Or", 1, Logic<std::logical_or<>>);
  r.Add("", "Xor", 1, Logic<std::not_equal_to<>>);
  r.Add("", "Not", 1, Not);
  r.Add("", "BitShift", 11, BitShift<false>);
  r.Add("", "BitShift", 28, BitShift<true>);
  r.Add("", "BitwiseAnd", 18, Bitwise<std::bit_and<>>);
  r.Add("", "BitwiseOr", 18, Bitwise<std::bit_or<>>);
  r.Add("", "BitwiseXor", 18, Bitwise<std::bit_xor<>>);
  r.Add("", "BitwiseNot", 18, BitwiseNot);
  r.Add("", "Where", 9, Where);

  r.Add("", "Sum", 1, Variadic<PlusF>);
  r.Add("", "Mean", 1, Variadic<PlusF, true>);
  r.Add("", "Max", 1, Variadic<MaxF>);
  r.Add("", "Min", 1, Variadic<MinF>);

  r.Add("", "Sqrt", 1, UnaryFloat<SqrtF>);
  r.Add("", "Exp", 1, UnaryFloat<ExpF>);
  r.Add("", "Log", 1, UnaryFloat<LogF>);
  r.Add("", "Reciprocal", 1, UnaryFloat<ReciprocalF>);
  r.Add("", "Floor", 1, UnaryFloat<FloorF>);
  r.Add("", "Ceil", 1, UnaryFloat<CeilF>);
  r.Add("", "Round", 11, UnaryFloat<RoundF>);
  r.Add("", "Sin", 7, UnaryFloat<SinF>);
  r.Add("", "Cos", 7, UnaryFloat<CosF>);
  r.Add("", "Tan", 7, UnaryFloat<TanF>);
  r.Add("", "Asin", 7, UnaryFloat<AsinF>);
  r.Add("", "Acos", 7, UnaryFloat<AcosF>);
  r.Add("", "Atan", 7, UnaryFloat<AtanF>);
  r.Add("", "Sinh", 9, UnaryFloat<SinhF>);
  r.Add("", "Cosh", 9, UnaryFloat<CoshF>);
  r.Add("", "Tanh", 1, UnaryFloat<TanhF>);
  r.Add("", "Asinh", 9, UnaryFloat<AsinhF>);
  r.Add("", "Acosh", 9, UnaryFloat<AcoshF>);
  r.Add("", "Atanh", 9, UnaryFloat<AtanhF>);
  r.Add("", "Erf", 9, UnaryFloat<ErfF>);
  r.Add("", "Abs", 1, UnaryNumeric<AbsF>);
  r.Add("", "Neg", 1, UnaryNumeric<NegF>);
  r.Add("", "Sign", 9, UnaryNumeric<SignF>);
  r.Add("", "IsNaN", 9, IsNaN);
  r.Add("", "IsInf", 10, IsInf);
}

}  // namespace concord::ref
