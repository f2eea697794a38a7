// Starts PeerJS server 1.0.2 (npm package `peer`, installed in bench/node_modules by
// bench/run.sh) the way the benchmark needs it, and prints the same
// "listening on http://HOST:PORT" line as switchboard.
//   node bench/peerjs-server.mjs [PORT]       (0 or nothing: a free port)
// Only the concurrent-user limit is raised (default 5000, below the idle scenario); every
// other setting is PeerJS's default (key "peerjs", path "/", alive_timeout 90 s).
import { PeerServer } from "peer";

const port = Number(process.argv[2] ?? 0);
PeerServer({ host: "127.0.0.1", port, concurrent_limit: 1_000_000 }, (server) => {
  const { address, port: bound } = server.address();
  console.log(`listening on http://${address}:${bound}`);
});

for (const signal of ["SIGTERM", "SIGINT"]) process.on(signal, () => process.exit(0));
