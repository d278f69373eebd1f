#include "ops/cpu/quantize_fp8.h"

#include <algorithm>

#include "ops/cpu/dispatch.h"

namespace fp8ops::cpu {

void QuantizeFp8(const reference::QuantizeProblem& p, int64_t row_begin, int64_t row_end, Isa isa) {
  const QuantizeFp8Kernels* kt = QuantizeKernelsFor(isa);
  if (kt == nullptr || p.k == 0) {
    reference::QuantizeFp8(p, row_begin, row_end);
    return;
  }
  QuantizeRowsArgs a;
  a.k = p.k;
  a.x = p.x;
  a.x_type = static_cast<int32_t>(p.x_type);
  a.group = EffectiveBlock(p.k, p.block_size);
  a.ngroups = NumBlocks(p.k, p.block_size);
  a.params = &p.params;
  a.static_scale = p.static_scale;
  a.static_scale_count = p.static_scale_count;
  a.y = p.y;
  a.y_scale = p.y_scale;
  kt->quantize_rows(&a, row_begin, row_end);
}

absl::Status QuantizeFp8Rows(const reference::QuantizeProblem& p, Isa isa, ParallelFn parallel) {
  const int64_t rows_per_task =
      std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(1, p.k));
  return parallel(static_cast<size_t>((p.rows + rows_per_task - 1) / rows_per_task), [&](size_t t) {
    const int64_t r0 = static_cast<int64_t>(t) * rows_per_task;
    QuantizeFp8(p, r0, std::min(p.rows, r0 + rows_per_task), isa);
  });
}

}  // namespace fp8ops::cpu
