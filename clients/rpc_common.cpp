#include "clients/rpc_common.h"

#include <google/protobuf/util/json_util.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

namespace shirg::clients {

int exit_code_for(grpc::StatusCode code) {
  return code == grpc::StatusCode::OK ? kExitOk : kExitRpcBase + static_cast<int>(code);
}

std::string format_status(const grpc::Status& status) {
  return grpc_status_name(status.error_code()) + ": " + status.error_message();
}

void add_connection_options(ArgParser& args, const std::string& default_timeout_s) {
  args.section("Connection");
  args.option("addr", "HOST:PORT", "server address", "localhost:50051");
  args.flag("tls", "use TLS (system roots unless --ca-cert)");
  args.option("ca-cert", "PEM",
              "CA certificate that signed the server's certificate (implies --tls)");
  args.option("client-cert", "PEM", "client certificate for mutual TLS");
  args.option("client-key", "PEM", "client private key for mutual TLS");
  args.option("tls-server-name", "NAME", "expected server name in its certificate");
  args.option("token", "TOKEN",
              "bearer token sent as 'authorization: Bearer TOKEN' (env SHIRG_TOKEN)");
  args.option("timeout", "SECONDS", "per-call deadline, 0 = none", default_timeout_s);
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw LocalIoError("cannot read " + path);
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (f.bad()) throw LocalIoError("error reading " + path);
  return s;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw LocalIoError("cannot write " + path);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw LocalIoError("error writing " + path);
}

ConnectionOptions connection_options(const ArgParser& args) {
  ConnectionOptions c;
  c.addr = args.get("addr");
  c.tls = args.has("tls") || args.has("ca-cert") || args.has("client-cert");
  if (args.has("ca-cert")) c.ca_cert_pem = read_file(args.get("ca-cert"));
  if (args.has("client-cert") != args.has("client-key")) {
    throw UsageError("--client-cert and --client-key go together");
  }
  if (args.has("client-cert")) {
    c.client_cert_pem = read_file(args.get("client-cert"));
    c.client_key_pem = read_file(args.get("client-key"));
  }
  c.tls_server_name = args.get("tls-server-name");
  c.token = args.get("token");
  if (c.token.empty()) {
    if (const char* env = std::getenv("SHIRG_TOKEN")) c.token = env;
  }
  c.timeout_s = args.get_double("timeout");
  if (c.timeout_s < 0) throw UsageError("--timeout must be >= 0");
  return c;
}

std::shared_ptr<grpc::Channel> make_channel(const ConnectionOptions& c) {
  grpc::ChannelArguments ch_args;
  ch_args.SetMaxReceiveMessageSize(64 << 20);
  ch_args.SetMaxSendMessageSize(64 << 20);
  if (!c.tls_server_name.empty()) ch_args.SetSslTargetNameOverride(c.tls_server_name);
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (c.tls) {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = c.ca_cert_pem;
    o.pem_cert_chain = c.client_cert_pem;
    o.pem_private_key = c.client_key_pem;
    creds = grpc::SslCredentials(o);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  return grpc::CreateCustomChannel(c.addr, creds, ch_args);
}

void prepare_context(grpc::ClientContext& ctx, const ConnectionOptions& c) {
  if (c.timeout_s > 0) {
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::microseconds(static_cast<int64_t>(c.timeout_s * 1e6)));
  }
  if (!c.token.empty()) ctx.AddMetadata("authorization", "Bearer " + c.token);
}

void add_generation_options(ArgParser& args) {
  args.section("Generation (unset = server default)");
  args.option("gen-length", "N", "answer tokens");
  args.option("block-length", "N", "semi-autoregressive block length (divides --gen-length)");
  args.option("steps", "N", "total denoising steps");
  args.option("step-ratio", "R", "LaViDa: int(block_length * R) steps in every block");
  args.option("steps-per-block", "N", "N steps in every block (LaViDa's step_per_block)");
  args.option("temperature", "T", "Gumbel noise temperature, 0 = greedy");
  args.option("remasking", "NAME", "low-confidence | random | entropy | margin");
  args.option("schedule", "NAME", "uniform | shift");
  args.option("shift", "X", "shift schedule parameter");
  args.option("seed", "N", "random seed, any uint64");
}

void add_selection_options(ArgParser& args) {
  args.section("Selection (unset = server default)");
  args.option(
      "mode", "NAME",
      "shirg | baseline-384 | lavida-384 | lavida-hd | full-672 | no-scaffold | no-coords | "
      "similarity-only | no-merge | random-k");
  args.option("k", "N", "hi-detail tokens kept");
  args.flag("adaptive-k", "choose K per image (between --k-min and --k-max)");
  args.option("k-min", "N", "adaptive K lower bound");
  args.option("k-max", "N", "adaptive K upper bound");
  args.flag("query-aware", "score tokens against the question too");
}

void add_request_options(ArgParser& args) {
  add_generation_options(args);
  add_selection_options(args);
}

shirg::v1::SelectionMode parse_selection_mode(const std::string& s) {
  using M = shirg::v1::SelectionMode;
  static const std::pair<const char*, M> kModes[] = {
      {"baseline-384", shirg::v1::SELECTION_MODE_BASELINE_384},
      {"lavida-384", shirg::v1::SELECTION_MODE_LAVIDA_384},
      {"lavida-hd", shirg::v1::SELECTION_MODE_LAVIDA_HD},
      {"full-672", shirg::v1::SELECTION_MODE_FULL_672},
      {"shirg", shirg::v1::SELECTION_MODE_SHIRG},
      {"no-scaffold", shirg::v1::SELECTION_MODE_NO_SCAFFOLD},
      {"no-coords", shirg::v1::SELECTION_MODE_NO_COORDS},
      {"similarity-only", shirg::v1::SELECTION_MODE_SIMILARITY_ONLY},
      {"no-merge", shirg::v1::SELECTION_MODE_NO_MERGE},
      {"random-k", shirg::v1::SELECTION_MODE_RANDOM_K}};
  for (const auto& [name, m] : kModes) {
    if (s == name) return m;
  }
  throw UsageError("unknown --mode '" + s + "'");
}

shirg::v1::Remasking parse_remasking(const std::string& s) {
  if (s == "low-confidence") return shirg::v1::REMASKING_LOW_CONFIDENCE;
  if (s == "random") return shirg::v1::REMASKING_RANDOM;
  if (s == "entropy") return shirg::v1::REMASKING_ENTROPY;
  if (s == "margin") return shirg::v1::REMASKING_MARGIN;
  throw UsageError("unknown --remasking '" + s + "'");
}

shirg::v1::Schedule parse_schedule(const std::string& s) {
  if (s == "uniform") return shirg::v1::SCHEDULE_UNIFORM;
  if (s == "shift") return shirg::v1::SCHEDULE_SHIFT;
  throw UsageError("unknown --schedule '" + s + "'");
}

shirg::v1::GenerationOptions generation_options(const ArgParser& args) {
  shirg::v1::GenerationOptions g;
  if (args.has("gen-length")) g.set_gen_length(args.get_int("gen-length"));
  if (args.has("block-length")) g.set_block_length(args.get_int("block-length"));
  if (args.has("steps")) g.set_steps(args.get_int("steps"));
  if (args.has("step-ratio")) g.set_step_ratio(args.get_double("step-ratio"));
  if (args.has("steps-per-block")) g.set_steps_per_block(args.get_int("steps-per-block"));
  if (args.has("temperature")) g.set_temperature(args.get_double("temperature"));
  if (args.has("remasking")) g.set_remasking(parse_remasking(args.get("remasking")));
  if (args.has("schedule")) g.set_schedule(parse_schedule(args.get("schedule")));
  if (args.has("shift")) g.set_shift(args.get_double("shift"));
  if (args.has("seed")) g.set_seed(args.get_uint64("seed"));
  return g;
}

shirg::v1::SelectionOptions selection_options(const ArgParser& args) {
  shirg::v1::SelectionOptions s;
  if (args.has("mode")) s.set_mode(parse_selection_mode(args.get("mode")));
  if (args.has("k")) s.set_k(args.get_int("k"));
  if (args.has("adaptive-k")) s.set_adaptive_k(true);
  if (args.has("k-min")) s.set_k_min(args.get_int("k-min"));
  if (args.has("k-max")) s.set_k_max(args.get_int("k-max"));
  if (args.has("query-aware")) s.set_query_aware(true);
  return s;
}

std::string to_json(const google::protobuf::Message& m, bool pretty) {
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = pretty;
  o.always_print_primitive_fields = true;
  o.preserve_proto_field_names = true;
  std::string out;
  const auto st = google::protobuf::util::MessageToJsonString(m, &out, o);
  if (!st.ok()) return "{\"error\": \"cannot print message as JSON\"}";
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace shirg::clients
