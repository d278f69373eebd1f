#include "graph_pass/weight_quantizer.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <thread>

#include "fp8ops/float16.h"
#include "ops/cpu/dispatch.h"
#include "ops/cpu/quantize_fp8.h"
#include "ops/reference/reference_kernels.h"

namespace fp8ops::graph_pass {
namespace {

// float16 -> float32 for all 65536 codes, from fp8ops::HalfToFloat (256 KiB, built once).
const float* HalfTable() {
  static const float* table = [] {
    auto* t = new float[65536];
    for (uint32_t i = 0; i < 65536; ++i) t[i] = HalfToFloat(static_cast<uint16_t>(i));
    return t;
  }();
  return table;
}

// Rows [n0, n0 + rows) of the [n, k] result, in the source's element type, into dst ([rows, k]):
// a transpose of a [k, n] source (tiles of 16 source rows, so that every write fills a cache
// line), or a plain pointer into an [n, k] source (no copy).
template <typename T>
void TransposePanel(const T* src, int64_t n, int64_t k, int64_t n0, int64_t rows, T* dst) {
  constexpr int64_t kTile = 16;
  for (int64_t k0 = 0; k0 < k; k0 += kTile) {
    const int64_t kt = std::min(kTile, k - k0);
    for (int64_t j = 0; j < rows; ++j) {
      T* d = dst + j * k + k0;
      const T* s = src + k0 * n + n0 + j;
      for (int64_t t = 0; t < kt; ++t) d[t] = s[t * n];
    }
  }
}

const void* PanelRows(const WeightMatrix& w, int64_t n0, int64_t rows, std::vector<char>* buf) {
  const int es = DTypeSize(w.dtype);
  if (!w.transposed) return static_cast<const char*>(w.data) + n0 * w.k * es;
  buf->resize(static_cast<size_t>(rows * w.k * es));
  if (es == 4) {
    TransposePanel(static_cast<const uint32_t*>(w.data), w.n, w.k, n0, rows,
                   reinterpret_cast<uint32_t*>(buf->data()));
  } else {
    TransposePanel(static_cast<const uint16_t*>(w.data), w.n, w.k, n0, rows,
                   reinterpret_cast<uint16_t*>(buf->data()));
  }
  return buf->data();
}

// Finite max |x| of n elements of type t, as float. Works on the bit patterns: for non-negative
// IEEE values the integer order is the numeric order, and NaN / Inf patterns are masked out, so
// this equals fp8ops::FiniteAbsMax over the converted values (loops the compiler vectorizes).
float FiniteAbsMaxOf(const void* x, DType t, int64_t n) {
  if (t == DType::kFloat) {
    const auto* u = static_cast<const int32_t*>(x);
    int32_t m = 0;
    for (int64_t i = 0; i < n; ++i) {
      const int32_t a = u[i] & 0x7FFFFFFF;
      m = std::max(m, a < 0x7F800000 ? a : 0);
    }
    float f;
    std::memcpy(&f, &m, sizeof f);
    return f;
  }
  const auto* u = static_cast<const int16_t*>(x);
  const int16_t inf = t == DType::kFloat16 ? 0x7C00 : 0x7F80;
  int16_t m = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int16_t a = static_cast<int16_t>(u[i] & 0x7FFF);
    m = std::max(m, a < inf ? a : static_cast<int16_t>(0));
  }
  const uint16_t bits = static_cast<uint16_t>(m);
  return t == DType::kFloat16 ? HalfToFloat(bits) : Bf16ToFloat(bits);
}

// Adds the squared signal and error of rows of a panel (finite elements only). `scale_of(r, j)`
// gives the scale of row r, K block j.
template <typename ScaleOf>
void MeasureRows(const void* x, DType t, const uint8_t* codes, int64_t rows, int64_t k, int64_t bk,
                 int64_t nbk, int64_t row_step, const float* table, ScaleOf scale_of,
                 double* signal, double* error) {
  const float* half = t == DType::kFloat16 ? HalfTable() : nullptr;
  double s2 = 0, e2 = 0;
  for (int64_t r = 0; r < rows; r += row_step) {
    const uint8_t* cr = codes + r * k;
    for (int64_t j = 0; j < nbk; ++j) {
      const float s = scale_of(r, j);
      const int64_t k0 = j * bk, k1 = std::min(k, k0 + bk);
      float bs = 0, be = 0;  // float partial sums per block, double across blocks
      for (int64_t i = k0; i < k1; ++i) {
        const int64_t at = r * k + i;
        float v;
        if (t == DType::kFloat) {
          v = static_cast<const float*>(x)[at];
        } else if (half != nullptr) {
          v = half[static_cast<const uint16_t*>(x)[at]];
        } else {
          v = Bf16ToFloat(static_cast<const uint16_t*>(x)[at]);
        }
        if (!std::isfinite(v)) continue;
        const float e = v - table[cr[i]] * s;
        bs += v * v;
        be += e * e;
      }
      s2 += bs;
      e2 += be;
    }
  }
  *signal += s2;
  *error += e2;
}

template <typename Fn>
void ParallelFor(int64_t count, int threads, Fn fn) {
  const int t = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, count)));
  std::atomic<int64_t> next{0};
  auto worker = [&](int tid) {
    for (int64_t i = next++; i < count; i = next++) fn(tid, i);
  };
  std::vector<std::thread> pool;
  for (int i = 1; i < t; ++i) pool.emplace_back(worker, i);
  worker(0);
  for (auto& th : pool) th.join();
}

// Encodes rows with given scales: QuantizeFP8's kernels (ops/cpu, bit-exact with
// fp8ops::QuantizeWithScale) in static-scale mode, groups of bk along K.
void EncodeRows(const void* x, DType t, int64_t rows, int64_t k, int64_t bk,
                const Fp8QuantParams& p, const std::vector<float>& row_scales, uint8_t* codes,
                std::vector<float>* scratch) {
  reference::QuantizeProblem q;
  q.rows = rows;
  q.k = k;
  q.x = x;
  q.x_type = t;
  q.block_size = bk;
  q.params = p;
  q.static_scale = row_scales.data();
  q.static_scale_count = static_cast<int64_t>(row_scales.size());
  q.y = codes;
  scratch->resize(row_scales.size());
  q.y_scale = scratch->data();
  cpu::QuantizeFp8(q, 0, rows, cpu::ActiveIsa());
}

}  // namespace

void QuantizeWeight(const WeightMatrix& w, int64_t block_n, int64_t block_k,
                    const Fp8QuantParams& p, int threads, QuantizedWeight* out,
                    int64_t measure_row_step) {
  const int64_t n = w.n, k = w.k;
  const int64_t bk = EffectiveBlock(k, block_k), nbk = NumBlocks(k, block_k);
  const int64_t nbn = NumBlocks(n, block_n);
  out->codes.resize(static_cast<size_t>(n * k));  // every code is written below
  out->scales.assign(static_cast<size_t>(nbn * nbk), 1.0f);
  out->signal_sq = out->error_sq = 0;
  if (n == 0 || k == 0) return;
  measure_row_step = std::max<int64_t>(1, measure_row_step);

  const float* table = Fp8DecodeTable(p.format);
  const int es = DTypeSize(w.dtype);
  // Panels of whole row blocks, about 256 rows (a transposing read then takes 512-byte runs of
  // each source row of 16-bit values).
  constexpr int64_t kPanel = 256;
  const int64_t panel =
      block_n > 0 ? (block_n >= kPanel ? block_n : block_n * (kPanel / block_n)) : kPanel;
  const int64_t panels = (n + panel - 1) / panel;
  if (n * k < (int64_t{1} << 16)) threads = 1;  // not worth a thread
  const int nt = std::max(1, threads);
  struct Scratch {
    std::vector<char> rows;
    std::vector<float> row_scales, out_scales;
  };
  std::vector<Scratch> scratch(static_cast<size_t>(nt));
  std::vector<double> sig(static_cast<size_t>(panels), 0.0), err(static_cast<size_t>(panels), 0.0);
  auto* codes = reinterpret_cast<uint8_t*>(out->codes.data());
  const DType t = w.dtype;

  // Block scales: per (row block, K block) when block_n > 0, computed panel by panel; otherwise
  // one pass over all panels first (a block spans every row).
  std::vector<float> amax;
  if (block_n <= 0) {
    amax.assign(static_cast<size_t>(panels * nbk), 0.0f);
    ParallelFor(panels, nt, [&](int tid, int64_t pi) {
      const int64_t n0 = pi * panel, rows = std::min(panel, n - n0);
      const char* x = static_cast<const char*>(PanelRows(w, n0, rows, &scratch[tid].rows));
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t j = 0; j < nbk; ++j) {
          const int64_t k0 = j * bk, len = std::min(bk, k - k0);
          float& a = amax[static_cast<size_t>(pi * nbk + j)];
          a = std::max(a, FiniteAbsMaxOf(x + (r * k + k0) * es, t, len));
        }
      }
    });
    for (int64_t j = 0; j < nbk; ++j) {
      float a = 0.0f;
      for (int64_t pi = 0; pi < panels; ++pi)
        a = std::max(a, amax[static_cast<size_t>(pi * nbk + j)]);
      out->scales[static_cast<size_t>(j)] = ScaleFromAmax(a, p);
    }
  }

  ParallelFor(panels, nt, [&](int tid, int64_t pi) {
    Scratch& sc = scratch[static_cast<size_t>(tid)];
    const int64_t n0 = pi * panel, rows = std::min(panel, n - n0);
    const char* x = static_cast<const char*>(PanelRows(w, n0, rows, &sc.rows));
    // Scale rows of this panel's blocks (block_n > 0), then one scale per (row, K block).
    const int64_t row_block = block_n > 0 ? block_n : rows + 1;
    float* block_scales = out->scales.data() + (block_n > 0 ? (n0 / block_n) * nbk : 0);
    if (block_n > 0) {
      const int64_t nb = NumBlocks(rows, block_n);
      for (int64_t b = 0; b < nb; ++b) {
        const int64_t r0 = b * block_n, r1 = std::min(rows, r0 + block_n);
        for (int64_t j = 0; j < nbk; ++j) {
          const int64_t k0 = j * bk, len = std::min(bk, k - k0);
          float a = 0.0f;
          for (int64_t r = r0; r < r1; ++r)
            a = std::max(a, FiniteAbsMaxOf(x + (r * k + k0) * es, t, len));
          block_scales[b * nbk + j] = ScaleFromAmax(a, p);
        }
      }
    }
    sc.row_scales.resize(static_cast<size_t>(rows * nbk));
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t j = 0; j < nbk; ++j)
        sc.row_scales[r * nbk + j] = block_scales[(r / row_block) * nbk + j];
    }
    EncodeRows(x, t, rows, k, block_k, p, sc.row_scales, codes + n0 * k, &sc.out_scales);
    MeasureRows(
        x, t, codes + n0 * k, rows, k, bk, nbk, measure_row_step, table,
        [&](int64_t r, int64_t j) { return sc.row_scales[r * nbk + j]; }, &sig[pi], &err[pi]);
  });
  // Summed in panel order so that the statistics do not depend on thread timing.
  for (int64_t pi = 0; pi < panels; ++pi) {
    out->signal_sq += sig[pi];
    out->error_sq += err[pi];
  }
}

}  // namespace fp8ops::graph_pass
