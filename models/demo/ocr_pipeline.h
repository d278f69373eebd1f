// The text-recogniser side of the demo: PNM images, PaddleOCR recogniser preprocessing, the label
// list, greedy CTC decoding, and the numbers that compare two models' outputs. No ONNX Runtime
// here.
#ifndef FP8OPS_MODELS_DEMO_OCR_PIPELINE_H_
#define FP8OPS_MODELS_DEMO_OCR_PIPELINE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace fp8ops::demo {

// An 8-bit image, rows top to bottom, channels interleaved (1 = gray, 3 = RGB as stored in PPM).
struct Image {
  int width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;
};

// Reads binary PGM (P5) or PPM (P6) with maxval 255 (comments allowed in the header).
absl::StatusOr<Image> ReadPnm(const std::string& path);

// Bilinear resize (pixel centers aligned, like OpenCV's INTER_LINEAR without the fixed-point).
Image ResizeBilinear(const Image& in, int width, int height);

// PaddleOCR recogniser input for one image: height 48 (aspect kept, width rounded up to a multiple
// of 8, the extra columns padded with 0 after normalization as PaddleOCR pads), BGR planes (a gray
// image fills all three), value (pixel / 255 - 0.5) / 0.5. Returns float32 NCHW data [1, 3, 48,
// width].
struct RecInput {
  int64_t width = 0;
  std::vector<float> data;
};
RecInput PreprocessForRecognizer(const Image& img, int height = 48);

// Classifier (text direction) input: PaddleOCR's 3x48x192, the image resized to height 48 keeping
// its aspect (width capped at 192) and right-padded with 0; same normalization as the recogniser.
std::vector<float> PreprocessForClassifier(const Image& img);

// The recogniser's labels: index 0 is the CTC blank, then one entry per line of ppocr_keys_v1.txt,
// then a space (PaddleOCR's use_space_char). 6623 keys give 6625 classes.
absl::StatusOr<std::vector<std::string>> LoadLabels(const std::string& keys_path);

// Greedy CTC over probabilities [T, C] (row-major): argmax per position, collapse repeats, drop
// blank 0.
std::vector<int> ArgmaxRows(const float* probs, int64_t t, int64_t c);
std::string CtcGreedyDecode(const std::vector<int>& argmax, const std::vector<std::string>& labels);

// Share of positions whose argmax agrees (1 when both are empty).
double Top1Agreement(const std::vector<int>& a, const std::vector<int>& b);
// Cosine similarity of two equally long vectors (1 when both are all zero).
double Cosine(const float* a, const float* b, int64_t n);
// max |a - b|.
double MaxAbsDiff(const float* a, const float* b, int64_t n);

// labels.tsv written by models/paddleocr/render_text_lines.cc: (file, text) pairs; '#' lines
// skipped.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ReadLabelsTsv(
    const std::string& path);

}  // namespace fp8ops::demo

#endif  // FP8OPS_MODELS_DEMO_OCR_PIPELINE_H_
