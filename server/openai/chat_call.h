#pragma once
// POST /v1/chat/completions: one request through the engine, answered as one JSON object or
// as Server-Sent Events.
namespace httplib {
struct Request;
struct Response;
}  // namespace httplib

namespace shirg::rpc {
struct ServiceContext;
}

namespace shirg::rpc::openai {

// Runs on a cpp-httplib worker thread and blocks it until the answer is ready (non-streaming)
// or the prefix is ready (streaming: the events are then written by the content provider on
// the same thread). Errors the engine finds before the prefix (undecodable image, prefix beyond
// the context, queue full) are HTTP errors; later ones (deadline, shutdown) arrive as an SSE
// error event. A client that closes the connection cancels the request within one step.
void serve_chat(ServiceContext& sc, const httplib::Request& req, httplib::Response& res);

}  // namespace shirg::rpc::openai
