// shirg-client: one image + question to a shirg-server, or its health / model info / selection map.
// Exit statuses: see rpc_common.h (0 ok, 2 usage, 3 local file, 4 not serving, 10+gRPC code).
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>

#include "clients/args.h"
#include "clients/progress_display.h"
#include "clients/rpc_common.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace {

using namespace shirg::clients;
namespace v1 = shirg::v1;

struct RpcError {
  grpc::Status status;
};

std::string read_image(const std::string& path) {
  if (path == "-") {
    std::string s((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    return s;
  }
  return read_file(path);
}

void print_summary(const v1::GenerateResponse& r) {
  const auto& t = r.timings();
  std::fprintf(stderr,
               "[%s: %lld answer tokens, %lld steps, %lld prefix tokens (%lld visual), "
               "total %.1f ms = queue %.1f + vision %.1f + selection %.1f + prefill %.1f + "
               "steps %.1f]\n",
               r.request_id().c_str(), static_cast<long long>(r.answer_tokens()),
               static_cast<long long>(r.steps()), static_cast<long long>(r.prefix_tokens()),
               static_cast<long long>(r.selection().visual_tokens()), t.total_ms(), t.queue_ms(),
               t.vision_ms(), t.selection_ms(), t.prefill_ms(), t.steps_ms());
}

int run_health(const ArgParser& args, const ConnectionOptions& conn) {
  auto stub = grpc::health::v1::Health::NewStub(make_channel(conn));
  grpc::ClientContext ctx;
  prepare_context(ctx, conn);
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(args.get("service"));
  grpc::health::v1::HealthCheckResponse resp;
  const grpc::Status st = stub->Check(&ctx, req, &resp);
  if (!st.ok()) throw RpcError{st};
  const std::string name = grpc::health::v1::HealthCheckResponse_ServingStatus_Name(resp.status());
  if (args.has("json")) {
    std::printf("{\"service\": \"%s\", \"status\": \"%s\"}\n", req.service().c_str(), name.c_str());
  } else {
    std::printf("%s\n", name.c_str());
  }
  return resp.status() == grpc::health::v1::HealthCheckResponse::SERVING ? kExitOk
                                                                         : kExitNotServing;
}

int run_info(const ArgParser& args, v1::Inference::Stub& stub, const ConnectionOptions& conn) {
  grpc::ClientContext ctx;
  prepare_context(ctx, conn);
  v1::ModelInfoResponse info;
  const grpc::Status st = stub.ModelInfo(&ctx, v1::ModelInfoRequest{}, &info);
  if (!st.ok()) throw RpcError{st};
  if (args.has("json")) {
    std::printf("%s\n", to_json(info, true).c_str());
    return kExitOk;
  }
  std::string modes;
  for (const auto& m : info.selection_modes()) modes += (modes.empty() ? "" : ", ") + m;
  std::printf("checkpoint:        %s\n", info.checkpoint().c_str());
  std::printf("model type:        %s (%lld parameters)\n", info.model_type().c_str(),
              static_cast<long long>(info.parameters()));
  std::printf("dtype / device:    %s / %s (LLaDA matrices stored in %s)\n", info.dtype().c_str(),
              info.device().c_str(), info.llm_weight_dtype().c_str());
  std::printf("vision:            %lld layers, hidden %lld, image %lld, patch %lld\n",
              static_cast<long long>(info.vision_layers()),
              static_cast<long long>(info.vision_hidden_size()),
              static_cast<long long>(info.vision_image_size()),
              static_cast<long long>(info.vision_patch_size()));
  std::printf("language model:    %lld layers, d_model %lld, %lld heads, vocab %lld\n",
              static_cast<long long>(info.llm_layers()), static_cast<long long>(info.llm_d_model()),
              static_cast<long long>(info.llm_heads()),
              static_cast<long long>(info.llm_vocab_size()));
  std::printf("selection modes:   %s\n", modes.c_str());
  std::printf("SHIRG adapter:     %s%s%s (%lld LoRA modules merged)\n",
              info.shirg_adapter_loaded() ? "loaded" : "not loaded",
              info.adapter_dir().empty() ? "" : " from ", info.adapter_dir().c_str(),
              static_cast<long long>(info.lora_modules_merged()));
  std::printf(
      "limits:            gen_length <= %lld, question <= %lld tokens, image <= %lld "
      "bytes / %lld pixels, queue %lld\n",
      static_cast<long long>(info.max_gen_length()),
      static_cast<long long>(info.max_question_tokens()),
      static_cast<long long>(info.max_image_bytes()),
      static_cast<long long>(info.max_image_pixels()), static_cast<long long>(info.max_queue()));
  std::printf("server version:    %s\n", info.server_version().c_str());
  return kExitOk;
}

int run_selection_map(const ArgParser& args, v1::Inference::Stub& stub,
                      const ConnectionOptions& conn, const std::string& image) {
  v1::SelectionMapRequest req;
  req.set_image(image);
  req.set_question(args.get("question"));
  *req.mutable_selection() = selection_options(args);
  grpc::ClientContext ctx;
  prepare_context(ctx, conn);
  v1::SelectionMapResponse resp;
  const grpc::Status st = stub.SelectionMap(&ctx, req, &resp);
  if (!st.ok()) throw RpcError{st};
  const std::string out = args.get("selection-map");
  write_file(out, resp.overlay_png());
  if (args.has("json")) {
    v1::SelectionMapResponse copy = resp;
    copy.clear_overlay_png();  // the PNG is in the file, not in the JSON
    std::printf("%s\n", to_json(copy, true).c_str());
  } else {
    std::printf(
        "grid %lldx%lld: kept %d hi-detail cells + %lld scaffold tokens "
        "(%lld visual tokens), selection %.1f ms -> %s (%zu bytes)\n",
        static_cast<long long>(resp.grid()), static_cast<long long>(resp.grid()),
        resp.kept_indices_size(), static_cast<long long>(resp.scaffold_tokens()),
        static_cast<long long>(resp.selection().visual_tokens()), resp.selection_ms(), out.c_str(),
        resp.overlay_png().size());
  }
  return kExitOk;
}

v1::GenerateRequest make_request(const ArgParser& args, const std::string& image) {
  v1::GenerateRequest req;
  req.set_image(image);
  req.set_question(args.get("question"));
  req.set_request_id(args.get("request-id"));
  *req.mutable_generation() = generation_options(args);
  *req.mutable_selection() = selection_options(args);
  return req;
}

int run_generate(const ArgParser& args, v1::Inference::Stub& stub, const ConnectionOptions& conn,
                 const std::string& image) {
  const v1::GenerateRequest req = make_request(args, image);
  grpc::ClientContext ctx;
  prepare_context(ctx, conn);
  v1::GenerateResponse resp;
  const grpc::Status st = stub.Generate(&ctx, req, &resp);
  if (!st.ok()) throw RpcError{st};
  if (args.has("json")) {
    std::printf("%s\n", to_json(resp, true).c_str());
  } else {
    std::printf("%s\n", resp.answer().c_str());
    if (!args.has("quiet")) print_summary(resp);
  }
  return kExitOk;
}

int run_stream(const ArgParser& args, v1::Inference::Stub& stub, const ConnectionOptions& conn,
               const std::string& image) {
  const v1::GenerateRequest req = make_request(args, image);
  grpc::ClientContext ctx;
  prepare_context(ctx, conn);
  auto reader = stub.GenerateStream(&ctx, req);
  const bool json = args.has("json");
  ProgressDisplay progress(stderr, isatty(fileno(stderr)) != 0);
  const bool show = !json && !args.has("quiet");
  v1::GenerateEvent ev;
  v1::GenerateResponse result;
  bool have_result = false;
  while (reader->Read(&ev)) {
    if (json) {
      std::printf("%s\n", to_json(ev, false).c_str());  // one JSON object per line
      std::fflush(stdout);
    }
    switch (ev.event_case()) {
      case v1::GenerateEvent::kQueued:
        if (show) progress.queued(ev.queued().request_id());
        break;
      case v1::GenerateEvent::kPrefixReady:
        if (show) {
          progress.prefix_ready(ev.prefix_ready().prefix_tokens(),
                                ev.prefix_ready().selection().visual_tokens(),
                                ev.prefix_ready().timings().total_ms());
        }
        break;
      case v1::GenerateEvent::kStep:
        if (show) {
          progress.step(ev.step().step(), ev.step().total_steps(), ev.step().committed_tokens(),
                        ev.step().partial_answer());
        }
        break;
      case v1::GenerateEvent::kResult:
        result = ev.result();
        have_result = true;
        break;
      default:
        break;
    }
  }
  if (show) progress.finish();
  const grpc::Status st = reader->Finish();
  if (!st.ok()) throw RpcError{st};
  if (!have_result) {
    throw RpcError{grpc::Status(grpc::StatusCode::INTERNAL, "stream ended without a result")};
  }
  if (!json) {
    std::printf("%s\n", result.answer().c_str());
    if (!args.has("quiet")) print_summary(result);
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  ArgParser args("shirg-client",
                 "--image FILE --question TEXT [options]\n"
                 "       shirg-client --health | --info | --image FILE --selection-map OUT.png");
  args.section("Request");
  args.option("image", "FILE", "JPEG or PNG image ('-' reads standard input)");
  args.option("question", "TEXT", "the question about the image");
  args.option("request-id", "ID", "request id (the server makes one when empty)");
  args.flag("stream", "stream the denoising steps (live progress on a terminal)");
  args.flag("json", "print the whole response as JSON (with --stream: one event per line)");
  args.flag("quiet", "print the answer only (no summary / progress on stderr)");
  args.section("Other calls");
  args.flag("health", "grpc.health.v1 Check; prints SERVING / NOT_SERVING");
  args.option("service", "NAME", "service name for --health (\"\" = the whole server)");
  args.flag("info", "print the loaded model's information");
  args.option("selection-map", "OUT.png", "save the SHIRG selection overlay of --image");
  add_request_options(args);
  add_connection_options(args, "300");
  try {
    args.parse(argc, argv);
    if (args.help_requested()) {
      std::printf("%s", args.help().c_str());
      return kExitOk;
    }
    const ConnectionOptions conn = connection_options(args);
    const int actions = args.has("health") + args.has("info") + args.has("selection-map");
    if (actions > 1) throw UsageError("--health, --info and --selection-map are exclusive");
    if (args.has("health")) return run_health(args, conn);
    auto stub = v1::Inference::NewStub(make_channel(conn));
    if (args.has("info")) return run_info(args, *stub, conn);
    if (!args.has("image")) throw UsageError("--image FILE is required");
    if (args.has("selection-map")) {
      return run_selection_map(args, *stub, conn, read_image(args.get("image")));
    }
    if (!args.has("question")) throw UsageError("--question TEXT is required");
    const std::string image = read_image(args.get("image"));
    return args.has("stream") ? run_stream(args, *stub, conn, image)
                              : run_generate(args, *stub, conn, image);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "shirg-client: %s\n(see shirg-client --help)\n", e.what());
    return kExitUsage;
  } catch (const LocalIoError& e) {
    std::fprintf(stderr, "shirg-client: %s\n", e.what());
    return kExitLocalIo;
  } catch (const RpcError& e) {
    std::fprintf(stderr, "%s\n", format_status(e.status).c_str());
    return exit_code_for(e.status.error_code());
  }
}
