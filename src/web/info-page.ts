/**
 * The server information page (apps/common/Web/static/index.html as SMPWeb.hs:serverInformation
 * fills it): the operator's `[INFORMATION]` in the reference's rows and order, the public
 * configuration facts, and the address clients add. Every configured value is escaped.
 */
import { esc, link } from "./html.ts";
import type { Contacts, Entity, SiteInput } from "./info.ts";
import { page } from "./layout.ts";

const row = (label: string, valueHtml: string): string => `<tr><th>${esc(label)}</th><td>${valueHtml}</td></tr>`;
const yesNo = (b: boolean): string => (b ? "Yes" : "No");
const entity = (e: Entity): string => esc(e.country === undefined ? e.name : `${e.name} (${e.country})`);

function contacts(c: Contacts): string {
  const items: string[] = [];
  if (c.simplex !== undefined) items.push(`<li>SimpleX: ${link(c.simplex, "open address")}</li>`);
  if (c.email !== undefined) items.push(`<li>Email: ${link(`mailto:${c.email}`, c.email)}</li>`);
  if (c.pgp !== undefined) items.push(`<li>PGP: ${link(c.pgp.keyUri, c.pgp.fingerprint)}</li>`);
  return `<ul class="plain">${items.join("")}</ul>`;
}

/** Web.hs:timedTTLText: "21 days", "1 month", "2 weeks", "1 hour 30 min". */
export function timedTTLText(ttl: number): string {
  if (ttl === 0) return "0 sec";
  const s = ttl % 60;
  const m = Math.floor(ttl / 60) % 60;
  const h = Math.floor(ttl / 3600) % 24;
  const days = Math.floor(ttl / 86400);
  const d = days % 30;
  const mm = Math.floor(days / 30);
  const parts: string[] = [];
  if (mm !== 0) parts.push(mm === 1 ? "1 month" : `${mm} months`);
  if (d !== 0) parts.push(d === 1 ? "1 day" : d === 7 ? "1 week" : d === 14 ? "2 weeks" : `${d} days`);
  if (h !== 0) parts.push(h === 1 ? "1 hour" : `${h} hours`);
  if (m !== 0) parts.push(`${m} min`);
  if (s !== 0) parts.push(`${s} sec`);
  return parts.join(" ");
}

export function infoPage(site: SiteInput): string {
  const i = site.information;
  const pub: string[] = [row("Server version:", esc(site.version))];
  pub.push(
    row(
      "Source code:",
      i !== undefined
        ? link(i.sourceCode)
        : `none: add <code>source_code</code> to <code>[INFORMATION]</code> in smp-server.toml (required by <a href="https://github.com/simplex-chat/simplexmq/blob/stable/LICENSE" rel="noopener noreferrer">AGPLv3</a>)`,
    ),
  );
  if (i?.website !== undefined) pub.push(row("Web site:", link(i.website)));
  if (i?.usageConditions !== undefined) {
    pub.push(row("Usage conditions:", link(i.usageConditions.conditions)));
    if (i.usageConditions.amendments !== undefined) pub.push(row("Amendments:", link(i.usageConditions.amendments)));
  }
  if (i?.operator !== undefined) pub.push(row("Operator:", entity(i.operator)));
  if (i?.adminContacts !== undefined) pub.push(row("Administrator contacts:", contacts(i.adminContacts)));
  if (i?.complaintsContacts !== undefined) pub.push(row("Complaints and feedback:", contacts(i.complaintsContacts)));
  if (i?.hosting !== undefined) pub.push(row("Hosting provider:", entity(i.hosting)));
  if (i?.hostingType !== undefined) pub.push(row("Hosting type:", esc(i.hostingType[0]!.toUpperCase() + i.hostingType.slice(1))));
  if (i?.serverCountry !== undefined) pub.push(row("Server country:", esc(i.serverCountry)));

  const c = site.config;
  const cfg = [
    row("Persistence:", c.persistent ? "Queues and messages" : "In-memory only"),
    row("Message expiration:", c.messageExpirationSeconds === undefined ? "Never" : esc(timedTTLText(c.messageExpirationSeconds))),
    row("Stats enabled:", yesNo(c.statsEnabled)),
    row("New queues allowed:", yesNo(c.newQueuesAllowed)),
    row("Basic auth enabled:", yesNo(c.basicAuthEnabled)),
  ];

  const address =
    site.serverAddress !== undefined
      ? `<p>Add this server in the app (Network &amp; servers → Your servers → Add server):</p>
<code class="address" id="server-address">${esc(site.serverAddress)}</code>
${c.basicAuthEnabled ? `<p class="note">Creating new queues needs the server password, which the operator gives to its users; it is not shown here.</p>` : ""}`
      : `<p>Server identity (fingerprint): <code id="server-fingerprint">${esc(site.fingerprint)}</code></p>
<p class="note">The operator has not set the server's host name (<code>[TRANSPORT] host</code>), so the full address is not shown.</p>`;

  const head = site.onionHost === undefined ? "" : `<meta http-equiv="onion-location" content="http://${esc(site.onionHost)}">`;
  return page(
    { title: "SimpleX server information", head },
    `<h1>Server information</h1>
<section class="card"><h2>Public information</h2><table id="public-info">${pub.join("\n")}</table></section>
<section class="card"><h2>Configuration</h2><table id="config">${cfg.join("\n")}</table></section>
<section class="card"><h2>Server address</h2>${address}</section>`,
  );
}
