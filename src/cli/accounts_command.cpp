#include "switchboard/cli/accounts_command.hpp"

#include <exception>
#include <memory>

#include "switchboard/store/user_store.hpp"

namespace switchboard {

namespace {

/// Accounts per read and per import transaction: bounded memory for any number of users.
constexpr std::size_t kBatch = 1000;

constexpr const char* kUsage =
    "usage: switchboard accounts copy --from LOCATION --to LOCATION [--replace]\n"
    "  LOCATION: sqlite:PATH (or a path) or postgresql://USER:PASSWORD@HOST:PORT/DB\n"
    "  --replace: delete the target's accounts first (otherwise a non-empty target is refused)\n";

struct CopyRequest {
  std::string from;
  std::string to;
  bool replace = false;
};

/// The copy itself; a one-line reason on failure.
Result<std::uint64_t, std::string> copy_accounts(UserStore& source, UserStore& target,
                                                 bool replace) {
  auto existing = target.count_users();
  if (!existing) return std::string("cannot count the target's accounts");
  if (existing.value() > 0) {
    if (!replace) {
      return target.describe() + " already holds " + std::to_string(existing.value()) +
             " accounts; pass --replace to replace them";
    }
    if (!target.delete_all_users()) return std::string("cannot delete the target's accounts");
  }
  std::uint64_t copied = 0;
  for (UserId after = 0;;) {
    auto page = source.list_users(after, kBatch);
    if (!page) return "cannot read accounts after id " + std::to_string(after);
    if (page.value().empty()) break;
    auto imported = target.import_users(page.value());
    if (!imported) {
      return "cannot write accounts " + std::to_string(page.value().front().id) + " to " +
             std::to_string(page.value().back().id) + ": " + to_string(imported.error());
    }
    copied += page.value().size();
    after = page.value().back().id;
  }
  return copied;
}

}  // namespace

int run_accounts_command(const std::vector<std::string>& args, std::ostream& out,
                         std::ostream& err) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    (args.empty() ? err : out) << kUsage;
    return args.empty() ? 2 : 0;
  }
  if (args[0] != "copy") {
    err << "switchboard accounts: unknown command '" << args[0] << "'\n" << kUsage;
    return 2;
  }
  CopyRequest request;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--replace") {
      request.replace = true;
    } else if ((a == "--from" || a == "--to") && i + 1 < args.size()) {
      (a == "--from" ? request.from : request.to) = args[++i];
    } else {
      err << "switchboard accounts copy: unexpected argument '" << a << "'\n" << kUsage;
      return 2;
    }
  }
  if (request.from.empty() || request.to.empty()) {
    err << "switchboard accounts copy: both --from and --to are needed\n" << kUsage;
    return 2;
  }
  if (request.from == request.to) {
    err << "switchboard accounts copy: --from and --to name the same store\n" << kUsage;
    return 2;
  }
  try {
    auto source = open_user_store(request.from, 1);
    auto target = open_user_store(request.to, 1);
    auto total = source->count_users();
    auto copied = copy_accounts(*source, *target, request.replace);
    if (!copied) {
      err << "switchboard accounts copy: " << copied.error() << "\n";
      return 1;
    }
    auto now = target->count_users();
    out << "copied " << copied.value() << " accounts from " << source->describe() << " to "
        << target->describe() << "\n";
    if (total && now) {
      out << "source holds " << total.value() << ", target holds " << now.value() << "\n";
    }
    return 0;
  } catch (const std::exception& e) {
    err << "switchboard accounts copy: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace switchboard
