// planledger: the in-browser check of the verifiable log. It checks what
// the page shows, with nothing but WebCrypto and the verifier key the
// reader pastes, and asks no server for anything:
//
//   - the signed checkpoint, a C2SP tlog-checkpoint signed note, as
//     golang.org/x/mod/sumdb/note's Open checks it: a signature line
//     "— <name> <base64(4-byte key hash || 64-byte Ed25519 signature)>"
//     whose name and key hash are the pasted key's, over the note's text,
//     and the checkpoint's origin (first line) is the key's name;
//   - on a record's page, the record's inclusion proof, as
//     golang.org/x/mod/sumdb/tlog's CheckRecord (RFC 6962, RFC 9162
//     2.1.3.2): the leaf hash SHA-256(0x00 || line), walked up the proof
//     with SHA-256(0x01 || left || right) to the root, which must be the
//     checkpoint's.
//
// WebCrypto exists only in a secure context (HTTPS or localhost); without
// it the page says so and points to `planledger check-proof`.
"use strict";

const planledgerVerify = (() => {
  const utf8 = new TextEncoder();

  // Failure is a check that does not hold: kind is the verdict (ok,
  // key, signature, origin, checkpoint, tree, unsupported, error), phrase
  // the page's words for it, vars what they name.
  class Failure extends Error {
    constructor(kind, phrase, vars) {
      super(phrase);
      this.kind = kind;
      this.phrase = phrase;
      this.vars = vars || {};
    }
  }

  // b64 decodes standard base64 with padding, as Go's
  // base64.StdEncoding does; null if it is not.
  function b64(s) {
    if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s)) {
      return null;
    }
    return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  }

  function toB64(bytes) {
    return btoa(String.fromCharCode(...bytes));
  }

  // cut is Go's strings.Cut.
  function cut(s, sep) {
    const i = s.indexOf(sep);
    return i < 0 ? [s, "", false] : [s.slice(0, i), s.slice(i + sep.length), true];
  }

  async function sha256(...parts) {
    const buf = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      buf.set(p, at);
      at += p.length;
    }
    return new Uint8Array(await crypto.subtle.digest("SHA-256", buf));
  }

  const leafHash = (line) => sha256(Uint8Array.of(0), line);
  const nodeHash = (left, right) => sha256(Uint8Array.of(1), left, right);

  function same(a, b) {
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }

  // maxpow2 is the largest power of two less than n (n > 1), as tlog's.
  function maxpow2(n) {
    let k = 1;
    while (k * 2 < n) {
      k *= 2;
    }
    return k;
  }

  // runProof is tlog's runRecordProof: the hash of the subtree of leaves
  // [lo, hi) that proof p implies for leaf n of hash leaf, the proof's
  // last hash being the top one; null if p has too many or too few.
  async function runProof(p, lo, hi, n, leaf) {
    if (lo + 1 === hi) {
      return p.length === 0 ? leaf : null;
    }
    if (p.length === 0) {
      return null;
    }
    const k = maxpow2(hi - lo);
    const top = p[p.length - 1];
    const rest = p.slice(0, -1);
    if (n < lo + k) {
      const left = await runProof(rest, lo, lo + k, n, leaf);
      return left && nodeHash(left, top);
    }
    const right = await runProof(rest, lo + k, hi, n, leaf);
    return right && nodeHash(top, right);
  }

  // recordRoot is the root of the tree of size that proof (32-byte
  // hashes) implies for line (bytes) at leaf index; null if the proof
  // cannot be run.
  async function recordRoot(proof, size, index, line) {
    if (!Number.isSafeInteger(size) || !Number.isSafeInteger(index) || index < 0 || index >= size ||
        proof.some((h) => !h || h.length !== 32)) {
      return null;
    }
    return runProof(proof, 0, size, index, await leafHash(line));
  }

  // validName is note's isValidName: not empty, well-formed, without
  // Go's unicode.IsSpace characters or "+".
  function validName(name) {
    return name !== "" && name.isWellFormed() &&
      !/[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000+]/.test(name);
  }

  async function keyHash(name, key) {
    const h = await sha256(utf8.encode(name + "\n"), key);
    return ((h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]) >>> 0;
  }

  // parseVerifier reads a note verifier key, "<name>+<hash>+<base64>", as
  // note.NewVerifier does: 8 hex digits of key hash, and an Ed25519 key
  // (0x01 then 32 bytes) whose hash with the name is that.
  async function parseVerifier(vkey) {
    const [name, rest] = cut(vkey.trim(), "+");
    const [hash16, key64] = cut(rest, "+");
    const key = b64(key64);
    if (!/^[0-9a-fA-F]{8}$/.test(hash16) || !key || key.length === 0 || !validName(name)) {
      throw new Failure("key", "key");
    }
    const hash = parseInt(hash16, 16);
    if ((await keyHash(name, key)) !== hash || key[0] !== 1 || key.length !== 33) {
      throw new Failure("key", "key");
    }
    return { name, hash, publicKey: key.slice(1) };
  }

  // parseNote splits a signed note into its text and signatures, as
  // note.Open does before it checks any.
  function parseNote(msg) {
    const bad = () => new Failure("checkpoint", "checkpoint");
    if (/[\u0000-\u0009\u000b-\u001f]/.test(msg) || !msg.isWellFormed()) {
      throw bad();
    }
    const split = msg.lastIndexOf("\n\n");
    if (split < 0) {
      throw bad();
    }
    const text = msg.slice(0, split + 1);
    const block = msg.slice(split + 2);
    if (block === "" || !block.endsWith("\n")) {
      throw bad();
    }
    const sigs = block.slice(0, -1).split("\n").map((line) => {
      if (!line.startsWith("\u2014 ")) {
        throw bad();
      }
      const [name, enc] = cut(line.slice(2), " ");
      const sig = b64(enc);
      if (!sig || enc === "" || sig.length < 5 || !validName(name)) {
        throw bad();
      }
      return { name, hash: ((sig[0] << 24) | (sig[1] << 16) | (sig[2] << 8) | sig[3]) >>> 0, sig: sig.slice(4) };
    });
    if (sigs.length > 100) {
      throw bad();
    }
    return { text, sigs };
  }

  // parseCheckpoint reads a checkpoint's text as the ledger's
  // logtree.parseCheckpoint does: origin, decimal size, base64 root.
  function parseCheckpoint(text) {
    const lines = text.split("\n");
    const root = lines.length >= 4 ? b64(lines[2]) : null;
    if (lines.length < 4 || lines[0] === "" || !/^(?:0|[1-9][0-9]*)$/.test(lines[1]) ||
        !Number.isSafeInteger(Number(lines[1])) || !root || root.length !== 32) {
      throw new Failure("checkpoint", "checkpoint");
    }
    return { origin: lines[0], size: Number(lines[1]), root };
  }

  // openCheckpoint checks a signed checkpoint against a verifier key
  // (text): signed by it, and of the log it names.
  async function openCheckpoint(signed, vkey) {
    const v = await parseVerifier(vkey);
    const note = parseNote(signed);
    const mine = note.sigs.find((s) => s.name === v.name && s.hash === v.hash);
    if (!mine) {
      throw new Failure("signature", "nosig", { detail: note.sigs.map((s) => s.name).join(", ") });
    }
    let key;
    try {
      key = await crypto.subtle.importKey("raw", v.publicKey, { name: "Ed25519" }, false, ["verify"]);
    } catch (e) {
      if (e.name === "NotSupportedError") {
        throw new Failure("unsupported", "unsupported");
      }
      throw new Failure("key", "key");
    }
    if (!(await crypto.subtle.verify({ name: "Ed25519" }, key, mine.sig, utf8.encode(note.text)))) {
      throw new Failure("signature", "badsig");
    }
    const c = parseCheckpoint(note.text);
    if (c.origin !== v.name) {
      throw new Failure("origin", "origin", { detail: c.origin, log: v.name });
    }
    return c;
  }

  // checkRecord checks that line (text) is leaf index of the tree of the
  // signed checkpoint, by proof (base64 hashes), against a verifier key.
  async function checkRecord(line, index, proof, signed, vkey) {
    const c = await openCheckpoint(signed, vkey);
    const vars = { index, seq: index + 1, size: c.size, log: c.origin };
    const root = await recordRoot(proof.map(b64), c.size, index, utf8.encode(line));
    if (!root || !same(root, c.root)) {
      throw new Failure("tree", "tree", vars);
    }
    return vars;
  }

  // The page: #keycheck is the form, shown once the script runs; on a
  // record's page #proof-line, #proof-index and #proof-hashes are the
  // proof, #checkpoint-note the signed checkpoint. What is checked is what
  // is shown: change the line and the check says so.
  function phrase(name, vars) {
    const el = document.querySelector(`#check-phrases [data-phrase="${name}"]`);
    return el.textContent.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  }

  async function check() {
    const signed = document.getElementById("checkpoint-note").textContent;
    const vkey = document.getElementById("verifier-key").value;
    const line = document.getElementById("proof-line");
    if (!line) {
      const c = await openCheckpoint(signed, vkey);
      return { size: c.size, log: c.origin };
    }
    const index = Number(document.getElementById("proof-index").textContent.trim());
    const proof = [...document.querySelectorAll("#proof-hashes li")].map((li) => li.textContent.trim());
    return checkRecord(line.value, index, proof, signed, vkey);
  }

  function show(verdict, kind, text) {
    verdict.dataset.result = kind;
    verdict.className = "verdict" + (kind === "ok" ? " good" : kind === "running" || kind === "" ? "" : " bad");
    verdict.textContent = text;
  }

  function wire() {
    const box = document.getElementById("keycheck");
    if (!box) {
      return;
    }
    document.getElementById("check-nojs").hidden = true;
    if (!window.isSecureContext || !window.crypto || !window.crypto.subtle) {
      document.getElementById("check-insecure").hidden = false;
      return;
    }
    const form = document.getElementById("check-form");
    const verdict = document.getElementById("verdict");
    form.hidden = false;
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      show(verdict, "running", phrase("running", {}));
      try {
        show(verdict, "ok", phrase("ok", await check()));
      } catch (e) {
        const f = e instanceof Failure ? e : new Failure("error", "error", { detail: String(e) });
        show(verdict, f.kind, phrase(f.phrase, f.vars));
      }
    });
    // A verdict speaks of what was checked: any change clears it.
    for (const el of [document.getElementById("proof-line"), document.getElementById("verifier-key")]) {
      if (el) {
        el.addEventListener("input", () => show(verdict, "", ""));
      }
    }
  }

  wire();
  // The checks, for the tests (tests/site_proof_browser_test.go) and for a
  // reader's console.
  return { b64, toB64, recordRoot, openCheckpoint, checkRecord, parseVerifier };
})();
