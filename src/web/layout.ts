/** The frame every page shares: no external resources, one stylesheet, scripts only from /media. */
import { esc } from "./html.ts";

export interface PageOptions {
  title: string;
  /** Scripts under /media, loaded at the end of the body. */
  scripts?: string[];
  /** Extra <head> markup, already escaped. */
  head?: string;
}

export function page(o: PageOptions, main: string): string {
  const scripts = (o.scripts ?? []).map((s) => `<script src="/media/${esc(s)}"></script>`).join("\n");
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${esc(o.title)}</title>
<link rel="icon" type="image/svg+xml" href="/media/favicon.svg">
<link rel="stylesheet" href="/media/style.css">
${o.head ?? ""}
</head>
<body>
<header>
<a class="brand" href="/">Simple<span>X</span> server</a>
<nav><a href="/">Server information</a></nav>
</header>
<main>
${main}
</main>
<footer>SimpleX Messaging Protocol server. Get the SimpleX Chat app: ${APP_LINKS}.</footer>
${scripts}
</body>
</html>
`;
}

/** Where the apps come from (the reference's pages link the same stores). */
export const APP_LINKS = [
  ["https://apps.apple.com/us/app/simplex-chat/id1605771084", "App Store"],
  ["https://play.google.com/store/apps/details?id=chat.simplex.app", "Google Play"],
  ["https://simplex.chat/fdroid", "F-Droid"],
  ["https://simplex.chat/downloads", "desktop apps"],
]
  .map(([href, text]) => `<a href="${href}" rel="noopener noreferrer">${text}</a>`)
  .join(", ");
