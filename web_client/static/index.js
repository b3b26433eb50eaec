"use strict";

NotaryI18n.register("zh-CN", {
  title: "NotaryLink 远程视频公证",
  intro: "公证处与当事人通过视频远程办理公证：在线申请、一次性告知、视频询问、身份核验，全程录像作为可验证的电子证据。",
  "card.apply": "在线申请",
  "card.apply.text": "查看办理事项所需的全部材料，在线提交，最多跑一次。",
  "card.session": "视频询问",
  "card.session.text": "当事人、公证员与驻外使领馆或服务点人员同在一个视频会话中。",
  "card.verify": "公证书核验",
  "card.verify.text": "法院、登记机关等用证部门可在线核验公证书真伪。",
  "status.title": "系统状态",
  "status.database": "数据库",
  "status.object_store": "证据存储",
  "status.ok": "正常",
  "status.error": "异常",
  api: "接口说明（OpenAPI）",
  staff: "公证员工作台：登录并发起视频询问",
  matters: "全部公证事项与一次性告知",
  review: "材料预审与案件分配（公证员、管理员）",
  "pages.title": "全部页面",
  "pages.applicants": "当事人",
  "pages.office": "公证处",
  "pages.everyone": "用证单位",
  "page.matters": "公证事项与一次性告知",
  "page.apply": "在线申请公证、上传材料",
  "page.book": "预约视频面谈",
  "page.myCase": "我的公证事项：进度、送达、评价与投诉",
  "page.hours": "面谈时间安排（公证员、管理员）",
  "page.aftercare": "审批与送达（公证员、管理员）",
  "page.supervise": "监督管理：统计、投诉、双随机抽查（监督人员）",
  "page.verify": "公证书核验",
  footer: "NotaryLink 开源远程公证平台",
});
NotaryI18n.register("en", {
  title: "NotaryLink remote notarization",
  intro: "A notary office and applicants complete notarizations over video: online application, one complete notice, video interview, identity checks, and the whole session recorded as verifiable evidence.",
  "card.apply": "Apply online",
  "card.apply.text": "See every material a matter needs, hand it in online, visit at most once.",
  "card.session": "Video interview",
  "card.session.text": "Applicant, notary and a consular or service-point officer in one video session.",
  "card.verify": "Verify a certificate",
  "card.verify.text": "Courts, registries and other departments check a certificate online.",
  "status.title": "System status",
  "status.database": "Database",
  "status.object_store": "Evidence store",
  "status.ok": "OK",
  "status.error": "Error",
  api: "API description (OpenAPI)",
  staff: "Notary desk: log in and start a video interview",
  matters: "Every matter and its complete notice",
  review: "Pre-review and case assignment (notaries, admins)",
  "pages.title": "All pages",
  "pages.applicants": "Applicants",
  "pages.office": "The notary office",
  "pages.everyone": "Courts, registries and others",
  "page.matters": "Notarial matters and their complete notice",
  "page.apply": "Apply and hand in materials",
  "page.book": "Book your video interview",
  "page.myCase": "My notarization: progress, delivery, rating and complaints",
  "page.hours": "Interview hours (notaries, admins)",
  "page.aftercare": "Decisions and delivery (notaries, admins)",
  "page.supervise": "Supervision: statistics, complaints, random checks (supervisors)",
  "page.verify": "Verify a notarial certificate",
  footer: "NotaryLink, an open-source remote notarization platform",
});

let lastChecks = null;

function showStatus() {
  if (!lastChecks) return;
  for (const [name, result] of Object.entries(lastChecks)) {
    const el = document.getElementById(`status-${name}`);
    if (!el) continue;
    el.className = `status ${result.status}`;
    el.textContent = NotaryI18n.t(`status.${result.status}`);
    el.title = result.reason || "";
  }
}

async function refreshStatus() {
  try {
    const response = await fetch("/readyz", { cache: "no-store" });
    lastChecks = (await response.json()).checks;
  } catch (error) {
    lastChecks = { database: { status: "error", reason: String(error) },
                   object_store: { status: "error", reason: String(error) } };
  }
  showStatus();
}

document.addEventListener("notarylink:lang", showStatus);
NotaryI18n.apply();
refreshStatus();
setInterval(refreshStatus, 15000);
