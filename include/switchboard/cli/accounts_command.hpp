#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace switchboard {

/// `switchboard accounts ...`: account maintenance from the command line, run while no daemon
/// writes to the stores involved.
///
///   switchboard accounts copy --from LOCATION --to LOCATION [--replace]
///
/// copies every account (ids, Argon2id hashes, API-key hashes and times as they are, so users
/// keep their passwords, keys and ids) from one store to another. A LOCATION is
/// `sqlite:PATH` (or a bare path) or a `postgresql://` URI. A target that already holds
/// accounts is refused unless `--replace`, which deletes them first. Reports counts on `out`,
/// errors on `err`; returns the process exit status (0 done, 1 failed, 2 usage).
int run_accounts_command(const std::vector<std::string>& args, std::ostream& out,
                         std::ostream& err);

}  // namespace switchboard
