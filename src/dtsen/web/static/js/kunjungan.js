// The home-visit form, offline first. The form is sent with fetch(); when there is no signal (the
// browser says offline, or the request fails on the network) the form's text and photos are kept in
// IndexedDB under its idempotency key and sent again, with the same key, on the `online` event and on
// every load of a visit page. The server moves a case once per key, so a form sent twice (the answer
// was lost, two tabs flushed together) is harmless. Without JavaScript or IndexedDB the form posts
// normally. No inline script: the page's CSP forbids it; every message comes from data-* attributes.
(function () {
  "use strict";

  var DB_NAME = "dtsen-kunjungan", STORE = "kiriman";
  var form = document.getElementById("form-kunjungan");
  var statusBox = document.getElementById("kunjungan-status");

  function say(text, level) {
    if (!statusBox) { return; }
    statusBox.hidden = false;
    var p = document.createElement("p");
    p.className = "notice notice-" + (level || "info");
    p.textContent = text;
    statusBox.innerHTML = "";
    statusBox.appendChild(p);
  }

  function message(name, fallback) {
    return (form && form.getAttribute("data-pesan-" + name)) || fallback;
  }

  function openDb() {
    return new Promise(function (resolve, reject) {
      if (!window.indexedDB) { reject(new Error("no indexedDB")); return; }
      var request = window.indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = function () { request.result.createObjectStore(STORE, { keyPath: "kunci" }); };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function withStore(mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode), result;
        tx.oncomplete = function () { db.close(); resolve(result); };
        tx.onerror = tx.onabort = function () { db.close(); reject(tx.error); };
        var request = work(tx.objectStore(STORE));
        if (request) { request.onsuccess = function () { result = request.result; }; }
      });
    });
  }

  // The form as plain data IndexedDB can hold: text fields as pairs, photos as Blobs with their names.
  function snapshot(theForm) {
    var data = new FormData(theForm), fields = [], files = [];
    data.forEach(function (value, name) {
      if (typeof value === "string") { fields.push([name, value]); }
      else if (value && value.size) { files.push([name, value.slice(0, value.size, value.type), value.name]); }
    });
    return { kunci: data.get("kunci"), url: theForm.action, fields: fields, files: files, disimpan: Date.now() };
  }

  function rebuild(record) {
    var data = new FormData();
    record.fields.forEach(function (pair) { data.append(pair[0], pair[1]); });
    record.files.forEach(function (item) { data.append(item[0], item[1], item[2]); });
    return data;
  }

  function send(record) {
    return fetch(record.url, {
      method: "POST", body: rebuild(record), credentials: "same-origin",
      headers: { "accept": "application/json" }
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        return { ok: response.ok, status: response.status, body: body };
      });
    });
  }

  function keep(record) {
    return withStore("readwrite", function (store) { return store.put(record); }).then(function () {
      say(message("tersimpan", "Tersimpan di perangkat, akan dikirim saat ada sinyal."), "warn");
    });
  }

  function refusal(answer) {
    var text = message("gagal", "Kiriman ditolak:") + " " + (answer.body.detail || answer.status);
    (answer.body.errors || []).forEach(function (item) { text += " " + item.message; });
    return text;
  }

  // Send every kept form; a form the server took (2xx) is deleted, one it refused stays, with the reason
  // shown (a lost session needs a new login, not a lost visit).
  var flushing = false;
  function flush() {
    if (flushing || !navigator.onLine) { return; }
    flushing = true;
    withStore("readonly", function (store) { return store.getAll(); }).then(function (records) {
      var chain = Promise.resolve();
      (records || []).forEach(function (record) {
        chain = chain.then(function () {
          return send(record).then(function (answer) {
            if (answer.ok) {
              say(message("antrean", "Kiriman tersimpan di perangkat berhasil dikirim."), "ok");
              return withStore("readwrite", function (store) { return store.delete(record.kunci); });
            }
            say(refusal(answer), "error");
          }, function () { /* still no signal: try again on the next `online` */ });
        });
      });
      return chain;
    }).catch(function () {}).then(function () { flushing = false; });
  }

  function done(answer) {
    say((answer.body && answer.body.pesan) || message("terkirim", "Hasil kunjungan terkirim."), "ok");
    if (form) { form.hidden = true; }
  }

  if (form && window.fetch && window.FormData && window.indexedDB && window.Promise) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var record = snapshot(form);
      var button = form.querySelector("button[type=submit]");
      if (!navigator.onLine) {
        keep(record).then(function () { form.hidden = true; });
        return;
      }
      if (button) { button.disabled = true; }
      say(message("mengirim", "Mengirim..."), "info");
      send(record).then(function (answer) {
        if (button) { button.disabled = false; }
        if (answer.ok) { done(answer); } else { say(refusal(answer), "error"); }
      }, function () {  // a network error: keep it for later
        if (button) { button.disabled = false; }
        keep(record).then(function () { form.hidden = true; });
      });
    });
  }

  var locate = document.getElementById("ambil-lokasi");
  if (locate && navigator.geolocation) {
    locate.hidden = false;
    locate.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(function (position) {
        document.getElementById("lat").value = position.coords.latitude.toFixed(6);
        document.getElementById("lon").value = position.coords.longitude.toFixed(6);
        document.getElementById("akurasi").value = String(Math.round(position.coords.accuracy || 0));
      }, function () {
        say(message("gps", "Lokasi tidak dapat dibaca."), "warn");
      }, { enableHighAccuracy: true, timeout: 30000, maximumAge: 60000 });
    });
  }

  if (window.indexedDB && window.fetch) {
    window.addEventListener("online", flush);
    flush();
  }
})();
