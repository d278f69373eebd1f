#include "ops/cpu/fp8_gemm.h"

#include <algorithm>
#include <cstring>

#ifdef __linux__
#include <sys/mman.h>
#endif

#include "fp8ops/quantize.h"
#include "ops/cpu/dispatch.h"
#include "ops/reference/reference_kernels.h"

namespace fp8ops::cpu {
namespace {

constexpr int64_t kTileKcF32 = 256;   // K rows of a float32 B tile (32 KiB at nr = 32)
constexpr int64_t kTileKcBf16 = 512;  // K rows of a bf16 B tile (32 KiB at nr = 32)
constexpr int64_t kMaxRowsPerTask = 256;
constexpr int64_t kTileColsPerTask = 128;

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t RoundUp(int64_t a, int64_t b) { return CeilDiv(a, b) * b; }

// 64-byte aligned; large arrays (packed weights) in 2 MiB aligned huge-page-advised memory, so
// that streaming them from DRAM does not walk page tables every 4 KiB.
template <typename T>
std::unique_ptr<T, FreeDeleter> AlignedArray(int64_t count) {
  constexpr int64_t kHuge = int64_t{2} << 20;
  const int64_t bytes = std::max<int64_t>(count, 1) * static_cast<int64_t>(sizeof(T));
  if (bytes < 2 * kHuge) {
    return std::unique_ptr<T, FreeDeleter>(
        static_cast<T*>(std::aligned_alloc(64, static_cast<size_t>(RoundUp(bytes, 64)))));
  }
  void* p = std::aligned_alloc(kHuge, static_cast<size_t>(RoundUp(bytes, kHuge)));
#ifdef __linux__
  if (p != nullptr) (void)madvise(p, static_cast<size_t>(RoundUp(bytes, kHuge)), MADV_HUGEPAGE);
#endif
  return std::unique_ptr<T, FreeDeleter>(static_cast<T*>(p));
}

// True when a K block length `block` (0 = all of K) keeps the packed K index equal to the
// original one, i.e. only the last block may need padding.
bool BlockFits(int64_t block, int64_t k, int kgroup) {
  return block <= 0 || block >= k || block % kgroup == 0;
}

// Scratch buffers reused by the tasks a thread runs.
std::vector<float>& ThreadScratchF32(int which) {
  thread_local std::vector<float> buf[2];
  return buf[which];
}
std::vector<uint32_t>& ThreadScratchU32() {
  thread_local std::vector<uint32_t> buf;
  return buf;
}

// Writes y[0:n] (row of Y, columns c0..c0+n) = v + bias, rounded to the output type.
void StoreRow(const float* v, const float* bias, int64_t n, DType out_type, void* y) {
  float tmp[64];
  for (int64_t j0 = 0; j0 < n; j0 += 64) {
    const int64_t len = std::min<int64_t>(64, n - j0);
    for (int64_t j = 0; j < len; ++j) tmp[j] = v[j0 + j] + (bias ? bias[j0 + j] : 0.0f);
    StoreFromFloat(tmp, len, out_type, static_cast<char*>(y) + j0 * DTypeSize(out_type));
  }
}

absl::Status ReferenceGemm(const PackedB& b, const GemmInput& in, ParallelFn parallel) {
  reference::GemmProblem p;
  p.m = in.m;
  p.n = b.n;
  p.k = b.k;
  p.a = in.a;
  p.a_type = in.a_type;
  p.a_scale = in.a_scale;
  p.a_block = in.a_block;
  p.b = b.rowmajor.data();
  p.b_format = b.format;
  p.b_scale = b.b_scale.data();
  p.block_n = b.block_n;
  p.block_k = b.block_k;
  p.bias = in.bias;
  p.out_type = in.out_type;
  p.y = in.y;
  const int64_t mt = CeilDiv(p.m, 32), nt = CeilDiv(p.n, 64);
  return parallel(static_cast<size_t>(mt * nt), [&](size_t t) {
    const int64_t i = static_cast<int64_t>(t) / nt, j = static_cast<int64_t>(t) % nt;
    reference::Fp8Gemm(p, i * 32, std::min(p.m, i * 32 + 32), j * 64, std::min(p.n, j * 64 + 64));
  });
}

}  // namespace

absl::Status RunSerial(size_t n, absl::FunctionRef<void(size_t)> task) {
  for (size_t i = 0; i < n; ++i) task(i);
  return absl::OkStatus();
}

size_t PackedB::MemoryBytes() const {
  return static_cast<size_t>(npanels * kpad * nr) + static_cast<size_t>(npanels * nseg_b * nr) * 4 +
         (flags ? static_cast<size_t>(npanels * kpad / kgroup) : 0) + rowmajor.size() +
         b_scale.size() * 4;
}

std::unique_ptr<PackedB> PackB(const PackBSource& src, Isa isa, ParallelFn parallel) {
  auto out = std::make_unique<PackedB>();
  while (!IsaSupported(isa)) isa = static_cast<Isa>(static_cast<int>(isa) - 1);
  PackedB& pb = *out;
  pb.n = src.n;
  pb.k = src.k;
  pb.format = src.format;
  pb.block_n = src.block_n;
  pb.block_k = src.block_k;
  const Fp8GemmKernels* kt = GemmKernelsFor(isa);
  if (kt != nullptr &&
      !(BlockFits(src.block_k, src.k, kt->kgroup) && BlockFits(src.a_block, src.k, kt->kgroup))) {
    kt = nullptr;
  }
  const int64_t nbn = NumBlocks(src.n, src.block_n), nbk = NumBlocks(src.k, src.block_k);
  if (kt == nullptr) {
    pb.isa = Isa::kScalar;
    pb.rowmajor.assign(src.b, src.b + src.n * src.k);
    pb.b_scale.assign(src.b_scale, src.b_scale + src.b_scale_count);
    return out;
  }
  pb.isa = isa;
  pb.nr = kt->nr;
  pb.kgroup = kt->kgroup;
  pb.kpad = RoundUp(src.k, kt->kgroup);
  pb.npanels = CeilDiv(src.n, kt->nr);
  pb.kseg_b = std::max<int64_t>(1, EffectiveBlock(src.k, src.block_k));
  pb.nseg_b = nbk;
  pb.codes = AlignedArray<uint8_t>(pb.npanels * pb.kpad * pb.nr);
  pb.colscale = AlignedArray<float>(pb.npanels * pb.nseg_b * pb.nr);
  if (kt->uses_flags) pb.flags = AlignedArray<uint8_t>(pb.npanels * pb.kpad / pb.kgroup);
  const int64_t bn = std::max<int64_t>(1, EffectiveBlock(src.n, src.block_n));
  const bool scalar_scale = src.b_scale_count == 1 && nbn * nbk != 1;  // cannot happen if valid
  (void)parallel(static_cast<size_t>(pb.npanels), [&](size_t p) {
    const int64_t panel = static_cast<int64_t>(p);
    float* cs = pb.colscale.get() + panel * pb.nseg_b * pb.nr;
    for (int64_t s = 0; s < pb.nseg_b; ++s) {
      for (int i = 0; i < pb.nr; ++i) {
        const int64_t col = panel * pb.nr + i;
        float v = 0.0f;
        if (col < src.n) v = scalar_scale ? src.b_scale[0] : src.b_scale[(col / bn) * nbk + s];
        cs[s * pb.nr + i] = v;
      }
    }
    PackPanelArgs args;
    args.b = src.b;
    args.n = src.n;
    args.k = src.k;
    args.kpad = pb.kpad;
    args.format = static_cast<int32_t>(src.format);
    args.panel = panel;
    args.codes = pb.codes.get() + panel * pb.kpad * pb.nr;
    args.flags = pb.flags ? pb.flags.get() + panel * (pb.kpad / pb.kgroup) : nullptr;
    args.colscale = cs;
    args.nseg_b = pb.nseg_b;
    args.kseg_b = pb.kseg_b;
    kt->pack_panel(&args);
  });
  return out;
}

absl::Status Fp8Gemm(const PackedB& b, const GemmInput& in, ParallelFn parallel) {
  const int64_t M = in.m, N = b.n, K = b.k;
  if (M <= 0 || N <= 0) return absl::OkStatus();
  const int osize = DTypeSize(in.out_type);
  std::vector<float> bias(static_cast<size_t>(N), 0.0f);
  if (in.bias != nullptr) LoadAsFloat(in.bias, in.out_type, N, bias.data());
  const float* bias_ptr = in.bias != nullptr ? bias.data() : nullptr;
  if (K == 0) {
    for (int64_t m = 0; m < M; ++m) {
      StoreRow(bias.data(), nullptr, N, in.out_type, static_cast<char*>(in.y) + m * N * osize);
    }
    return absl::OkStatus();
  }
  const Fp8GemmKernels* kt = b.isa == Isa::kScalar ? nullptr : GemmKernelsFor(b.isa);
  if (kt == nullptr) return ReferenceGemm(b, in, parallel);

  const bool fp8_a = IsFp8DType(in.a_type);
  const bool use_bf16 = b.isa == Isa::kAvx512Bf16 && kt->gemv_bf16 != nullptr &&
                        (fp8_a || in.a_type == DType::kBFloat16);
  // Segment: the K range with one scale for A and for B in every column.
  int64_t seg = b.block_k > 0 ? b.block_k : (fp8_a && in.a_block > 0 ? in.a_block : K);
  if (seg >= K) seg = b.kpad;
  const int64_t nseg = CeilDiv(b.kpad, seg);
  const int64_t kpad = b.kpad;

  // ---- A in the kernels' format: float, or bf16 pairs (uint32); scales [M][nseg]. The GEMV
  // path reads rows ([M][kpad]); the tile path reads blocks of mr rows packed by K
  // ([M / mr][kpad][mr], zero rows at the end), so its broadcasts stream one contiguous block.
  const bool tile_path = M > kt->gemv_max_m;
  // The float tile path multiplies the scales in while decoding (B) and here (A); the others
  // scale per segment.
  const bool scaled_a = tile_path && !use_bf16;
  // Rows per microkernel call: kt->mr at most, balanced (M = 16 runs as 2 x 8, not 12 + 4).
  const int64_t mr = tile_path ? CeilDiv(M, CeilDiv(M, kt->mr)) : kt->mr;
  const int64_t mpad = tile_path ? RoundUp(M, mr) : M;
  std::vector<float> a32;
  std::vector<uint32_t> a16;
  if (use_bf16) {
    a16.assign(static_cast<size_t>(mpad * kpad / 2), 0u);
  } else {
    a32.assign(static_cast<size_t>(mpad * kpad), 0.0f);
  }
  std::vector<float> ascale(static_cast<size_t>(mpad * nseg), 1.0f);
  const int64_t na = fp8_a ? NumBlocks(K, in.a_block) : 0;
  const float* table = fp8_a ? Fp8DecodeTable(ToFp8Format(in.a_type)) : nullptr;
  const int64_t rows_per_prep = RoundUp(std::max<int64_t>(1, 16384 / kpad), tile_path ? mr : 1);
  auto prep = [&](size_t t) {
    const int64_t r0 = static_cast<int64_t>(t) * rows_per_prep;
    const int64_t r1 = std::min(M, r0 + rows_per_prep);
    std::vector<float>& row = ThreadScratchF32(0);
    row.resize(static_cast<size_t>(kpad));
    for (int64_t m = r0; m < r1; ++m) {
      if (fp8_a) {
        const float* as = in.a_scale + m * na;
        for (int64_t s = 0; s < nseg; ++s) ascale[m * nseg + s] = in.a_block > 0 ? as[s] : as[0];
        const uint8_t* src = static_cast<const uint8_t*>(in.a) + m * K;
        if (scaled_a) {
          // dequant(A) as the reference's DequantizeARow: code value * its group's scale.
          const int64_t g = EffectiveBlock(K, in.a_block);
          for (int64_t k0 = 0, j = 0; k0 < K; k0 += g, ++j) {
            const float sj = as[j];
            for (int64_t kk = k0; kk < std::min(K, k0 + g); ++kk) row[kk] = table[src[kk]] * sj;
          }
        } else {
          for (int64_t kk = 0; kk < K; ++kk) row[kk] = table[src[kk]];
        }
      } else {
        LoadAsFloat(static_cast<const char*>(in.a) + m * K * DTypeSize(in.a_type), in.a_type, K,
                    row.data());
      }
      std::fill(row.begin() + K, row.end(), 0.0f);
      const int64_t kstride = tile_path ? mr : 1;  // between consecutive K of one row
      if (use_bf16) {
        // Exact: FP8 and bfloat16 values are bfloat16 values; pairs (k, k + 1) in one uint32.
        uint32_t* dst =
            a16.data() + (tile_path ? (m / mr) * (kpad / 2) * mr + m % mr : m * (kpad / 2));
        for (int64_t kk = 0; kk < kpad; kk += 2) {
          uint32_t lo, hi;
          std::memcpy(&lo, &row[kk], 4);
          std::memcpy(&hi, &row[kk + 1], 4);
          dst[(kk / 2) * kstride] = (lo >> 16) | (hi & 0xFFFF0000u);
        }
      } else {
        float* dst = a32.data() + (tile_path ? (m / mr) * kpad * mr + m % mr : m * kpad);
        for (int64_t kk = 0; kk < kpad; ++kk) dst[kk * kstride] = row[kk];
      }
    }
  };
  if (auto s = parallel(static_cast<size_t>(CeilDiv(M, rows_per_prep)), prep); !s.ok()) return s;

  const int nr = b.nr;
  const int64_t panel_bytes = kpad * nr;
  auto panel_codes = [&](int64_t p) { return b.codes.get() + p * panel_bytes; };
  auto panel_scale = [&](int64_t p) { return b.colscale.get() + p * b.nseg_b * nr; };
  auto panel_flags = [&](int64_t p) -> const uint8_t* {
    return b.flags ? b.flags.get() + p * (kpad / b.kgroup) : nullptr;
  };
  char* y = static_cast<char*>(in.y);

  // ---- small M: stream B once per row group of up to gemv_max_m rows.
  if (!tile_path) {
    const int64_t group = std::max<int64_t>(1, std::min<int64_t>(8, b.npanels / 16));
    const int64_t ntasks = CeilDiv(b.npanels, group);
    return parallel(static_cast<size_t>(ntasks), [&](size_t t) {
      float yt[4 * 32];
      for (int64_t p = static_cast<int64_t>(t) * group;
           p < std::min(b.npanels, static_cast<int64_t>(t + 1) * group); ++p) {
        GemvArgs g;
        g.m = M;
        g.a =
            use_bf16 ? static_cast<const void*>(a16.data()) : static_cast<const void*>(a32.data());
        g.lda = kpad;
        g.ascale = ascale.data();
        g.ldas = nseg;
        g.codes = panel_codes(p);
        g.flags = panel_flags(p);
        g.colscale = panel_scale(p);
        g.kpad = kpad;
        g.seg = seg;
        g.kseg_b = b.kseg_b;
        g.format = static_cast<int32_t>(b.format);
        g.y = yt;
        (use_bf16 ? kt->gemv_bf16 : kt->gemv_f32)(&g);
        const int64_t c0 = p * nr, cols = std::min<int64_t>(nr, N - c0);
        for (int64_t m = 0; m < M; ++m) {
          StoreRow(yt + m * nr, bias_ptr ? bias_ptr + c0 : nullptr, cols, in.out_type,
                   y + (m * N + c0) * osize);
        }
      }
    });
  }

  // ---- larger M: decode a tile of B once, reuse it across the rows of the task.
  const int64_t nmb = CeilDiv(M, kMaxRowsPerTask);
  const int64_t mb = RoundUp(CeilDiv(M, nmb), mr);
  const int64_t group = std::max<int64_t>(1, kTileColsPerTask / nr);
  const int64_t npg = CeilDiv(b.npanels, group);
  const int64_t kc_max = use_bf16 ? kTileKcBf16 : kTileKcF32;
  return parallel(static_cast<size_t>(nmb * npg), [&](size_t t) {
    const int64_t m0 = (static_cast<int64_t>(t) / npg) * mb;
    const int64_t m1 = std::min(M, m0 + mb);
    const int64_t p0 = (static_cast<int64_t>(t) % npg) * group;
    const int64_t p1 = std::min(b.npanels, p0 + group);
    const int64_t rows = m1 - m0, ldc = (p1 - p0) * nr;
    std::vector<float>& c = ThreadScratchF32(0);
    c.assign(static_cast<size_t>(rows * ldc), 0.0f);
    std::vector<float>& tile32 = ThreadScratchF32(1);
    std::vector<uint32_t>& tile16 = ThreadScratchU32();
    if (use_bf16) {
      tile16.resize(static_cast<size_t>(kc_max / 2 * nr));
    } else {
      tile32.resize(static_cast<size_t>(kc_max * nr));
    }
    for (int64_t kc0 = 0; kc0 < kpad; kc0 += kc_max) {
      const int64_t kc1 = std::min(kpad, kc0 + kc_max);
      for (int64_t p = p0; p < p1; ++p) {
        float* cp = c.data() + (p - p0) * nr;
        if (!use_bf16) {
          kt->decode_f32(panel_codes(p), panel_flags(p), static_cast<int32_t>(b.format), kc0, kc1,
                         panel_scale(p), b.kseg_b, tile32.data());
          for (int64_t i0 = 0; i0 < rows; i0 += mr) {
            kt->gemm_f32(std::min(mr, rows - i0), kc1 - kc0,
                         a32.data() + (m0 + i0) * kpad + kc0 * mr, mr, tile32.data(), cp + i0 * ldc,
                         ldc);
          }
          continue;
        }
        kt->decode_bf16(panel_codes(p), panel_flags(p), static_cast<int32_t>(b.format), kc0, kc1,
                        tile16.data());
        for (int64_t i0 = 0; i0 < rows; i0 += mr) {
          const int64_t mm = std::min(mr, rows - i0);
          const int64_t row = m0 + i0;
          // One call per segment: each has its own scales.
          for (int64_t q0 = kc0; q0 < kc1;) {
            const int64_t s = q0 / seg;
            const int64_t q1 = std::min(kc1, (s + 1) * seg);
            kt->gemm_bf16(mm, q1 - q0, a16.data() + row * (kpad / 2) + q0 / 2 * mr, mr,
                          tile16.data() + (q0 - kc0) / 2 * nr,
                          panel_scale(p) + (q0 / b.kseg_b) * nr, ascale.data() + row * nseg + s,
                          nseg, cp + i0 * ldc, ldc);
            q0 = q1;
          }
        }
      }
    }
    const int64_t c0 = p0 * nr, cols = std::min(N, p1 * nr) - c0;
    for (int64_t m = m0; m < m1; ++m) {
      StoreRow(c.data() + (m - m0) * ldc, bias_ptr ? bias_ptr + c0 : nullptr, cols, in.out_type,
               y + (m * N + c0) * osize);
    }
  });
}

}  // namespace fp8ops::cpu
