#include "models/gen/model_gen.h"

#include <fcntl.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <functional>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fp8ops/float16.h"

namespace fp8ops::models {
namespace {

// Receives each weight once its data is made: stores it inline or writes it out.
using WeightSink = std::function<absl::Status(onnx::TensorProto* t, std::string&& bytes)>;

absl::Status InlineSink(onnx::TensorProto* t, std::string&& bytes) {
  t->set_raw_data(std::move(bytes));
  return absl::OkStatus();
}

void SetShape(onnx::ValueInfoProto* vi, const std::string& name, int32_t elem_type,
              const std::vector<std::string>& dims) {
  vi->set_name(name);
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem_type);
  auto* shape = tt->mutable_shape();
  for (const auto& d : dims) {
    auto* dim = shape->add_dim();
    if (!d.empty() && (d[0] >= '0' && d[0] <= '9')) {
      dim->set_dim_value(std::stoll(d));
    } else {
      dim->set_dim_param(d);
    }
  }
}

class Builder {
 public:
  explicit Builder(onnx::GraphProto* g) : g_(g) {}

  onnx::NodeProto* Node(const std::string& op, const std::vector<std::string>& in,
                        const std::vector<std::string>& out, const std::string& name) {
    auto* n = g_->add_node();
    n->set_op_type(op);
    n->set_name(name);
    for (const auto& s : in) n->add_input(s);
    for (const auto& s : out) n->add_output(s);
    return n;
  }
  // One-output node named `name`, output "<name>_out".
  std::string Op(const std::string& op, const std::vector<std::string>& in,
                 const std::string& name) {
    const std::string out = name + "_out";
    Node(op, in, {out}, name);
    return out;
  }
  static void IntAttr(onnx::NodeProto* n, const char* name, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void FloatAttr(onnx::NodeProto* n, const char* name, float v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  static void IntsAttr(onnx::NodeProto* n, const char* name, const std::vector<int64_t>& v) {
    auto* a = n->add_attribute();
    a->set_name(name);
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  onnx::TensorProto* Init(const std::string& name, int32_t dtype,
                          const std::vector<int64_t>& dims) {
    auto* t = g_->add_initializer();
    t->set_name(name);
    t->set_data_type(dtype);
    for (int64_t d : dims) t->add_dims(d);
    return t;
  }
  template <typename T>
  void InitValues(const std::string& name, int32_t dtype, const std::vector<int64_t>& dims,
                  const std::vector<T>& v) {
    Init(name, dtype, dims)
        ->set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T)));
  }
  // A tensor held by a Constant node whose output is `name`.
  onnx::TensorProto* ConstantNode(const std::string& name, int32_t dtype,
                                  const std::vector<int64_t>& dims) {
    auto* n = Node("Constant", {}, {name}, name + "_Constant");
    auto* a = n->add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    auto* t = a->mutable_t();
    t->set_data_type(dtype);
    for (int64_t d : dims) t->add_dims(d);
    return t;
  }
  onnx::GraphProto* graph() { return g_; }

 private:
  onnx::GraphProto* g_;
};

// K x N weight values, uniform with variance 1/K (activations keep their scale). The stream
// depends on (seed, tag) only, so float32 and float16 models with one seed hold the same values.
std::string WeightBytes(uint64_t seed, uint64_t tag, int64_t rows, int64_t cols, int64_t fan_in,
                        int32_t dtype, bool round_to_fp16) {
  Rng rng(seed * 1000003ull + tag);
  const float bound = std::sqrt(3.0f / static_cast<float>(fan_in));
  const int64_t n = rows * cols;
  std::string bytes;
  if (dtype == 10) {
    bytes.resize(static_cast<size_t>(n) * 2);
    auto* p = reinterpret_cast<uint16_t*>(bytes.data());
    for (int64_t i = 0; i < n; ++i) p[i] = FloatToHalf(rng.Uniform(bound));
  } else {
    bytes.resize(static_cast<size_t>(n) * 4);
    auto* p = reinterpret_cast<float*>(bytes.data());
    for (int64_t i = 0; i < n; ++i) {
      const float v = rng.Uniform(bound);
      p[i] = round_to_fp16 ? HalfToFloat(FloatToHalf(v)) : v;
    }
  }
  return bytes;
}

std::vector<float> RandomFloats(uint64_t seed, int64_t n, float center, float bound) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = center + rng.Uniform(bound);
  return v;
}

class LlamaBuilder {
 public:
  LlamaBuilder(const LlamaConfig& c, onnx::ModelProto* m, WeightSink sink)
      : c_(c), m_(m), b_(m->mutable_graph()), sink_(std::move(sink)), t_(c.dtype) {}

  absl::Status Build() {
    if (t_ != kFloat && t_ != kFloat16)
      return absl::InvalidArgumentError(absl::StrCat("unsupported dtype ", t_));
    m_->set_ir_version(8);
    m_->set_producer_name("fp8ops-models");
    auto* op = m_->add_opset_import();
    op->set_domain("");
    op->set_version(17);
    auto* g = m_->mutable_graph();
    g->set_name("llama_decoder");
    const std::string H = std::to_string(c_.hidden);
    SetShape(g->add_input(), "x", t_, {"batch", "seq", H});
    // The norm's statistics are float32 in both models (the float16 model casts around them).
    b_.InitValues<float>("rms_pow_exponent", kFloat, {}, {2.0f});
    b_.InitValues<float>("rms_eps", kFloat, {}, {1e-5f});
    b_.InitValues<float>("rms_one", kFloat, {}, {1.0f});
    const int64_t hd = c_.hidden / c_.heads;
    b_.InitValues<int64_t>("shape_heads", 7, {4}, {0, 0, c_.heads, hd});
    b_.InitValues<int64_t>("shape_hidden", 7, {3}, {0, 0, c_.hidden});
    InitScalar("attn_scale", 1.0f / std::sqrt(static_cast<float>(hd)));

    std::string x = "x";
    for (int64_t l = 0; l < c_.layers; ++l) {
      const std::string p = absl::StrCat("/layers.", l);
      const std::string w = absl::StrCat("layers.", l);
      // Attention.
      std::string xn = Norm(x, w + ".input_layernorm.weight", p + "/input_layernorm");
      std::string q =
          Proj(xn, w + ".self_attn.q_proj.weight", p + "/self_attn/q_proj", c_.hidden, c_.hidden);
      std::string k =
          Proj(xn, w + ".self_attn.k_proj.weight", p + "/self_attn/k_proj", c_.hidden, c_.hidden);
      std::string v =
          Proj(xn, w + ".self_attn.v_proj.weight", p + "/self_attn/v_proj", c_.hidden, c_.hidden);
      const std::string a = p + "/self_attn";
      auto heads = [&](const std::string& t, const std::string& n, std::vector<int64_t> perm) {
        const std::string r = b_.Op("Reshape", {t, "shape_heads"}, a + "/" + n + "_Reshape");
        auto* tn =
            b_.Node("Transpose", {r}, {a + "/" + n + "_Transpose_out"}, a + "/" + n + "_Transpose");
        Builder::IntsAttr(tn, "perm", perm);
        return tn->output(0);
      };
      const std::string qt = heads(q, "q", {0, 2, 1, 3});
      const std::string kt = heads(k, "k", {0, 2, 3, 1});
      const std::string vt = heads(v, "v", {0, 2, 1, 3});
      const std::string scores = b_.Op("MatMul", {qt, kt}, a + "/scores/MatMul");
      const std::string scaled = b_.Op("Mul", {scores, "attn_scale"}, a + "/scores/Mul");
      // As HF's eager attention: softmax(scores, dtype=float32).to(dtype).
      const std::string probs =
          ToModelType(Softmax(ToFloat(scaled, a + "/Cast"), a + "/Softmax"), a + "/Cast_1");
      const std::string ctx = b_.Op("MatMul", {probs, vt}, a + "/context/MatMul");
      auto* ct =
          b_.Node("Transpose", {ctx}, {a + "/context/Transpose_out"}, a + "/context/Transpose");
      Builder::IntsAttr(ct, "perm", {0, 2, 1, 3});
      const std::string merged =
          b_.Op("Reshape", {ct->output(0), "shape_hidden"}, a + "/context/Reshape");
      const std::string o =
          Proj(merged, w + ".self_attn.o_proj.weight", a + "/o_proj", c_.hidden, c_.hidden);
      x = b_.Op("Add", {x, o}, p + "/attn_residual/Add");
      // MLP.
      const std::string xn2 =
          Norm(x, w + ".post_attention_layernorm.weight", p + "/post_attention_layernorm");
      const std::string m = p + "/mlp";
      const std::string gate =
          Proj(xn2, w + ".mlp.gate_proj.weight", m + "/gate_proj", c_.hidden, c_.intermediate);
      const std::string up =
          Proj(xn2, w + ".mlp.up_proj.weight", m + "/up_proj", c_.hidden, c_.intermediate);
      const std::string sig = b_.Op("Sigmoid", {gate}, m + "/act/Sigmoid");
      const std::string silu = b_.Op("Mul", {gate, sig}, m + "/act/Mul");
      const std::string h = b_.Op("Mul", {silu, up}, m + "/Mul");
      const std::string down =
          Proj(h, w + ".mlp.down_proj.weight", m + "/down_proj", c_.intermediate, c_.hidden);
      x = b_.Op("Add", {x, down}, p + "/mlp_residual/Add");
    }
    if (c_.vocab > 0) {
      const std::string xn = Norm(x, "norm.weight", "/norm");
      const std::string logits =
          Proj(xn, "lm_head.weight", "/lm_head", c_.hidden, c_.vocab, "logits");
      SetShape(g->add_output(), logits, t_, {"batch", "seq", std::to_string(c_.vocab)});
    } else {
      b_.Node("Identity", {x}, {"hidden"}, "/output/Identity");
      SetShape(g->add_output(), "hidden", t_, {"batch", "seq", H});
    }
    return status_;
  }

 private:
  static constexpr int32_t kFloat = 1, kFloat16 = 10;

  // A scalar constant in the model's dtype.
  void InitScalar(const std::string& name, float v) {
    if (t_ == kFloat16) {
      b_.InitValues<uint16_t>(name, kFloat16, {}, {FloatToHalf(v)});
    } else {
      b_.InitValues<float>(name, kFloat, {}, {v});
    }
  }
  // x (model dtype) as float32: a Cast in the float16 model, x itself in the float32 one.
  std::string ToFloat(const std::string& x, const std::string& name) {
    if (t_ == kFloat) return x;
    auto* n = b_.Node("Cast", {x}, {name + "_out"}, name);
    Builder::IntAttr(n, "to", kFloat);
    return n->output(0);
  }
  std::string ToModelType(const std::string& x, const std::string& name) {
    if (t_ == kFloat) return x;
    auto* n = b_.Node("Cast", {x}, {name + "_out"}, name);
    Builder::IntAttr(n, "to", kFloat16);
    return n->output(0);
  }
  std::string Softmax(const std::string& x, const std::string& name) {
    auto* n = b_.Node("Softmax", {x}, {name + "_out"}, name);
    Builder::IntAttr(n, "axis", -1);
    return n->output(0);
  }

  // HF LlamaRMSNorm as torch.onnx.export (TorchScript) writes it:
  //   x.to(float32) * rsqrt(mean(x^2, -1) + eps), .to(dtype), weight * that
  // with rsqrt as Div(1, Sqrt(.)). ONNX Runtime fuses it into SimplifiedLayerNormalization
  // (onnxruntime/core/optimizer/layer_norm_fusion.cc): its DivMulFusion first turns Div(1, s) ->
  // Mul(x, .) into Div(x, s), the one form SimplifiedLayerNormFusion matches (Pow -> ReduceMean ->
  // Add -> Sqrt -> Div -> [Cast] -> Mul, Pow and Div reading the same tensor; in the float16 model
  // the leading Cast feeds only those two). NOTE: Sqrt -> Reciprocal -> Mul (the dynamo
  // exporter's rsqrt) is not fused, nor is an integer exponent for Pow (its inputs must be float).
  std::string Norm(const std::string& x, const std::string& gamma, const std::string& p) {
    std::vector<float> g = RandomFloats(c_.seed * 7919 + tag_++, c_.hidden, 1.0f, 0.1f);
    if (t_ == kFloat16) {
      std::vector<uint16_t> h(g.size());
      for (size_t i = 0; i < g.size(); ++i) h[i] = FloatToHalf(g[i]);
      b_.InitValues(gamma, kFloat16, {c_.hidden}, h);
    } else {
      if (c_.round_weights_to_fp16) {
        for (auto& v : g) v = HalfToFloat(FloatToHalf(v));
      }
      b_.InitValues(gamma, kFloat, {c_.hidden}, g);
    }
    const std::string xf = ToFloat(x, p + "/Cast");
    const std::string sq = b_.Op("Pow", {xf, "rms_pow_exponent"}, p + "/Pow");
    auto* rm = b_.Node("ReduceMean", {sq}, {p + "/ReduceMean_out"}, p + "/ReduceMean");
    Builder::IntsAttr(rm, "axes", {-1});
    Builder::IntAttr(rm, "keepdims", 1);
    const std::string ve = b_.Op("Add", {rm->output(0), "rms_eps"}, p + "/Add");
    const std::string r = b_.Op("Sqrt", {ve}, p + "/Sqrt");
    const std::string rs = b_.Op("Div", {"rms_one", r}, p + "/Div");
    const std::string xn = b_.Op("Mul", {xf, rs}, p + "/Mul");
    return b_.Op("Mul", {gamma, ToModelType(xn, p + "/Cast_1")}, p + "/Mul_1");
  }

  // x @ W [k, n], both in the model's dtype.
  std::string Proj(const std::string& x, const std::string& w, const std::string& p, int64_t k,
                   int64_t n, const std::string& out = "") {
    const uint64_t tag = tag_++;
    if (!status_.ok()) return x;
    if (shaped_.insert(x).second) {
      SetShape(m_->mutable_graph()->add_value_info(), x, t_, {"batch", "seq", std::to_string(k)});
    }
    onnx::TensorProto* t =
        c_.weights_in_constant_nodes ? b_.ConstantNode(w, t_, {k, n}) : b_.Init(w, t_, {k, n});
    if (c_.weights_in_constant_nodes) t->set_name(w);
    status_ = sink_(t, WeightBytes(c_.seed, tag, k, n, k, t_, c_.round_weights_to_fp16));
    const std::string y = out.empty() ? p + "/MatMul_out" : out;
    b_.Node("MatMul", {x, w}, {y}, p + "/MatMul");
    return y;
  }

  const LlamaConfig& c_;
  onnx::ModelProto* m_;
  Builder b_;
  WeightSink sink_;
  const int32_t t_;  // the model's dtype: weights and activations
  absl::Status status_;
  uint64_t tag_ = 1;
  std::set<std::string> shaped_;
};

}  // namespace

onnx::ModelProto MakeLlamaDecoder(const LlamaConfig& config) {
  onnx::ModelProto m;
  LlamaBuilder b(config, &m, InlineSink);
  (void)b.Build();  // the inline sink cannot fail; a bad dtype leaves the model empty
  return m;
}

absl::Status WriteLlamaDecoderExternal(const LlamaConfig& config, const std::string& path,
                                       int64_t* weight_bytes) {
  const std::string data_path = path + ".data";
  const size_t slash = data_path.find_last_of('/');
  const std::string location = slash == std::string::npos ? data_path : data_path.substr(slash + 1);
  const int fd = ::open(data_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return absl::InternalError(
        absl::StrCat("cannot create '", data_path, "': ", std::strerror(errno)));
  int64_t offset = 0;
  auto sink = [&](onnx::TensorProto* t, std::string&& bytes) -> absl::Status {
    offset = (offset + 65535) / 65536 * 65536;
    const char* p = bytes.data();
    int64_t left = static_cast<int64_t>(bytes.size());
    int64_t at = offset;
    while (left > 0) {
      const ssize_t w = ::pwrite(fd, p, static_cast<size_t>(left), at);
      if (w < 0) {
        if (errno == EINTR) continue;
        return absl::InternalError(
            absl::StrCat("cannot write '", data_path, "': ", std::strerror(errno)));
      }
      p += w;
      at += w;
      left -= w;
    }
    auto add = [t](const char* k, const std::string& v) {
      auto* e = t->add_external_data();
      e->set_key(k);
      e->set_value(v);
    };
    add("location", location);
    add("offset", std::to_string(offset));
    add("length", std::to_string(bytes.size()));
    t->set_data_location(onnx::TensorProto_DataLocation_EXTERNAL);
    offset += static_cast<int64_t>(bytes.size());
    return absl::OkStatus();
  };
  onnx::ModelProto m;
  LlamaBuilder b(config, &m, sink);
  absl::Status s = b.Build();
  if (::close(fd) != 0 && s.ok())
    s = absl::InternalError(absl::StrCat("cannot write '", data_path, "'"));
  if (!s.ok()) return s;
  if (weight_bytes != nullptr) *weight_bytes = offset;
  const int mfd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (mfd < 0)
    return absl::InternalError(absl::StrCat("cannot create '", path, "': ", std::strerror(errno)));
  bool ok;
  {
    google::protobuf::io::FileOutputStream out(mfd);
    ok = m.SerializeToZeroCopyStream(&out) && out.Flush();
  }
  ok = (::close(mfd) == 0) && ok;
  if (!ok) return absl::InternalError(absl::StrCat("cannot write '", path, "'"));
  return absl::OkStatus();
}

onnx::ModelProto MakeGemmModel(uint64_t seed) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("fp8ops-models");
  auto* op = m.add_opset_import();
  op->set_version(17);
  auto* g = m.mutable_graph();
  g->set_name("gemm");
  Builder b(g);
  SetShape(g->add_input(), "x", 1, {"batch", "64"});
  b.Init("W1", 1, {96, 64})->set_raw_data(WeightBytes(seed, 1, 96, 64, 64, 1, false));
  b.InitValues("C1", 1, {96}, RandomFloats(seed + 11, 96, 0.0f, 0.5f));
  auto* g1 = b.Node("Gemm", {"x", "W1", "C1"}, {"h"}, "fc1");
  Builder::IntAttr(g1, "transB", 1);
  Builder::FloatAttr(g1, "alpha", 0.5f);
  const std::string r = b.Op("Relu", {"h"}, "relu");
  b.Init("W2", 1, {96, 40})->set_raw_data(WeightBytes(seed, 2, 96, 40, 96, 1, false));
  b.Node("Gemm", {r, "W2"}, {"y"}, "fc2");
  b.Init("W3", 1, {40, 64})->set_raw_data(WeightBytes(seed, 3, 40, 64, 64, 1, false));
  b.InitValues("C3", 1, {40}, RandomFloats(seed + 13, 40, 0.0f, 0.5f));
  auto* g3 = b.Node("Gemm", {"x", "W3", "C3"}, {"z"}, "fc3_beta");
  Builder::IntAttr(g3, "transB", 1);
  Builder::FloatAttr(g3, "beta", 0.5f);
  SetShape(g->add_output(), "y", 1, {"batch", "40"});
  SetShape(g->add_output(), "z", 1, {"batch", "40"});
  return m;
}

onnx::ModelProto MakeIfModel(uint64_t seed) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("fp8ops-models");
  auto* op = m.add_opset_import();
  op->set_version(17);
  auto* g = m.mutable_graph();
  g->set_name("if_model");
  Builder b(g);
  SetShape(g->add_input(), "x", 1, {"batch", "48"});
  SetShape(g->add_input(), "cond", 9, {});
  b.Init("W_outer", 1, {48, 32})->set_raw_data(WeightBytes(seed, 1, 48, 32, 48, 1, false));
  b.Node("MatMul", {"x", "W_outer"}, {"y_main"}, "main_matmul");
  auto* iff = b.Node("If", {"cond"}, {"y"}, "if_node");
  auto* then_attr = iff->add_attribute();
  then_attr->set_name("then_branch");
  then_attr->set_type(onnx::AttributeProto::GRAPH);
  {
    auto* tg = then_attr->mutable_g();
    tg->set_name("then");
    Builder tb(tg);
    tb.Node("MatMul", {"x", "W_outer"}, {"then_y"}, "then_matmul");
    SetShape(tg->add_output(), "then_y", 1, {"batch", "32"});
  }
  auto* else_attr = iff->add_attribute();
  else_attr->set_name("else_branch");
  else_attr->set_type(onnx::AttributeProto::GRAPH);
  {
    auto* eg = else_attr->mutable_g();
    eg->set_name("else");
    Builder eb(eg);
    eb.Init("W_inner", 1, {48, 32})->set_raw_data(WeightBytes(seed, 2, 48, 32, 48, 1, false));
    eb.Node("MatMul", {"x", "W_inner"}, {"else_h"}, "else_matmul");
    auto* ct = eb.ConstantNode("W_const", 1, {32, 32});
    ct->set_raw_data(WeightBytes(seed, 3, 32, 32, 32, 1, false));
    eb.Node("MatMul", {"else_h", "W_const"}, {"else_y"}, "else_matmul_const");
    SetShape(eg->add_output(), "else_y", 1, {"batch", "32"});
  }
  SetShape(g->add_output(), "y", 1, {"batch", "32"});
  SetShape(g->add_output(), "y_main", 1, {"batch", "32"});
  return m;
}

onnx::ModelProto MakeSharedWeightsModel(uint64_t seed) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("fp8ops-models");
  auto* op = m.add_opset_import();
  op->set_version(17);
  auto* g = m.mutable_graph();
  g->set_name("shared_weights");
  Builder b(g);
  SetShape(g->add_input(), "x", 1, {"batch", "64"});
  SetShape(g->add_input(), "ids", 7, {"batch"});
  b.Init("W_emb", 1, {100, 64})->set_raw_data(WeightBytes(seed, 1, 100, 64, 1, 1, false));
  b.Init("W_shared", 1, {64, 64})->set_raw_data(WeightBytes(seed, 2, 64, 64, 64, 1, false));
  const std::string e = b.Op("Gather", {"W_emb", "ids"}, "embed");
  const std::string h = b.Op("Add", {"x", e}, "add_embed");
  const std::string y1 = b.Op("MatMul", {h, "W_shared"}, "proj_a");
  const std::string r = b.Op("Relu", {h}, "relu");
  const std::string y2 = b.Op("MatMul", {r, "W_shared"}, "proj_b");
  const std::string s = b.Op("Add", {y1, y2}, "sum");
  auto* lm = b.Node("Gemm", {s, "W_emb"}, {"logits"}, "lm_head");
  Builder::IntAttr(lm, "transB", 1);
  SetShape(g->add_output(), "logits", 1, {"batch", "100"});
  return m;
}

}  // namespace fp8ops::models
