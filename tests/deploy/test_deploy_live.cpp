// Deploy checks that need the real server: the flags used by the manifests are ones
// `shirg-server --help` lists, and Debian's Prometheus scrapes a running server.
#include "tests/common/catch.h"

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "tests/clients/process_util.h"

using shirg::test::run;

namespace {
const std::string kSrc = SHIRG_SOURCE_DIR;
std::string work(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("shirg_deploy_" + std::to_string(getpid()) + "_" + name))
      .string();
}
}  // namespace

TEST_CASE("manifest flags and grace period match shirg-server --help") {
  auto help = run({SHIRG_SERVER_BIN, "--help"});
  REQUIRE(help.exit_code == 0);
  const std::string help_file = work("help.txt");
  std::ofstream(help_file) << help.out;
  auto r =
      run({SHIRG_PYTHON, kSrc + "/tests/deploy/check_deploy.py", kSrc, "--server-help", help_file});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("ok:   deployment flags known to the server") != std::string::npos);
  std::filesystem::remove(help_file);
}

TEST_CASE("Debian's Prometheus scrapes shirg_ metrics from a running server") {
  const std::string dir = work("prometheus");
  auto r = run({SHIRG_PYTHON, kSrc + "/tests/deploy/prometheus_scrape_check.py", SHIRG_SERVER_BIN,
                SHIRG_TINY_MODEL, kSrc, dir},
               300);
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("ok: Prometheus scraped") != std::string::npos);
  std::filesystem::remove_all(dir);
}
