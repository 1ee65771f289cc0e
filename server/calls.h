#pragma once
// The reactors of the shirg.v1.Inference callback service, one per RPC. Each owns itself:
// created by the service method, deleted in OnDone. None blocks: engine work is enqueued on
// the Executor and its events arrive on a worker thread.
#include <grpcpp/support/server_callback.h>

#include "server/service_context.h"
#include "shirg/v1/inference.pb.h"

namespace shirg::rpc {

grpc::ServerUnaryReactor* start_generate(ServiceContext& sc, grpc::CallbackServerContext* ctx,
                                         const v1::GenerateRequest* req,
                                         v1::GenerateResponse* resp);
grpc::ServerWriteReactor<v1::GenerateEvent>* start_generate_stream(ServiceContext& sc,
                                                                   grpc::CallbackServerContext* ctx,
                                                                   const v1::GenerateRequest* req);
grpc::ServerUnaryReactor* start_selection_map(ServiceContext& sc, grpc::CallbackServerContext* ctx,
                                              const v1::SelectionMapRequest* req,
                                              v1::SelectionMapResponse* resp);
grpc::ServerUnaryReactor* start_model_info(ServiceContext& sc, grpc::CallbackServerContext* ctx,
                                           v1::ModelInfoResponse* resp);

}  // namespace shirg::rpc
