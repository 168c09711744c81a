/* Photo uploads with per-file progress and thumbnails.
 *
 * Progressive enhancement of the upload form (<form data-upload>): without this script the
 * form posts all chosen files at once and the page reloads. With it, files chosen in the picker
 * or dropped on the form are sent one by one with XMLHttpRequest (which reports upload progress),
 * each with a local preview; after each file the photo list is told to refresh
 * ("photos-uploaded" on <body>, which the htmx-driven list listens for).
 */
(function () {
  "use strict";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function init(form) {
    var input = form.querySelector('input[type="file"]');
    var list = form.parentNode.querySelector("[data-uploads]");
    var dropzone = form.querySelector("[data-dropzone]") || form;
    var hint = form.querySelector("[data-drop-hint]");
    var eventName = form.getAttribute("data-list-event") || "photos-uploaded";
    var csrf = form.querySelector('input[name="csrfmiddlewaretoken"]');
    var queue = [];
    var busy = false;
    if (!input || !list || !window.XMLHttpRequest || !window.FormData) return;
    if (hint) hint.hidden = false;

    function row(file) {
      var item = el("li", "upload-item");
      if (/^image\/(jpeg|png|webp)$/.test(file.type) && window.URL) {
        var img = el("img");
        img.alt = "";
        img.src = URL.createObjectURL(file);
        img.onload = function () { URL.revokeObjectURL(img.src); };
        img.onerror = function () { img.replaceWith(el("div", "placeholder")); };
        item.appendChild(img);
      } else {
        item.appendChild(el("div", "placeholder"));
      }
      item.appendChild(el("span", "name", file.name));
      var bar = el("progress", "progress");
      bar.max = 100;
      bar.value = 0;
      item.appendChild(bar);
      var status = el("span", "status", "Waiting…");
      item.appendChild(status);
      list.appendChild(item);
      return { item: item, bar: bar, status: status };
    }

    function finish(entry, ok, message, photoId) {
      entry.bar.value = 100;
      if (photoId) entry.item.setAttribute("data-photo", photoId);
      entry.status.textContent = message;
      entry.item.classList.add(ok ? "done" : "failed");
      document.body.dispatchEvent(new CustomEvent(eventName, { bubbles: true }));
      busy = false;
      next();
    }

    function send(job) {
      var data = new FormData();
      if (csrf) data.append("csrfmiddlewaretoken", csrf.value);
      data.append("photos", job.file, job.file.name);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action || window.location.href);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
      xhr.upload.onprogress = function (event) {
        if (event.lengthComputable) {
          job.entry.bar.value = Math.round((event.loaded / event.total) * 100);
          job.entry.status.textContent = "Uploading…";
        }
      };
      xhr.onload = function () {
        var body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
        if (xhr.status >= 200 && xhr.status < 300 && body && body.photos && body.photos.length) {
          finish(job.entry, true, "Uploaded — checking…", body.photos[0]);
        } else if (body && body.refused && body.refused.length) {
          finish(job.entry, false, body.refused[0].message);
        } else if (xhr.status === 413) {
          finish(job.entry, false, "This file is too large to upload.");
        } else {
          finish(job.entry, false, "The upload did not work. Please try again.");
        }
      };
      xhr.onerror = function () {
        finish(job.entry, false, "The connection was lost. Please try this photo again.");
      };
      xhr.send(data);
    }

    function next() {
      if (busy || !queue.length) return;
      busy = true;
      send(queue.shift());
    }

    function add(files) {
      for (var i = 0; i < files.length; i++) {
        queue.push({ file: files[i], entry: row(files[i]) });
      }
      next();
    }

    form.addEventListener("submit", function (event) {
      if (!input.files || !input.files.length) return;
      event.preventDefault();
      add(input.files);
      input.value = "";
    });
    input.addEventListener("change", function () {
      if (input.files && input.files.length) {
        add(input.files);
        input.value = "";
      }
    });
    ["dragenter", "dragover"].forEach(function (name) {
      dropzone.addEventListener(name, function (event) {
        event.preventDefault();
        dropzone.classList.add("dragging");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      dropzone.addEventListener(name, function (event) {
        event.preventDefault();
        dropzone.classList.remove("dragging");
      });
    });
    dropzone.addEventListener("drop", function (event) {
      if (event.dataTransfer && event.dataTransfer.files.length) add(event.dataTransfer.files);
    });
  }

  // Once a photo's verdict is in the list below, its upload row has done its job.
  function tidy() {
    var rows = document.querySelectorAll(".upload-item[data-photo]");
    for (var i = 0; i < rows.length; i++) {
      var id = rows[i].getAttribute("data-photo");
      var photo = document.getElementById("photo-" + id);
      if (photo && !photo.classList.contains("pending")) rows[i].remove();
    }
  }

  function start() {
    document.body.addEventListener("htmx:afterSettle", tidy);
    var forms = document.querySelectorAll("form[data-upload]");
    for (var i = 0; i < forms.length; i++) init(forms[i]);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
