#include "models/demo/model_tools.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fp8ops/dtype.h"
#include "fp8ops/float16.h"
#include "graph_pass/model_io.h"

namespace fp8ops::demo {
namespace {

constexpr int kFloat = 1, kFloat16 = 10;

// Elements of a tensor (0 when its dims are invalid: such a tensor holds no weights).
int64_t NumElements(const onnx::TensorProto& t) {
  return graph_pass::TensorNumElements(t).value_or(0);
}

int64_t TensorBytes(const onnx::TensorProto& t) {
  return NumElements(t) * OnnxElementSize(t.data_type());
}

std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

int64_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : -1;
}

std::string ExternalLocation(const onnx::TensorProto& t) {
  if (t.data_location() != onnx::TensorProto::EXTERNAL) return "";
  for (const auto& e : t.external_data()) {
    if (e.key() == "location") return e.value();
  }
  return "";
}

// Calls fn(tensor) for every initializer and Constant-node tensor of g and its subgraphs.
template <typename Fn>
void ForEachConstant(const onnx::GraphProto& g, Fn&& fn) {
  for (const auto& t : g.initializer()) fn(t);
  for (const auto& n : g.node()) {
    for (const auto& a : n.attribute()) {
      if (n.op_type() == "Constant" && a.has_t()) fn(a.t());
      if (a.has_g()) ForEachConstant(a.g(), fn);
      for (const auto& sg : a.graphs()) ForEachConstant(sg, fn);
    }
  }
}

const onnx::TensorProto* ConstantNodeTensor(const onnx::NodeProto& n) {
  if (n.op_type() != "Constant" || !n.domain().empty()) return nullptr;
  for (const auto& a : n.attribute()) {
    if (a.name() == "value" && a.has_t()) return &a.t();
  }
  return nullptr;
}

// Reads a tensor's float32 values (raw_data, float_data, or already inlined external data).
absl::StatusOr<std::vector<float>> FloatValues(const onnx::TensorProto& t) {
  const int64_t n = NumElements(t);
  std::vector<float> v(static_cast<size_t>(n));
  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    return absl::UnimplementedError(
        absl::StrCat("tensor '", t.name(), "' still has external data"));
  }
  if (t.has_raw_data()) {
    if (static_cast<int64_t>(t.raw_data().size()) != n * 4) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", t.name(), "': raw_data size mismatch"));
    }
    std::memcpy(v.data(), t.raw_data().data(), t.raw_data().size());
  } else {
    if (t.float_data_size() != n) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", t.name(), "': float_data size mismatch"));
    }
    for (int64_t i = 0; i < n; ++i) v[i] = t.float_data(static_cast<int>(i));
  }
  return v;
}

absl::Status ToFp16InPlace(onnx::TensorProto& t) {
  auto values = FloatValues(t);
  if (!values.ok()) return values.status();
  std::string raw(values->size() * 2, '\0');
  for (size_t i = 0; i < values->size(); ++i) {
    const uint16_t h = FloatToHalf((*values)[i]);
    std::memcpy(&raw[i * 2], &h, 2);
  }
  t.clear_float_data();
  t.set_raw_data(std::move(raw));
  t.set_data_type(kFloat16);
  return absl::OkStatus();
}

onnx::NodeProto MakeCast(const std::string& in, const std::string& out, int to,
                         const std::string& name) {
  onnx::NodeProto n;
  n.set_op_type("Cast");
  n.set_name(name);
  n.add_input(in);
  n.add_output(out);
  auto* a = n.add_attribute();
  a->set_name("to");
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(to);
  return n;
}

// Loads every external-data tensor of the main graph into raw_data (paths relative to `dir`).
absl::Status InlineExternalData(onnx::ModelProto& m, const std::string& dir) {
  auto inline_one = [&](onnx::TensorProto& t) -> absl::Status {
    if (t.data_location() != onnx::TensorProto::EXTERNAL) return absl::OkStatus();
    std::string location;
    int64_t offset = 0, length = -1;
    for (const auto& e : t.external_data()) {
      if (e.key() == "location") location = e.value();
      if (e.key() == "offset") offset = std::stoll(e.value());
      if (e.key() == "length") length = std::stoll(e.value());
    }
    if (length < 0) length = TensorBytes(t);
    std::ifstream f(dir + "/" + location, std::ios::binary);
    if (!f) return absl::NotFoundError(absl::StrCat("external data ", dir, "/", location));
    std::string raw(static_cast<size_t>(length), '\0');
    f.seekg(offset);
    f.read(raw.data(), length);
    if (f.gcount() != length)
      return absl::DataLossError(absl::StrCat("short external data for '", t.name(), "'"));
    t.clear_external_data();
    t.set_data_location(onnx::TensorProto::DEFAULT);
    t.set_raw_data(std::move(raw));
    return absl::OkStatus();
  };
  auto* g = m.mutable_graph();
  for (auto& t : *g->mutable_initializer()) {
    if (auto s = inline_one(t); !s.ok()) return s;
  }
  for (auto& n : *g->mutable_node()) {
    if (n.op_type() != "Constant") continue;
    for (auto& a : *n.mutable_attribute()) {
      if (a.has_t()) {
        if (auto s = inline_one(*a.mutable_t()); !s.ok()) return s;
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<onnx::ModelProto> LoadModel(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  onnx::ModelProto m;
  if (!m.ParseFromIstream(&f))
    return absl::InvalidArgumentError(absl::StrCat(path, " is not an ONNX model"));
  return m;
}

absl::StatusOr<ModelSummary> Summarize(const std::string& path) {
  auto model = LoadModel(path);
  if (!model.ok()) return model.status();
  ModelSummary s;
  s.file_bytes = FileSize(path);
  std::set<std::string> external_files;
  ForEachConstant(model->graph(), [&](const onnx::TensorProto& t) {
    s.constant_bytes += TensorBytes(t);
    const std::string loc = ExternalLocation(t);
    if (!loc.empty()) external_files.insert(loc);
  });
  for (const auto& f : external_files)
    s.file_bytes += std::max<int64_t>(0, FileSize(DirOf(path) + "/" + f));

  // GEMM weights of the main graph: resolve names to constants, through Casts.
  const auto& g = model->graph();
  std::map<std::string, int64_t> const_bytes;
  for (const auto& t : g.initializer()) const_bytes[t.name()] = TensorBytes(t);
  std::map<std::string, std::string> alias;  // Cast output -> constant name
  for (const auto& n : g.node()) {
    if (const auto* t = ConstantNodeTensor(n); t != nullptr && n.output_size() == 1) {
      const_bytes[n.output(0)] = TensorBytes(*t);
    }
    if (n.op_type() == "Cast" && n.input_size() == 1 && const_bytes.count(n.input(0))) {
      alias[n.output(0)] = n.input(0);
    }
    const std::string key = n.domain().empty() ? n.op_type() : n.domain() + ":" + n.op_type();
    s.op_counts[key]++;
  }
  std::set<std::string> weights;
  auto add = [&](const std::string& name) {
    const std::string& c = alias.count(name) ? alias[name] : name;
    if (const_bytes.count(c)) weights.insert(c);
  };
  for (const auto& n : g.node()) {
    if ((n.op_type() == "MatMul" || n.op_type() == "Gemm") && n.domain().empty() &&
        n.input_size() > 1) {
      add(n.input(1));
    } else if (n.op_type() == "FP8GEMM" && n.input_size() > 3) {
      add(n.input(2));
      add(n.input(3));
    }
  }
  for (const auto& w : weights) s.gemm_weight_bytes += const_bytes[w];
  return s;
}

absl::StatusOr<Fp16Stats> ConvertToFp16(onnx::ModelProto& model, int64_t min_elements) {
  auto* g = model.mutable_graph();
  Fp16Stats stats;
  auto eligible = [&](const onnx::TensorProto& t) {
    return t.data_type() == kFloat && NumElements(t) >= min_elements;
  };
  // Converted constants: original name -> float16 name.
  std::map<std::string, std::string> fp16_name;
  for (const auto& t : g->initializer()) {
    if (eligible(t)) fp16_name[t.name()] = t.name() + "_fp16";
  }
  for (const auto& n : g->node()) {
    if (const auto* t = ConstantNodeTensor(n);
        t != nullptr && n.output_size() == 1 && eligible(*t)) {
      fp16_name[n.output(0)] = n.output(0) + "_fp16";
    }
  }
  auto is_fp16_gemm = [&](const onnx::NodeProto& n) {
    return (n.op_type() == "MatMul" || n.op_type() == "Gemm") && n.domain().empty() &&
           n.input_size() >= 2 && fp16_name.count(n.input(1)) > 0;
  };
  // Which converted constants still need a float32 view (a consumer other than a fp16 GEMM's B /
  // C).
  std::set<std::string> needs_fp32;
  for (const auto& n : g->node()) {
    const bool gemm = is_fp16_gemm(n);
    for (int i = 0; i < n.input_size(); ++i) {
      if (!fp16_name.count(n.input(i))) continue;
      if (gemm && (i == 1 || i == 2)) continue;
      needs_fp32.insert(n.input(i));
    }
    for (const auto& a : n.attribute()) {
      if (a.has_g() || a.graphs_size() > 0) {
        // Subgraphs may read outer-scope names: keep a float32 view of everything for them.
        for (const auto& [name, unused] : fp16_name) needs_fp32.insert(name);
      }
    }
  }
  for (const auto& o : g->output()) {
    if (fp16_name.count(o.name())) needs_fp32.insert(o.name());
  }

  google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
  for (auto& t : *g->mutable_initializer()) {
    if (!fp16_name.count(t.name())) continue;
    const std::string orig = t.name();
    if (auto s = ToFp16InPlace(t); !s.ok()) return s;
    t.set_name(fp16_name[orig]);
    ++stats.constants_converted;
    if (needs_fp32.count(orig))
      *nodes.Add() = MakeCast(fp16_name[orig], orig, kFloat, orig + "_to_fp32");
  }
  // NOTE: an initializer may also be declared as a graph input (IR < 4 style); the renamed float16
  // tensor no longer matches that input, so drop such inputs (the float32 name now comes from a
  // Cast).
  {
    google::protobuf::RepeatedPtrField<onnx::ValueInfoProto> inputs;
    for (const auto& in : g->input()) {
      if (!fp16_name.count(in.name())) *inputs.Add() = in;
    }
    g->mutable_input()->Swap(&inputs);
  }
  for (auto& n : *g->mutable_node()) {
    if (const auto* t = ConstantNodeTensor(n);
        t != nullptr && n.output_size() == 1 && fp16_name.count(n.output(0))) {
      const std::string orig = n.output(0);
      for (auto& a : *n.mutable_attribute()) {
        if (a.name() == "value") {
          if (auto s = ToFp16InPlace(*a.mutable_t()); !s.ok()) return s;
        }
      }
      n.set_output(0, fp16_name[orig]);
      *nodes.Add() = n;
      ++stats.constants_converted;
      if (needs_fp32.count(orig))
        *nodes.Add() = MakeCast(fp16_name[orig], orig, kFloat, orig + "_to_fp32");
      continue;
    }
    if (!is_fp16_gemm(n)) {
      *nodes.Add() = n;
      continue;
    }
    // A float16 GEMM between float32 neighbours.
    const std::string base = n.name().empty() ? n.output(0) : n.name();
    const std::string a16 = base + "_a_fp16";
    *nodes.Add() = MakeCast(n.input(0), a16, kFloat16, base + "_cast_a");
    n.set_input(0, a16);
    n.set_input(1, fp16_name[n.input(1)]);
    if (n.input_size() > 2 && !n.input(2).empty()) {
      if (fp16_name.count(n.input(2))) {
        n.set_input(2, fp16_name[n.input(2)]);
      } else {
        const std::string c16 = base + "_c_fp16";
        *nodes.Add() = MakeCast(n.input(2), c16, kFloat16, base + "_cast_c");
        n.set_input(2, c16);
      }
    }
    const std::string out = n.output(0);
    n.set_output(0, out + "_fp16");
    *nodes.Add() = n;
    *nodes.Add() = MakeCast(out + "_fp16", out, kFloat, base + "_cast_y");
    ++stats.gemms_in_fp16;
  }
  g->mutable_node()->Swap(&nodes);
  return stats;
}

absl::Status ConvertFileToFp16(const std::string& in, const std::string& out, Fp16Stats* stats) {
  auto model = LoadModel(in);
  if (!model.ok()) return model.status();
  if (auto s = InlineExternalData(*model, DirOf(in)); !s.ok()) return s;
  auto st = ConvertToFp16(*model);
  if (!st.ok()) return st.status();
  if (stats != nullptr) *stats = *st;
  const std::string tmp = out + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f || !model->SerializeToOstream(&f)) {
      std::remove(tmp.c_str());
      return absl::InternalError(
          absl::StrCat("cannot write ", tmp, " (models over 2 GB need external data)"));
    }
  }
  if (std::rename(tmp.c_str(), out.c_str()) != 0)
    return absl::InternalError(absl::StrCat("cannot rename to ", out));
  return absl::OkStatus();
}

}  // namespace fp8ops::demo
