#pragma once
// shirg.v1.Inference on gRPC's callback API. Each method only creates its reactor (calls.h).
#include "server/service_context.h"
#include "shirg/v1/inference.grpc.pb.h"

namespace shirg::rpc {

class InferenceService final : public v1::Inference::CallbackService {
 public:
  explicit InferenceService(ServiceContext& sc) : sc_(sc) {}

  grpc::ServerUnaryReactor* Generate(grpc::CallbackServerContext* ctx,
                                     const v1::GenerateRequest* req,
                                     v1::GenerateResponse* resp) override;
  grpc::ServerWriteReactor<v1::GenerateEvent>* GenerateStream(
      grpc::CallbackServerContext* ctx, const v1::GenerateRequest* req) override;
  grpc::ServerUnaryReactor* ModelInfo(grpc::CallbackServerContext* ctx,
                                      const v1::ModelInfoRequest* req,
                                      v1::ModelInfoResponse* resp) override;
  grpc::ServerUnaryReactor* SelectionMap(grpc::CallbackServerContext* ctx,
                                         const v1::SelectionMapRequest* req,
                                         v1::SelectionMapResponse* resp) override;

 private:
  ServiceContext& sc_;
};

}  // namespace shirg::rpc
