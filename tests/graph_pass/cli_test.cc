// The fp8ops CLI as a user runs it: exit codes, help, reports, files written (and not written),
// external data in and out, refused locations, atomic output, streaming memory.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "host/ort_session.h"
#include "models/gen/model_gen.h"
#include "tests/common/model_builder.h"
#include "tests/graph_pass/test_util.h"

namespace fp8ops {
namespace {

using testing::CommandResult;
using testing::ListDir;
using testing::TempDir;

const std::string kCli = FP8OPS_CLI_PATH;

CommandResult Cli(const TempDir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), kCli);
  return testing::RunCommand(args, dir.path());
}

bool OneLine(const std::string& s) { return !s.empty() && s.find('\n') == s.size() - 1; }

bool HasTempFiles(const std::string& dir) {
  for (const auto& n : ListDir(dir)) {
    if (n.find(".tmp-") != std::string::npos) return true;
  }
  return false;
}

models::LlamaConfig SmallLlama() {
  models::LlamaConfig c;
  c.hidden = 128;
  c.heads = 2;
  c.intermediate = 320;
  c.layers = 1;
  c.vocab = 200;
  return c;
}

// Runs the model on x, given to it in the element type it declares for "x" (float32 or float16);
// returns its first output as floats.
std::vector<float> RunOrt(const std::string& path, const std::vector<float>& x,
                          std::vector<int64_t> shape) {
  host::SessionOptions so;
  so.plugin_path = FP8OPS_PLUGIN_PATH;
  auto s = host::Session::FromFile(path, so);
  EXPECT_TRUE(s.ok()) << s.status();
  if (!s.ok()) return {};
  host::HostTensor in = host::HostTensor::From(1, std::move(shape), x);
  if ((*s)->input_types().at(0) == 10) {
    std::vector<uint16_t> h(x.size());
    for (size_t i = 0; i < x.size(); ++i) h[i] = FloatToHalf(x[i]);
    in = host::HostTensor::From(10, in.shape, h);
  }
  auto out = (*s)->Run({{"x", in}});
  EXPECT_TRUE(out.ok()) << out.status();
  if (!out.ok()) return {};
  EXPECT_EQ((*out)[0].elem_type, (*s)->output_types().at(0));
  return testing::AsFloats((*out)[0]);
}

std::vector<float> RandomX(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

TEST(Cli, HelpUsageAndExitCodes) {
  TempDir dir;
  auto r = Cli(dir, {"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* cmd : {"rewrite", "inspect", "conformance"})
    EXPECT_NE(r.out.find(cmd), std::string::npos) << cmd;
  EXPECT_EQ(Cli(dir, {}).exit_code, 2);
  r = Cli(dir, {"rewrite", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* opt : {"--recipe", "--weight-format", "--activation-format", "--weight-block",
                          "--activation-block", "--include", "--exclude", "--keep-last",
                          "--min-elements", "--external-data", "--report"}) {
    EXPECT_NE(r.out.find(opt), std::string::npos) << opt;
  }
  r = Cli(dir, {"inspect", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("usage: fp8ops inspect"), std::string::npos);
  EXPECT_EQ(Cli(dir, {"conformance", "--help"}).exit_code, 0);
  EXPECT_EQ(Cli(dir, {"bogus"}).exit_code, 2);
  EXPECT_EQ(Cli(dir, {"rewrite", "only_one.onnx"}).exit_code, 2);
  EXPECT_EQ(Cli(dir, {"rewrite", "a.onnx", "b.onnx", "--bogus"}).exit_code, 2);
  EXPECT_EQ(Cli(dir, {"rewrite", "a.onnx", "b.onnx", "--weight-block", "12"}).exit_code, 2);
  EXPECT_EQ(Cli(dir, {"rewrite", "a.onnx", "b.onnx", "--activation-block", "64"}).exit_code,
            2);  // != 128
  EXPECT_EQ(Cli(dir, {"rewrite", "a.onnx", "b.onnx", "--include", "(["}).exit_code, 2);
  EXPECT_EQ(Cli(dir, {"inspect", "a.onnx", "--report", "r.json"}).exit_code,
            2);  // inspect writes nothing
  EXPECT_TRUE(ListDir(dir.path()).empty());
}

TEST(Cli, RewriteWritesModelReportAndTable) {
  TempDir dir;
  const std::string in = dir / "model.onnx", out = dir / "model_fp8.onnx",
                    report = dir / "report.json";
  testing::SaveModel(models::MakeLlamaDecoder(SmallLlama()), in);
  const uint64_t hash = testing::HashFile(in);
  auto r = Cli(dir, {"rewrite", in, out, "--report", report, "--recipe=weight-only",
                     "--weight-block", "1x128", "--keep-last", "--exclude", "down_proj"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::HashFile(in), hash);
  EXPECT_NE(r.out.find("rewritten: 6 node(s)"), std::string::npos)
      << r.out;  // q k v o gate up; not down, lm_head
  EXPECT_NE(r.out.find("excluded by the user"), std::string::npos);
  EXPECT_NE(r.out.find("--keep-last"), std::string::npos);
  const std::string json = testing::ReadFile(report);
  EXPECT_NE(json.find("\"recipe\": \"weight-only\""), std::string::npos);
  EXPECT_NE(json.find("\"weight_block\": [1, 128]"), std::string::npos);
  EXPECT_NE(json.find("\"weight_sqnr_db\""), std::string::npos);
  EXPECT_EQ(ListDir(dir.path()),
            (std::vector<std::string>{"model.onnx", "model_fp8.onnx", "report.json"}));
  const auto x = RandomX(2 * 3 * 128, 1);
  const auto a = RunOrt(in, x, {2, 3, 128}), b = RunOrt(out, x, {2, 3, 128});
  ASSERT_EQ(a.size(), b.size());
  EXPECT_LT(testing::RelativeError(b, a), 0.06);
}

// --fuse-activation-quant through the CLI: accepted with w8a8 (the report names the fused nodes),
// a usage error with weight-only, and nothing written then.
TEST(Cli, FuseActivationQuantOption) {
  TempDir dir;
  const std::string in = dir / "model.onnx", out = dir / "fused.onnx", report = dir / "r.json";
  testing::SaveModel(models::MakeLlamaDecoder(SmallLlama()), in);
  auto r = Cli(dir, {"rewrite", in, out, "--fuse-activation-quant", "--report", report, "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(testing::ReadFile(report).find("\"recipe\": \"w8a8-fused\""), std::string::npos);
  const auto x = RandomX(2 * 3 * 128, 4);
  const auto a = RunOrt(in, x, {2, 3, 128}), b = RunOrt(out, x, {2, 3, 128});
  ASSERT_EQ(a.size(), b.size());
  EXPECT_LT(testing::RelativeError(b, a), 0.12);
  const std::string out2 = dir / "wo.onnx";
  r = Cli(dir, {"rewrite", in, out2, "--fuse-activation-quant", "--recipe", "weight-only"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("w8a8"), std::string::npos) << r.err;
  EXPECT_EQ(ListDir(dir.path()), (std::vector<std::string>{"fused.onnx", "model.onnx", "r.json"}));
}

// The float16 decoder (float16 activations throughout) through the CLI: both recipes turn every
// projection into an FP8GEMM with float16 output, and the outputs stay close to the original's.
TEST(Cli, RewritesTheFloat16Model) {
  TempDir dir;
  auto c = SmallLlama();
  c.dtype = 10;
  const std::string in = dir / "fp16.onnx";
  testing::SaveModel(models::MakeLlamaDecoder(c), in);
  const auto x = RandomX(2 * 3 * 128, 4);
  const auto y0 = RunOrt(in, x, {2, 3, 128});
  ASSERT_EQ(y0.size(), 2u * 3 * 200);
  for (const char* recipe : {"w8a8", "weight-only"}) {
    SCOPED_TRACE(recipe);
    const std::string out = dir / (std::string(recipe) + ".onnx");
    auto r = Cli(dir, {"rewrite", in, out, "--recipe", recipe});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("rewritten: 8 node(s)"), std::string::npos) << r.out;  // 7 + lm_head
    const auto m = testing::LoadModel(out);
    int gemms = 0, quants = 0, matmuls = 0;
    for (const auto& n : m.graph().node()) {
      gemms += n.op_type() == "FP8GEMM";
      quants += n.op_type() == "QuantizeFP8";
      matmuls += n.op_type() == "MatMul";
      if (n.op_type() != "FP8GEMM") continue;
      for (const auto& a : n.attribute()) {
        if (a.name() == "out_type") {
          EXPECT_EQ(a.i(), 10) << n.name();
        }
      }
    }
    EXPECT_EQ(gemms, 8);
    EXPECT_EQ(matmuls, 2);  // scores and context: activation x activation
    EXPECT_EQ(quants, std::string(recipe) == "w8a8" ? 5 : 0);  // qkv, o, gate/up, down, lm_head
    const auto y = RunOrt(out, x, {2, 3, 128});
    ASSERT_EQ(y.size(), y0.size());
    EXPECT_LT(testing::RelativeError(y, y0), 0.08);
    EXPECT_GT(testing::Cosine(y, y0), 0.997);
  }
}

TEST(Cli, InspectWritesNothing) {
  TempDir dir;
  const std::string in = dir / "model.onnx";
  testing::SaveModel(models::MakeLlamaDecoder(SmallLlama()), in);
  auto r = Cli(dir, {"inspect", in, "--min-elements", "30000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("eligible"), std::string::npos);
  EXPECT_NE(r.out.find("too small"), std::string::npos);  // 128x128 q/k/v/o weights
  EXPECT_NE(r.out.find("activation x activation"), std::string::npos);
  r = Cli(dir, {"inspect", in, "--json"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("\"dry_run\": true"), std::string::npos);
  EXPECT_EQ(ListDir(dir.path()), std::vector<std::string>{"model.onnx"});
}

TEST(Cli, RefusesToOverwriteTheInput) {
  TempDir dir;
  ::mkdir((dir / "sub").c_str(), 0755);
  const std::string in = dir / "sub/model.onnx";
  testing::SaveModel(models::MakeGemmModel(), in);
  ASSERT_EQ(::symlink("sub/model.onnx", (dir / "link.onnx").c_str()), 0);
  ASSERT_EQ(::link(in.c_str(), (dir / "hard.onnx").c_str()), 0);
  const uint64_t hash = testing::HashFile(in);
  const auto listing = ListDir(dir.path());
  for (const std::string& out :
       {in, dir / "sub/../sub/./model.onnx", dir / "link.onnx", dir / "hard.onnx"}) {
    auto r = Cli(dir, {"rewrite", in, out});
    EXPECT_EQ(r.exit_code, 1) << out;
    EXPECT_TRUE(OneLine(r.err)) << r.err;
    EXPECT_NE(r.err.find("is the input"), std::string::npos) << r.err;
    EXPECT_EQ(testing::HashFile(in), hash);
    EXPECT_EQ(ListDir(dir.path()), listing);
    EXPECT_EQ(ListDir(dir / "sub"), std::vector<std::string>{"model.onnx"});
  }
}

// One tensor of external data in `dir`: W [16, 8] float at location `loc`.
onnx::ModelProto ExternalModel(const std::string& loc, int64_t offset = 0, int64_t length = -1) {
  auto m = testing::NewModel(17, false);
  testing::AddInput(m, "x", 1, {2, 16});
  auto* t = m.mutable_graph()->add_initializer();
  t->set_name("W");
  t->set_data_type(1);
  t->add_dims(16);
  t->add_dims(8);
  t->set_data_location(onnx::TensorProto_DataLocation_EXTERNAL);
  auto add = [t](const char* k, const std::string& v) {
    auto* e = t->add_external_data();
    e->set_key(k);
    e->set_value(v);
  };
  add("location", loc);
  if (offset) add("offset", std::to_string(offset));
  if (length >= 0) add("length", std::to_string(length));
  testing::AddNode(m, "MatMul", {"x", "W"}, {"y"}, {}, "", "mm");
  testing::AddOutput(m, "y");
  return m;
}

TEST(Cli, BadInputsFailWithOneLineAndWriteNothing) {
  TempDir dir;
  ::mkdir((dir / "m").c_str(), 0755);
  ::mkdir((dir / "outside").c_str(), 0755);
  const auto w = RandomX(16 * 8, 2);
  const std::string wbytes(reinterpret_cast<const char*>(w.data()), w.size() * 4);
  testing::WriteFile(dir / "outside/w.bin", wbytes);
  testing::WriteFile(dir / "m/short.bin", wbytes.substr(0, 100));
  testing::WriteFile(dir / "m/ok.bin", wbytes);
  ASSERT_EQ(::symlink("../outside/w.bin", (dir / "m/escape.bin").c_str()), 0);
  const std::string valid = testing::Serialize(models::MakeGemmModel());

  struct Case {
    std::string name, bytes, want;
  };
  std::vector<Case> cases = {
      {"garbage", "this is not an onnx model at all \x01\x02\x03", "not a valid ONNX model"},
      {"truncated", valid.substr(0, valid.size() / 2), "not a valid ONNX model"},
      {"empty", "", "not a valid ONNX model"},
      {"missing_external", testing::Serialize(ExternalModel("nope.bin")), "nope.bin"},
      {"short_external", testing::Serialize(ExternalModel("short.bin")), "shorter than"},
      {"offset_past_end", testing::Serialize(ExternalModel("ok.bin", 64)), "shorter than"},
      {"wrong_length", testing::Serialize(ExternalModel("ok.bin", 0, 12)),
       "does not match its dims"},
      {"absolute", testing::Serialize(ExternalModel(dir / "outside/w.bin")), "absolute"},
      {"dotdot", testing::Serialize(ExternalModel("../outside/w.bin")),
       "leaves the model's folder"},
      {"symlink", testing::Serialize(ExternalModel("escape.bin")), "leaves the model's folder"},
  };
  {
    auto m = testing::NewModel(17, false);
    testing::AddInput(m, "x", 1, {2, 16});
    testing::AddNode(m, "MatMul", {"x", "W"}, {"y"}, {}, "", "mm");
    testing::AddOutput(m, "y");
    cases.push_back({"missing_initializer", testing::Serialize(m), "input 'W' is not defined"});
    auto big = ExternalModel("ok.bin");
    big.mutable_graph()->mutable_initializer(0)->set_dims(0, int64_t{1} << 40);
    big.mutable_graph()->mutable_initializer(0)->set_dims(1, int64_t{1} << 40);
    cases.push_back({"overflowing_dims", testing::Serialize(big), "overflows"});
    auto bad_type = ExternalModel("ok.bin");
    bad_type.mutable_graph()->mutable_initializer(0)->set_data_type(99);
    cases.push_back({"unknown_dtype", testing::Serialize(bad_type), "unsupported data type 99"});
  }
  for (const auto& c : cases) {
    const std::string in = dir / ("m/" + c.name + ".onnx");
    testing::WriteFile(in, c.bytes);
    const auto listing = ListDir(dir / "m");
    for (bool inspect : {false, true}) {
      auto r = inspect
                   ? Cli(dir, {"inspect", in})
                   : Cli(dir, {"rewrite", in, dir / "m/out.onnx", "--report", dir / "m/r.json"});
      EXPECT_EQ(r.exit_code, 1) << c.name << ": " << r.err;
      EXPECT_TRUE(OneLine(r.err)) << c.name << ": " << r.err;
      EXPECT_NE(r.err.find(c.want), std::string::npos) << c.name << ": " << r.err;
      if (c.name == "missing_initializer" || c.name.find("external") != std::string::npos) {
        EXPECT_NE(r.err.find("'mm'"), std::string::npos)
            << c.name << ": " << r.err;  // names the node
      }
      EXPECT_EQ(ListDir(dir / "m"), listing) << c.name;
    }
  }
  auto r = Cli(dir, {"rewrite", dir / "m/does_not_exist.onnx", dir / "m/out.onnx"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("No such file"), std::string::npos) << r.err;
  EXPECT_FALSE(testing::Exists(dir / "m/out.onnx"));
}

// Checks every external tensor of `path` points into `data_location` at an aligned offset.
void ExpectAlignedExternal(const std::string& path, const std::string& data_location, int* count) {
  const auto m = testing::LoadModel(path);
  *count = 0;
  for (const auto& t : m.graph().initializer()) {
    if (t.data_location() != onnx::TensorProto_DataLocation_EXTERNAL) continue;
    ++*count;
    int64_t offset = -1, length = -1;
    for (const auto& e : t.external_data()) {
      if (e.key() == "location") {
        EXPECT_EQ(e.value(), data_location);
      }
      if (e.key() == "offset") offset = std::stoll(e.value());
      if (e.key() == "length") length = std::stoll(e.value());
    }
    EXPECT_GE(length, 1024) << t.name();
    EXPECT_EQ(offset % (length >= (1 << 20) ? 65536 : 64), 0) << t.name() << " at " << offset;
  }
}

TEST(Cli, ExternalDataInAndOut) {
  TempDir dir;
  auto c = SmallLlama();
  const std::string ext = dir / "ext.onnx", inl = dir / "inline.onnx";
  ASSERT_TRUE(models::WriteLlamaDecoderExternal(c, ext).ok());
  testing::SaveModel(models::MakeLlamaDecoder(c), inl);
  const uint64_t h_model = testing::HashFile(ext), h_data = testing::HashFile(ext + ".data");

  // External input: the output uses external data too (automatic), next to OUT.
  ::mkdir((dir / "out").c_str(), 0755);
  auto r = Cli(dir, {"rewrite", ext, dir / "out/a.onnx"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::HashFile(ext), h_model);
  EXPECT_EQ(testing::HashFile(ext + ".data"), h_data);
  EXPECT_EQ(ListDir(dir / "out"), (std::vector<std::string>{"a.onnx", "a.onnx.data"}));
  int n = 0;
  ExpectAlignedExternal(dir / "out/a.onnx", "a.onnx.data", &n);
  EXPECT_EQ(n, 8);  // 7 projections + lm_head (small scales stay inline)
  // Inline input with --external-data; the same weights give the same outputs.
  r = Cli(dir, {"rewrite", inl, dir / "out/b.onnx", "--external-data"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectAlignedExternal(dir / "out/b.onnx", "b.onnx.data", &n);
  EXPECT_EQ(n, 8);  // 7 projections + lm_head (small scales stay inline)
  r = Cli(dir, {"rewrite", inl, dir / "out/c.onnx"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(testing::Exists(dir / "out/c.onnx.data"));
  const auto x = RandomX(2 * 4 * 128, 3);
  const auto ya = RunOrt(dir / "out/a.onnx", x, {2, 4, 128});
  EXPECT_FALSE(ya.empty());
  EXPECT_EQ(ya, RunOrt(dir / "out/b.onnx", x, {2, 4, 128}));
  EXPECT_EQ(ya, RunOrt(dir / "out/c.onnx", x, {2, 4, 128}));
  const auto y0 = RunOrt(ext, x, {2, 4, 128});
  EXPECT_LT(testing::RelativeError(ya, y0), 0.08);
  // Rewriting the output again changes nothing: same graph (the data file's name aside), same
  // bytes.
  r = Cli(dir, {"rewrite", dir / "out/a.onnx", dir / "out/a2.onnx"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("rewritten: 0 node(s)"), std::string::npos);
  EXPECT_EQ(testing::ReadFile(dir / "out/a2.onnx.data"),
            testing::ReadFile(dir / "out/a.onnx.data"));
  auto m1 = testing::LoadModel(dir / "out/a.onnx"), m2 = testing::LoadModel(dir / "out/a2.onnx");
  for (auto* m : {&m1, &m2}) {
    for (auto& t : *m->mutable_graph()->mutable_initializer()) {
      for (auto& e : *t.mutable_external_data()) {
        if (e.key() == "location") e.set_value("-");
      }
    }
  }
  EXPECT_EQ(testing::Serialize(m1), testing::Serialize(m2));
  // The output's data file must not be one of the input's files.
  r = Cli(dir, {"rewrite", dir / "out/a.onnx", dir / "out/a"});  // would write out/a.data: fine
  EXPECT_EQ(r.exit_code, 0) << r.err;
  testing::WriteFile(dir / "x.onnx", testing::ReadFile(ext));
  ASSERT_EQ(::rename((ext + ".data").c_str(), (dir / "y.onnx.data").c_str()), 0);
  auto redirected = testing::LoadModel(dir / "x.onnx");
  for (auto& t : *redirected.mutable_graph()->mutable_initializer()) {
    for (auto& e : *t.mutable_external_data()) {
      if (e.key() == "location") e.set_value("y.onnx.data");
    }
  }
  testing::SaveModel(redirected, dir / "x.onnx");
  const uint64_t h_y = testing::HashFile(dir / "y.onnx.data");
  r = Cli(dir, {"rewrite", dir / "x.onnx", dir / "y.onnx"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("is a file of the input model"), std::string::npos) << r.err;
  EXPECT_EQ(testing::HashFile(dir / "y.onnx.data"), h_y);
  EXPECT_FALSE(testing::Exists(dir / "y.onnx"));
}

// A ~200 MB FP16 model with external data, shared by the streaming tests (generated once).
class CliLarge : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    models::LlamaConfig c;
    c.hidden = 2048;
    c.heads = 16;
    c.intermediate = 5632;
    c.layers = 2;
    c.dtype = 10;
    largest_weight_ = 2048 * 5632 * 2;
    ASSERT_TRUE(models::WriteLlamaDecoderExternal(c, *dir_ / "large.onnx", &weight_bytes_).ok());
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static TempDir* dir_;
  static int64_t weight_bytes_, largest_weight_;
};
TempDir* CliLarge::dir_ = nullptr;
int64_t CliLarge::weight_bytes_ = 0;
int64_t CliLarge::largest_weight_ = 0;

TEST_F(CliLarge, StreamsWithinThreeLargestWeights) {
  const TempDir& dir = *dir_;
  // The process's own footprint with the graph loaded: inspect reads the graph, no weights.
  // (Peak RSS as the CLI reports it, from /proc/self/status: a forked child's rusage would
  // include the test process's own memory.)
  auto base = Cli(dir, {"inspect", dir / "large.onnx", "--json"});
  ASSERT_EQ(base.exit_code, 0) << base.err;
  auto r = Cli(dir, {"rewrite", dir / "large.onnx", dir / "large_fp8.onnx", "--quiet", "--report",
                     dir / "r.json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto peak = [](const std::string& json) -> int64_t {
    const size_t at = json.find("\"peak_rss_bytes\": ");
    return at == std::string::npos ? 0 : std::stoll(json.substr(at + 18));
  };
  const int64_t rss = peak(testing::ReadFile(dir / "r.json")), base_rss = peak(base.out);
  if (rss == 0 || base_rss == 0) GTEST_SKIP() << "no /proc/self/status VmHWM here";
  std::printf("weights %.1f MB, largest %.1f MB; peak RSS: inspect %.1f MB, rewrite %.1f MB\n",
              weight_bytes_ / 1e6, largest_weight_ / 1e6, base_rss / 1e6, rss / 1e6);
  EXPECT_LT(rss, base_rss + 3 * largest_weight_);
  EXPECT_LT(rss, weight_bytes_ / 2);  // never the whole model in memory
  EXPECT_GT(testing::ReadFile(dir / "large_fp8.onnx.data").size(),
            static_cast<size_t>(weight_bytes_ / 2) - 1);
  ::unlink((dir / "large_fp8.onnx").c_str());
  ::unlink((dir / "large_fp8.onnx.data").c_str());
  ::unlink((dir / "r.json").c_str());
}

TEST_F(CliLarge, InterruptedRunLeavesNothing) {
  const TempDir& dir = *dir_;
  const auto listing = ListDir(dir.path());
  bool saw_temp = false;
  auto r = testing::RunCommand(
      {kCli, "rewrite", dir / "large.onnx", dir / "killed.onnx", "--threads", "1"}, dir.path(),
      [&](pid_t pid) {
        const auto t0 = std::chrono::steady_clock::now();
        while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20)) {
          if (HasTempFiles(dir.path())) {
            saw_temp = true;
            break;
          }
          std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        ::kill(pid, SIGTERM);
      });
  if (!saw_temp || r.exit_code == 0)
    GTEST_SKIP() << "the rewrite finished before it could be interrupted";
  EXPECT_EQ(r.signal, SIGTERM);
  EXPECT_FALSE(HasTempFiles(dir.path()));
  EXPECT_EQ(ListDir(dir.path()), listing);
}

}  // namespace
}  // namespace fp8ops
