// Renders the demo's text-line images (English and Chinese words) with Debian's fonts into
// models/paddleocr/images/: one 48-pixel-high 8-bit grayscale PGM (P5) per line, dark text on a
// light background, width padded to a multiple of 8 (the recogniser's output has width/8
// positions), and labels.tsv ("<file>\t<text>", the ground truth). The images are checked in; this
// program only rebuilds them (byte for byte with the same FreeType and fonts).
//
// Build: the optional CMake target fp8ops_render_text_lines (needs Debian's libfreetype-dev).
// Usage: fp8ops_render_text_lines OUT_DIR [LATIN_FONT CJK_FONT]
//   defaults: /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf (fonts-dejavu-core),
//             /usr/share/fonts/truetype/wqy/wqy-microhei.ttc (fonts-wqy-microhei).
#include <ft2build.h>
#include <sys/stat.h>
#include FT_FREETYPE_H

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace {

constexpr int kHeight = 48;
constexpr int kPixelSize = 30;  // em size in pixels: cap height ~22 px, like a scanned text line
constexpr int kPadX =
    4;  // tight, as the detector crops lines (wider margins read as leading spaces)
constexpr uint8_t kBackground = 246;
constexpr uint8_t kInk = 24;

struct Line {
  const char* file;
  const char* text;
};

// NOTE: every character is in ppocr_keys_v1.txt (or is a space, which the label list appends).
constexpr Line kLines[] = {
    {"en_hello_world.pgm", "Hello World"},     {"en_runtime.pgm", "ONNX Runtime 1.29"},
    {"en_fp8_weights.pgm", "FP8 weights"},     {"en_quantize.pgm", "quantize-2048"},
    {"zh_nihao_shijie.pgm", "你好世界"},       {"zh_liang_hua_mo_xing.pgm", "量化模型"},
    {"zh_shen_du_xue_xi.pgm", "深度学习推理"}, {"zh_price.pgm", "价格128元"},
};

std::vector<uint32_t> DecodeUtf8(const std::string& s) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<uint8_t>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k < len && i + k < s.size(); ++k)
      cp = (cp << 6) | (static_cast<uint8_t>(s[i + k]) & 0x3F);
    out.push_back(cp);
    i += len;
  }
  return out;
}

struct Glyph {
  FT_Face face;
  FT_UInt index;
};

// The Latin font where it has the glyph, else the CJK font.
Glyph Pick(FT_Face latin, FT_Face cjk, uint32_t cp) {
  FT_UInt i = FT_Get_Char_Index(latin, cp);
  if (i != 0) return {latin, i};
  return {cjk, FT_Get_Char_Index(cjk, cp)};
}

bool Render(FT_Face latin, FT_Face cjk, const Line& line, const std::string& path) {
  const std::vector<uint32_t> cps = DecodeUtf8(line.text);
  // Width: sum of advances.
  int advance = 0;
  for (uint32_t cp : cps) {
    Glyph g = Pick(latin, cjk, cp);
    if (g.index == 0) {
      std::fprintf(stderr, "no glyph for U+%04X in '%s'\n", cp, line.text);
      return false;
    }
    if (FT_Load_Glyph(g.face, g.index, FT_LOAD_DEFAULT) != 0) return false;
    advance += static_cast<int>(g.face->glyph->advance.x >> 6);
  }
  const int width = (advance + 2 * kPadX + 7) / 8 * 8;
  std::vector<uint8_t> img(static_cast<size_t>(width) * kHeight, kBackground);
  // Vertical placement from the Latin font's metrics so every line shares one baseline.
  const int ascender = static_cast<int>(latin->size->metrics.ascender >> 6);
  const int descender = static_cast<int>(-(latin->size->metrics.descender >> 6));
  const int baseline = (kHeight - (ascender + descender)) / 2 + ascender;
  int pen = (width - advance) / 2;
  for (uint32_t cp : cps) {
    Glyph g = Pick(latin, cjk, cp);
    if (FT_Load_Glyph(g.face, g.index, FT_LOAD_RENDER) != 0) return false;
    const FT_GlyphSlot slot = g.face->glyph;
    const FT_Bitmap& bm = slot->bitmap;
    for (unsigned r = 0; r < bm.rows; ++r) {
      const int y = baseline - slot->bitmap_top + static_cast<int>(r);
      if (y < 0 || y >= kHeight) continue;
      for (unsigned c = 0; c < bm.width; ++c) {
        const int x = pen + slot->bitmap_left + static_cast<int>(c);
        if (x < 0 || x >= width) continue;
        const int cov = bm.buffer[r * bm.pitch + c];
        uint8_t& p = img[static_cast<size_t>(y) * width + x];
        const int v = p - ((p - kInk) * cov + 127) / 255;
        p = static_cast<uint8_t>(std::min(p, static_cast<uint8_t>(v)));
      }
    }
    pen += static_cast<int>(slot->advance.x >> 6);
  }
  std::ofstream out(path, std::ios::binary);
  out << "P5\n" << width << " " << kHeight << "\n255\n";
  out.write(reinterpret_cast<const char*>(img.data()), static_cast<std::streamsize>(img.size()));
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 && argc != 4) {
    std::fprintf(stderr, "usage: %s OUT_DIR [LATIN_FONT CJK_FONT]\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  mkdir(dir.c_str(), 0755);  // may exist
  const char* latin_path = argc == 4 ? argv[2] : "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
  const char* cjk_path = argc == 4 ? argv[3] : "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc";
  FT_Library lib;
  FT_Face latin, cjk;
  if (FT_Init_FreeType(&lib) != 0) return 1;
  if (FT_New_Face(lib, latin_path, 0, &latin) != 0 || FT_New_Face(lib, cjk_path, 0, &cjk) != 0) {
    std::fprintf(stderr,
                 "cannot open fonts %s, %s (Debian: fonts-dejavu-core fonts-wqy-microhei)\n",
                 latin_path, cjk_path);
    return 1;
  }
  FT_Set_Pixel_Sizes(latin, 0, kPixelSize);
  FT_Set_Pixel_Sizes(cjk, 0, kPixelSize);
  std::ofstream labels(dir + "/labels.tsv", std::ios::binary);
  labels << "# generated by models/paddleocr/render_text_lines.cc, do not edit\n";
  for (const Line& line : kLines) {
    if (!Render(latin, cjk, line, dir + "/" + line.file)) {
      std::fprintf(stderr, "failed to render %s\n", line.file);
      return 1;
    }
    labels << line.file << "\t" << line.text << "\n";
  }
  FT_Done_Face(latin);
  FT_Done_Face(cjk);
  FT_Done_FreeType(lib);
  return labels ? 0 : 1;
}
