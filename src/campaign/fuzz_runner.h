// How fuzzing and `concord reduce` run one model on one env and judge what came back: a
// persistent worker per env (EnvRunner) whose outcome is classified into a symptom, the
// differential oracle (Disagreement) and the signatures that tell one bug from another.
//
// EnvRunner runs the env in a worker process (ort/tvm always; ref/opencv with isolate=1) with a
// timeout, reusing the worker across models with Session::Reload. It never throws for what the
// env does: a crash, hang, error or unsupported op becomes an Outcome. Single-threaded.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "compare/compare.h"
#include "ir/model.h"
#include "ir/value.h"

namespace concord {

struct Outcome {
  std::string symptom;  // "" ok, "unsupported", "crash", "timeout", "error", "inconsistent",
                        // "undefined", "perf"
  std::string message;
  std::vector<Value> outputs;
  double ms = 0;  // run time (the env's own timing when it reports one)
};

// The env as fuzzing runs it: in a worker process, with a timeout (unless the spec sets one).
EnvSpec WorkerEnv(const std::string& env, double timeout_s);

// One persistent worker per env.
class EnvRunner {
 public:
  EnvRunner(std::string env, double timeout_s);
  ~EnvRunner();
  EnvRunner(EnvRunner&&);
  EnvRunner& operator=(EnvRunner&&);

  const std::string& env() const { return env_; }

  // Loads `model` (reusing the worker when it can) and runs it once. A dead or hung worker is
  // retired; the next call starts a fresh one.
  Outcome Run(const Model& model, const ValueMap& inputs);

 private:
  Outcome DoRun(const Model& model, const ValueMap& inputs);

  std::string env_;
  EnvSpec spec_;
  std::unique_ptr<Session> session_;
};

// True when a graph input/output, initializer or Cast target is float16: such models get the
// looser float16 tolerance.
bool HasFloat16(const Model& model);

// Compares outputs with the expected ones; "" when they agree, else a one-line reason. With
// scale_atol (fuzzing), atol is scaled by max(1, max|expected|) per output: cancellation near
// zero in long float chains is rounding, not a bug. Without it, the tolerance is compare's.
std::string Disagreement(const std::vector<Value>& want, const std::vector<Value>& got,
                         const Tolerance& tol, bool scale_atol = true);

// The same with one tolerance per output (campaign/fuzz_oracle.h's OutputTolerances); atol is
// scaled as with scale_atol. Outputs beyond the list use the last tolerance.
std::string Disagreement(const std::vector<Value>& want, const std::vector<Value>& got,
                         const std::vector<Tolerance>& tols);
// How many output elements are beyond those tolerances (NaN/Inf placement included); INT64_MAX
// when the outputs' count, kinds, dtypes or shapes differ.
int64_t MismatchCount(const std::vector<Value>& want, const std::vector<Value>& got,
                      const std::vector<Tolerance>& tols);

// The message of a finding with `symptom` taken from a rerun of its repro: for crash/error the
// rerun's own message when it shows the same symptom; for inconsistent/undefined the
// disagreement of the rerun's outputs with `expected` (ref on the same repro) when the rerun ran
// cleanly, keeping the spec-undefined explanation (after " — ") of `found_message`. "" when the
// rerun does not show the symptom (then the repro does not back any message).
std::string RerunMessage(const std::string& symptom, const Outcome& rerun,
                         const std::vector<Value>& expected, const Tolerance& tol,
                         const std::string& found_message);
std::string RerunMessage(const std::string& symptom, const Outcome& rerun,
                         const std::vector<Value>& expected, const std::vector<Tolerance>& tols,
                         const std::string& found_message);

// An error message with what varies between occurrences of one bug taken out: numbers become
// "N", quoted text and tensor/node names become "_", so "Split 'n_3' got [3,5]" and
// "Split 'n_7' got [2,1]" match. Source locations (file.cpp:170) are kept: they name the
// check that failed.
std::string NormalizeMessage(const std::string& message);

// Sorted, de-duplicated op types of `model`, comma-separated ("MatMul,Mul").
std::string OpSignature(const Model& model);

// One entry per distinct node kind of `model`: "Op(attr,attr):dtype", with the attribute names
// it sets (sorted) and the element type of its first input ("?" when unknown); sorted.
std::vector<std::string> NodeSignatures(const Model& model);

// The element type of each node's first input, in graph order, from the value types or the
// initializers ("?" when unknown or the node has no input).
std::vector<std::string> FirstInputDTypes(const Model& model);

}  // namespace concord
