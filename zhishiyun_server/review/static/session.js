// Session page: the tracks play in sync (by wall-clock time), a click on an event seeks.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("session-data").textContent);
  const players = document.querySelector(".players");
  const entered = Date.parse(data.entered_at) / 1000;
  const videos = {};
  document.querySelectorAll("video[data-track]").forEach(function (video) {
    const track = video.dataset.track;
    videos[track] = video;
    video.src = data.tracks[track].url;
  });
  const masterName = players ? players.dataset.master : null;
  const master = masterName ? videos[masterName] : null;
  window.zsyReview = {videos: videos, master: master};

  // pieces: [offset_s, duration_s, start ISO or null] per received segment, in order.
  function pieces(track) {
    return data.tracks[track].pieces.map(function (p) {
      return {offset: p[0], duration: p[1], start: p[2] ? Date.parse(p[2]) / 1000 : null};
    });
  }
  const maps = {};
  Object.keys(videos).forEach(function (track) { maps[track] = pieces(track); });

  function toWall(track, t) {
    const list = maps[track];
    for (let i = list.length - 1; i >= 0; i--) {
      const p = list[i];
      if (t >= p.offset) {
        return (p.start !== null ? p.start : entered + p.offset) + (t - p.offset);
      }
    }
    return entered + t;
  }

  function fromWall(track, wall) {
    const list = maps[track];
    for (let i = 0; i < list.length; i++) {
      const p = list[i];
      const start = p.start !== null ? p.start : entered + p.offset;
      if (wall < start) return p.offset; // in a gap: the next segment's beginning
      if (wall < start + p.duration) return p.offset + (wall - start);
    }
    const last = list[list.length - 1];
    return last ? last.offset + last.duration : Math.max(0, wall - entered);
  }

  function follow() {
    if (!master) return;
    const wall = toWall(masterName, master.currentTime);
    Object.keys(videos).forEach(function (track) {
      const video = videos[track];
      if (video === master) return;
      const target = fromWall(track, wall);
      if (Math.abs(video.currentTime - target) > 0.4) video.currentTime = target;
      if (master.paused !== video.paused) {
        if (master.paused) video.pause(); else video.play().catch(function () {});
      }
    });
  }
  if (master) {
    ["play", "pause", "seeked", "timeupdate", "ratechange"].forEach(function (name) {
      master.addEventListener(name, function () {
        Object.values(videos).forEach(function (v) {
          if (v !== master) v.playbackRate = master.playbackRate;
        });
        follow();
      });
    });
  }

  // A strip under the players: one tick per event at its place on the master track.
  function drawStrip() {
    const strip = document.getElementById("event-strip");
    if (!strip || !master || !master.duration || !isFinite(master.duration)) return;
    strip.replaceChildren();
    document.querySelectorAll("tr.event").forEach(function (row) {
      const at = fromWall(masterName, Date.parse(row.dataset.at) / 1000);
      const tick = document.createElement("button");
      tick.type = "button";
      tick.className = "tick " + (row.className.match(/sev-\w+/) || [""])[0];
      tick.style.left = Math.min(100, Math.max(0, 100 * at / master.duration)) + "%";
      tick.title = row.children[0].textContent + " " + row.children[2].textContent;
      tick.addEventListener("click", function () { row.click(); });
      strip.appendChild(tick);
    });
  }
  if (master) master.addEventListener("loadedmetadata", drawStrip);

  // A click (or Enter) on an event seeks every track to that moment.
  document.querySelectorAll("tr.event").forEach(function (row) {
    function seek() {
      if (!master) return;
      const wall = Date.parse(row.dataset.at) / 1000;
      master.currentTime = Math.max(0, fromWall(masterName, wall) - 1);
      document.querySelectorAll("tr.event.current").forEach(function (r) {
        r.classList.remove("current");
      });
      row.classList.add("current");
      follow();
      master.scrollIntoView({block: "nearest"});
    }
    row.addEventListener("click", seek);
    row.addEventListener("keydown", function (e) { if (e.key === "Enter") seek(); });
  });
})();
