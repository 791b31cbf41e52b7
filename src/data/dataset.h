// Datasets for experiment runs: a folder of images with optional class labels, and the label
// space a model's outputs live in.
//
// ImageFolderDataset lists image files (.jpg .jpeg .png .bmp, case-insensitive) once, at
// construction, sorted by their '/'-separated path relative to the root (byte order), so item
// i is the same file on every machine. Images are decoded lazily by item(i) with the
// dataset's PreprocessSpec. Labels come from an optional labels file in one of two formats:
//   CSV:       "file,label" per line (file = the relative name; an optional "file,label"
//              header line is skipped); every image needs exactly one line;
//   per line:  one integer label per line, in the dataset's sorted file order.
// The format is CSV when any non-blank line contains a comma. Blank lines are ignored.
// Failures: missing root / no images / bad labels file -> Error(kInput) naming the file
// (and line number); item(i) out of range -> Error(kUsage). Not thread-safe for construction;
// item() is const and safe to call concurrently.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "data/preprocess.h"
#include "ir/tensor.h"

namespace concord {

// The class-index space of a model's scores, DECLARED by the user (never guessed from file
// names). num_classes is the score vector length; the first `offset` classes are extra
// (e.g. a background class): a 1001-class TF-slim model with background at 0 is
// {1001, 1}, a plain ImageNet model {1000, 0}. Canonical index = model index - offset.
struct LabelSpace {
  int num_classes = 1000;
  int offset = 0;

  static constexpr int kBackground = -1;

  // Error(kUsage) unless num_classes >= 1 and 0 <= offset < num_classes.
  void Validate() const;
  // Model index -> canonical class id; kBackground for idx < offset; Error(kInput) when idx is
  // outside [0, num_classes).
  int ToCanonical(int idx) const;
};

struct DatasetItem {
  std::string name;            // path relative to the root, '/'-separated
  std::filesystem::path path;  // full path
  std::optional<int> label;    // canonical class id, when a labels file was given
  Tensor tensor;               // Preprocess(image, spec), batch 1
};

struct ImageFolderOptions {
  bool recursive = false;
  std::optional<std::filesystem::path> labels_file;
  PreprocessSpec spec;
};

class ImageFolderDataset {
 public:
  ImageFolderDataset(const std::filesystem::path& root, ImageFolderOptions options);

  size_t size() const { return names_.size(); }
  const std::vector<std::string>& names() const { return names_; }
  std::optional<int> label(size_t i) const;
  // Loads and preprocesses image i (Error(kInput) naming the file if it cannot be decoded).
  DatasetItem item(size_t i) const;

 private:
  void ReadLabels(const std::filesystem::path& file);

  std::filesystem::path root_;
  ImageFolderOptions options_;
  std::vector<std::string> names_;
  std::vector<int> labels_;  // empty without a labels file
};

}  // namespace concord
