// The rewrite: analysis (scopes, eligibility, plan), quantization of each distinct weight, graph
// mutation, and output (inline or external data, atomic). See include/fp8ops/rewrite.h.
#include "fp8ops/rewrite.h"

#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <future>
#include <map>
#include <memory>
#include <regex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "fp8ops/dtype.h"
#include "fp8ops/quantize.h"
#include "graph_pass/model_io.h"
#include "graph_pass/weight_quantizer.h"

namespace fp8ops {
namespace {

using graph_pass::ExternalDataReader;
using graph_pass::ExternalDataWriter;

constexpr char kFp8Domain[] = "fp8ops";

using Clock = std::chrono::steady_clock;

bool IsDefaultDomain(const std::string& d) { return d.empty() || d == "ai.onnx"; }
bool IsMatMulLike(const onnx::NodeProto& n) {
  return IsDefaultDomain(n.domain()) && (n.op_type() == "MatMul" || n.op_type() == "Gemm");
}
bool IsFp8Gemm(const onnx::NodeProto& n) {
  return n.domain() == kFp8Domain && n.op_type() == "FP8GEMM";
}

const char* RecipeName(RewriteRecipe r) {
  return r == RewriteRecipe::kW8A8 ? "w8a8" : "weight-only";
}

const onnx::AttributeProto* FindAttr(const onnx::NodeProto& n, const char* name) {
  for (const auto& a : n.attribute()) {
    if (a.name() == name) return &a;
  }
  return nullptr;
}
int64_t AttrInt(const onnx::NodeProto& n, const char* name, int64_t def) {
  const auto* a = FindAttr(n, name);
  return a == nullptr ? def : a->i();
}
float AttrFloat(const onnx::NodeProto& n, const char* name, float def) {
  const auto* a = FindAttr(n, name);
  return a == nullptr ? def : a->f();
}

void SetIntAttr(onnx::NodeProto* n, const char* name, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

std::string NodeLabel(const onnx::NodeProto& n) {
  return absl::StrCat("node '", n.name(), "' (", n.op_type(), ")");
}

absl::Status Annotate(const absl::Status& s, const std::string& prefix) {
  if (s.ok()) return s;
  return absl::Status(s.code(), absl::StrCat(prefix, ": ", s.message()));
}

std::string FormatGb(double bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f GB", bytes / 1e9);
  return b;
}

// A value defined as a constant: an initializer or the output of a Constant node.
struct ConstRef {
  onnx::GraphProto* owner = nullptr;
  onnx::TensorProto* tensor = nullptr;
  onnx::NodeProto* constant_node = nullptr;  // set for Constant nodes
  bool overridable = false;                  // initializer that is also a graph input
  std::string name;
};

struct Scope {
  onnx::GraphProto* graph = nullptr;
  std::string path;
  std::unordered_map<std::string, ConstRef> constants;
  std::unordered_set<std::string> defined;
  std::unordered_map<std::string, const onnx::ValueInfoProto*> value_infos;
};

struct Resolved {
  bool defined = false;
  ConstRef* constant = nullptr;
};

// One distinct FP8 weight (a source tensor in one orientation).
struct WeightJob {
  ConstRef src;
  bool transposed = false;
  int64_t n = 0, k = 0;
  DType dtype = DType::kFloat;
  int64_t source_bytes = 0;
  std::string codes_name;
  std::vector<std::pair<float, std::string>> scales;  // (alpha folded in, tensor name)
  std::vector<int> reports;                           // node reports served
  // Results.
  std::unique_ptr<onnx::TensorProto> codes;
  std::vector<std::unique_ptr<onnx::TensorProto>> scale_tensors;
  double rel_rms = -1, sqnr_db = -1;
};

struct ActQuant {
  std::string input, output, scale, node_name;
  int consumers = 0;  // rewritten projections reading it
  bool emitted = false;
  // --fuse-activation-quant and a single consumer: that FP8GEMM quantizes the activation itself
  // (a_quant_type) and no QuantizeFP8 is written. Shared activations keep one QuantizeFP8.
  bool fused = false;
};

struct NodePlan {
  int job = -1;
  int scale = 0;  // index in the job's scales
  std::string bias;
  int act = -1;  // ActQuant index (w8a8)
  int32_t out_type = 1;
  int report = -1;  // index in the report's nodes
};

class Progress {
 public:
  Progress(bool enabled, int64_t total_bytes, int64_t total_jobs)
      : enabled_(enabled),
        total_bytes_(total_bytes),
        total_jobs_(total_jobs),
        start_(Clock::now()),
        last_(start_) {}
  void Update(int64_t jobs, int64_t bytes, bool final = false) {
    if (!enabled_) return;
    const auto now = Clock::now();
    const double since_start = std::chrono::duration<double>(now - start_).count();
    const double since_last = std::chrono::duration<double>(now - last_).count();
    if (!final && (since_start < 2.0 || since_last < 2.0)) return;
    if (final && (!printed_ || jobs == last_jobs_)) return;
    last_ = now;
    last_jobs_ = jobs;
    printed_ = true;
    std::fprintf(stderr, "fp8ops: quantized %lld/%lld weights, %s of %s (%.2f GB/s)\n",
                 static_cast<long long>(jobs), static_cast<long long>(total_jobs_),
                 FormatGb(bytes).c_str(), FormatGb(total_bytes_).c_str(),
                 since_start > 0 ? bytes / 1e9 / since_start : 0.0);
  }

 private:
  bool enabled_;
  int64_t total_bytes_, total_jobs_;
  Clock::time_point start_, last_;
  bool printed_ = false;
  int64_t last_jobs_ = -1;
};

template <typename Fn>
void ForEachGraph(onnx::GraphProto* g, const Fn& fn) {
  fn(g);
  for (auto& node : *g->mutable_node()) {
    for (auto& a : *node.mutable_attribute()) {
      if (a.has_g()) ForEachGraph(a.mutable_g(), fn);
      for (auto& sg : *a.mutable_graphs()) ForEachGraph(&sg, fn);
    }
  }
}

bool IsConstantNode(const onnx::NodeProto& n) {
  return IsDefaultDomain(n.domain()) && n.op_type() == "Constant";
}

onnx::TensorProto* ConstantValue(onnx::NodeProto* n) {
  if (!IsConstantNode(*n) || n->output_size() != 1) return nullptr;
  for (auto& a : *n->mutable_attribute()) {
    if (a.name() == "value" && a.has_t()) return a.mutable_t();
  }
  return nullptr;
}

// Every constant tensor of a graph and its subgraphs: initializers and Constant node values.
template <typename Fn>
void ForEachConstantTensor(onnx::GraphProto* root, const Fn& fn) {
  ForEachGraph(root, [&](onnx::GraphProto* g) {
    for (auto& t : *g->mutable_initializer()) fn(&t, false);
    for (auto& node : *g->mutable_node()) {
      if (auto* t = ConstantValue(&node)) fn(t, true);
    }
  });
}

int64_t BytesOr0(const onnx::TensorProto& t) {
  auto b = graph_pass::TensorDataBytes(t);
  return b.ok() ? *b : 0;
}

class Rewriter {
 public:
  Rewriter(onnx::ModelProto* model, const RewriteOptions& o, ExternalDataReader* ext)
      : model_(model), o_(o), ext_(ext) {}

  absl::Status Analyze();
  // Quantizes every job; FP8 codes (and large scales) go to `writer` when given.
  absl::Status Execute(ExternalDataWriter* writer, bool free_sources);
  // Applies the plan to the model (after Execute).
  void Mutate();
  // Copies external and large inline tensors that are not yet in the output's data file.
  absl::Status MoveRemainingToExternal(ExternalDataWriter* writer);

  RewriteReport& report() { return report_; }
  bool HasExternalTensors();
  // Protobuf size of the output if every tensor stayed inline.
  int64_t EstimatedInlineBytes();
  void FillPredictedTotals();
  void FillFinalTotals();
  const std::unordered_map<const onnx::TensorProto*, std::string>& first_user() const {
    return first_user_;
  }

 private:
  absl::Status CollectNames();
  absl::Status VisitGraph(onnx::GraphProto* g, const std::string& path, bool is_main);
  absl::Status Decide(onnx::NodeProto* node, Scope& scope, const onnx::NodeProto* keep_last);
  const onnx::NodeProto* FindLastProjection(onnx::GraphProto* g);
  Resolved Resolve(const std::string& name);
  std::vector<std::string> ShapeOf(const std::string& name);
  std::string UniqueName(const std::string& base);
  std::string UniqueNodeName(const std::string& base);
  void MutateGraph(onnx::GraphProto* g);
  int64_t RemainingUses(const onnx::TensorProto* t) const {
    auto u = uses_.find(t);
    auto r = rewritten_uses_.find(t);
    return (u == uses_.end() ? 0 : u->second) - (r == rewritten_uses_.end() ? 0 : r->second);
  }
  bool WillRemove(const onnx::TensorProto* t) const {
    return rewritten_uses_.count(t) != 0 && RemainingUses(t) == 0;
  }
  int NumThreads() const {
    if (o_.num_threads > 0) return o_.num_threads;
    return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }

  onnx::ModelProto* model_;
  const RewriteOptions& o_;
  ExternalDataReader* ext_;
  std::unique_ptr<std::regex> include_, exclude_;

  std::vector<Scope*> scopes_;
  std::unordered_set<std::string> names_, node_names_;
  std::unordered_map<const onnx::TensorProto*, int64_t> uses_, rewritten_uses_;
  std::unordered_map<const onnx::TensorProto*, std::string> first_user_;
  std::vector<WeightJob> jobs_;
  std::map<std::pair<const onnx::TensorProto*, bool>, int> job_index_;
  std::vector<ActQuant> acts_;
  std::map<std::pair<const onnx::GraphProto*, std::string>, int> act_index_;
  std::unordered_map<const onnx::NodeProto*, NodePlan> plans_;
  std::unordered_set<const onnx::TensorProto*> written_;  // already in the output's data file
  RewriteReport report_;
};

absl::Status Rewriter::CollectNames() {
  ForEachGraph(model_->mutable_graph(), [&](onnx::GraphProto* g) {
    for (const auto& v : g->input()) names_.insert(v.name());
    for (const auto& v : g->output()) names_.insert(v.name());
    for (const auto& v : g->value_info()) names_.insert(v.name());
    for (const auto& t : g->initializer()) names_.insert(t.name());
    for (const auto& t : g->sparse_initializer()) names_.insert(t.values().name());
    for (const auto& n : g->node()) {
      node_names_.insert(n.name());
      for (const auto& s : n.input()) names_.insert(s);
      for (const auto& s : n.output()) names_.insert(s);
    }
  });
  return absl::OkStatus();
}

std::string Rewriter::UniqueName(const std::string& base) {
  std::string name = base;
  for (int i = 1; names_.count(name) != 0; ++i) name = absl::StrCat(base, "_", i);
  names_.insert(name);
  return name;
}

std::string Rewriter::UniqueNodeName(const std::string& base) {
  std::string name = base;
  for (int i = 1; node_names_.count(name) != 0; ++i) name = absl::StrCat(base, "_", i);
  node_names_.insert(name);
  return name;
}

Resolved Rewriter::Resolve(const std::string& name) {
  for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
    Scope* s = *it;
    if (s->defined.count(name) == 0) continue;
    Resolved r;
    r.defined = true;
    auto c = s->constants.find(name);
    if (c != s->constants.end()) r.constant = &c->second;
    return r;
  }
  return {};
}

std::vector<std::string> Rewriter::ShapeOf(const std::string& name) {
  for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
    auto v = (*it)->value_infos.find(name);
    if (v == (*it)->value_infos.end()) continue;
    std::vector<std::string> dims;
    const auto& type = v->second->type();
    if (!type.has_tensor_type() || !type.tensor_type().has_shape()) return {};
    for (const auto& d : type.tensor_type().shape().dim()) {
      if (d.has_dim_value()) {
        dims.push_back(std::to_string(d.dim_value()));
      } else if (d.has_dim_param() && !d.dim_param().empty()) {
        dims.push_back(d.dim_param());
      } else {
        dims.push_back("?");
      }
    }
    return dims;
  }
  return {};
}

// The last MatMul / Gemm of the main graph with a constant B whose output reaches a graph output
// through nodes that are not MatMul / Gemm / FP8GEMM (walking backwards from the outputs).
const onnx::NodeProto* Rewriter::FindLastProjection(onnx::GraphProto* g) {
  std::unordered_map<std::string, int> producer;
  for (int i = 0; i < g->node_size(); ++i) {
    for (const auto& o : g->node(i).output()) producer[o] = i;
  }
  std::vector<std::string> stack;
  std::unordered_set<std::string> seen;
  for (const auto& o : g->output()) {
    if (seen.insert(o.name()).second) stack.push_back(o.name());
  }
  int last = -1;
  while (!stack.empty()) {
    const std::string name = stack.back();
    stack.pop_back();
    auto p = producer.find(name);
    if (p == producer.end()) continue;
    const onnx::NodeProto& node = g->node(p->second);
    if (IsMatMulLike(node)) {
      const Resolved b = node.input_size() > 1 ? Resolve(node.input(1)) : Resolved{};
      if (b.constant != nullptr) last = std::max(last, p->second);
      continue;
    }
    if (IsFp8Gemm(node)) continue;
    for (const auto& in : node.input()) {
      if (!in.empty() && seen.insert(in).second) stack.push_back(in);
    }
  }
  return last < 0 ? nullptr : &g->node(last);
}

absl::Status Rewriter::Analyze() {
  if (auto s = ValidateRewriteOptions(o_); !s.ok()) return s;
  try {
    if (!o_.include_regex.empty()) include_ = std::make_unique<std::regex>(o_.include_regex);
    if (!o_.exclude_regex.empty()) exclude_ = std::make_unique<std::regex>(o_.exclude_regex);
  } catch (const std::regex_error& e) {
    return absl::InvalidArgumentError(absl::StrCat("invalid node name pattern: ", e.what()));
  }
  if (auto s = graph_pass::CheckModelStructure(*model_); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("not a valid ONNX model: ", s.message()));
  }
  if (auto s = CollectNames(); !s.ok()) return s;
  if (auto s = VisitGraph(model_->mutable_graph(), "main", true); !s.ok()) return s;
  if (o_.fuse_activation_quant) {  // now that every activation's readers are known
    for (auto& q : acts_) q.fused = q.consumers == 1;
    for (const auto& [node, p] : plans_) {
      if (p.act >= 0 && acts_[p.act].fused) report_.nodes[p.report].recipe = "w8a8-fused";
    }
  }
  return absl::OkStatus();
}

absl::Status Rewriter::VisitGraph(onnx::GraphProto* g, const std::string& path, bool is_main) {
  Scope scope;
  scope.graph = g;
  scope.path = path;
  std::unordered_set<std::string> inputs;
  for (const auto& v : g->input()) {
    scope.defined.insert(v.name());
    inputs.insert(v.name());
    scope.value_infos[v.name()] = &v;
  }
  for (const auto& v : g->value_info()) scope.value_infos[v.name()] = &v;
  for (const auto& v : g->output()) scope.value_infos.emplace(v.name(), &v);
  for (auto& t : *g->mutable_initializer()) {
    scope.defined.insert(t.name());
    ConstRef c;
    c.owner = g;
    c.tensor = &t;
    c.overridable = inputs.count(t.name()) != 0;
    c.name = t.name();
    scope.constants[t.name()] = c;
  }
  for (const auto& t : g->sparse_initializer()) scope.defined.insert(t.values().name());
  for (auto& node : *g->mutable_node()) {
    for (const auto& o : node.output()) {
      if (!o.empty()) scope.defined.insert(o);
    }
    if (auto* t = ConstantValue(&node)) {
      ConstRef c;
      c.owner = g;
      c.tensor = t;
      c.constant_node = &node;
      c.name = node.output(0);
      scope.constants[node.output(0)] = c;
    }
  }
  scopes_.push_back(&scope);
  const onnx::NodeProto* keep_last = is_main && o_.keep_last ? FindLastProjection(g) : nullptr;

  absl::Status status;
  for (auto& node : *g->mutable_node()) {
    for (const auto& in : node.input()) {
      if (in.empty()) continue;
      const Resolved r = Resolve(in);
      if (!r.defined) {
        status = absl::InvalidArgumentError(absl::StrCat(
            NodeLabel(node), " in graph '", path, "': input '", in,
            "' is not defined (no initializer, graph input or node output has that name)"));
        break;
      }
      if (r.constant != nullptr) {
        ++uses_[r.constant->tensor];
        first_user_.emplace(r.constant->tensor, node.name());
      }
    }
    if (!status.ok()) break;
    if (IsMatMulLike(node)) {
      status = Decide(&node, scope, keep_last);
    } else if (IsFp8Gemm(node)) {
      NodeReport r;
      r.action = NodeReport::Action::kAlreadyFp8;
      r.graph = path;
      r.node = node.name();
      r.op = node.op_type();
      r.reason = "already FP8 (fp8ops FP8GEMM)";
      report_.nodes.push_back(std::move(r));
    }
    if (!status.ok()) break;
    for (auto& a : *node.mutable_attribute()) {
      const std::string sub = absl::StrCat(path, "/", node.name(), ":", a.name());
      if (a.has_g()) status = VisitGraph(a.mutable_g(), sub, false);
      for (int i = 0; status.ok() && i < a.graphs_size(); ++i) {
        status = VisitGraph(a.mutable_graphs(i), absl::StrCat(sub, "[", i, "]"), false);
      }
      if (!status.ok()) break;
    }
    if (!status.ok()) break;
  }
  if (status.ok()) {
    // A constant that is a graph output is a use that never goes away.
    for (const auto& o : g->output()) {
      const Resolved r = Resolve(o.name());
      if (r.constant != nullptr) ++uses_[r.constant->tensor];
    }
  }
  scopes_.pop_back();
  return status;
}

absl::Status Rewriter::Decide(onnx::NodeProto* node, Scope& scope,
                              const onnx::NodeProto* keep_last) {
  const bool gemm = node->op_type() == "Gemm";
  const std::string label = NodeLabel(*node);
  if (node->input_size() < 2 || node->output_size() < 1 || node->input(0).empty() ||
      node->input(1).empty()) {
    return absl::InvalidArgumentError(absl::StrCat(label, " has ", node->input_size(),
                                                   " inputs and ", node->output_size(),
                                                   " outputs; expected A, B and Y"));
  }
  NodeReport r;
  r.graph = scope.path;
  r.node = node->name();
  r.op = node->op_type();
  r.action = NodeReport::Action::kSkipped;
  const std::string& a_name = node->input(0);
  const std::string& b_name = node->input(1);
  r.activation_shape = ShapeOf(a_name);
  auto skip = [&](std::string why) {
    r.reason = std::move(why);
    report_.nodes.push_back(std::move(r));
    return absl::OkStatus();
  };

  const Resolved b = Resolve(b_name);
  if (b.constant == nullptr) {
    if (Resolve(a_name).constant != nullptr)
      return skip("the constant is input A (only a constant B is quantized)");
    return skip(gemm ? "B is not a constant"
                     : "activation x activation MatMul (B is not a constant)");
  }
  ConstRef& w = *b.constant;
  const onnx::TensorProto& t = *w.tensor;
  r.weight = w.name;
  r.weight_shape.assign(t.dims().begin(), t.dims().end());
  r.weight_dtype = graph_pass::DataTypeName(t.data_type());
  if (w.overridable)
    return skip(
        absl::StrCat("weight '", w.name, "' is also a graph input (replaceable at run time)"));
  if (!graph_pass::IsKnownDataType(t.data_type())) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": weight '", w.name,
                                                   "' has unsupported data type ", t.data_type(),
                                                   " (not an ONNX type)"));
  }
  if (auto n = graph_pass::TensorNumElements(t); !n.ok()) return Annotate(n.status(), label);
  const DType dtype = static_cast<DType>(t.data_type());
  if (!IsFloatDType(dtype)) {
    return skip(absl::StrCat("unsupported weight dtype ", r.weight_dtype,
                             " (FLOAT, FLOAT16 or BFLOAT16 only)"));
  }
  if (t.dims_size() != 2) {
    return skip(absl::StrCat("weight is ", t.dims_size(), "-D (only 2-D weights are quantized)"));
  }
  if (auto s = graph_pass::CheckTensorData(t, ext_); !s.ok()) return Annotate(s, label);
  r.bytes_before = BytesOr0(t);

  bool transposed = true;
  float alpha = 1.0f;
  std::string bias;
  if (gemm) {
    const int64_t trans_a = AttrInt(*node, "transA", 0), trans_b = AttrInt(*node, "transB", 0);
    alpha = AttrFloat(*node, "alpha", 1.0f);
    const float beta = AttrFloat(*node, "beta", 1.0f);
    transposed = trans_b == 0;
    r.k = transposed ? t.dims(0) : t.dims(1);
    r.n = transposed ? t.dims(1) : t.dims(0);
    if (trans_a != 0) return skip("transA=1 (only transA=0 is rewritten)");
    if (!std::isfinite(alpha) || alpha == 0.0f)
      return skip(absl::StrCat("alpha=", alpha, " (not finite or zero)"));
    if (node->input_size() > 2 && !node->input(2).empty()) {
      const Resolved c = Resolve(node->input(2));
      if (c.constant == nullptr)
        return skip("C is not a constant (only a constant 1-D [N] C becomes the bias)");
      const onnx::TensorProto& ct = *c.constant->tensor;
      if (ct.dims_size() != 1 || ct.dims(0) != r.n) {
        return skip(absl::StrCat("C has shape [", absl::StrJoin(ct.dims(), ","),
                                 "] (only 1-D [N] C becomes the bias)"));
      }
      if (ct.data_type() != t.data_type()) return skip("C's dtype differs from B's");
      if (beta != 1.0f)
        return skip(absl::StrCat("beta=", beta, " with C (only beta=1 folds into the bias)"));
      if (auto s = graph_pass::CheckTensorData(ct, ext_); !s.ok()) return Annotate(s, label);
      bias = node->input(2);
    }
  } else {
    r.k = t.dims(0);
    r.n = t.dims(1);
  }
  if (r.k == 0 || r.n == 0) return skip("weight has a zero dimension");
  if (include_ && !std::regex_search(node->name(), *include_)) {
    return skip("excluded by the user (name not matched by --include)");
  }
  if (exclude_ && std::regex_search(node->name(), *exclude_)) {
    return skip("excluded by the user (name matched by --exclude)");
  }
  if (node == keep_last)
    return skip("kept in high precision (--keep-last: last projection feeding a graph output)");
  if (r.k * r.n < o_.min_elements) {
    return skip(
        absl::StrCat("too small: ", r.k * r.n, " elements < --min-elements ", o_.min_elements));
  }

  // Rewrite: find or create the weight job.
  const int report_index = static_cast<int>(report_.nodes.size());
  const auto key = std::make_pair(static_cast<const onnx::TensorProto*>(w.tensor), transposed);
  auto it = job_index_.find(key);
  int ji;
  if (it == job_index_.end()) {
    ji = static_cast<int>(jobs_.size());
    job_index_[key] = ji;
    WeightJob job;
    job.src = w;
    job.transposed = transposed;
    job.n = r.n;
    job.k = r.k;
    job.dtype = dtype;
    job.source_bytes = r.bytes_before;
    job.codes_name = UniqueName(w.name + "_fp8");
    jobs_.push_back(std::move(job));
  } else {
    ji = it->second;
    r.shared = true;
  }
  WeightJob& job = jobs_[ji];
  int si = -1;
  for (size_t i = 0; i < job.scales.size(); ++i) {
    if (job.scales[i].first == alpha) si = static_cast<int>(i);
  }
  if (si < 0) {
    si = static_cast<int>(job.scales.size());
    job.scales.emplace_back(alpha, UniqueName(w.name + "_fp8_scale"));
  }
  job.reports.push_back(report_index);

  NodePlan plan;
  plan.job = ji;
  plan.scale = si;
  plan.bias = bias;
  plan.out_type = t.data_type();
  plan.report = report_index;
  if (o_.recipe == RewriteRecipe::kW8A8) {
    const auto akey = std::make_pair(static_cast<const onnx::GraphProto*>(scope.graph), a_name);
    auto ai = act_index_.find(akey);
    if (ai == act_index_.end()) {
      ActQuant q;
      q.input = a_name;
      q.output = UniqueName(a_name + "_fp8");
      q.scale = UniqueName(a_name + "_fp8_scale");
      q.node_name = UniqueNodeName(a_name + "_QuantizeFP8");
      plan.act = static_cast<int>(acts_.size());
      act_index_[akey] = plan.act;
      acts_.push_back(std::move(q));
    } else {
      plan.act = ai->second;
    }
    ++acts_[plan.act].consumers;
  }
  plans_[node] = plan;
  ++rewritten_uses_[w.tensor];

  r.action = NodeReport::Action::kRewritten;
  r.recipe = RecipeName(o_.recipe);  // "w8a8-fused" once the readers are known (Analyze)
  r.weight_format = Fp8FormatName(o_.weight_format);
  r.activation_format =
      o_.recipe == RewriteRecipe::kW8A8 ? Fp8FormatName(o_.activation_format) : "";
  r.block_n = o_.block_n;
  r.block_k = o_.block_k;
  r.activation_block = o_.recipe == RewriteRecipe::kW8A8 ? o_.activation_block : 0;
  r.fp8_weight = job.codes_name;
  r.bytes_after = r.n * r.k + NumBlocks(r.n, o_.block_n) * NumBlocks(r.k, o_.block_k) * 4;
  report_.nodes.push_back(std::move(r));
  return absl::OkStatus();
}

absl::Status Rewriter::Execute(ExternalDataWriter* writer, bool free_sources) {
  int64_t total = 0;
  for (const auto& j : jobs_) total += j.source_bytes;
  Progress progress(o_.progress, total, static_cast<int64_t>(jobs_.size()));
  std::unordered_map<const onnx::TensorProto*, int> jobs_left;
  for (const auto& j : jobs_) ++jobs_left[j.src.tensor];

  Fp8QuantParams params;
  params.format = o_.weight_format;
  const int threads = NumThreads();
  int64_t done_bytes = 0;
  // Reused across weights (no page faults on fresh buffers): the source bytes when they are not
  // inline, and two FP8 code buffers: while one weight is quantized into one, the other one's
  // codes are written to the data file on another thread.
  std::string buffer;
  graph_pass::QuantizedWeight qw[2];
  int cur = 0;
  std::future<absl::Status> pending;  // NOTE: declared after qw: destroyed (joined) first
  for (size_t ji = 0; ji < jobs_.size(); ++ji) {
    graph_pass::QuantizedWeight& q = qw[cur];
    WeightJob& job = jobs_[ji];
    onnx::TensorProto* src = job.src.tensor;
    const std::string label = absl::StrCat("weight '", job.src.name, "'");
    const void* data;
    std::unique_ptr<ExternalDataReader::Mapping> mapping;  // external source: mapped, not copied
    if (!graph_pass::HasExternalData(*src) && src->has_raw_data()) {
      data = src->raw_data().data();
    } else if (graph_pass::HasExternalData(*src) && ext_ != nullptr) {
      auto m = ext_->Map(*src, job.source_bytes);
      if (!m.ok()) return Annotate(m.status(), label);
      mapping = *std::move(m);
      data = mapping->data();
    } else {
      buffer.resize(static_cast<size_t>(job.source_bytes));
      if (auto s = graph_pass::ReadTensorBytes(*src, ext_, 0, job.source_bytes, buffer.data());
          !s.ok()) {
        return Annotate(s, label);
      }
      data = buffer.data();
    }
    graph_pass::WeightMatrix wm;
    wm.dtype = job.dtype;
    wm.n = job.n;
    wm.k = job.k;
    wm.transposed = job.transposed;
    wm.data = data;
    // Error statistics over every row, or every 8th row of weights over 4M elements.
    const int64_t measure_step = job.n * job.k > (int64_t{1} << 22) ? 8 : 1;
    graph_pass::QuantizeWeight(wm, o_.block_n, o_.block_k, params, threads, &q, measure_step);
    job.rel_rms = q.signal_sq > 0 ? std::sqrt(q.error_sq / q.signal_sq) : 0.0;
    job.sqnr_db = q.error_sq > 0 ? 10.0 * std::log10(q.signal_sq / q.error_sq)
                                 : std::numeric_limits<double>::infinity();

    job.codes = std::make_unique<onnx::TensorProto>();
    job.codes->set_name(job.codes_name);
    job.codes->set_data_type(static_cast<int32_t>(o_.weight_format));
    job.codes->add_dims(job.n);
    job.codes->add_dims(job.k);
    if (writer != nullptr) {
      const int64_t size = static_cast<int64_t>(q.codes.size());
      const int64_t offset = writer->Reserve(job.codes.get(), size);
      written_.insert(job.codes.get());
      if (pending.valid()) {
        if (auto s = pending.get(); !s.ok()) return s;
      }
      graph_pass::TempFile* file = writer->file();
      const char* codes = q.codes.data();
      pending = std::async(std::launch::async, [file, codes, size, offset] {
        return file->WriteAt(codes, size, offset);
      });
      cur ^= 1;
    } else {
      job.codes->set_raw_data(std::move(q.codes));
      q.codes = std::string();
    }
    const int64_t nbn = NumBlocks(job.n, o_.block_n), nbk = NumBlocks(job.k, o_.block_k);
    for (const auto& [alpha, name] : job.scales) {
      std::vector<float> v = q.scales;
      if (alpha != 1.0f) {
        for (float& s : v) s *= alpha;
      }
      auto st = std::make_unique<onnx::TensorProto>();
      st->set_name(name);
      st->set_data_type(1);
      st->add_dims(nbn);
      st->add_dims(nbk);
      const int64_t bytes = static_cast<int64_t>(v.size() * sizeof(float));
      if (writer != nullptr && bytes >= o_.external_threshold_bytes) {
        if (auto s = writer->Append(st.get(), v.data(), bytes); !s.ok()) return s;
        written_.insert(st.get());
      } else {
        st->set_raw_data(
            std::string(reinterpret_cast<const char*>(v.data()), static_cast<size_t>(bytes)));
      }
      job.scale_tensors.push_back(std::move(st));
    }
    for (int ri : job.reports) {
      report_.nodes[ri].weight_rel_rms = job.rel_rms;
      report_.nodes[ri].weight_sqnr_db = job.sqnr_db;
    }
    // The source goes away with the rewrite: free its bytes now (the file API owns the model).
    if (free_sources && --jobs_left[src] == 0 && WillRemove(src) &&
        !graph_pass::HasExternalData(*src)) {
      std::string().swap(*src->mutable_raw_data());
      src->clear_float_data();
      src->clear_int32_data();
    }
    done_bytes += job.source_bytes;
    progress.Update(static_cast<int64_t>(ji + 1), done_bytes);
  }
  if (pending.valid()) {
    if (auto s = pending.get(); !s.ok()) return s;
  }
  progress.Update(static_cast<int64_t>(jobs_.size()), done_bytes, true);
  return absl::OkStatus();
}

void Rewriter::MutateGraph(onnx::GraphProto* g) {
  auto* nodes = g->mutable_node();
  std::vector<onnx::NodeProto*> old(static_cast<size_t>(nodes->size()));
  if (!old.empty()) nodes->ExtractSubrange(0, nodes->size(), old.data());
  for (onnx::NodeProto* node : old) {
    auto it = plans_.find(node);
    if (it == plans_.end()) {
      for (auto& a : *node->mutable_attribute()) {
        if (a.has_g()) MutateGraph(a.mutable_g());
        for (auto& sg : *a.mutable_graphs()) MutateGraph(&sg);
      }
      nodes->AddAllocated(node);
      continue;
    }
    const NodePlan& p = it->second;
    const WeightJob& job = jobs_[p.job];
    std::string a = node->input(0), a_scale;
    if (p.act >= 0 && !acts_[p.act].fused) {
      ActQuant& q = acts_[p.act];
      if (!q.emitted) {
        auto* qn = nodes->Add();
        qn->set_name(q.node_name);
        qn->set_op_type("QuantizeFP8");
        qn->set_domain(kFp8Domain);
        qn->add_input(q.input);
        qn->add_output(q.output);
        qn->add_output(q.scale);
        SetIntAttr(qn, "block_size", o_.activation_block);
        SetIntAttr(qn, "fp8_type", static_cast<int64_t>(o_.activation_format));
        q.emitted = true;
      }
      a = q.output;
      a_scale = q.scale;
    }
    auto* gn = new onnx::NodeProto();
    gn->set_name(node->name());
    gn->set_op_type("FP8GEMM");
    gn->set_domain(kFp8Domain);
    if (node->has_doc_string()) gn->set_doc_string(node->doc_string());
    gn->add_input(a);
    gn->add_input(a_scale);
    gn->add_input(job.codes_name);
    gn->add_input(job.scales[p.scale].second);
    if (!p.bias.empty()) gn->add_input(p.bias);
    gn->add_output(node->output(0));
    SetIntAttr(gn, "block_n", o_.block_n);
    SetIntAttr(gn, "block_k", o_.block_k);
    if (o_.recipe == RewriteRecipe::kW8A8) SetIntAttr(gn, "a_block", o_.activation_block);
    if (p.act >= 0 && acts_[p.act].fused) {
      SetIntAttr(gn, "a_quant_type", static_cast<int64_t>(o_.activation_format));
    }
    SetIntAttr(gn, "out_type", p.out_type);
    nodes->AddAllocated(gn);
    delete node;
  }
}

void Rewriter::Mutate() {
  if (jobs_.empty()) return;
  // New initializers go to the graph that owned the source weight (visible to its subgraphs).
  for (auto& job : jobs_) {
    auto* inits = job.src.owner->mutable_initializer();
    inits->AddAllocated(job.codes.release());
    for (auto& st : job.scale_tensors) inits->AddAllocated(st.release());
    job.scale_tensors.clear();
  }
  MutateGraph(model_->mutable_graph());
  // Remove the sources nothing uses any more (Constant nodes or initializers).
  std::unordered_set<const onnx::TensorProto*> removed;
  for (auto& job : jobs_) {
    const onnx::TensorProto* t = job.src.tensor;
    if (!WillRemove(t) || !removed.insert(t).second) continue;
    onnx::GraphProto* g = job.src.owner;
    const std::string name = job.src.name;
    if (job.src.constant_node != nullptr) {
      for (int i = 0; i < g->node_size(); ++i) {
        if (g->mutable_node(i) == job.src.constant_node) {
          g->mutable_node()->DeleteSubrange(i, 1);
          break;
        }
      }
    } else {
      for (int i = 0; i < g->initializer_size(); ++i) {
        if (g->mutable_initializer(i) == job.src.tensor) {
          g->mutable_initializer()->DeleteSubrange(i, 1);
          break;
        }
      }
    }
    for (int i = g->value_info_size() - 1; i >= 0; --i) {
      if (g->value_info(i).name() == name) g->mutable_value_info()->DeleteSubrange(i, 1);
    }
  }
  if (model_->ir_version() < 9) model_->set_ir_version(9);
  bool has_opset = false;
  for (const auto& op : model_->opset_import()) has_opset |= op.domain() == kFp8Domain;
  if (!has_opset) {
    auto* op = model_->add_opset_import();
    op->set_domain(kFp8Domain);
    op->set_version(1);
  }
}

bool Rewriter::HasExternalTensors() {
  bool any = false;
  ForEachConstantTensor(model_->mutable_graph(), [&](onnx::TensorProto* t, bool) {
    any |= graph_pass::HasExternalData(*t);
  });
  return any;
}

int64_t Rewriter::EstimatedInlineBytes() {
  int64_t size = static_cast<int64_t>(model_->ByteSizeLong());
  std::unordered_set<const onnx::TensorProto*> removed;
  for (const auto& job : jobs_) {
    if (WillRemove(job.src.tensor) && removed.insert(job.src.tensor).second) {
      size -= graph_pass::HasExternalData(*job.src.tensor) ? 0 : job.source_bytes;
    }
    size += job.n * job.k + static_cast<int64_t>(job.scales.size()) * NumBlocks(job.n, o_.block_n) *
                                NumBlocks(job.k, o_.block_k) * 4;
  }
  ForEachConstantTensor(model_->mutable_graph(), [&](onnx::TensorProto* t, bool) {
    if (graph_pass::HasExternalData(*t) && removed.count(t) == 0) size += BytesOr0(*t);
  });
  return size;
}

void Rewriter::FillPredictedTotals() {
  RewriteTotals& tt = report_.totals;
  std::unordered_set<const onnx::TensorProto*> removed, counted;
  ForEachConstantTensor(model_->mutable_graph(), [&](onnx::TensorProto* t, bool) {
    const int64_t b = BytesOr0(*t);
    tt.weight_bytes_before += b;
    if (graph_pass::IsKnownDataType(t->data_type()) && t->data_type() >= 17 &&
        t->data_type() <= 20) {
      tt.fp8_bytes_after += b;
    }
  });
  int64_t after = tt.weight_bytes_before;
  for (const auto& job : jobs_) {
    if (counted.insert(job.src.tensor).second) tt.quantized_bytes_before += job.source_bytes;
    if (WillRemove(job.src.tensor) && removed.insert(job.src.tensor).second)
      after -= job.source_bytes;
    const int64_t scales = NumBlocks(job.n, o_.block_n) * NumBlocks(job.k, o_.block_k) * 4;
    const int64_t bytes = job.n * job.k + static_cast<int64_t>(job.scales.size()) * scales;
    tt.quantized_bytes_after += bytes;
    tt.fp8_bytes_after += job.n * job.k;
    after += bytes;
  }
  tt.weight_bytes_after = after;
  tt.weights_quantized = static_cast<int64_t>(jobs_.size());
  tt.fp8_share =
      after > 0 ? static_cast<double>(tt.fp8_bytes_after) / static_cast<double>(after) : 0.0;
  tt.nodes_rewritten = tt.nodes_skipped = tt.nodes_already_fp8 = 0;
  for (const auto& n : report_.nodes) {
    if (n.action == NodeReport::Action::kRewritten) ++tt.nodes_rewritten;
    if (n.action == NodeReport::Action::kSkipped) ++tt.nodes_skipped;
    if (n.action == NodeReport::Action::kAlreadyFp8) ++tt.nodes_already_fp8;
  }
}

void Rewriter::FillFinalTotals() {
  // Before-totals and node counts come from the plan; after-totals from the rewritten model.
  RewriteTotals& tt = report_.totals;
  tt.weight_bytes_after = tt.fp8_bytes_after = 0;
  ForEachConstantTensor(model_->mutable_graph(), [&](onnx::TensorProto* t, bool) {
    const int64_t b = BytesOr0(*t);
    tt.weight_bytes_after += b;
    if (t->data_type() >= 17 && t->data_type() <= 20) tt.fp8_bytes_after += b;
  });
  tt.fp8_share = tt.weight_bytes_after > 0 ? static_cast<double>(tt.fp8_bytes_after) /
                                                 static_cast<double>(tt.weight_bytes_after)
                                           : 0.0;
}

absl::Status Rewriter::MoveRemainingToExternal(ExternalDataWriter* writer) {
  // External tensors are copied in the order of their input files and offsets, so that rewriting
  // an output (whose data file this function laid out) reproduces the same layout; then inline
  // tensors of at least the threshold, in graph order.
  struct Ext {
    std::string location;
    int64_t offset;
    onnx::TensorProto* t;
  };
  std::vector<Ext> external;
  std::vector<onnx::TensorProto*> inline_big;
  absl::Status status;
  ForEachConstantTensor(model_->mutable_graph(), [&](onnx::TensorProto* t, bool in_constant_node) {
    if (!status.ok() || written_.count(t) != 0) return;
    if (graph_pass::HasExternalData(*t)) {
      auto ref = graph_pass::GetExternalRef(*t);
      if (!ref.ok()) {
        status = ref.status();
        return;
      }
      external.push_back({ref->location, ref->offset, t});
    } else if (!in_constant_node) {
      auto bytes = graph_pass::TensorDataBytes(*t);
      if (bytes.ok() && *bytes >= o_.external_threshold_bytes && *bytes > 0)
        inline_big.push_back(t);
    }
  });
  if (!status.ok()) return status;
  std::stable_sort(external.begin(), external.end(), [](const Ext& a, const Ext& b) {
    return a.location != b.location ? a.location < b.location : a.offset < b.offset;
  });
  std::vector<onnx::TensorProto*> order;
  for (const auto& e : external) order.push_back(e.t);
  order.insert(order.end(), inline_big.begin(), inline_big.end());
  for (onnx::TensorProto* t : order) {
    if (auto s = writer->Move(t, ext_); !s.ok())
      return Annotate(s, absl::StrCat("copying tensor '", t->name(), "'"));
    written_.insert(t);
  }
  return absl::OkStatus();
}

// Checks every external tensor (so that nothing fails half-way through writing).
absl::Status CheckAllExternal(
    onnx::ModelProto* model, ExternalDataReader* ext,
    const std::unordered_map<const onnx::TensorProto*, std::string>& first_user) {
  absl::Status status;
  ForEachConstantTensor(model->mutable_graph(), [&](onnx::TensorProto* t, bool) {
    if (!status.ok() || !graph_pass::HasExternalData(*t)) return;
    status = graph_pass::CheckTensorData(*t, ext);
    if (!status.ok()) {
      auto u = first_user.find(t);
      if (u != first_user.end())
        status = Annotate(status, absl::StrCat("used by node '", u->second, "'"));
    }
  });
  return status;
}

absl::Status WriteModelProto(const onnx::ModelProto& model, graph_pass::TempFile* file) {
  const size_t size = model.ByteSizeLong();
  if (size > static_cast<size_t>(INT_MAX)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the output graph is ", size,
        " bytes even with its tensors stored as external data (protobuf's limit is 2 GB)"));
  }
  {
    google::protobuf::io::FileOutputStream out(file->fd());
    if (!model.SerializeToZeroCopyStream(&out) || !out.Flush()) {
      return absl::InternalError(absl::StrCat("cannot write '", file->final_path(), "'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

// ---- options ----------------------------------------------------------------------------------

absl::Status ValidateRewriteOptions(const RewriteOptions& o) {
  if (o.block_n < 0 || o.block_k < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("weight block ", o.block_n, "x", o.block_k, " must be >= 0"));
  }
  if (o.activation_block < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("activation block ", o.activation_block, " must be >= 0"));
  }
  if (o.recipe == RewriteRecipe::kW8A8 && o.activation_block > 0 && o.block_k > 0 &&
      o.activation_block != o.block_k) {
    return absl::InvalidArgumentError(
        absl::StrCat("activation block ", o.activation_block, " must equal the weight block's K (",
                     o.block_k, ") when both are blocked (FP8GEMM's a_block == block_k)"));
  }
  if (o.fuse_activation_quant && o.recipe != RewriteRecipe::kW8A8) {
    return absl::InvalidArgumentError(
        "fusing the activation quantization needs the w8a8 recipe (weight-only quantizes none)");
  }
  if (o.min_elements < 0) return absl::InvalidArgumentError("min_elements must be >= 0");
  if (o.external_threshold_bytes < 0)
    return absl::InvalidArgumentError("external_threshold_bytes must be >= 0");
  try {
    if (!o.include_regex.empty()) std::regex r(o.include_regex);
  } catch (const std::regex_error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid --include pattern '", o.include_regex, "': ", e.what()));
  }
  try {
    if (!o.exclude_regex.empty()) std::regex r(o.exclude_regex);
  } catch (const std::regex_error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid --exclude pattern '", o.exclude_regex, "': ", e.what()));
  }
  return absl::OkStatus();
}

absl::Status ParseWeightBlock(const std::string& text, int64_t* block_n, int64_t* block_k) {
  const std::string s = absl::AsciiStrToLower(text);
  if (s == "tensor") {
    *block_n = 0;
    *block_k = 0;
    return absl::OkStatus();
  }
  if (s == "channel") {
    *block_n = 1;
    *block_k = 0;
    return absl::OkStatus();
  }
  std::vector<std::string> parts = absl::StrSplit(s, 'x');
  int64_t n, k;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &n) || !absl::SimpleAtoi(parts[1], &k) ||
      n < 0 || k < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid weight block '", text,
                     "': expected NxK (e.g. 128x128, 1x128), tensor or channel"));
  }
  *block_n = n;
  *block_k = k;
  return absl::OkStatus();
}

absl::Status ParseActivationBlock(const std::string& text, int64_t* block) {
  const std::string s = absl::AsciiStrToLower(text);
  if (s == "row") {
    *block = 0;
    return absl::OkStatus();
  }
  int64_t v;
  if (!absl::SimpleAtoi(s, &v) || v <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid activation block '", text, "': expected a positive group size (e.g. 128) or row"));
  }
  *block = v;
  return absl::OkStatus();
}

absl::Status ParseFp8FormatName(const std::string& text, Fp8Format* format) {
  const std::string s = absl::AsciiStrToLower(text);
  if (s == "e4m3" || s == "e4m3fn") {
    *format = Fp8Format::kE4M3FN;
  } else if (s == "e5m2") {
    *format = Fp8Format::kE5M2;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid FP8 format '", text, "': expected e4m3 or e5m2"));
  }
  return absl::OkStatus();
}

absl::Status ParseRecipe(const std::string& text, RewriteRecipe* recipe) {
  const std::string s = absl::AsciiStrToLower(text);
  if (s == "w8a8") {
    *recipe = RewriteRecipe::kW8A8;
  } else if (s == "weight-only" || s == "weight_only") {
    *recipe = RewriteRecipe::kWeightOnly;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid recipe '", text, "': expected w8a8 or weight-only"));
  }
  return absl::OkStatus();
}

// ---- entry points -----------------------------------------------------------------------------

absl::StatusOr<RewriteReport> InspectModel(const onnx::ModelProto& model,
                                           const RewriteOptions& options) {
  const auto start = Clock::now();
  ExternalDataReader ext(options.base_dir);
  // Analysis only reads the model.
  Rewriter rw(const_cast<onnx::ModelProto*>(&model), options, &ext);
  if (auto s = rw.Analyze(); !s.ok()) return s;
  rw.FillPredictedTotals();
  RewriteReport report = std::move(rw.report());
  report.dry_run = true;
  report.totals.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return report;
}

absl::StatusOr<RewriteReport> RewriteModel(onnx::ModelProto& model, const RewriteOptions& options) {
  const auto start = Clock::now();
  ExternalDataReader ext(options.base_dir);
  Rewriter rw(&model, options, &ext);
  if (auto s = rw.Analyze(); !s.ok()) return s;
  rw.FillPredictedTotals();
  // The model is changed only after every weight is quantized, so an error leaves it as it was.
  if (auto s = rw.Execute(nullptr, /*free_sources=*/false); !s.ok()) return s;
  rw.Mutate();
  rw.FillFinalTotals();
  RewriteReport report = std::move(rw.report());
  report.totals.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return report;
}

absl::StatusOr<RewriteReport> InspectFile(const std::string& input_path,
                                          const RewriteOptions& options) {
  auto model = graph_pass::LoadModelFile(input_path);
  if (!model.ok()) return model.status();
  RewriteOptions o = options;
  o.base_dir = graph_pass::DirName(input_path);
  auto report = InspectModel(**model, o);
  if (report.ok()) {
    report->input_path = input_path;
    report->totals.peak_rss_bytes = graph_pass::PeakRssBytes();
  }
  return report;
}

absl::StatusOr<RewriteReport> RewriteFile(const std::string& input_path,
                                          const std::string& output_path,
                                          const RewriteOptions& options) {
  const auto start = Clock::now();
  if (output_path.empty()) return absl::InvalidArgumentError("no output path given");
  if (graph_pass::SameFile(input_path, output_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("output '", output_path, "' is the input model '", input_path,
                     "' (the input is never modified; choose another output)"));
  }
  auto loaded = graph_pass::LoadModelFile(input_path);
  if (!loaded.ok()) return loaded.status();
  onnx::ModelProto& model = **loaded;
  RewriteOptions o = options;
  o.base_dir = graph_pass::DirName(input_path);
  ExternalDataReader ext(o.base_dir);
  Rewriter rw(&model, o, &ext);
  if (auto s = rw.Analyze(); !s.ok()) return s;
  rw.FillPredictedTotals();

  // Decide the output layout and check everything that could fail before writing a byte.
  if (auto s = CheckAllExternal(&model, &ext, rw.first_user()); !s.ok()) return s;
  const bool external = o.external_data == ExternalDataMode::kAlways || rw.HasExternalTensors() ||
                        rw.EstimatedInlineBytes() > o.inline_limit_bytes;
  const std::string data_location = graph_pass::BaseName(output_path) + ".data";
  const std::string data_path = graph_pass::DirName(output_path) + "/" + data_location;
  if (external) {
    if (graph_pass::IsOneOf(data_path, ext.OpenedFiles()) ||
        graph_pass::SameFile(data_path, input_path)) {
      return absl::InvalidArgumentError(
          absl::StrCat("output data file '", data_path,
                       "' is a file of the input model; choose another output name"));
    }
  }

  std::unique_ptr<graph_pass::TempFile> data_file;
  std::unique_ptr<ExternalDataWriter> writer;
  if (external) {
    auto f = graph_pass::TempFile::Create(data_path);
    if (!f.ok()) return f.status();
    data_file = *std::move(f);
    writer = std::make_unique<ExternalDataWriter>(data_file.get(), data_location);
  }
  auto model_file = graph_pass::TempFile::Create(output_path);
  if (!model_file.ok()) return model_file.status();

  if (auto s = rw.Execute(writer.get(), /*free_sources=*/true); !s.ok()) return s;
  rw.Mutate();
  if (writer) {
    if (auto s = rw.MoveRemainingToExternal(writer.get()); !s.ok()) return s;
  }
  rw.FillFinalTotals();
  if (auto s = WriteModelProto(model, model_file->get()); !s.ok()) return s;
  if (data_file) {
    if (auto s = data_file->Commit(); !s.ok()) return s;
  }
  if (auto s = (*model_file)->Commit(); !s.ok()) return s;

  RewriteReport report = std::move(rw.report());
  report.input_path = input_path;
  report.output_path = output_path;
  if (external) report.external_data_path = data_path;
  report.totals.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  report.totals.peak_rss_bytes = graph_pass::PeakRssBytes();
  return report;
}

}  // namespace fp8ops
