#include "ops/reference/reference_kernels.h"

#include <algorithm>
#include <vector>

namespace fp8ops::reference {

void QuantizeFp8(const QuantizeProblem& p, int64_t row_begin, int64_t row_end) {
  const int64_t g = EffectiveBlock(p.k, p.block_size);
  const int64_t ng = NumBlocks(p.k, p.block_size);
  const int esize = DTypeSize(p.x_type);
  std::vector<float> row(static_cast<size_t>(p.k));
  for (int64_t r = row_begin; r < row_end; ++r) {
    LoadAsFloat(static_cast<const char*>(p.x) + r * p.k * esize, p.x_type, p.k, row.data());
    for (int64_t b = 0; b < ng; ++b) {
      const int64_t k0 = b * g;
      const int64_t len = std::min(g, p.k - k0);
      float s;
      if (p.static_scale == nullptr) {
        s = ScaleFromAmax(FiniteAbsMax(row.data() + k0, len), p.params);
      } else {
        s = p.static_scale_count == 1 ? p.static_scale[0] : p.static_scale[r * ng + b];
      }
      p.y_scale[r * ng + b] = s;
      QuantizeWithScale(row.data() + k0, len, s, p.params, p.y + r * p.k + k0);
    }
  }
}

QuantizeProblem FusedActivationQuantization(const void* a, DType a_type, int64_t rows, int64_t k,
                                            int64_t a_block, Fp8Format format, uint8_t* y,
                                            float* y_scale) {
  QuantizeProblem q;
  q.rows = rows;
  q.k = k;
  q.x = a;
  q.x_type = a_type;
  q.block_size = a_block;
  q.params = {format, /*saturate=*/true, /*scale_pow2=*/false};
  q.y = y;
  q.y_scale = y_scale;
  return q;
}

void DequantizeARow(const GemmProblem& p, int64_t m, float* a_row) {
  if (p.quantize_a) {  // QuantizeFP8 of row m, then that row as FP8 A
    std::vector<uint8_t> codes(static_cast<size_t>(p.k));
    std::vector<float> scales(static_cast<size_t>(NumBlocks(p.k, p.a_block)));
    QuantizeFp8(FusedActivationQuantization(
                    static_cast<const char*>(p.a) + m * p.k * DTypeSize(p.a_type), p.a_type, 1, p.k,
                    p.a_block, p.a_quant_format, codes.data(), scales.data()),
                0, 1);
    GemmProblem row = p;
    row.quantize_a = false;
    row.a = codes.data();
    row.a_type = ToDType(p.a_quant_format);
    row.a_scale = scales.data();
    DequantizeARow(row, 0, a_row);
    return;
  }
  if (IsFloatDType(p.a_type)) {
    LoadAsFloat(static_cast<const char*>(p.a) + m * p.k * DTypeSize(p.a_type), p.a_type, p.k,
                a_row);
    return;
  }
  const float* table = Fp8DecodeTable(ToFp8Format(p.a_type));
  const auto* codes = static_cast<const uint8_t*>(p.a) + m * p.k;
  const int64_t g = EffectiveBlock(p.k, p.a_block);
  const int64_t ng = NumBlocks(p.k, p.a_block);
  for (int64_t kk = 0; kk < p.k; ++kk) {
    a_row[kk] = table[codes[kk]] * p.a_scale[m * ng + kk / g];
  }
}

void DequantizeBRow(const GemmProblem& p, int64_t n, float* b_row) {
  const float* table = Fp8DecodeTable(p.b_format);
  const uint8_t* codes = p.b + n * p.k;
  const int64_t bn = EffectiveBlock(p.n, p.block_n);
  const int64_t bk = EffectiveBlock(p.k, p.block_k);
  const int64_t nbk = NumBlocks(p.k, p.block_k);
  const float* srow = p.b_scale + (n / bn) * nbk;
  for (int64_t kk = 0; kk < p.k; ++kk) b_row[kk] = table[codes[kk]] * srow[kk / bk];
}

void Fp8Gemm(const GemmProblem& p, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  if (m0 >= m1 || n0 >= n1) return;
  std::vector<float> a_rows(static_cast<size_t>((m1 - m0) * p.k));
  for (int64_t m = m0; m < m1; ++m) DequantizeARow(p, m, a_rows.data() + (m - m0) * p.k);
  std::vector<float> b_row(static_cast<size_t>(p.k));
  std::vector<float> bias(static_cast<size_t>(n1 - n0), 0.0f);
  if (p.bias != nullptr) {
    LoadAsFloat(static_cast<const char*>(p.bias) + n0 * DTypeSize(p.out_type), p.out_type,
                n1 - n0, bias.data());
  }
  const int osize = DTypeSize(p.out_type);
  for (int64_t n = n0; n < n1; ++n) {
    DequantizeBRow(p, n, b_row.data());
    for (int64_t m = m0; m < m1; ++m) {
      const float* a = a_rows.data() + (m - m0) * p.k;
      float acc = 0.0f;
      for (int64_t kk = 0; kk < p.k; ++kk) acc += a[kk] * b_row[kk];
      acc += bias[n - n0];
      StoreFromFloat(&acc, 1, p.out_type, static_cast<char*>(p.y) + (m * p.n + n) * osize);
    }
  }
}

void DequantizeFp8(const DequantizeProblem& p, int64_t row_begin, int64_t row_end) {
  const float* table = Fp8DecodeTable(p.format);
  std::vector<float> row(static_cast<size_t>(p.k));
  const int osize = DTypeSize(p.out_type);
  for (int64_t r = row_begin; r < row_end; ++r) {
    const uint8_t* codes = p.x + r * p.k;
    for (int64_t kk = 0; kk < p.k; ++kk) {
      float s;
      if (p.scale_count == 1) {
        s = p.scale[0];
      } else if (p.last_axis_groups) {
        s = p.scale[r * NumBlocks(p.k, p.block_size) + kk / EffectiveBlock(p.k, p.block_size)];
      } else {
        s = p.scale[(r / EffectiveBlock(p.rows, p.block_n)) * NumBlocks(p.k, p.block_k) +
                    kk / EffectiveBlock(p.k, p.block_k)];
      }
      row[kk] = table[codes[kk]] * s;
    }
    StoreFromFloat(row.data(), p.k, p.out_type, static_cast<char*>(p.y) + r * p.k * osize);
  }
}

}  // namespace fp8ops::reference
