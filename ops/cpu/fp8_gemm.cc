#include "ops/cpu/fp8_gemm.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>

#include "fp8ops/quantize.h"
#include "ops/cpu/dispatch.h"
#include "ops/cpu/quantize_fp8.h"
#include "ops/reference/reference_kernels.h"

namespace fp8ops::cpu {
namespace {

constexpr int64_t kGemvRowsPerTask = 64;
constexpr int64_t kTileRowsPerTask = 48;   // B rows (multiple of the microkernels' mr)
constexpr int64_t kTileColsPerTask = 256;  // M columns
// K of one tile pass: as long as the A^T slice (all M columns of the task) and the decoded B tile
// stay in L2, so that B streams in long runs per row (short runs of many rows defeat the
// hardware prefetchers); at least kTileKcMin.
constexpr int64_t kTileABudget = 128 << 10;
constexpr int64_t kTileBBudget = 256 << 10;
constexpr int64_t kTileKcMin = 256;
constexpr int64_t kPrepChunksPerTask = 64;  // A preparation: chunks x 16 columns per task

int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t RoundUp(int64_t a, int64_t b) { return CeilDiv(a, b) * b; }

// Resizes v to hold n elements from a 64-byte aligned start and returns that start (full-vector
// loads then never straddle cache lines). Keeps no contents.
template <typename T>
T* Aligned(std::vector<T>& v, int64_t n, T fill) {
  constexpr int64_t kPad = 64 / sizeof(T);
  v.assign(static_cast<size_t>(n + kPad), fill);
  const auto addr = reinterpret_cast<uintptr_t>(v.data());
  return v.data() + ((64 - addr % 64) % 64) / sizeof(T);
}

// The same without filling: for scratch that is written before it is read (a thread's tiles),
// where clearing it on every task cost ~5% of a prefill's time.
template <typename T>
T* AlignedScratch(std::vector<T>& v, int64_t n) {
  constexpr int64_t kPad = 64 / sizeof(T);
  if (static_cast<int64_t>(v.size()) < n + kPad) v.resize(static_cast<size_t>(n + kPad));
  const auto addr = reinterpret_cast<uintptr_t>(v.data());
  return v.data() + ((64 - addr % 64) % 64) / sizeof(T);
}

// Scratch buffers reused by the tasks a thread runs.
std::vector<float>& ThreadScratchF32(int which) {
  thread_local std::vector<float> buf[3];
  return buf[which];
}
// n elements from a 64-byte aligned start of `buf`, left uninitialized: the preparation writes
// every element of A^T (padding columns included), so clearing it first was a wasted pass.
template <typename T>
T* AlignedUninit(std::unique_ptr<T[]>& buf, int64_t n) {
  constexpr int64_t kPad = 64 / sizeof(T);
  buf.reset(new T[static_cast<size_t>(n + kPad)]);
  const auto addr = reinterpret_cast<uintptr_t>(buf.get());
  return buf.get() + ((64 - addr % 64) % 64) / sizeof(T);
}
std::vector<uint16_t>& ThreadScratchU16() {
  thread_local std::vector<uint16_t> buf;
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

absl::Status ReferenceGemm(const PreparedB& b, const uint8_t* b_codes, const GemmInput& in,
                           ParallelFn parallel) {
  reference::GemmProblem p;
  p.m = in.m;
  p.n = b.n;
  p.k = b.k;
  p.a = in.a;
  p.a_type = in.a_type;
  p.a_scale = in.a_scale;
  p.a_block = in.a_block;
  p.b = b_codes;
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

// The segment length: one K block of B's scales and within one group of A's (a_block equals
// block_k when both are blocked, ops/common/op_validation.cc).
int64_t SegmentLength(int64_t k, int64_t block_k, int64_t a_block) {
  int64_t seg = block_k > 0 ? block_k : (a_block > 0 ? a_block : k);
  return std::max<int64_t>(1, std::min(seg, k));
}

BView ViewOf(const PreparedB& b, const uint8_t* codes) {
  BView v;
  v.b = codes;
  v.n = b.n;
  v.k = b.k;
  v.format = static_cast<int32_t>(b.format);
  v.seg = b.seg;
  v.nseg = b.nseg;
  v.cps = b.cps;
  v.flags = b.flags.empty() ? nullptr : b.flags.data();
  v.flag_stride = b.flag_stride;
  v.b_scale = b.b_scale.data();
  v.bn = b.bn;
  v.nbk = b.nbk;
  v.seg_kb = b.seg_kb.data();
  return v;
}

// bfloat16 bits of a float that is a bfloat16 value (FP8 values, bfloat16 activations).
uint16_t Bf16Bits(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  return static_cast<uint16_t>(u >> 16);
}

// bf16 dot-product instructions treat subnormal inputs as zero and flush subnormal results.
// Neither can happen when every nonzero activation is at least 2^-100 in magnitude: its products
// with FP8 weights (multiples of 2^-16 at the smallest) are then multiples of 2^-123, and so is
// every float32 partial sum (below 2^-100 such a sum is exact), so all of them are zero or
// normal. Calls with smaller activations (below 1e-30) take the FP32 FMA path. Reads 2 bytes a
// value once (0.16 ms for 512 x 4096 on the dev VM).
bool Bf16DotIsExact(const uint16_t* a, int64_t n) {
  constexpr uint16_t kMinMagnitude = 27 << 7;  // biased exponent of 2^-100
  auto tiny = [](uint16_t v) {
    const uint16_t mag = v & 0x7FFF;
    return static_cast<uint16_t>(mag != 0 && mag < kMinMagnitude);
  };
  uint16_t any = 0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {  // fixed-length blocks, which the compiler vectorizes
    uint16_t block = 0;
    for (int j = 0; j < 64; ++j) block |= tiny(a[i + j]);
    any |= block;
  }
  for (; i < n; ++i) any |= tiny(a[i]);
  return any == 0;
}

// Whether any of n activations (float, float16 or bfloat16) has magnitude >= limit; NaN does not
// count (it propagates the same way on every path). float16 stays below 65520.
bool AnyAbsAtLeast(const void* a, DType type, int64_t n, float limit) {
  if (type == DType::kFloat) {
    const float* f = static_cast<const float*>(a);
    bool any = false;
    for (int64_t i = 0; i < n; ++i) any |= std::fabs(f[i]) >= limit;
    return any;
  }
  if (type == DType::kBFloat16) {
    const uint16_t* h = static_cast<const uint16_t*>(a);
    uint32_t lim_bits = 0;
    std::memcpy(&lim_bits, &limit, sizeof lim_bits);
    const uint16_t lim = static_cast<uint16_t>(lim_bits >> 16);  // limit is a power of two
    bool any = false;
    for (int64_t i = 0; i < n; ++i) {
      const uint16_t mag = h[i] & 0x7FFF;
      any |= mag >= lim && mag <= 0x7F80;  // up to Inf, NaN excluded
    }
    return any;
  }
  return false;
}

}  // namespace

void GemvScaleProducts(const BView& b, const float* ascale, int64_t m_rows, int64_t blk,
                       int64_t s0, int64_t s1, float factor, float* prod) {
  const float* bs = b.b_scale + blk * b.nbk;
  for (int64_t m = 0; m < m_rows; ++m) {
    float* pr = prod + m * b.nseg;
    const float* as = ascale + m * b.nseg;
    for (int64_t s = s0; s < s1; ++s) pr[s] = bs[b.seg_kb[s]] * as[s] * factor;
  }
}

absl::Status RunSerial(size_t n, absl::FunctionRef<void(size_t)> task) {
  for (size_t i = 0; i < n; ++i) task(i);
  return absl::OkStatus();
}

size_t PreparedB::MemoryBytes() const {
  return sizeof(PreparedB) + seg_kb.size() * sizeof(int32_t) + b_scale.size() * sizeof(float) +
         flags.size();
}

std::unique_ptr<PreparedB> PrepareB(const BSource& src, Isa isa, ParallelFn parallel,
                                    bool one_call) {
  auto out = std::make_unique<PreparedB>();
  while (!IsaSupported(isa)) isa = static_cast<Isa>(static_cast<int>(isa) - 1);
  PreparedB& pb = *out;
  pb.n = src.n;
  pb.k = src.k;
  pb.format = src.format;
  pb.block_n = src.block_n;
  pb.block_k = src.block_k;
  pb.a_block = src.a_block;
  pb.b_scale.assign(src.b_scale, src.b_scale + src.b_scale_count);
  const Fp8GemmKernels* kt = GemmKernelsFor(isa);
  if (kt == nullptr || src.k == 0) {
    pb.isa = kt == nullptr ? Isa::kScalar : isa;
    return out;
  }
  pb.isa = isa;
  if (isa >= Isa::kAvx512 && IsaSupported(Isa::kAvx512Bf16)) {
    pb.gemv_bf16_max_m = Bf16DotSlowerThanFma() ? 1 : std::numeric_limits<int64_t>::max();
  }
  pb.chunk = kt->chunk;
  pb.seg = SegmentLength(src.k, src.block_k, src.a_block);
  pb.nseg = CeilDiv(src.k, pb.seg);
  pb.cps = CeilDiv(pb.seg, pb.chunk);
  pb.bn = std::max<int64_t>(1, EffectiveBlock(src.n, src.block_n));
  pb.nbk = NumBlocks(src.k, src.block_k);
  if (src.b_scale_count == 1) pb.nbk = 1;  // per tensor
  const int64_t kseg_b = std::max<int64_t>(1, EffectiveBlock(src.k, src.block_k));
  pb.seg_kb.resize(static_cast<size_t>(pb.nseg));
  for (int64_t s = 0; s < pb.nseg; ++s) {
    pb.seg_kb[s] = src.b_scale_count == 1 ? 0 : static_cast<int32_t>(s * pb.seg / kseg_b);
  }
  // An exact decoder: no flags, B not read here. Optional flags: not worth a pass for one call,
  // nor where the decode they enable did not measure faster on this CPU.
  if (kt->flag_rows == nullptr || (kt->flags_optional && (one_call || !GemvArithDecodeFaster()))) {
    return out;
  }
  pb.flag_stride = CeilDiv(pb.nseg * pb.cps, 8);
  pb.flags.assign(static_cast<size_t>(pb.n * pb.flag_stride), 0);
  const BView view = ViewOf(pb, src.b);
  constexpr int64_t kRowsPerTask = 64;
  (void)parallel(static_cast<size_t>(CeilDiv(pb.n, kRowsPerTask)), [&](size_t t) {
    const int64_t r0 = static_cast<int64_t>(t) * kRowsPerTask;
    kt->flag_rows(&view, r0, std::min(pb.n, r0 + kRowsPerTask), pb.flags.data());
  });
  return out;
}

absl::Status Fp8Gemm(const PreparedB& b, const uint8_t* b_codes, const GemmInput& in,
                     ParallelFn parallel) {
  if (in.quantize_a && in.m > 0 && b.n > 0 && b.k > 0) {
    // QuantizeFP8's own kernels into M x K codes and their scales (small enough to be read
    // back from the caches by the product), then the W8A8 path.
    std::vector<uint8_t> codes(static_cast<size_t>(in.m * b.k));
    std::vector<float> scales(static_cast<size_t>(in.m * NumBlocks(b.k, in.a_block)));
    const auto q = reference::FusedActivationQuantization(
        in.a, in.a_type, in.m, b.k, in.a_block, in.a_quant_format, codes.data(), scales.data());
    if (auto s = QuantizeFp8Rows(q, b.isa, parallel); !s.ok()) return s;
    GemmInput w8a8 = in;
    w8a8.quantize_a = false;
    w8a8.a = codes.data();
    w8a8.a_type = ToDType(in.a_quant_format);
    w8a8.a_scale = scales.data();
    return Fp8Gemm(b, b_codes, w8a8, parallel);
  }
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
  if (kt == nullptr) return ReferenceGemm(b, b_codes, in, parallel);

  const bool fp8_a = IsFp8DType(in.a_type);
  // Every segment must lie within one group of A's scales.
  if (fp8_a && in.a_block > 0 && in.a_block < K && in.a_block % b.seg != 0) {
    return absl::InvalidArgumentError("FP8GEMM: a_block differs from the one B was prepared for");
  }
  // Activations too large for the GEMV's scaled decoding (kernel_abi.h; only with flags) take
  // the tile path.
  const bool tile_path =
      M > kt->gemv_max_m || (!fp8_a && kt->gemv_max_abs_a > 0.0f && !b.flags.empty() &&
                             AnyAbsAtLeast(in.a, in.a_type, M * K, kt->gemv_max_abs_a));
  // bf16 dot products (vdpbf16ps, TDPBF16PS) for FP8 or bfloat16 activations: on the tile paths
  // where the level has them, on the GEMV up to PreparedB::gemv_bf16_max_m; bfloat16 ones only
  // where that is exact float32 arithmetic (Bf16DotIsExact).
  const bool bf16_isa = (tile_path ? b.isa == Isa::kAvx512Bf16 || b.isa == Isa::kAvx512Amx
                                   : M <= b.gemv_bf16_max_m) &&
                        kt->gemv_bf16 != nullptr;
  const bool use_bf16 =
      bf16_isa && (fp8_a || (in.a_type == DType::kBFloat16 &&
                             Bf16DotIsExact(static_cast<const uint16_t*>(in.a), M * K)));
  const int64_t nseg = b.nseg, cps = b.cps, chunk = b.chunk;
  const int64_t nchunks = nseg * cps, kp = nchunks * chunk;  // K' (segments padded to chunks)
  const uint8_t* order = use_bf16 ? kt->a_order_bf16 : kt->a_order_f32;
  const BView view = ViewOf(b, b_codes);
  char* y = static_cast<char*>(in.y);
  const int64_t vec = kt->vec;
  const int64_t mpad = tile_path ? RoundUp(M, vec) : M;
  // A's scale per (row, segment): ascale[m * nseg + s] (tile path: transposed, [s][mpad]).
  const int64_t na = fp8_a ? NumBlocks(K, in.a_block) : 0;
  auto a_scale_of = [&](int64_t m, int64_t s) -> float {
    if (!fp8_a) return 1.0f;
    return in.a_block > 0 && in.a_block < K ? in.a_scale[m * na + s * b.seg / in.a_block]
                                            : in.a_scale[m * na];
  };
  const float* table = fp8_a ? Fp8DecodeTable(ToFp8Format(in.a_type)) : nullptr;
  const int asize = fp8_a ? 1 : DTypeSize(in.a_type);
  // Where chunk gi lies in a row of A: its segment, first K index and length (<= chunk, >= 0).
  struct ChunkSpan {
    int64_t s, k0, len;
  };
  auto span_of = [&](int64_t gi) {
    const int64_t s = gi / cps, c = gi % cps;
    return ChunkSpan{
        s, s * b.seg + c * chunk,
        std::max<int64_t>(0, std::min<int64_t>(chunk, std::min(b.seg, K - s * b.seg) - c * chunk))};
  };
  // Chunk gi of row m in K order as float, zero past its segment (times A's scale if `scaled`).
  auto load_chunk = [&](int64_t m, int64_t gi, bool scaled, float* v) {
    const auto [s, k0, len] = span_of(gi);
    if (fp8_a) {
      const uint8_t* src = static_cast<const uint8_t*>(in.a) + m * K + k0;
      const float sc = scaled ? a_scale_of(m, s) : 1.0f;
      for (int64_t j = 0; j < len; ++j) v[j] = scaled ? table[src[j]] * sc : table[src[j]];
    } else if (len > 0) {
      LoadAsFloat(static_cast<const char*>(in.a) + (m * K + k0) * asize, in.a_type, len, v);
    }
    std::fill(v + len, v + chunk, 0.0f);
  };

  // The same as bfloat16 bits, for the bf16 kernels (FP8 and bfloat16 values are exact in
  // bfloat16): without the float round trip, as the tile path prepares M x K of them.
  uint16_t bf16_of_code[256] = {};
  if (use_bf16 && fp8_a) {
    for (int c = 0; c < 256; ++c) bf16_of_code[c] = Bf16Bits(table[c]);
  }
  auto bf16_chunk = [&](int64_t m, int64_t gi, uint16_t* h) {
    const ChunkSpan sp = span_of(gi);
    if (fp8_a) {
      const uint8_t* src = static_cast<const uint8_t*>(in.a) + m * K + sp.k0;
      for (int64_t j = 0; j < sp.len; ++j) h[j] = bf16_of_code[src[j]];
    } else if (sp.len > 0) {
      std::memcpy(h, static_cast<const uint16_t*>(in.a) + m * K + sp.k0, sp.len * sizeof(uint16_t));
    }
    std::fill(h + sp.len, h + chunk, uint16_t{0});
  };

  if (!tile_path) {
    // ---- small M: A rows [M][K'] in the GEMV decoder's order, B streamed once.
    // The GEMV's own order where it decodes with flags; without them (kernel_abi.h) the tiles'.
    const uint8_t* gemv_order = use_bf16 ? kt->gemv_order_bf16 : kt->gemv_order_f32;
    if (gemv_order == nullptr || b.flags.empty()) gemv_order = order;
    std::vector<float> a32_buf;
    std::vector<uint16_t> a16_buf;
    uint16_t* a16 = use_bf16 ? Aligned<uint16_t>(a16_buf, M * kp, 0) : nullptr;
    float* a32 = use_bf16 ? nullptr : Aligned(a32_buf, M * kp, 0.0f);
    std::vector<float> ascale(static_cast<size_t>(M * nseg));
    float v[64];
    for (int64_t m = 0; m < M; ++m) {
      for (int64_t s = 0; s < nseg; ++s) ascale[m * nseg + s] = a_scale_of(m, s);
      for (int64_t gi = 0; gi < nchunks; ++gi) {
        if (use_bf16) {
          uint16_t h[64];
          bf16_chunk(m, gi, h);
          uint16_t* dst = a16 + m * kp + gi * chunk;
          for (int64_t j = 0; j < chunk; ++j) dst[j] = h[gemv_order[j]];
        } else {
          load_chunk(m, gi, false, v);
          float* dst = a32 + m * kp + gi * chunk;
          for (int64_t j = 0; j < chunk; ++j) dst[j] = v[gemv_order[j]];
        }
      }
    }
    // K slabs whose A rows take two thirds of L1 (the rest: B's lines in flight). Measured (Xeon,
    // 48 KiB L1, K = N = 4096, float32 A): M = 8 1.56 ms with 32 KiB slabs against 2.51 ms with
    // none, 1.80 ms with 16 KiB (bench/results/cpu_xeon_2t_2026-12-07_gemv_slab.md).
    const int64_t a_esize = use_bf16 ? 2 : 4;
    const int64_t slab =
        std::max<int64_t>(1, L1DataCacheBytes() * 2 / 3 / (M * a_esize * cps * chunk));
    const int64_t ntasks = CeilDiv(N, kGemvRowsPerTask);
    return parallel(static_cast<size_t>(ntasks), [&](size_t t) {
      float yt[8 * kGemvRowsPerTask];
      GemvArgs g;
      g.b = &view;
      g.r0 = static_cast<int64_t>(t) * kGemvRowsPerTask;
      g.r1 = std::min(N, g.r0 + kGemvRowsPerTask);
      g.m = M;
      g.a = use_bf16 ? static_cast<const void*>(a16) : static_cast<const void*>(a32);
      g.lda = kp;
      g.ascale = ascale.data();
      g.y = yt;
      g.ldy = kGemvRowsPerTask;
      std::vector<float>& scratch = ThreadScratchF32(0);
      scratch.resize(static_cast<size_t>(kt->gemv_scratch * M * nseg));
      g.scratch = scratch.data();
      g.slab = slab;
      (use_bf16 ? kt->gemv_bf16 : kt->gemv_f32)(&g);
      for (int64_t m = 0; m < M; ++m) {
        StoreRow(yt + m * kGemvRowsPerTask, bias_ptr ? bias_ptr + g.r0 : nullptr, g.r1 - g.r0,
                 in.out_type, y + (m * N + g.r0) * osize);
      }
    });
  }

  // ---- larger M: C^T = B * A^T. A^T in the decoder's order, packed in panels of nvw columns
  // (the microkernel's width; the last one narrower): float times A's scales, panel j0 is
  // [K'][w] at at32 + j0 * K', so the microkernel streams it contiguously (rows of a [K'][mpad]
  // A^T, 4 * mpad bytes apart, fall into few L1 sets and were reloaded from L2); or bf16 pairs,
  // panel j0 [K' / 2][w] (uint32) at at16 + j0 * K' / 2, with the scales apart ([nseg][mpad]).
  const int64_t nvw = (use_bf16 ? kt->max_nv_bf16 : kt->max_nv) * vec;
  std::unique_ptr<float[]> at32_buf;
  std::unique_ptr<uint32_t[]> at16_buf;
  std::vector<float> ascale_t;
  float* at32 = nullptr;
  uint32_t* at16 = nullptr;
  if (use_bf16) {
    at16 = AlignedUninit(at16_buf, kp / 2 * mpad);
    ascale_t.assign(static_cast<size_t>(nseg * mpad), 0.0f);
    for (int64_t m = 0; m < M; ++m) {
      for (int64_t s = 0; s < nseg; ++s) ascale_t[s * mpad + m] = a_scale_of(m, s);
    }
  } else {
    at32 = AlignedUninit(at32_buf, kp * mpad);
  }
  {
    // Tasks: (chunk range) x (16 columns: one cache line of A^T rows each).
    const int64_t ncol = CeilDiv(M, 16), nkt = CeilDiv(nchunks, kPrepChunksPerTask);
    auto prep = [&](size_t t) {
      const int64_t c0 = (static_cast<int64_t>(t) % ncol) * 16;
      const int64_t g0 = (static_cast<int64_t>(t) / ncol) * kPrepChunksPerTask;
      const int64_t g1 = std::min(nchunks, g0 + kPrepChunksPerTask);
      if (!use_bf16 && fp8_a && kt->prep_a_f32 != nullptr) {
        const int64_t rows = std::min<int64_t>(16, M - c0), p0 = c0 / nvw * nvw;
        std::vector<float> sc(static_cast<size_t>(16 * nseg), 0.0f);
        for (int64_t i = 0; i < rows; ++i) {
          for (int64_t s = 0; s < nseg; ++s) sc[i * nseg + s] = a_scale_of(c0 + i, s);
        }
        const PrepAArgs pa{&view,
                           static_cast<const uint8_t*>(in.a) + c0 * K,
                           K,
                           rows,
                           static_cast<int32_t>(in.a_type),
                           sc.data(),
                           at32 + p0 * kp + (c0 - p0),
                           std::min(nvw, mpad - p0)};
        kt->prep_a_f32(&pa, g0, g1);
        return;
      }
      float v[64];
      uint16_t h[64];
      // Chunk by chunk, the 16 columns within: their stores fill the same 64 lines of A^T
      // (4 KiB, L1) instead of one line per store of a whole row's run (measured: the row-major
      // order took 9% of an M = 128 product, 1.6 ms of 17, the stores missing L1).
      for (int64_t gi = g0; gi < g1; ++gi) {
        for (int64_t m = c0; m < std::min(mpad, c0 + 16); ++m) {
          const int64_t p0 = m / nvw * nvw, w = std::min(nvw, mpad - p0);
          if (m >= M) {  // padding columns
            if (use_bf16) {
              uint32_t* dst = at16 + p0 * (kp / 2) + gi * (chunk / 2) * w + (m - p0);
              for (int64_t q = 0; q < chunk / 2; ++q) dst[q * w] = 0;
            } else {
              float* dst = at32 + p0 * kp + gi * chunk * w + (m - p0);
              for (int64_t j = 0; j < chunk; ++j) dst[j * w] = 0.0f;
            }
          } else if (use_bf16) {
            bf16_chunk(m, gi, h);
            uint32_t* dst = at16 + p0 * (kp / 2) + gi * (chunk / 2) * w + (m - p0);
            for (int64_t q = 0; q < chunk / 2; ++q) {
              dst[q * w] = h[order[2 * q]] | (static_cast<uint32_t>(h[order[2 * q + 1]]) << 16);
            }
          } else {
            load_chunk(m, gi, true, v);
            float* dst = at32 + p0 * kp + gi * chunk * w + (m - p0);
            for (int64_t j = 0; j < chunk; ++j) dst[j * w] = v[order[j]];
          }
        }
      }
    };
    if (auto s = parallel(static_cast<size_t>(ncol * nkt), prep); !s.ok()) return s;
  }

  // M blocks of whole panels.
  const int64_t nmb = CeilDiv(mpad, kTileColsPerTask);
  const int64_t mb = RoundUp(CeilDiv(mpad, nmb), nvw);
  const int64_t task_rows = use_bf16 ? static_cast<int64_t>(kt->tile_rows_bf16) : kTileRowsPerTask;
  const int64_t nrb = CeilDiv(N, task_rows);
  const int64_t esize = use_bf16 ? 2 : 4;
  const int64_t mb_max = std::min(mb, mpad);  // the widest task
  int64_t kc = std::max(
      kTileKcMin, std::min(kTileABudget / (mb_max * esize), kTileBBudget / (task_rows * esize)));
  if (!use_bf16 && kt->kc_f32 > 0) {  // one of the kernels' strides (kernel_abi.h)
    const int64_t kf = kt->kc_f32;
    kc = 4 * kf <= kc && mb_max <= 2 * vec ? 4 * kf : 2 * kf <= kc ? 2 * kf : kf;
  }
  const int64_t gc = std::max<int64_t>(1, kc / chunk);
  return parallel(static_cast<size_t>(nrb * nmb), [&](size_t t) {
    const int64_t r0 = (static_cast<int64_t>(t) / nmb) * task_rows;
    const int64_t rows = std::min(N, r0 + task_rows) - r0;
    const int64_t m0 = (static_cast<int64_t>(t) % nmb) * mb;
    const int64_t m1 = std::min(mpad, m0 + mb);
    if (m0 >= m1) return;
    const int64_t ldc = m1 - m0;
    // B rows per microkernel call: the float kernels' row count depends on the panel width
    // (24 accumulators); the task's first (widest) panel sets it for all of them.
    const int64_t mr = use_bf16 ? kt->mr_bf16 : kt->mr[std::min(nvw, ldc) / vec - 1];
    float* c = Aligned(ThreadScratchF32(0), rows * ldc, 0.0f);
    // One cache line more than the codes: tile rows a multiple of 4 KiB apart would all map to
    // one L1 set, and the microkernels read mr rows at once (measured: 1.3x slower at M = 32).
    const int64_t ldt = gc * chunk + 64 / esize;
    std::vector<float>& bsc = ThreadScratchF32(2);
    uint16_t* tile16 = nullptr;
    alignas(64) uint8_t saved_tiles[amx::kTileConfigBytes];  // the thread's (kernel_abi.h)
    float* tile32 = nullptr;
    if (use_bf16) {
      // Whole tiles of 16 rows: the AMX microkernel reads them all (rows past `rows` are zero).
      const int64_t rows16 = RoundUp(rows, 16);
      tile16 = AlignedScratch(ThreadScratchU16(), rows16 * ldt);
      std::fill(tile16 + rows * ldt, tile16 + rows16 * ldt, uint16_t{0});
      bsc.resize(static_cast<size_t>(rows));
      if (kt->tile_begin != nullptr) kt->tile_begin(saved_tiles);
    } else {
      tile32 = AlignedScratch(ThreadScratchF32(1), rows * ldt);
    }
    for (int64_t g0 = 0; g0 < nchunks; g0 += gc) {
      const int64_t g1 = std::min(nchunks, g0 + gc);
      if (!use_bf16) {
        kt->decode_f32(&view, r0, rows, g0, g1, tile32, ldt);
        // mr tile rows (L1) against every panel (L2) in turn.
        for (int64_t i0 = 0; i0 < rows; i0 += mr) {
          for (int64_t j0 = m0; j0 < m1; j0 += nvw) {
            const int64_t w = std::min(nvw, m1 - j0);  // the panel's width
            kt->gemm_f32(std::min(mr, rows - i0), w / vec, (g1 - g0) * chunk, tile32 + i0 * ldt,
                         ldt, at32 + j0 * kp + g0 * chunk * w, w, c + i0 * ldc + (j0 - m0), ldc);
          }
        }
        continue;
      }
      kt->decode_bf16(&view, r0, rows, g0, g1, tile16, ldt);
      const uint32_t* tile = reinterpret_cast<const uint32_t*>(tile16);
      // One microkernel call per segment: each has its own scales.
      for (int64_t ga = g0; ga < g1;) {
        const int64_t s = ga / cps;
        const int64_t gb = std::min(g1, (s + 1) * cps);
        for (int64_t i = 0; i < rows; ++i) {
          bsc[i] = b.b_scale[((r0 + i) / b.bn) * b.nbk + b.seg_kb[s]];
        }
        for (int64_t j0 = m0; j0 < m1; j0 += nvw) {
          const int64_t w = std::min(nvw, m1 - j0);  // the panel's width
          for (int64_t i0 = 0; i0 < rows; i0 += mr) {
            kt->gemm_bf16(std::min(mr, rows - i0), w / vec, (gb - ga) * chunk / 2,
                          tile + i0 * (ldt / 2) + (ga - g0) * chunk / 2, ldt / 2,
                          at16 + j0 * (kp / 2) + ga * (chunk / 2) * w, w, bsc.data() + i0,
                          ascale_t.data() + s * mpad + j0, c + i0 * ldc + (j0 - m0), ldc);
          }
        }
        ga = gb;
      }
    }
    if (use_bf16 && kt->tile_end != nullptr) kt->tile_end(saved_tiles);
    // Y[m][r0 + i] = C^T[i][m] + bias.
    float col[std::max<int64_t>(kMaxTileRowsBf16, kTileRowsPerTask)];
    for (int64_t m = m0; m < std::min(M, m1); ++m) {
      for (int64_t i = 0; i < rows; ++i) col[i] = c[i * ldc + (m - m0)];
      StoreRow(col, bias_ptr ? bias_ptr + r0 : nullptr, rows, in.out_type,
               y + (m * N + r0) * osize);
    }
  });
}

}  // namespace fp8ops::cpu
