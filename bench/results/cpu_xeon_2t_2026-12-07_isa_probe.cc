#include <immintrin.h>
#include <cstdio>
#include <cstdint>
#define R8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
template <int V> __attribute__((noinline,target("avx512f,avx512bw,avx512vbmi,avx512bf16"))) uint64_t run(long iters) {
  __m512i t0 = _mm512_set1_epi32(1), t1 = _mm512_set1_epi32(2);
  __m512 a = _mm512_set1_ps(1.0f);
#define DECL(i) __m512i x##i = _mm512_set1_epi32(i * 77 + 3); __m512 f##i = _mm512_set1_ps(1.0f + i);
  R8(DECL)
  uint64_t c0 = __rdtsc();
  for (long it = 0; it < iters; ++it) {
#define OP(i) \
      if (V == 0) x##i = _mm512_permutex2var_epi8(t0, x##i, t1); \
      if (V == 1) f##i = _mm512_dpbf16_ps(f##i, (__m512bh)t0, (__m512bh)t1); \
      if (V == 2) f##i = _mm512_fmadd_ps(f##i, a, a); \
      if (V == 3) x##i = _mm512_unpacklo_epi8(x##i, t0); \
      if (V == 4) x##i = _mm512_permutexvar_epi8(x##i, t0); \
      if (V == 5) x##i = _mm512_shuffle_epi8(t0, x##i); \
      if (V == 6) { x##i = _mm512_permutex2var_epi8(t0, x##i, t1); f##i = _mm512_fmadd_ps(f##i, a, a); } \
      if (V == 7) x##i = _mm512_slli_epi32(x##i, 3); \
      if (V == 8) x##i = _mm512_ternarylogic_epi32(x##i, t0, t1, 0xF8);
    R8(OP)
  }
  uint64_t c1 = __rdtsc();
  float s = 0;
#define SUM(i) s += f##i[0] + x##i[0];
  R8(SUM)
  volatile float vs = s; (void)vs;
  return c1 - c0;
}
int main() {
  const char* nm[] = {"vpermi2b", "vdpbf16ps", "vfmadd", "vpunpcklbw", "vpermb", "vpshufb", "vpermi2b+fma", "vpslld", "vpternlogd"};
  uint64_t (*fn[])(long) = {run<0>, run<1>, run<2>, run<3>, run<4>, run<5>, run<6>, run<7>, run<8>};
  long iters = 20000000;
  double fma = (double)run<2>(iters) / (iters * 12);
  printf("core/tsc ratio (fma 0.5 cyc): %.2f\n", 0.5 / fma);
  for (int v = 0; v < 9; ++v) { double c = (double)fn[v](iters) / (iters * 12); printf("%-14s %.3f core-cycles/instr\n", nm[v], c * 0.5 / fma); }
}
