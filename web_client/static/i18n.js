// Bilingual pages: every element with data-i18n="key" gets its text from MESSAGES.
// The language comes from ?lang=, then localStorage, then the browser; a switch changes it.
"use strict";

const NotaryI18n = (() => {
  const SUPPORTED = ["zh-CN", "en"];
  const catalogs = {};

  function pick() {
    const fromUrl = new URLSearchParams(location.search).get("lang");
    if (SUPPORTED.includes(fromUrl)) return fromUrl;
    const saved = localStorage.getItem("notarylink.lang");
    if (SUPPORTED.includes(saved)) return saved;
    const browser = (navigator.languages || [navigator.language || "en"]).map(String);
    return browser.some((l) => l.toLowerCase().startsWith("zh")) ? "zh-CN" : "en";
  }

  let lang = pick();

  function t(key) {
    const catalog = catalogs[lang] || {};
    return catalog[key] ?? (catalogs.en || {})[key] ?? key;
  }

  function apply(root = document) {
    document.documentElement.lang = lang;
    root.querySelectorAll("[data-i18n]").forEach((el) => {
      el.textContent = t(el.dataset.i18n);
    });
    root.querySelectorAll("[data-lang-switch]").forEach((el) => {
      el.setAttribute("aria-pressed", String(el.dataset.langSwitch === lang));
    });
    // The tab's title follows the page's heading, in the same language.
    const heading = document.querySelector("h1[data-i18n], h1 > [data-i18n]");
    if (heading) {
      const name = t(heading.dataset.i18n);
      document.title = name.includes("NotaryLink") ? name : `${name} · NotaryLink`;
    }
    document.dispatchEvent(new CustomEvent("notarylink:lang", { detail: lang }));
  }

  function use(next) {
    if (!SUPPORTED.includes(next)) return;
    lang = next;
    localStorage.setItem("notarylink.lang", lang);
    apply();
  }

  function register(language, messages) {
    catalogs[language] = Object.assign(catalogs[language] || {}, messages);
  }

  document.addEventListener("click", (event) => {
    const target = event.target.closest("[data-lang-switch]");
    if (target) use(target.dataset.langSwitch);
  });

  return { t, apply, use, register, get lang() { return lang; } };
})();
