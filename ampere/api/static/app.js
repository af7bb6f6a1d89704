// AMPere Live page: live streams with the product on air (server-sent events), search by text or image across
// product pages, short videos and live moments, and a view per product, stream and moment. Plain JS, no build;
// every text from the API goes through textContent (never innerHTML).
"use strict";

const DOMAINS = ["page", "video", "live"];
const PAGE_SIZE = 6;
const state = { live: new Map(), search: null, streamFeed: null };

// ------------------------------------------------------------------ small helpers

function $(sel, el = document) { return el.querySelector(sel); }

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function money(p) {
  if (p === null || p === undefined) return "";
  return "$" + (Number.isInteger(p) ? String(p) : p.toFixed(2));
}

function clock(s) {
  if (s === null || s === undefined) return "";
  const m = Math.floor(s / 60), r = Math.floor(s % 60);
  return `${m}:${String(r).padStart(2, "0")}`;
}

function span(a, b) { return `${clock(a)}–${clock(b)}`; }

async function getJSON(url, opts) {
  const r = await fetch(url, opts);
  let body = null;
  try { body = await r.json(); } catch (e) { /* not JSON */ }
  if (!r.ok) {
    const d = body && body.detail;
    throw new Error(typeof d === "string" ? d : (d ? JSON.stringify(d) : `HTTP ${r.status}`));
  }
  return body;
}

function img(src, alt) {
  const el = h("img", { src: src || "", alt: alt || "", loading: "lazy" });
  el.addEventListener("error", () => { el.style.visibility = "hidden"; });
  return el;
}

// ------------------------------------------------------------------ live now (SSE)

function setFeed(on, text) {
  const el = $("#feed-status");
  el.className = "feed " + (on ? "on" : "off");
  el.textContent = text || (on ? "live feed: connected" : "live feed: reconnecting");
}

function connectLive() {
  const es = new EventSource("/api/live/events");
  es.addEventListener("snapshot", (e) => {
    const d = JSON.parse(e.data);
    state.live.clear();
    for (const s of d.streams) state.live.set(s.stream_id, s);
    renderLive();
    setFeed(true);
  });
  es.addEventListener("tag", (e) => {
    const ev = JSON.parse(e.data);
    if (!ev.moved || ev.ended) return;  // a late window: "now" did not move
    state.live.set(ev.stream_id, ev);
    renderLive(ev.stream_id);
  });
  es.addEventListener("end", (e) => {
    const ev = JSON.parse(e.data);
    state.live.delete(ev.stream_id);
    renderLive();
  });
  es.addEventListener("overflow", () => { es.close(); setFeed(false); setTimeout(connectLive, 1000); });
  es.addEventListener("open", () => setFeed(true));
  es.addEventListener("error", () => setFeed(false));
}

function liveCard(s) {
  const p = s.product || {};
  const title = p.title || s.product_id || "no product on air";  // product_id "": decision "none"
  const score = typeof s.score === "number" ? s.score : null;
  return h("a", { class: "card live-card", href: `#/stream/${encodeURIComponent(s.stream_id)}`,
                  dataset: { streamId: s.stream_id, productId: s.product_id || "" } },
    h("div", { class: "thumb" }, img(p.image_url, title), h("span", { class: "badge" }, "LIVE")),
    h("div", { class: "body" },
      h("div", { class: "meta" }, `${s.stream_id} · on air ${span(s.start, s.end)}`),
      h("div", { class: "title" }, title),
      h("div", {}, h("span", { class: "price" }, money(p.price))),
      score === null ? null : h("div", { class: "meta confidence-text" }, `confidence (tagger score) ${score.toFixed(2)}`),
      score === null ? null : h("div", { class: "confidence", title: "tagger score, capped at 7" },
        h("div", { style: `width:${Math.max(4, Math.min(100, score / 7 * 100)).toFixed(0)}%` }))));
}

function renderLive(changed) {
  const grid = $("#live-grid");
  const streams = [...state.live.values()].sort((a, b) => a.stream_id.localeCompare(b.stream_id));
  grid.replaceChildren(...(streams.length ? streams.map(liveCard)
    : [h("p", { class: "empty", id: "live-empty" }, "No stream is live right now.")]));
  $("#live-count").textContent = streams.length ? `${streams.length} stream${streams.length > 1 ? "s" : ""}` : "";
  if (changed) {
    const el = grid.querySelector(`[data-stream-id="${CSS.escape(changed)}"]`);
    if (el) el.classList.add("flash");
  }
}

// ------------------------------------------------------------------ search

function filterParams() {
  const p = new URLSearchParams();
  const cat = $("#f-category").value.trim();
  if (cat) p.append("category", cat);
  const lo = $("#f-price-min").value, hi = $("#f-price-max").value;
  if (lo !== "") p.set("price_min", lo);
  if (hi !== "") p.set("price_max", hi);
  if ($("#f-live-now").checked) p.set("live_now", "true");
  return p;
}

function chosenDomains() {
  return [...document.querySelectorAll('input[name="domain"]:checked')].map((el) => el.value);
}

function resultCard(it) {
  const dataset = { id: it.id, domain: it.domain, productId: it.product_id || "" };
  if (it.domain === "video") {
    const thumb = it.media_url
      ? h("video", { src: it.media_url, poster: it.image_url, muted: true, preload: "metadata", playsinline: true })
      : img(it.image_url, it.title);
    return h("div", { class: "card result", dataset, onclick: () => go(`#/product/${encodeURIComponent(it.product_id || "")}`) },
      h("div", { class: "thumb" }, thumb),
      h("div", { class: "body" }, h("div", { class: "title" }, it.title || it.id),
        h("div", { class: "meta" }, `video · ${it.product_id || ""} · match ${(it.score ?? 0).toFixed(2)}`)));
  }
  if (it.domain === "live") {
    return h("a", { class: "card result", dataset, href: `#/moment/${encodeURIComponent(it.id)}` },
      h("div", { class: "thumb" }, img(it.image_url, it.stream_id)),
      h("div", { class: "body" }, h("div", { class: "title" }, `${it.stream_id} at ${span(it.start, it.end)}`),
        h("div", { class: "meta" }, `tagged ${it.product_id || "–"} · match ${(it.score ?? 0).toFixed(2)}`),
        it.summary ? h("div", { class: "meta" }, it.summary.slice(0, 90)) : null));
  }
  return h("a", { class: "card result", dataset, href: `#/product/${encodeURIComponent(it.product_id || "")}` },
    h("div", { class: "thumb" }, img(it.image_url, it.title)),
    h("div", { class: "body" }, h("div", { class: "title" }, it.title || it.id),
      h("div", {}, h("span", { class: "price" }, money(it.price)), it.category ? ` · ${it.category}` : ""),
      h("div", { class: "meta" }, `match ${(it.score ?? 0).toFixed(2)}`)));
}

async function runSearch(kind, arg, append = false) {
  const domains = chosenDomains();
  if (!append) {
    state.search = { kind, arg, offsets: {}, more: {} };
    for (const d of DOMAINS) $(`#results-${d}`).replaceChildren();
  }
  const s = state.search;
  go("#/", true);
  $("#results").hidden = false;
  $("#results-title").textContent = kind === "text" ? `Results for “${arg}”` : `Results for the picture ${arg.name || ""}`;
  await Promise.all(DOMAINS.map(async (d) => {
    const box = $(`#results-${d}`);
    if (!domains.includes(d)) { box.replaceChildren(h("p", { class: "empty" }, "(filtered out)")); return; }
    if (append && !s.more[d]) return;
    const p = filterParams();
    p.set("domain", d);
    p.set("limit", String(PAGE_SIZE));
    p.set("offset", String(s.offsets[d] || 0));
    try {
      let res;
      if (kind === "text") {
        p.set("q", arg);
        res = await getJSON(`/api/search/text?${p}`);
      } else {
        const form = new FormData();
        form.append("file", arg);
        res = await getJSON(`/api/search/image?${p}`, { method: "POST", body: form });
      }
      if (s !== state.search) return;  // a newer search started
      s.offsets[d] = (s.offsets[d] || 0) + res.results.length;
      s.more[d] = res.next_offset !== null;
      if (!append && !res.results.length) box.replaceChildren(h("p", { class: "empty" }, "Nothing found."));
      else box.append(...res.results.map(resultCard));
    } catch (err) {
      box.replaceChildren(h("p", { class: "error" }, err.message));
      s.more[d] = false;
    }
  }));
  $("#more").hidden = !DOMAINS.some((d) => s.more[d]);
}

// ------------------------------------------------------------------ detail views

function showDetail(...nodes) {
  $("#home").hidden = true;
  const el = $("#detail");
  el.hidden = false;
  el.replaceChildren(h("a", { class: "back", href: "#/" }, "← live now and search"), ...nodes);
  window.scrollTo(0, 0);
}

async function productView(pid) {
  showDetail(h("p", { class: "empty" }, "loading…"));
  let v;
  try { v = await getJSON(`/api/products/${encodeURIComponent(pid)}`); } catch (err) {
    showDetail(h("p", { class: "error" }, err.message)); return;
  }
  const c = v.product || { product_id: pid };
  const byStream = new Map();
  for (const m of v.live_before) {
    if (!byStream.has(m.stream_id)) byStream.set(m.stream_id, []);
    byStream.get(m.stream_id).push(m);
  }
  const similar = h("div", { class: "grid", id: "similar" });
  showDetail(
    h("div", { class: "detail-head", id: "product-view", dataset: { productId: pid } },
      img(c.image_url, c.title),
      h("div", { class: "facts" },
        h("h2", {}, c.title || pid),
        h("p", {}, h("span", { class: "price" }, money(c.price)), c.category ? ` · ${c.category}` : "", ` · ${pid}`),
        h("h3", {}, "Live now"),
        v.live_now.length ? h("ul", { class: "list", id: "product-live-now" }, v.live_now.map((s) =>
          h("li", {}, h("a", { href: `#/stream/${encodeURIComponent(s.stream_id)}` },
            h("span", { class: "badge-inline" }, "● "), `${s.stream_id}, on air at ${span(s.start, s.end)}`))))
          : h("p", { class: "empty" }, "Not on air right now."),
        h("h3", {}, "Shown before in live streams"),
        byStream.size ? h("ul", { class: "list", id: "product-moments" }, [...byStream.entries()].map(([sid, ms]) =>
          h("li", {}, h("strong", {}, sid), ": ", ms.map((m, i) => [i ? ", " : "",
            h("a", { href: `#/moment/${encodeURIComponent(m.window_id)}`, class: "span" }, span(m.start, m.end))]))))
          : h("p", { class: "empty" }, "No live window was tagged with it yet."))),
    h("h3", {}, "Short videos"),
    v.videos.length ? h("div", { class: "grid" }, v.videos.map((it) => h("div", { class: "card" },
      h("div", { class: "thumb" }, h("video", { src: it.media_url, poster: it.image_url, controls: true,
                                                preload: "metadata", playsinline: true })),
      h("div", { class: "body" }, h("div", { class: "title" }, it.title || it.id)))))
      : h("p", { class: "empty" }, "No short video."),
    h("h3", {}, "Looks like it (other pages, videos and live moments)"), similar);
  if (c.page_id) {
    try {
      const res = await getJSON(`/api/search/similar?item_domain=page&id=${encodeURIComponent(c.page_id)}&limit=8`);
      similar.replaceChildren(...res.results.map(resultCard));
    } catch (err) { similar.replaceChildren(h("p", { class: "error" }, err.message)); }
  }
}

function streamNow(v) {
  const n = v.now;
  if (!n) return h("p", { class: "empty" }, "Not tagged yet.");
  const p = n.product || {};
  return h("div", { class: "detail-head", id: "stream-now", dataset: { productId: n.product_id || "" } },
    img(p.image_url, p.title),
    h("div", { class: "facts" },
      h("h2", {}, `${v.stream_id} `, h("span", { class: n.ended ? "badge ended" : "badge" }, n.ended ? "ENDED" : "LIVE")),
      h("p", {}, n.ended ? "Last product on air: " : "On air now: ",
        h("a", { href: `#/product/${encodeURIComponent(n.product_id || "")}` }, p.title || n.product_id || "–"),
        " ", h("span", { class: "price" }, money(p.price))),
      h("p", { class: "meta" }, `window ${span(n.start, n.end)} · tagger score ${(n.score ?? 0).toFixed(2)}`)));
}

function recentList(v) {
  return h("ul", { class: "list", id: "stream-recent" }, v.recent.map((t) => h("li", {},
    h("a", { href: `#/moment/${encodeURIComponent(t.window_id)}` }, h("span", { class: "span" }, span(t.start, t.end)),
      ` ${t.title || t.product_id || "–"}`), h("span", { class: "meta" }, ` score ${(t.score ?? 0).toFixed(2)}`))));
}

async function streamView(sid) {
  showDetail(h("p", { class: "empty" }, "loading…"));
  let v;
  try { v = await getJSON(`/api/streams/${encodeURIComponent(sid)}`); } catch (err) {
    v = { stream_id: sid, now: null, recent: [] };
  }
  const render = (view) => showDetail(streamNow(view), h("h3", {}, "Recent tags"), recentList(view));
  render(v);
  const es = new EventSource(`/api/streams/${encodeURIComponent(sid)}/events`);
  state.streamFeed = es;
  const refresh = async () => {
    try { render(await getJSON(`/api/streams/${encodeURIComponent(sid)}`)); } catch (e) { /* keep what we show */ }
  };
  es.addEventListener("tag", refresh);
  es.addEventListener("end", refresh);
}

async function momentView(wid) {
  showDetail(h("p", { class: "empty" }, "loading…"));
  let it;
  try { it = await getJSON(`/api/items/live/${encodeURIComponent(wid)}`); } catch (err) {
    showDetail(h("p", { class: "error" }, err.message)); return;
  }
  const similar = h("div", { class: "grid" });
  showDetail(h("div", { class: "detail-head", id: "moment-view" }, img(it.image_url, wid),
    h("div", { class: "facts" },
      h("h2", {}, `${it.stream_id} at ${span(it.start, it.end)}`),
      h("p", {}, "Tagged: ", it.product_id ? h("a", { href: `#/product/${encodeURIComponent(it.product_id)}` },
        it.product_id) : "–", it.tag_score !== null ? ` (score ${it.tag_score.toFixed(2)})` : ""),
      it.summary ? h("p", { class: "meta" }, `Summary: ${it.summary}`) : null,
      h("p", {}, h("a", { href: `#/stream/${encodeURIComponent(it.stream_id)}` }, "the stream's tags")))),
  h("h3", {}, "Looks like this moment (pages, videos, other streams)"), similar);
  try {
    const res = await getJSON(`/api/search/similar?item_domain=live&id=${encodeURIComponent(wid)}&limit=8`);
    similar.replaceChildren(...res.results.map(resultCard));
  } catch (err) { similar.replaceChildren(h("p", { class: "error" }, err.message)); }
}

// ------------------------------------------------------------------ routing

function go(hash, quiet) {
  if (location.hash === hash || (hash === "#/" && !location.hash)) { if (!quiet) route(); return; }
  location.hash = hash;
}

function route() {
  if (state.streamFeed) { state.streamFeed.close(); state.streamFeed = null; }
  const [, view, ...rest] = (location.hash || "#/").slice(1).split("/");
  const arg = decodeURIComponent(rest.join("/"));
  if (view === "product" && arg) return productView(arg);
  if (view === "stream" && arg) return streamView(arg);
  if (view === "moment" && arg) return momentView(arg);
  $("#detail").hidden = true;
  $("#home").hidden = false;
}

document.addEventListener("DOMContentLoaded", () => {
  $("#search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const q = $("#q").value.trim();
    if (q) runSearch("text", q);
  });
  $("#image-input").addEventListener("change", (e) => {
    const f = e.target.files && e.target.files[0];
    if (f) runSearch("image", f);
  });
  $("#more").addEventListener("click", () => { if (state.search) runSearch(state.search.kind, state.search.arg, true); });
  window.addEventListener("hashchange", route);
  route();
  connectLive();
});
