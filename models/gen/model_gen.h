// Generators of the models that exercise the rewrite (tests, benchmarks, demos): a Llama-style
// decoder, a Gemm model, an If model with weights from the outer scope and in Constant nodes, and
// a model with shared weights. Weights are pseudo-random (a fixed seed gives the same bytes).
//
// The Llama-style decoder, per layer, as torch.onnx.export writes a Hugging Face Llama (eager
// attention, no rotary embedding, no mask, no KV cache):
//   x -> RMSNorm -> q/k/v projections (MatMul, constant weights) -> heads -> scores = q k^T
//     (activation x activation MatMul) * 1/sqrt(head_dim) -> Softmax -> probs v (activation x
//     activation) -> o_proj -> +x
//   x -> RMSNorm -> gate/up projections -> SiLU(gate) (Sigmoid, Mul) * up -> down_proj -> +x
// then (vocab > 0) a final RMSNorm and an lm_head projection to "logits"; else the output is
// "hidden". Every tensor is in the model's dtype (float32 or float16: input, output, weights,
// MatMuls, residual adds, attention, SiLU), except, as in HF's float16 models, the RMSNorm
// statistics and the Softmax, which compute in float32 behind Casts:
//   RMSNorm: [Cast to float32] -> Pow(., 2) -> ReduceMean(-1) -> Add(eps) -> Sqrt -> Div(1, .)
//            -> Mul(x, .) -> [Cast back] -> Mul(gamma, .)   (ONNX Runtime fuses it into
//                                                            SimplifiedLayerNormalization)
//   Softmax: [Cast to float32] -> Softmax -> [Cast back]
#ifndef FP8OPS_MODELS_GEN_MODEL_GEN_H_
#define FP8OPS_MODELS_GEN_MODEL_GEN_H_

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace fp8ops::models {

struct LlamaConfig {
  int64_t hidden = 256;
  int64_t heads = 4;
  int64_t intermediate = 688;  // MLP width
  int64_t layers = 2;
  int64_t vocab = 0;  // > 0: final norm + lm_head MatMul [hidden, vocab] -> "logits"
  int32_t dtype = 1;  // weights and activations: 1 (float32) or 10 (float16)
  bool weights_in_constant_nodes = false;  // weights as Constant nodes (as PaddleOCR's exports)
  // fp32 model whose weights are the float16-rounded values of the dtype=10 model with the same
  // seed (a float32 reference for it).
  bool round_weights_to_fp16 = false;
  uint64_t seed = 1;
};

// Graph input "x" [batch, seq, hidden]; output "logits" or "hidden"; both in `dtype`.
onnx::ModelProto MakeLlamaDecoder(const LlamaConfig& config);

// Writes a Llama-style decoder whose weights are in `path` + ".data" (external data, 64 KiB
// aligned), streaming: one weight is in memory at a time. Returns the bytes of weight data.
absl::Status WriteLlamaDecoderExternal(const LlamaConfig& config, const std::string& path,
                                       int64_t* weight_bytes = nullptr);

// x [batch, 64] -> Gemm(W1 [96, 64], C1 [96], transB=1, alpha=0.5) -> Relu
//   -> Gemm(W2 [96, 40], no C, transB=0) -> "y" [batch, 40]
//   and Gemm(W3 [40, 64] transB=1, C3 [40], beta=0.5) -> "z" (skipped: beta != 1). float32.
onnx::ModelProto MakeGemmModel(uint64_t seed = 3);

// Inputs x [batch, 48] float32, cond bool scalar. If(cond): then = MatMul(x, W_outer) (a weight
// of the outer graph); else = MatMul(x, W_inner) (initializer of the branch) + MatMul with a
// Constant-node weight. Output "y" [batch, 32]. W_outer is also used by a MatMul of the main
// graph ("y_main").
onnx::ModelProto MakeIfModel(uint64_t seed = 5);

// Inputs x [batch, 64] float32, ids [batch] int64. W_shared [64, 64] feeds two MatMuls (quantized
// once); W_emb [100, 64] feeds Gather (stays) and a tied lm_head Gemm(transB=1) (quantized).
// Output "logits" [batch, 100].
onnx::ModelProto MakeSharedWeightsModel(uint64_t seed = 7);

// Deterministic pseudo-random floats, uniform in [-bound, bound) (splitmix64).
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  float Uniform(float bound) {
    return bound * (static_cast<float>(Next() >> 40) * (2.0f / 16777216.0f) - 1.0f);
  }

 private:
  uint64_t s_;
};

}  // namespace fp8ops::models

#endif  // FP8OPS_MODELS_GEN_MODEL_GEN_H_
