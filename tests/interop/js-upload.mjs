// Upload a file with the tus project's JavaScript client (tus-js-client) — interop tests.
// Usage: node js-upload.mjs <endpoint> <file> <token> <metadata-json> <chunk-size> [upload-url]
// Prints "url <upload url>" once known, "progress <bytes>" after each chunk, "done" at the end.
// With an upload URL it resumes that upload from the server's offset.
import fs from "node:fs";
import * as tus from "tus-js-client";

const [endpoint, file, token, metadata, chunkSize, uploadUrl] = process.argv.slice(2);
const upload = new tus.Upload(fs.readFileSync(file), {
  endpoint,
  uploadUrl: uploadUrl || null,
  chunkSize: Number(chunkSize),
  headers: { Authorization: `Bearer ${token}` },
  metadata: JSON.parse(metadata),
  retryDelays: null,
  storeFingerprintForResuming: false,
  onUploadUrlAvailable() { console.log(`url ${upload.url}`); },
  onChunkComplete(_size, accepted) { console.log(`progress ${accepted}`); },
  onSuccess() { console.log("done"); },
  onError(error) { console.log(`error ${error}`); process.exitCode = 1; },
});
upload.start();
