// The tus project's reference server (@tus/server + @tus/file-store) for interop tests.
// Usage: node tus-node-server.mjs <port> <directory>   — prints "listening <port>" when ready.
import { Server } from "@tus/server";
import { FileStore } from "@tus/file-store";

const [port, directory] = process.argv.slice(2);
const server = new Server({ path: "/files", datastore: new FileStore({ directory }) });
server.listen({ host: "127.0.0.1", port: Number(port) }, () => {
  console.log(`listening ${port}`);
});
