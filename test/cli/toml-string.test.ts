// tomlString: every string reads back unchanged through the TOML parser the server uses (smol-toml),
// including the characters TOML basic strings must escape (TOML 1.0 "String": quote, backslash,
// U+0000–U+001F except tab, and U+007F).
import { expect, test } from "bun:test";
import { parse } from "smol-toml";
import { renderConfig } from "../../src/cli/config-template.ts";
import { parseConfig } from "../../src/cli/config.ts";
import { tomlString } from "../../src/cli/toml-string.ts";

const roundTrip = (s: string): unknown => parse(`v = ${tomlString(s)}\n`).v;

test("quotes, backslashes, controls, DEL and non-ASCII read back unchanged", () => {
  const controls = Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join("");
  for (const s of ["", 'a "quoted" word', "C:\\path\\to\\file", "line\nbreak\r\n", "tab\there", controls, "del\x7fdel", "é ü ß — 日本 🙂", "#not a comment", "'single'", "\\u0041"])
    expect([s, roundTrip(s)]).toEqual([s, s]);
});

test("DEL is written as an escape, not bare", () => {
  expect(tomlString("a\x7fb")).toBe('"a\\u007Fb"');
});

test("init's configuration carries a value with DEL and quotes unchanged", () => {
  const path = '/srv/we"b\x7f';
  const text = renderConfig({ configDir: "/c", dataDir: "/d", enableStoreLog: true, logStats: false, ports: [5223], webStaticPath: path, sourceCode: 'https://x/"q"\\' });
  const c = parseConfig(text, "/c/smp-server.toml");
  expect(c.web.staticPath).toBe(path);
  expect(c.information?.sourceCode).toBe('https://x/"q"\\');
});
