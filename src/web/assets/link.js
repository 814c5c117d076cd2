// Short-link landing page: the link's keys are in the URL fragment, which browsers never send to
// the server, so only this script sees them. It shows the link, draws its QR code (qrcode.js,
// loaded before it) and points the "open in app" button at the simplex: URI, as the app expects
// it (the reference's media/contact.js: for a short link the page's host is added as `h=`).
(function () {
  "use strict";
  var qrBox = document.getElementById("qr");
  var linkText = document.getElementById("conn-link");
  var openApp = document.getElementById("open-app");
  var missing = document.getElementById("no-link");
  if (!qrBox || !linkText || !openApp || !missing) return;

  var url = new URL(document.location.href);
  if (url.hash.length <= 1) {
    missing.classList.remove("hidden");
    return;
  }
  var parts = url.pathname.split("/");
  var action = parts[parts.length - (parts[parts.length - 1] === "" ? 2 : 1)];
  url.protocol = "https:";
  url.pathname = "/" + action;
  var connURI = url.toString();
  var hash = url.hash;
  var host = url.hostname;
  var appURI =
    "simplex:" +
    url.pathname +
    (action.length > 1
      ? hash // a full link (/contact, /invitation) names its servers itself
      : hash.indexOf("?") < 0
        ? hash + "?h=" + host
        : hash.indexOf("?h=") < 0 && hash.indexOf("&h=") < 0
          ? hash + "&h=" + host
          : hash.replace(/([?&])h=([^&]+)/, "$1h=" + host + ",$2"));

  linkText.textContent = connURI;
  openApp.setAttribute("href", appURI);
  openApp.classList.remove("hidden");

  var qr;
  try {
    qrcode.stringToBytes = qrcode.stringToBytesFuncs["UTF-8"];
    qr = qrcode(0, "M");
    qr.addData(connURI);
    qr.make();
  } catch (e) {
    qrBox.textContent = "This link is too long for a QR code: open it in the app or copy it.";
    return;
  }
  // One SVG path of unit squares: crisp at any size, no canvas, no markup built from strings.
  var n = qr.getModuleCount();
  var quiet = 4;
  var d = "";
  for (var r = 0; r < n; r++) {
    for (var c = 0; c < n; c++) {
      if (qr.isDark(r, c)) d += "M" + (c + quiet) + " " + (r + quiet) + "h1v1h-1z";
    }
  }
  var ns = "http://www.w3.org/2000/svg";
  var svg = document.createElementNS(ns, "svg");
  var size = n + 2 * quiet;
  svg.setAttribute("viewBox", "0 0 " + size + " " + size);
  svg.setAttribute("width", "320");
  svg.setAttribute("height", "320");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "QR code of this link");
  svg.setAttribute("shape-rendering", "crispEdges");
  var bg = document.createElementNS(ns, "rect");
  bg.setAttribute("width", String(size));
  bg.setAttribute("height", String(size));
  bg.setAttribute("fill", "#ffffff");
  var path = document.createElementNS(ns, "path");
  path.setAttribute("d", d);
  path.setAttribute("fill", "#062d56");
  svg.appendChild(bg);
  svg.appendChild(path);
  qrBox.replaceChildren(svg);
})();
