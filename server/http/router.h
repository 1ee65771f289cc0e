#pragma once
// The routes of an HTTP server: which method and path go to which handler, what body a route
// takes, and the check that runs before a body is read. Unknown paths answer 404, known paths
// with a method they do not take 405 with Allow, unknown methods 501 (server/http/http_server.h).
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/http/http_message.h"

namespace shirg::http {

class Exchange;

struct Route {
  // "/health"; with has_param: the prefix before one path segment ("/v1/models/" for
  // "/v1/models/{id}": the %-decoded segment is Exchange::param()).
  std::string path;
  bool has_param = false;
  std::vector<std::string> methods;  // "GET" answers HEAD too (without the body)
  // Non-empty: the route takes a body of this media type ("application/json"). A body of
  // another Content-Type is refused with 415, a request without Content-Length or chunked
  // framing with 411. Empty: the route takes no body; one sent anyway is not read and the
  // connection closes after the response.
  std::string body_type;
  // On the transport thread once the head is parsed, before any body byte is read: a response
  // refuses the request there (credentials, server state); nullopt lets it through. Must not
  // block. May be empty.
  std::function<std::optional<HttpResponse>(const HttpRequest& head)> check_head;
  // The complete request. On the transport thread (must not block) unless `offload`: then on
  // one of the server's handler threads (for work of milliseconds, e.g. parsing a large body).
  std::function<void(std::shared_ptr<Exchange>)> handle;
  bool offload = false;
};

class Router {
 public:
  void add(Route route);

  struct Match {
    const Route* route = nullptr;
    std::string param;  // has_param routes: the %-decoded segment
    std::string allow;  // no route for the method but some for the path: "GET, HEAD"
  };
  Match match(std::string_view method, std::string_view path) const;

 private:
  std::vector<Route> routes_;
};

// Methods of RFC 9110 and PATCH: others get 501 rather than 405.
bool is_standard_method(std::string_view method);

}  // namespace shirg::http
