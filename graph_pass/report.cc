// The rewrite report as JSON and as a table.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "fp8ops/rewrite.h"

namespace fp8ops {
namespace {

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          out += b;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string JsonNumber(double v) {
  if (!std::isfinite(v)) return "null";  // JSON has no Inf/NaN (an exact quantization: SQNR +inf)
  char b[32];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

const char* ActionName(NodeReport::Action a) {
  switch (a) {
    case NodeReport::Action::kRewritten:
      return "rewritten";
    case NodeReport::Action::kAlreadyFp8:
      return "already_fp8";
    default:
      return "skipped";
  }
}

std::string Bytes(int64_t b) {
  char buf[32];
  if (b < 1024) {
    std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(b));
  } else if (b < (int64_t{1} << 20)) {
    std::snprintf(buf, sizeof buf, "%.1f KiB", b / 1024.0);
  } else if (b < (int64_t{1} << 30)) {
    std::snprintf(buf, sizeof buf, "%.1f MiB", b / 1048576.0);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f GiB", b / 1073741824.0);
  }
  return buf;
}

std::string Shape(const std::vector<std::string>& dims) {
  return dims.empty() ? "?" : absl::StrCat("[", absl::StrJoin(dims, ","), "]");
}

std::string BlockText(int64_t n, int64_t k) {
  if (n == 0 && k == 0) return "tensor";
  if (n == 1 && k == 0) return "channel";
  return absl::StrCat(n, "x", k);
}

}  // namespace

std::string ReportToJson(const RewriteReport& r) {
  std::string j = "{\n";
  absl::StrAppend(&j, "  \"dry_run\": ", r.dry_run ? "true" : "false", ",\n");
  absl::StrAppend(&j, "  \"input\": ", JsonString(r.input_path), ",\n");
  absl::StrAppend(&j, "  \"output\": ", JsonString(r.output_path), ",\n");
  absl::StrAppend(&j, "  \"external_data\": ", JsonString(r.external_data_path), ",\n");
  j += "  \"nodes\": [";
  for (size_t i = 0; i < r.nodes.size(); ++i) {
    const NodeReport& n = r.nodes[i];
    j += i == 0 ? "\n" : ",\n";
    absl::StrAppend(&j, "    {\"graph\": ", JsonString(n.graph), ", \"node\": ", JsonString(n.node),
                    ", \"op\": ", JsonString(n.op), ", \"action\": \"", ActionName(n.action), "\"");
    if (!n.reason.empty()) absl::StrAppend(&j, ", \"reason\": ", JsonString(n.reason));
    if (!n.weight.empty()) {
      absl::StrAppend(&j, ", \"weight\": ", JsonString(n.weight), ", \"weight_shape\": [",
                      absl::StrJoin(n.weight_shape, ", "),
                      "], \"weight_dtype\": ", JsonString(n.weight_dtype));
    }
    if (!n.activation_shape.empty()) {
      std::vector<std::string> dims;
      for (const auto& d : n.activation_shape) dims.push_back(JsonString(d));
      absl::StrAppend(&j, ", \"activation_shape\": [", absl::StrJoin(dims, ", "), "]");
    }
    if (n.k > 0 || n.n > 0) absl::StrAppend(&j, ", \"k\": ", n.k, ", \"n\": ", n.n);
    if (n.bytes_before > 0) absl::StrAppend(&j, ", \"bytes_before\": ", n.bytes_before);
    if (n.action == NodeReport::Action::kRewritten) {
      absl::StrAppend(&j, ", \"bytes_after\": ", n.bytes_after,
                      ", \"recipe\": ", JsonString(n.recipe),
                      ", \"weight_format\": ", JsonString(n.weight_format), ", \"weight_block\": [",
                      n.block_n, ", ", n.block_k, "]");
      if (!n.activation_format.empty()) {
        absl::StrAppend(&j, ", \"activation_format\": ", JsonString(n.activation_format),
                        ", \"activation_block\": ", n.activation_block);
      }
      absl::StrAppend(&j, ", \"fp8_weight\": ", JsonString(n.fp8_weight),
                      ", \"shared\": ", n.shared ? "true" : "false");
      if (n.weight_rel_rms >= 0) {
        absl::StrAppend(&j, ", \"weight_rel_rms\": ", JsonNumber(n.weight_rel_rms),
                        ", \"weight_sqnr_db\": ", JsonNumber(n.weight_sqnr_db));
      }
    }
    j += "}";
  }
  j += r.nodes.empty() ? "],\n" : "\n  ],\n";
  const RewriteTotals& t = r.totals;
  absl::StrAppend(
      &j, "  \"totals\": {\"nodes_rewritten\": ", t.nodes_rewritten,
      ", \"nodes_skipped\": ", t.nodes_skipped, ", \"nodes_already_fp8\": ", t.nodes_already_fp8,
      ", \"weights_quantized\": ", t.weights_quantized,
      ", \"quantized_bytes_before\": ", t.quantized_bytes_before,
      ", \"quantized_bytes_after\": ", t.quantized_bytes_after,
      ", \"weight_bytes_before\": ", t.weight_bytes_before,
      ", \"weight_bytes_after\": ", t.weight_bytes_after,
      ", \"fp8_bytes_after\": ", t.fp8_bytes_after, ", \"fp8_share\": ", JsonNumber(t.fp8_share),
      ", \"seconds\": ", JsonNumber(t.seconds), ", \"peak_rss_bytes\": ", t.peak_rss_bytes,
      "}\n}\n");
  return j;
}

std::string ReportToTable(const RewriteReport& r) {
  bool subgraphs = false;
  for (const auto& n : r.nodes) subgraphs |= n.graph != "main";
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = {"node",          "op",      "A",       "weight", "action",
                                     "format/blocks", "rel.RMS", "SQNR dB", "bytes",  "reason"};
  if (subgraphs) header.insert(header.begin(), "graph");
  rows.push_back(header);
  for (const auto& n : r.nodes) {
    std::vector<std::string> row;
    if (subgraphs) row.push_back(n.graph);
    row.push_back(n.node.empty() ? "(unnamed)" : n.node);
    row.push_back(n.op);
    row.push_back(Shape(n.activation_shape));
    row.push_back(n.weight.empty() ? "-"
                                   : absl::StrCat(n.weight_dtype, " [",
                                                  absl::StrJoin(n.weight_shape, ","), "]"));
    if (n.action == NodeReport::Action::kRewritten) {
      row.push_back(r.dry_run ? "eligible" : (n.shared ? "FP8 (shared)" : "FP8"));
      std::string f = absl::StrCat("W ", n.weight_format, " ", BlockText(n.block_n, n.block_k));
      if (!n.activation_format.empty()) {
        absl::StrAppend(&f, ", A ", n.activation_format, " ",
                        n.activation_block == 0 ? "row" : absl::StrCat("/", n.activation_block));
      }
      row.push_back(f);
      char b[32];
      if (n.weight_rel_rms >= 0) {
        std::snprintf(b, sizeof b, "%.4f", n.weight_rel_rms);
        row.push_back(b);
        if (std::isfinite(n.weight_sqnr_db)) {
          std::snprintf(b, sizeof b, "%.1f", n.weight_sqnr_db);
          row.push_back(b);
        } else {
          row.push_back("inf");
        }
      } else {
        row.push_back("-");
        row.push_back("-");
      }
      row.push_back(absl::StrCat(Bytes(n.bytes_before), " -> ", Bytes(n.bytes_after)));
      row.push_back("");
    } else {
      row.push_back(n.action == NodeReport::Action::kAlreadyFp8 ? "already FP8" : "skip");
      row.push_back("-");
      row.push_back("-");
      row.push_back("-");
      row.push_back(n.bytes_before > 0 ? Bytes(n.bytes_before) : "-");
      row.push_back(n.reason);
    }
    rows.push_back(std::move(row));
  }
  std::vector<size_t> width(header.size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  const RewriteTotals& t = r.totals;
  char share[32];
  std::snprintf(share, sizeof share, "%.1f%%", 100.0 * t.fp8_share);
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.2f s", t.seconds);
  absl::StrAppend(&out, "\n", r.dry_run ? "would rewrite " : "rewritten: ", t.nodes_rewritten,
                  " node(s), ", t.weights_quantized,
                  " distinct weight(s); skipped: ", t.nodes_skipped,
                  "; already FP8: ", t.nodes_already_fp8, "\n");
  absl::StrAppend(&out, "quantized weights: ", Bytes(t.quantized_bytes_before), " -> ",
                  Bytes(t.quantized_bytes_after), "\n");
  absl::StrAppend(&out, "all constant tensors: ", Bytes(t.weight_bytes_before), " -> ",
                  Bytes(t.weight_bytes_after), " (", share, " FP8)",
                  r.dry_run ? " (predicted)" : "", "; ", secs);
  if (t.peak_rss_bytes > 0) absl::StrAppend(&out, ", peak memory ", Bytes(t.peak_rss_bytes));
  out += "\n";
  if (!r.output_path.empty()) {
    absl::StrAppend(&out, "wrote ", r.output_path);
    if (!r.external_data_path.empty()) absl::StrAppend(&out, " + ", r.external_data_path);
    out += "\n";
  }
  return out;
}

}  // namespace fp8ops
