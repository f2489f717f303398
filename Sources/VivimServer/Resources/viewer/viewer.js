// VIVIM Share zero-knowledge link viewer (docs/zero-knowledge-links.md).
//
// A link is /s/<code>#<K>: K is the 32-byte AES-256-GCM content key in base64url without
// padding. Browsers never send the fragment to the server; this script reads it once, keeps it
// in memory only, and opens the bundle exactly as docs/bundle-format.md §7 says. It never
// writes data into the page as HTML: everything decrypted is placed with textContent.
"use strict";

(function () {
  // ---- state shown to people (and to the headless test through data-* attributes) --------

  const $ = (id) => document.getElementById(id);
  const body = document.body;

  function setState(state) {
    body.dataset.state = state;
  }

  function showOnly(id) {
    for (const panel of ["status", "password-panel", "error", "content"]) {
      $(panel).hidden = panel !== id;
    }
  }

  function status(text) {
    $("status-text").textContent = text;
    showOnly("status");
  }

  class ViewerError extends Error {
    constructor(message, detail) {
      super(message);
      this.detail = detail || "";
    }
  }

  function fail(error) {
    const known = error instanceof ViewerError;
    $("error-text").textContent = known ? error.message : "Something went wrong while opening this link.";
    $("error-detail").textContent = known ? error.detail : "";
    $("content").replaceChildren(); // never leave anything decrypted behind
    showOnly("error");
    setState("error");
    $("error").focus();
  }

  // ---- encodings --------------------------------------------------------------------------

  const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

  // base64url without padding, strictly (RFC 4648 §5): refuses "=", "+", "/", whitespace and
  // non-canonical trailing bits. Returns null when the text is not canonical.
  function b64urlDecode(text) {
    if (typeof text !== "string" || text.length % 4 === 1) return null;
    const out = new Uint8Array(Math.floor((text.length * 6) / 8));
    let bits = 0, n = 0, j = 0;
    for (let i = 0; i < text.length; i++) {
      const v = B64URL.indexOf(text[i]);
      if (v < 0) return null;
      bits = ((bits << 6) | v) & 0xffffff;
      n += 6;
      if (n >= 8) {
        n -= 8;
        out[j++] = (bits >> n) & 0xff;
      }
    }
    if (bits & ((1 << n) - 1)) return null;
    return out;
  }

  const B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

  function base58Decode(text) {
    const bytes = []; // little-endian big number
    for (const c of text) {
      let carry = B58.indexOf(c);
      if (carry < 0) return null;
      for (let k = 0; k < bytes.length; k++) {
        carry += bytes[k] * 58;
        bytes[k] = carry & 0xff;
        carry >>= 8;
      }
      while (carry > 0) {
        bytes.push(carry & 0xff);
        carry >>= 8;
      }
    }
    let zeros = 0;
    while (zeros < text.length && text[zeros] === "1") zeros++;
    const out = new Uint8Array(zeros + bytes.length);
    for (let k = 0; k < bytes.length; k++) out[out.length - 1 - k] = bytes[k];
    return out;
  }

  // The Ed25519 public key inside did:vivim:z… or did:key:z… (multibase "z" = base58btc,
  // multicodec ed25519-pub = 0xed 0x01, then 32 bytes). null when it is not such a DID.
  function ed25519KeyFromDid(did) {
    let id;
    if (did.startsWith("did:vivim:")) id = did.slice(10);
    else if (did.startsWith("did:key:")) id = did.slice(8);
    else return null;
    if (id.length < 2 || id[0] !== "z") return null;
    const raw = base58Decode(id.slice(1));
    if (!raw || raw.length !== 34 || raw[0] !== 0xed || raw[1] !== 0x01) return null;
    return raw.slice(2);
  }

  function hex(buffer) {
    const bytes = new Uint8Array(buffer);
    let s = "";
    for (let i = 0; i < bytes.length; i++) s += bytes[i].toString(16).padStart(2, "0");
    return s;
  }

  const utf8 = (s) => new TextEncoder().encode(s);

  // ---- the server ---------------------------------------------------------------------------

  const RATE_LIMITED = "Too many attempts from here. Wait a minute and try again.";

  // Calls the JSON API (SPEC §11 envelope). Returns data, or throws ApiError.
  class ApiError extends Error {
    constructor(status, code, message) {
      super(message || code || "HTTP " + status);
      this.status = status;
      this.code = code || "";
    }
  }

  async function api(method, path, payload) {
    const init = {
      method,
      cache: "no-store",
      credentials: "omit",
      redirect: "error",
      referrerPolicy: "no-referrer",
      headers: { Accept: "application/json" },
    };
    if (payload !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(payload);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      throw new ViewerError("The server could not be reached. Check your connection and reload the page.");
    }
    let envelope = null;
    try {
      envelope = await response.json();
    } catch (e) {
      envelope = null;
    }
    if (response.ok && envelope && envelope.success === true && envelope.data && typeof envelope.data === "object") {
      return envelope.data;
    }
    const error = envelope && envelope.success === false && envelope.error ? envelope.error : {};
    throw new ApiError(response.status,
      typeof error.code === "string" ? error.code : "",
      typeof error.message === "string" ? error.message : "");
  }

  function linkError(e) {
    if (e instanceof ViewerError) return e;
    if (!(e instanceof ApiError)) return new ViewerError("Something went wrong while opening this link.");
    const detail = e.message && e.message !== e.code ? "Server: " + e.message : "";
    if (e.code === "NOT_FOUND" || e.status === 404) return new ViewerError("This link does not exist or has been removed.", detail);
    if (e.code === "FORBIDDEN" || e.status === 403) return new ViewerError("This link is no longer available: it has expired, been used up, or been turned off.", detail);
    if (e.code === "RATE_LIMITED" || e.status === 429) return new ViewerError(RATE_LIMITED, detail);
    return new ViewerError("The server could not open this link right now. Try again later.", detail);
  }

  // ---- opening a bundle (docs/bundle-format.md §7) -----------------------------------------

  const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
  const KEY_DOES_NOT_OPEN = "This link's key does not open the content.";
  const KEY_DOES_NOT_OPEN_DETAIL = "Check that you opened the complete link, including everything after “#”. If you did, the link or the content has been changed.";

  // A public Ed25519 key known to be valid (RFC 8032 §7.1, test 1), to tell "this browser has
  // no Ed25519" apart from "the owner's key is bad".
  const PROBE_KEY = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

  async function ed25519Supported() {
    try {
      await crypto.subtle.importKey("raw", b64urlDecode(PROBE_KEY), { name: "Ed25519" }, false, ["verify"]);
      return true;
    } catch (e) {
      return false;
    }
  }

  // Steps 1–3: needs no key; may say which check failed. Returns "verified" or "unsupported".
  async function checkBundle(bundle) {
    const refuse = (what) => {
      throw new ViewerError("The shared content is damaged or has been tampered with, so it is not shown.", what);
    };
    if (!bundle || typeof bundle !== "object") refuse("The server did not send a bundle.");
    if (bundle.version !== 1) refuse("Unsupported bundle version.");
    if (bundle.algorithm !== "AES-256-GCM") refuse("Unsupported algorithm.");
    const nonce = b64urlDecode(bundle.nonce);
    if (!nonce || nonce.length !== 12) refuse("The nonce is not 12 bytes.");
    const ciphertext = b64urlDecode(bundle.ciphertext);
    if (!ciphertext || ciphertext.length < 16) refuse("The ciphertext is malformed.");
    if (typeof bundle.createdAt !== "string" || !RFC3339_UTC.test(bundle.createdAt)) refuse("createdAt is not an RFC 3339 UTC time.");
    const intentId = bundle.intentId;
    if (typeof intentId !== "string" || intentId.length < 1 || intentId.length > 128 || /[|\u0000-\u001f\u007f]/.test(intentId)) refuse("intentId is malformed.");
    const ownerDid = bundle.ownerDid;
    // Bundles carry the canonical did:vivim: form only (bundle-format.md §1).
    if (typeof ownerDid !== "string" || !ownerDid.startsWith("did:vivim:") || ownerDid.includes("|")) refuse("ownerDid is not a did:vivim: DID.");
    const ownerKey = ed25519KeyFromDid(ownerDid);
    if (!ownerKey) refuse("ownerDid does not carry an Ed25519 key.");
    if (typeof bundle.contentId !== "string" || !/^[0-9a-f]{64}$/.test(bundle.contentId)) refuse("contentId is malformed.");
    const signature = b64urlDecode(bundle.signature);
    if (!signature || signature.length !== 64) refuse("The signature is malformed.");

    // 2. contentId == hex(SHA-256(ciphertext))
    if (hex(await crypto.subtle.digest("SHA-256", ciphertext)) !== bundle.contentId) {
      refuse("The content does not match its identifier (contentId).");
    }

    // 3. Ed25519 over vivim/bundle/v1|contentId|intentId|ownerDid|createdAt
    if (!(await ed25519Supported())) return { signature: "unsupported", nonce, ciphertext };
    const message = utf8("vivim/bundle/v1|" + bundle.contentId + "|" + intentId + "|" + ownerDid + "|" + bundle.createdAt);
    let valid = false;
    try {
      let signerKey = ownerKey;
      const delegation = bundle.delegation;
      if (delegation !== undefined && delegation !== null) {
        // bundle-format.md §2.1: the owner's key signed a delegation to the key that signed the bundle.
        const delegateKey = b64urlDecode(delegation.delegateKey);
        const delegationSignature = b64urlDecode(delegation.signature);
        const notAfter = delegation.notAfter;
        if (!delegateKey || delegateKey.length !== 32 || !delegationSignature || delegationSignature.length !== 64 ||
            typeof notAfter !== "string" || !RFC3339_UTC.test(notAfter)) {
          throw new Error("malformed delegation");
        }
        const statement = utf8("vivim/delegation/v1|" + ownerDid + "|" + delegation.delegateKey + "|" + notAfter);
        const owner = await crypto.subtle.importKey("raw", ownerKey, { name: "Ed25519" }, false, ["verify"]);
        if (!(await crypto.subtle.verify({ name: "Ed25519" }, owner, delegationSignature, statement))) throw new Error("bad delegation");
        if (Date.parse(bundle.createdAt) > Date.parse(notAfter)) throw new Error("delegation ended");
        signerKey = delegateKey;
      }
      const key = await crypto.subtle.importKey("raw", signerKey, { name: "Ed25519" }, false, ["verify"]);
      valid = await crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
    } catch (e) {
      valid = false;
    }
    if (!valid) {
      body.dataset.signature = "failed";
      throw new ViewerError("The owner's signature on this content is not valid, so it is not shown.",
        "The content may have been changed after it was shared.");
    }
    return { signature: "verified", nonce, ciphertext };
  }

  // Steps 4–6: every failure is the same error; nothing decrypted is returned on failure.
  async function decryptBundle(bundle, keyBytes, nonce, ciphertext) {
    const refuse = () => { throw new ViewerError(KEY_DOES_NOT_OPEN, KEY_DOES_NOT_OPEN_DETAIL); };
    let plaintext;
    try {
      const key = await crypto.subtle.importKey("raw", keyBytes, { name: "AES-GCM" }, false, ["decrypt"]);
      const aad = utf8("vivim/bundle/v1|" + bundle.intentId + "|" + bundle.ownerDid);
      plaintext = await crypto.subtle.decrypt({ name: "AES-GCM", iv: nonce, additionalData: aad, tagLength: 128 }, key, ciphertext);
    } catch (e) {
      refuse();
    }
    const metadata = bundle.metadata;
    if (!metadata || typeof metadata !== "object") refuse();
    if (plaintext.byteLength !== metadata.size) refuse();
    if (hex(await crypto.subtle.digest("SHA-256", plaintext)) !== metadata.contentHash) refuse();
    let content;
    try {
      content = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(plaintext));
    } catch (e) {
      throw new ViewerError("The content opened but is not a conversation this viewer can show.");
    }
    return content;
  }

  // ---- rendering (textContent only) ---------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  const str = (v) => (typeof v === "string" ? v : typeof v === "number" || typeof v === "boolean" ? String(v) : "");

  function formatDate(value) {
    const text = str(value);
    if (!text) return "";
    const date = new Date(text);
    if (isNaN(date.getTime())) return text;
    try {
      return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
    } catch (e) {
      return date.toISOString();
    }
  }

  const ROLE_NAMES = { user: "User", assistant: "Assistant", system: "System", tool: "Tool" };

  function renderPart(part) {
    if (typeof part === "string") return el("p", "part part-text", part);
    if (!part || typeof part !== "object") return el("p", "part part-unknown", "[unreadable part]");
    switch (part.type) {
      case "text":
        return el("p", "part part-text", str(part.text));
      case "code": {
        const figure = el("figure", "part part-code");
        const language = str(part.language);
        if (language) figure.append(el("figcaption", "code-language", language));
        const pre = el("pre");
        const code = el("code", null, str(part.text));
        if (language) code.setAttribute("data-language", language);
        pre.append(code);
        pre.setAttribute("tabindex", "0");
        figure.append(pre);
        return figure;
      }
      case "image": {
        const url = str(part.url), alt = str(part.alt);
        // Only inline data: images are shown. Fetching any other URL would tell a server which
        // content is being read, so it is listed as text instead.
        if (/^data:image\/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=]+$/.test(url)) {
          const figure = el("figure", "part part-image");
          const img = el("img");
          img.src = url;
          img.alt = alt || "Image";
          figure.append(img);
          if (alt) figure.append(el("figcaption", null, alt));
          return figure;
        }
        const p = el("p", "part part-image-ref");
        p.append(el("span", "part-label", "Image"), document.createTextNode(" " + (alt || "(no description)")));
        if (url) p.append(el("span", "image-url", " — not loaded: " + url));
        return p;
      }
      case "tool_call": {
        const box = el("div", "part part-tool");
        box.append(el("p", "part-label", "Tool call" + (str(part.name) ? ": " + str(part.name) : "")));
        const pre = el("pre", null, str(part.arguments));
        pre.setAttribute("tabindex", "0");
        box.append(pre);
        return box;
      }
      case "tool_result": {
        const box = el("div", "part part-tool");
        box.append(el("p", "part-label", "Tool result" + (str(part.name) ? ": " + str(part.name) : "")));
        const pre = el("pre", null, str(part.content));
        pre.setAttribute("tabindex", "0");
        box.append(pre);
        return box;
      }
      default:
        return el("p", "part part-text", str(part.text) || str(part.content));
    }
  }

  function renderMessage(message, index) {
    const item = el("li", "message");
    if (!message || typeof message !== "object") {
      item.append(el("p", "part part-unknown", "[unreadable message]"));
      return item;
    }
    const role = str(message.role) || "unknown";
    item.classList.add(/^(user|assistant|system|tool)$/.test(role) ? "role-" + role : "role-other");
    const header = el("header", "message-header");
    header.append(el("span", "message-role", ROLE_NAMES[role] || role));
    if (str(message.author)) header.append(el("span", "message-author", str(message.author)));
    if (str(message.createdAt)) {
      const time = el("time", "message-time", formatDate(message.createdAt));
      time.setAttribute("datetime", str(message.createdAt));
      header.append(time);
    }
    item.append(header);
    item.setAttribute("aria-label", "Message " + (index + 1) + " from " + (ROLE_NAMES[role] || role));
    const parts = el("div", "message-body");
    if (Array.isArray(message.content)) {
      for (const part of message.content) parts.append(renderPart(part));
    } else {
      parts.append(renderPart(str(message.content)));
    }
    item.append(parts);
    return item;
  }

  function renderAttribution(value, target) {
    if (value === undefined || value === null || value === false) return false;
    if (typeof value === "string") {
      target.append(el("p", null, value));
      return !!value;
    }
    if (typeof value !== "object") return false;
    const labels = [["author", "Shared by"], ["date", "Date"], ["source", "Source"], ["provider", "Provider"],
      ["model", "Model"], ["customText", null], ["text", null]];
    let any = false;
    const list = el("dl");
    for (const [key, label] of labels) {
      const v = key === "date" ? formatDate(value[key]) : str(value[key]);
      if (!v) continue;
      any = true;
      if (label) {
        list.append(el("dt", null, label), el("dd", null, v));
      } else {
        target.append(el("p", "attribution-text", v));
      }
    }
    if (list.childNodes.length) target.prepend(list);
    return any;
  }

  function renderNotes(value, target) {
    const items = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
    let any = false;
    for (const note of items) {
      const text = typeof note === "object" && note ? str(note.text) || str(note.content) : str(note);
      if (!text) continue;
      any = true;
      target.append(el("p", "note", text));
    }
    return any;
  }

  const POSITIONS = { TOP_LEFT: "top-left", TOP_RIGHT: "top-right", BOTTOM_LEFT: "bottom-left", BOTTOM_RIGHT: "bottom-right", CENTER: "center" };
  const OPACITY_STEPS = 10;

  function renderWatermark(value, target) {
    if (!value) return false;
    const mark = typeof value === "string" ? { text: value } : typeof value === "object" ? value : {};
    let text = str(mark.text) || "VIVIM Share";
    const stamp = str(mark.timestamp);
    if (stamp) text += " · " + formatDate(stamp);
    target.textContent = text;
    const position = POSITIONS[str(mark.position).toUpperCase().replace(/-/g, "_")] || "bottom-right";
    target.classList.add("pos-" + position);
    // The page's CSP forbids inline styles, so opacity is one of eleven classes.
    let opacity = typeof mark.opacity === "number" && isFinite(mark.opacity) ? mark.opacity : 0.3;
    opacity = Math.min(1, Math.max(0, opacity));
    target.classList.add("opacity-" + Math.round(opacity * OPACITY_STEPS));
    target.dataset.opacity = String(opacity);
    target.dataset.position = position;
    return true;
  }

  // Builds the whole view off-document, then swaps it in: either everything or nothing.
  function render(content, bundle, access, signature) {
    if (!content || typeof content !== "object" || !Array.isArray(content.messages)) {
      throw new ViewerError("The content opened but is not a conversation this viewer can show.");
    }
    const article = $("content").cloneNode(true);
    const q = (id) => article.querySelector("#" + id);
    const title = str(content.title) || "Shared conversation";
    q("content-title").textContent = title;
    document.title = title + " · VIVIM Share";

    const sig = q("signature-status");
    if (signature === "verified") {
      sig.textContent = "✓ Signed by its owner; signature verified in this browser.";
      sig.classList.add("sig-verified");
    } else {
      sig.textContent = "⚠ This browser cannot check Ed25519 signatures, so the owner's signature was not verified. The content did decrypt with the link's key and matches its recorded hash.";
      sig.classList.add("sig-unsupported");
    }

    const facts = q("content-facts");
    const addFact = (label, value) => { if (value) facts.append(el("dt", null, label), el("dd", null, value)); };
    addFact("Type", str(content.type));
    addFact("Messages", String(content.messages.length));
    addFact("Shared", formatDate(bundle.createdAt));
    addFact("Owner", bundle.ownerDid);

    const attribution = q("attribution");
    attribution.hidden = !renderAttribution(content.attribution, attribution);
    const notesBody = q("notes-body");
    q("notes").hidden = !renderNotes(content.notes, notesBody);

    const list = q("messages");
    const fragment = document.createDocumentFragment();
    content.messages.forEach((m, i) => fragment.append(renderMessage(m, i)));
    list.append(fragment);

    const watermark = q("watermark");
    watermark.hidden = !renderWatermark(content.watermark, watermark);

    const permissions = access && access.permissions;
    if (permissions && permissions.copy === false) article.classList.add("no-copy");

    article.hidden = false;
    $("content").replaceWith(article);
    for (const panel of ["status", "password-panel", "error"]) $(panel).hidden = true;
    setState("ok");
  }

  // ---- the flow -------------------------------------------------------------------------------

  async function openWithAccess(code, key, info, password) {
    status("Fetching the encrypted content…");
    let access;
    try {
      access = await api("POST", "/api/v1/sharing/links/" + encodeURIComponent(code) + "/access",
        password === undefined ? {} : { password });
    } catch (e) {
      if (password !== undefined && e instanceof ApiError) {
        if (e.code === "FORBIDDEN" || e.status === 403) return "That password is not correct.";
        if (e.code === "RATE_LIMITED" || e.status === 429) return RATE_LIMITED;
        if (e.code === "VALIDATION_ERROR" || e.status === 400) return "Enter the password you were given.";
      }
      throw linkError(e);
    }
    const bundle = access.bundle;
    let keyBytes = key;
    if (!keyBytes) {
      // A link that is not zero-knowledge may have its key published with the content record
      // (SPEC §7.2 public shares, `contentKey`). Zero-knowledge links never do.
      const published = typeof access.contentKey === "string" ? b64urlDecode(access.contentKey) : null;
      if (!published || published.length !== 32 || info.zeroKnowledge === true || access.zeroKnowledge === true) {
        throw new ViewerError("This link is missing its key.", "Open the complete link you were given, including everything after “#”.");
      }
      keyBytes = published;
    }
    status("Checking the owner's signature…");
    const checked = await checkBundle(bundle);
    body.dataset.signature = checked.signature;
    status("Decrypting in this browser…");
    const content = await decryptBundle(bundle, keyBytes, checked.nonce, checked.ciphertext);
    render(content, bundle, access, checked.signature);
    return null;
  }

  function askPassword(code, key, info) {
    showOnly("password-panel");
    setState("password");
    const form = $("password-form");
    const input = $("password");
    const message = $("password-error");
    const button = $("password-submit");
    let attempts = 0;
    body.dataset.attempts = "0";
    input.focus();
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const password = input.value;
      if (!password) {
        message.textContent = "Enter the password you were given.";
        input.setAttribute("aria-invalid", "true");
        return;
      }
      attempts += 1;
      body.dataset.attempts = String(attempts);
      message.textContent = "";
      button.disabled = true;
      setState("checking");
      try {
        const problem = await openWithAccess(code, key, info, password);
        if (problem) {
          message.textContent = problem;
          input.setAttribute("aria-invalid", "true");
          input.value = "";
          showOnly("password-panel");
          setState("password");
          input.focus();
        }
      } catch (e) {
        fail(e);
      } finally {
        button.disabled = false;
      }
    });
  }

  async function main() {
    if (!window.crypto || !crypto.subtle || !window.fetch || !window.TextDecoder) {
      throw new ViewerError("This browser cannot decrypt the content.", "Use a current version of Firefox, Chrome, Edge or Safari over https.");
    }
    const match = /^\/s\/([A-Za-z0-9_-]{1,256})\/?$/.exec(location.pathname);
    if (!match) throw new ViewerError("This is not a share link.");
    const code = match[1];

    // The key: read once, kept in this closure only. The fragment is removed from the address
    // bar and from this history entry, so it does not linger in the browser's history, in
    // synced history, or on a shared screen. Reloading the page therefore needs the full link.
    const fragment = location.hash.startsWith("#") ? location.hash.slice(1) : "";
    if (fragment) {
      history.replaceState(null, "", location.pathname + location.search);
    }
    let key = null;
    if (fragment) {
      key = b64urlDecode(fragment);
      if (!key || key.length !== 32) {
        throw new ViewerError(KEY_DOES_NOT_OPEN, "The part of the link after “#” is not a valid key. Copy the complete link again.");
      }
    }

    status("Looking up the link…");
    let info;
    try {
      info = await api("GET", "/api/v1/sharing/links/" + encodeURIComponent(code));
    } catch (e) {
      throw linkError(e);
    }
    if (!key && info.zeroKnowledge === true) {
      throw new ViewerError("This link is missing its key.", "Open the complete link you were given, including everything after “#”.");
    }
    if (info.requiresPassword === true) {
      askPassword(code, key, info);
      return;
    }
    await openWithAccess(code, key, info, undefined);
  }

  function start() {
    main().catch(fail);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
