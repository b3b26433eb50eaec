// The session page's part of the interview record: once the notary closes it, the applicant and
// the site officer read the full text, draw their signature and confirm. The confirmation names
// the SHA-256 of the text they were shown, so a record changed meanwhile is refused, not signed.
// The site officer also attests that they checked the applicant's passport in person.
"use strict";

import { t } from "./call-ui.js";

NotaryI18n.register("zh-CN", {
  "sign.title": "确认询问笔录",
  "sign.intro": "请仔细阅读以下笔录。内容无误的，请在下方签名并确认；有误的，请告诉公证员，由其修改后再请您确认。",
  "sign.pad": "签名区",
  "sign.pad_hint": "请用鼠标、手指或触控笔在框内签名。",
  "sign.clear": "重写",
  "sign.attest": "我已当面核验当事人的护照原件，与本人相符。",
  "sign.note": "备注（可不填）",
  "sign.confirm": "签名确认",
  "sign.sending": "正在提交…",
  "sign.confirmed": "您已签名确认本笔录，谢谢。",
  "sign.reopened": "公证员重新打开了笔录进行修改，修改后会再请您确认。",
  "sign.need_drawing": "请先在签名区签名。",
  "sign.need_attest": "请先勾选护照核验声明。",
  "error.bad_signature": "签名图片无效或为空，请重新签名。",
  "error.text_changed": "笔录已被修改，请重新阅读后再确认。",
  "error.already_confirmed": "您已确认过本笔录。",
  "error.attestation_missing": "现场人员需声明已当面核验护照。",
});
NotaryI18n.register("en", {
  "sign.title": "Confirm the interview record",
  "sign.intro": "Please read the record below. If it is right, sign below and confirm; if something is wrong, tell the notary, who will correct it and ask you again.",
  "sign.pad": "Signature pad",
  "sign.pad_hint": "Sign inside the box with a mouse, a finger or a pen.",
  "sign.clear": "Clear",
  "sign.attest": "I checked the applicant's passport in person; it is theirs.",
  "sign.note": "Note (optional)",
  "sign.confirm": "Sign and confirm",
  "sign.sending": "Sending…",
  "sign.confirmed": "You have signed and confirmed this record. Thank you.",
  "sign.reopened": "The notary reopened the record to correct it and will ask you again.",
  "sign.need_drawing": "Please sign in the box first.",
  "sign.need_attest": "Please tick the passport statement first.",
  "error.bad_signature": "The signature image is empty or invalid; please sign again.",
  "error.text_changed": "The record has changed; please read it again and confirm.",
  "error.already_confirmed": "You have confirmed this record already.",
  "error.attestation_missing": "The site officer attests the in-person passport check.",
});

export class RecordSign {
  constructor(call, root) {
    this.call = call;
    this.root = root;
    this.text = null; // {text, text_sha256, role}
    this.strokes = 0;
    this.state = "none"; // none | reading | sending | confirmed | reopened
    const $ = (name) => root.querySelector(`[data-sign="${name}"]`);
    this.$ = $;
    this.canvas = $("pad");
    this.setupPad();
    $("clear").addEventListener("click", () => this.clear());
    $("confirm").addEventListener("click", () => this.confirm());
    call.addEventListener("message", ({ detail: { message } }) => this.on(message));
    document.addEventListener("notarylink:lang", () => this.render());
  }

  on(message) {
    switch (message.type) {
      case "record_text":
        this.text = message;
        this.state = message.confirmed ? "confirmed" : "reading";
        this.clear();
        break;
      case "record_confirmed":
        this.state = "confirmed";
        break;
      case "record_reopened":
        this.state = "reopened";
        break;
      case "error":
        if (this.state === "sending") this.state = "reading"; // the banner says why
        break;
      default:
        return;
    }
    this.render();
  }

  setupPad() {
    const pad = this.canvas;
    const ctx = pad.getContext("2d");
    let drawing = false;
    const point = (event) => {
      const box = pad.getBoundingClientRect();
      return [((event.clientX - box.left) * pad.width) / box.width, ((event.clientY - box.top) * pad.height) / box.height];
    };
    pad.addEventListener("pointerdown", (event) => {
      drawing = true;
      pad.setPointerCapture(event.pointerId);
      ctx.lineWidth = 3;
      ctx.lineCap = "round";
      ctx.lineJoin = "round";
      ctx.strokeStyle = "#1b2733";
      ctx.beginPath();
      ctx.moveTo(...point(event));
    });
    pad.addEventListener("pointermove", (event) => {
      if (!drawing) return;
      ctx.lineTo(...point(event));
      ctx.stroke();
    });
    const stop = () => {
      if (drawing) {
        this.strokes += 1;
        this.$("status").textContent = ""; // "please sign first" no longer applies
      }
      drawing = false;
      this.render();
    };
    pad.addEventListener("pointerup", stop);
    pad.addEventListener("pointercancel", stop);
  }

  clear() {
    this.canvas.getContext("2d").clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.strokes = 0;
    this.render();
  }

  confirm() {
    const $ = this.$;
    if (!this.text || this.state !== "reading") return;
    if (this.strokes === 0) {
      $("status").textContent = t("sign.need_drawing");
      return;
    }
    const officer = this.text.role === "site_officer";
    if (officer && !$("attest").checked) {
      $("status").textContent = t("sign.need_attest");
      return;
    }
    const message = {
      type: "record_confirm",
      text_sha256: this.text.text_sha256,
      signature: this.canvas.toDataURL("image/png"),
    };
    if (officer) {
      message.passport_checked = true;
      const note = $("note").value.trim();
      if (note) message.note = note;
    }
    if (this.call.send(message)) this.state = "sending";
    this.render();
  }

  render() {
    const $ = this.$;
    this.root.hidden = this.state === "none";
    if (!this.text) return;
    $("text").textContent = this.text.text;
    const officer = this.text.role === "site_officer";
    $("officer").hidden = !officer;
    const reading = this.state === "reading";
    $("form").hidden = !(reading || this.state === "sending");
    $("confirm").disabled = !reading;
    $("confirm").textContent = t(this.state === "sending" ? "sign.sending" : "sign.confirm");
    const status = { confirmed: "sign.confirmed", reopened: "sign.reopened" }[this.state];
    $("status").dataset.state = this.state;
    if (status) $("status").textContent = t(status);
    else if (this.state !== "reading") $("status").textContent = "";
  }
}
