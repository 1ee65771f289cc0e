// Unit tests of clients/workload.h: image directories, .txt / .jsonl questions, pairing.
#include "tests/common/catch.h"

#include <unistd.h>
#include <filesystem>
#include <fstream>

#include "clients/workload.h"

using namespace shirg::clients;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("shirg_workload_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  static int& counter() {
    static int c = 0;
    return c;
  }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name, std::ios::binary) << text;
    return (path / name).string();
  }
};

}  // namespace

TEST_CASE("load_images keeps jpg/jpeg/png files sorted by name") {
  TempDir d;
  d.write("b.PNG", "png-bytes");
  d.write("a.jpg", "jpg-bytes");
  d.write("c.jpeg", "jpeg");
  d.write("notes.txt", "not an image");
  const auto images = load_images(d.path.string());
  REQUIRE(images.size() == 3);
  CHECK(images[0].name == "a.jpg");
  CHECK(*images[0].bytes == "jpg-bytes");
  CHECK(images[1].name == "b.PNG");
  CHECK(images[2].name == "c.jpeg");
}

TEST_CASE("load_images reports missing directories and empty sets") {
  TempDir d;
  CHECK_THROWS_AS(load_images((d.path / "missing").string()), WorkloadError);
  d.write("readme.md", "x");
  CHECK_THROWS_WITH(load_images(d.path.string()),
                    Catch::Matchers::ContainsSubstring("no .jpg/.jpeg/.png"));
}

TEST_CASE("text question files skip blank and comment lines") {
  TempDir d;
  const auto qs = load_questions(d.write("q.txt", "# header\nWhat is it?\n\n  How many?  \n"));
  REQUIRE(qs.size() == 2);
  CHECK(qs[0].text == "What is it?");
  CHECK(qs[1].text == "How many?");
  CHECK(qs[1].image.empty());
  CHECK_THROWS_AS(load_questions(d.write("empty.txt", "# nothing\n\n")), WorkloadError);
  CHECK_THROWS_AS(load_questions((d.path / "none.txt").string()), WorkloadError);
}

TEST_CASE("jsonl question files read question and optional image with line numbers on errors") {
  TempDir d;
  const auto qs = load_questions(d.write(
      "q.jsonl", "{\"question\": \"Total?\", \"image\": \"r.jpg\"}\n\n{\"question\": \"Q\"}\n"));
  REQUIRE(qs.size() == 2);
  CHECK(qs[0].image == "r.jpg");
  CHECK(qs[1].image.empty());
  CHECK_THROWS_WITH(load_questions(d.write("bad.jsonl", "{\"question\": \"ok\"}\nnot json\n")),
                    Catch::Matchers::ContainsSubstring("bad.jsonl:2"));
  CHECK_THROWS_WITH(load_questions(d.write("bad2.jsonl", "{\"q\": 1}\n")),
                    Catch::Matchers::ContainsSubstring("string \"question\""));
  CHECK_THROWS_AS(load_questions(d.write("bad3.jsonl", "{\"question\": \"a\", \"image\": 3}\n")),
                  WorkloadError);
}

TEST_CASE("make_workload pairs named images and round-robins the rest") {
  std::vector<Image> images = {{"a.png", std::make_shared<const std::string>("A")},
                               {"b.png", std::make_shared<const std::string>("B")},
                               {"c.png", std::make_shared<const std::string>("C")}};
  SECTION("no names: max(#images, #questions) items using all of both") {
    const Workload w = make_workload(images, {{"q1", ""}, {"q2", ""}});
    REQUIRE(w.items.size() == 3);
    CHECK(w.images[w.items[0].image].name == "a.png");
    CHECK(w.items[0].question == "q1");
    CHECK(w.images[w.items[2].image].name == "c.png");
    CHECK(w.items[2].question == "q1");
  }
  SECTION("named images are honoured") {
    const Workload w = make_workload(images, {{"q1", "c.png"}, {"q2", ""}, {"q3", "a.png"}});
    REQUIRE(w.items.size() == 3);
    CHECK(w.images[w.items[0].image].name == "c.png");
    CHECK(w.images[w.items[1].image].name == "a.png");
    CHECK(w.images[w.items[2].image].name == "a.png");
  }
  SECTION("unknown names and empty sets are errors") {
    CHECK_THROWS_WITH(make_workload(images, {{"q", "zzz.png"}}),
                      Catch::Matchers::ContainsSubstring("zzz.png"));
    CHECK_THROWS_AS(make_workload({}, {{"q", ""}}), WorkloadError);
    CHECK_THROWS_AS(make_workload(images, {}), WorkloadError);
  }
}

TEST_CASE("the bundled samples load as a workload") {
  const std::string dir = bundled_samples_dir();
  REQUIRE_FALSE(dir.empty());
  const auto images = load_images(dir);
  CHECK(images.size() >= 2);
  for (const Image& im : images) {
    CHECK(im.bytes->size() > 1000);
    CHECK(im.bytes->size() < 100 * 1024);
  }
  const Workload w = make_workload(images, load_questions(dir + "/questions.jsonl"));
  CHECK(w.items.size() == load_questions(dir + "/questions.txt").size());
}
