// Real models, rewritten by the fp8ops CLI and run in ONNX Runtime with the plugin:
//  - PaddleOCR v4 recogniser (SVTR): 9 weight MatMuls held in Constant nodes become FP8GEMM, the 4
//    activation x activation MatMuls stay; on the checked-in text-line images the FP8 model decodes
//    every image as the original does, with top-1 agreement >= 97% and output cosine >= 0.98 (W8A8,
//    weight-only, and W8A8 from the FP16 copy).
//  - PaddleOCR direction classifier: its one MatMul is rewritten; same decisions, close scores.
//  - PaddleOCR detector: no MatMul or Gemm; the rewrite leaves every node and tensor as it was and
//  the
//    outputs are bit-identical.
//  - openWakeWord classifiers: Gemm with transB=1 and constant B (K = 2400 / 2304, ragged against
//    the 128 blocks) are rewritten; on seeded random inputs the scores' logits correlate with the
//    original's (>= 0.98), differ little (median < 0.2) and give the same decisions.
// The models come from models/paddleocr/fetch.sh (ctest runs it first as a fixture).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "host/ort_session.h"
#include "models/demo/model_tools.h"
#include "models/demo/ocr_pipeline.h"

namespace fp8ops {
namespace {

using demo::ModelSummary;

std::string CacheRoot() {
  if (const char* c = std::getenv("FP8OPS_CACHE"); c != nullptr && *c) return c;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x)
    return std::string(x) + "/fp8ops";
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "") + "/.cache/fp8ops";
}
std::string OcrDir() { return CacheRoot() + "/models/ocr-models-1.4.2"; }
std::string WakeDir() { return CacheRoot() + "/models/openwakeword-js-0.1.27"; }
std::string ImagesDir() { return std::string(FP8OPS_SOURCE_DIR) + "/models/paddleocr/images"; }

bool Exists(const std::string& p) { return access(p.c_str(), R_OK) == 0; }

std::string CliPath() {
  if (const char* c = std::getenv("FP8OPS_CLI"); c != nullptr && *c) return c;
  return FP8OPS_CLI_PATH;
}

// A scratch folder for rewritten models, removed when the test program ends. NOTE: the path is
// never freed, so the exit handler can still read it after static destructors ran.
const std::string& ScratchDir() {
  static const std::string* dir = [] {
    auto* t = new std::string(::testing::TempDir() + "fp8ops_real_models.XXXXXX");
    if (mkdtemp(t->data()) == nullptr) {
      *t = ::testing::TempDir();
      return t;
    }
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(ScratchDir(), ec);
    });
    return t;
  }();
  return *dir;
}

// Runs `fp8ops rewrite IN OUT <args>`; empty string on success, else the problem.
std::string Rewrite(const std::string& in, const std::string& out, const std::string& args) {
  const std::string log = out + ".log";
  const std::string cmd = absl::StrCat("'", CliPath(), "' rewrite '", in, "' '", out, "' ", args,
                                       " > '", log, "' 2>&1");
  const int rc = std::system(cmd.c_str());
  if (rc == 0 && Exists(out)) return "";
  std::ifstream f(log);
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return absl::StrCat("'", cmd, "' failed (", rc, "):\n", text);
}

#define REQUIRE_MODEL(path)                                                                    \
  ASSERT_TRUE(Exists(path)) << path                                                            \
                            << " is missing: run models/paddleocr/fetch.sh (scripts/setup.sh " \
                               "and ctest's real_models_fetch fixture do)"
#define REQUIRE_CLI()                                                                    \
  if (CliPath().empty())                                                                 \
    GTEST_SKIP() << "the fp8ops rewrite CLI is not built in this tree (set FP8OPS_CLI)"; \
  ASSERT_TRUE(Exists(CliPath())) << CliPath()

std::unique_ptr<host::Session> Load(const std::string& path) {
  host::SessionOptions so;
  so.plugin_path = FP8OPS_PLUGIN_PATH;
  auto s = host::Session::FromFile(path, so);
  EXPECT_TRUE(s.ok()) << path << ": " << s.status();
  return s.ok() ? std::move(*s) : nullptr;
}

std::vector<float> RunOne(host::Session& s, const std::string& input, host::HostTensor t) {
  auto out = s.Run({{input, std::move(t)}});
  EXPECT_TRUE(out.ok()) << out.status();
  if (!out.ok()) return {};
  const auto& o = (*out)[0];
  EXPECT_EQ(o.elem_type, 1);
  return std::vector<float>(o.data<float>(), o.data<float>() + o.NumElements());
}

struct Line {
  std::string file, truth;
  demo::RecInput input;
};

std::vector<Line> LoadLines() {
  std::vector<Line> lines;
  auto list = demo::ReadLabelsTsv(ImagesDir() + "/labels.tsv");
  EXPECT_TRUE(list.ok()) << list.status();
  if (!list.ok()) return lines;
  for (const auto& [file, truth] : *list) {
    auto img = demo::ReadPnm(ImagesDir() + "/" + file);
    EXPECT_TRUE(img.ok()) << img.status();
    if (img.ok()) lines.push_back({file, truth, demo::PreprocessForRecognizer(*img)});
  }
  EXPECT_GE(lines.size(), 6u);
  return lines;
}

host::HostTensor RecTensor(const demo::RecInput& r) {
  return host::HostTensor::From(1, {1, 3, 48, r.width}, r.data);
}

// Output of the recogniser for each line: probabilities [T, 6625].
std::vector<std::vector<float>> RecognizeAll(const std::string& model,
                                             const std::vector<Line>& lines) {
  std::vector<std::vector<float>> out;
  auto s = Load(model);
  if (s == nullptr) return out;
  for (const auto& l : lines) out.push_back(RunOne(*s, "x", RecTensor(l.input)));
  return out;
}

constexpr int64_t kClasses = 6625;

TEST(PaddleOcrRecognizer, OriginalReadsTheRenderedLines) {
  REQUIRE_MODEL(OcrDir() + "/ch_PP-OCRv4_rec_infer.onnx");
  auto labels = demo::LoadLabels(OcrDir() + "/ppocr_keys_v1.txt");
  ASSERT_TRUE(labels.ok()) << labels.status();
  ASSERT_EQ(static_cast<int64_t>(labels->size()), kClasses);  // blank + 6623 keys + space
  const auto lines = LoadLines();
  const auto outs = RecognizeAll(OcrDir() + "/ch_PP-OCRv4_rec_infer.onnx", lines);
  ASSERT_EQ(outs.size(), lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    ASSERT_EQ(static_cast<int64_t>(outs[i].size()), lines[i].input.width / 8 * kClasses)
        << lines[i].file;
    const auto arg = demo::ArgmaxRows(outs[i].data(), lines[i].input.width / 8, kClasses);
    EXPECT_EQ(demo::CtcGreedyDecode(arg, *labels), lines[i].truth) << lines[i].file;
  }
}

// The FP8 model against the original on every line: same decoded text, top-1 >= 97%, cosine >=
// 0.98.
void ExpectSameReading(const std::string& original, const std::string& fp8) {
  auto labels = demo::LoadLabels(OcrDir() + "/ppocr_keys_v1.txt");
  ASSERT_TRUE(labels.ok()) << labels.status();
  const auto lines = LoadLines();
  const auto ref = RecognizeAll(original, lines);
  const auto got = RecognizeAll(fp8, lines);
  ASSERT_EQ(ref.size(), lines.size());
  ASSERT_EQ(got.size(), lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    ASSERT_EQ(got[i].size(), ref[i].size()) << lines[i].file;
    const int64_t t = lines[i].input.width / 8;
    const auto ra = demo::ArgmaxRows(ref[i].data(), t, kClasses),
               ga = demo::ArgmaxRows(got[i].data(), t, kClasses);
    EXPECT_EQ(demo::CtcGreedyDecode(ga, *labels), demo::CtcGreedyDecode(ra, *labels))
        << lines[i].file;
    EXPECT_GE(demo::Top1Agreement(ra, ga), 0.97) << lines[i].file;
    const double cos =
        demo::Cosine(ref[i].data(), got[i].data(), static_cast<int64_t>(ref[i].size()));
    EXPECT_GE(cos, 0.98) << lines[i].file;
    // NOTE: FP8 must change the numbers somewhat; identical outputs would mean nothing was
    // rewritten.
    EXPECT_GT(demo::MaxAbsDiff(ref[i].data(), got[i].data(), static_cast<int64_t>(ref[i].size())),
              0.0)
        << lines[i].file;
  }
}

void ExpectRecognizerRewritten(const std::string& path, int64_t fp32_gemm_weight_bytes) {
  auto s = demo::Summarize(path);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->op_counts["fp8ops:FP8GEMM"], 9);
  EXPECT_EQ(s->op_counts["MatMul"], 4);  // activation x activation (attention scores and values)
  // FP8 codes (1 byte) + float32 block scales instead of 4-byte weights.
  EXPECT_LT(s->gemm_weight_bytes, fp32_gemm_weight_bytes * 0.3) << s->gemm_weight_bytes;
}

class PaddleOcrRecognizerFp8 : public ::testing::TestWithParam<const char*> {};

TEST_P(PaddleOcrRecognizerFp8, DecodesLikeTheOriginal) {
  const std::string original = OcrDir() + "/ch_PP-OCRv4_rec_infer.onnx";
  REQUIRE_MODEL(original);
  REQUIRE_CLI();
  auto before = demo::Summarize(original);
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->op_counts["MatMul"], 13);
  const std::string recipe = GetParam();
  const std::string out = ScratchDir() + "/rec_" + recipe + ".onnx";
  const std::string err = Rewrite(original, out, "--recipe " + recipe);
  ASSERT_TRUE(err.empty()) << err;
  ExpectRecognizerRewritten(out, before->gemm_weight_bytes);
  ExpectSameReading(original, out);
}

INSTANTIATE_TEST_SUITE_P(Recipes, PaddleOcrRecognizerFp8, ::testing::Values("w8a8", "weight-only"),
                         [](const auto& info) {
                           return std::string(info.param) == "w8a8" ? "W8A8" : "WeightOnly";
                         });

TEST(PaddleOcrRecognizerFp16, Fp16CopyThenFp8DecodesLikeTheOriginal) {
  const std::string original = OcrDir() + "/ch_PP-OCRv4_rec_infer.onnx";
  REQUIRE_MODEL(original);
  const std::string fp16 = ScratchDir() + "/rec_fp16.onnx";
  demo::Fp16Stats st;
  ASSERT_TRUE(demo::ConvertFileToFp16(original, fp16, &st).ok());
  EXPECT_EQ(st.gemms_in_fp16, 9);
  auto s16 = demo::Summarize(fp16);
  auto s32 = demo::Summarize(original);
  ASSERT_TRUE(s16.ok() && s32.ok());
  EXPECT_EQ(s16->gemm_weight_bytes * 2, s32->gemm_weight_bytes);
  ExpectSameReading(original, fp16);  // the FP16 copy itself reads like the original
  REQUIRE_CLI();
  const std::string out = ScratchDir() + "/rec_fp16_w8a8.onnx";
  const std::string err = Rewrite(fp16, out, "--recipe w8a8");
  ASSERT_TRUE(err.empty()) << err;
  ExpectRecognizerRewritten(out, s32->gemm_weight_bytes);
  ExpectSameReading(original, out);
}

TEST(PaddleOcrClassifier, OneMatMulRewrittenSameDecisions) {
  const std::string original = OcrDir() + "/ch_ppocr_mobile_v2.0_cls_infer.onnx";
  REQUIRE_MODEL(original);
  REQUIRE_CLI();
  const std::string out = ScratchDir() + "/cls_w8a8.onnx";
  const std::string err = Rewrite(original, out, "--recipe w8a8");
  ASSERT_TRUE(err.empty()) << err;
  auto s = demo::Summarize(out);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->op_counts["fp8ops:FP8GEMM"], 1);
  EXPECT_EQ(s->op_counts["MatMul"], 0);
  auto ref = Load(original), got = Load(out);
  ASSERT_TRUE(ref && got);
  const auto lines = LoadLines();
  double max_diff = 0;
  for (const auto& l : lines) {
    auto img = demo::ReadPnm(ImagesDir() + "/" + l.file);
    ASSERT_TRUE(img.ok());
    // Upright and rotated by 180 degrees: the classifier's two classes.
    for (int rot = 0; rot < 2; ++rot) {
      demo::Image im = *img;
      if (rot) std::reverse(im.pixels.begin(), im.pixels.end());  // gray image: 180 degrees
      const auto x = host::HostTensor::From(1, {1, 3, 48, 192}, demo::PreprocessForClassifier(im));
      const auto a = RunOne(*ref, "x", x), b = RunOne(*got, "x", x);
      ASSERT_EQ(a.size(), 2u);
      ASSERT_EQ(b.size(), 2u);
      EXPECT_EQ(a[0] > a[1], b[0] > b[1])
          << l.file << " rot " << rot << ": " << a[0] << " vs " << b[0];
      max_diff = std::max(max_diff, demo::MaxAbsDiff(a.data(), b.data(), 2));
    }
  }
  EXPECT_LT(max_diff, 0.05);
}

TEST(PaddleOcrDetector, NoGemmSoTheRewriteChangesNothing) {
  const std::string original = OcrDir() + "/ch_PP-OCRv4_det_infer.onnx";
  REQUIRE_MODEL(original);
  REQUIRE_CLI();
  const std::string out = ScratchDir() + "/det_w8a8.onnx";
  const std::string err = Rewrite(original, out, "--recipe w8a8");
  ASSERT_TRUE(err.empty()) << err;
  auto a = demo::LoadModel(original), b = demo::LoadModel(out);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->graph().node_size(), b->graph().node_size());
  for (int i = 0; i < a->graph().node_size(); ++i) {
    ASSERT_EQ(a->graph().node(i).SerializeAsString(), b->graph().node(i).SerializeAsString())
        << "node " << i;
  }
  ASSERT_EQ(a->graph().initializer_size(), b->graph().initializer_size());
  ASSERT_EQ(a->graph().input(0).SerializeAsString(), b->graph().input(0).SerializeAsString());
  ASSERT_EQ(a->graph().output(0).SerializeAsString(), b->graph().output(0).SerializeAsString());

  // Same computation: bit-identical outputs on a text line padded to 64 x 320 (the detector wants
  // multiples of 32), normalized as PaddleOCR's detector does (ImageNet mean / std, RGB->BGR kept).
  auto img = demo::ReadPnm(ImagesDir() + "/en_runtime.pgm");
  ASSERT_TRUE(img.ok());
  const int h = 64, w = 320;
  std::vector<float> x(3 * h * w);
  const float mean[3] = {0.485f, 0.456f, 0.406f}, stdv[3] = {0.229f, 0.224f, 0.225f};
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < h; ++y) {
      for (int xx = 0; xx < w; ++xx) {
        const int sy = y - 8;
        const uint8_t v = (sy >= 0 && sy < img->height && xx < img->width)
                              ? img->pixels[sy * img->width + xx]
                              : 246;
        x[(c * h + y) * w + xx] = (v / 255.0f - mean[c]) / stdv[c];
      }
    }
  }
  auto ref = Load(original), got = Load(out);
  ASSERT_TRUE(ref && got);
  const auto t = host::HostTensor::From(1, {1, 3, h, w}, x);
  const auto ra = RunOne(*ref, "x", t), rb = RunOne(*got, "x", t);
  ASSERT_EQ(ra.size(), static_cast<size_t>(h * w));
  ASSERT_EQ(rb.size(), ra.size());
  int text_pixels = 0;
  for (size_t i = 0; i < ra.size(); ++i) {
    ASSERT_EQ(ra[i], rb[i]) << i;
    text_pixels += ra[i] > 0.3f;  // PaddleOCR's binarization threshold
  }
  EXPECT_GT(text_pixels, 100) << "the detector should see the text line";
}

class OpenWakeWord : public ::testing::TestWithParam<const char*> {};

TEST_P(OpenWakeWord, GemmTransBRewrittenScoresClose) {
  const std::string name = GetParam();
  const std::string original = WakeDir() + "/" + name + ".onnx";
  REQUIRE_MODEL(original);
  REQUIRE_CLI();
  auto before = demo::Summarize(original);
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->op_counts["Gemm"], 3);
  const std::string out = ScratchDir() + "/" + name + "_w8a8.onnx";
  const std::string err = Rewrite(original, out, "--recipe w8a8");
  ASSERT_TRUE(err.empty()) << err;
  auto after = demo::Summarize(out);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->op_counts["fp8ops:FP8GEMM"], 3);
  EXPECT_EQ(after->op_counts["Gemm"], 0);

  auto m = demo::LoadModel(original);
  ASSERT_TRUE(m.ok());
  const auto& dims = m->graph().input(0).type().tensor_type().shape().dim();
  std::vector<int64_t> shape;
  for (const auto& d : dims) shape.push_back(d.dim_value());
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  auto ref = Load(original), got = Load(out);
  ASSERT_TRUE(ref && got);
  std::mt19937 rng(42);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  // Compared as logits: the sigmoid scores of random inputs sit near 0 or 1.
  auto logit = [](float p) {
    const double q = std::clamp(static_cast<double>(p), 1e-7, 1 - 1e-7);
    return std::log(q / (1 - q));
  };
  const int kTrials = 24;
  std::vector<double> la, lb, diffs;
  int decided_same = 0;
  for (int trial = 0; trial < kTrials; ++trial) {
    std::vector<float> x(n);
    // Embedding-like inputs of varying scale, so the scores spread out.
    const float scale = 0.25f * (1 + trial % 8);
    for (auto& v : x) v = scale * dist(rng);
    const auto t = host::HostTensor::From(1, shape, x);
    const auto a = RunOne(*ref, m->graph().input(0).name(), t),
               b = RunOne(*got, m->graph().input(0).name(), t);
    ASSERT_EQ(a.size(), 1u);
    ASSERT_EQ(b.size(), 1u);
    la.push_back(logit(a[0]));
    lb.push_back(logit(b[0]));
    diffs.push_back(std::fabs(la.back() - lb.back()));
    decided_same += (a[0] > 0.5f) == (b[0] > 0.5f);
  }
  // Pearson correlation of the logits over the trials: a wrong transB or bias would break it.
  auto mean = [](const std::vector<double>& v) {
    return std::accumulate(v.begin(), v.end(), 0.0) / v.size();
  };
  const double ma = mean(la), mb = mean(lb);
  double sab = 0, saa = 0, sbb = 0;
  for (int i = 0; i < kTrials; ++i) {
    sab += (la[i] - ma) * (lb[i] - mb);
    saa += (la[i] - ma) * (la[i] - ma);
    sbb += (lb[i] - mb) * (lb[i] - mb);
  }
  ASSERT_GT(saa, 1.0) << "the trials should spread the scores";
  const double corr = sab / std::sqrt(saa * sbb);
  std::sort(diffs.begin(), diffs.end());
  const double median_diff = diffs[kTrials / 2];
  EXPECT_GE(corr, 0.98);
  EXPECT_LT(median_diff, 0.2);
  EXPECT_GE(decided_same, kTrials - 1);
  RecordProperty("logit_correlation", std::to_string(corr));
  RecordProperty("median_abs_logit_diff", std::to_string(median_diff));
  RecordProperty("max_abs_logit_diff", std::to_string(diffs.back()));
}

INSTANTIATE_TEST_SUITE_P(Models, OpenWakeWord,
                         ::testing::Values("hello_deepa", "hello_deepa_old", "namaste_deepa"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace fp8ops
