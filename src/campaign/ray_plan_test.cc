#include "campaign/ray_plan.h"

#include <gtest/gtest.h>

namespace concord {
namespace {

RayResources For(const std::string& env) { return RayResourcesFor(EnvSpec::Parse(env)); }

TEST(RayPlan, ResourcesFromTheEnvString) {
  RayResources cpu = For("ort@cpu,opt=3");
  EXPECT_EQ(cpu.num_cpus, 1);
  EXPECT_EQ(cpu.num_gpus, 0);
  EXPECT_TRUE(cpu.custom.empty());
  EXPECT_EQ(For("ort@cpu,threads=4").num_cpus, 4);
  EXPECT_EQ(For("torch@cuda").num_gpus, 1);
  EXPECT_EQ(For("ort@cuda").num_cpus, 1);
  RayResources ocl = For("opencv@opencl");
  EXPECT_EQ(ocl.num_gpus, 0);
  EXPECT_EQ(ocl.custom, (std::map<std::string, double>{{"opencl", 1}}));
  RayResources board = For("ort@cpu,host=rpi4-01:7070");
  EXPECT_EQ(board.custom, (std::map<std::string, double>{{"board:rpi4-01", 1}}));
  EXPECT_EQ(For("ref,host=10.0.0.7:7070").custom,
            (std::map<std::string, double>{{"board:10.0.0.7", 1}}));
}

TEST(RayPlan, AFuzzChunkNeedsWhatEveryEnvNeeds) {
  RayResources all =
      RayResourcesForAll({EnvSpec::Parse("ort@cpu,threads=2"), EnvSpec::Parse("opencv@opencl"),
                          EnvSpec::Parse("ref,host=b1:7070")});
  EXPECT_EQ(all.num_cpus, 2);
  EXPECT_EQ(all.num_gpus, 0);
  EXPECT_EQ(all.custom, (std::map<std::string, double>{{"board:b1", 1}, {"opencl", 1}}));
  nlohmann::json j = all.ToJson();
  EXPECT_EQ(j["num_cpus"], 2);
  EXPECT_EQ(j["resources"]["opencl"], 1);
}

}  // namespace
}  // namespace concord
