import { expect, test } from "bun:test";
import { resolvePaths } from "../../src/cli/paths.ts";

const user = (env: Record<string, string | undefined> = {}) => ({ env, isRoot: false, home: "/home/u" });
const root = (env: Record<string, string | undefined> = {}) => ({ env, isRoot: true, home: "/root" });

test("root uses the reference's system directories (apps/smp-server/Main.hs)", () => {
  expect(resolvePaths({}, root())).toEqual({ configDir: "/etc/opt/simplex", dataDir: "/var/opt/simplex" });
});

test("other users get XDG per-user directories", () => {
  expect(resolvePaths({}, user())).toEqual({ configDir: "/home/u/.config/simplex", dataDir: "/home/u/.local/share/simplex" });
  expect(resolvePaths({}, user({ XDG_CONFIG_HOME: "/x/cfg", XDG_DATA_HOME: "/x/data" }))).toEqual({
    configDir: "/x/cfg/simplex",
    dataDir: "/x/data/simplex",
  });
});

test("SMP_SERVER_CFG_PATH / SMP_SERVER_LOG_PATH override; an empty value means the default (Server/CLI.hs:getEnvPath)", () => {
  expect(resolvePaths({}, root({ SMP_SERVER_CFG_PATH: "/cfg", SMP_SERVER_LOG_PATH: "/log" }))).toEqual({ configDir: "/cfg", dataDir: "/log" });
  expect(resolvePaths({}, root({ SMP_SERVER_CFG_PATH: "", SMP_SERVER_LOG_PATH: "" }))).toEqual({ configDir: "/etc/opt/simplex", dataDir: "/var/opt/simplex" });
});

test("flags win over the environment", () => {
  expect(resolvePaths({ configDir: "/f/c", dataDir: "/f/d" }, user({ SMP_SERVER_CFG_PATH: "/cfg", SMP_SERVER_LOG_PATH: "/log" }))).toEqual({
    configDir: "/f/c",
    dataDir: "/f/d",
  });
});

test("an installed server (/etc/opt/simplex exists) gives every user the system directories, as under the reference's unit (User=smp)", () => {
  expect(resolvePaths({}, { ...user(), systemInstalled: true })).toEqual({ configDir: "/etc/opt/simplex", dataDir: "/var/opt/simplex" });
  expect(resolvePaths({}, { ...user({ SMP_SERVER_CFG_PATH: "/cfg" }), systemInstalled: true }).configDir).toBe("/cfg");
  expect(resolvePaths({}, { ...user(), systemInstalled: false }).configDir).toBe("/home/u/.config/simplex");
});
