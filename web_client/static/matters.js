"use strict";
// The public catalog: every matter's complete notice (一次性告知), before anyone applies.

NotaryI18n.register("zh-CN", {
  "matters.title": "公证事项与一次性告知",
  "matters.intro": "每个事项需要的全部材料、条件、流程、办理时间和收费，一次告知。标注“可共享核验”的材料由公证处通过政务数据核验；标注“可告知承诺”的材料可签署承诺书代替。",
  "matters.search": "查找事项",
  "matters.fee": "基准收费",
  "matters.days": "办理时间",
  "matters.remote": "远程视频办理",
  "matters.secret": "本事项档案保密：仅经办公证员与申请人本人可以查阅。",
  "matters.materials": "所需材料",
  "matters.conditions": "办理条件",
  "matters.steps": "办理流程",
  "matters.apply": "在线申请",
  "matters.yes": "可以",
  "matters.no": "需到场办理",
  "matters.daysValue": "{n} 个工作日内",
  "matters.optional": "（如适用）",
  "mode.upload": "需上传",
  "mode.shared_data": "可共享核验",
  "mode.commitment": "可告知承诺",
  "matters.loading": "正在加载…",
  "matters.failed": "加载失败，请稍后重试。",
});
NotaryI18n.register("en", {
  "matters.title": "Notarial matters: the complete notice",
  "matters.intro": "Everything each matter needs — materials, conditions, steps, time and fee — told at once. Materials marked “checked via shared data” are verified by the office through government data; those marked “commitment allowed” can be replaced by a signed commitment.",
  "matters.search": "Find a matter",
  "matters.fee": "Base fee",
  "matters.days": "Time to complete",
  "matters.remote": "Remote video",
  "matters.secret": "This file is secret: only the notary in charge and the applicant may see it.",
  "matters.materials": "Materials",
  "matters.conditions": "Conditions",
  "matters.steps": "Steps",
  "matters.apply": "Apply online",
  "matters.yes": "Available",
  "matters.no": "In person only",
  "matters.daysValue": "within {n} working days",
  "matters.optional": " (if it applies)",
  "mode.upload": "upload",
  "mode.shared_data": "checked via shared data",
  "mode.commitment": "commitment allowed",
  "matters.loading": "Loading…",
  "matters.failed": "Could not load; please try again later.",
});

const catalogBox = document.getElementById("catalog");
const noticeBox = document.getElementById("notice");
const status = document.getElementById("message");
let chosen = new URLSearchParams(location.search).get("matter");
let catalog = [];

function money(cents) {
  return new Intl.NumberFormat(NotaryI18n.lang, { style: "currency", currency: "CNY" }).format(cents / 100);
}

function item(text, ...children) {
  const li = document.createElement("li");
  li.append(text, ...children);
  return li;
}

function badge(mode) {
  const span = document.createElement("span");
  span.className = `badge ${mode}`;
  span.textContent = NotaryI18n.t(`mode.${mode}`);
  return span;
}

function renderCatalog() {
  const query = document.getElementById("search").value.trim().toLowerCase();
  const groups = new Map();
  for (const matter of catalog) {
    if (query && !matter.name.toLowerCase().includes(query)) continue;
    if (!groups.has(matter.category.code)) groups.set(matter.category.code, { name: matter.category.name, items: [] });
    groups.get(matter.category.code).items.push(matter);
  }
  catalogBox.replaceChildren();
  for (const group of groups.values()) {
    const section = document.createElement("section");
    section.className = "category";
    const title = document.createElement("h2");
    title.textContent = group.name;
    const list = document.createElement("ul");
    list.className = "matter-list";
    for (const matter of group.items) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = matter.name;
      button.dataset.code = matter.code;
      button.addEventListener("click", () => show(matter.code));
      list.append(item(button));
    }
    section.append(title, list);
    catalogBox.append(section);
  }
}

function renderNotice(matter) {
  document.getElementById("notice-name").textContent = matter.name;
  document.getElementById("notice-fee").textContent = money(matter.fee.base_cents);
  document.getElementById("notice-days").textContent = NotaryI18n.t("matters.daysValue").replace("{n}", matter.expected_days);
  document.getElementById("notice-remote").textContent = NotaryI18n.t(matter.remote_allowed ? "matters.yes" : "matters.no");
  document.getElementById("notice-secret").hidden = !matter.secret;
  document.getElementById("notice-materials").replaceChildren(
    ...matter.materials.map((m) => item(m.name + (m.optional ? NotaryI18n.t("matters.optional") : ""), badge(m.mode))),
  );
  document.getElementById("notice-conditions").replaceChildren(...matter.conditions.map((c) => item(c)));
  document.getElementById("notice-steps").replaceChildren(...matter.steps.map((s) => item(s)));
  document.getElementById("apply-link").href = `/static/apply.html?matter=${encodeURIComponent(matter.code)}`;
  noticeBox.hidden = false;
}

async function show(code) {
  chosen = code;
  history.replaceState(null, "", `?matter=${encodeURIComponent(code)}`);
  const response = await fetch(`/api/matters/${encodeURIComponent(code)}?lang=${NotaryI18n.lang}`);
  if (!response.ok) { status.textContent = NotaryI18n.t("matters.failed"); return; }
  renderNotice((await response.json()).matter);
  noticeBox.scrollIntoView({ behavior: "smooth", block: "start" });
}

async function load() {
  status.textContent = NotaryI18n.t("matters.loading");
  try {
    const response = await fetch(`/api/matters?lang=${NotaryI18n.lang}`);
    if (!response.ok) throw new Error(String(response.status));
    catalog = (await response.json()).matters;
    status.textContent = "";
    renderCatalog();
    if (chosen) await show(chosen);
  } catch (_error) {
    status.textContent = NotaryI18n.t("matters.failed");
  }
}

document.getElementById("search").addEventListener("input", renderCatalog);
document.addEventListener("notarylink:lang", () => { if (catalog.length) load(); });
NotaryI18n.apply();
load();
