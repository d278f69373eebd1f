#include "models/demo/session_probe.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace fp8ops::demo {
namespace {

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

template <typename T>
void Put(std::ostream& o, T v) {
  o.write(reinterpret_cast<const char*>(&v), sizeof(v));
}
template <typename T>
bool Get(std::istream& in, T* v) {
  in.read(reinterpret_cast<char*>(v), sizeof(*v));
  return static_cast<bool>(in);
}

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

}  // namespace

int64_t ReadProcStatusKib(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  const size_t klen = std::strlen(key);
  while (std::getline(f, line)) {
    if (line.compare(0, klen, key) == 0 && line.size() > klen && line[klen] == ':') {
      return std::atoll(line.c_str() + klen + 1);
    }
  }
  return 0;
}

absl::Status WriteInputSets(const std::string& path, const std::vector<InputSet>& sets) {
  std::ofstream o(path, std::ios::binary | std::ios::trunc);
  if (!o) return absl::InternalError(absl::StrCat("cannot write ", path));
  Put<uint32_t>(o, static_cast<uint32_t>(sets.size()));
  for (const auto& set : sets) {
    Put<uint32_t>(o, static_cast<uint32_t>(set.size()));
    for (const auto& [name, t] : set) {
      Put<uint32_t>(o, static_cast<uint32_t>(name.size()));
      o.write(name.data(), static_cast<std::streamsize>(name.size()));
      Put<int32_t>(o, t.elem_type);
      Put<uint32_t>(o, static_cast<uint32_t>(t.shape.size()));
      for (int64_t d : t.shape) Put<int64_t>(o, d);
      Put<uint64_t>(o, t.bytes.size());
      o.write(reinterpret_cast<const char*>(t.bytes.data()),
              static_cast<std::streamsize>(t.bytes.size()));
    }
  }
  return o ? absl::OkStatus() : absl::InternalError(absl::StrCat("short write to ", path));
}

absl::StatusOr<std::vector<InputSet>> ReadInputSets(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  auto bad = [&] { return absl::DataLossError(absl::StrCat("corrupt tensor file ", path)); };
  uint32_t nsets;
  if (!Get(in, &nsets)) return bad();
  std::vector<InputSet> sets(nsets);
  for (auto& set : sets) {
    uint32_t count;
    if (!Get(in, &count)) return bad();
    for (uint32_t i = 0; i < count; ++i) {
      uint32_t len, rank;
      std::string name;
      host::HostTensor t;
      if (!Get(in, &len) || len > (1u << 20)) return bad();
      name.resize(len);
      in.read(name.data(), len);
      if (!Get(in, &t.elem_type) || !Get(in, &rank) || rank > 64) return bad();
      t.shape.resize(rank);
      for (auto& d : t.shape) {
        if (!Get(in, &d)) return bad();
      }
      uint64_t nbytes;
      if (!Get(in, &nbytes)) return bad();
      t.bytes.resize(nbytes);
      in.read(reinterpret_cast<char*>(t.bytes.data()), static_cast<std::streamsize>(nbytes));
      if (!in) return bad();
      set.emplace_back(std::move(name), std::move(t));
    }
  }
  return sets;
}

// argv: self __probe MODEL INPUTS OUTPUTS PLUGIN THREADS WARMUP RUNS EP
int ProbeChildMain(int argc, char** argv) {
  if (argc != 10) {
    std::fprintf(stderr, "probe: bad arguments\n");
    return 2;
  }
  const std::string model = argv[2], in_path = argv[3], out_path = argv[4], plugin = argv[5];
  const int threads = std::atoi(argv[6]), warmup = std::atoi(argv[7]), runs = std::atoi(argv[8]);
  const std::string ep = argv[9];
  auto inputs = ReadInputSets(in_path);
  if (!inputs.ok()) {
    std::fprintf(stderr, "probe: %s\n", std::string(inputs.status().message()).c_str());
    return 1;
  }
  // The device's free memory before the session (this creates the CUDA context, so the context
  // itself is not counted) and after it: what the session holds on the GPU.
  int64_t gpu_free_before = -1;
  auto gpu_used = [&]() -> int64_t {
    if (gpu_free_before < 0) return -1;
    auto m = host::CudaDeviceMemory();
    return m.ok() ? gpu_free_before - m->free_bytes : -1;
  };
  if (ep == "cuda" || ep == "cuda-graph") {
    auto m = host::CudaDeviceMemory();
    if (!m.ok()) {
      std::fprintf(stderr, "probe: %s\n", std::string(m.status().message()).c_str());
      return 1;
    }
    gpu_free_before = m->free_bytes;
  }
  const int64_t rss_start = ReadProcStatusKib("VmRSS");
  host::SessionOptions so;
  so.plugin_path = plugin == "-" ? "" : plugin;
  so.intra_op_threads = threads;
  so.execution_provider = ep == "cuda-graph" ? "cuda" : ep;
  so.cuda_graph = ep == "cuda-graph";
  auto t0 = Clock::now();
  auto session = host::Session::FromFile(model, so);
  if (!session.ok()) {
    std::fprintf(stderr, "probe: cannot load %s: %s\n", model.c_str(),
                 std::string(session.status().message()).c_str());
    return 1;
  }
  const double load_ms = MsSince(t0);
  const int64_t rss_loaded = ReadProcStatusKib("VmRSS");
  const int64_t gpu_loaded = gpu_used();
  std::vector<InputSet> outputs(inputs->size());
  for (int pass = 0; pass < std::max(1, warmup); ++pass) {
    for (size_t i = 0; i < inputs->size(); ++i) {
      auto out = (*session)->Run((*inputs)[i]);
      if (!out.ok()) {
        std::fprintf(stderr, "probe: run of %s failed: %s\n", model.c_str(),
                     std::string(out.status().message()).c_str());
        return 1;
      }
      if (pass == 0) {
        for (size_t k = 0; k < out->size(); ++k) {
          outputs[i].emplace_back((*session)->output_names()[k], std::move((*out)[k]));
        }
      }
    }
  }
  // CUDA graph sessions with one input set: the timed runs replay the graph on the inputs already
  // on the GPU (no host copies), as a decoding loop with device-resident tensors would.
  const bool resident = ep == "cuda-graph" && inputs->size() == 1;
  std::vector<double> times;
  for (int r = 0; r < runs; ++r) {
    t0 = Clock::now();
    for (const auto& set : *inputs) {
      const bool ok = resident ? (*session)->RunResident().ok() : (*session)->Run(set).ok();
      if (!ok) {
        std::fprintf(stderr, "probe: a timed run of %s failed\n", model.c_str());
        return 1;
      }
    }
    times.push_back(MsSince(t0));
  }
  std::sort(times.begin(), times.end());
  const size_t nt = times.size();
  const double median = nt == 0  ? 0
                        : nt % 2 ? times[nt / 2]
                                 : 0.5 * (times[nt / 2 - 1] + times[nt / 2]);
  const int64_t hwm = ReadProcStatusKib("VmHWM");
  const int64_t gpu_after = gpu_used();
  if (auto s = WriteInputSets(out_path, outputs); !s.ok()) {
    std::fprintf(stderr, "probe: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::printf("FP8OPS_PROBE %.3f %.3f %.3f %lld %lld %lld %lld %lld\n", load_ms, median,
              times.empty() ? 0 : times[0], static_cast<long long>(rss_start),
              static_cast<long long>(rss_loaded), static_cast<long long>(hwm),
              static_cast<long long>(gpu_loaded), static_cast<long long>(gpu_after));
  return 0;
}

absl::StatusOr<ProbeResult> ProbeInChild(const std::string& self_exe, const std::string& model,
                                         const std::vector<InputSet>& inputs,
                                         const ProbeOptions& o) {
  char dir_template[] = "/tmp/fp8ops_probe.XXXXXX";
  if (mkdtemp(dir_template) == nullptr) return absl::InternalError("mkdtemp failed");
  const std::string dir = dir_template, in_path = dir + "/in.bin", out_path = dir + "/out.bin";
  auto cleanup = [&] {
    std::remove(in_path.c_str());
    std::remove(out_path.c_str());
    rmdir(dir.c_str());
  };
  if (auto s = WriteInputSets(in_path, inputs); !s.ok()) {
    cleanup();
    return s;
  }
  const std::vector<std::string> args = {self_exe,
                                         kProbeArg,
                                         model,
                                         in_path,
                                         out_path,
                                         o.plugin_path.empty() ? "-" : o.plugin_path,
                                         std::to_string(o.threads),
                                         std::to_string(o.warmup),
                                         std::to_string(o.runs),
                                         o.ep};
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  int pipefd[2];
  if (pipe(pipefd) != 0) {
    cleanup();
    return absl::InternalError("pipe failed");
  }
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    cleanup();
    return absl::InternalError("fork failed");
  }
  if (pid == 0) {
    close(pipefd[0]);
    dup2(pipefd[1], STDOUT_FILENO);
    close(pipefd[1]);
    execv(args[0].c_str(), argv.data());
    std::fprintf(stderr, "probe: cannot exec %s\n", args[0].c_str());
    _exit(127);
  }
  close(pipefd[1]);
  const std::string stdout_text = ReadAll(pipefd[0]);
  close(pipefd[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    cleanup();
    return absl::InternalError(
        absl::StrCat("the session process for ", model, " failed (status ", status, ")"));
  }
  ProbeResult r;
  const size_t at = stdout_text.find("FP8OPS_PROBE ");
  long long rs = 0, rl = 0, hwm = 0, gl = -1, ga = -1;
  if (at == std::string::npos ||
      std::sscanf(stdout_text.c_str() + at, "FP8OPS_PROBE %lf %lf %lf %lld %lld %lld %lld %lld",
                  &r.load_ms, &r.median_ms, &r.min_ms, &rs, &rl, &hwm, &gl, &ga) != 8) {
    cleanup();
    return absl::InternalError(absl::StrCat("no numbers from the session process for ", model));
  }
  r.rss_start_kib = rs;
  r.rss_loaded_kib = rl;
  r.peak_rss_kib = hwm;
  r.gpu_loaded_bytes = gl;
  r.gpu_after_runs_bytes = ga;
  auto outs = ReadInputSets(out_path);
  cleanup();
  if (!outs.ok()) return outs.status();
  for (auto& set : *outs) {
    std::vector<host::HostTensor> ts;
    for (auto& [name, t] : set) ts.push_back(std::move(t));
    r.outputs.push_back(std::move(ts));
  }
  return r;
}

}  // namespace fp8ops::demo
