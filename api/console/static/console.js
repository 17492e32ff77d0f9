// The Hour Ledger console: pages for each role over the public /v1 API only.
// The API key lives in sessionStorage (this tab only), never in a URL or a cookie.

const KEY = "hour-ledger.key";
const PAGES = {
  admin: ["stats", "volunteers", "audit"],
  operator: ["stats", "volunteers"],
  auditor: ["stats", "audit"],
  exchange_point: ["counter"],
};
const ROLE_NAMES = { admin: "管理员", operator: "操作员", auditor: "审计员", exchange_point: "兑换点" };
// SPEC's problem codes in plain Chinese: shown even where the API answered in English.
const PROBLEMS = {
  validation_error: "输入有误", not_found: "未找到", unauthorized: "密钥无效或已撤销，请重新登录",
  forbidden: "无权进行此操作", insufficient_balance: "可用时长不足", out_of_stock: "库存不足",
  star_level_too_low: "星级不够", timebank_not_open: "未开通时间银行账户", timebank_cap_exceeded: "超过时间银行存储上限",
  overlapping_service: "服务时间与已有记录重叠", already_reversed: "该交易已被冲正", not_reversible: "该交易不可冲正",
  transaction_id_conflict: "交易编号已被其他内容使用", unavailable: "服务暂时不可用，请稍后重试", network: "网络错误",
};
const TYPES = {
  service_record: "志愿服务", timebank_deposit: "时间银行存入", timebank_withdrawal: "时间银行支取",
  timebank_transfer: "时间转赠", timebank_donation: "捐入公益池", timebank_grant: "公益池发放",
  redemption: "兑换", reversal: "冲正",
};
const LEVELS = { 2: "city", 4: "county", 6: "town", 9: "village" };
const NEXT_LENGTH = { 2: 4, 4: 6, 6: 9, 9: 12 };

const state = { me: null, region: null, regionNames: { 32: "江苏省" }, volunteer: null, book: "service", statementCursor: null,
  searchCursor: null, point: null, customer: null, pending: null, inFlight: false, charts: {} };

const $ = (id) => document.getElementById(id);
const element = (tag, text, attributes = {}) => {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
};
const hours = (minutes) => `${(minutes / 60).toLocaleString("zh-CN", { maximumFractionDigits: 1 })} 小时`;
const localTime = (text) => (text ? new Date(text).toLocaleString("zh-CN", { hour12: false }) : "");

// A version 4 UUID from the browser's random source (crypto.randomUUID needs HTTPS, an
// intranet console may be plain HTTP).
function newId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

class ApiError extends Error {
  constructor(problem, status) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.problem = problem;
    this.status = status;
  }
  get message_zh() {
    const title = PROBLEMS[this.problem.code] || this.problem.title || "出错了";
    return this.problem.detail ? `${title}：${this.problem.detail}` : title;
  }
}

let pendingRequests = 0;
async function api(path, { method = "GET", body, raw = false, anonymous = false } = {}) {
  const headers = { "Accept-Language": "zh-CN" };
  if (!anonymous) headers.Authorization = `Bearer ${sessionStorage.getItem(KEY) || ""}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  pendingRequests += 1;
  $("loading").hidden = false;
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (error) {
    throw new ApiError({ code: "network", detail: "无法连接服务器，请检查网络后重试。" }, 0);
  } finally {
    pendingRequests -= 1;
    $("loading").hidden = pendingRequests === 0;
  }
  if (!response.ok) {
    let problem = { status: response.status };
    try { problem = await response.json(); } catch { /* not a problem document */ }
    if (response.status === 401 && !anonymous) signOut(false);
    throw new ApiError(problem, response.status);
  }
  if (raw) return response;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

function notify(text, ok = false) {
  const notice = $("notice");
  notice.textContent = text;
  notice.classList.toggle("ok", ok);
  notice.hidden = !text;
}

function failed(error) {
  notify(error instanceof ApiError ? error.message_zh : `出错了：${error.message}`);
}

async function guarded(work) {
  try {
    notify("");
    await work();
  } catch (error) {
    failed(error);
  }
}

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== "") search.set(name, value);
  const text = search.toString();
  return text ? `?${text}` : "";
}

async function download(path, filename) {
  const response = await api(path, { raw: true });
  const url = URL.createObjectURL(await response.blob());
  const link = element("a", null, { href: url, download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// Signing in and out ---------------------------------------------------------------------

async function signIn(secret) {
  sessionStorage.setItem(KEY, secret);
  try {
    state.me = await api("/v1/me");
  } catch (error) {
    sessionStorage.removeItem(KEY);
    throw error;
  }
  state.region = state.me.region_code || "32";
  $("who-name").textContent = `${state.me.name}（${ROLE_NAMES[state.me.role] || state.me.role}${state.me.region_code ? ` · ${state.me.region_code}` : ""}）`;
  $("who").hidden = false;
  const allowed = PAGES[state.me.role] || [];
  for (const link of $("nav").querySelectorAll("a")) link.hidden = !allowed.includes(link.dataset.page);
  $("nav").hidden = false;
  route();
}

function signOut(clear = true) {
  sessionStorage.removeItem(KEY);
  state.me = null;
  $("nav").hidden = true;
  $("who").hidden = true;
  if (clear) notify("");
  show("sign-in");
}

function show(page) {
  for (const section of document.querySelectorAll(".page")) section.hidden = section.id !== `page-${page}`;
  for (const link of $("nav").querySelectorAll("a")) link.classList.toggle("active", link.dataset.page === page);
}

function route() {
  if (!state.me) return show("sign-in");
  const allowed = PAGES[state.me.role] || [];
  let page = location.hash.replace(/^#\//, "");
  if (!allowed.includes(page)) {
    page = allowed[0];
    history.replaceState(null, "", `#/${page}`);
  }
  show(page);
  const open = { stats: openStats, volunteers: () => {}, counter: openCounter, audit: openAudit }[page];
  guarded(open);
}

// Statistics -----------------------------------------------------------------------------

const FIGURES = [
  ["volunteers", "注册志愿者"], ["active_volunteers", "活跃志愿者"], ["service_records", "服务记录"],
  ["service_minutes", "服务时长", hours], ["redemptions", "兑换次数"], ["redeemed_minutes", "兑换时长", hours],
  ["timebank_accounts", "时间银行账户"], ["timebank_deposited_minutes", "存入时长", hours],
  ["timebank_withdrawn_minutes", "支取时长", hours], ["beneficiaries", "受益人"],
];

function period() {
  return { from: $("stats-from").value, to: $("stats-to").value };
}

function chart(id) {
  if (!state.charts[id]) state.charts[id] = echarts.init($(id));
  return state.charts[id];
}

function bars(id, groups, measure) {
  const title = $(id).dataset.title;
  chart(id).setOption({
    title: { text: title, textStyle: { fontSize: 14 } },
    tooltip: {},
    grid: { left: 60, right: 16, bottom: 60, top: 40 },
    xAxis: { type: "category", data: groups.map((g) => g.name || g.key), axisLabel: { rotate: groups.length > 6 ? 30 : 0 } },
    yAxis: { type: "value" },
    series: [{ type: "bar", name: title, data: groups.map((g) => g[measure]), itemStyle: { color: "#c8102e" } }],
  }, true);
}

async function openStats() {
  const { from, to } = period();
  const region = state.region;
  const filters = { region, from, to };
  const summary = await api(`/v1/stats/summary${query(filters)}`);
  renderCards(summary);
  renderRegionPath();
  const level = LEVELS[region.length];
  const [months, regions, organizations, categories] = await Promise.all([
    api(`/v1/stats/breakdown${query({ ...filters, by: "month" })}`),
    level ? api(`/v1/stats/breakdown${query({ ...filters, by: "region", level })}`) : Promise.resolve({ groups: [] }),
    api(`/v1/stats/breakdown${query({ ...filters, by: "organization" })}`),
    api(`/v1/stats/breakdown${query({ ...filters, by: "category" })}`),
  ]);
  chart("chart-months").setOption({
    title: { text: $("chart-months").dataset.title, textStyle: { fontSize: 14 } },
    tooltip: { trigger: "axis" },
    grid: { left: 60, right: 16, bottom: 40, top: 40 },
    xAxis: { type: "category", data: months.groups.map((g) => g.key) },
    yAxis: { type: "value" },
    series: [{ type: "line", name: "服务时长", data: months.groups.map((g) => g.service_minutes), itemStyle: { color: "#c8102e" } }],
  }, true);
  for (const group of regions.groups) state.regionNames[group.key] = group.name || group.key;
  bars("chart-regions", regions.groups, "service_minutes");
  bars("chart-organizations", organizations.groups, "service_minutes");
  bars("chart-categories", categories.groups, "service_minutes");
  const stars = ["1", "2", "3", "4", "5"];
  chart("chart-stars").setOption({
    title: { text: $("chart-stars").dataset.title, textStyle: { fontSize: 14 } },
    tooltip: {},
    xAxis: { type: "category", data: stars.map((s) => `${"★".repeat(Number(s))}`) },
    yAxis: { type: "value", minInterval: 1 },
    series: [{ type: "bar", name: "人数", data: stars.map((s) => summary.stars[s]), itemStyle: { color: "#d48806" } }],
  }, true);
  chart("chart-timebank").setOption({
    title: { text: $("chart-timebank").dataset.title, textStyle: { fontSize: 14 } },
    tooltip: {},
    xAxis: { type: "category", data: ["存入", "支取"] },
    yAxis: { type: "value" },
    series: [{ type: "bar", name: "分钟", data: [summary.timebank_deposited_minutes, summary.timebank_withdrawn_minutes], itemStyle: { color: "#1d39c4" } }],
  }, true);
  const list = $("sub-regions");
  list.replaceChildren();
  for (const group of regions.groups) {
    const link = element("a", `${group.name || group.key}（${hours(group.service_minutes)}）`, { "data-region": group.key });
    link.addEventListener("click", () => { state.region = group.key; guarded(openStats); });
    const item = element("li");
    item.append(link);
    list.append(item);
  }
}

function renderCards(summary) {
  const cards = $("stats-cards");
  cards.replaceChildren();
  for (const [field, label, format] of FIGURES) {
    const card = element("div", null, { class: "figure", "data-figure": field });
    card.append(element("span", label), element("strong", format ? format(summary[field]) : summary[field].toLocaleString("zh-CN")));
    cards.append(card);
  }
}

function renderRegionPath() {
  const path = $("region-path");
  path.replaceChildren();
  const top = state.me.region_code || "32";
  for (const length of [2, 4, 6, 9, 12]) {
    if (length < top.length || length > state.region.length) continue;
    const code = state.region.slice(0, length);
    const link = element("a", state.regionNames[code] || code);
    link.addEventListener("click", () => { state.region = code; guarded(openStats); });
    if (path.childElementCount) path.append(element("span", "›"));
    path.append(link);
  }
}

function statsDownload(format) {
  const { from, to } = period();
  return guarded(() => download(`/v1/stats/summary${query({ region: state.region, from, to, format })}`, `统计-${state.region}.${format}`));
}

// Volunteers -----------------------------------------------------------------------------

async function search(more = false) {
  const params = {
    q: $("search-q").value.trim(), region: $("search-region").value.trim(),
    organization_id: $("search-organization").value.trim(), id_number: $("search-id-number").value.trim(),
    limit: 20, cursor: more ? state.searchCursor : undefined,
  };
  const page = await api(`/v1/volunteers${query(params)}`);
  const rows = $("search-results");
  if (!more) rows.replaceChildren();
  for (const person of page.items) {
    const row = element("tr", null, { class: "clickable", "data-volunteer": person.id });
    const available = person.service ? hours(person.service.available_minutes) : "";
    row.append(element("td", person.name), element("td", person.region_code), element("td", "★".repeat(person.star_level || 0) || "—"), element("td", available));
    row.addEventListener("click", () => guarded(() => openVolunteer(person.id)));
    rows.append(row);
  }
  if (!page.items.length && !more) {
    const row = element("tr");
    row.append(element("td", "没有找到符合条件的志愿者", { colspan: "4" }));
    rows.append(row);
  }
  state.searchCursor = page.next_cursor;
  $("search-more").hidden = !page.next_cursor;
}

async function openVolunteer(id) {
  const person = await api(`/v1/volunteers/${id}`);
  state.volunteer = person;
  $("profile").hidden = false;
  $("profile-name").textContent = person.name;
  const facts = $("profile-facts");
  facts.replaceChildren();
  const service = person.service || {};
  const timebank = person.timebank || {};
  for (const [label, value] of [
    ["地区", person.region_code], ["星级", "★".repeat(person.star_level || 0) || "—"],
    ["累计服务", hours(service.earned_minutes || 0)], ["已兑换", hours(service.redeemed_minutes || 0)],
    ["可用时长", hours(service.available_minutes || 0)],
    ["时间银行", timebank.open ? hours(timebank.balance_minutes) : "未开户"], ["注册时间", localTime(person.registered_at)],
  ]) facts.append(element("dt", label), element("dd", value));
  await loadStatement(false);
}

async function loadStatement(more) {
  const id = state.volunteer.id;
  const page = await api(`/v1/volunteers/${id}/statement${query({ book: state.book, limit: 20, cursor: more ? state.statementCursor : undefined })}`);
  const rows = $("statement");
  if (!more) rows.replaceChildren();
  for (const entry of page.entries) {
    const row = element("tr");
    row.append(element("td", localTime(entry.recorded_at)), element("td", TYPES[entry.type] || entry.type),
      element("td", entry.minutes > 0 ? `+${entry.minutes}` : entry.minutes), element("td", entry.balance_after_minutes));
    rows.append(row);
  }
  $("statement-totals").textContent = `期初 ${page.opening_minutes} 分钟 · 期末 ${page.closing_minutes} 分钟`;
  state.statementCursor = page.next_cursor;
  $("statement-more").hidden = !page.next_cursor;
}

async function issueCertificate() {
  const body = {};
  if ($("certificate-from").value) body.period_from = $("certificate-from").value;
  if ($("certificate-to").value) body.period_to = $("certificate-to").value;
  const certificate = await api(`/v1/volunteers/${state.volunteer.id}/certificates`, { method: "POST", body });
  notify(`已开具证明 ${certificate.code}（${hours(certificate.service_minutes)}，${certificate.record_count} 条记录）`, true);
  window.open(`/certificates/${certificate.code}`, "_blank", "noopener");
}

// The exchange-point counter ------------------------------------------------------------

async function openCounter() {
  const point = await api(`/v1/exchange-points/${state.me.exchange_point_id}`);
  state.point = point;
  $("counter-point").textContent = point.name;
  renderCatalogue();
}

function renderCatalogue() {
  const rows = $("catalogue");
  rows.replaceChildren();
  for (const item of state.point.items) {
    const row = element("tr", null, { "data-sku": item.sku });
    const quantity = element("input", null, { type: "number", min: "0", max: String(item.stock), value: "0", class: "qty", "aria-label": `${item.name} 数量` });
    quantity.addEventListener("input", cartChanged);
    const stars = item.min_star ? `（需 ${"★".repeat(item.min_star)}）` : "";
    const cell = element("td");
    cell.append(quantity);
    row.append(element("td", `${item.name}${stars}`), element("td", `${item.price_minutes} 分钟`), element("td", item.stock), cell);
    rows.append(row);
  }
  cartChanged();
}

function cart() {
  const lines = [];
  for (const row of $("catalogue").querySelectorAll("tr")) {
    const quantity = Number(row.querySelector("input").value || 0);
    if (quantity > 0) lines.push({ sku: row.dataset.sku, quantity });
  }
  return lines;
}

function cartChanged() {
  // A new cart is a new redemption: a retry of the old one must not carry it.
  state.pending = null;
  updateCart();
}

function updateCart() {
  const lines = cart();
  const prices = Object.fromEntries(state.point.items.map((i) => [i.sku, i.price_minutes]));
  const total = lines.reduce((sum, line) => sum + prices[line.sku] * line.quantity, 0);
  $("cart-total").textContent = lines.length ? `合计 ${total} 分钟` : "";
  $("redeem").disabled = !(state.customer && lines.length) || state.inFlight;
}

async function findCustomer(event) {
  event.preventDefault();
  const id = $("counter-volunteer").value.trim();
  state.customer = null;
  cartChanged();
  const balance = await api(`/v1/volunteers/${encodeURIComponent(id)}/balance`);
  let name = "";
  try { name = (await api(`/v1/volunteers/${encodeURIComponent(id)}`)).name; } catch { /* a counter may not read names */ }
  state.customer = { id, name };
  $("counter-balance").textContent = `${name || id}：可用 ${balance.service.available_minutes} 分钟，星级 ${"★".repeat(balance.service.star_level) || "—"}`;
  cartChanged();
}

async function redeem() {
  if (state.inFlight) return;
  const lines = cart();
  if (!state.customer || !lines.length) return;
  // The same id until the ledger has answered: a double click or a retry after a network
  // error is the same redemption, which the ledger records once.
  state.pending = state.pending || {
    id: newId(), type: "redemption", exchange_point_id: state.point.id, volunteer_id: state.customer.id, items: lines,
  };
  state.inFlight = true;
  $("redeem").disabled = true;
  try {
    const done = await api("/v1/transactions", { method: "POST", body: state.pending });
    $("pickup-code").textContent = done.pickup_code;
    $("pickup").hidden = false;
    notify(`兑换成功（交易 ${done.id}）`, true);
    state.pending = null;
    await openCounter();
    await findCustomer(new Event("submit"));
  } catch (error) {
    // A refusal means nothing was recorded: the next attempt is a new redemption. A network
    // error may hide a success: keep the id, so that a retry answers the original.
    if (error instanceof ApiError && error.status >= 400 && error.status < 500) state.pending = null;
    failed(error);
  } finally {
    state.inFlight = false;
    updateCart();
  }
}

async function findPickup(event) {
  event.preventDefault();
  const code = $("pickup-query").value.trim().toUpperCase();
  const found = await api(`/v1/exchange-points/${state.me.exchange_point_id}/redemptions${query({ pickup_code: code })}`);
  const redemption = Array.isArray(found.items) ? found.items[0] : found;
  const result = $("pickup-result");
  result.replaceChildren();
  if (!redemption) {
    result.append(element("p", "没有这个取货码的兑换"));
    return;
  }
  const lines = (redemption.lines || redemption.items || []).map((i) => `${i.name || i.sku} × ${i.quantity}`).join("、");
  const who = redemption.volunteer_name ? ` · ${redemption.volunteer_name}` : "";
  result.append(element("p", `取货码 ${redemption.pickup_code} · ${localTime(redemption.posted_at)}${who} · ${lines}`));
  if (redemption.reversed_by) {
    result.append(element("p", "已撤销"));
    return;
  }
  const undo = element("button", "撤销这笔兑换", { type: "button" });
  undo.addEventListener("click", () => guarded(async () => {
    await api("/v1/transactions", { method: "POST", body: { id: newId(), type: "reversal", reverses: redemption.id, reason: "兑换柜台撤销" } });
    notify("已撤销，时长与库存已退回", true);
    result.replaceChildren();
    await openCounter();
  }));
  result.append(undo);
}

// Audit ----------------------------------------------------------------------------------

async function openAudit() {
  $("checkpoint").textContent = await api("/v1/audit/checkpoint");
  $("verifier-key").textContent = await api("/v1/audit/key");
}

async function runVerify() {
  const report = await api("/v1/audit/verify");
  const box = $("verify-result");
  box.replaceChildren();
  if (report.ok) {
    box.append(element("p", `通过：已校验 ${report.checked.toLocaleString("zh-CN")} 个事件，树大小 ${report.tree_size}，根哈希 ${report.root_hash}`, { class: "ok" }));
  } else {
    box.append(element("p", `发现问题：位置 ${report.first_bad_position ?? "—"}：${report.problem}`, { class: "notice" }));
  }
}

async function exportLog() {
  const checkpoint = await api("/v1/audit/checkpoints", { method: "POST" });
  const lines = [];
  let after = -1;
  while (true) {
    const page = await api(`/v1/audit/log${query({ after, limit: 1000 })}`);
    for (const entry of page.events) if (entry.leaf_index < checkpoint.tree_size) lines.push(JSON.stringify(entry));
    if (page.next === null || page.next === undefined || page.next >= checkpoint.tree_size - 1) break;
    after = page.next;
  }
  const save = (text, name) => {
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
    const link = element("a", null, { href: url, download: name });
    document.body.append(link);
    link.click();
    link.remove();
  };
  save(lines.join("\n") + "\n", "hour-ledger-export.jsonl");
  save(checkpoint.note, "hour-ledger-export.jsonl.checkpoint");
  notify(`已导出 ${lines.length} 条记录（树大小 ${checkpoint.tree_size}）`, true);
}

async function checkCertificate(event) {
  event.preventDefault();
  const code = $("certificate-code").value.trim();
  const certificate = await api(`/v1/certificates/${encodeURIComponent(code)}`, { anonymous: true });
  const box = $("certificate-result");
  box.replaceChildren();
  const facts = element("dl", null, { class: "facts" });
  for (const [label, value] of [
    ["证明编号", certificate.code], ["志愿者", certificate.volunteer_name],
    ["期间", `${certificate.period_from} 至 ${certificate.period_to}`], ["服务时长", hours(certificate.service_minutes)],
    ["记录数", certificate.record_count], ["开具时间", localTime(certificate.issued_at)],
    ["真实性", certificate.genuine ? "真实有效（已纳入签名账本）" : "无法确认"],
    ["开具后冲正", certificate.reversed_since ? "有记录在开具后被冲正" : "无"],
  ]) facts.append(element("dt", label), element("dd", value));
  const page = element("a", "打开打印页", { href: `/certificates/${certificate.code}`, target: "_blank", rel: "noopener" });
  box.append(facts, page);
}

// Wiring ---------------------------------------------------------------------------------

function wire() {
  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(() => signIn($("api-key").value.trim()));
    $("api-key").value = "";
  });
  $("sign-out").addEventListener("click", () => signOut());
  window.addEventListener("hashchange", route);
  $("stats-form").addEventListener("submit", (event) => { event.preventDefault(); guarded(openStats); });
  $("stats-csv").addEventListener("click", (event) => { event.preventDefault(); statsDownload("csv"); });
  $("stats-xlsx").addEventListener("click", (event) => { event.preventDefault(); statsDownload("xlsx"); });
  $("search-form").addEventListener("submit", (event) => { event.preventDefault(); guarded(() => search(false)); });
  $("search-more").addEventListener("click", () => guarded(() => search(true)));
  $("issue-certificate").addEventListener("click", () => guarded(issueCertificate));
  for (const tab of document.querySelectorAll(".tab")) {
    tab.addEventListener("click", () => {
      state.book = tab.dataset.book;
      for (const other of document.querySelectorAll(".tab")) other.classList.toggle("active", other === tab);
      guarded(() => loadStatement(false));
    });
  }
  $("statement-more").addEventListener("click", () => guarded(() => loadStatement(true)));
  $("counter-volunteer-form").addEventListener("submit", (event) => guarded(() => findCustomer(event)));
  $("redeem").addEventListener("click", () => guarded(redeem));
  $("pickup-form").addEventListener("submit", (event) => guarded(() => findPickup(event)));
  $("run-verify").addEventListener("click", () => guarded(runVerify));
  $("download-export").addEventListener("click", () => guarded(exportLog));
  $("certificate-form").addEventListener("submit", (event) => guarded(() => checkCertificate(event)));
  window.addEventListener("resize", () => Object.values(state.charts).forEach((c) => c.resize()));
}

wire();
if (sessionStorage.getItem(KEY)) guarded(() => signIn(sessionStorage.getItem(KEY)));
else show("sign-in");
