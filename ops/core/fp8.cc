#include "fp8ops/fp8.h"

namespace fp8ops {
namespace {

struct DecodeTables {
  float e4m3[256];
  float e5m2[256];
  DecodeTables() {
    for (int c = 0; c < 256; ++c) {
      e4m3[c] = DecodeFp8<Fp8Format::kE4M3FN>(static_cast<uint8_t>(c));
      e5m2[c] = DecodeFp8<Fp8Format::kE5M2>(static_cast<uint8_t>(c));
    }
  }
};

}  // namespace

const float* Fp8DecodeTable(Fp8Format f) {
  static const DecodeTables tables;  // thread-safe static init
  return f == Fp8Format::kE4M3FN ? tables.e4m3 : tables.e5m2;
}

}  // namespace fp8ops
