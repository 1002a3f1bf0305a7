// Zhishiyun second camera: the phone page. Binds with a code, films with getUserMedia,
// records short self-contained chunks with MediaRecorder and uploads each one with the tus
// project's browser client (tus-js-client, resumed from the server's offset) as the `phone`
// track of the session; unsent chunks wait in IndexedDB, so a reload loses nothing.
// The server signs each chunk's manifest line (the session key never reaches the phone).
"use strict";

(function () {
  const API = "/api/v1";
  const STORE_KEY = "zsy-phone";
  const HEARTBEAT_MS = 3000;
  const CHUNK_BYTES = 1024 * 1024;       // one PATCH
  const MAX_BUFFER_BYTES = 150 * 1024 * 1024;  // kept in memory while offline
  const MIME_TYPES = ["video/webm;codecs=vp8,opus", "video/webm;codecs=vp8", "video/webm",
                      "video/mp4"];

  const TEXT = {
    en: {
      g_screen: "Computer screen", g_desk: "Desk and hands",
      title: "Second camera", enter_code: "Enter the bind code shown on the computer:",
      bind: "Bind", start: "Start recording", uploaded: "Uploaded", waiting: "Waiting",
      guide: "Put the phone 1–1.5 m behind you, to the left or right, at about 45°. Your " +
        "head, hands, desk and the whole computer screen must be in view.",
      binding: "Binding…", bound: "Bound. Frame the picture as shown, then start recording.",
      camera_failed: "The camera could not be opened: ", recording: "Recording",
      offline: "Network lost — recording goes on; chunks wait on this phone.",
      hidden: "Keep this page open in front: in the background the browser may stop recording.",
      finished: "The exam is over. Uploads finished; you may close this page.",
      unbound: "This phone is no longer bound. Scan a new code on the computer.",
      dropped: "Phone memory full: the oldest waiting chunks were dropped.",
      no_camera: "This browser cannot use the camera here (it needs HTTPS).",
      who: (exam, name) => exam + " · " + name,
      code_used: "This bind code was already used. Ask the computer for a new code.",
      code_expired: "This bind code has expired. Ask the computer for a new code.",
      bad_code: "This bind code is not valid. Check it on the computer's screen.",
      too_many_attempts: "Too many wrong codes. Wait a few minutes, then try again.",
      session_finished: "This exam is already finished.",
      waiting_entry: "Bound. Frame the picture as shown; recording can start once you " +
        "have entered the exam on the computer.",
    },
    zh: {
      g_screen: "电脑屏幕", g_desk: "桌面和双手",
      title: "第二机位", enter_code: "请输入电脑上显示的绑定码：", bind: "绑定",
      start: "开始录制", uploaded: "已上传", waiting: "待上传",
      guide: "请把手机放在身后左侧或右侧约 1–1.5 米处，与你成约 45°。画面中须能看到你的头部、" +
        "双手、桌面和完整的电脑屏幕。",
      binding: "正在绑定…", bound: "已绑定。请按图示调整画面，然后开始录制。",
      camera_failed: "无法打开摄像头：", recording: "正在录制",
      offline: "网络已断开——录制继续，视频暂存在手机上。",
      hidden: "请保持本页面在前台：切到后台后浏览器可能停止录制。",
      finished: "考试已结束，上传已完成，可以关闭本页面。",
      unbound: "本手机已解除绑定。请在电脑上扫描新的二维码。",
      dropped: "手机内存已满：最早的待上传片段已被丢弃。",
      no_camera: "此浏览器无法在此使用摄像头（需要 HTTPS）。",
      who: (exam, name) => exam + " · " + name,
      code_used: "该绑定码已被使用。请在电脑上获取新的绑定码。",
      code_expired: "该绑定码已过期。请在电脑上获取新的绑定码。",
      bad_code: "绑定码无效。请核对电脑屏幕上显示的绑定码。",
      too_many_attempts: "输错次数过多，请几分钟后再试。",
      session_finished: "本场考试已结束。",
      waiting_entry: "已绑定。请按图示调整画面；在电脑上进入考试后即可开始录制。",
    },
  };
  const t = TEXT[(navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en"];
  const $ = (id) => document.getElementById(id);

  // Observable state (the end-to-end test reads it too).
  const state = window.zsyPhone = {
    phase: "start", uploaded: 0, queued: 0, dropped: 0, offline: false, error: "",
    seq: 0, hidden: false, restored: 0,
  };
  let binding = null;   // {credential, session_id, track, segment_s, ...}
  let offsetMs = 0;     // server time - phone time
  let stream = null, recorder = null, segmentTimer = null, wakeLock = null;
  const queue = [];     // {seq, blob, startMs, durationMs, sha256, signed, url, offset}
  let pumping = false;

  function show(id, visible) { $(id).hidden = !visible; }
  function setStatus(text) { $("status").textContent = text; }
  function warn(text) { $("warning").textContent = text || ""; show("warning", !!text); }
  function serverNow() { return Date.now() + offsetMs; }
  function refreshStats() {
    state.queued = queue.length;
    $("uploaded").textContent = String(state.uploaded);
    $("waiting").textContent = String(queue.length);
  }
  let wake = null;  // ends the upload loop's back-off early (network back)
  function sleep(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => { clearTimeout(timer); resolve(); };
    });
  }
  function pumpNow() { if (wake) { wake(); wake = null; } pump(); }

  class HttpError extends Error {
    constructor(status, body) {
      super((body && body.error && body.error.message) || ("HTTP " + status));
      this.status = status;
      this.code = body && body.error && body.error.code;
    }
  }

  async function api(path, body, keepalive) {
    const headers = {"Content-Type": "application/json"};
    if (binding) headers.Authorization = "Bearer " + binding.credential;
    const response = await fetch(API + path, {method: "POST", headers, keepalive: !!keepalive,
                                              body: JSON.stringify(body)});
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new HttpError(response.status, data);
    return data;
  }

  function unbound(message) {
    stopRecording();
    sessionStorage.removeItem(STORE_KEY);
    binding = null;
    state.phase = "unbound";
    setStatus(message || t.unbound);
  }

  // --- binding ------------------------------------------------------------------------

  async function redeem(code) {
    setStatus(t.binding);
    try {
      binding = await api("/phone/redeem", {code});
    } catch (err) {
      state.phase = "refused";
      state.error = err.code || "network";
      setStatus(t[err.code] || err.message);
      show("bind", true);
      return;
    }
    offsetMs = binding.server_time_ms - Date.now();
    state.seq = binding.next_seq;
    sessionStorage.setItem(STORE_KEY, JSON.stringify(binding));
    await bound();
  }

  async function bound() {
    show("bind", false);
    $("who").textContent = t.who(binding.exam_name, binding.candidate_name);
    state.phase = "bound";
    setStatus(binding.session_id ? t.bound : t.waiting_entry);
    show("camera", true);
    show("stats", true);
    setInterval(heartbeat, HEARTBEAT_MS);
    await restorePending();  // what a reload or a killed tab left unsent
    await heartbeat();
    await openCamera();
  }

  async function heartbeat() {
    if (!binding) return;
    const recording = state.phase === "recording";
    try {
      const reply = await api("/phone/heartbeat", {
        state: recording ? "recording" : (state.phase === "stopped" ? "stopped" : "ready"),
        hidden: document.hidden, buffered: queue.length}, true);
      offsetMs = reply.server_time_ms - Date.now();
      if (state.offline) { state.offline = false; warn(state.hidden ? t.hidden : ""); pumpNow(); }
      if (reply.session_id && !binding.session_id) entered(reply);
      if (state.phase === "bound" && state.seq < reply.next_seq) state.seq = reply.next_seq;
      if (reply.finished && state.phase === "recording") {
        stopRecording();
        state.phase = "stopped";
        setStatus(t.finished);
      }
    } catch (err) {
      if (err.status === 401) { unbound(err.message); return; }
      if (!err.status) { state.offline = true; warn(t.offline); }
    }
  }

  // Bound from the exam card before entering: the session exists now, recording may start.
  function entered(reply) {
    binding.session_id = reply.session_id;
    state.seq = reply.next_seq;
    sessionStorage.setItem(STORE_KEY, JSON.stringify(binding));
    if (state.phase === "bound") setStatus(t.bound);
    if (stream) $("start").disabled = false;
  }

  // --- camera and recorder ------------------------------------------------------------

  async function openCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      setStatus(t.no_camera);
      return;
    }
    const video = {facingMode: {ideal: "environment"}, width: {ideal: 640},
                   height: {ideal: 480}, frameRate: {ideal: 15}};
    try {
      stream = await navigator.mediaDevices.getUserMedia({video, audio: true});
    } catch (err) {
      try {
        stream = await navigator.mediaDevices.getUserMedia({video});
      } catch (err2) {
        setStatus(t.camera_failed + (err2.message || err2.name));
        return;
      }
    }
    $("preview").srcObject = stream;
    $("start").disabled = !binding.session_id;  // before entering there is no session
  }

  function mimeType() {
    if (!window.MediaRecorder) return "";
    return MIME_TYPES.find((m) => MediaRecorder.isTypeSupported(m)) || "";
  }

  function startRecording() {
    if (!stream || state.phase === "recording" || !binding.session_id) return;
    state.phase = "recording";
    document.body.classList.add("recording");
    $("start").hidden = true;
    setStatus(t.recording);
    keepAwake();
    recordSegment();
    heartbeat();
  }

  function recordSegment() {
    const type = mimeType();
    const rec = new MediaRecorder(stream, type ? {mimeType: type, videoBitsPerSecond: 600000}
                                               : {});
    const parts = [];
    const startMs = serverNow();
    const t0 = performance.now();
    rec.ondataavailable = (e) => { if (e.data && e.data.size) parts.push(e.data); };
    rec.onstop = () => {
      const blob = new Blob(parts, {type: rec.mimeType || type});
      if (blob.size) enqueue(blob, startMs, Math.round(performance.now() - t0));
    };
    rec.start(1000);
    recorder = rec;
    segmentTimer = setTimeout(() => {
      // Start the next recorder first, so the gap between chunks is as short as possible.
      if (state.phase === "recording") recordSegment();
      rec.stop();
    }, binding.segment_s * 1000);
  }

  function stopRecording() {
    clearTimeout(segmentTimer);
    if (recorder && recorder.state !== "inactive") recorder.stop();
    recorder = null;
    document.body.classList.remove("recording");
    if (wakeLock) { wakeLock.release().catch(() => {}); wakeLock = null; }
  }

  async function keepAwake() {
    if (!("wakeLock" in navigator) || document.hidden) return;
    try { wakeLock = await navigator.wakeLock.request("screen"); } catch (err) { /* denied */ }
  }

  document.addEventListener("visibilitychange", () => {
    state.hidden = document.hidden;
    if (document.hidden) {
      warn(t.hidden);
    } else {
      warn(state.offline ? t.offline : "");
      if (state.phase === "recording") keepAwake();
    }
    heartbeat();
  });

  // --- queue and tus upload -----------------------------------------------------------

  function enqueue(blob, startMs, durationMs) {
    const item = {seq: state.seq++, blob, startMs, durationMs, sha256: "", signed: false,
                  url: "", offset: null};
    queue.push(item);
    store.put(item);
    let held = queue.reduce((sum, item) => sum + item.blob.size, 0);
    while (held > MAX_BUFFER_BYTES && queue.length > 2) {
      const dropped = queue.splice(1, 1)[0];  // never the one being uploaded
      store.remove(dropped);
      held -= dropped.blob.size;
      state.dropped += 1;
      warn(t.dropped);
    }
    refreshStats();
    pump();
  }

  function hex(buffer) {
    return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
  }
  // The tus project's own browser client (vendor/tus.min.js, MIT, see its LICENSE).
  function tusUpload(item) {
    return new Promise((resolve, reject) => {
      const ext = item.blob.type.includes("mp4") ? "mp4" : "webm";
      const upload = new tus.Upload(item.blob, {
        endpoint: binding.upload_url,
        uploadUrl: item.url || null,  // resumes (HEAD) where the previous try stopped
        chunkSize: CHUNK_BYTES,
        retryDelays: null,            // pump() retries with its own back-off
        storeFingerprintForResuming: false,  // the IndexedDB queue keeps the URL itself
        headers: {Authorization: "Bearer " + binding.credential},
        metadata: {session_id: binding.session_id, track: binding.track,
                   seq: String(item.seq), sha256: item.sha256,
                   filename: item.seq + "." + ext},
        onUploadUrlAvailable() {
          item.url = upload.url;
          store.put(item);
        },
        onSuccess: () => resolve(),
        onError(err) {
          const response = err.originalResponse;
          let body = null;
          try { body = response ? JSON.parse(response.getBody() || "null") : null; } catch (e) {}
          reject(new HttpError(response ? response.getStatus() : 0, body));
        },
      });
      upload.start();
    });
  }

  // --- unsent chunks survive a reload or a locked phone: IndexedDB ----------------------

  const store = {
    db: null,
    async open() {
      if (this.db || !window.indexedDB) return this.db;
      this.db = await new Promise((resolve) => {
        const request = indexedDB.open("zsy-phone", 1);
        request.onupgradeneeded = () => request.result.createObjectStore("chunks",
                                                                         {keyPath: "key"});
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => resolve(null);  // private mode: memory only
      });
      return this.db;
    },
    async run(mode, action) {
      const db = await this.open();
      if (!db) return null;
      return new Promise((resolve) => {
        const tx = db.transaction("chunks", mode);
        const request = action(tx.objectStore("chunks"));
        tx.oncomplete = () => resolve(request && request.result);
        tx.onerror = tx.onabort = () => resolve(null);
      });
    },
    put(item) {
      const {seq, blob, startMs, durationMs, sha256, signed, url} = item;
      return this.run("readwrite", (s) => s.put({key: binding.session_id + ":" + seq,
        session_id: binding.session_id, seq, blob, startMs, durationMs, sha256, signed, url}));
    },
    remove(item) {
      return this.run("readwrite", (s) => s.delete(binding.session_id + ":" + item.seq));
    },
    async pending() {
      const all = (await this.run("readonly", (s) => s.getAll())) || [];
      return all.filter((row) => row.session_id === binding.session_id)
        .sort((a, b) => a.seq - b.seq);
    },
  };

  async function restorePending() {
    const known = new Set(queue.map((item) => item.seq));
    for (const row of await store.pending()) {
      if (known.has(row.seq)) continue;
      queue.push({seq: row.seq, blob: row.blob, startMs: row.startMs,
                  durationMs: row.durationMs, sha256: row.sha256, signed: row.signed,
                  url: row.url, offset: null});
      state.seq = Math.max(state.seq, row.seq + 1);
      state.restored += 1;
    }
    queue.sort((a, b) => a.seq - b.seq);
    refreshStats();
    pump();
  }

  async function sendOne(item) {
    if (!item.sha256) {
      item.sha256 = hex(await crypto.subtle.digest("SHA-256", await item.blob.arrayBuffer()));
    }
    if (!item.signed) {
      await api("/phone/manifest", {seq: item.seq, start_ms: Math.round(item.startMs),
        duration_ms: item.durationMs, bytes: item.blob.size, sha256: item.sha256,
        mime: item.blob.type.slice(0, 100)});
      item.signed = true;
      store.put(item);
    }
    await tusUpload(item);
  }

  async function pump() {
    if (pumping) return;
    pumping = true;
    let backoff = 1000;
    try {
      while (queue.length && binding) {
        const item = queue[0];
        try {
          await sendOne(item);
          queue.shift();
          store.remove(item);
          state.uploaded += 1;
          backoff = 1000;
          refreshStats();
        } catch (err) {
          if (err.status === 401) { unbound(err.message); return; }
          if (err.status && err.status >= 400 && err.status < 500 && err.status !== 408 &&
              err.status !== 429) {
            state.error = err.code || String(err.status);  // refused for good: skip it
            queue.shift();
            store.remove(item);
            refreshStats();
            continue;
          }
          if (!err.status) { state.offline = true; warn(t.offline); }
          item.offset = null;
          await sleep(backoff);
          backoff = Math.min(10000, backoff * 2);
        }
      }
    } finally {
      pumping = false;
    }
  }

  window.addEventListener("online", () => pumpNow());

  // --- start --------------------------------------------------------------------------

  document.querySelectorAll("[data-t]").forEach((el) => {
    if (typeof t[el.dataset.t] === "string") el.textContent = t[el.dataset.t];
  });
  document.title = t.title;
  $("start").addEventListener("click", startRecording);
  $("code-form").addEventListener("submit", (e) => {
    e.preventDefault();
    redeem($("code").value.trim());
  });

  const fromUrl = new URLSearchParams(location.hash.slice(1)).get("code");
  if (fromUrl) {
    history.replaceState(null, "", location.pathname);  // the code leaves the address bar
    redeem(fromUrl);
  } else if (sessionStorage.getItem(STORE_KEY)) {
    binding = JSON.parse(sessionStorage.getItem(STORE_KEY));  // a reload: same binding
    state.seq = binding.next_seq;
    bound();
  } else {
    show("bind", true);
  }
})();
