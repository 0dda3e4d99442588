// Service worker: after the first visit the page works with no network. Installing it caches the
// page, the runtimes' JavaScript and WebAssembly (vendor/files.json, written by build.mjs) and the
// bundle's manifest, labels and every model file the page can run (its formats and the Tasks-ready
// variants listed in manifest.json's `tasks.files`).
//
// Requests are answered network first, so a phone on the Pi's Wi-Fi always gets the current page
// and bundle (the HTTP cache makes that a cheap revalidation), and from the cache when the network
// fails or is slower than NETWORK_WAIT_MS. Every successful answer refreshes the cache.
const CACHE = "fashion-edge-web-v1";
const NETWORK_WAIT_MS = 3000;
const PAGE = ["./", "index.html", "app.js", "contract.js", "decode.js", "mediapipe.js", "model.js", "pillow.js",
  "preprocess.js", "sha256.js", "style.css",
  "manifest.webmanifest", "icon-192.png", "icon-512.png", "vendor/files.json"];
const FAMILIES = ["tflite", "onnx", "ort"];

async function json(url) {
  const response = await fetch(url, { cache: "no-cache" });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

async function precache() {
  const vendor = await json("vendor/files.json");
  const manifest = await json("bundle/manifest.json");
  const models = Object.entries(manifest.formats)
    .filter(([name]) => FAMILIES.includes(name.split("-")[0]))
    .map(([, entry]) => `bundle/${entry.file}`);
  const variants = (manifest.tasks?.files ?? []).map((f) => `bundle/${f.file}`);
  const cache = await caches.open(CACHE);
  await cache.addAll([...PAGE, ...vendor.files.map((f) => `vendor/${f.file}`),
    "bundle/manifest.json", "bundle/labels.txt", ...new Set([...models, ...variants])]);
}

self.addEventListener("install", (event) => {
  event.waitUntil(precache().then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  const network = fetch(request).then(async (response) => {
    if (response.ok && response.type === "basic") await cache.put(request, response.clone());
    return response;
  });
  network.catch(() => {});                 // answered from the cache instead: not an error
  // "./?format=onnx-int8" is the page at "./".
  const cached = await cache.match(request, { ignoreSearch: request.mode === "navigate" });
  if (!cached) return network;
  const slow = new Promise((resolve) => setTimeout(() => resolve(cached), NETWORK_WAIT_MS));
  return Promise.race([network.catch(() => cached), slow]);
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  event.respondWith(networkFirst(event.request));
});
