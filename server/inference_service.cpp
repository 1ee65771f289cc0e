#include "server/inference_service.h"

#include "server/calls.h"

namespace shirg::rpc {

grpc::ServerUnaryReactor* InferenceService::Generate(grpc::CallbackServerContext* ctx,
                                                     const v1::GenerateRequest* req,
                                                     v1::GenerateResponse* resp) {
  return start_generate(sc_, ctx, req, resp);
}

grpc::ServerWriteReactor<v1::GenerateEvent>* InferenceService::GenerateStream(
    grpc::CallbackServerContext* ctx, const v1::GenerateRequest* req) {
  return start_generate_stream(sc_, ctx, req);
}

grpc::ServerUnaryReactor* InferenceService::ModelInfo(grpc::CallbackServerContext* ctx,
                                                      const v1::ModelInfoRequest*,
                                                      v1::ModelInfoResponse* resp) {
  return start_model_info(sc_, ctx, resp);
}

grpc::ServerUnaryReactor* InferenceService::SelectionMap(grpc::CallbackServerContext* ctx,
                                                         const v1::SelectionMapRequest* req,
                                                         v1::SelectionMapResponse* resp) {
  return start_selection_map(sc_, ctx, req, resp);
}

}  // namespace shirg::rpc
