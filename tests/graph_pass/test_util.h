// Helpers of the rewrite tests: temporary folders, files, hashes, running the CLI, comparisons.
#ifndef FP8OPS_TESTS_GRAPH_PASS_TEST_UTIL_H_
#define FP8OPS_TESTS_GRAPH_PASS_TEST_UTIL_H_

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <onnx/onnx_pb.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fp8ops/float16.h"

namespace fp8ops::testing {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr ? base : "/tmp") + "/fp8ops_rewrite_test_XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    path_ = ::mkdtemp(buf.data()) != nullptr ? buf.data() : "";
  }
  ~TempDir() {
    if (!path_.empty()) {
      ::nftw(
          path_.c_str(),
          [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); }, 16,
          FTW_DEPTH | FTW_PHYS);
    }
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// FNV-1a over the file's bytes.
inline uint64_t HashFile(const std::string& path) {
  const std::string b = ReadFile(path);
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : b) h = (h ^ c) * 1099511628211ull;
  return h;
}

inline std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

inline void SaveModel(const onnx::ModelProto& m, const std::string& path) {
  std::string s;
  m.SerializeToString(&s);
  WriteFile(path, s);
}

inline onnx::ModelProto LoadModel(const std::string& path) {
  onnx::ModelProto m;
  m.ParseFromString(ReadFile(path));
  return m;
}

struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  std::string out, err;
  int64_t max_rss_kib = 0;
};

// Runs argv[0] with arguments; captures stdout and stderr. `on_start(pid)` runs in the parent
// right after the child starts (may send it signals).
template <typename OnStart>
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& scratch,
                         OnStart on_start) {
  CommandResult r;
  const std::string out_path = scratch + "/.cmd_stdout", err_path = scratch + "/.cmd_stderr";
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int o = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(o, 1);
    ::dup2(e, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  on_start(pid);
  int status = 0;
  struct rusage ru;
  ::wait4(pid, &status, 0, &ru);
  r.max_rss_kib = ru.ru_maxrss;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.signal = WTERMSIG(status);
  r.out = ReadFile(out_path);
  r.err = ReadFile(err_path);
  ::unlink(out_path.c_str());
  ::unlink(err_path.c_str());
  return r;
}

inline CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& scratch) {
  return RunCommand(argv, scratch, [](pid_t) {});
}

// Output elements as float32 (float, float16 or bfloat16 tensors).
template <typename Tensor>
std::vector<float> AsFloats(const Tensor& t) {
  const int64_t n = t.NumElements();
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    if (t.elem_type == 1) {
      v[i] = t.template data<float>()[i];
    } else if (t.elem_type == 10) {
      v[i] = HalfToFloat(t.template data<uint16_t>()[i]);
    } else {
      v[i] = Bf16ToFloat(t.template data<uint16_t>()[i]);
    }
  }
  return v;
}

// ||a - ref|| / ||ref||
inline double RelativeError(const std::vector<float>& a, const std::vector<float>& ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    num += (static_cast<double>(a[i]) - ref[i]) * (static_cast<double>(a[i]) - ref[i]);
    den += static_cast<double>(ref[i]) * ref[i];
  }
  return std::sqrt(num / den);
}

inline double Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

}  // namespace fp8ops::testing

#endif  // FP8OPS_TESTS_GRAPH_PASS_TEST_UTIL_H_
