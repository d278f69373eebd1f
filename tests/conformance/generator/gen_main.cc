// fp8ops_conformance_gen OUT_DIR
//
// Writes the fp8ops operator conformance suite in the ONNX node-test layout into OUT_DIR (the
// committed copy lives in tests/conformance/cases). Case directories in OUT_DIR that the generator
// no longer makes are removed; other files are left alone. The output depends on nothing but this
// program's source: the ctest `conformance_cases_regenerate` rebuilds it into a temporary directory
// and compares it byte for byte with the committed cases.
#include <filesystem>
#include <iostream>
#include <set>
#include <system_error>

#include "tests/conformance/case_io.h"
#include "tests/conformance/generator/gen_common.h"

namespace {

namespace fs = std::filesystem;
using fp8ops::conformance::gen::Case;

constexpr size_t kMaxCaseBytes = 64 * 1024;         // "small enough to commit": tens of KB each
constexpr size_t kMaxSuiteBytes = 5 * 1024 * 1024;  // the whole suite

size_t CaseBytes(const Case& c) {
  size_t n = c.model.ByteSizeLong();
  for (const auto& t : c.inputs) n += t.ByteSizeLong();
  for (const auto& t : c.outputs) n += t.ByteSizeLong();
  return n;
}

bool ValidName(const std::string& s) {
  if (s.empty()) return false;
  for (char ch : s) {
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 || std::string(argv[1]).rfind('-', 0) == 0) {
    std::cerr
        << "usage: fp8ops_conformance_gen OUT_DIR\n"
           "  Writes the fp8ops conformance cases (model.onnx + test_data_set_0/) into OUT_DIR.\n";
    return 2;
  }
  const std::string out_dir = argv[1];
  std::vector<Case> cases;
  fp8ops::conformance::gen::AddQuantizeCases(&cases);
  fp8ops::conformance::gen::AddGemmCases(&cases);
  fp8ops::conformance::gen::AddDequantizeCases(&cases);

  std::set<std::string> names;
  size_t total = 0;
  bool ok = true;
  for (const auto& c : cases) {
    if (!ValidName(c.name) || !names.insert(c.name).second) {
      std::cerr << "bad or duplicate case name '" << c.name << "'\n";
      ok = false;
    }
    const size_t bytes = CaseBytes(c);
    total += bytes;
    if (bytes > kMaxCaseBytes) {
      std::cerr << "case " << c.name << " is " << bytes << " bytes (limit " << kMaxCaseBytes
                << ")\n";
      ok = false;
    }
    if (static_cast<size_t>(c.model.graph().input_size()) != c.inputs.size() ||
        static_cast<size_t>(c.model.graph().output_size()) != c.outputs.size()) {
      std::cerr << "case " << c.name << ": data files do not match the graph's inputs/outputs\n";
      ok = false;
    }
  }
  if (total > kMaxSuiteBytes) {
    std::cerr << "the suite is " << total << " bytes (limit " << kMaxSuiteBytes << ")\n";
    ok = false;
  }
  if (!ok) return 1;

  // Remove case directories this generator no longer makes.
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (auto existing = fp8ops::conformance::ListCases(out_dir); existing.ok()) {
    for (const auto& name : *existing) {
      if (names.count(name) == 0) fs::remove_all(fs::path(out_dir) / name, ec);
    }
  }
  const std::string banner =
      "# Generated: do not edit\n\n"
      "Written by `fp8ops_conformance_gen` (tests/conformance/generator/). Regenerate with\n"
      "`fp8ops_conformance_gen tests/conformance/cases`; see ../README.md.\n";
  if (auto s =
          fp8ops::conformance::WriteFileBytes((fs::path(out_dir) / "README.md").string(), banner);
      !s.ok()) {
    std::cerr << "fp8ops_conformance_gen: " << s.message() << "\n";
    return 1;
  }
  for (const auto& c : cases) {
    if (auto s = fp8ops::conformance::WriteCase(out_dir, c.name, c.model, c.inputs, c.outputs);
        !s.ok()) {
      std::cerr << "fp8ops_conformance_gen: " << s.message() << "\n";
      return 1;
    }
  }
  std::cout << "fp8ops_conformance_gen: wrote " << cases.size() << " cases (" << total
            << " bytes) to " << out_dir << "\n";
  return 0;
}
