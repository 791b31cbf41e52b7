// concord serve: a TCP target that runs any local env for remote clients (env host=ADDR:PORT).
//
// The sockets, client threads and shutdown are protocol/tcp_server.h's TcpServer; each
// conversation is ServeSession() (backends/session_server.h). SIGINT/SIGTERM stop accepting,
// hang up every client and exit 0.
// Binding anything but a loopback address requires a token (--token or $CONCORD_TOKEN).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "backends/backend.h"
#include "backends/session_server.h"
#include "protocol/tcp_server.h"
#include "tools/concord/common.h"

namespace concord::cli {

namespace {

namespace fs = std::filesystem;

struct ServeArgs {
  std::string bind = "127.0.0.1";
  int port = -1;
  std::string token;
  std::string workdir = ".";
  int max_clients = 16;
  int max_frame_mb = 1024;
  int idle_timeout_s = 600;
  double handshake_timeout_s = 5;
  bool json = false;
};

protocol::TcpServer* g_server = nullptr;  // for the signal handler

extern "C" void OnStopSignal(int) {
  if (g_server != nullptr) g_server->Stop();
}

int ServeMain(const ServeArgs& a) {
  std::string token = a.token;
  if (token.empty()) {
    const char* t = std::getenv("CONCORD_TOKEN");
    if (t != nullptr) token = t;
  }
  std::error_code ec;
  fs::path workdir = fs::absolute(a.workdir, ec);
  if (ec || !fs::is_directory(workdir))
    Fail(ErrorKind::kUsage, "--workdir '{}' is not an existing folder", a.workdir);

  auto log = spdlog::get("serve");
  if (!log) log = spdlog::stderr_color_mt("serve");
  log->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [serve] %^%l%$: %v");

  protocol::TcpServerOptions topt;
  topt.bind = a.bind;
  topt.port = a.port;
  topt.max_clients = a.max_clients;
  topt.idle_timeout_s = a.idle_timeout_s;
  topt.handshake_timeout_ms = static_cast<int>(a.handshake_timeout_s * 1000);
  topt.limits.max_frame_bytes = static_cast<uint64_t>(a.max_frame_mb) << 20;
  topt.log = [log](const std::string& level, const std::string& line) {
    log->log(spdlog::level::from_str(level), "{}", line);
  };
  protocol::TcpServer server(topt);
  if (!server.loopback() && token.empty()) {
    Fail(ErrorKind::kUsage,
         "refusing to serve on {} without a token: anyone who can reach it could run models here; "
         "pass --token T (or set CONCORD_TOKEN), or bind 127.0.0.1",
         a.bind);
  }
  g_server = &server;
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  SessionServerOptions sopt;
  sopt.token = token;
  sopt.workdir = workdir.string();
  sopt.receive_timeout_ms = a.idle_timeout_s > 0 ? a.idle_timeout_s * 1000 : -1;
  sopt.log = [log](const std::string& line) { log->warn("{}", line); };

  // Probe every backend now (in parallel), so the first client's HELLO, which lists them, does
  // not wait for a Python start-up per worker backend.
  int available = 0;
  for (const BackendInfo& info : DescribeBackends(AllBackends())) available += info.available;
  log->info("{} backend(s) available", available);

  std::string where = fmt::format("{}:{}", a.bind, server.port());
  if (a.json) {
    std::cout << nlohmann::json{{"listening", where},
                                {"address", a.bind},
                                {"port", server.port()},
                                {"max_clients", a.max_clients},
                                {"max_frame_bytes", topt.limits.max_frame_bytes},
                                {"auth", !token.empty()},
                                {"workdir", sopt.workdir}}
                     .dump()
              << std::endl;
  } else {
    std::cout << "concord serve listening on " << where << std::endl;
  }
  log->info("listening on {} (max {} clients, frames up to {} MiB, token {})", where, a.max_clients,
            a.max_frame_mb, token.empty() ? "off" : "required");
  if (!server.Serve([&sopt](protocol::Channel& ch, const protocol::TcpServer::Admit& admit) {
        ServeSession(ch, sopt, admit);
      })) {
    // A run that cannot be interrupted (a long inference) is still going: leave without it.
    log->warn("some sessions did not finish within 10 s; exiting anyway");
    std::cout.flush();
    std::_Exit(kExitOk);
  }
  g_server = nullptr;
  log->info("stopped");
  return kExitOk;
}

}  // namespace

Command MakeServeCommand(CLI::App& root) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* app =
      root.add_subcommand("serve", "Serve local environments to remote clients over TCP");
  app->footer(
      "Clients run any env here by adding host=ADDR:PORT to it, e.g.\n"
      "  CONCORD_TOKEN=T concord run model.onnx --env ref,host=192.168.1.7:5555\n"
      "Binding a non-loopback address needs --token (or CONCORD_TOKEN). Clients send the token\n"
      "from $CONCORD_TOKEN or a token=T env option (prefer the variable: env strings are\n"
      "recorded in run records). Prints 'concord serve listening on ADDR:PORT' when ready\n"
      "(--port 0 picks a free port). SIGINT/SIGTERM stop it.\n"
      "Exit: 0 stopped by SIGINT/SIGTERM or --idle-timeout, 1 cannot listen (port in use), 2\n"
      "usage error (bad address or workdir, non-loopback bind without a token).");
  app->add_option("--bind", args->bind, "IPv4 address to listen on")->capture_default_str();
  app->add_option("--port,-p", args->port, "TCP port (0 = pick a free one and print it)")
      ->required()
      ->check(CLI::Range(0, 65535));
  app->add_option("--token", args->token,
                  "Shared secret clients must send (default: $CONCORD_TOKEN)");
  app->add_option("--workdir", args->workdir, "The only folder the server may write to")
      ->capture_default_str();
  app->add_option("--max-clients", args->max_clients, "Clients served at once; more get ERROR busy")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app->add_option("--max-frame-mb", args->max_frame_mb,
                  "Largest frame (model, inputs) accepted, in MiB")
      ->capture_default_str()
      ->check(CLI::Range(1, 2047));
  app->add_option("--idle-timeout", args->idle_timeout_s,
                  "Seconds a client may stay silent (or take to send one frame) before it is "
                  "dropped; 0 = never")
      ->capture_default_str()
      ->check(CLI::Range(0, 86400));
  app->add_option("--handshake-timeout", args->handshake_timeout_s,
                  "Seconds a connection has to complete HELLO (and the token check); it holds "
                  "no client slot meanwhile and is dropped past it")
      ->capture_default_str()
      ->check(CLI::Range(0.05, 600.0));
  AddOutputOptions(app, &args->json);
  return {app, [args] { return ServeMain(*args); }};
}

}  // namespace concord::cli
