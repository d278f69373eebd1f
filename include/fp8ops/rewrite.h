// The offline rewrite: MatMul / Gemm nodes with a constant 2-D weight become fp8ops custom ops.
//
//   W8A8 (default):  X -> QuantizeFP8 -> FP8GEMM(Xq, Xs, W_fp8, W_fp8_scale[, bias]) -> Y
//   weight-only:     X -> FP8GEMM(X, "", W_fp8, W_fp8_scale[, bias]) -> Y
//
// The weight is transposed once to [N, K] (MatMul's B is [K, N]; Gemm transB=1 is already [N, K]),
// quantized with fp8ops::QuantizeBlocks2D and stored as two initializers, `<w>_fp8` (FP8 [N, K])
// and `<w>_fp8_scale` (float32 [ceil(N / block_n), ceil(K / block_k)]). FP8GEMM's `out_type` is the
// original node's element type, so the graph's outputs keep their types. Nodes inside subgraphs
// (If / Loop / Scan) are rewritten too, weights from an outer scope included; a weight shared by
// several nodes is quantized once; an original weight still used by another node is kept; weights
// orphaned by the rewrite (initializers or Constant nodes) are removed. The model gets the `fp8ops`
// opset import (version 1) and ir_version >= 9. Every MatMul / Gemm that is not rewritten is left
// as it was and the report says why. Rewriting a rewritten model changes nothing.
//
// The file API streams: a model's graph is held in memory, but external weights are read one at a
// time when they are quantized and FP8 tensors are written to the output's data file as they are
// made. Outputs appear atomically (temporary file in the same folder, then rename).
#ifndef FP8OPS_REWRITE_H_
#define FP8OPS_REWRITE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "fp8ops/fp8.h"

namespace onnx {
class ModelProto;
}  // namespace onnx

namespace fp8ops {

enum class RewriteRecipe {
  kW8A8,        // QuantizeFP8 (dynamic activation scales) -> FP8GEMM
  kWeightOnly,  // FP8GEMM on the float activations
};

enum class ExternalDataMode {
  kAuto,    // external data when the input has external data or the output would pass 2 GB
  kAlways,  // tensors of at least external_threshold_bytes go to `<OUT>.data`
};

struct RewriteOptions {
  RewriteRecipe recipe = RewriteRecipe::kW8A8;
  Fp8Format weight_format = Fp8Format::kE4M3FN;
  Fp8Format activation_format = Fp8Format::kE4M3FN;
  // Weight blocks over [N, K]; 0 spans the whole dimension: 128x128 (default), tensor = 0x0,
  // channel = 1x0, 1x128.
  int64_t block_n = 128;
  int64_t block_k = 128;
  // Activation groups along K (QuantizeFP8 block_size / FP8GEMM a_block); 0 = one scale per row.
  // Must equal block_k when both are > 0.
  int64_t activation_block = 128;
  // W8A8 only: a projection that is the only rewritten reader of its activation quantizes it
  // itself (FP8GEMM attribute a_quant_type) instead of reading a QuantizeFP8 node's codes. Same
  // outputs; one node less, and on Hopper no quantization launch at decode (M = 1). Activations
  // read by several projections (q/k/v, gate/up) keep one shared QuantizeFP8.
  bool fuse_activation_quant = false;
  // ECMAScript regular expressions searched in node names (a partial match counts; anchor with
  // ^...$ for whole names). Empty include = every node; empty exclude = none.
  std::string include_regex;
  std::string exclude_regex;
  // Leave the last projection of the main graph that feeds a graph output (through no other
  // MatMul / Gemm), e.g. an LLM's lm_head, in high precision.
  bool keep_last = false;
  // Weights with fewer elements than this stay as they are.
  int64_t min_elements = 0;
  ExternalDataMode external_data = ExternalDataMode::kAuto;
  // In external-data outputs, tensors with at least this many bytes go to the data file.
  int64_t external_threshold_bytes = 1024;
  // kAuto: an output whose inline protobuf would pass this many bytes gets external data. The
  // default stays 64 MiB under protobuf's 2^31 - 1 limit (lower it only to test the switch).
  int64_t inline_limit_bytes = (int64_t{1} << 31) - (int64_t{64} << 20);
  // Quantization threads; 0 = std::thread::hardware_concurrency().
  int num_threads = 0;
  // Progress lines on stderr (at most one every ~2 s, none for runs shorter than that).
  bool progress = false;
  // Folder that relative external-data locations are resolved against, for RewriteModel and
  // InspectModel (the file API uses the input model's folder). Empty: external data is refused.
  std::string base_dir;
};

// Checks option values and combinations (block sizes >= 0, activation_block == block_k when both
// are blocked, regexes that compile).
absl::Status ValidateRewriteOptions(const RewriteOptions& options);

// Parsers for the CLI spellings: "128x128" / "tensor" / "channel" / "1x128" / "NxK";
// "128" / "row" / "N"; "e4m3" / "e4m3fn" / "e5m2"; "w8a8" / "weight-only".
absl::Status ParseWeightBlock(const std::string& text, int64_t* block_n, int64_t* block_k);
absl::Status ParseActivationBlock(const std::string& text, int64_t* block);
absl::Status ParseFp8FormatName(const std::string& text, Fp8Format* format);
absl::Status ParseRecipe(const std::string& text, RewriteRecipe* recipe);

struct NodeReport {
  enum class Action { kRewritten, kSkipped, kAlreadyFp8 };
  Action action = Action::kSkipped;
  std::string graph;   // "main", or the path of a subgraph: "main/<node>:<attribute>"
  std::string node;    // node name
  std::string op;      // MatMul, Gemm or FP8GEMM
  std::string reason;  // why the node was skipped (empty when rewritten)

  // Weight (when the node has a constant B): name, stored shape and element type.
  std::string weight;
  std::vector<int64_t> weight_shape;
  std::string weight_dtype;
  // Activation (A) shape where the graph declares it: dims as text, "?" where unknown.
  std::vector<std::string> activation_shape;
  int64_t k = 0, n = 0;

  // Rewritten nodes only.
  std::string recipe;             // "w8a8" or "weight-only"
  std::string weight_format;      // "E4M3FN" / "E5M2"
  std::string activation_format;  // "" for weight-only
  int64_t block_n = 0, block_k = 0, activation_block = 0;
  std::string fp8_weight;  // name of the FP8 initializer
  bool shared = false;     // the FP8 weight also serves an earlier node (quantized once)
  // Weight quantization error over finite elements (every 8th row of weights over 4M elements):
  // ||w - dequant(q)|| / ||w|| and
  // 10 log10(||w||^2 / ||w - dequant(q)||^2). -1 when not computed (inspect); SQNR is +inf when
  // the quantization is exact.
  double weight_rel_rms = -1;
  double weight_sqnr_db = -1;
  int64_t bytes_before = 0;  // the original weight
  int64_t bytes_after = 0;   // FP8 codes + float32 scales
};

struct RewriteTotals {
  int64_t nodes_rewritten = 0;
  int64_t nodes_skipped = 0;
  int64_t nodes_already_fp8 = 0;
  int64_t weights_quantized = 0;  // distinct weights
  // Quantized weights only (each counted once): original bytes, FP8 codes + scales.
  int64_t quantized_bytes_before = 0;
  int64_t quantized_bytes_after = 0;
  // Every constant tensor of the model (initializers and Constant nodes, all graphs).
  int64_t weight_bytes_before = 0;
  int64_t weight_bytes_after = 0;
  int64_t fp8_bytes_after = 0;  // bytes of FP8 tensors in the output
  double fp8_share = 0;         // fp8_bytes_after / weight_bytes_after
  double seconds = 0;           // wall time of the rewrite
  int64_t peak_rss_bytes = 0;   // peak resident memory of the process (file API; 0 if unknown)
};

struct RewriteReport {
  bool dry_run = false;                                     // inspect: nothing was written
  std::string input_path, output_path, external_data_path;  // file API only
  std::vector<NodeReport> nodes;  // in graph order, subgraphs after their parent node
  RewriteTotals totals;
};

// In memory: rewrites `model` in place; every new tensor is stored inline. Weights held as
// external data are read relative to options.base_dir; untouched external tensors stay external.
absl::StatusOr<RewriteReport> RewriteModel(onnx::ModelProto& model, const RewriteOptions& options);

// What RewriteModel would do, without quantizing (no error statistics) or changing anything.
absl::StatusOr<RewriteReport> InspectModel(const onnx::ModelProto& model,
                                           const RewriteOptions& options);

// Files: reads `input_path` (external data relative to its folder; absolute locations and
// locations that leave the folder are refused), writes `output_path` (and `<output_path>.data`
// when the output uses external data). Refuses output == input (also through other paths or
// links). On error nothing is left at the output paths.
absl::StatusOr<RewriteReport> RewriteFile(const std::string& input_path,
                                          const std::string& output_path,
                                          const RewriteOptions& options);
absl::StatusOr<RewriteReport> InspectFile(const std::string& input_path,
                                          const RewriteOptions& options);

// The report as JSON (one object, stable key order) and as a fixed-width table for a terminal.
std::string ReportToJson(const RewriteReport& report);
std::string ReportToTable(const RewriteReport& report);

}  // namespace fp8ops

#endif  // FP8OPS_REWRITE_H_
