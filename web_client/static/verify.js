"use strict";
// Public verification of a certificate (公证书): number and verification code, or the PDF
// itself. The QR code on a certificate opens this page with both in the fragment (#n=…&c=…),
// which the browser never sends to a server.

NotaryI18n.register("zh-CN", {
  "verify.title": "公证书核验",
  "verify.intro": "法院、登记机关等用证单位可在此核验本平台出具的电子公证书。核验结果只显示公证书上载明的事项、日期和公证处，不显示个人信息。",
  "verify.byCode": "按编号和验证码核验",
  "verify.number": "公证书编号",
  "verify.code": "验证码",
  "verify.check": "核验",
  "verify.byFile": "上传公证书文件核验",
  "verify.fileHelp": "上传收到的PDF文件，核验其未被篡改且带有公证处的有效电子签名。",
  "verify.file": "PDF文件",
  "verify.checkFile": "上传并核验",
  "verify.busy": "正在核验，请稍候…",
  "verify.uploading": "正在上传：",
  "verify.result": "核验结果",
  "verify.genuine": "真实有效",
  "verify.notGenuine": "未通过核验",
  "verify.matter": "公证事项",
  "verify.issuedOn": "出具日期",
  "verify.office": "公证处",
  "reason.genuine": "该公证书由本平台出具，内容未被改动。",
  "reason.no_match": "编号与验证码不匹配。请核对后重试；多次失败请联系出具公证书的公证处。",
  "reason.altered": "该文件与出具的公证书不一致，或电子签名已失效：文件可能被改动过。",
  "reason.unknown": "该文件不是本平台出具的公证书。",
  "reason.unsigned": "该文件没有电子签名，无法确认为本平台出具的公证书。",
  "reason.not_pdf": "该文件不是PDF文件。",
  "error.rate_limited": "核验次数过多，请稍后再试。",
  "error.payload_too_large": "文件过大，不是本平台出具的公证书。",
  "error.generic": "核验失败：",
});
NotaryI18n.register("en", {
  "verify.title": "Verify a notarial certificate",
  "verify.intro": "Courts, registries and other users of a certificate can check here a certificate issued on this platform. The result shows only the matter, the date and the office printed on it, no personal data.",
  "verify.byCode": "Check by number and verification code",
  "verify.number": "Certificate number",
  "verify.code": "Verification code",
  "verify.check": "Check",
  "verify.byFile": "Check the certificate file",
  "verify.fileHelp": "Upload the PDF you received to check that it is unaltered and carries the office's valid electronic signature.",
  "verify.file": "PDF file",
  "verify.checkFile": "Upload and check",
  "verify.busy": "Checking, please wait…",
  "verify.uploading": "Uploading: ",
  "verify.result": "Result",
  "verify.genuine": "Genuine",
  "verify.notGenuine": "Not verified",
  "verify.matter": "Matter",
  "verify.issuedOn": "Issued on",
  "verify.office": "Notary office",
  "reason.genuine": "This certificate was issued on this platform and has not been changed.",
  "reason.no_match": "The number and the verification code do not match. Check them and try again; if it keeps failing, contact the office that issued the certificate.",
  "reason.altered": "This file differs from the certificate as issued, or its electronic signature is broken: it may have been altered.",
  "reason.unknown": "This file is not a certificate issued on this platform.",
  "reason.unsigned": "This file carries no electronic signature: it cannot be confirmed as a certificate from this platform.",
  "reason.not_pdf": "This file is not a PDF.",
  "error.rate_limited": "Too many checks; please wait a moment.",
  "error.payload_too_large": "The file is too large to be a certificate from this platform.",
  "error.generic": "The check did not work: ",
});

(() => {
  const codeForm = document.getElementById("code-form");
  const fileForm = document.getElementById("file-form");
  const message = document.getElementById("message");
  const progress = document.getElementById("progress");
  const result = document.getElementById("result");
  let last = null; // the last verdict, shown again when the language changes

  function say(key, extra = "") {
    message.textContent = key ? NotaryI18n.t(key) + extra : "";
  }

  function showError(status, body) {
    const code = body && body.error ? body.error.code : "";
    const known = ["rate_limited", "payload_too_large"].includes(code);
    say(known ? `error.${code}` : "error.generic", known ? "" : String(status));
  }

  function show(verdict) {
    last = verdict;
    result.hidden = false;
    const badge = document.getElementById("verdict");
    badge.className = `status ${verdict.genuine ? "ok" : "error"}`;
    badge.textContent = NotaryI18n.t(verdict.genuine ? "verify.genuine" : "verify.notGenuine");
    document.getElementById("reason").textContent = NotaryI18n.t(`reason.${verdict.reason}`);
    const facts = verdict.certificate;
    document.getElementById("facts").hidden = !facts;
    if (!facts) return;
    const lang = NotaryI18n.lang;
    document.getElementById("fact-number").textContent = facts.number;
    document.getElementById("fact-matter").textContent = facts.matter.name[lang] || facts.matter.name.en;
    document.getElementById("fact-date").textContent = facts.issued_on;
    document.getElementById("fact-office").textContent = facts.office[lang] || facts.office.en;
  }

  async function checkCode(number, code) {
    say("verify.busy");
    result.hidden = true;
    try {
      const response = await fetch("/api/certificates/verify", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ number, code }),
      });
      const body = await response.json().catch(() => null);
      if (!response.ok) return showError(response.status, body);
      say("");
      show(body);
    } catch (error) {
      say("error.generic", String(error));
    }
  }

  // XMLHttpRequest rather than fetch: it reports upload progress.
  function checkFile(file) {
    say("verify.busy");
    result.hidden = true;
    progress.hidden = false;
    progress.value = 0;
    const request = new XMLHttpRequest();
    request.open("POST", "/api/certificates/verify");
    request.setRequestHeader("Content-Type", "application/pdf");
    request.upload.onprogress = (event) => {
      if (!event.lengthComputable) return;
      progress.value = Math.round((100 * event.loaded) / event.total);
      say("verify.uploading", `${progress.value}%`);
    };
    request.onload = () => {
      progress.hidden = true;
      let body = null;
      try { body = JSON.parse(request.responseText); } catch (_) { /* not JSON */ }
      if (request.status !== 200) return showError(request.status, body);
      say("");
      show(body);
    };
    request.onerror = () => {
      progress.hidden = true;
      say("error.generic", "network");
    };
    request.send(file);
  }

  codeForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(codeForm);
    checkCode(String(data.get("number")).trim(), String(data.get("code")).trim());
  });

  fileForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const file = fileForm.elements.file.files[0];
    if (file) checkFile(file);
  });

  document.addEventListener("notarylink:lang", () => { if (last) show(last); });
  NotaryI18n.apply();

  // From the certificate's QR code: fill in and check at once, then clear the address bar.
  const fragment = new URLSearchParams(location.hash.slice(1));
  const number = fragment.get("n");
  const code = fragment.get("c");
  if (number && code) {
    codeForm.elements.number.value = number;
    codeForm.elements.code.value = code;
    history.replaceState(null, "", location.pathname + location.search);
    checkCode(number, code);
  }
})();
