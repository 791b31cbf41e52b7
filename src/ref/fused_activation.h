// An activation the interpreter fuses into the Conv before it.
//
// A float32 Conv whose output is read only by the next node, a Relu or a Clip (bounds float32
// scalars), applies that node's formula to each finished output while it is still in cache (with
// the bias), and the Relu or Clip node then hands the Conv's output on: one memory pass and one
// buffer fewer per activation. The formulas below are the Relu and Clip kernels' own, so the
// values are bitwise those of the two nodes run one after the other. The interpreter fuses only
// runs without taps (a tapped run records the Conv's own output).
#pragma once

namespace concord::ref {

struct FusedActivation {
  enum class Kind { kNone, kRelu, kClip };
  Kind kind = Kind::kNone;
  float lo = 0, hi = 0;  // kClip's bounds
};

// Relu: x > 0 ? x : 0 (NaN and -0 become +0).
template <typename C>
C ReluValue(C x) {
  return x > C(0) ? x : C(0);
}

// Clip: min(max(x, lo), hi); NaN in x stays NaN (both comparisons are false).
template <typename C>
C ClipValue(C x, C lo, C hi) {
  if (x < lo) x = lo;
  if (x > hi) x = hi;
  return x;
}

// The functor WithActivation passes for kNone: a loop may skip a pass that would only apply it.
struct NoActivation {
  template <typename C>
  C operator()(C x) const {
    return x;
  }
};

// Calls f with the activation as a functor over C (NoActivation for kNone), so that loops over
// outputs are compiled once per kind instead of branching per element.
template <typename C, typename F>
void WithActivation(const FusedActivation& a, F&& f) {
  switch (a.kind) {
    case FusedActivation::Kind::kRelu:
      f([](C x) { return ReluValue<C>(x); });
      return;
    case FusedActivation::Kind::kClip: {
      const C lo = static_cast<C>(a.lo), hi = static_cast<C>(a.hi);
      f([lo, hi](C x) { return ClipValue<C>(x, lo, hi); });
      return;
    }
    case FusedActivation::Kind::kNone:
      f(NoActivation{});
      return;
  }
}

}  // namespace concord::ref
