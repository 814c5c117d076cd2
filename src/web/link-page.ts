/**
 * The landing page of links the apps build with this server's host name (`https://<host>/a#…`;
 * SMPWeb.hs:smpLinkPages). The same page under each path; what it says depends on the path, what
 * it shows (the link, its QR code, the app button) comes from the fragment, read by media/link.js.
 */
import { APP_LINKS, page } from "./layout.ts";

/** Path → what kind of link it is (Agent/Protocol.hs ContactConnType letters, plus the legacy full links). */
export const LINK_PAGES: Readonly<Record<string, { title: string; what: string }>> = {
  a: { title: "SimpleX contact address", what: "someone's SimpleX contact address" },
  c: { title: "SimpleX channel", what: "a link to a SimpleX channel" },
  g: { title: "SimpleX group", what: "a link to join a SimpleX group" },
  r: { title: "SimpleX relay", what: "a link to a SimpleX chat relay" },
  i: { title: "SimpleX one-time invitation", what: "a one-time invitation to connect on SimpleX" },
  contact: { title: "SimpleX contact address", what: "someone's SimpleX contact address" },
  invitation: { title: "SimpleX one-time invitation", what: "a one-time invitation to connect on SimpleX" },
};

export function linkPage(path: string): string {
  const kind = LINK_PAGES[path];
  if (kind === undefined) throw new Error(`no link page for /${path}`);
  return page(
    { title: kind.title, scripts: ["qrcode.js", "link.js"] },
    `<h1>${kind.title}</h1>
<div class="link-page">
<div>
<div class="card">
<p>You opened ${kind.what}. To connect, open this link in the SimpleX Chat app, or scan its QR code with the app on your phone or tablet.</p>
<a id="open-app" class="button hidden" href="#">Open in SimpleX Chat</a>
<p class="note">The keys of this link are in the part of the address after <code>#</code>. Browsers do not send that part to any server: this page was delivered without it.</p>
<p id="no-link" class="hidden"><strong>This address has no link in it</strong>: ask the person who shared it for the complete link.</p>
<p class="note">Link: <code id="conn-link">(shown when JavaScript is enabled)</code></p>
</div>
<div class="card">
<h2>Not using SimpleX Chat yet?</h2>
<p>Install the app (${APP_LINKS}), then open this link again — or paste it into the app with the “Connect” button.</p>
</div>
</div>
<div class="card qr-box" id="qr">
<noscript>The QR code is drawn by JavaScript. Without it, open this link on the device where SimpleX Chat is installed.</noscript>
</div>
</div>`,
  );
}
