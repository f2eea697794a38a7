// switchboard: the daemon's entry point. Everything else lives in switchboard_core.
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "switchboard/cli/accounts_command.hpp"
#include "switchboard/cli/probe_command.hpp"
#include "switchboard/config/settings.hpp"
#include "switchboard/server.hpp"
#include "switchboard/util/logging.hpp"
#include "switchboard/version.hpp"

int main(int argc, char** argv) {
  using namespace switchboard;
  if (argc >= 2 && std::string_view(argv[1]) == "accounts") {
    init_logging("warn");
    return run_accounts_command(std::vector<std::string>(argv + 2, argv + argc), std::cout,
                                std::cerr);
  }
  // --check-config: load and validate every setting, then exit (for operators and CI).
  // --probe: GET /healthz from the daemon these settings describe, exit 0 if it answers 200
  // (a container HEALTHCHECK that needs no curl in the image).
  std::vector<const char*> args;
  bool check_only = false;
  bool probe = false;
  for (int i = 0; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--check-config") {
      check_only = true;
    } else if (std::string_view(argv[i]) == "--probe") {
      probe = true;
    } else {
      args.push_back(argv[i]);
    }
  }
  auto outcome = load_settings(static_cast<int>(args.size()), args.data(), process_environment());
  if (auto* help = std::get_if<HelpRequested>(&outcome)) {
    std::cout << help->text;
    return 0;
  }
  if (std::holds_alternative<VersionRequested>(outcome)) {
    std::cout << "switchboard " << kVersion << "\n";
    return 0;
  }
  if (auto* error = std::get_if<SettingsError>(&outcome)) {
    std::cerr << "switchboard: " << error->message << "\n";
    return 2;
  }
  const Settings& settings = std::get<Settings>(outcome);
  if (check_only) {
    std::cout << "configuration ok\n";
    return 0;
  }
  if (probe) return run_probe(settings, std::cout);
  init_logging(settings.log_level,
               settings.log_format == "json" ? LogFormat::json : LogFormat::text);
  try {
    Server server(settings);
    auto port = server.start(true);
    std::string host = settings.server_host;
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    // Scripts and tests wait for this exact line, so it goes to stdout, flushed.
    std::cout << "listening on http://" << host << ":" << port << std::endl;
    // Stopped because it could not serve (a live daemon has its NODE_ID): said in the log.
    if (!server.run()) return 1;
  } catch (const std::exception& e) {
    log_event(spdlog::level::critical, "cannot start", {{"error", e.what()}});
    // In json format the log line above says it; a second, plain line would break the format.
    if (settings.log_format != "json") {
      std::cerr << "switchboard: cannot start: " << e.what() << "\n";
    }
    return 1;
  }
  return 0;
}
