#include "models/demo/ocr_pipeline.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace fp8ops::demo {
namespace {

// Next header token of a PNM file, skipping whitespace and '#' comments.
bool NextToken(std::istream& in, std::string* tok) {
  tok->clear();
  int c;
  while ((c = in.get()) != EOF) {
    if (c == '#') {
      while ((c = in.get()) != EOF && c != '\n') {
      }
      continue;
    }
    if (!std::isspace(c)) break;
  }
  if (c == EOF) return false;
  tok->push_back(static_cast<char>(c));
  while ((c = in.peek()) != EOF && !std::isspace(c) && c != '#')
    tok->push_back(static_cast<char>(in.get()));
  return true;
}

// Writes the normalized BGR planes of `img` (already `height` rows) into dst [3, height,
// width_total], columns beyond img.width stay 0.
void NormalizeInto(const Image& img, int64_t width_total, float* dst) {
  const int64_t plane = static_cast<int64_t>(img.height) * width_total;
  for (int y = 0; y < img.height; ++y) {
    for (int x = 0; x < img.width && x < width_total; ++x) {
      const uint8_t* p = &img.pixels[(static_cast<size_t>(y) * img.width + x) * img.channels];
      for (int ch = 0; ch < 3; ++ch) {
        // BGR order: plane 0 is blue, which is PPM's channel 2.
        const uint8_t v = img.channels == 1 ? p[0] : p[2 - ch];
        dst[ch * plane + static_cast<int64_t>(y) * width_total + x] = (v / 255.0f - 0.5f) / 0.5f;
      }
    }
  }
}

}  // namespace

absl::StatusOr<Image> ReadPnm(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::string magic, w, h, maxval;
  if (!NextToken(in, &magic) || !NextToken(in, &w) || !NextToken(in, &h) ||
      !NextToken(in, &maxval)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": truncated PNM header"));
  }
  Image img;
  if (magic == "P5") {
    img.channels = 1;
  } else if (magic == "P6") {
    img.channels = 3;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not a binary PGM/PPM (magic '", magic, "')"));
  }
  img.width = std::atoi(w.c_str());
  img.height = std::atoi(h.c_str());
  if (img.width <= 0 || img.height <= 0 || img.width > 65536 || img.height > 65536 ||
      maxval != "255") {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": unsupported size ", w, "x", h, " or maxval ", maxval));
  }
  in.get();  // the single whitespace after maxval
  img.pixels.resize(static_cast<size_t>(img.width) * img.height * img.channels);
  in.read(reinterpret_cast<char*>(img.pixels.data()),
          static_cast<std::streamsize>(img.pixels.size()));
  if (in.gcount() != static_cast<std::streamsize>(img.pixels.size())) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": truncated pixel data"));
  }
  return img;
}

Image ResizeBilinear(const Image& in, int width, int height) {
  if (width == in.width && height == in.height) return in;
  Image out;
  out.width = width;
  out.height = height;
  out.channels = in.channels;
  out.pixels.resize(static_cast<size_t>(width) * height * in.channels);
  const float sx = static_cast<float>(in.width) / width,
              sy = static_cast<float>(in.height) / height;
  for (int y = 0; y < height; ++y) {
    const float fy = std::clamp((y + 0.5f) * sy - 0.5f, 0.0f, static_cast<float>(in.height - 1));
    const int y0 = static_cast<int>(fy), y1 = std::min(y0 + 1, in.height - 1);
    const float wy = fy - y0;
    for (int x = 0; x < width; ++x) {
      const float fx = std::clamp((x + 0.5f) * sx - 0.5f, 0.0f, static_cast<float>(in.width - 1));
      const int x0 = static_cast<int>(fx), x1 = std::min(x0 + 1, in.width - 1);
      const float wx = fx - x0;
      for (int c = 0; c < in.channels; ++c) {
        auto at = [&](int yy, int xx) {
          return static_cast<float>(
              in.pixels[(static_cast<size_t>(yy) * in.width + xx) * in.channels + c]);
        };
        const float v = (1 - wy) * ((1 - wx) * at(y0, x0) + wx * at(y0, x1)) +
                        wy * ((1 - wx) * at(y1, x0) + wx * at(y1, x1));
        out.pixels[(static_cast<size_t>(y) * width + x) * in.channels + c] =
            static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
      }
    }
  }
  return out;
}

RecInput PreprocessForRecognizer(const Image& img, int height) {
  const int resized_w = std::max(
      1, static_cast<int>(std::ceil(static_cast<double>(height) * img.width / img.height)));
  const Image r = ResizeBilinear(img, resized_w, height);
  RecInput out;
  out.width = (resized_w + 7) / 8 * 8;
  out.data.assign(static_cast<size_t>(3) * height * out.width, 0.0f);
  NormalizeInto(r, out.width, out.data.data());
  return out;
}

std::vector<float> PreprocessForClassifier(const Image& img) {
  constexpr int kH = 48, kW = 192;
  const int resized_w = std::clamp(
      static_cast<int>(std::ceil(static_cast<double>(kH) * img.width / img.height)), 1, kW);
  const Image r = ResizeBilinear(img, resized_w, kH);
  std::vector<float> out(static_cast<size_t>(3) * kH * kW, 0.0f);
  NormalizeInto(r, kW, out.data());
  return out;
}

absl::StatusOr<std::vector<std::string>> LoadLabels(const std::string& keys_path) {
  std::ifstream in(keys_path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", keys_path));
  std::vector<std::string> labels = {""};  // CTC blank
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    labels.push_back(line);
  }
  labels.push_back(" ");
  return labels;
}

std::vector<int> ArgmaxRows(const float* probs, int64_t t, int64_t c) {
  std::vector<int> out(static_cast<size_t>(t));
  for (int64_t i = 0; i < t; ++i) {
    const float* row = probs + i * c;
    out[i] = static_cast<int>(std::max_element(row, row + c) - row);
  }
  return out;
}

std::string CtcGreedyDecode(const std::vector<int>& argmax,
                            const std::vector<std::string>& labels) {
  std::string text;
  int prev = -1;
  for (int idx : argmax) {
    if (idx != prev && idx != 0) {
      text += idx < static_cast<int>(labels.size()) ? labels[idx] : "?";
    }
    prev = idx;
  }
  return text;
}

double Top1Agreement(const std::vector<int>& a, const std::vector<int>& b) {
  if (a.size() != b.size()) return 0.0;
  if (a.empty()) return 1.0;
  size_t same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
  return static_cast<double>(same) / a.size();
}

double Cosine(const float* a, const float* b, int64_t n) {
  double ab = 0, aa = 0, bb = 0;
  for (int64_t i = 0; i < n; ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  if (aa == 0 && bb == 0) return 1.0;
  if (aa == 0 || bb == 0) return 0.0;
  return ab / std::sqrt(aa * bb);
}

double MaxAbsDiff(const float* a, const float* b, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ReadLabelsTsv(
    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::vector<std::pair<std::string, std::string>> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t tab = line.find('\t');
    if (tab == std::string::npos)
      return absl::InvalidArgumentError(absl::StrCat(path, ": no tab in '", line, "'"));
    out.emplace_back(line.substr(0, tab), line.substr(tab + 1));
  }
  return out;
}

}  // namespace fp8ops::demo
