// The demo's own pieces, on hand-made data: PNM reading, recogniser preprocessing, greedy CTC
// decoding, the comparison numbers, and the FP16 copy (it must run in ONNX Runtime and stay close).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <random>

#include "host/ort_session.h"
#include "models/demo/model_tools.h"
#include "models/demo/ocr_pipeline.h"
#include "tests/common/model_builder.h"

namespace fp8ops {
namespace {

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "demo_pipeline_" + name;
}

TEST(DemoPipeline, ReadsBinaryPgmAndPpmWithComments) {
  const std::string pgm = TempPath("a.pgm");
  {
    std::ofstream f(pgm, std::ios::binary);
    f << "P5\n# a comment\n3 2\n255\n";
    const unsigned char px[6] = {0, 10, 20, 30, 40, 255};
    f.write(reinterpret_cast<const char*>(px), 6);
  }
  auto img = demo::ReadPnm(pgm);
  ASSERT_TRUE(img.ok()) << img.status();
  EXPECT_EQ(img->width, 3);
  EXPECT_EQ(img->height, 2);
  EXPECT_EQ(img->channels, 1);
  EXPECT_EQ(img->pixels, (std::vector<uint8_t>{0, 10, 20, 30, 40, 255}));

  const std::string ppm = TempPath("b.ppm");
  {
    std::ofstream f(ppm, std::ios::binary);
    f << "P6 1 1 255\n";
    const unsigned char px[3] = {255, 0, 51};  // R G B
    f.write(reinterpret_cast<const char*>(px), 3);
  }
  auto rgb = demo::ReadPnm(ppm);
  ASSERT_TRUE(rgb.ok()) << rgb.status();
  EXPECT_EQ(rgb->channels, 3);
  // Recogniser planes are B, G, R: (v/255 - 0.5) / 0.5.
  const demo::RecInput in = demo::PreprocessForRecognizer(*rgb, 1);
  EXPECT_EQ(in.width, 8);  // one column, padded to a multiple of 8
  ASSERT_EQ(in.data.size(), 3u * 8);
  EXPECT_FLOAT_EQ(in.data[0], 51 / 255.0f * 2 - 1);  // blue
  EXPECT_FLOAT_EQ(in.data[8], -1.0f);                // green
  EXPECT_FLOAT_EQ(in.data[16], 1.0f);                // red
  EXPECT_FLOAT_EQ(in.data[1], 0.0f);                 // padding

  const std::string bad = TempPath("c.pgm");
  std::ofstream(bad, std::ios::binary) << "P5\n4 4\n255\nab";
  EXPECT_FALSE(demo::ReadPnm(bad).ok());  // truncated
  EXPECT_FALSE(demo::ReadPnm(TempPath("missing.pgm")).ok());
}

TEST(DemoPipeline, RecognizerInputKeepsAspectAtHeight48) {
  demo::Image img;
  img.width = 50;
  img.height = 24;
  img.channels = 1;
  img.pixels.assign(50 * 24, 255);
  const demo::RecInput in = demo::PreprocessForRecognizer(img);
  EXPECT_EQ(in.width, 104);  // 100 columns after resize, padded to 104
  ASSERT_EQ(in.data.size(), 3u * 48 * 104);
  EXPECT_FLOAT_EQ(in.data[99], 1.0f);   // white
  EXPECT_FLOAT_EQ(in.data[100], 0.0f);  // padding
}

TEST(DemoPipeline, GreedyCtcCollapsesRepeatsAndDropsBlank) {
  const std::vector<std::string> labels = {"", "a", "b", "中", " "};
  EXPECT_EQ(demo::CtcGreedyDecode({0, 1, 1, 0, 1, 2, 2, 4, 3, 3, 0}, labels), "aab 中");
  EXPECT_EQ(demo::CtcGreedyDecode({0, 0, 0}, labels), "");
  EXPECT_EQ(demo::CtcGreedyDecode({}, labels), "");
  const float probs[] = {0.1f, 0.7f, 0.2f,  //
                         0.5f, 0.1f, 0.4f};
  EXPECT_EQ(demo::ArgmaxRows(probs, 2, 3), (std::vector<int>{1, 0}));
}

TEST(DemoPipeline, AgreementAndCosine) {
  EXPECT_DOUBLE_EQ(demo::Top1Agreement({1, 2, 3, 4}, {1, 2, 0, 4}), 0.75);
  EXPECT_DOUBLE_EQ(demo::Top1Agreement({1}, {1, 2}), 0.0);
  const float a[] = {1, 0, 0}, b[] = {1, 1, 0}, z[] = {0, 0, 0};
  EXPECT_NEAR(demo::Cosine(a, b, 3), 1 / std::sqrt(2.0), 1e-12);
  EXPECT_DOUBLE_EQ(demo::Cosine(z, z, 3), 1.0);
  EXPECT_DOUBLE_EQ(demo::Cosine(a, z, 3), 0.0);
  EXPECT_DOUBLE_EQ(demo::MaxAbsDiff(a, b, 3), 1.0);
}

TEST(DemoPipeline, LabelsAddBlankAndSpace) {
  const std::string keys = TempPath("keys.txt");
  std::ofstream(keys, std::ios::binary) << "a\nb\r\n中";
  auto labels = demo::LoadLabels(keys);
  ASSERT_TRUE(labels.ok());
  EXPECT_EQ(*labels, (std::vector<std::string>{"", "a", "b", "中", " "}));
}

// x [2, 64] -> MatMul(W0 [64, 48], Constant node) -> Add(bias [48], initializer) -> Relu
//   -> Gemm(W1 [32, 48] initializer, C [32], transB=1) -> y; W0 also feeds a Mul (a non-GEMM user).
TEST(DemoPipeline, Fp16CopyRunsAndStaysClose) {
  std::mt19937 rng(11);
  std::normal_distribution<float> dist(0.0f, 0.2f);
  auto rand_vec = [&](size_t n) {
    std::vector<float> v(n);
    for (auto& x : v) x = dist(rng);
    return v;
  };
  auto m = testing::NewModel(13, false);
  testing::AddInput(m, "x", 1, {2, 64});
  const auto w0 = rand_vec(64 * 48), bias = rand_vec(48), w1 = rand_vec(32 * 48), c1 = rand_vec(32);
  auto* cn = testing::AddNode(m, "Constant", {}, {"w0"}, {}, "", "w0_const");
  auto* attr = cn->add_attribute();
  attr->set_name("value");
  attr->set_type(onnx::AttributeProto::TENSOR);
  *attr->mutable_t() = testing::MakeTensor("w0", 1, {64, 48}, w0.data(), w0.size() * 4);
  testing::AddInitializer(m, "bias", 1, {48}, bias);
  testing::AddInitializer(m, "w1", 1, {32, 48}, w1);
  testing::AddInitializer(m, "c1", 1, {32}, c1);
  const std::vector<float> eps = {0.5f};
  testing::AddInitializer(m, "half", 1, {1}, eps);  // a scalar: stays float32
  testing::AddNode(m, "MatMul", {"x", "w0"}, {"h0"});
  testing::AddNode(m, "Add", {"h0", "bias"}, {"h1"});
  testing::AddNode(m, "Relu", {"h1"}, {"h2"});
  testing::AddNode(m, "Gemm", {"h2", "w1", "c1"}, {"y"}, {testing::Attr::Int("transB", 1)});
  testing::AddNode(m, "Mul", {"w0", "half"}, {"w0_half"});
  testing::AddOutput(m, "y", 1, {2, 32});
  testing::AddOutput(m, "w0_half", 1, {64, 48});

  onnx::ModelProto m16 = m;
  auto st = demo::ConvertToFp16(m16);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->gemms_in_fp16, 2);
  EXPECT_EQ(st->constants_converted, 4);  // w0, bias, w1, c1 (not the scalar)
  int matmul_fp16_inputs = 0;
  for (const auto& n : m16.graph().node()) {
    if (n.op_type() == "MatMul" || n.op_type() == "Gemm")
      matmul_fp16_inputs += n.input(1).find("_fp16") != std::string::npos;
  }
  EXPECT_EQ(matmul_fp16_inputs, 2);

  const std::string p32 = TempPath("m32.onnx"), p16 = TempPath("m16.onnx");
  std::ofstream(p32, std::ios::binary) << testing::Serialize(m);
  std::ofstream(p16, std::ios::binary) << testing::Serialize(m16);
  auto s32 = demo::Summarize(p32), s16 = demo::Summarize(p16);
  ASSERT_TRUE(s32.ok() && s16.ok());
  EXPECT_EQ(s32->gemm_weight_bytes, (64 * 48 + 32 * 48) * 4);
  EXPECT_EQ(s16->gemm_weight_bytes, (64 * 48 + 32 * 48) * 2);
  EXPECT_EQ(s32->constant_bytes, (64 * 48 + 48 + 32 * 48 + 32 + 1) * 4);
  EXPECT_EQ(s16->constant_bytes, (64 * 48 + 48 + 32 * 48 + 32) * 2 + 4);

  host::SessionOptions so;
  auto a = host::Session::FromFile(p32, so), b = host::Session::FromFile(p16, so);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  const auto x = rand_vec(2 * 64);
  auto ra = (*a)->Run({{"x", host::HostTensor::From(1, {2, 64}, x)}});
  auto rb = (*b)->Run({{"x", host::HostTensor::From(1, {2, 64}, x)}});
  ASSERT_TRUE(ra.ok() && rb.ok());
  for (int o = 0; o < 2; ++o) {
    ASSERT_EQ((*rb)[o].elem_type, 1);  // the outputs keep their float32 type
    ASSERT_EQ((*ra)[o].NumElements(), (*rb)[o].NumElements());
    const float* pa = (*ra)[o].data<float>();
    const float* pb = (*rb)[o].data<float>();
    const int64_t n = (*ra)[o].NumElements();
    EXPECT_GT(demo::Cosine(pa, pb, n), 0.9999);
    EXPECT_GT(demo::MaxAbsDiff(pa, pb, n), 0.0);  // float16 weights do change the numbers
    EXPECT_LT(demo::MaxAbsDiff(pa, pb, n), 0.01);
  }
}

}  // namespace
}  // namespace fp8ops
