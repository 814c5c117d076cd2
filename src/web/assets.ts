/**
 * Files embedded into the executable (Bun text imports, so `bun build --compile` carries them):
 * the stylesheet, the link page's script and the QR code library it uses (qrcode-generator, the
 * npm package, pure JavaScript, MIT — served unchanged as /media/qrcode.js).
 */
import styleCss from "./assets/style.css" with { type: "text" };
import faviconSvg from "./assets/favicon.svg" with { type: "text" };
// @ts-expect-error TypeScript has no type for a text import of a .js file; Bun gives a string.
import linkJs from "./assets/link.js" with { type: "text" };
// @ts-expect-error as above; the path is the package's file, which its `exports` do not list.
import qrcodeJs from "../../node_modules/qrcode-generator/dist/qrcode.js" with { type: "text" };

export const STYLE_CSS: string = styleCss;
export const FAVICON_SVG: string = faviconSvg;
export const LINK_JS: string = linkJs as string;
export const QRCODE_JS: string = qrcodeJs as string;
