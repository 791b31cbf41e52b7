// The fuzz campaign's generator policy over gen::Generate: how `concord fuzz` turns a seed into
// a model, how operator support inference probes one (op, dtype) pair, and which (op, dtype)
// pairs each model avoids so that every env gets models it can run.
//
// Policy: each env has a set of (op, dtype) pairs it rejects (from --infer-support, or from an
// earlier inference recorded in the store when that record covers every env of the campaign).
// Models take turns: the model of seed S avoids what env (S mod N) rejects, and every env runs
// it (so the others may still see ops they reject, which counts as "unsupported", not a
// finding). Deterministic for a given seed and exclusion map. Throws Error only as gen does.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "campaign/fuzz.h"
#include "gen/generator.h"
#include "store/store.h"

namespace concord {

// A generated model as a fuzz case (inputs keyed by name).
FuzzCase ToFuzzCase(gen::GeneratedModel generated, uint64_t seed);

// A one-node model of `op` whose first input has dtype `dtype` (its output may be another type:
// Greater gives bool, ArgMax int64). Tries seeds base.seed .. base.seed + tries - 1, since the
// generator may pick another dtype or fail on one; nullopt when none gives such a model.
std::optional<FuzzCase> SingleOpProbe(const gen::GenOptions& base, const std::string& op,
                                      const std::string& dtype, int tries = 6);

// The (op, dtype) pairs the store's op-support table says each env rejects (status other than
// "ok"), for every env in `envs`; an empty map when the table lacks any of them (a partial
// record would make some envs' turns unfiltered without saying so).
std::map<std::string, OpDtypeSet> RecordedExclusions(Store& store,
                                                     const std::vector<std::string>& envs);

// The env whose rejections the model of `seed` avoids: envs[seed mod N].
const std::string& TurnEnv(const std::vector<std::string>& envs, uint64_t seed);

// gen::Generate with `base`, the seed and the op weights, avoiding TurnEnv's pairs in `excluded`
// (nothing when `excluded` is empty).
FuzzGenerator MakeFuzzGenerator(gen::GenOptions base, std::map<std::string, OpDtypeSet> excluded,
                                std::vector<std::string> envs);

}  // namespace concord
