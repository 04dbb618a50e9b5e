// Public citizen pages: the offline proof-of-work challenge and the cascading region selects.
// No library, no network but this site. Without JavaScript the forms still work: a sum question
// replaces the proof of work, and a button reloads the page with the next level of regions.
(function () {
  "use strict";

  // --- SHA-256 of an ASCII string (pure JS: crypto.subtle is missing on plain-HTTP village intranets) ---
  var K = new Int32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ]);
  var W = new Int32Array(64);

  var H0 = new Int32Array([0x6a09e667, 0xbb67ae85 | 0, 0x3c6ef372, 0xa54ff53a | 0,
                           0x510e527f, 0x9b05688c | 0, 0x1f83d9ab, 0x5be0cd19]);

  // One 64-byte block `words[offset..offset+16]` folded into `state` (8 words, updated in place).
  function compress(state, words, offset) {
    var a = state[0], b = state[1], c = state[2], d = state[3], e = state[4], f = state[5], g = state[6],
        h = state[7], t, t2, i, x, y;
    for (i = 0; i < 64; i++) {
      if (i < 16) {
        W[i] = words[offset + i];
      } else {
        x = W[i - 15]; y = W[i - 2];
        W[i] = (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) +
               (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)) + W[i - 7] + W[i - 16] | 0;
      }
      t = h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
          ((e & f) ^ (~e & g)) + K[i] + W[i] | 0;
      t2 = (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
           ((a & b) ^ (a & c) ^ (b & c)) | 0;
      h = g; g = f; f = e; e = d + t | 0; d = c; c = b; b = a; a = t + t2 | 0;
    }
    state[0] = state[0] + a | 0; state[1] = state[1] + b | 0; state[2] = state[2] + c | 0;
    state[3] = state[3] + d | 0; state[4] = state[4] + e | 0; state[5] = state[5] + f | 0;
    state[6] = state[6] + g | 0; state[7] = state[7] + h | 0;
  }

  // A hasher for `prefix + suffix` (ASCII): the prefix's whole 64-byte blocks are hashed once (the
  // "midstate"), so each nonce costs only the last block or two. Returns the digest's first two words.
  function prefixHasher(prefix) {
    var full = prefix.length - (prefix.length % 64), mid = new Int32Array(H0), i, block = new Int32Array(16);
    for (var start = 0; start < full; start += 64) {
      block.fill(0);
      for (i = 0; i < 64; i++) block[i >> 2] |= prefix.charCodeAt(start + i) << (24 - (i & 3) * 8);
      compress(mid, block, 0);
    }
    var rest = prefix.slice(full), state = new Int32Array(8);
    return function (suffix) {
      var text = rest + suffix, length = text.length, total = full + length;
      var blocks = ((length + 8) >> 6) + 1, words = new Int32Array(blocks * 16);
      for (i = 0; i < length; i++) words[i >> 2] |= text.charCodeAt(i) << (24 - (i & 3) * 8);
      words[length >> 2] |= 0x80 << (24 - (length & 3) * 8);
      words[blocks * 16 - 1] = total * 8;
      state.set(mid);
      for (var offset = 0; offset < blocks * 16; offset += 16) compress(state, words, offset);
      return [state[0], state[1]];
    };
  }

  function zeroBits(head) {
    if (head[0] !== 0) return Math.clz32(head[0]);
    return 32 + Math.clz32(head[1]);
  }

  function setupChallenge(form) {
    var token = form.querySelector("[data-tantangan-token]");
    var bits = form.querySelector("[data-tantangan-bit]");
    var nonce = form.querySelector("[data-tantangan-nonce]");
    var status = form.querySelector("[data-tantangan-status]");
    if (!token || !bits || !nonce) return;
    var hash = prefixHasher(token.value + ":"), need = parseInt(bits.value, 10), counter = 0;
    var done = false, waiting = false;

    function work() {
      var stop = counter + 4000;
      for (; counter < stop; counter++) {
        if (zeroBits(hash(String(counter))) >= need) {
          nonce.value = String(counter);
          done = true;
          if (waiting) {
            status.hidden = true;
            form.submit();
          }
          return;
        }
      }
      setTimeout(work, 0);
    }

    form.addEventListener("submit", function (event) {
      if (done || event.submitter && event.submitter.hasAttribute("formnovalidate")) return;
      event.preventDefault();
      waiting = true;
      if (status) {
        status.hidden = false;
        status.textContent = document.documentElement.lang === "en"
          ? "Running a security check, one moment…"
          : "Sedang menjalankan pemeriksaan keamanan, sebentar…";
      }
    });
    setTimeout(work, 0);
  }

  // --- cascading region selects -----------------------------------------------------------------
  var ORDER = ["prov", "kab", "kec", "desa"];

  function setupRegions(fieldset) {
    var selects = {};
    ORDER.forEach(function (level) {
      selects[level] = fieldset.querySelector('[data-wilayah-level="' + level + '"]');
    });
    var reload = fieldset.querySelector("[data-wilayah-reload]");
    if (reload) reload.hidden = true;

    function clearBelow(level) {
      for (var i = ORDER.indexOf(level) + 1; i < ORDER.length; i++) {
        var select = selects[ORDER[i]];
        while (select.options.length > 1) select.remove(1);
        select.value = "";
      }
    }

    ORDER.slice(0, 3).forEach(function (level, index) {
      selects[level].addEventListener("change", function () {
        clearBelow(level);
        var code = selects[level].value, next = selects[ORDER[index + 1]];
        if (!code) return;
        next.setAttribute("aria-busy", "true");
        fetch("/wilayah?induk=" + encodeURIComponent(code), { headers: { Accept: "application/json" } })
          .then(function (response) { return response.ok ? response.json() : []; })
          .then(function (rows) {
            rows.forEach(function (row) {
              var option = document.createElement("option");
              option.value = row.kode;
              option.textContent = row.nama;
              next.appendChild(option);
            });
          })
          .catch(function () { if (reload) reload.hidden = false; })
          .then(function () { next.removeAttribute("aria-busy"); });
      });
    });
  }

  document.querySelectorAll("form[data-tantangan]").forEach(setupChallenge);
  document.querySelectorAll("[data-wilayah]").forEach(setupRegions);
  var summary = document.getElementById("ringkasan-galat");
  if (summary) summary.focus();
})();
