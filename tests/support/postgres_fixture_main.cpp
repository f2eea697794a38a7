// The ctest fixture around the whole suite: `start STATE` brings up one PostgreSQL server for
// every test process of the run (each test then creates its own database on it), `stop STATE`
// takes it down. Without the fixture each test process would initdb a server of its own.
#include <cstdio>
#include <exception>
#include <string>

#include "support/postgres_server.hpp"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s start|stop STATE_FILE\n", argv[0]);
    return 2;
  }
  std::string command = argv[1];
  try {
    if (command == "start") {
      switchboard::test::start_detached_postgres(argv[2]);
      return 0;
    }
    if (command == "stop") {
      switchboard::test::stop_detached_postgres(argv[2]);
      return 0;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "unknown command %s\n", command.c_str());
  return 2;
}
