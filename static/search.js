// The search page: Pagefind's JavaScript API (pagefind.js, written into the site by
// `gazette build`) behind a small form of our own. Everything is served by the site itself:
// no CDN, no server. The form's state lives in the query string (?q=…&topic=…), so a search
// can be bookmarked, shared and restored with the Back button.

const PAGE_SIZE = 20;
const TYPING_PAUSE_MS = 250;
const FILTERS = ["topic", "source", "year", "tag"];
const SORTS = { newest: { date: "desc" }, oldest: { date: "asc" } };

const form = document.getElementById("search");
const status = document.getElementById("search-status");
const list = document.getElementById("search-results");
const more = document.getElementById("search-more");

// Shown before the first paint (the page loads this module with blocking="render"), not
// once the index has loaded, so the page never shifts; hidden again if the index fails.
form.hidden = false;

let pagefind = null;
let results = [];
let rendered = 0;
let generation = 0; // bumped by every search, so answers to superseded searches are dropped
let timer = 0;

async function start() {
  try {
    pagefind = await import(form.dataset.bundle + "pagefind.js");
    // Result URLs are site paths; the base path makes them right under e.g. /news/.
    await pagefind.options({ baseUrl: form.dataset.base });
    fillFilters(await pagefind.filters());
  } catch (error) {
    form.hidden = true; // a search that cannot run is not offered
    status.textContent = "Search is unavailable: its index could not be loaded.";
    console.error(error);
    return;
  }
  // The form is visible while the index loads: keep what the reader typed meanwhile
  // unless the address carries a search to restore.
  if (window.location.search) restore(new URLSearchParams(window.location.search));
  form.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(run, TYPING_PAUSE_MS);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    window.clearTimeout(timer);
    run();
  });
  more.addEventListener("click", () => showMore(generation, true));
  run();
}

function fillFilters(available) {
  for (const name of FILTERS) {
    const control = form.elements[name];
    const counts = available[name] || {};
    const values = Object.keys(counts).sort((a, b) => a.localeCompare(b));
    if (name === "year") values.reverse(); // recent years first
    const target = control.list || control; // the tag box offers its values via a <datalist>
    for (const value of values) {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = `${value} (${counts[value]})`;
      target.append(option);
    }
  }
}

function restore(params) {
  form.elements.q.value = params.get("q") || "";
  for (const name of [...FILTERS, "sort"]) form.elements[name].value = params.get(name) || "";
}

function currentQuery() {
  const term = form.elements.q.value.trim();
  const filters = {};
  for (const name of FILTERS) {
    const value = form.elements[name].value.trim();
    if (value) filters[name] = value;
  }
  return { term, filters, sort: form.elements.sort.value };
}

function remember({ term, filters, sort }) {
  const params = new URLSearchParams();
  if (term) params.set("q", term);
  for (const [name, value] of Object.entries(filters)) params.set(name, value);
  if (sort) params.set("sort", sort);
  const query = params.toString();
  window.history.replaceState(null, "", window.location.pathname + (query ? `?${query}` : ""));
}

async function run() {
  const query = currentQuery();
  remember(query);
  const mine = ++generation;
  if (!query.term && Object.keys(query.filters).length === 0) {
    results = [];
    list.replaceChildren();
    more.hidden = true;
    status.textContent = "";
    return;
  }
  const options = { filters: query.filters };
  if (SORTS[query.sort]) options.sort = SORTS[query.sort];
  try {
    // A null term with filters lists every story that matches the filters.
    const search = await pagefind.search(query.term || null, options);
    if (mine !== generation) return;
    results = search ? search.results : [];
    rendered = 0;
    list.replaceChildren();
    await showMore(mine, false);
    if (mine === generation) status.textContent = describe(results.length, query);
  } catch (error) {
    // A chunk of the index could not be fetched (offline, or a deploy in progress).
    if (mine === generation) status.textContent = "The search failed; please try again.";
    console.error(error);
  }
}

async function showMore(mine, moveFocus) {
  const batch = results.slice(rendered, rendered + PAGE_SIZE);
  const data = await Promise.all(batch.map((result) => result.data()));
  if (mine !== generation) return;
  const items = data.map(resultItem);
  list.append(...items);
  rendered += batch.length;
  more.hidden = rendered >= results.length;
  // After "Show more", keyboard and screen-reader users continue at the first new result.
  if (moveFocus && items.length) items[0].querySelector("a").focus();
}

function resultItem(data) {
  const item = document.createElement("li");
  item.className = "search-result";
  const heading = document.createElement("h2");
  const link = document.createElement("a");
  link.href = data.url;
  link.textContent = data.meta.title || data.url;
  heading.append(link);
  item.append(heading);
  const facts = [data.meta.date, first(data.filters, "source"), first(data.filters, "topic")]
    .filter(Boolean);
  if (facts.length) {
    const meta = document.createElement("p");
    meta.className = "meta";
    meta.textContent = facts.join(" · ");
    item.append(meta);
  }
  const excerpt = document.createElement("p");
  excerpt.className = "excerpt";
  appendExcerpt(excerpt, data.excerpt);
  item.append(excerpt);
  return item;
}

function first(filters, name) {
  return filters && filters[name] && filters[name][0];
}

// Pagefind marks matches with <mark> in an HTML excerpt. Only the text and the marks are
// kept: story text is untrusted, so no other markup from the index reaches the page.
function appendExcerpt(target, html) {
  const parsed = new DOMParser().parseFromString(html || "", "text/html").body;
  for (const node of parsed.childNodes) {
    if (node.nodeName === "MARK") {
      const mark = document.createElement("mark");
      mark.textContent = node.textContent;
      target.append(mark);
    } else {
      target.append(node.textContent);
    }
  }
}

function describe(count, { term, filters }) {
  const noun = count === 1 ? "story" : "stories";
  const found = count === 0 ? "No stories found" : `${count} ${noun} found`;
  const parts = term ? [`${found} for “${term}”`] : [found];
  for (const [name, value] of Object.entries(filters)) parts.push(`${name}: ${value}`);
  return parts.join(", ") + ".";
}

start();
