// A campaign shard for batch schedulers (Slurm job arrays, Kubernetes Indexed Jobs): shard I of N
// owns every unit of work whose index k (in the campaign's fixed order) has k % N == I, so the N
// shards together own each unit exactly once, whatever machine runs them. `matrix` numbers its
// (model, env) sessions in config order (model-major); `fuzz` numbers its seeds from --seed.
#pragma once

#include <cstdint>
#include <string>

namespace concord {

struct Shard {
  int64_t index = 0;
  int64_t count = 1;  // 1: the whole campaign

  bool Owns(uint64_t k) const {
    return static_cast<int64_t>(k % static_cast<uint64_t>(count)) == index;
  }

  // "I/N" with 0 <= I < N. Error(kUsage) naming the text otherwise.
  static Shard Parse(const std::string& text);
  std::string ToString() const;
};

}  // namespace concord
