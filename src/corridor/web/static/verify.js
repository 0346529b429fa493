// Checks a transaction's inclusion proof in the reader's own browser, exactly as the
// ledger builds it, so nobody has to take the platform's word for it:
//   header hash = SHA-256("corridor:header:v1" || header encoding)     (ledger/block.py)
//   tx id       = SHA-256("corridor:tx:v1" || unsigned body)            (ledger/tx.py)
//   leaf item   = SHA-256("corridor:txleaf:v1" || signed encoding)      (ledger/block.py)
//   RFC 6962 tree: leaf = SHA-256(0x00 || item), node = SHA-256(0x01 || l || r), checked
//   with the RFC 9162 section 2.1.3.2 algorithm                        (ledger/merkle.py)
// Integers in the encodings are big-endian; a signed transaction is its body, a u16
// signature count and that many 32-byte keys with 64-byte signatures.
// SHA-256 is WebCrypto's (a secure context: HTTPS, or http://127.0.0.1 in development).
// No inline script: the proof and the messages come in data attributes of [data-proof].
"use strict";
(function () {
  var PATH_LEN_MAX = 64, SIGNATURES_MAX = 20, SIG_ENTRY = 32 + 64, HASH = 32;
  var ADDRESS_LEN = 20, HEADER_TAIL = 5 * HASH + ADDRESS_LEN;  // roots, set hash, proposer
  var text = new TextEncoder();

  function Bad(reason) { this.reason = reason; }

  function unhex(s) {
    if (typeof s !== "string" || !/^(?:[0-9a-fA-F]{2})*$/.test(s)) { throw new Bad("malformed"); }
    var out = new Uint8Array(s.length / 2);
    for (var i = 0; i < out.length; i++) { out[i] = parseInt(s.substr(2 * i, 2), 16); }
    return out;
  }

  function concat(parts) {
    var n = 0, i;
    for (i = 0; i < parts.length; i++) { n += parts[i].length; }
    var out = new Uint8Array(n), at = 0;
    for (i = 0; i < parts.length; i++) { out.set(parts[i], at); at += parts[i].length; }
    return out;
  }

  function same(a, b) {
    if (a.length !== b.length) { return false; }
    var diff = 0;
    for (var i = 0; i < a.length; i++) { diff |= a[i] ^ b[i]; }
    return diff === 0;
  }

  async function sha256(parts) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", concat(parts)));
  }

  function u16(b, at) { return b[at] * 256 + b[at + 1]; }
  function u32(b, at) { return ((b[at] * 256 + b[at + 1]) * 256 + b[at + 2]) * 256 + b[at + 3]; }
  function u64text(b, at) {  // exact beyond 2**53: as decimal text
    var v = BigInt(0);
    for (var i = 0; i < 8; i++) { v = v * BigInt(256) + BigInt(b[at + i]); }
    return v.toString();
  }

  // BlockHeader.encode: text chain_id, u64 height, u64 time_ms, previous hash, last commit
  // hash, u32 tx_count, tx root, result root, evidence root, state root, validator set
  // hash, proposer address.
  function readHeader(b) {
    if (b.length < 2) { throw new Bad("malformed"); }
    var at = 2 + u16(b, 0);
    var countAt = at + 8 + 8 + HASH + HASH;
    if (b.length !== countAt + 4 + HEADER_TAIL) { throw new Bad("malformed"); }
    return { height: u64text(b, at), count: u32(b, countAt),
             root: b.slice(countAt + 4, countAt + 4 + HASH) };
  }

  // The transaction's id from its signed encoding: the body is what precedes the
  // signatures (the u16 count n, then n entries); the id must match the one shown.
  async function hasId(tx, txId) {
    for (var n = 1; n <= SIGNATURES_MAX; n++) {
      var at = tx.length - 2 - n * SIG_ENTRY;
      if (at < 0) { break; }
      if (u16(tx, at) === n &&
          same(await sha256([text.encode("corridor:tx:v1"), tx.subarray(0, at)]), txId)) {
        return true;
      }
    }
    return false;
  }

  // RFC 9162 section 2.1.3.2 (ledger/merkle.py verify_inclusion).
  async function included(root, item, index, size, path) {
    if (!(index >= 0 && index < size) || path.length > PATH_LEN_MAX) { return false; }
    var fn = index, sn = size - 1;
    var node = await sha256([new Uint8Array([0]), item]);
    for (var i = 0; i < path.length; i++) {
      if (path[i].length !== HASH || sn === 0) { return false; }
      if (fn % 2 === 1 || fn === sn) {
        node = await sha256([new Uint8Array([1]), path[i], node]);
        if (fn % 2 === 0) {  // a right-most node carried up: skip the levels it skipped
          while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
        }
      } else {
        node = await sha256([new Uint8Array([1]), node, path[i]]);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    return sn === 0 && same(node, root);
  }

  // Resolves to {ok, count} or throws Bad(reason).
  async function check(d) {
    var header = unhex(d.header), headerHash = unhex(d.headerHash);
    var tx = unhex(d.tx), txId = unhex(d.txId);
    var path = d.path ? d.path.split(" ").map(unhex) : [];
    var index = /^\d+$/.test(d.index) ? Number(d.index) : -1;
    if (headerHash.length !== HASH || txId.length !== HASH || index < 0) { throw new Bad("malformed"); }
    var h = readHeader(header);
    if (!same(await sha256([text.encode("corridor:header:v1"), header]), headerHash)) {
      throw new Bad("header");
    }
    if (h.height !== d.height) { throw new Bad("height"); }
    if (!(await hasId(tx, txId))) { throw new Bad("txid"); }
    var item = await sha256([text.encode("corridor:txleaf:v1"), tx]);
    if (!(await included(h.root, item, index, h.count, path))) { throw new Bad("path"); }
    return { index: index + 1, count: h.count, height: h.height };
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, k) { return String(values[k]); });
  }

  function show(box, ok, message) {
    var out = box.querySelector(".proof-result");
    out.textContent = message;
    out.className = "proof-result " + (ok ? "ok" : "error");
    box.setAttribute("data-verified", ok ? "true" : "false");
  }

  async function run(box) {
    var d = box.dataset;
    if (!(window.crypto && crypto.subtle)) {
      show(box, false, fill(d.bad, { reason: d.rNocrypto }));
      return;
    }
    try {
      var r = await check(d);
      show(box, true, fill(d.ok, r));
    } catch (e) {
      var reason = e instanceof Bad ? e.reason : "malformed";
      var key = "r" + reason.charAt(0).toUpperCase() + reason.slice(1);
      show(box, false, fill(d.bad, { reason: d[key] || d.rMalformed }));
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-proof]").forEach(function (box) {
      var button = box.querySelector("[data-verify]");
      if (!button) { return; }
      button.hidden = false;
      button.addEventListener("click", function () { run(box); });
    });
  });
})();
