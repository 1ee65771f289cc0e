// ServerMetrics' device-memory gauges, fed by a stand-in GPU (a DeviceMemory with every figure)
// and by a device that reports only some figures (the CPU): what /metrics shows.
#include "tests/common/catch.h"

#include "server/prometheus.h"
#include "server/server_metrics.h"

using namespace shirg;
using Catch::Matchers::ContainsSubstring;

TEST_CASE("device memory gauges show what the device reports, and nothing it does not") {
  prom::Registry registry;
  rpc::ServerMetrics metrics(registry);
  DeviceMemory gpu;
  gpu.total = int64_t{80} << 30;
  gpu.free = int64_t{50} << 30;
  gpu.allocated = int64_t{17} << 30;
  gpu.reserved = int64_t{20} << 30;
  metrics.record_device_memory("cuda:0", gpu);
  const std::string text = registry.render();
  CHECK_THAT(text, ContainsSubstring("# TYPE shirg_device_memory_bytes gauge"));
  CHECK_THAT(text,
             ContainsSubstring("shirg_device_memory_bytes{device=\"cuda:0\",kind=\"allocated\"} "
                               "18253611008\n"));
  CHECK_THAT(text,
             ContainsSubstring("shirg_device_memory_bytes{device=\"cuda:0\",kind=\"reserved\"} "
                               "21474836480\n"));
  CHECK_THAT(text, ContainsSubstring("shirg_device_memory_bytes{device=\"cuda:0\",kind=\"total\"} "
                                     "85899345920\n"));
  CHECK_THAT(text, ContainsSubstring(
                       "shirg_device_memory_bytes{device=\"cuda:0\",kind=\"free\"} 53687091200\n"));

  prom::Registry cpu_registry;
  rpc::ServerMetrics cpu_metrics(cpu_registry);
  DeviceMemory cpu;
  cpu.total = int64_t{24} << 30;
  cpu.free = int64_t{20} << 30;
  cpu_metrics.record_device_memory("cpu", cpu);
  const std::string cpu_text = cpu_registry.render();
  CHECK_THAT(cpu_text, ContainsSubstring("kind=\"total\"} 25769803776\n"));
  CHECK(cpu_text.find("kind=\"allocated\"") == std::string::npos);
  CHECK(cpu_text.find("kind=\"reserved\"") == std::string::npos);
}
