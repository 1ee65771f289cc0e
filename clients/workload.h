// The requests a load test sends: images from a directory and questions from a .txt or .jsonl
// file (or the bundled samples in clients/samples), paired into a fixed, repeatable list.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace shirg::clients {

struct WorkloadError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Image {
  std::string name;                          // file name inside its directory
  std::shared_ptr<const std::string> bytes;  // encoded JPEG/PNG, shared by every request
};

struct Question {
  std::string text;
  std::string image;  // file name of the image it is about; empty = any image
};

struct WorkItem {
  std::size_t image = 0;  // index into Workload::images
  std::string question;
};

struct Workload {
  std::vector<Image> images;
  std::vector<WorkItem> items;  // request i uses items[i % items.size()]
};

// Every *.jpg / *.jpeg / *.png file of dir (case-insensitive), sorted by name.
// Throws WorkloadError if dir cannot be read or holds no image.
std::vector<Image> load_images(const std::string& dir);

// .jsonl: one object per line {"question": "...", "image": "name.png" (optional)};
// any other extension: one question per line, blank lines and lines starting with '#' skipped.
// Throws WorkloadError (with the line number) on bad lines or when the file holds no question.
std::vector<Question> load_questions(const std::string& path);

// Pairs them: a question naming an image gets that image (WorkloadError if it is not in the
// set); the others are paired round-robin, and when no question names an image the list is
// max(#images, #questions) long so that every image and every question is used.
Workload make_workload(std::vector<Image> images, const std::vector<Question>& questions);

// The bundled samples: $SHIRG_SAMPLES_DIR, else the source tree's clients/samples (compiled in),
// else <dir of the executable>/../share/shirg/samples. Empty when none exists.
std::string bundled_samples_dir();

}  // namespace shirg::clients
