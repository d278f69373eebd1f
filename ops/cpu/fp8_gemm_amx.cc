// The AMX (AMX-TILE, AMX-BF16) microkernel of the bf16 tile path: C^T = B * A^T with B's decoded
// bfloat16 rows as TDPBF16PS's first operand and A^T's bfloat16 pairs (already in the VNNI
// layout the instruction wants: pair p of 16 M columns is one 64-byte row) as its second.
// Compiled with AMX and AVX-512 flags: see kernel_abi.h for what this file may and may not use.
//
// One call is up to 2 x 2 tiles of 16 B rows x 16 M columns over one K segment: the four
// accumulators live in tile registers tmm0-3, the two B-row tiles in tmm4-5 and the two A^T
// tiles in tmm6-7 (each k step: 4 tile loads, 4 TDPBF16PS). The segment's products are then
// stored and added to c with their scales (B's per row, A's per column), as gemm_bf16 does.
#include <immintrin.h>

#include <cstdint>

#include "ops/cpu/kernel_abi.h"

namespace fp8ops::cpu::amx {
namespace {

// LDTILECFG's 64-byte operand (palette 1): every tile 16 rows of 64 bytes.
struct alignas(64) TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

constexpr TileConfig MakeConfig() {
  TileConfig t{};
  t.palette_id = 1;
  for (int i = 0; i < 8; ++i) {
    t.colsb[i] = 64;
    t.rows[i] = 16;
  }
  return t;
}
alignas(64) constexpr TileConfig kConfig = MakeConfig();

constexpr int kPairsPerStep = 16;  // one tile row: 16 bfloat16 pairs
static_assert(kTileRows % kMr == 0 && kTileRows <= kMaxTileRowsBf16, "see kernel_abi.h");

// kRt tiles of B rows (1-2) x kCt tiles of M columns (1-2).
template <int kRt, int kCt>
void Block(int64_t r, int64_t kp, const uint32_t* tile, int64_t ldt, const uint32_t* at,
           int64_t ldat, const float* bscale, const float* ascale, float* c, int64_t ldc) {
  const int64_t stride_t = ldt * 4, stride_a = ldat * 4;  // bytes
  const uint32_t* tile1 = tile + 16 * ldt;
  _tile_zero(0);
  if (kCt > 1) _tile_zero(1);
  if (kRt > 1) _tile_zero(2);
  if (kRt > 1 && kCt > 1) _tile_zero(3);
  for (int64_t p = 0; p < kp; p += kPairsPerStep, at += kPairsPerStep * ldat) {
    _tile_loadd(4, tile + p, stride_t);
    _tile_loadd(6, at, stride_a);
    if (kCt > 1) _tile_loadd(7, at + 16, stride_a);
    if (kRt > 1) _tile_loadd(5, tile1 + p, stride_t);
    _tile_dpbf16ps(0, 4, 6);
    if (kCt > 1) _tile_dpbf16ps(1, 4, 7);
    if (kRt > 1) _tile_dpbf16ps(2, 5, 6);
    if (kRt > 1 && kCt > 1) _tile_dpbf16ps(3, 5, 7);
  }
  alignas(64) float out[4][16 * 16];  // [rt * 2 + ct][row][column]
  _tile_stored(0, out[0], 64);
  if (kCt > 1) _tile_stored(1, out[1], 64);
  if (kRt > 1) _tile_stored(2, out[2], 64);
  if (kRt > 1 && kCt > 1) _tile_stored(3, out[3], 64);
  __m512 as[kCt];
  for (int ct = 0; ct < kCt; ++ct) as[ct] = _mm512_loadu_ps(ascale + 16 * ct);
  for (int rt = 0; rt < kRt; ++rt) {
    const int64_t rows = r - 16 * rt < 16 ? r - 16 * rt : 16;
    for (int64_t i = 0; i < rows; ++i) {
      const __m512 bs = _mm512_set1_ps(bscale[16 * rt + i]);
      float* ci = c + (16 * rt + i) * ldc;
      for (int ct = 0; ct < kCt; ++ct) {
        const __m512 v = _mm512_load_ps(out[rt * 2 + ct] + 16 * i);
        _mm512_storeu_ps(ci + 16 * ct, _mm512_fmadd_ps(v, _mm512_mul_ps(bs, as[ct]),
                                                       _mm512_loadu_ps(ci + 16 * ct)));
      }
    }
  }
}

}  // namespace

void GemmBf16(int64_t r, int64_t nv, int64_t kp, const uint32_t* tile, int64_t ldt,
              const uint32_t* at, int64_t ldat, const float* bscale, const float* ascale, float* c,
              int64_t ldc) {
  if (r > 16) {
    if (nv > 1) return Block<2, 2>(r, kp, tile, ldt, at, ldat, bscale, ascale, c, ldc);
    return Block<2, 1>(r, kp, tile, ldt, at, ldat, bscale, ascale, c, ldc);
  }
  if (nv > 1) return Block<1, 2>(r, kp, tile, ldt, at, ldat, bscale, ascale, c, ldc);
  return Block<1, 1>(r, kp, tile, ldt, at, ldat, bscale, ascale, c, ldc);
}

void TileBegin(uint8_t* saved) {
  _tile_storeconfig(saved);
  _tile_loadconfig(&kConfig);
}

void TileEnd(const uint8_t* saved) {
  if (saved[0] == 0) {  // palette 0: the tiles were not configured
    _tile_release();
  } else {
    _tile_loadconfig(saved);
  }
}

void ReadTileConfig(uint8_t* out) { _tile_storeconfig(out); }

void LoadTileConfig(const uint8_t* config) { _tile_loadconfig(config); }

float CalibTdp(int64_t iters) {
  alignas(64) uint16_t a[2][16 * 32], b[2][16 * 32];
  for (int i = 0; i < 16 * 32; ++i) {
    a[0][i] = a[1][i] = 0x3F80;  // 1.0
    b[0][i] = b[1][i] = 0x3A83;  // ~1e-3
  }
  alignas(64) uint8_t saved[kTileConfigBytes];
  TileBegin(saved);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  _tile_loadd(4, a[0], 64);
  _tile_loadd(5, a[1], 64);
  _tile_loadd(6, b[0], 64);
  _tile_loadd(7, b[1], 64);
  for (int64_t it = 0; it < iters; ++it) {
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  }
  alignas(64) float out[16 * 16];
  _tile_stored(3, out, 64);
  TileEnd(saved);
  return out[0];
}

}  // namespace fp8ops::cpu::amx
