// Worker backends (ort, tvm) against the reference backend, plus crash isolation: a worker that
// dies, hangs or talks garbage is an error for that session only. Needs the Python venv
// (<repo>/.venv with onnxruntime and apache-tvm) — CTest label "python"; without it these
// tests fail with the backend's unavailable reason.
#include "backends/worker_backend.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "backends/ref_backend.h"
#include "compare/compare.h"
#include "ir/tensor_io.h"
#include "testing/graph_builder.h"
#include "testing/temp_dir.h"

namespace concord {
namespace {

namespace fs = std::filesystem;

const char* kModel = "examples/tiny_cnn/model.onnx";
const char* kInput = "examples/tiny_cnn/test_data_set_0/input_0.pb";

class IgnoreSigpipe : public ::testing::Environment {
 public:
  void SetUp() override { ::signal(SIGPIPE, SIG_IGN); }  // as concord's main does
};
const auto* const kEnv = ::testing::AddGlobalTestEnvironment(new IgnoreSigpipe);

// Sets an environment variable for one test and restores it afterwards.
class ScopedEnvVar {
 public:
  ScopedEnvVar(const char* name, const std::string& value) : name_(name) {
    const char* old = std::getenv(name);
    if (old) old_ = old, had_ = true;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnvVar() {
    if (had_) {
      ::setenv(name_, old_.c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::string old_;
  bool had_ = false;
};

class WorkerBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = std::make_unique<Model>(Model::Load(kModel));
    NamedTensor in = ReadTensorPb(kInput);
    inputs_["input"] = in.tensor;
  }

  std::unique_ptr<Session> Prepare(const std::string& env) {
    return PrepareSession(*model_, EnvSpec::Parse(env));
  }

  static void ExpectClose(const Value& expected, const Value& actual, const std::string& what) {
    ASSERT_TRUE(expected.is_tensor()) << what;
    ASSERT_TRUE(actual.is_tensor()) << what << ": got " << actual.Describe();
    TensorDiff d = CompareTensors(expected.tensor, actual.tensor, Tolerance{1e-4, 1e-5});
    EXPECT_TRUE(d.ok) << what << ": " << d.message;
  }

  void ExpectAgreesWithRef(const std::string& env) {
    SCOPED_TRACE(env);
    auto ref = Prepare("ref");
    auto want = ref->Run(inputs_);
    auto session = Prepare(env);
    RunTiming timing;
    auto got = session->Run(inputs_, &timing);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i)
      ExpectClose(want[i], got[i], env + " output " + std::to_string(i));
    EXPECT_GT(timing.run_ms, 0.0);
    EXPECT_LT(timing.run_ms, 10000.0);
  }

  static bool Alive(int pid) { return pid > 0 && ::kill(pid, 0) == 0; }

  std::unique_ptr<Model> model_;
  ValueMap inputs_;
  test::TempDir tmp_{"concord_worker_test"};
  fs::path cache_ = tmp_.path() / "cache";  // made by the worker on first use
};

TEST_F(WorkerBackendTest, BackendsAreListedWithVersions) {
  for (const char* name : {"ort", "tvm"}) {
    auto backend = FindBackend(name);  // throws, with the reason, if the venv is missing
    BackendInfo info = backend->Info();
    EXPECT_TRUE(info.available) << info.unavailable_reason;
    EXPECT_NE(info.version.find(name == std::string("ort") ? "onnxruntime 1." : "apache-tvm 0."),
              std::string::npos)
        << info.version;
    EXPECT_NE(info.opt_mapping.find("opt="), std::string::npos);
    // The options are the adapter's declaration (HELLO), plus the client's timeout.
    std::vector<std::string> names;
    for (const auto& o : info.options) names.push_back(o.name);
    if (name == std::string("ort")) {
      EXPECT_EQ(names, (std::vector<std::string>{"opt", "threads", "profile", "precision",
                                                 "fallback", "timeout"}));
      EXPECT_EQ(info.options[0].allowed, "0..3");
      EXPECT_EQ(info.options[0].default_value, "3");
      EXPECT_EQ(info.options[3].allowed, "fp32|tf32|fp16|int8");
      EXPECT_NE(info.opt_mapping.find("ORT_ENABLE_ALL"), std::string::npos) << info.opt_mapping;
      // This machine has no GPU: the GPU devices are declared unavailable, each with why.
      EXPECT_EQ(info.devices, std::vector<std::string>{"cpu"});
      EXPECT_EQ(info.unavailable_devices.count("cuda"), 1u);
      EXPECT_EQ(info.unavailable_devices.count("tensorrt"), 1u);
    } else {
      EXPECT_EQ(names, (std::vector<std::string>{"opt", "tune", "tune_db", "threads", "target",
                                                 "cache", "timeout"}));
      EXPECT_EQ(info.options[1].type, "int");
      EXPECT_EQ(info.options[4].type, "str");
      // Each level names the passes it adds; opt 3 applies the tuning databases.
      EXPECT_NE(info.opt_mapping.find("FuseOps"), std::string::npos) << info.opt_mapping;
      EXPECT_NE(info.opt_mapping.find("MetaScheduleApplyDatabase"), std::string::npos)
          << info.opt_mapping;
    }
    for (const auto& o : info.options) EXPECT_FALSE(o.help.empty()) << o.name;
  }
}

TEST_F(WorkerBackendTest, OrtAgreesWithRef) {
  ExpectAgreesWithRef("ort@cpu,opt=0");
  ExpectAgreesWithRef("ort@cpu,opt=3");
  ExpectAgreesWithRef("ort@cpu,opt=1,threads=1");
}

// Bound inputs (bench's repeated runs): RunBound agrees with ref on the bound inputs, with and
// without busy-waiting for the reply, also after a Run on other inputs took their place in
// shared memory (then they are placed again), and a session that was never bound refuses.
TEST_F(WorkerBackendTest, BoundInputsRunAgainAndSurviveOtherRuns) {
  auto want = Prepare("ref")->Run(inputs_);
  auto session = Prepare("ort@cpu,opt=1,threads=1");
  EXPECT_THROW(session->RunBound(), Error);
  session->BindInputs(inputs_);
  for (bool low_latency : {false, true}) {
    session->SetLowLatency(low_latency);
    for (int i = 0; i < 3; ++i) ExpectClose(want[0], session->RunBound()[0], "bound run");
  }
  Tensor other = inputs_["input"].tensor;
  float* x = other.data<float>();
  for (int64_t i = 0; i < other.numel(); ++i) x[i] = 0.5f - x[i];
  auto other_out = session->Run({{"input", other}});
  ExpectClose(Prepare("ref")->Run({{"input", other}})[0], other_out[0], "other inputs");
  ExpectClose(want[0], session->RunBound()[0], "bound run after another run");
}

// One worker process serves several models in turn (Reload sends MODEL again): the second
// model's outputs are its own, and the process is the same.
TEST_F(WorkerBackendTest, ReloadServesAnotherModelInTheSameWorker) {
  // The second model: the first one with its output negated (Neg appended).
  onnx::ModelProto proto = model_->proto();
  onnx::GraphProto* g = proto.mutable_graph();
  std::string out = g->output(0).name();
  onnx::NodeProto* neg = g->add_node();
  neg->set_op_type("Neg");
  neg->set_name("negate");
  neg->add_input(out);
  neg->add_output(out + "_neg");
  g->mutable_output(0)->set_name(out + "_neg");
  Model negated = Model::FromProto(proto, "", "negated model");
  auto ref = Prepare("ref");
  std::vector<Value> want = ref->Run(inputs_);
  // (isolate=1 workers are this very binary: they are covered by the concord e2e tests.)
  for (const char* env : {"ort@cpu"}) {
    SCOPED_TRACE(env);
    auto session = Prepare(env);
    ASSERT_TRUE(session->supports_reload());
    auto* worker = dynamic_cast<WorkerSession*>(session.get());
    ASSERT_NE(worker, nullptr);
    int pid = worker->pid();
    session->Reload(negated);
    std::vector<Value> got = session->Run(inputs_);
    ASSERT_EQ(got.size(), 1u);
    Tensor expected = want[0].tensor;
    for (int64_t i = 0; i < expected.numel(); ++i) expected.data<float>()[i] *= -1;
    ExpectClose(Value(expected), got[0], env);
    session->Reload(*model_);
    ExpectClose(want[0], session->Run(inputs_)[0], env);
    EXPECT_EQ(worker->pid(), pid);
    EXPECT_TRUE(worker->failure().empty());
  }
  // In-process sessions do not offer it.
  EXPECT_FALSE(ref->supports_reload());
  EXPECT_THROW(ref->Reload(negated), Error);
}

TEST_F(WorkerBackendTest, TvmAgreesWithRef) {
  ExpectAgreesWithRef("tvm@cpu,opt=0,cache=" + cache_.string());
  ExpectAgreesWithRef("tvm@cpu,opt=3,cache=" + cache_.string());
}

TEST_F(WorkerBackendTest, OrtTapsMatchRefForEveryNodeOutput) {
  auto ref = Prepare("ref");
  ValueMap want;
  ref->RunWithTaps(inputs_, &want);
  auto session = Prepare("ort@cpu,opt=3");
  ASSERT_TRUE(session->supports_taps());
  ValueMap got;
  auto outs = session->RunWithTaps(inputs_, &got);
  ASSERT_EQ(outs.size(), 1u);
  size_t node_outputs = 0;
  for (const auto& node : model_->graph().node()) node_outputs += node.output_size();
  EXPECT_EQ(want.size(), node_outputs);
  for (const auto& [name, value] : want) {
    auto it = got.find(name);
    ASSERT_NE(it, got.end()) << "ort taps lack " << name;
    ExpectClose(value, it->second, "tap " + name);
  }
  // The timed session is untouched: a plain run still works after taps.
  EXPECT_EQ(session->Run(inputs_).size(), 1u);
}

TEST_F(WorkerBackendTest, TvmHasNoTaps) {
  auto session = Prepare("tvm@cpu,opt=1,cache=" + cache_.string());
  EXPECT_FALSE(session->supports_taps());
  ValueMap taps;
  try {
    session->RunWithTaps(inputs_, &taps);
    FAIL() << "taps on tvm should be unsupported";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << e.what();
  }
}

TEST_F(WorkerBackendTest, TvmCacheHitSkipsCompilation) {
  std::string env = "tvm@cpu,opt=3,cache=" + cache_.string();
  auto first = Prepare(env);
  auto* w1 = dynamic_cast<WorkerSession*>(first.get());
  ASSERT_NE(w1, nullptr);
  EXPECT_FALSE(w1->prepare_info().value("cache_hit", true)) << w1->prepare_info().dump();
  double compile1 = w1->prepare_info().value("compile_ms", 0.0);
  double prepare1 = w1->prepare_info().value("prepare_ms", 0.0);
  EXPECT_GT(compile1, 0.0);
  first.reset();

  auto second = Prepare(env);
  auto* w2 = dynamic_cast<WorkerSession*>(second.get());
  ASSERT_NE(w2, nullptr);
  EXPECT_TRUE(w2->prepare_info().value("cache_hit", false)) << w2->prepare_info().dump();
  EXPECT_EQ(w2->prepare_info().value("compile_ms", -1.0), 0.0);
  double prepare2 = w2->prepare_info().value("prepare_ms", 1e9);
  EXPECT_LT(prepare2 * 4, prepare1)
      << "cache hit " << prepare2 << " ms vs compile " << prepare1 << " ms";
  auto ref = Prepare("ref");
  ExpectClose(ref->Run(inputs_)[0], second->Run(inputs_)[0], "cached tvm output");
}

TEST_F(WorkerBackendTest, StatsCountRuns) {
  auto session = Prepare("ort@cpu,opt=3");
  auto* w = dynamic_cast<WorkerSession*>(session.get());
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->server_hello().value("server", ""), "concord-worker");
  for (int i = 0; i < 3; ++i) session->Run(inputs_);
  nlohmann::json stats = w->Stats();
  EXPECT_EQ(stats.value("count", 0), 3);
  EXPECT_EQ(stats["inference_ms"].size(), 3u);
  EXPECT_GT(stats.value("rss_bytes", 0), 0);
  EXPECT_GE(stats.value("peak_rss_bytes", 0), stats.value("rss_bytes", 0));
}

TEST_F(WorkerBackendTest, WorkerErrorKeepsSessionUsable) {
  auto session = Prepare("ort@cpu,opt=3");
  ValueMap wrong;
  wrong["not_an_input"] = inputs_["input"];
  try {
    session->Run(wrong);
    FAIL() << "a run without the model's input should fail";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput) << e.what();
    EXPECT_NE(std::string(e.what()).find("input"), std::string::npos) << e.what();
  }
  EXPECT_EQ(session->Run(inputs_).size(), 1u);
}

TEST_F(WorkerBackendTest, UnknownOptionsAndDevicesAreUsageErrors) {
  for (const char* env : {"ort@cpu,target=llvm", "ort@cpu,cache=/tmp", "tvm@cpu,fast=1", "ort@gpu0",
                          "ort@cpu,timeout=soon"}) {
    try {
      Prepare(env);
      FAIL() << env << " should be rejected";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUsage) << env << ": " << e.what();
    }
  }
}

// The check uses the adapter's own declaration: the message names the option and lists the
// known ones.
TEST_F(WorkerBackendTest, OptionErrorsNameTheOptionAndTheKnownOnes) {
  struct Case {
    const char* env;
    const char* says;
  };
  for (const Case& c :
       {Case{"ort@cpu,bogus=1",
             "does not know option 'bogus' (known: opt, threads, profile, precision, "
             "fallback, timeout)"},
        Case{"tvm@cpu,bogus=1", "(known: opt, tune, tune_db, threads, target, cache, timeout)"},
        Case{"ort@cpu,profile=2", "profile of backend ort must be an integer in 0..1 (got '2')"},
        Case{"ort@cpu,profile=yes", "profile of backend ort must be an integer in 0..1"},
        Case{"ort@gpu0", "has no device 'gpu0' (devices: cpu, cuda, tensorrt)"},
        Case{"ort@cuda", "ort@cuda: unsupported on this machine: no CUDA device"},
        Case{"ort@cpu,precision=bf16", "must be one of fp32|tf32|fp16|int8 (got 'bf16')"}}) {
    try {
      Prepare(c.env);
      ADD_FAILURE() << c.env << " should be rejected";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUsage) << c.env << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find(c.says), std::string::npos) << e.what();
    }
  }
}

TEST_F(WorkerBackendTest, UnsupportedOpIsUnsupported) {
  onnx::ModelProto proto = model_->proto();
  auto* opset = proto.add_opset_import();
  opset->set_domain("com.example");
  opset->set_version(1);
  auto* node = proto.mutable_graph()->mutable_node(proto.graph().node_size() - 1);
  node->set_op_type("NoSuchOp");
  node->set_domain("com.example");
  LoadOptions no_checks;
  no_checks.run_checker = false;
  no_checks.infer_shapes = false;
  Model model = Model::FromProto(proto, "", "custom-op model", no_checks);
  try {
    PrepareSession(model, EnvSpec::Parse("ort@cpu"));
    FAIL() << "ORT should not load a model with com.example::NoSuchOp";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUnsupported) << e.what();
    EXPECT_NE(std::string(e.what()).find("NoSuchOp"), std::string::npos) << e.what();
  }
}

TEST_F(WorkerBackendTest, CrashingWorkerIsAnErrorNamingTheSignal) {
  ScopedEnvVar adapters("CONCORD_ADAPTERS", fs::absolute("adapters/testing").string());
  int pid = -1;
  {
    ScopedEnvVar fault("CONCORD_TEST_FAULT", "segv@run");
    auto session = Prepare("ort@cpu,opt=3");
    pid = dynamic_cast<WorkerSession&>(*session).pid();
    try {
      session->Run(inputs_);
      FAIL() << "the worker should have crashed";
    } catch (const Error& e) {
      std::string what = e.what();
      EXPECT_EQ(e.kind(), ErrorKind::kRuntime) << what;
      EXPECT_NE(what.find("ort@cpu,opt=3"), std::string::npos) << what;
      EXPECT_NE(what.find("signal 11"), std::string::npos) << what;
      EXPECT_NE(what.find("SIGSEGV"), std::string::npos) << what;
      EXPECT_NE(what.find("injecting fault 'segv@run'"), std::string::npos)
          << "stderr tail missing: " << what;
    }
    try {
      session->Run(inputs_);
      FAIL() << "a dead session should keep failing";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("prepare a new session"), std::string::npos) << e.what();
    }
  }
  EXPECT_FALSE(Alive(pid));
  // The caller keeps going: the next Prepare starts a fresh worker.
  auto again = Prepare("ort@cpu,opt=3");
  EXPECT_EQ(again->Run(inputs_).size(), 1u);
}

TEST_F(WorkerBackendTest, WorkerExitingDuringPrepareNamesTheStatus) {
  ScopedEnvVar adapters("CONCORD_ADAPTERS", fs::absolute("adapters/testing").string());
  ScopedEnvVar fault("CONCORD_TEST_FAULT", "exit3@prepare");
  try {
    Prepare("ort@cpu,opt=2");
    FAIL() << "the worker should have exited";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kRuntime) << e.what();
    EXPECT_NE(std::string(e.what()).find("exited with status 3"), std::string::npos) << e.what();
  }
}

TEST_F(WorkerBackendTest, HangingWorkerTimesOutAndIsKilled) {
  ScopedEnvVar adapters("CONCORD_ADAPTERS", fs::absolute("adapters/testing").string());
  ScopedEnvVar fault("CONCORD_TEST_FAULT", "hang@run");
  auto session = Prepare("ort@cpu,opt=3,timeout=3");
  int pid = dynamic_cast<WorkerSession&>(*session).pid();
  auto start = std::chrono::steady_clock::now();
  try {
    session->Run(inputs_);
    FAIL() << "the run should have timed out";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kRuntime) << e.what();
    EXPECT_NE(std::string(e.what()).find("hung"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("3000 ms"), std::string::npos) << e.what();
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GE(s, 2.9);
  EXPECT_LT(s, 15.0);
  EXPECT_FALSE(Alive(pid)) << "the hung worker must be killed";
}

TEST_F(WorkerBackendTest, GarbageReplyIsAnErrorAndTheWorkerIsKilled) {
  ScopedEnvVar adapters("CONCORD_ADAPTERS", fs::absolute("adapters/testing").string());
  ScopedEnvVar fault("CONCORD_TEST_FAULT", "garbage@run");
  auto session = Prepare("ort@cpu,opt=3,timeout=20");
  int pid = dynamic_cast<WorkerSession&>(*session).pid();
  try {
    session->Run(inputs_);
    FAIL() << "garbage should not parse";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kRuntime) << e.what();
    EXPECT_NE(std::string(e.what()).find("malformed"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(Alive(pid));
}

// The shared-memory regions this process holds: the sizes of the open descriptors of memory
// files named "concord-worker" (what a worker session creates), and whether any is mapped.
struct SharedMemoryHeld {
  std::vector<uint64_t> sizes;
  bool mapped = false;
};
SharedMemoryHeld HeldSharedMemory() {
  SharedMemoryHeld held;
  for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    std::string target = fs::read_symlink(e.path(), ec).string();
    if (ec || target.find("memfd:concord-worker") == std::string::npos) continue;
    struct stat st {};
    if (::stat(e.path().c_str(), &st) == 0) held.sizes.push_back(st.st_size);
  }
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);)
    held.mapped |= line.find("memfd:concord-worker") != std::string::npos;
  return held;
}

bool ReturnedAsFloat(DType dt) {
  return dt == DType::kBFloat16 || dt == DType::kFloat8E4M3FNUZ || dt == DType::kFloat8E5M2 ||
         dt == DType::kFloat8E5M2FNUZ;
}

// Entries of /dev/shm (a POSIX shared-memory segment would show there; ours never should).
std::vector<std::string> DevShmEntries() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/dev/shm", ec)) out.push_back(e.path().string());
  return out;
}

// Every element type the protocol carries, through a real ORT worker running Identity: the
// outputs are the inputs bit for bit (the independent truth), over shared memory and over the
// pipe alike. Strings cannot travel in shared memory and take the blob path in the same run.
// ORT cannot return bfloat16 or three of the float8 types to Python, so those inputs come back
// Cast to float (exact for them), checked against Concord's own Cast.
TEST_F(WorkerBackendTest, EveryDTypeRoundTripsThroughSharedMemoryAsThroughThePipe) {
  const std::vector<DType> dtypes = {
      DType::kFloat32,    DType::kUInt8,         DType::kInt8,         DType::kUInt16,
      DType::kInt16,      DType::kInt32,         DType::kInt64,        DType::kString,
      DType::kBool,       DType::kFloat16,       DType::kFloat64,      DType::kUInt32,
      DType::kUInt64,     DType::kBFloat16,      DType::kFloat8E4M3FN, DType::kFloat8E4M3FNUZ,
      DType::kFloat8E5M2, DType::kFloat8E5M2FNUZ};
  test::GraphBuilder b("every_dtype", 21);
  ValueMap inputs;
  for (DType dt : dtypes) {
    std::string name = DTypeName(dt);
    bool cast = ReturnedAsFloat(dt);
    b.Input("in_" + name, dt, {2, 3});
    b.Output("out_" + name, cast ? DType::kFloat32 : dt, {2, 3});
    auto* node = b.Node(cast ? "Cast" : "Identity", {"in_" + name}, "out_" + name);
    if (cast) test::GraphBuilder::Int(node, "to", static_cast<int64_t>(DType::kFloat32));
    Tensor t(dt, {2, 3});
    if (dt == DType::kString) {
      t = Tensor::FromVector<std::string>({2, 3}, {"a", "", "bc", "x y", "long text", "z"});
    } else {
      auto* bytes = static_cast<uint8_t*>(t.raw());
      for (size_t i = 0; i < t.nbytes(); ++i)
        bytes[i] = dt == DType::kBool ? i % 2 : static_cast<uint8_t>(i * 37 + 11);
      // Keep floating-point payloads ordinary numbers: ORT may quiet a signalling NaN.
      if (IsFloating(dt) || IsLowPrecision(dt))
        t = Tensor::FromVector<float>({2, 3}, {1.5f, -2.25f, 0.0f, 3e-3f, 65000.0f, -0.5f})
                .CastTo(dt);
    }
    inputs["in_" + name] = Value(std::move(t));
  }
  Model model = b.Build();
  std::map<bool, std::vector<Value>> outputs;
  for (bool shared : {true, false}) {
    ScopedEnvVar shm("CONCORD_WORKER_SHM", shared ? "1" : "0");
    auto session = PrepareSession(model, EnvSpec::Parse("ort@cpu,opt=0"));
    ASSERT_EQ(dynamic_cast<WorkerSession&>(*session).uses_shared_memory(), shared);
    EXPECT_EQ(SessionTransport(*session), shared ? "shared memory" : "pipe");
    outputs[shared] = session->Run(inputs);
    ASSERT_EQ(outputs[shared].size(), dtypes.size());
    for (size_t i = 0; i < dtypes.size(); ++i) {
      const Value& got = outputs[shared][i];
      const Tensor& in = inputs["in_" + std::string(DTypeName(dtypes[i]))].tensor;
      Tensor want = ReturnedAsFloat(dtypes[i]) ? in.CastTo(DType::kFloat32) : in;
      ASSERT_TRUE(got.is_tensor()) << DTypeName(dtypes[i]);
      EXPECT_TRUE(got.tensor.BitwiseEqual(want)) << (shared ? "shm: " : "pipe: ") << want.Describe()
                                                 << " came back as " << got.tensor.Describe();
    }
  }
  for (size_t i = 0; i < dtypes.size(); ++i)
    EXPECT_TRUE(outputs[true][i].tensor.BitwiseEqual(outputs[false][i].tensor))
        << DTypeName(dtypes[i]);
}

// ORT returns float8 (other than e4m3fn), bfloat16 and 4-bit outputs only as OrtValues; the
// adapter copies their bytes out, so ORT's Casts agree bit for bit with ref's.
TEST_F(WorkerBackendTest, NumPyLessOutputTypesComeBackBitForBit) {
  const std::vector<DType> targets = {DType::kBFloat16, DType::kFloat8E5M2, DType::kFloat8E4M3FNUZ,
                                      DType::kInt4, DType::kUInt4};
  test::GraphBuilder b("casts", 21);
  b.Input("x", {2, 3});
  for (DType dt : targets) {
    std::string out = "to_" + std::string(DTypeName(dt));
    b.Output(out, dt, {2, 3});
    test::GraphBuilder::Int(b.Node("Cast", {"x"}, out), "to", static_cast<int64_t>(dt));
  }
  Model model = b.Build();
  // No halves: the spec leaves float -> int4 rounding open; ORT 1.32 rounds ties away from
  // zero (1.5 -> 2), onnx.reference truncates (1.5 -> 1) and ref follows the reference.
  ValueMap inputs = {
      {"x", Value(Tensor::FromVector<float>({2, 3}, {1.25f, -2.25f, 0.0f, 3.0f, 7.0f, -0.25f}))}};
  auto want = PrepareSession(model, EnvSpec::Parse("ref"))->Run(inputs);
  for (const char* shm : {"0", "1"}) {
    ScopedEnvVar env("CONCORD_WORKER_SHM", shm);
    auto got = PrepareSession(model, EnvSpec::Parse("ort@cpu,opt=0"))->Run(inputs);
    ASSERT_EQ(got.size(), targets.size());
    for (size_t i = 0; i < targets.size(); ++i)
      EXPECT_TRUE(got[i].tensor.BitwiseEqual(want[i].tensor))
          << "shm=" << shm << ": " << got[i].tensor.Describe() << " vs ref "
          << want[i].tensor.Describe();
  }
}

// Zero-size tensors placed in shared memory alone (nothing else moves the region's end) still
// come back as shared values the host can read (the worker used to omit their descriptors).
TEST_F(WorkerBackendTest, EmptyTensorsAloneRoundTripThroughSharedMemory) {
  test::GraphBuilder b("empty", 13);
  b.Input("x", {0, 3});
  b.Output("y", {0, 3});
  b.Node("Neg", {"x"}, "y");
  Model model = b.Build();
  ScopedEnvVar shm("CONCORD_WORKER_SHM", "1");
  auto session = PrepareSession(model, EnvSpec::Parse("ort@cpu,opt=0"));
  ASSERT_TRUE(dynamic_cast<WorkerSession&>(*session).uses_shared_memory());
  auto got = session->Run({{"x", Value(Tensor(DType::kFloat32, {0, 3}))}});
  ASSERT_EQ(got.size(), 1u);
  ASSERT_TRUE(got[0].is_tensor());
  EXPECT_EQ(got[0].tensor.shape(), (Shape{0, 3}));
}

// A tensor larger than the region a session starts with grows it (to at least the input plus
// the output), and a second, smaller run reuses it.
TEST_F(WorkerBackendTest, LargeTensorGrowsTheSharedMemory) {
  test::GraphBuilder b("big", 13);
  const Shape shape = {4, 1024, 1024};  // 16 MiB of float, four times the initial region
  b.Input("x", shape);
  b.Output("y", shape);
  b.Node("Neg", {"x"}, "y");
  Model model = b.Build();
  Tensor x(DType::kFloat32, shape);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = static_cast<float>(i % 9973) - 5;
  auto session = PrepareSession(model, EnvSpec::Parse("ort@cpu,opt=0"));
  ASSERT_TRUE(dynamic_cast<WorkerSession&>(*session).uses_shared_memory());
  SharedMemoryHeld before = HeldSharedMemory();
  ASSERT_EQ(before.sizes.size(), 1u);
  EXPECT_LT(before.sizes[0], x.nbytes());
  for (int run = 0; run < 2; ++run) {
    auto got = session->Run({{"x", Value(x)}});
    ASSERT_EQ(got.size(), 1u);
    const Tensor& y = got[0].tensor;
    ASSERT_EQ(y.shape(), shape);
    bool all = true;
    for (int64_t i = 0; i < y.numel() && all; ++i) all = y.data<float>()[i] == -x.data<float>()[i];
    EXPECT_TRUE(all) << "run " << run;
  }
  SharedMemoryHeld after = HeldSharedMemory();
  ASSERT_EQ(after.sizes.size(), 1u);
  EXPECT_GE(after.sizes[0], 2 * x.nbytes()) << "input and output both live in the region";
}

// A worker killed in the middle of a session: the next run is a clear error naming the
// signal, and the region is gone at once (no descriptor, no mapping, nothing in /dev/shm).
TEST_F(WorkerBackendTest, KilledWorkerIsAnErrorAndItsSharedMemoryIsGone) {
  std::vector<std::string> dev_shm = DevShmEntries();
  ASSERT_TRUE(HeldSharedMemory().sizes.empty());
  auto session = Prepare("ort@cpu,opt=3");
  auto& worker = dynamic_cast<WorkerSession&>(*session);
  ASSERT_TRUE(worker.uses_shared_memory());
  EXPECT_EQ(session->Run(inputs_).size(), 1u);
  EXPECT_EQ(HeldSharedMemory().sizes.size(), 1u);
  EXPECT_TRUE(HeldSharedMemory().mapped);
  ASSERT_EQ(::kill(worker.pid(), SIGKILL), 0);
  try {
    session->Run(inputs_);
    FAIL() << "the worker is dead";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kRuntime) << e.what();
    EXPECT_NE(std::string(e.what()).find("SIGKILL"), std::string::npos) << e.what();
  }
  SharedMemoryHeld held = HeldSharedMemory();
  EXPECT_TRUE(held.sizes.empty()) << "the region's descriptor is still open";
  EXPECT_FALSE(held.mapped) << "the region is still mapped";
  EXPECT_FALSE(worker.uses_shared_memory());
  EXPECT_EQ(DevShmEntries(), dev_shm);
  EXPECT_THROW(session->Run(inputs_), Error);
}

// Remote targets and older workers never see shared memory: CONCORD_WORKER_SHM=0 and an
// isolate=1 worker (C++ `concord worker`, which does not accept the offer) keep the pipe, and
// the session holds no region.
TEST_F(WorkerBackendTest, WithoutSharedMemoryNoRegionIsHeld) {
  ScopedEnvVar shm("CONCORD_WORKER_SHM", "0");
  auto session = Prepare("ort@cpu,opt=3");
  EXPECT_FALSE(dynamic_cast<WorkerSession&>(*session).uses_shared_memory());
  EXPECT_TRUE(HeldSharedMemory().sizes.empty());
  ExpectAgreesWithRef("ort@cpu,opt=3");
}

TEST_F(WorkerBackendTest, MissingPythonMakesBackendsUnavailable) {
  // Runtime workers use $CONCORD_PYTHON, framework workers their family's interpreter.
  ScopedEnvVar python("CONCORD_PYTHON", "/nonexistent/bin/python");
  ScopedEnvVar torch("CONCORD_PYTHON_TORCH", "/nonexistent/bin/python");
  ScopedEnvVar tf("CONCORD_PYTHON_TF", "/nonexistent/bin/python");
  for (auto& b : MakeWorkerBackends()) {
    BackendInfo info = b->Info();
    EXPECT_FALSE(info.available) << info.name;
    EXPECT_NE(info.unavailable_reason.find("/nonexistent/bin/python"), std::string::npos)
        << info.unavailable_reason;
  }
}

}  // namespace
}  // namespace concord
