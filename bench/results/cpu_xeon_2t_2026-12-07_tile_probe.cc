#include <immintrin.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>
template <int R, int NV, int kLdt>
__attribute__((noinline)) void GemmF32(long kc, const float* tile, const float* at, float* c, long ldc) {
  constexpr long ldt = kLdt, ldat = 16 * NV;
  __m512 acc[R][NV];
  for (int i = 0; i < R; ++i) for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
#pragma GCC unroll 4
  for (long kk = 0; kk < kc; ++kk, at += ldat) {
    __m512 av[NV];
    for (int v = 0; v < NV; ++v) av[v] = _mm512_loadu_ps(at + 16 * v);
    for (int i = 0; i < R; ++i) {
      const __m512 bv = _mm512_set1_ps(tile[i * ldt + kk]);
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(bv, av[v], acc[i][v]);
    }
  }
  for (int i = 0; i < R; ++i) for (int v = 0; v < NV; ++v) {
      float* ci = c + i * ldc + 16 * v;
      _mm512_storeu_ps(ci, _mm512_add_ps(acc[i][v], _mm512_loadu_ps(ci)));
  }
}
// mode 0: current: tile 48 rows x kc(256) in L1-ish, for i0 (8 groups) for j0 (2 panels of kc*64) panels in L2
// mode 1: ksub: for ks (kc/128) for j0 for i0 : panel 128x64 (32K) L1, tile rows from L2
int main(int argc, char** argv) {
  int mode = atoi(argv[1]);
  const long kc = 256, ldt = 272, rows = 48, npanel = 2;
  long ntasks = 64;  // distinct tiles (so tiles come from L2/L3 as in the real decode)
  std::vector<float> tile(ntasks * rows * ldt + 64, 1.0f), at(npanel * kc * 64 + 64, 0.5f), c(rows * 128, 0.f);
  long reps = 40;
  auto t0 = std::chrono::steady_clock::now();
  for (long rep = 0; rep < reps; ++rep) for (long t = 0; t < ntasks; ++t) {
    const float* tl = tile.data() + t * rows * ldt;
    if (mode == 0) {
      for (long i0 = 0; i0 < rows; i0 += 6) for (long j = 0; j < npanel; ++j)
        GemmF32<6, 4, 272>(kc, tl + i0 * ldt, at.data() + j * kc * 64, c.data() + i0 * 128 + j * 64, 128);
    } else if (mode == 1) {  // 8x3 (48 cols per panel -> use 128/48 ~ approximate with 2 panels of 48+ ...) 
      for (long i0 = 0; i0 < rows; i0 += 8) for (long j = 0; j < npanel; ++j)
        GemmF32<8, 3, 272>(kc, tl + i0 * ldt, at.data() + j * kc * 64, c.data() + i0 * 128 + j * 64, 128);
    } else if (mode == 2) {
      for (long i0 = 0; i0 < rows; i0 += 12) for (long j = 0; j < 2 * npanel; ++j)
        GemmF32<12, 2, 272>(kc, tl + i0 * ldt, at.data() + j * kc * 32, c.data() + i0 * 128 + j * 32, 128);
    } else {
      long ks = mode;
      for (long k0 = 0; k0 < kc; k0 += ks) for (long j = 0; j < npanel; ++j) for (long i0 = 0; i0 < rows; i0 += 6)
        GemmF32<6, 4, 272>(ks, tl + i0 * ldt + k0, at.data() + j * kc * 64 + k0 * 64, c.data() + i0 * 128 + j * 64, 128);
    }
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double f = (mode==1? 48.0*2/128 : 1.0); printf("mode=%d: %.1f GFLOP/s\n", mode, f* 2.0 * reps * ntasks * rows * kc * 128 / s / 1e9);
}
