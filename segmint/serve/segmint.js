/* segmint.js: show the page blocks meant for this visitor's segments.
 *
 *   <script src="https://segments.example.com/v1/segmint.js" data-segmint-token="TOKEN"
 *           data-segmint-visitor="12345" async></script>
 *
 * The visitor id comes from data-segmint-visitor (on the script tag or <html>), else from
 * the cookie named by data-segmint-cookie (default "segmint_id"). Blocks marked
 * data-segmint-show="champions big_spenders lifecycle=active" stay hidden unless the visitor
 * has one of those segments (or segmentation labels); a block marked data-segmint-default is
 * shown when no block of its slot (data-segmint-slot, else its parent element) was shown.
 * Without a visitor id, or when the service cannot be reached, defaults are shown.
 * When done, <html> gets the class "segmint-ready" and a "segmint:ready" event is dispatched
 * on document with {segments, labels} (or {error}) as its detail.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var doc = document.documentElement;

  function attr(name) {
    return (script && script.getAttribute(name)) || doc.getAttribute(name) || "";
  }

  var style = document.createElement("style");
  style.textContent =
    "[data-segmint-show]:not([data-segmint-on]){display:none!important}" +
    "[data-segmint-default][data-segmint-off]{display:none!important}";
  (document.head || doc).appendChild(style);

  function cookie(name) {
    var parts = document.cookie ? document.cookie.split(";") : [];
    for (var i = 0; i < parts.length; i++) {
      var pair = parts[i].replace(/^\s+/, "");
      if (pair.indexOf(name + "=") === 0) {
        return decodeURIComponent(pair.slice(name.length + 1));
      }
    }
    return "";
  }

  function endpoint() {
    var given = attr("data-segmint-endpoint");
    if (given) return given.replace(/\/+$/, "");
    var src = script ? script.src : "";
    return src.replace(/\/v1\/segmint\.js(?:[?#].*)?$/, "");
  }

  function slotOf(element) {
    var named = element.getAttribute("data-segmint-slot");
    return named ? "name:" + named : element.parentNode;
  }

  function apply(have) {
    var shownSlots = [];
    var shows = document.querySelectorAll("[data-segmint-show]");
    for (var i = 0; i < shows.length; i++) {
      var wanted = shows[i].getAttribute("data-segmint-show").split(/[\s,]+/);
      var on = false;
      for (var j = 0; j < wanted.length; j++) {
        if (wanted[j] && have[wanted[j]] === true) on = true;
      }
      if (on) {
        shows[i].setAttribute("data-segmint-on", "");
        shownSlots.push(slotOf(shows[i]));
      } else {
        shows[i].removeAttribute("data-segmint-on");
      }
    }
    var defaults = document.querySelectorAll("[data-segmint-default]");
    for (var k = 0; k < defaults.length; k++) {
      if (shownSlots.indexOf(slotOf(defaults[k])) >= 0) {
        defaults[k].setAttribute("data-segmint-off", "");
      } else {
        defaults[k].removeAttribute("data-segmint-off");
      }
    }
  }

  function finish(detail) {
    doc.className += (doc.className ? " " : "") + "segmint-ready";
    var event;
    try {
      event = new CustomEvent("segmint:ready", { detail: detail });
    } catch (e) {
      event = document.createEvent("CustomEvent");
      event.initCustomEvent("segmint:ready", false, false, detail);
    }
    document.dispatchEvent(event);
  }

  function whenReady(callback) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", callback);
    } else {
      callback();
    }
  }

  var visitor = attr("data-segmint-visitor") || cookie(attr("data-segmint-cookie") || "segmint_id");
  if (!visitor) {
    whenReady(function () { apply({}); finish({ error: "no visitor id" }); });
    return;
  }
  var headers = { Accept: "application/json" };
  var token = attr("data-segmint-token");
  if (token) headers.Authorization = "Bearer " + token;
  var url = endpoint() + "/v1/visitors/" + encodeURIComponent(visitor) + "/segments";

  fetch(url, { headers: headers, credentials: "omit" })
    .then(function (response) {
      if (!response.ok) throw new Error("segmint: HTTP " + response.status);
      return response.json();
    })
    .then(function (answer) {
      var have = {};
      var segments = answer.segments || [];
      var labels = answer.labels || {};
      for (var i = 0; i < segments.length; i++) have[segments[i]] = true;
      for (var name in labels) {
        if (Object.prototype.hasOwnProperty.call(labels, name)) {
          have[name + "=" + labels[name]] = true;
        }
      }
      whenReady(function () {
        apply(have);
        finish({ segments: segments, labels: labels });
      });
    })
    .catch(function (error) {
      whenReady(function () { apply({}); finish({ error: String(error) }); });
    });
})();
