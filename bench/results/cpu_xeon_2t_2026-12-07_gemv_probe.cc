#include <immintrin.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include <cstdint>
static uint8_t hi_t[128] __attribute__((aligned(64))), lo_t[128] __attribute__((aligned(64)));
struct Dec { __m512i hi0, hi1, lo0, lo1; };
template <int V>
__attribute__((noinline, target("avx512f,avx512bw,avx512vbmi,avx512bf16"))) float run(const uint8_t* b, long rows, long k, const float* a, const uint16_t* a16) {
  Dec d{_mm512_load_si512(hi_t), _mm512_load_si512(hi_t + 64), _mm512_load_si512(lo_t), _mm512_load_si512(lo_t + 64)};
  __m512 tot = _mm512_setzero_ps();
  const __m512i sgn = _mm512_set1_epi8((char)0x80);
  const __m512i hm = _mm512_set1_epi32((int)0xFFFF0000u);
  for (long r = 0; r < rows; r += 4) {
    __m512 acc[4][2];
    for (int i = 0; i < 4; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (long c = 0; c < k; c += 64) {
      __m512 a0 = _mm512_load_ps(a + c), a1 = _mm512_load_ps(a + c + 16), a2 = _mm512_load_ps(a + c + 32), a3 = _mm512_load_ps(a + c + 48);
      __m512i b0 = _mm512_load_si512(a16 + c), b1 = _mm512_load_si512(a16 + c + 32);
      for (int i = 0; i < 4; ++i) {
        __m512i cc = _mm512_loadu_si512(b + (r + i) * k + c);
        __asm__("" : "+v"(cc));
        if (V == 4 || V == 5) {  // arithmetic decode: words of (odd code << 8 | even code)
          const __m512i m1 = _mm512_set1_epi16((short)0x87F0), o1 = _mm512_set1_epi16(0x4000);
          __m512i xo = _mm512_ternarylogic_epi32(_mm512_srai_epi16(cc, 4), m1, o1, 0xEA);
          __m512i xe = _mm512_ternarylogic_epi32(_mm512_srai_epi16(_mm512_slli_epi16(cc, 8), 4), m1, o1, 0xEA);
          if (V == 4) {
            acc[i][0] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(xe, 16)), a0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(xe, hm)), a1, acc[i][1]);
            acc[i][0] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(xo, 16)), a2, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(xo, hm)), a3, acc[i][1]);
          } else {
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], (__m512bh)xe, (__m512bh)b0);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], (__m512bh)xo, (__m512bh)b1);
          }
          continue;
        }
        if (V == 3) {  // FMA only
          __m512 x = _mm512_castsi512_ps(cc);
          acc[i][0] = _mm512_fmadd_ps(x, a0, acc[i][0]); acc[i][1] = _mm512_fmadd_ps(x, a1, acc[i][1]);
          acc[i][0] = _mm512_fmadd_ps(x, a2, acc[i][0]); acc[i][1] = _mm512_fmadd_ps(x, a3, acc[i][1]);
          continue;
        }
        __m512i h = _mm512_permutex2var_epi8(d.hi0, cc, d.hi1);
        __m512i l = _mm512_permutex2var_epi8(d.lo0, cc, d.lo1);
        h = _mm512_ternarylogic_epi32(h, cc, sgn, 0xF8);
        __m512i x0 = _mm512_unpacklo_epi8(l, h), x1 = _mm512_unpackhi_epi8(l, h);
        if (V == 0) {
          acc[i][0] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(x0, 16)), a0, acc[i][0]);
          acc[i][1] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(x0, hm)), a1, acc[i][1]);
          acc[i][0] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(x1, 16)), a2, acc[i][0]);
          acc[i][1] = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(x1, hm)), a3, acc[i][1]);
        } else if (V == 1) {
          acc[i][0] = _mm512_dpbf16_ps(acc[i][0], (__m512bh)x0, (__m512bh)b0);
          acc[i][1] = _mm512_dpbf16_ps(acc[i][1], (__m512bh)x1, (__m512bh)b1);
        } else if (V == 2) {  // decode only
          acc[i][0] = _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(acc[i][0]), _mm512_xor_si512(x0, x1)));
        }
      }
    }
    for (int i = 0; i < 4; ++i) tot = _mm512_add_ps(tot, _mm512_add_ps(acc[i][0], acc[i][1]));
  }
  return _mm512_reduce_add_ps(tot);
}
int main(int argc, char** argv) {
  long k = 4096, rows = argc > 1 ? atol(argv[1]) : 64;
  for (int i = 0; i < 128; ++i) { hi_t[i] = i; lo_t[i] = 255 - i; }
  std::vector<uint8_t> b(rows * k);
  for (auto& x : b) x = rand() & 0x77;
  float* a = (float*)aligned_alloc(64, k * 4); uint16_t* a16 = (uint16_t*)aligned_alloc(64, k * 2);
  for (long i = 0; i < k; ++i) { a[i] = 1e-3f * (i % 7); a16[i] = 0x3f80; }
  float (*fns[])(const uint8_t*, long, long, const float*, const uint16_t*) = {run<0>, run<1>, run<2>, run<4>, run<5>};
  const char* names[] = {"lut+split+4fma", "lut+2dpbf16", "lut only", "fast+split+4fma", "fast+2dpbf16"};
  for (int rep = 0; rep < 2; ++rep)
  for (int v = 0; v < 5; ++v) {
    long iters = 4e8 / (rows * k);
    volatile float sink = 0;
    auto t0 = std::chrono::steady_clock::now();
    uint64_t c0 = __rdtsc();
    for (long it = 0; it < iters; ++it) sink = sink + fns[v](b.data(), rows, k, a, a16);
    uint64_t c1 = __rdtsc();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double chunks = (double)iters * rows * k / 64;
    printf("%-16s rows=%ld: %.2f GB/s/core, %.2f tsc cycles/chunk\n", names[v], rows, iters * rows * k / s / 1e9, (c1 - c0) / chunks);
  }
}
