#include "data/dataset.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <map>

#include "ir/error.h"

namespace concord {
namespace fs = std::filesystem;
namespace {

bool IsImage(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

bool ParseInt(const std::string& s, int* out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

void LabelSpace::Validate() const {
  if (num_classes < 1) {
    Fail(ErrorKind::kUsage, "label space: num_classes must be >= 1, got {}", num_classes);
  }
  if (offset < 0 || offset >= num_classes) {
    Fail(ErrorKind::kUsage, "label space: offset must be in [0, {}), got {}", num_classes, offset);
  }
}

int LabelSpace::ToCanonical(int idx) const {
  if (idx < 0 || idx >= num_classes) {
    Fail(ErrorKind::kInput,
         "label space: class index {} is outside [0, {}); check the declared num_classes", idx,
         num_classes);
  }
  return idx < offset ? kBackground : idx - offset;
}

ImageFolderDataset::ImageFolderDataset(const fs::path& root, ImageFolderOptions options)
    : root_(root), options_(std::move(options)) {
  std::error_code ec;
  if (!fs::is_directory(root_, ec)) {
    Fail(ErrorKind::kInput, "dataset folder '{}' does not exist or is not a directory",
         root_.string());
  }
  try {
    auto add = [&](const fs::directory_entry& e) {
      if (e.is_regular_file() && IsImage(e.path())) {
        names_.push_back(e.path().lexically_relative(root_).generic_string());
      }
    };
    if (options_.recursive) {
      for (const auto& e : fs::recursive_directory_iterator(root_)) add(e);
    } else {
      for (const auto& e : fs::directory_iterator(root_)) add(e);
    }
  } catch (const fs::filesystem_error& e) {
    Fail(ErrorKind::kInput, "dataset folder '{}' could not be listed: {}", root_.string(),
         e.what());
  }
  std::sort(names_.begin(), names_.end());
  if (names_.empty()) {
    Fail(ErrorKind::kInput, "dataset folder '{}' has no .jpg/.jpeg/.png/.bmp images{}",
         root_.string(), options_.recursive ? "" : " (not searching subfolders)");
  }
  if (options_.labels_file) ReadLabels(*options_.labels_file);
}

void ImageFolderDataset::ReadLabels(const fs::path& file) {
  std::ifstream in(file);
  if (!in) Fail(ErrorKind::kInput, "labels file '{}' could not be opened", file.string());
  std::vector<std::pair<int, std::string>> lines;  // (line number, trimmed text)
  std::string line;
  bool csv = false;
  for (int n = 1; std::getline(in, line); ++n) {
    std::string t = Trim(line);
    if (t.empty()) continue;
    if (t.find(',') != std::string::npos) csv = true;
    lines.emplace_back(n, t);
  }
  auto parse_label = [&](const std::string& s, int n) {
    int v = 0;
    if (!ParseInt(s, &v) || v < 0) {
      Fail(ErrorKind::kInput, "labels file '{}' line {}: label '{}' is not a non-negative integer",
           file.string(), n, s);
    }
    return v;
  };
  if (!csv) {
    if (lines.size() != names_.size()) {
      Fail(ErrorKind::kInput,
           "labels file '{}' has {} labels but the dataset folder '{}' has {} images (one label "
           "per line, in sorted file order)",
           file.string(), lines.size(), root_.string(), names_.size());
    }
    for (const auto& [n, t] : lines) labels_.push_back(parse_label(t, n));
    return;
  }
  std::map<std::string, int> by_name;
  for (size_t k = 0; k < lines.size(); ++k) {
    const auto& [n, t] = lines[k];
    size_t comma = t.find(',');
    if (comma == std::string::npos || t.find(',', comma + 1) != std::string::npos) {
      Fail(ErrorKind::kInput, "labels file '{}' line {}: expected 'file,label', got '{}'",
           file.string(), n, t);
    }
    std::string name = Trim(t.substr(0, comma));
    std::string label = Trim(t.substr(comma + 1));
    if (k == 0 && name == "file" && label == "label") continue;
    if (!std::binary_search(names_.begin(), names_.end(), name)) {
      Fail(ErrorKind::kInput, "labels file '{}' line {}: '{}' is not an image in '{}'",
           file.string(), n, name, root_.string());
    }
    if (!by_name.emplace(name, parse_label(label, n)).second) {
      Fail(ErrorKind::kInput, "labels file '{}' line {}: '{}' is labeled twice", file.string(), n,
           name);
    }
  }
  for (const auto& name : names_) {
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      Fail(ErrorKind::kInput, "labels file '{}' has no label for image '{}'", file.string(), name);
    }
    labels_.push_back(it->second);
  }
}

std::optional<int> ImageFolderDataset::label(size_t i) const {
  if (i >= names_.size()) {
    Fail(ErrorKind::kUsage, "dataset index {} out of range (size {})", i, names_.size());
  }
  if (labels_.empty()) return std::nullopt;
  return labels_[i];
}

DatasetItem ImageFolderDataset::item(size_t i) const {
  DatasetItem d;
  d.label = label(i);
  d.name = names_[i];
  d.path = root_ / fs::path(names_[i]);
  d.tensor = LoadImage(d.path, options_.spec);
  return d;
}

}  // namespace concord
