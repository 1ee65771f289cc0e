#include "tests/server/rpc_client.h"

#include <stdexcept>

#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"
#include "server/test_pattern.h"
#include "tests/server/raw_http.h"

namespace shirg::testing {

void prepare(grpc::ClientContext& ctx, const CallOptions& o) {
  ctx.set_deadline(std::chrono::system_clock::now() +
                   o.timeout.value_or(std::chrono::seconds(120)));
  if (!o.token.empty()) ctx.AddMetadata("authorization", "Bearer " + o.token);
}

UnaryResult generate(grpc::Channel& ch, const v1::GenerateRequest& req, const CallOptions& o) {
  auto stub = v1::Inference::NewStub(std::shared_ptr<grpc::Channel>(&ch, [](grpc::Channel*) {}));
  grpc::ClientContext ctx;
  prepare(ctx, o);
  UnaryResult r;
  r.status = stub->Generate(&ctx, req, &r.response);
  const auto& md = ctx.GetServerInitialMetadata();
  if (auto it = md.find("x-request-id"); it != md.end())
    r.request_id_metadata.assign(it->second.data(), it->second.size());
  return r;
}

StreamResult generate_stream(grpc::Channel& ch, const v1::GenerateRequest& req,
                             const CallOptions& o,
                             const std::function<bool(const v1::GenerateEvent&)>& on_event) {
  auto stub = v1::Inference::NewStub(std::shared_ptr<grpc::Channel>(&ch, [](grpc::Channel*) {}));
  grpc::ClientContext ctx;
  prepare(ctx, o);
  StreamResult r;
  auto reader = stub->GenerateStream(&ctx, req);
  v1::GenerateEvent ev;
  bool cancelled = false;
  while (reader->Read(&ev)) {
    r.events.push_back(ev);
    if (ev.has_result()) r.result = ev.result();
    if (on_event && !cancelled && !on_event(ev)) {
      ctx.TryCancel();
      cancelled = true;
    }
  }
  r.status = reader->Finish();
  return r;
}

std::optional<grpc::health::v1::HealthCheckResponse::ServingStatus> health_check(
    grpc::Channel& ch, const std::string& service) {
  auto stub =
      grpc::health::v1::Health::NewStub(std::shared_ptr<grpc::Channel>(&ch, [](grpc::Channel*) {}));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(service);
  grpc::health::v1::HealthCheckResponse resp;
  if (!stub->Check(&ctx, req, &resp).ok()) return std::nullopt;
  return resp.status();
}

namespace {
using grpc::reflection::v1alpha::ServerReflection;
using grpc::reflection::v1alpha::ServerReflectionRequest;
using grpc::reflection::v1alpha::ServerReflectionResponse;

ServerReflectionResponse reflect(grpc::Channel& ch, const ServerReflectionRequest& req) {
  auto stub = ServerReflection::NewStub(std::shared_ptr<grpc::Channel>(&ch, [](grpc::Channel*) {}));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto stream = stub->ServerReflectionInfo(&ctx);
  ServerReflectionResponse resp;
  if (!stream->Write(req)) throw std::runtime_error("reflection: write failed");
  stream->WritesDone();
  if (!stream->Read(&resp)) throw std::runtime_error("reflection: no response");
  ServerReflectionResponse extra;
  while (stream->Read(&extra)) {
  }
  const grpc::Status s = stream->Finish();
  if (!s.ok()) throw std::runtime_error("reflection: " + s.error_message());
  return resp;
}
}  // namespace

std::vector<std::string> reflection_services(grpc::Channel& ch) {
  ServerReflectionRequest req;
  req.set_list_services("*");
  const auto resp = reflect(ch, req);
  std::vector<std::string> out;
  for (const auto& s : resp.list_services_response().service()) out.push_back(s.name());
  return out;
}

std::string reflection_file_of(grpc::Channel& ch, const std::string& symbol) {
  ServerReflectionRequest req;
  req.set_file_containing_symbol(symbol);
  const auto resp = reflect(ch, req);
  if (!resp.has_file_descriptor_response() ||
      resp.file_descriptor_response().file_descriptor_proto_size() == 0)
    return "";
  google::protobuf::FileDescriptorProto fd;
  if (!fd.ParseFromString(resp.file_descriptor_response().file_descriptor_proto(0))) return "";
  return fd.name();
}

std::string fetch_metrics(int port) {
  const auto res = http_get(port, "/metrics", std::chrono::seconds(10));
  if (!res) throw std::runtime_error("GET /metrics failed");
  if (res->status != 200)
    throw std::runtime_error("GET /metrics: HTTP " + std::to_string(res->status));
  return res->body;
}

v1::GenerateRequest make_request(uint32_t image_seed, uint64_t seed, int64_t gen_length,
                                 int64_t steps, const std::string& question) {
  v1::GenerateRequest r;
  r.set_image(rpc::make_test_pattern_png(200, 150, image_seed));
  r.set_question(question);
  r.mutable_generation()->set_gen_length(gen_length);
  r.mutable_generation()->set_steps(steps);
  r.mutable_generation()->set_seed(seed);
  return r;
}

}  // namespace shirg::testing
