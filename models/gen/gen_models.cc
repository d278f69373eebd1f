// fp8ops_gen_models: writes the generated test/demo models (models/gen/model_gen.h).
//   fp8ops_gen_models OUT_DIR              the small models: llama_fp32, llama_fp16,
//   llama_constants,
//                                          gemm, if, shared (.onnx)
//   fp8ops_gen_models --llama OUT.onnx [--hidden N] [--heads N] [--intermediate N] [--layers N]
//                     [--vocab N] [--fp16] [--external]
//                                          one Llama-style decoder (--fp16: float16 weights and
//                                          activations); --external streams its weights to
//                                          OUT.onnx.data (e.g. 2+ GB models for benchmarks)
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "models/gen/model_gen.h"

namespace {

bool Save(const onnx::ModelProto& m, const std::string& path) {
  std::string bytes;
  if (!m.SerializeToString(&bytes)) return false;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

int Usage() {
  std::fprintf(
      stderr,
      "usage: fp8ops_gen_models OUT_DIR\n"
      "       fp8ops_gen_models --llama OUT.onnx [--hidden N] [--heads N] [--intermediate N]\n"
      "                         [--layers N] [--vocab N] [--fp16] [--external]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace fp8ops::models;
  if (argc < 2) return Usage();
  if (std::strcmp(argv[1], "--llama") == 0) {
    if (argc < 3) return Usage();
    const std::string out = argv[2];
    LlamaConfig c;
    bool external = false;
    for (int i = 3; i < argc; ++i) {
      const std::string a = argv[i];
      auto num = [&](int64_t* v) {
        if (i + 1 >= argc) return false;
        *v = std::atoll(argv[++i]);
        return *v > 0;
      };
      bool ok = true;
      if (a == "--hidden")
        ok = num(&c.hidden);
      else if (a == "--heads")
        ok = num(&c.heads);
      else if (a == "--intermediate")
        ok = num(&c.intermediate);
      else if (a == "--layers")
        ok = num(&c.layers);
      else if (a == "--vocab")
        ok = num(&c.vocab);
      else if (a == "--fp16")
        c.dtype = 10;
      else if (a == "--external")
        external = true;
      else
        ok = false;
      if (!ok) return Usage();
    }
    if (c.hidden % c.heads != 0) {
      std::fprintf(stderr, "--hidden must be a multiple of --heads\n");
      return 2;
    }
    if (external) {
      int64_t bytes = 0;
      auto s = WriteLlamaDecoderExternal(c, out, &bytes);
      if (!s.ok()) {
        std::fprintf(stderr, "fp8ops_gen_models: %s\n", std::string(s.message()).c_str());
        return 1;
      }
      std::printf("wrote %s + %s.data (%.3f GB of weights)\n", out.c_str(), out.c_str(),
                  bytes / 1e9);
      return 0;
    }
    if (!Save(MakeLlamaDecoder(c), out)) {
      std::fprintf(stderr, "fp8ops_gen_models: cannot write '%s'\n", out.c_str());
      return 1;
    }
    return 0;
  }
  const std::string dir = argv[1];
  ::mkdir(dir.c_str(), 0755);
  LlamaConfig fp32;
  fp32.vocab = 512;
  LlamaConfig fp16 = fp32;
  fp16.dtype = 10;
  LlamaConfig constants = fp32;
  constants.weights_in_constant_nodes = true;
  const struct {
    const char* name;
    onnx::ModelProto model;
  } models[] = {
      {"llama_fp32.onnx", MakeLlamaDecoder(fp32)},
      {"llama_fp16.onnx", MakeLlamaDecoder(fp16)},
      {"llama_constants.onnx", MakeLlamaDecoder(constants)},
      {"gemm.onnx", MakeGemmModel()},
      {"if.onnx", MakeIfModel()},
      {"shared.onnx", MakeSharedWeightsModel()},
  };
  for (const auto& m : models) {
    const std::string path = dir + "/" + m.name;
    if (!Save(m.model, path)) {
      std::fprintf(stderr, "fp8ops_gen_models: cannot write '%s'\n", path.c_str());
      return 1;
    }
    std::printf("wrote %s\n", path.c_str());
  }
  return 0;
}
