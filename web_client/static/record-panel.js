// The console's interview record (询问笔录): question/answer entries with their recording time
// codes, edits as new versions, the delivery method, the paper-original promise (consulate
// cases), closing the record for confirmation and who has confirmed it. The server keeps the
// record; this panel shows the `record` summary it sends after every change.
"use strict";

import { el, t } from "./call-ui.js";

NotaryI18n.register("zh-CN", {
  "record.title": "询问笔录",
  "record.question": "问",
  "record.answer": "答",
  "record.question_label": "问题",
  "record.answer_label": "回答",
  "record.save": "记入笔录",
  "record.save_edit": "保存修改",
  "record.cancel_edit": "取消修改",
  "record.edit": "修改",
  "record.editing": "正在修改第 {n} 条（修改另存为新版本，原稿保留在证据链中）",
  "record.version": "第 {v} 稿",
  "record.before_recording": "录像开始前",
  "record.empty": "尚无记录。",
  "record.delivery": "证书送达方式",
  "record.delivery.none": "请选择",
  "record.delivery.post": "邮寄",
  "record.delivery.electronic": "电子送达",
  "record.delivery.pickup": "到公证处领取",
  "record.paper": "纸质原件（领事案件）",
  "record.mission": "经由的使领馆",
  "record.expected": "预计寄出日期",
  "record.paper_save": "记录承诺",
  "record.paper_saved": "已记录：经 {mission} 寄送，预计 {date} 寄出。",
  "record.close": "结束笔录并请当事人确认",
  "record.reopen": "重新打开笔录",
  "record.state.open": "笔录编写中。",
  "record.state.closed": "笔录已定稿，等待确认。",
  "record.state.confirmed": "全部确认完毕。",
  "record.confirmers": "确认情况",
  "record.confirmed": "已签名确认",
  "record.waiting": "待确认",
  "record.passport_checked": "已当面核验护照",
  "error.record_closed": "笔录已定稿；如需修改请先重新打开。",
  "error.record_open": "笔录尚未定稿。",
  "error.empty": "请至少记录一条问答后再定稿。",
  "error.delivery_missing": "请先选择证书送达方式。",
  "error.paper_original_missing": "领事案件：请先记录寄送纸质原件的承诺。",
  "error.not_consulate": "只有领事案件需要寄送纸质原件。",
  "error.not_recording": "请先开始会话（开始录像）后再定稿笔录。",
  "error.too_many": "条目过多。",
  "error.unknown_entry": "没有这一条记录。",
});
NotaryI18n.register("en", {
  "record.title": "Interview record",
  "record.question": "Q",
  "record.answer": "A",
  "record.question_label": "Question",
  "record.answer_label": "Answer",
  "record.save": "Add to the record",
  "record.save_edit": "Save the change",
  "record.cancel_edit": "Cancel",
  "record.edit": "Edit",
  "record.editing": "Editing entry {n} (saved as a new version; the earlier one stays in the evidence chain)",
  "record.version": "version {v}",
  "record.before_recording": "before the recording",
  "record.empty": "Nothing recorded yet.",
  "record.delivery": "Certificate delivery",
  "record.delivery.none": "Choose",
  "record.delivery.post": "By post",
  "record.delivery.electronic": "Electronically",
  "record.delivery.pickup": "Picked up at the office",
  "record.paper": "Paper original (consulate case)",
  "record.mission": "Through the mission",
  "record.expected": "Expected posting date",
  "record.paper_save": "Record the promise",
  "record.paper_saved": "Recorded: through {mission}, to be posted on {date}.",
  "record.close": "Close the record and ask for confirmation",
  "record.reopen": "Reopen the record",
  "record.state.open": "The record is being written.",
  "record.state.closed": "The record is fixed; waiting for confirmation.",
  "record.state.confirmed": "Everyone has confirmed.",
  "record.confirmers": "Confirmations",
  "record.confirmed": "Signed and confirmed",
  "record.waiting": "Waiting",
  "record.passport_checked": "passport checked in person",
  "error.record_closed": "The record is fixed; reopen it to change it.",
  "error.record_open": "The record is not fixed yet.",
  "error.empty": "Write at least one entry before closing the record.",
  "error.delivery_missing": "Choose how the certificate will be delivered first.",
  "error.paper_original_missing": "Consulate case: record the promise to post the paper original first.",
  "error.not_consulate": "Only consulate cases promise a paper original.",
  "error.not_recording": "Start the session (and its recording) before closing the record.",
  "error.too_many": "Too many entries.",
  "error.unknown_entry": "There is no such entry.",
});

export function formatTimeCode(seconds) {
  if (seconds == null) return null;
  const whole = Math.floor(seconds);
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(Math.floor(whole / 3600))}:${pad(Math.floor((whole % 3600) / 60))}:${pad(whole % 60)}`;
}

export class RecordPanel {
  constructor(call, root, onFail) {
    this.call = call;
    this.root = root;
    this.onFail = onFail; // the socket is gone: the console's own alert
    this.record = null;
    this.editing = null; // the entry number being edited
    const $ = (name) => root.querySelector(`[data-record="${name}"]`);
    this.$ = $;
    $("form").addEventListener("submit", (event) => {
      event.preventDefault();
      const form = new FormData(event.target);
      const message = { type: "record_entry", question: form.get("question"), answer: form.get("answer") };
      if (this.editing != null) message.entry = this.editing;
      if (this.send(message)) {
        event.target.reset();
        this.editing = null;
        this.render();
        $("question").focus();
      }
    });
    $("cancel").addEventListener("click", () => {
      this.editing = null;
      $("form").reset();
      this.render();
    });
    $("delivery").addEventListener("change", (event) => {
      if (event.target.value) this.send({ type: "record_delivery", method: event.target.value });
    });
    $("paper").addEventListener("submit", (event) => {
      event.preventDefault();
      const form = new FormData(event.target);
      this.send({ type: "record_paper_original", mission: form.get("mission"), expected_posting: form.get("expected") });
    });
    $("close").addEventListener("click", () => this.send({ type: "record_close" }));
    $("reopen").addEventListener("click", () => this.send({ type: "record_reopen" }));
    call.addEventListener("message", ({ detail: { message } }) => {
      if (message.type === "record") {
        this.record = message.record;
        this.render();
      }
    });
    document.addEventListener("notarylink:lang", () => this.render());
    this.render();
  }

  send(message) {
    const sent = this.call.send(message);
    if (!sent && this.onFail) this.onFail();
    return sent;
  }

  edit(entry) {
    this.editing = entry.entry;
    this.$("question").value = entry.question;
    this.$("answer").value = entry.answer;
    this.render();
    this.$("question").focus();
  }

  confirmers() {
    return [...this.call.participants.values()].filter((p) => p.role === "applicant" || p.role === "site_officer");
  }

  render() {
    const record = this.record || { state: "open", entries: [], confirmations: [], delivery: null, paper_original: null };
    const open = record.state === "open";
    const $ = this.$;
    $("entries").replaceChildren(
      ...record.entries.map((entry) => {
        const code = formatTimeCode(entry.time_code) || t("record.before_recording");
        const head = el("div", { class: "record-head" }, el("strong", { text: `${entry.entry}.` }), " ", el("span", { class: "meta", "data-time-code": "", text: code }));
        if (entry.version > 1) head.append(" ", el("span", { class: "badge", text: t("record.version", { v: entry.version }) }));
        if (open) head.append(" ", el("button", { type: "button", class: "small-button", text: t("record.edit"), onclick: () => this.edit(entry) }));
        return el(
          "li",
          { "data-entry": entry.entry, "data-version": entry.version },
          head,
          el("p", {}, el("span", { class: "meta", text: `${t("record.question")}: ` }), entry.question),
          el("p", {}, el("span", { class: "meta", text: `${t("record.answer")}: ` }), entry.answer),
        );
      }),
    );
    $("empty").hidden = record.entries.length > 0;
    for (const name of ["question", "answer", "save", "delivery"]) $(name).disabled = !open;
    $("save").textContent = t(this.editing != null ? "record.save_edit" : "record.save");
    $("cancel").hidden = this.editing == null;
    $("editing").hidden = this.editing == null;
    $("editing").textContent = this.editing != null ? t("record.editing", { n: this.editing }) : "";
    if (record.delivery && $("delivery").value !== record.delivery) $("delivery").value = record.delivery;
    const consulate = record.consulate || this.confirmers().some((p) => p.role === "site_officer");
    $("paper").hidden = !consulate;
    for (const input of $("paper").querySelectorAll("input, button")) input.disabled = !open;
    $("paper-state").textContent = record.paper_original
      ? t("record.paper_saved", { mission: record.paper_original.mission, date: record.paper_original.expected_posting })
      : "";
    $("close").hidden = !open;
    $("reopen").hidden = open;
    const confirmed = new Map(record.confirmations.map((c) => [c.participant, c]));
    const people = this.confirmers();
    $("confirmers").replaceChildren(
      ...people.map((p) => {
        const done = confirmed.get(p.id);
        const label = done ? t("record.confirmed") : t("record.waiting");
        const extra = done && done.passport_checked ? ` · ${t("record.passport_checked")}` : "";
        return el(
          "li",
          { "data-participant": p.id, "data-confirmed": done ? "true" : "false" },
          el("strong", { text: p.name }),
          ` ${t(`role.${p.role}`)} · `,
          el("span", { class: done ? "badge admitted" : "badge", text: label }),
          extra,
        );
      }),
    );
    const all = !open && people.length > 0 && people.every((p) => confirmed.has(p.id));
    const state = open ? "open" : all ? "confirmed" : "closed";
    $("state").dataset.state = state;
    $("state").textContent = t(`record.state.${state}`);
  }
}
