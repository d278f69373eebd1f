#include "graph_pass/model_io.h"

#include <fcntl.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "fp8ops/dtype.h"

namespace fp8ops::graph_pass {
namespace {

std::string ErrnoText(int err) { return std::strerror(err); }

std::string DimsText(const onnx::TensorProto& t) {
  return absl::StrCat("[", absl::StrJoin(t.dims(), ","), "]");
}

// Realpath of a path that must exist; empty on failure (errno set).
std::string RealPath(const std::string& p) {
  char* r = ::realpath(p.c_str(), nullptr);
  if (r == nullptr) return "";
  std::string s(r);
  std::free(r);
  return s;
}

// ---- signal cleanup of temporary files -------------------------------------------------------
// A fixed table so that the handler only touches memory that is valid at any time.
constexpr int kMaxTempFiles = 64;
constexpr int kMaxPath = 4096;
char g_temp_paths[kMaxTempFiles][kMaxPath];
std::atomic<int> g_temp_used[kMaxTempFiles];

int RegisterTemp(const std::string& path) {
  if (path.size() >= static_cast<size_t>(kMaxPath)) return -1;
  for (int i = 0; i < kMaxTempFiles; ++i) {
    int expected = 0;
    if (g_temp_used[i].compare_exchange_strong(expected, 2)) {  // 2: being written
      std::memcpy(g_temp_paths[i], path.c_str(), path.size() + 1);
      g_temp_used[i].store(1);
      return i;
    }
  }
  return -1;  // table full: the file is still removed by the destructor
}

void UnregisterTemp(int slot) {
  if (slot >= 0) g_temp_used[slot].store(0);
}

extern "C" void CleanupOnSignal(int sig) {
  for (int i = 0; i < kMaxTempFiles; ++i) {
    if (g_temp_used[i].load() == 1) ::unlink(g_temp_paths[i]);
  }
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

}  // namespace

absl::StatusOr<std::unique_ptr<onnx::ModelProto>> LoadModelFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return absl::NotFoundError(absl::StrCat("cannot open model '", path, "': ", ErrnoText(errno)));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat("model '", path, "' is not a regular file"));
  }
  if (st.st_size > INT_MAX) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(
        "model '", path, "' is ", st.st_size,
        " bytes: protobuf cannot parse a model over 2 GB; store its weights as external data"));
  }
  auto model = std::make_unique<onnx::ModelProto>();
  bool ok;
  {
    google::protobuf::io::FileInputStream fis(fd);
    google::protobuf::io::CodedInputStream cis(&fis);
    cis.SetTotalBytesLimit(INT_MAX);
    ok = model->ParseFromCodedStream(&cis) && cis.ConsumedEntireMessage();
    if (fis.GetErrno() != 0) {
      const int err = fis.GetErrno();
      ::close(fd);
      return absl::InternalError(absl::StrCat("cannot read model '", path, "': ", ErrnoText(err)));
    }
  }
  ::close(fd);
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", path,
        "' is not a valid ONNX model: protobuf parsing failed (truncated or corrupt file)"));
  }
  if (auto s = CheckModelStructure(*model); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", path, "' is not a valid ONNX model: ", s.message()));
  }
  return model;
}

absl::Status CheckModelStructure(const onnx::ModelProto& model) {
  if (!model.has_graph())
    return absl::InvalidArgumentError("it has no graph (truncated or not a model)");
  bool default_opset = false;
  for (const auto& op : model.opset_import()) {
    if (op.domain().empty() || op.domain() == "ai.onnx") default_opset = true;
  }
  if (!default_opset) {
    return absl::InvalidArgumentError(
        "it has no opset_import for the default ONNX domain (truncated?)");
  }
  if (model.ir_version() <= 0) return absl::InvalidArgumentError("it has no ir_version");
  return absl::OkStatus();
}

bool IsKnownDataType(int32_t t) { return t >= 1 && t <= 23; }

std::string DataTypeName(int32_t t) {
  static const char* const kNames[] = {
      "UNDEFINED",      "FLOAT",      "UINT8",          "INT8",       "UINT16",   "INT16",
      "INT32",          "INT64",      "STRING",         "BOOL",       "FLOAT16",  "DOUBLE",
      "UINT32",         "UINT64",     "COMPLEX64",      "COMPLEX128", "BFLOAT16", "FLOAT8E4M3FN",
      "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "UINT4",      "INT4",     "FLOAT4E2M1"};
  if (t >= 0 && t <= 23) return kNames[t];
  return absl::StrCat("type ", t);
}

absl::StatusOr<int64_t> TensorNumElements(const onnx::TensorProto& t) {
  constexpr int64_t kMax = int64_t{1} << 62;
  int64_t n = 1;
  for (int64_t d : t.dims()) {
    if (d < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", t.name(), "' has a negative dimension ", DimsText(t)));
    }
    if (d != 0 && n > kMax / d) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", t.name(), "' has dimensions ",
                                                     DimsText(t), " whose product overflows"));
    }
    n *= d;
  }
  return n;
}

bool HasExternalData(const onnx::TensorProto& t) {
  return t.data_location() == onnx::TensorProto_DataLocation_EXTERNAL;
}

absl::StatusOr<ExternalRef> GetExternalRef(const onnx::TensorProto& t) {
  ExternalRef r;
  bool has_location = false;
  for (const auto& kv : t.external_data()) {
    if (kv.key() == "location") {
      r.location = kv.value();
      has_location = true;
    } else if (kv.key() == "offset" || kv.key() == "length") {
      int64_t v;
      if (!absl::SimpleAtoi(kv.value(), &v) || v < 0) {
        return absl::InvalidArgumentError(absl::StrCat("tensor '", t.name(),
                                                       "' has an invalid external data ", kv.key(),
                                                       " '", kv.value(), "'"));
      }
      (kv.key() == "offset" ? r.offset : r.length) = v;
    }
  }
  if (!has_location || r.location.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor '", t.name(), "' is marked external but has no external data location"));
  }
  return r;
}

ExternalDataReader::~ExternalDataReader() {
  for (auto& [loc, f] : files_) {
    if (f.fd >= 0) ::close(f.fd);
  }
}

absl::StatusOr<ExternalDataReader::File*> ExternalDataReader::Open(const std::string& location,
                                                                   const std::string& tensor) {
  auto it = files_.find(location);
  if (it != files_.end()) return &it->second;
  if (base_dir_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", tensor, "' has external data ('",
                                                   location,
                                                   "') but no folder to read it from was given"));
  }
  if (location[0] == '/') {
    return absl::PermissionDeniedError(
        absl::StrCat("tensor '", tensor, "': absolute external data location '", location,
                     "' is refused (locations are relative to the model)"));
  }
  const std::string base = RealPath(base_dir_);
  if (base.empty()) {
    return absl::NotFoundError(absl::StrCat("model folder '", base_dir_, "': ", ErrnoText(errno)));
  }
  const std::string full = base_dir_ + "/" + location;
  const std::string real = RealPath(full);
  if (real.empty()) {
    return absl::NotFoundError(absl::StrCat("tensor '", tensor, "': external data file '", location,
                                            "' cannot be opened: ", ErrnoText(errno)));
  }
  if (real.compare(0, base.size() + 1, base + "/") != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("tensor '", tensor, "': external data location '", location,
                     "' leaves the model's folder (through '..' or a symlink); "
                     "refused"));
  }
  File f;
  f.fd = ::open(real.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) {
    return absl::NotFoundError(absl::StrCat("tensor '", tensor, "': external data file '", location,
                                            "' cannot be opened: ", ErrnoText(errno)));
  }
  struct stat st;
  if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(f.fd);
    return absl::InvalidArgumentError(absl::StrCat("tensor '", tensor, "': external data '",
                                                   location, "' is not a regular file"));
  }
  f.size = st.st_size;
  f.dev = st.st_dev;
  f.ino = st.st_ino;
  return &files_.emplace(location, f).first->second;
}

absl::Status ExternalDataReader::Check(const onnx::TensorProto& t, int64_t nbytes) {
  auto ref = GetExternalRef(t);
  if (!ref.ok()) return ref.status();
  if (ref->length >= 0 && ref->length != nbytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor '", t.name(), "': external data length ", ref->length, " does not match its dims ",
        DimsText(t), " (", nbytes, " bytes of ", DataTypeName(t.data_type()), ")"));
  }
  auto f = Open(ref->location, t.name());
  if (!f.ok()) return f.status();
  if (ref->offset > (*f)->size || nbytes > (*f)->size - ref->offset) {
    return absl::OutOfRangeError(absl::StrCat(
        "tensor '", t.name(), "': external data file '", ref->location, "' is ", (*f)->size,
        " bytes, shorter than offset ", ref->offset, " + length ", nbytes));
  }
  return absl::OkStatus();
}

absl::Status ExternalDataReader::Read(const onnx::TensorProto& t, int64_t pos, int64_t n,
                                      void* dst) {
  auto ref = GetExternalRef(t);
  if (!ref.ok()) return ref.status();
  auto f = Open(ref->location, t.name());
  if (!f.ok()) return f.status();
  char* p = static_cast<char*>(dst);
  int64_t off = ref->offset + pos;
  while (n > 0) {
    const ssize_t r = ::pread((*f)->fd, p, static_cast<size_t>(std::min<int64_t>(n, 1 << 30)), off);
    if (r < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("tensor '", t.name(),
                                              "': reading external data file '", ref->location,
                                              "' failed: ", ErrnoText(errno)));
    }
    if (r == 0) {
      return absl::OutOfRangeError(absl::StrCat("tensor '", t.name(), "': external data file '",
                                                ref->location, "' ended at byte ", off,
                                                ", before the tensor's end"));
    }
    p += r;
    off += r;
    n -= r;
  }
  return absl::OkStatus();
}

ExternalDataReader::Mapping::~Mapping() { ::munmap(base_, len_); }

absl::StatusOr<std::unique_ptr<ExternalDataReader::Mapping>> ExternalDataReader::Map(
    const onnx::TensorProto& t, int64_t nbytes) {
  if (auto s = Check(t, nbytes); !s.ok()) return s;
  auto ref = GetExternalRef(t);
  auto f = Open(ref->location, t.name());
  if (!f.ok()) return f.status();
  const int64_t page = ::sysconf(_SC_PAGESIZE);
  const int64_t start = ref->offset / page * page;
  const size_t len = static_cast<size_t>(nbytes + (ref->offset - start));
  void* base = ::mmap(nullptr, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, (*f)->fd, start);
  if (base == MAP_FAILED) {
    return absl::InternalError(absl::StrCat("tensor '", t.name(),
                                            "': cannot map external data file '", ref->location,
                                            "': ", ErrnoText(errno)));
  }
  return std::make_unique<Mapping>(base, len,
                                   static_cast<const char*>(base) + (ref->offset - start));
}

std::vector<std::pair<dev_t, ino_t>> ExternalDataReader::OpenedFiles() const {
  std::vector<std::pair<dev_t, ino_t>> v;
  for (const auto& [loc, f] : files_) v.emplace_back(f.dev, f.ino);
  return v;
}

absl::StatusOr<int64_t> TensorDataBytes(const onnx::TensorProto& t) {
  if (!IsKnownDataType(t.data_type())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor '", t.name(), "' has unsupported data type ", DataTypeName(t.data_type())));
  }
  const int es = OnnxElementSize(t.data_type());
  if (es == 0) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", t.name(), "' has data type ",
                                                   DataTypeName(t.data_type()),
                                                   ", which this tool cannot read"));
  }
  auto n = TensorNumElements(t);
  if (!n.ok()) return n.status();
  if (*n > (int64_t{1} << 62) / es) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", t.name(), "' is too large: ", DimsText(t)));
  }
  return *n * es;
}

namespace {

// Number of values in the typed field that holds `t`'s data, and the element count it stands for.
int64_t TypedValueCount(const onnx::TensorProto& t, int64_t* per_element) {
  *per_element = 1;
  switch (t.data_type()) {
    case 1:
      return t.float_data_size();
    case 14:
      *per_element = 2;
      return t.float_data_size();
    case 11:
      return t.double_data_size();
    case 15:
      *per_element = 2;
      return t.double_data_size();
    case 7:
      return t.int64_data_size();
    case 12:
    case 13:
      return t.uint64_data_size();
    default:
      return t.int32_data_size();
  }
}

}  // namespace

absl::Status CheckTensorData(const onnx::TensorProto& t, ExternalDataReader* ext) {
  auto nbytes = TensorDataBytes(t);
  if (!nbytes.ok()) return nbytes.status();
  if (HasExternalData(t)) {
    if (ext == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor '", t.name(), "' has external data but no folder to read it from was given"));
    }
    return ext->Check(t, *nbytes);
  }
  if (t.has_raw_data()) {
    if (static_cast<int64_t>(t.raw_data().size()) != *nbytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor '", t.name(), "' holds ", t.raw_data().size(), " bytes of raw data but its dims ",
          DimsText(t), " of ", DataTypeName(t.data_type()), " need ", *nbytes));
    }
    return absl::OkStatus();
  }
  int64_t per = 1;
  const int64_t values = TypedValueCount(t, &per);
  const int64_t elements = *nbytes / OnnxElementSize(t.data_type());
  if (values != elements * per) {
    return absl::InvalidArgumentError(absl::StrCat("tensor '", t.name(), "' holds ", values / per,
                                                   " values but its dims ", DimsText(t), " need ",
                                                   elements));
  }
  return absl::OkStatus();
}

absl::Status ReadTensorBytes(const onnx::TensorProto& t, ExternalDataReader* ext, int64_t pos,
                             int64_t n, void* dst) {
  if (n == 0) return absl::OkStatus();
  if (HasExternalData(t)) {
    if (ext == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor '", t.name(), "' has external data but no folder to read it from was given"));
    }
    return ext->Read(t, pos, n, dst);
  }
  if (t.has_raw_data()) {
    if (pos < 0 || pos + n > static_cast<int64_t>(t.raw_data().size())) {
      return absl::OutOfRangeError(
          absl::StrCat("tensor '", t.name(), "': raw data is shorter than its dims"));
    }
    std::memcpy(dst, t.raw_data().data() + pos, static_cast<size_t>(n));
    return absl::OkStatus();
  }
  // Typed fields: convert element by element into the raw little-endian layout.
  const int es = OnnxElementSize(t.data_type());
  if (es == 0 || pos % es != 0 || n % es != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tensor '", t.name(), "': cannot read data of type ", DataTypeName(t.data_type())));
  }
  int64_t per = 1;
  const int64_t values = TypedValueCount(t, &per);
  const int64_t first = pos / es, count = n / es;
  if ((first + count) * per > values) {
    return absl::OutOfRangeError(
        absl::StrCat("tensor '", t.name(), "' holds fewer values than its dims need"));
  }
  char* out = static_cast<char*>(dst);
  for (int64_t i = first; i < first + count; ++i, out += es) {
    switch (t.data_type()) {
      case 1: {
        const float v = t.float_data(i);
        std::memcpy(out, &v, 4);
        break;
      }
      case 14: {
        const float v[2] = {t.float_data(2 * i), t.float_data(2 * i + 1)};
        std::memcpy(out, v, 8);
        break;
      }
      case 11: {
        const double v = t.double_data(i);
        std::memcpy(out, &v, 8);
        break;
      }
      case 15: {
        const double v[2] = {t.double_data(2 * i), t.double_data(2 * i + 1)};
        std::memcpy(out, v, 16);
        break;
      }
      case 7: {
        const int64_t v = t.int64_data(i);
        std::memcpy(out, &v, 8);
        break;
      }
      case 12: {
        const uint32_t v = static_cast<uint32_t>(t.uint64_data(i));
        std::memcpy(out, &v, 4);
        break;
      }
      case 13: {
        const uint64_t v = t.uint64_data(i);
        std::memcpy(out, &v, 8);
        break;
      }
      default: {
        // int32_data: one element per entry, in the low bits (FLOAT16 / BFLOAT16 as their bit
        // patterns).
        const uint32_t v = static_cast<uint32_t>(t.int32_data(i));
        std::memcpy(out, &v, static_cast<size_t>(es));  // little-endian: the low bytes
        break;
      }
    }
  }
  return absl::OkStatus();
}

bool SameFile(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

bool IsOneOf(const std::string& path, const std::vector<std::pair<dev_t, ino_t>>& files) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return false;
  for (const auto& [dev, ino] : files) {
    if (st.st_dev == dev && st.st_ino == ino) return true;
  }
  return false;
}

int64_t PeakRssBytes() {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  int64_t kib = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, "VmHWM:", 6) == 0) {
      kib = std::atoll(line + 6);
      break;
    }
  }
  std::fclose(f);
  return kib * 1024;
}

std::string DirName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// ---- TempFile ---------------------------------------------------------------------------------

TempFile::TempFile(std::string final_path, std::string tmp_path, int fd, int slot)
    : final_path_(std::move(final_path)), tmp_path_(std::move(tmp_path)), fd_(fd), slot_(slot) {}

absl::StatusOr<std::unique_ptr<TempFile>> TempFile::Create(const std::string& final_path) {
  std::string tmpl = DirName(final_path) + "/." + BaseName(final_path) + ".tmp-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  // NOTE: the cleanup signals wait while the file exists but is not yet registered.
  sigset_t block, old;
  sigemptyset(&block);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&block, sig);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  const int fd = ::mkstemp(buf.data());
  const int err = errno;
  const int slot = fd >= 0 ? RegisterTemp(buf.data()) : -1;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create a file next to '", final_path, "': ", ErrnoText(err)));
  }
  std::string tmp(buf.data());
  // mkstemp makes the file 0600; an output should get the usual permissions (umask applies).
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd, 0666 & ~mask);
  return std::unique_ptr<TempFile>(new TempFile(final_path, std::move(tmp), fd, slot));
}

TempFile::~TempFile() {
  if (!committed_) {
    if (fd_ >= 0) ::close(fd_);
    ::unlink(tmp_path_.c_str());
  }
  UnregisterTemp(slot_);
}

int64_t TempFile::Reserve(int64_t n, int64_t alignment) {
  positional_ = true;
  const int64_t offset = (size_ + alignment - 1) / alignment * alignment;
  size_ = offset + n;
  return offset;
}

absl::Status TempFile::WriteAt(const void* data, int64_t n, int64_t offset) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::pwrite(fd_, p, static_cast<size_t>(std::min<int64_t>(n, 1 << 30)), offset);
    if (w < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(
          absl::StrCat("cannot write '", final_path_, "': ", ErrnoText(errno)));
    }
    p += w;
    offset += w;
    n -= w;
  }
  return absl::OkStatus();
}

absl::Status TempFile::Append(const void* data, int64_t n) {
  return WriteAt(data, n, Reserve(n, 1));
}

absl::Status TempFile::Commit() {
  if (positional_ && ::ftruncate(fd_, size_) != 0) {  // a trailing gap, if any, becomes zeros
    return absl::InternalError(
        absl::StrCat("cannot write '", final_path_, "': ", ErrnoText(errno)));
  }
  if (::fsync(fd_) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot write '", final_path_, "': ", ErrnoText(errno)));
  }
  if (::close(fd_) != 0) {
    fd_ = -1;
    return absl::InternalError(
        absl::StrCat("cannot write '", final_path_, "': ", ErrnoText(errno)));
  }
  fd_ = -1;
  if (::rename(tmp_path_.c_str(), final_path_.c_str()) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot rename '", tmp_path_, "' to '", final_path_, "': ", ErrnoText(errno)));
  }
  committed_ = true;
  return absl::OkStatus();
}

void InstallSignalCleanup() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = CleanupOnSignal;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
}

// ---- ExternalDataWriter -----------------------------------------------------------------------

namespace {
int64_t AlignmentFor(int64_t n) { return n >= (int64_t{1} << 20) ? 65536 : 64; }
}  // namespace

int64_t ExternalDataWriter::Reserve(onnx::TensorProto* t, int64_t n) {
  const int64_t offset = file_->Reserve(n, AlignmentFor(n));
  Point(t, offset, n);
  return offset;
}

void ExternalDataWriter::Point(onnx::TensorProto* t, int64_t offset, int64_t n) {
  t->clear_raw_data();
  t->clear_float_data();
  t->clear_int32_data();
  t->clear_int64_data();
  t->clear_double_data();
  t->clear_uint64_data();
  t->clear_external_data();
  auto add = [t](const char* k, const std::string& v) {
    auto* e = t->add_external_data();
    e->set_key(k);
    e->set_value(v);
  };
  add("location", location_);
  add("offset", std::to_string(offset));
  add("length", std::to_string(n));
  t->set_data_location(onnx::TensorProto_DataLocation_EXTERNAL);
}

absl::Status ExternalDataWriter::Append(onnx::TensorProto* t, const void* data, int64_t n) {
  const int64_t offset = file_->Reserve(n, AlignmentFor(n));
  if (auto s = file_->WriteAt(data, n, offset); !s.ok()) return s;
  Point(t, offset, n);
  return absl::OkStatus();
}

absl::Status ExternalDataWriter::Move(onnx::TensorProto* t, ExternalDataReader* ext) {
  auto nbytes = TensorDataBytes(*t);
  if (!nbytes.ok()) return nbytes.status();
  const int64_t offset = file_->Reserve(*nbytes, AlignmentFor(*nbytes));
  if (!HasExternalData(*t) && t->has_raw_data()) {
    if (auto s = file_->WriteAt(t->raw_data().data(), *nbytes, offset); !s.ok()) return s;
  } else {
    constexpr int64_t kChunk = 16 << 20;
    std::vector<char> buf(static_cast<size_t>(std::min(kChunk, *nbytes)));
    for (int64_t pos = 0; pos < *nbytes; pos += kChunk) {
      const int64_t len = std::min(kChunk, *nbytes - pos);
      if (auto s = ReadTensorBytes(*t, ext, pos, len, buf.data()); !s.ok()) return s;
      if (auto s = file_->WriteAt(buf.data(), len, offset + pos); !s.ok()) return s;
    }
  }
  Point(t, offset, *nbytes);
  return absl::OkStatus();
}

}  // namespace fp8ops::graph_pass
