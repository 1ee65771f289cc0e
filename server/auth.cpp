#include "server/auth.h"

#include <cctype>

namespace shirg::rpc {
namespace {

bool constant_time_equal(const std::string& a, const std::string& b) {
  // Length leaks, content does not.
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  const std::size_t n = a.size() < b.size() ? a.size() : b.size();
  for (std::size_t i = 0; i < n; ++i)
    diff |= static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i]);
  return diff == 0;
}

}  // namespace

grpc::Status check_bearer_token(const std::multimap<grpc::string_ref, grpc::string_ref>& md,
                                const std::string& expected_token) {
  std::vector<std::string_view> values;
  const auto range = md.equal_range("authorization");
  for (auto it = range.first; it != range.second; ++it)
    values.emplace_back(it->second.data(), it->second.size());
  return check_bearer_token(values, expected_token);
}

grpc::Status check_bearer_token(const std::vector<std::string_view>& authorization,
                                const std::string& expected_token) {
  if (expected_token.empty()) return grpc::Status::OK;
  if (authorization.empty())
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "missing credentials: send metadata \"authorization: Bearer <token>\"");
  if (authorization.size() > 1)
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "more than one authorization header");
  const std::string value(authorization.front());
  constexpr std::size_t kScheme = 7;  // "Bearer "
  std::string scheme = value.substr(0, kScheme);
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (value.size() <= kScheme || scheme != "bearer ")
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "authorization must use the Bearer scheme");
  if (!constant_time_equal(value.substr(kScheme), expected_token))
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "invalid bearer token");
  return grpc::Status::OK;
}

}  // namespace shirg::rpc
