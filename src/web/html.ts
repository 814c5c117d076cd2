/** Building HTML from configuration text: every value is escaped, links only for safe schemes. */

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text or attribute value, escaped for both contexts. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/**
 * A configured URL may become a link only with a scheme that cannot run script (escaping alone
 * would let `javascript:` through); `simplex:` is the app's own scheme.
 */
const LINK_SCHEMES = /^(https?:|mailto:|simplex:)/i;

/** `<a href>` for a configured URL, or the escaped text when its scheme is not a safe one. */
export function link(url: string, text: string = url): string {
  if (!LINK_SCHEMES.test(url.trim())) return esc(text);
  return `<a href="${esc(url.trim())}" rel="noopener noreferrer">${esc(text)}</a>`;
}
