#include "localize/localize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>

#include "ir/json_number.h"
#include "localize/analysis.h"
#include "passes/pass.h"

namespace concord::localize {

namespace {

using nlohmann::json;
using detail::DivJson;
using detail::NodeLabel;

constexpr double kCarryRelL2 = 1e-5;
constexpr double kCarryRelL2CrossEnv = 1e-3;

}  // namespace

namespace detail {

bool Sides::Clean(const std::string& t) const {
  if (t.empty() || ti.IsStatic(t)) return true;
  if (bad_outputs.count(t)) return false;
  auto it = align.find(t);
  return it != align.end() && it->second.div.agree;
}

bool Sides::Bad(const std::string& t) const {
  if (bad_outputs.count(t)) return true;
  auto it = align.find(t);
  return it != align.end() && !it->second.div.agree;
}

int FindCulprit(const Sides& sides) {
  const GraphIndex& ti = sides.ti;
  const auto& g = *ti.graph;
  auto clean = [&](const std::string& t) { return sides.Clean(t); };
  auto bad = [&](const std::string& t) { return sides.Bad(t); };
  // reach[t]: t is a divergent graph output, or diverges or is unaligned and leads to one through
  // non-agreeing tensors. A divergence that later tensors heal (they agree with the source again:
  // a restructured region whose intermediate matches no source tensor exactly) is not a cause.
  std::map<std::string, bool> reach;
  for (int i = g.node_size() - 1; i >= 0; --i) {
    for (const auto& o : g.node(i).output()) {
      if (o.empty() || ti.IsStatic(o)) continue;
      bool rr = sides.bad_outputs.count(o) > 0;
      if (!rr && !clean(o)) {
        auto c = ti.consumers.find(o);
        if (c == ti.consumers.end()) {
          rr = bad(o);  // read by no node (a subgraph capture): keep its own verdict
        } else {
          for (int j : c->second) {
            for (const auto& o2 : g.node(j).output()) rr = rr || reach[o2];
          }
        }
      }
      reach[o] = rr;
    }
  }
  int culprit = -1;
  for (int i = 0; i < g.node_size() && culprit < 0; ++i) {
    const auto& n = g.node(i);
    bool inputs_ok = true;
    for (const auto& [pos, name] : ti.ActivationInputs(i)) inputs_ok = inputs_ok && clean(name);
    if (!inputs_ok) continue;
    for (const auto& o : n.output()) {
      if (!o.empty() && reach[o]) culprit = i;
    }
  }
  if (culprit < 0) {
    for (int i = 0; i < g.node_size() && culprit < 0; ++i) {
      if (g.node(i).output_size() && bad(g.node(i).output(0))) culprit = i;
    }
  }
  return culprit;
}

Counterpart FindCounterpart(const Sides& sides, int culprit,
                            const std::map<std::string, std::vector<std::string>>& node_map) {
  const Model& source = sides.source;
  const GraphIndex& si = sides.si;
  const GraphIndex& ti = sides.ti;
  const auto& align = sides.align;
  const auto& n = ti.node(culprit);
  // The source counterpart.
  int m = -1;
  std::string m_how;
  for (const auto& o : n.output()) {
    auto it = align.find(o);
    if (m < 0 && it != align.end() && it->second.method != "input") {
      auto p = si.producer.find(it->second.source);
      if (p != si.producer.end()) {
        m = p->second;
        m_how = "output aligned by " + it->second.method;
      }
    }
  }
  auto acts = ti.ActivationInputs(culprit);
  std::vector<std::pair<int, std::string>> mapped;
  bool all_mapped = true;
  for (const auto& [pos, name] : acts) {
    auto it = align.find(name);
    if (it == align.end()) all_mapped = false; else mapped.emplace_back(pos, it->second.source);
  }
  if (m < 0 && all_mapped && !mapped.empty()) {
    auto c = si.consumers.find(mapped[0].second);
    if (c != si.consumers.end()) {
      // Same activation inputs; prefer the same op type, else a source node whose output no
      // target tensor is aligned to (the node that was replaced).
      std::set<std::string> taken;
      for (const auto& [t, a] : align) taken.insert(a.source);
      for (int pass = 0; pass < 2 && m < 0; ++pass) {
        for (int j : c->second) {
          const auto& sn = source.graph().node(j);
          if (si.ActivationInputs(j) != mapped) continue;
          if (pass == 0 && sn.op_type() != n.op_type()) continue;
          if (pass == 1 && sn.output_size() && taken.count(sn.output(0))) continue;
          m = j;
          m_how = pass == 0 ? "same op reading the same aligned inputs" : "source node reading the same inputs";
          break;
        }
      }
    }
  }

  if (m < 0) {
    // A node a conversion pass renamed or created: its original, when it names one.
    auto it = node_map.find(n.name());
    if (it != node_map.end() && it->second.size() == 1) {
      int j = FindNode(source.graph(), it->second[0]);
      if (j >= 0) {
        m = j;
        m_how = "concord.name_map of the target";
      }
    }
  }
  return {m, m_how};
}

}  // namespace detail

SideValues RunSide(const Model& model, const EnvSpec& env, const std::vector<ValueMap>& sets,
                   bool want_taps, double* run_ms, std::string* effective_env) {
  SideValues side;
  auto session = PrepareSession(model, env);
  if (effective_env) *effective_env = session->effective_env();
  side.has_taps = want_taps && session->supports_taps();
  auto outs = model.Outputs();
  double total = 0;
  for (const auto& inputs : sets) {
    ValueMap taps;
    RunTiming timing;
    std::vector<Value> o =
        side.has_taps ? session->RunWithTaps(inputs, &taps, &timing) : session->Run(inputs, &timing);
    total += timing.run_ms;
    for (const auto& [k, v] : inputs) taps[k] = v;
    for (size_t i = 0; i < o.size() && i < outs.size(); ++i) taps[outs[i].name] = o[i];
    side.sets.push_back(std::move(taps));
    side.outputs.push_back(std::move(o));
  }
  if (run_ms) *run_ms = total;
  return side;
}

namespace {

// The axis permutation that turns a `from` shape into a `to` shape when they differ only in
// layout (NCHW <-> NHWC, rank 4), else empty. Unknown dims (-1) match anything.
std::vector<int> LayoutPermutation(const Shape& from, const Shape& to) {
  if (from.size() != 4 || to.size() != 4) return {};
  for (const std::vector<int>& perm : {std::vector<int>{0, 2, 3, 1}, std::vector<int>{0, 3, 1, 2}}) {
    bool ok = true;
    for (size_t d = 0; d < 4 && ok; ++d) {
      int64_t a = from[static_cast<size_t>(perm[d])], b = to[d];
      ok = a < 0 || b < 0 || a == b;
    }
    if (ok) return perm;
  }
  return {};
}

// out[i0..i3] = t[i_perm...]: out axis d is t's axis perm[d]. Keeps the dtype (not strings).
Tensor PermuteAxes(const Tensor& t, const std::vector<int>& perm) {
  const Shape& s = t.shape();
  Shape os(4);
  for (size_t d = 0; d < 4; ++d) os[d] = s[static_cast<size_t>(perm[d])];
  Tensor out(t.dtype(), os);
  if (t.numel() == 0) return out;
  const size_t es = t.nbytes() / static_cast<size_t>(t.numel());
  int64_t stride[4] = {s[1] * s[2] * s[3], s[2] * s[3], s[3], 1};
  const auto* in = static_cast<const char*>(t.raw());
  auto* o = static_cast<char*>(out.raw());
  int64_t k = 0;
  for (int64_t a = 0; a < os[0]; ++a) {
    for (int64_t b = 0; b < os[1]; ++b) {
      for (int64_t c = 0; c < os[2]; ++c) {
        for (int64_t d = 0; d < os[3]; ++d, ++k) {
          int64_t idx[4] = {a, b, c, d}, src = 0;
          for (int x = 0; x < 4; ++x) src += idx[x] * stride[perm[static_cast<size_t>(x)]];
          std::memcpy(o + static_cast<size_t>(k) * es, in + static_cast<size_t>(src) * es, es);
        }
      }
    }
  }
  return out;
}

}  // namespace

std::vector<ValueMap> MapInputs(const Model& source, const Model& target,
                                const std::vector<ValueMap>& source_sets) {
  auto si = source.Inputs();
  auto ti = target.Inputs();
  if (si.size() != ti.size()) {
    Fail(ErrorKind::kInput, "the models take different inputs: source {} has {} ({}), target {} has {}",
         source.path(), si.size(), si.empty() ? "" : si[0].name, target.path(), ti.size());
  }
  std::vector<std::vector<int>> perms(si.size());
  for (size_t k = 0; k < si.size(); ++k) {
    if (si[k].dtype != ti[k].dtype) {
      Fail(ErrorKind::kInput, "input {} differs: source '{}' is {}, target '{}' is {}", k, si[k].name,
           TypeToString(si[k].type), ti[k].name, TypeToString(ti[k].type));
    }
    if (si[k].has_shape && ti[k].has_shape) {
      bool same = si[k].shape.size() == ti[k].shape.size();
      for (size_t d = 0; same && d < si[k].shape.size(); ++d) {
        same = si[k].shape[d] < 0 || ti[k].shape[d] < 0 || si[k].shape[d] == ti[k].shape[d];
      }
      if (!same) perms[k] = LayoutPermutation(si[k].shape, ti[k].shape);
      if (!same && perms[k].empty()) {
        Fail(ErrorKind::kInput,
             "input {} has different shapes: source '{}' {}, target '{}' {}; both models must take the same "
             "input tensors (up to an NCHW <-> NHWC layout)", k, si[k].name, TypeToString(si[k].type),
             ti[k].name, TypeToString(ti[k].type));
      }
    }
  }
  std::vector<ValueMap> out;
  for (const auto& set : source_sets) {
    ValueMap m;
    for (size_t k = 0; k < si.size(); ++k) {
      auto it = set.find(si[k].name);
      if (it == set.end()) Fail(ErrorKind::kInput, "input set lacks the source input '{}'", si[k].name);
      Value v = it->second;
      if (!perms[k].empty() && v.is_tensor() && v.tensor.rank() == 4) {
        v.tensor = PermuteAxes(v.tensor, perms[k]);
      }
      m[ti[k].name] = std::move(v);
    }
    out.push_back(std::move(m));
  }
  return out;
}

LocalizeResult Analyze(const Model& source, const SideValues& sv, const Model& target,
                       const SideValues& tv, const Tolerance& tol,
                       std::map<std::string, Alignment>* align_out, bool same_env) {
  LocalizeResult r;
  GraphIndex si(source.graph()), ti(target.graph());
  r.taps = sv.has_taps && tv.has_taps;
  r.localized = r.taps;
  r.input_sets = tv.sets.size();
  // Names a conversion pass gave (concord convert records them in the target's metadata).
  passes::NameMap names;
  try {
    names = passes::ReadNameMap(target.proto());
  } catch (const Error&) {
    r.note = "the target's concord.name_map metadata is malformed: ignored";
  }
  auto align = AlignTensors(si, sv, ti, tv, tol, names.tensors);
  if (align_out) *align_out = align;

  // Graph outputs by position.
  r.agree = true;
  for (size_t k = 0; k < ti.outputs.size(); ++k) {
    Divergence acc;
    for (size_t s = 0; s < tv.outputs.size(); ++s) {
      Divergence d;
      if (k < sv.outputs[s].size() && k < tv.outputs[s].size()) d = Measure(sv.outputs[s][k], tv.outputs[s][k], tol);
      Accumulate(&acc, d);
    }
    if (k >= si.outputs.size()) acc = Divergence{};
    r.agree = r.agree && acc.agree;
    json j = DivJson(acc);
    j["name"] = ti.outputs[k];
    j["source_name"] = k < si.outputs.size() ? si.outputs[k] : "";
    r.outputs.push_back(j);
  }

  // A graph output that differs from the source's output at its position diverges, whatever
  // source tensor its values match (a trailing node removed).
  std::set<std::string> bad_outputs;
  for (size_t k = 0; k < ti.outputs.size(); ++k) {
    if (!r.outputs[k]["agree"].get<bool>()) bad_outputs.insert(ti.outputs[k]);
  }
  detail::Sides sides{source, sv, si, target, tv, ti, align, tol, std::move(bad_outputs)};
  auto clean = [&](const std::string& t) { return sides.Clean(t); };
  auto bad = [&](const std::string& t) { return sides.Bad(t); };

  const auto& g = target.graph();
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& n = g.node(i);
    NodeReport nr;
    nr.index = i;
    nr.node = NodeLabel(n);
    nr.op_type = n.op_type();
    nr.output = n.output_size() ? n.output(0) : "";
    auto it = align.find(nr.output);
    if (ti.IsStatic(nr.output)) {
      nr.status = "static";
      nr.alignment = "none";
    } else if (it != align.end()) {
      nr.source_tensor = it->second.source;
      auto p = si.producer.find(it->second.source);
      if (p != si.producer.end()) nr.source_node = NodeLabel(source.graph().node(p->second));
      nr.alignment = it->second.method;
      nr.div = it->second.div;
      nr.status = nr.div.agree ? "agree" : "diverge";
    } else {
      nr.alignment = "none";
      nr.status = r.taps ? "unaligned" : "not tapped";
    }
    r.nodes.push_back(nr);
  }
  const auto& gg = target.graph();
  if (r.agree && r.taps) {
    // Persistent divergence: a divergent tensor whose differing descendants reach an output
    // (a saturating Softmax, for one, can hide a large divergence of the logits).
    std::set<std::string> outs(ti.outputs.begin(), ti.outputs.end());
    std::map<std::string, bool> leads;
    // A tensor carries the divergence on when its relative L2 error is above the noise of the
    // mode: float32 reassociation (~1e-7 in restructured graphs) on one env, where a weight
    // precision fault stays near 1e-4 while per-element tolerances may pass; across envs,
    // runtimes' own rounding (kernels, Winograd) may reach 1e-4, so only 1e-3 counts. On one
    // env any tolerance failure carries too, and unaligned tensors always do.
    double thr = same_env ? kCarryRelL2 : kCarryRelL2CrossEnv;
    auto carries = [&](const std::string& t) {
      auto it = align.find(t);
      if (it == align.end()) return true;
      if (same_env && !clean(t)) return true;
      return it->second.div.rel_l2 > thr;
    };
    for (int i = gg.node_size() - 1; i >= 0; --i) {
      for (const auto& o : gg.node(i).output()) {
        if (o.empty() || ti.IsStatic(o)) continue;
        bool l = outs.count(o) > 0;
        auto c = ti.consumers.find(o);
        if (!l && c != ti.consumers.end()) {
          for (int j : c->second) {
            for (const auto& o2 : gg.node(j).output()) l = l || outs.count(o2) || (carries(o2) && leads[o2]);
          }
        }
        leads[o] = l;
        auto it = align.find(o);
        bool start = bad(o) && (same_env || (it != align.end() && it->second.div.rel_l2 > thr));
        if (l && start && !outs.count(o)) {
          r.agree = false;
          r.note = fmt::format("the outputs agree within tolerance, but the divergence at '{}' persists up to "
                               "them", o);
        }
      }
    }
  }
  if (r.agree) return r;
  if (!r.taps) {
    r.note = "an env cannot return intermediate tensors: compared the graph outputs only, no node localized";
    return r;
  }

  int culprit = detail::FindCulprit(sides);
  if (culprit < 0) {
    r.note = "the outputs diverge but no node could be singled out";
    return r;
  }
  r.first_divergent = NodeLabel(g.node(culprit));
  r.first_index = culprit;
  detail::Counterpart cp = detail::FindCounterpart(sides, culprit, names.nodes);
  detail::Classify(sides, culprit, cp, &r);
  return r;
}

LocalizeResult Localize(const Model& source, const Model& target, const std::vector<ValueMap>& source_sets,
                        const LocalizeOptions& options) {
  if (source_sets.empty()) Fail(ErrorKind::kUsage, "localize needs at least one input set");
  std::vector<ValueMap> target_sets = MapInputs(source, target, source_sets);
  double sms = 0, tms = 0;
  std::string se, te;
  SideValues sv = RunSide(source, options.source_env, source_sets, true, &sms, &se);
  SideValues tv = RunSide(target, options.target_env, target_sets, true, &tms, &te);
  LocalizeResult r = Analyze(source, sv, target, tv, options.tol, nullptr,
                             options.source_env.ToString() == options.target_env.ToString());
  r.source_run_ms = sms;
  r.target_run_ms = tms;
  if (!r.taps) {
    r.note = fmt::format("{} cannot return intermediate tensors: compared the graph outputs only{}",
                         sv.has_taps ? te : se, r.agree ? "" : ", no node localized");
  }
  return r;
}

}  // namespace concord::localize
