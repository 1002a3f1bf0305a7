// Live wall: poll the tiles every 3 s and redraw them (text only, never HTML from data).
"use strict";
(function () {
  const config = JSON.parse(document.getElementById("wall-data").textContent);
  const wall = document.getElementById("wall");
  const words = config.words;
  const POLL_MS = 3000;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function tile(data) {
    const link = el("a", "tile");
    link.href = "/review/sessions/" + encodeURIComponent(data.session_id);
    link.dataset.session = data.session_id;
    if (data.flags.some(function (f) { return f.severity === "critical"; })) {
      link.classList.add("critical");
    }
    const picture = el("div", "picture");
    if (data.picture_seq !== null && data.picture_seq !== undefined) {
      const img = el("img");
      img.alt = data.name;
      img.src = "/review/sessions/" + encodeURIComponent(data.session_id) +
        "/picture.jpg?seq=" + data.picture_seq;
      img.dataset.seq = String(data.picture_seq);
      picture.appendChild(img);
    } else {
      picture.textContent = words.no_picture;
    }
    link.appendChild(picture);
    const info = el("div", "info");
    info.appendChild(el("div", "name", data.name + " · " + data.id_number));
    const state = el("div", "state");
    const status = data.finished ? words.finished : (data.online ? words.online : words.offline);
    state.appendChild(el("span", data.online ? "online" : "offline", "● " + status));
    if (data.backlog > 0) {
      state.appendChild(document.createTextNode(" · " +
        words.backlog.replace("{count}", String(data.backlog))));
    }
    if (data.last_contact) {
      const at = new Date(data.last_contact);
      state.appendChild(document.createTextNode(" · " + words.last_contact + " " +
        at.toLocaleTimeString(config.lang === "en" ? "en-GB" : "zh-CN")));
    }
    info.appendChild(state);
    const flags = el("ul", "flags");
    data.flags.forEach(function (flag) {
      const item = el("li");
      item.appendChild(el("span", flag.severity, words["severity_" + flag.severity] || ""));
      item.appendChild(document.createTextNode(" " + flag.kind));
      flags.appendChild(item);
    });
    info.appendChild(flags);
    link.appendChild(info);
    return link;
  }

  function draw(tiles) {
    if (!tiles.length) {
      wall.replaceChildren(el("p", "empty", words.no_sessions));
      return;
    }
    const old = {};
    wall.querySelectorAll(".tile").forEach(function (node) { old[node.dataset.session] = node; });
    wall.replaceChildren.apply(wall, tiles.map(function (data) {
      const fresh = tile(data);
      const before = old[data.session_id];
      const oldImg = before && before.querySelector("img");
      const newImg = fresh.querySelector("img");
      if (oldImg && newImg && oldImg.dataset.seq === newImg.dataset.seq) {
        newImg.replaceWith(oldImg); // same picture: no reload, no flicker
      }
      return fresh;
    }));
  }

  function poll() {
    fetch(config.url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (reply) {
        if (reply.status === 401) { window.location.href = "/review/"; return null; }
        return reply.ok ? reply.json() : null;
      })
      .then(function (data) { if (data) draw(data.tiles); })
      .catch(function () { /* offline for a moment: the next poll tries again */ })
      .finally(function () { window.setTimeout(poll, POLL_MS); });
  }
  poll();
})();
