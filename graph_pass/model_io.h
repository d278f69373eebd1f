// Model and tensor IO for the rewrite: parsing a ModelProto from a file (external data left in
// place), reading tensor bytes from raw_data, typed fields or external files (with the location
// checks), and writing outputs atomically (temporary files in the destination's folder, renamed
// on commit, removed on error or on SIGINT/SIGTERM/SIGHUP).
#ifndef FP8OPS_GRAPH_PASS_MODEL_IO_H_
#define FP8OPS_GRAPH_PASS_MODEL_IO_H_

#include <onnx/onnx_pb.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fp8ops::graph_pass {

// Parses a model file. Only the protobuf is read: tensors with external data stay references.
// Errors name the file and say whether it is missing, too large for protobuf, or not a model.
absl::StatusOr<std::unique_ptr<onnx::ModelProto>> LoadModelFile(const std::string& path);

// Structural checks that protobuf parsing does not make: a graph, a default-domain opset import.
absl::Status CheckModelStructure(const onnx::ModelProto& model);

// "FLOAT", "FLOAT16", ..., or "type 123" for values ONNX does not define.
std::string DataTypeName(int32_t data_type);
// True for data types defined by ONNX (1..23).
bool IsKnownDataType(int32_t data_type);

// Number of elements from the dims; an error for negative dims or a product past 2^62.
absl::StatusOr<int64_t> TensorNumElements(const onnx::TensorProto& t);

bool HasExternalData(const onnx::TensorProto& t);

struct ExternalRef {
  std::string location;
  int64_t offset = 0;
  int64_t length = -1;  // -1: not given (the dims decide)
};
absl::StatusOr<ExternalRef> GetExternalRef(const onnx::TensorProto& t);

// Reads external data files relative to one folder. Locations must be relative and must resolve
// (through `..` and symlinks) to a file inside that folder. Files are opened once and kept open.
class ExternalDataReader {
 public:
  explicit ExternalDataReader(std::string base_dir) : base_dir_(std::move(base_dir)) {}
  ~ExternalDataReader();
  ExternalDataReader(const ExternalDataReader&) = delete;
  ExternalDataReader& operator=(const ExternalDataReader&) = delete;

  // Checks that `t`'s external data is readable and holds `nbytes` bytes at its offset.
  absl::Status Check(const onnx::TensorProto& t, int64_t nbytes);
  // Reads `n` bytes starting `pos` bytes into the tensor's data.
  absl::Status Read(const onnx::TensorProto& t, int64_t pos, int64_t n, void* dst);
  // Maps the tensor's `nbytes` bytes read-only (no copy; the pages count as this process's memory
  // while mapped). NOTE: a file truncated by someone else while mapped raises SIGBUS.
  class Mapping {
   public:
    Mapping(void* base, size_t len, const void* data) : base_(base), len_(len), data_(data) {}
    ~Mapping();
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;
    const void* data() const { return data_; }

   private:
    void* base_;
    size_t len_;
    const void* data_;
  };
  absl::StatusOr<std::unique_ptr<Mapping>> Map(const onnx::TensorProto& t, int64_t nbytes);
  // (device, inode) of every file opened so far.
  std::vector<std::pair<dev_t, ino_t>> OpenedFiles() const;
  const std::string& base_dir() const { return base_dir_; }

 private:
  struct File {
    int fd = -1;
    int64_t size = 0;
    dev_t dev = 0;
    ino_t ino = 0;
  };
  absl::StatusOr<File*> Open(const std::string& location, const std::string& tensor);

  std::string base_dir_;
  std::map<std::string, File> files_;
};

// Bytes a tensor's data should have: elements * element size. Errors for unknown types.
absl::StatusOr<int64_t> TensorDataBytes(const onnx::TensorProto& t);

// Checks that the data actually stored (raw_data, typed field, or external file) matches the dims.
// `ext` may be null when the tensor is not external.
absl::Status CheckTensorData(const onnx::TensorProto& t, ExternalDataReader* ext);

// Copies `n` bytes starting at byte `pos` of the tensor's data (little-endian, ONNX raw layout)
// into dst, from raw_data, a typed field or the external file.
absl::Status ReadTensorBytes(const onnx::TensorProto& t, ExternalDataReader* ext, int64_t pos,
                             int64_t n, void* dst);

// Whether two paths name the same file (same device and inode; false when either is missing).
bool SameFile(const std::string& a, const std::string& b);
// Whether `path` is one of the (dev, inode) pairs.
bool IsOneOf(const std::string& path, const std::vector<std::pair<dev_t, ino_t>>& files);

// Peak resident memory of this process (VmHWM), in bytes; 0 where /proc is unavailable.
int64_t PeakRssBytes();

std::string DirName(const std::string& path);  // "." for a bare file name
std::string BaseName(const std::string& path);

// A temporary file next to `final_path`; renamed over it by Commit(), removed otherwise (also
// when the process gets SIGINT, SIGTERM or SIGHUP after InstallSignalCleanup()).
class TempFile {
 public:
  static absl::StatusOr<std::unique_ptr<TempFile>> Create(const std::string& final_path);
  ~TempFile();
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  int fd() const { return fd_; }
  const std::string& path() const { return tmp_path_; }
  const std::string& final_path() const { return final_path_; }
  // Bytes reserved so far (the file's size after Commit).
  int64_t size() const { return size_; }
  // Reserves `n` bytes at the next multiple of `alignment` (the gap reads as zeros) and returns
  // their offset; WriteAt fills them (from any thread: positional writes).
  int64_t Reserve(int64_t n, int64_t alignment);
  absl::Status WriteAt(const void* data, int64_t n, int64_t offset);
  // Reserve + WriteAt.
  absl::Status Append(const void* data, int64_t n);
  // fsync, close, rename over final_path.
  absl::Status Commit();

 private:
  TempFile(std::string final_path, std::string tmp_path, int fd, int slot);
  std::string final_path_, tmp_path_;
  int fd_ = -1;
  int slot_ = -1;  // entry in the signal-cleanup table
  int64_t size_ = 0;
  bool positional_ = false;
  bool committed_ = false;
};

// Removes registered temporary files on SIGINT / SIGTERM / SIGHUP, then re-raises the signal.
void InstallSignalCleanup();

// Writes tensors to an external data file: each at an aligned offset (64 KiB for tensors of
// 1 MiB or more, 64 bytes otherwise), the tensor's fields set to point at it.
class ExternalDataWriter {
 public:
  ExternalDataWriter(TempFile* file, std::string location)
      : file_(file), location_(std::move(location)) {}
  // Writes `n` bytes; `t` becomes an external tensor (raw_data and typed fields cleared).
  absl::Status Append(onnx::TensorProto* t, const void* data, int64_t n);
  // Points `t` at `n` reserved bytes and returns their offset; the caller writes them with
  // file()->WriteAt (e.g. on another thread).
  int64_t Reserve(onnx::TensorProto* t, int64_t n);
  TempFile* file() { return file_; }
  // Copies the tensor's current data (inline or external through `ext`) to the file, in chunks.
  absl::Status Move(onnx::TensorProto* t, ExternalDataReader* ext);
  int64_t bytes_written() const { return file_->size(); }

 private:
  void Point(onnx::TensorProto* t, int64_t offset, int64_t n);
  TempFile* file_;
  std::string location_;
};

}  // namespace fp8ops::graph_pass

#endif  // FP8OPS_GRAPH_PASS_MODEL_IO_H_
