#pragma once
// Bearer-token authentication of shirg.v1 calls ("authorization: Bearer <token>", RFC 6750).
// The health and reflection services are not checked (orchestrators probe them unauthenticated).
#include <grpcpp/support/status.h>
#include <grpcpp/support/string_ref.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace shirg::rpc {

// OK when `expected_token` is empty (auth off) or the metadata carries exactly
// "Bearer <expected_token>" (scheme case-insensitive); UNAUTHENTICATED otherwise, with a message
// that says what is missing but never echoes a token. The comparison takes constant time.
grpc::Status check_bearer_token(
    const std::multimap<grpc::string_ref, grpc::string_ref>& client_metadata,
    const std::string& expected_token);
// The same check on the values of every authorization header (or metadata entry) of a call.
grpc::Status check_bearer_token(const std::vector<std::string_view>& authorization,
                                const std::string& expected_token);

}  // namespace shirg::rpc
