#include "campaign/reduce_envs.h"

#include "campaign/fuzz_runner.h"
#include "ir/error.h"

namespace concord {
namespace {

bool Failed(const Outcome& o) { return !o.symptom.empty(); }

std::string FailureSignature(const Outcome& o) {
  std::string text = o.message;
  if (o.symptom == "crash" || o.symptom == "timeout") text = text.substr(0, text.find('\n'));
  return NormalizeMessage(text.substr(0, 2000));
}

}  // namespace

EnvReduceResult ReduceBetweenEnvs(const Model& model, const ValueMap& inputs,
                                  const EnvReduceOptions& o,
                                  const std::function<void(const std::string&)>& log) {
  for (const std::string* e : {&o.env_a, &o.env_b}) {
    try {
      FindBackend(EnvSpec::Parse(*e).backend);
    } catch (const Error& err) {
      Fail(ErrorKind::kUsage, "reduce env '{}': {}", *e, err.what());
    }
  }
  EnvRunner a(o.env_a, o.timeout_s), b(o.env_b, o.timeout_s);
  EnvReduceResult r;
  r.reduced = {model, inputs, model.graph().node_size(), model.graph().node_size()};
  Outcome oa = a.Run(model, inputs), ob = b.Run(model, inputs);
  if (Failed(oa) && Failed(ob)) {
    r.message = fmt::format("both envs fail: {}: {}; {}: {}", o.env_a, oa.message.substr(0, 300),
                            o.env_b, ob.message.substr(0, 300));
    return r;
  }
  std::string signature;
  if (Failed(oa) || Failed(ob)) {
    const Outcome& bad = Failed(oa) ? oa : ob;
    r.symptom = bad.symptom;
    r.failing_env = Failed(oa) ? o.env_a : o.env_b;
    r.message = bad.message;
    signature = FailureSignature(bad);
  } else {
    r.message = Disagreement(oa.outputs, ob.outputs, o.tol, false);
    if (r.message.empty()) return r;  // they agree: nothing to reduce
    r.symptom = "diverges";
  }
  r.reproduced = true;
  if (log)
    log(fmt::format("{}: {}",
                    r.failing_env.empty() ? "the envs diverge" : r.failing_env + " " + r.symptom,
                    r.message.substr(0, 200)));
  const bool a_fails = r.failing_env == o.env_a;
  // The symptom on a candidate, "" when it does not show it.
  auto symptom_of = [&](const Model& m, const ValueMap& in, std::vector<Value>* expected) {
    Outcome ca = a.Run(m, in);
    Outcome cb = b.Run(m, in);
    if (r.symptom == "diverges") {
      if (Failed(ca) || Failed(cb)) return std::string();
      if (expected) *expected = ca.outputs;
      return Disagreement(ca.outputs, cb.outputs, o.tol, false);
    }
    const Outcome& bad = a_fails ? ca : cb;
    const Outcome& good = a_fails ? cb : ca;
    if (Failed(good) || bad.symptom != r.symptom || FailureSignature(bad) != signature) {
      return std::string();
    }
    if (expected) *expected = good.outputs;
    return bad.message;
  };
  int tests = 0;
  auto oracle = [&](const Model& m, const ValueMap& in) {
    bool keeps = !symptom_of(m, in, nullptr).empty();
    if (log) {
      log(fmt::format("candidate {}: {} nodes, {}", ++tests, m.graph().node_size(),
                      keeps ? "keeps the symptom" : "does not"));
    }
    return keeps;
  };
  r.reduced = ReduceModel(model, inputs, oracle, {o.max_tests});
  r.reduced_message = symptom_of(r.reduced.model, r.reduced.inputs, &r.expected);
  r.expected_env = a_fails ? o.env_b : o.env_a;
  return r;
}

}  // namespace concord
