// Checks of docker/ and deploy/ that run without Docker or a cluster: YAML lint, consistency with
// docs/architecture.md, Prometheus config syntax, kustomize rendering.
#include "tests/common/catch.h"

#include "tests/clients/process_util.h"

using shirg::test::run;

namespace {
const std::string kSrc = SHIRG_SOURCE_DIR;
}

TEST_CASE("every docker and deploy YAML passes yamllint in strict mode") {
  auto r = run({SHIRG_YAMLLINT, "-s", "-f", "parsable", "-c", kSrc + "/tests/deploy/yamllint.yaml",
                kSrc + "/deploy", kSrc + "/docker/compose.yaml", kSrc + "/docker/compose.gpu.yaml",
                kSrc + "/docker/prometheus.yml"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.empty());
}

TEST_CASE("manifests and Dockerfiles agree with the architecture's ports and metrics") {
  auto r = run({SHIRG_PYTHON, kSrc + "/tests/deploy/check_deploy.py", kSrc});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("0 failed") != std::string::npos);
  CHECK(r.out.find("ok:   docker/Dockerfile: build stage runs scripts/install-deps.sh") !=
        std::string::npos);
}

TEST_CASE("the Compose Prometheus config is valid for promtool") {
  auto r = run({SHIRG_PROMTOOL, "check", "config", kSrc + "/docker/prometheus.yml"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 0);
}

#ifdef SHIRG_KUBECTL
TEST_CASE("kustomize renders the base and both overlays") {
  for (const char* dir : {"base", "overlays/demo", "overlays/gpu"}) {
    auto r = run({SHIRG_KUBECTL, "kustomize", kSrc + "/deploy/" + dir});
    INFO(dir << "\n" << r.err);
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("kind: Deployment") != std::string::npos);
    CHECK(r.out.find("kind: HorizontalPodAutoscaler") != std::string::npos);
    if (std::string(dir) == "overlays/gpu") {
      CHECK(r.out.find("nvidia.com/gpu: 1") != std::string::npos);
    }
    if (std::string(dir) == "overlays/demo") {
      CHECK(r.out.find("PersistentVolumeClaim") == std::string::npos);
      CHECK(r.out.find("--model-dir=/opt/shirg/models/demo") != std::string::npos);
      CHECK(r.out.find("--adapter-dir=/opt/shirg/models/demo/shirg-lora") != std::string::npos);
    }
  }
}
#endif
