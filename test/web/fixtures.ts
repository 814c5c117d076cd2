// The site's input for the web tests: every [INFORMATION] key, with text that must stay text.
import { expect } from "bun:test";
import { parseConfig } from "../../src/cli/config.ts";
import { b, closeAll, connect, nextMsg, send, sr, OK } from "../server/helpers.ts";
import type { SiteInput } from "../../src/web/info.ts";

export const EVIL = `<script>alert("x")</script> & 'co'`;
export const EVIL_ESCAPED = `&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;`;

/** Every [INFORMATION] key the reference's page shows, read through the real config parser. */
export function fullInformation() {
  const cfg = parseConfig(
    `[INFORMATION]
source_code = "https://github.com/example/smp?a=1&b=2"
usage_conditions = "https://example.com/conditions"
condition_amendments = "https://example.com/amendments"
server_country = "de"
operator = ${JSON.stringify(EVIL)}
operator_country = "ch"
website = "javascript:alert(1)"
admin_simplex = "simplex:/contact#/?v=2&smp=x"
admin_email = "admin@example.com"
admin_pgp = "https://example.com/admin.asc"
admin_pgp_fingerprint = "ADMIN FPR 1234"
complaints_simplex = "https://simplex.chat/contact#complaints"
complaints_email = "abuse@example.com"
complaints_pgp = "https://example.com/abuse.asc"
complaints_pgp_fingerprint = "ABUSE FPR 5678"
hosting = "Hosting <GmbH>"
hosting_country = "fi"
hosting_type = "dedicated"
[TRANSPORT]
port = [5223]
`,
    "test.toml",
  );
  return cfg.information!;
}

export function siteInput(over: Partial<SiteInput> = {}): SiteInput {
  return {
    information: fullInformation(),
    config: { persistent: true, messageExpirationSeconds: 21 * 86400, statsEnabled: false, newQueuesAllowed: true, basicAuthEnabled: true },
    version: "v9.8.7",
    serverAddress: "smp://LcJUMfVhwD8yxjAiSaDzzGF3-kLG4Uh0Fl_ZIjrRwjI=@smp.example.com",
    fingerprint: "LcJUMfVhwD8yxjAiSaDzzGF3-kLG4Uh0Fl_ZIjrRwjI=",
    ...over,
  };
}

/** Two SMP clients on the server: a queue, a SEND and its MSG (ServerTests.hs:testDuplex, first step). */
export async function sendMsgRoundTrip(server: { address: string }, text: string): Promise<void> {
  const [rcv, snd] = [await connect(server), await connect(server)];
  try {
    const q = await rcv.createQueue({ authAlg: "ed25519", corrId: b("abcd") });
    expect(await sr(snd, null, "bcda", q.sndId, send(text))).toEqual(OK);
    expect((await nextMsg(rcv, q)).text).toBe(text);
  } finally {
    closeAll([rcv, snd]);
  }
}
