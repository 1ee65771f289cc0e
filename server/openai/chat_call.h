#pragma once
// POST /v1/chat/completions: one request through the engine, answered as one JSON object or
// as Server-Sent Events.
#include <memory>

namespace shirg::http {
class Exchange;
}

namespace shirg::rpc {
struct ServiceContext;
}

namespace shirg::rpc::openai {

// Runs on an HTTP handler thread and returns once the request is enqueued (or refused): the
// engine's observer answers through the exchange later. Errors the engine finds before the
// prefix is ready (undecodable image, prefix beyond the context) are HTTP errors; the stream
// (one SSE chunk per denoising step) starts once the prefix is ready, and later errors
// (deadline, shutdown) arrive as an SSE error event. A client that goes away cancels the
// request within one denoising step.
void serve_chat(ServiceContext& sc, std::shared_ptr<http::Exchange> exchange);

}  // namespace shirg::rpc::openai
