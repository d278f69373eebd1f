// Helpers to build small ONNX models in C++ with the onnx protobuf library (tests and generators).
// libonnx 1.12 predates the FP8 enum names, so FP8 element types are set as integers 17 / 19.
#ifndef FP8OPS_TESTS_COMMON_MODEL_BUILDER_H_
#define FP8OPS_TESTS_COMMON_MODEL_BUILDER_H_

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace fp8ops::testing {

inline onnx::ModelProto NewModel(int64_t onnx_opset = 21, bool with_fp8ops = true) {
  onnx::ModelProto m;
  m.set_ir_version(9);
  m.set_producer_name("fp8ops-tests");
  auto* op = m.add_opset_import();
  op->set_domain("");
  op->set_version(onnx_opset);
  if (with_fp8ops) {
    op = m.add_opset_import();
    op->set_domain("fp8ops");
    op->set_version(1);
  }
  m.mutable_graph()->set_name("g");
  return m;
}

// dims: -1 = symbolic dimension named "d<i>"; elem_type 0 = leave the type unset.
inline void AddValueInfo(onnx::ValueInfoProto* vi, const std::string& name, int32_t elem_type,
                         const std::vector<int64_t>& dims, bool with_shape = true) {
  vi->set_name(name);
  if (elem_type == 0) return;
  auto* tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(elem_type);
  if (!with_shape) return;
  auto* shape = tt->mutable_shape();
  for (size_t i = 0; i < dims.size(); ++i) {
    auto* d = shape->add_dim();
    if (dims[i] < 0) {
      d->set_dim_param("d" + std::to_string(i));
    } else {
      d->set_dim_value(dims[i]);
    }
  }
}
inline void AddInput(onnx::ModelProto& m, const std::string& name, int32_t elem_type, const std::vector<int64_t>& dims) {
  AddValueInfo(m.mutable_graph()->add_input(), name, elem_type, dims);
}
inline void AddOutput(onnx::ModelProto& m, const std::string& name, int32_t elem_type = 0,
                      const std::vector<int64_t>& dims = {}) {
  AddValueInfo(m.mutable_graph()->add_output(), name, elem_type, dims, !dims.empty());
}

inline onnx::TensorProto MakeTensor(const std::string& name, int32_t elem_type, const std::vector<int64_t>& dims,
                                    const void* data, size_t bytes) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(elem_type);
  for (int64_t d : dims) t.add_dims(d);
  t.set_raw_data(std::string(static_cast<const char*>(data), bytes));
  return t;
}
template <typename T>
inline void AddInitializer(onnx::ModelProto& m, const std::string& name, int32_t elem_type,
                           const std::vector<int64_t>& dims, const std::vector<T>& values) {
  *m.mutable_graph()->add_initializer() = MakeTensor(name, elem_type, dims, values.data(), values.size() * sizeof(T));
}

struct Attr {
  std::string name;
  int64_t i = 0;
  enum Kind { kInt, kFloat, kString, kInts } kind = kInt;
  float f = 0;
  std::string s;
  std::vector<int64_t> ints;
  static Attr Int(std::string n, int64_t v) { Attr a; a.name = std::move(n); a.i = v; return a; }
  static Attr Float(std::string n, float v) { Attr a; a.name = std::move(n); a.kind = kFloat; a.f = v; return a; }
  static Attr String(std::string n, std::string v) { Attr a; a.name = std::move(n); a.kind = kString; a.s = std::move(v); return a; }
  static Attr Ints(std::string n, std::vector<int64_t> v) { Attr a; a.name = std::move(n); a.kind = kInts; a.ints = std::move(v); return a; }
};

inline onnx::NodeProto* AddNode(onnx::ModelProto& m, const std::string& op, const std::vector<std::string>& inputs,
                                const std::vector<std::string>& outputs, const std::vector<Attr>& attrs = {},
                                const std::string& domain = "", const std::string& name = "") {
  auto* n = m.mutable_graph()->add_node();
  n->set_op_type(op);
  n->set_domain(domain);
  n->set_name(name.empty() ? op + "_" + std::to_string(m.graph().node_size()) : name);
  for (const auto& i : inputs) n->add_input(i);
  for (const auto& o : outputs) n->add_output(o);
  for (const auto& a : attrs) {
    auto* ap = n->add_attribute();
    ap->set_name(a.name);
    switch (a.kind) {
      case Attr::kInt: ap->set_type(onnx::AttributeProto::INT); ap->set_i(a.i); break;
      case Attr::kFloat: ap->set_type(onnx::AttributeProto::FLOAT); ap->set_f(a.f); break;
      case Attr::kString: ap->set_type(onnx::AttributeProto::STRING); ap->set_s(a.s); break;
      case Attr::kInts:
        ap->set_type(onnx::AttributeProto::INTS);
        for (int64_t v : a.ints) ap->add_ints(v);
        break;
    }
  }
  return n;
}

inline std::string Serialize(const onnx::ModelProto& m) {
  std::string s;
  m.SerializeToString(&s);
  return s;
}

}  // namespace fp8ops::testing

#endif  // FP8OPS_TESTS_COMMON_MODEL_BUILDER_H_
