#include "ops/cpu/quantize_fp8.h"

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

}  // namespace fp8ops::cpu
