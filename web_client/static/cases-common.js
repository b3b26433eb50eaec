"use strict";
// Shared by the case pages: the session token of this tab, JSON calls, error messages.

NotaryI18n.register("zh-CN", {
  "state.draft": "草稿",
  "state.submitted": "已提交，待预审",
  "state.returned": "已退回补正",
  "state.accepted": "已受理",
  "state.scheduled": "已预约",
  "state.interviewed": "已询问",
  "state.decided": "已审批",
  "state.certificate_issued": "已出证",
  "state.delivered": "已送达",
  "state.archived": "已归档",
  "mode.upload": "需上传",
  "mode.shared_data": "可共享核验",
  "mode.commitment": "可告知承诺",
  "party.applicant": "申请人",
  "party.agent": "代理人",
  "party.relative": "亲属",
  "party.other": "其他",
  "rel.spouse": "配偶",
  "rel.parent": "父母",
  "rel.child": "子女",
  "rel.sibling": "兄弟姐妹",
  "rel.grandparent": "祖父母、外祖父母",
  "rel.grandchild": "孙子女、外孙子女",
  "rel.in_law": "姻亲",
  "rel.other": "其他",
  "flag.fast_lane": "绿色通道",
  "flag.elderly": "老年人",
  "flag.disabled_applicant": "残疾人",
  "error.generic": "操作失败：",
  "error.network": "网络中断，请重试。",
  "error.invalid_credentials": "账号或密码错误。",
  "error.rate_limited": "尝试次数过多，请稍后再试。",
  "error.weak_password": "密码太简单：至少 10 个字符。",
  "error.too_large": "文件太大（上限 10 MB）。",
  "error.unsupported_type": "只接受 JPEG、PNG 或 PDF 文件。",
  "error.type_mismatch": "文件内容与扩展名不符。",
  "error.archive_refused": "不接受压缩包，请逐页上传。",
  "error.invalid_file_name": "文件名不能包含路径。",
  "error.image_too_large": "图片像素过多，请缩小后上传。",
  "error.malformed_file": "文件已损坏或不完整。",
  "error.compression_bomb": "文件解压后过大，已拒绝。",
  "error.active_content": "PDF 含有脚本或附件，已拒绝。",
  "error.encrypted_pdf": "PDF 已加密，请去除密码后上传。",
  "error.duplicate_material": "同一文件已经上传过。",
  "error.materials_missing": "还有必需材料未提供。",
  "error.notice_items_open": "补正通知中的事项尚未全部补正。",
  "error.notice_not_new": "后续通知只能涉及上次通知后新提交的材料。",
  "error.recusal_conflict": "该公证员须回避。",
  "error.case_locked": "案件已提交，暂不能修改。",
});
NotaryI18n.register("en", {
  "state.draft": "Draft",
  "state.submitted": "Submitted, waiting for pre-review",
  "state.returned": "Returned for corrections",
  "state.accepted": "Accepted",
  "state.scheduled": "Interview booked",
  "state.interviewed": "Interviewed",
  "state.decided": "Decided",
  "state.certificate_issued": "Certificate issued",
  "state.delivered": "Delivered",
  "state.archived": "Archived",
  "mode.upload": "upload",
  "mode.shared_data": "checked via shared data",
  "mode.commitment": "commitment allowed",
  "party.applicant": "Applicant",
  "party.agent": "Agent",
  "party.relative": "Relative",
  "party.other": "Other",
  "rel.spouse": "Spouse",
  "rel.parent": "Parent",
  "rel.child": "Child",
  "rel.sibling": "Sibling",
  "rel.grandparent": "Grandparent",
  "rel.grandchild": "Grandchild",
  "rel.in_law": "In-law",
  "rel.other": "Other",
  "flag.fast_lane": "Fast lane",
  "flag.elderly": "Elderly",
  "flag.disabled_applicant": "Disability",
  "error.generic": "That did not work: ",
  "error.network": "The connection dropped; please try again.",
  "error.invalid_credentials": "The login or the password is wrong.",
  "error.rate_limited": "Too many attempts; please wait a moment.",
  "error.weak_password": "The password is too simple: at least 10 characters.",
  "error.too_large": "The file is too large (10 MB at most).",
  "error.unsupported_type": "Only JPEG, PNG or PDF files are accepted.",
  "error.type_mismatch": "The file's content does not match its extension.",
  "error.archive_refused": "Archives are not accepted; upload each page.",
  "error.invalid_file_name": "A file name may not contain a path.",
  "error.image_too_large": "The image has too many pixels; please make it smaller.",
  "error.malformed_file": "The file is damaged or incomplete.",
  "error.compression_bomb": "The file inflates to too much data and was refused.",
  "error.active_content": "The PDF contains scripts or attachments and was refused.",
  "error.encrypted_pdf": "The PDF is encrypted; upload it without a password.",
  "error.duplicate_material": "This file was uploaded already.",
  "error.materials_missing": "Some required materials are still missing.",
  "error.notice_items_open": "Not every item of the notice has been corrected yet.",
  "error.notice_not_new": "A later notice may only name materials handed in since the last one.",
  "error.recusal_conflict": "This notary must not handle the case.",
  "error.case_locked": "The case is submitted and cannot be changed now.",
});

const NotaryCases = (() => {
  function explain(error) {
    const code = (error && error.code) || "generic";
    const key = `error.${code}`;
    const known = NotaryI18n.t(key);
    return known === key ? NotaryI18n.t("error.generic") + ((error && error.message) || code) : known;
  }

  function session(name) {
    // The token lives in this tab only (sessionStorage), never in a URL.
    const key = `notarylink.${name}Token`;
    return {
      get token() { return sessionStorage.getItem(key); },
      set token(value) { value ? sessionStorage.setItem(key, value) : sessionStorage.removeItem(key); },
    };
  }

  async function call(tokenHolder, method, path, body) {
    const headers = body ? { "Content-Type": "application/json" } : {};
    if (tokenHolder && tokenHolder.token) headers.Authorization = `Bearer ${tokenHolder.token}`;
    let response;
    try {
      response = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
    } catch (_error) {
      throw { code: "network", message: "" };
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw data.error || { code: "generic", message: String(response.status) };
    return data;
  }

  function element(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function badge(text, className) { return element("span", text, `badge ${className}`); }

  function flags(summary) {
    return ["fast_lane", "elderly", "disabled_applicant"]
      .filter((flag) => summary[flag])
      .map((flag) => badge(NotaryI18n.t(`flag.${flag}`), "flag"));
  }

  return { explain, session, call, element, badge, flags };
})();
