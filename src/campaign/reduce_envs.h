// `concord reduce` (Polygraphy's `debug reduce`): shrink a model to the few nodes that make two
// envs disagree, or that make one of them fail, with the fuzz reducer (campaign/reduce.h:
// delta debugging over nodes, then freezing inputs).
//
// The symptom is taken from the full model, run once on each env (in worker processes, like
// fuzzing):
//   diverges  both run, and an output of B differs from A's beyond the tolerance (compare's
//             |b - a| <= atol + rtol * |a|, NaN/Inf placement included);
//   crash / timeout / error / unsupported on one env, while the other runs the model.
// A candidate keeps the symptom when it shows the same one: for a failure, the same class and
// normalised error message on the same env while the other env still runs it, so the
// reduction cannot drift to another bug. Sub-model inputs are the values `ref` computes on the
// full model (so ref must run it). Throws Error(kUsage/kInput) for bad envs or models; a
// symptom that does not reproduce is a result (reproduced = false), not an error.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "campaign/reduce.h"
#include "compare/compare.h"

namespace concord {

struct EnvReduceOptions {
  std::string env_a, env_b;
  Tolerance tol;
  double timeout_s = 60;
  int max_tests = 300;
};

struct EnvReduceResult {
  bool reproduced = false;
  std::string symptom;          // "diverges", "crash", "timeout", "error", "unsupported"
  std::string failing_env;      // the env that fails (empty for "diverges")
  std::string message;          // the symptom on the full model
  std::string reduced_message;  // the same symptom on the reduced model, run again
  ReduceResult reduced;
  std::vector<Value> expected;  // on the reduced model: A's outputs (B's when A fails)
  std::string expected_env;
};

EnvReduceResult ReduceBetweenEnvs(const Model& model, const ValueMap& inputs,
                                  const EnvReduceOptions& options,
                                  const std::function<void(const std::string&)>& log = nullptr);

}  // namespace concord
